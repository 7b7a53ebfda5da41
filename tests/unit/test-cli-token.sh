#!/bin/sh
# SPDX-License-Identifier: MIT
# Tests of `mail-oauth2 token access` and `mail-oauth2 token check` on
# token stores written here (no provider is contacted: the stores are
# fresh, or the token endpoint refuses connections at once): what goes to
# stdout and stderr, the refusal of a terminal, the Nagios exit statuses
# and status lines, the thresholds, the JSON. Run by `make check` with
# MAIL_OAUTH2 set to the built binary; "ok N - ..." lines and a summary.
set -eu

if [ -z "${MAIL_OAUTH2:-}" ] || [ ! -x "$MAIL_OAUTH2" ]; then
	echo "test-cli-token.sh: set MAIL_OAUTH2 to the built mail-oauth2 binary" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-cli-token.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
passed=0
failed=0

check() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		passed=$((passed + 1))
		echo "ok $n - $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc"
		for f in out err; do
			[ -s "$tmp/$f" ] && sed "s/^/#   std$f: /" "$tmp/$f"
		done
	fi
	return 0
}

# cli ARGS...: stdout in $tmp/out, stderr in $tmp/err, exit in $status
cli() {
	status=0
	"$MAIL_OAUTH2" "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || status=$?
}

now=$(date +%s)
TOKEN='eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_~+/bmF0dXJl=='
mkdir -p "$tmp/tokens"
CONF=$tmp/client.conf
cat >"$CONF" <<EOF
token_dir = $tmp/tokens
allow_http_loopback = yes
[account acct]
provider = generic
token_endpoint = http://127.0.0.1:1/token
client_id = relay
[account other]
provider = generic
grant = client_credentials
token_endpoint = http://127.0.0.1:1/token
client_id = relay
client_secret = s3cret
EOF

# store ACCOUNT JSON-MEMBERS: writes the account's store (mode 0600)
store() {
	printf '{"version":1,"account":"%s",%s}\n' "$1" "$2" >"$tmp/tokens/$1.json"
	chmod 600 "$tmp/tokens/$1.json"
}
# times in the middle of what the messages round to: slack for a slow run
fresh="\"access_token\":\"$TOKEN\",\"expires_at\":$((now + 3030)),\"refresh_token\":\"rt-secret-1\",\"refresh_token_at\":$now"

# ---------------------------------------------------------------- access

case_access_prints_the_token_only() {
	store acct "$fresh"
	cli token access -c "$CONF" acct
	[ "$status" -eq 0 ] && [ "$(cat "$tmp/out")" = "$TOKEN" ] &&
		[ "$(wc -l <"$tmp/out")" -eq 1 ] && [ ! -s "$tmp/err" ]
}

case_access_no_token() {
	store acct "\"access_token\":\"$TOKEN\",\"expires_at\":$((now - 5)),\"refresh_token\":\"rt-secret-1\""
	cli token access -c "$CONF" acct
	[ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q 'account acct: token request failed: cannot reach 127.0.0.1:1' "$tmp/err" &&
		! grep -q -e "$TOKEN" -e rt-secret-1 "$tmp/err"
}

case_access_not_authorized() {
	rm -f "$tmp/tokens/acct.json"
	cli token access -c "$CONF" acct
	[ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q "run \`mail-oauth2 token authorize -c $CONF acct\`" "$tmp/err"
}

case_access_usage() {
	cli token access -c "$CONF" acct other
	[ "$status" -eq 64 ] || return 1
	cli token show --force -c "$CONF"
	[ "$status" -eq 64 ] && grep -q -- '--force is an option of access' "$tmp/err"
}

# script(1) gives the command a terminal as stdout
on_tty() {
	script -qec "$*" /dev/null >"$tmp/out" 2>"$tmp/err" </dev/null
}

case_access_refuses_a_terminal() {
	store acct "$fresh"
	status=0
	on_tty "$MAIL_OAUTH2 token access -c $CONF acct" || status=$?
	[ "$status" -eq 1 ] && grep -q 'standard output is a terminal' "$tmp/out" &&
		! grep -q -e "$TOKEN" "$tmp/out"
}

case_access_force() {
	store acct "$fresh"
	on_tty "$MAIL_OAUTH2 token access --force -c $CONF acct" &&
		grep -q -F -e "$TOKEN" "$tmp/out"
}

check "access: the token alone on stdout, nothing on stderr" case_access_prints_the_token_only
check "access: no token to be had: exit 1, stdout empty, the reason on stderr" case_access_no_token
check "access: not authorized: exit 1 and what to run" case_access_not_authorized
check "access: usage errors exit 64" case_access_usage
if command -v script >/dev/null 2>&1; then
	check "access: a terminal is refused, exit 1, no token shown" case_access_refuses_a_terminal
	check "access --force: printed to a terminal" case_access_force
else
	echo "# script(1) not installed: the terminal cases were not run"
fi

# ----------------------------------------------------------------- check

# check_is STATUS EXIT PATTERN ARGS...: the status line and exit status
check_is() {
	want=$1
	want_rc=$2
	pattern=$3
	shift 3
	cli token check -c "$CONF" "$@"
	[ "$status" -eq "$want_rc" ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] &&
		grep -q "^TOKEN $want - " "$tmp/out" && grep -q -e "$pattern" "$tmp/out" &&
		! grep -q -e "$TOKEN" -e rt-secret-1 -e s3cret "$tmp/out" "$tmp/err"
}

case_check_ok() {
	store acct "$fresh"
	rm -f "$tmp/tokens/other.json"
	check_is OK 0 'acct: access token valid for 50 min / other: no token yet.* | acct_access_token=30[0-9][0-9]s$'
}

case_check_revoked() {
	store acct "\"refresh_token\":\"rt-secret-1\",\"last_request\":{\"at\":$now,\"ok\":false,\"temporary\":false,\"error\":\"invalid_grant\",\"http_status\":400}"
	check_is CRITICAL 2 "^TOKEN CRITICAL - acct: the refresh token was rejected (invalid_grant): run \`mail-oauth2 token authorize -c $CONF acct\` to authorize again.* / other: OK$"
}

case_check_down() {
	store acct "$fresh,\"last_request\":{\"at\":$now,\"ok\":false,\"temporary\":true,\"error\":\"no_response\"}"
	check_is WARNING 1 'acct: token request failed: ; mail stays queued and is retried (last token request .*; the access token is still valid for 50 min)' acct
}

expiring="$fresh,\"refresh_token_expires_at\":$((now + 3 * 3600 + 600))"
case_check_thresholds() {
	store acct "$expiring"
	check_is WARNING 1 'acct: the refresh token expires in 3 h, at .* | acct_access_token=30[0-9][0-9]s acct_refresh_token=11[0-9][0-9][0-9]s;604800;0$' acct &&
		check_is OK 0 'refresh token valid for 3 h | .*acct_refresh_token=11[0-9][0-9][0-9]s;3600;0$' acct -w 1h &&
		check_is CRITICAL 2 'expires in 3 h' acct --warning=1d --critical 4h &&
		check_is CRITICAL 2 'refresh_token=11[0-9][0-9][0-9]s;604800;14400$' acct --critical 4h
}

case_check_unknown() {
	check_is UNKNOWN 3 '^TOKEN UNKNOWN - nope: no \[account nope\] in ' nope &&
		check_is UNKNOWN 3 '^TOKEN UNKNOWN - usage: unknown option .--frob.' --frob &&
		check_is UNKNOWN 3 '^TOKEN UNKNOWN - usage: --warning soon: not a duration' -w soon &&
		check_is UNKNOWN 3 '^TOKEN UNKNOWN - config error: .*nothere.conf' -c "$tmp/nothere.conf"
}

case_check_json() {
	store acct "$expiring"
	cli token check -c "$CONF" --json
	[ "$status" -eq 1 ] && python3 - "$tmp/out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "WARNING" and d["exit_code"] == 1, d
assert [a["account"] for a in d["accounts"]] == ["acct", "other"], d
a = d["accounts"][0]
assert a["findings"][0]["code"] == "refresh_token_expiring", a
assert a["refresh_token"] is True and a["refresh_token_expires_at"] > a["access_token_expires_at"], a
assert a["last_request"] is None and a["store_writable"] is True, a
assert d["accounts"][1]["grant"] == "client_credentials", d
EOF
}

case_check_json_error() {
	cli token check --json -c "$tmp/nothere.conf"
	[ "$status" -eq 3 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "UNKNOWN" and d["exit_code"] == 3 and "config error" in d["error"], d
' "$tmp/out"
}

case_check_records_nothing() {
	store acct "$fresh"
	rm -f "$tmp/tokens/acct.json.lock" "$tmp/tokens/other.json"
	before=$(cat "$tmp/tokens/acct.json")
	cli token check -c "$CONF" acct
	[ "$status" -eq 0 ] && [ "$(cat "$tmp/tokens/acct.json")" = "$before" ] &&
		[ ! -e "$tmp/tokens/acct.json.lock" ] && [ ! -e "$tmp/tokens/other.json" ]
}

case_refresh_records_for_check() {
	store acct "\"access_token\":\"$TOKEN\",\"expires_at\":$((now - 5)),\"refresh_token\":\"rt-secret-1\""
	cli token refresh -c "$CONF" acct
	[ "$status" -eq 1 ] || return 1
	check_is WARNING 1 'acct: token request failed: cannot reach 127.0.0.1:1.*no valid access token: mail through this account is deferred' acct &&
		cli token show -c "$CONF" acct && grep -q '^  last request: .*FAILED: no_response: cannot reach' "$tmp/out"
}

check "check: all OK, exit 0, perfdata" case_check_ok
check "check: a revoked refresh token is CRITICAL (exit 2) with what to run" case_check_revoked
check "check: provider unreachable is WARNING (exit 1), the token still valid" case_check_down
check "check: -w/--warning and --critical around a known refresh-token expiry" case_check_thresholds
check "check: unknown account, usage and config errors are UNKNOWN (exit 3)" case_check_unknown
check "check --json: the document" case_check_json
check "check --json: a config error" case_check_json_error
check "check: reads only (store unchanged, no lock file, no new store)" case_check_records_nothing
check "check: a failed token refresh is recorded in the store for check and show" case_refresh_records_for_check

echo "cli-token: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
