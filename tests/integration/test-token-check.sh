#!/bin/sh
# SPDX-License-Identifier: MIT
# Integration test of `mail-oauth2 token check` (issue 11, monitoring) and
# of what the admin sees of token requests (issue 12), against the test
# OpenID Connect provider (lib/idp.sh) on loopback, under a temp dir:
#  - an account authorized with the real device flow (`token authorize`,
#    approved through /test/device/approve), client mail-relay, whose
#    provider sends refresh_token_expires_in (2 days): WARNING with the
#    default --warning 7d, OK with -w 1d, CRITICAL with --critical 3d;
#  - every token request leaves one info line (grant, expiry, rotated,
#    duration) and its outcome in the store;
#  - the refresh token revoked at the provider's revocation endpoint
#    (RFC 7009): the next use fails with invalid_grant and the sentence
#    that says what to run, and `token check` is CRITICAL (exit 2) with
#    that sentence, also as JSON; authorizing again makes it OK;
#  - the token endpoint down: WARNING (exit 1) while the token is valid;
#  - run as another user (nobody): UNKNOWN when the store cannot be read,
#    WARNING when it cannot be replaced, and the line says who checked.
# No token, refresh token or secret appears in any output.
#
# Env: MAIL_OAUTH2 (the CLI), KEEP_WORK=1. Needs root (to run the check as
# nobody), python3, node (tests/lib-deps.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"

NAME=test-token-check
if [ "$(id -u)" != 0 ]; then
	echo "$NAME: needs root (runs the check as nobody too)"; exit 77
fi
[ -x "$MAIL_OAUTH2" ] || { echo "$NAME: $MAIL_OAUTH2 not found: build first"; exit 1; }
command -v setpriv >/dev/null || { echo "$NAME: setpriv (util-linux) not installed"; exit 1; }

OUT=$WORK/out
mkdir -p "$OUT" "$WORK/tokens"
chmod 711 "$WORK"
chmod 700 "$WORK/tokens"

test_ca >/dev/null
IDP_LOG=0 IDP_REFRESH_TOKEN_TTL=172800 idp_start "$WORK/idp" >"$OUT/idp-start.log" 2>&1 || {
	cat "$OUT/idp-start.log"; exit 1; }
remember_token "$IDP_RELAY_SECRET"
idp_ctl "refresh-expires-in?state=on" >/dev/null

CONF=$WORK/client.conf
cat >"$CONF" <<EOF
ca_file = $TEST_CA
token_dir = $WORK/tokens
[account relay]
provider = generic
issuer = $IDP_URL
client_id = $IDP_RELAY_ID
client_secret_file = $WORK/relay.secret
scope = openid offline_access smtp
resource = https://mail.test
[account app]
provider = generic
issuer = $IDP_URL
grant = client_credentials
client_id = $IDP_RELAY_ID
client_secret_file = $WORK/relay.secret
scope = smtp
resource = https://mail.test
EOF
printf '%s\n' "$IDP_RELAY_SECRET" >"$WORK/relay.secret"
chmod 600 "$WORK/relay.secret"
chmod 644 "$CONF"
STORE=$WORK/tokens/relay.json

store_field() { # FIELD [ACCOUNT]: a member of the store (a.b for nested)
	json_field "$WORK/tokens/${2:-relay}.json" "$1"
}
remember_store() {
	for _a in relay app; do
		[ -f "$WORK/tokens/$_a.json" ] || continue
		remember_token "$(store_field access_token "$_a")"
		remember_token "$(store_field refresh_token "$_a")"
	done
	return 0
}
expire_store() {
	store_expire "$STORE"
}
# tcheck NAME ARGS...: token check, output in $OUT/NAME.out, exit in $rc
tcheck() {
	_tc=$1
	shift
	"$MAIL_OAUTH2" token check -c "$CONF" "$@" >"$OUT/$_tc.out" 2>"$OUT/$_tc.err"
	rc=$?
	line=$(cat "$OUT/$_tc.out")
}
line_has() { # DESC PATTERN: the last status line matches (grep -E)
	if printf '%s\n' "$line" | grep -Eq -- "$2"; then
		ok "$1"
	else
		not_ok "$1" "$line"
	fi
}
authorize() { # OUTFILE: the device flow, approved as alice
	idp_device_authorize "$1" alice "$MAIL_OAUTH2" token authorize -c "$CONF" relay
}

# --------------------------------------------------------- 1. not yet

tcheck before
check_eq "not authorized: CRITICAL, exit 2" "$rc" 2
line_has "... the line says what to run" \
	"^TOKEN CRITICAL - relay: not authorized yet .*run \`mail-oauth2 token authorize -c $CONF relay\`.* / app: OK$"

# ------------------------------------- 2. authorized, a known expiry

authorize "$OUT/authorize.out"
check_eq "device flow: token authorize exits 0" "$?" 0
remember_store
check_eq "the provider's refresh_token_expires_in is stored (2 days)" \
	"$(($(store_field refresh_token_expires_at) - $(store_field refresh_token_at)))" 172800
check_eq "the authorization is the last request, OK" "$(store_field last_request.ok)" True

tcheck expiring
check_eq "refresh token expires in 2 days, default --warning 7d: WARNING, exit 1" "$rc" 1
line_has "... the line tells when and what to run; perfdata with the thresholds" \
	"^TOKEN WARNING - relay: the refresh token expires in (47 h|2 days), at .*: run \`mail-oauth2 token authorize -c $CONF relay\` before then / app: OK \| relay_access_token=[0-9]+s relay_refresh_token=17(27[0-9]{2}|2800)s;604800;0$"
tcheck expiring-w1d -w 1d
check_eq "-w 1d: OK, exit 0" "$rc" 0
line_has "... with the access token's and the refresh token's time left" \
	"^TOKEN OK - relay: access token valid for [0-9]+ min; refresh token valid for (47 h|2 days) / app: no token yet"
tcheck expiring-c3d --critical 3d
check_eq "--critical 3d: CRITICAL, exit 2" "$rc" 2

# ------------------------ 3. one info line per token request, recorded

"$MAIL_OAUTH2" token refresh -v -c "$CONF" relay >"$OUT/refresh.out" 2>"$OUT/refresh.err"
check_eq "token refresh: exit 0" "$?" 0
remember_store
n=$(grep -c 'info: account relay: token request (grant refresh_token) to 127\.0\.0\.1:[0-9]* took [0-9]* ms: access token sha256:[0-9a-f]\{8\} valid for [0-9]* s, until 20[0-9T:-]*Z; refresh token rotated, valid until 20' "$OUT/refresh.err")
check_eq "one info line for the refresh: grant, expiry, rotated, duration" "$n" 1
check_eq "the outcome is in the store: ok" "$(store_field last_request.ok)" True
check "... with its duration" test "$(store_field last_request.duration_ms)" -ge 0
"$MAIL_OAUTH2" token refresh -v -c "$CONF" app >"$OUT/refresh-app.out" 2>"$OUT/refresh-app.err"
check "client_credentials: the info line names its grant" \
	grep -q 'info: account app: token request (grant client_credentials) to .* valid for [0-9]* s, until ' "$OUT/refresh-app.err"
remember_store

# -------------------------------- 4. the refresh token revoked (RFC 7009)

rt=$(store_field refresh_token)
code=$(curl -s -o "$OUT/revoke.out" -w '%{http_code}' --cacert "$TEST_CA" \
	-d "client_id=$IDP_RELAY_ID" --data-urlencode "client_secret=$IDP_RELAY_SECRET" \
	-d token_type_hint=refresh_token --data-urlencode "token=$rt" "$IDP_REVOCATION_URL")
check_eq "the provider revoked the refresh token (revocation endpoint: 200)" "$code" 200
expire_store
idp_ctl "stats?reset=1" >/dev/null
"$MAIL_OAUTH2" token access -c "$CONF" relay >"$OUT/access-revoked.out" 2>"$OUT/access-revoked.err"
check_eq "token access after the revocation: exit 1" "$?" 1
check "... nothing on stdout" test ! -s "$OUT/access-revoked.out"
check "... stderr: invalid_grant and what to run" grep -q \
	"account relay: the refresh token was rejected (invalid_grant.*run \`mail-oauth2 token authorize -c $CONF relay\` to authorize again" \
	"$OUT/access-revoked.err"
check_eq "... the provider refused it with invalid_grant" \
	"$(idp_ctl stats | idp_json token_errors.invalid_grant)" 1
check_eq "the failure is in the store: invalid_grant, not temporary" \
	"$(store_field last_request.error) $(store_field last_request.temporary) $(store_field last_request.http_status)" \
	"invalid_grant False 400"
check_eq "... the tokens are untouched" "$(store_field refresh_token)" "$rt"

tcheck revoked
check_eq "token check after the revocation: CRITICAL, exit 2" "$rc" 2
line_has "... the sentence of the log line, with when it happened" \
	"^TOKEN CRITICAL - relay: the refresh token was rejected \(invalid_grant[^)]*\): run \`mail-oauth2 token authorize -c $CONF relay\` to authorize again; mail stays queued until then \(last token request 20[0-9T:-]*Z\)"
check "... one line, nothing on stderr" sh -c "[ \$(wc -l <'$OUT/revoked.out') -eq 1 ] && [ ! -s '$OUT/revoked.err' ]"
"$MAIL_OAUTH2" token check -c "$CONF" --json >"$OUT/revoked.json" 2>&1
check_eq "token check --json: exit 2" "$?" 2
check "... the document names the account, the code and the error" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "CRITICAL" and d["exit_code"] == 2 and d["checked_as"].startswith("root"), d
a = {x["account"]: x for x in d["accounts"]}["relay"]
assert a["findings"][0]["code"] == "request_refused", a
assert a["last_request"]["error"] == "invalid_grant" and a["last_request"]["temporary"] is False, a
assert a["last_request"]["http_status"] == 400 and a["store_writable"] is True, a
' "$OUT/revoked.json"
"$MAIL_OAUTH2" token show -c "$CONF" relay >"$OUT/show-revoked.out" 2>&1
check "token show: the failed last request" \
	grep -q '^  last request: .*FAILED: invalid_grant (HTTP 400)' "$OUT/show-revoked.out"

authorize "$OUT/authorize-2.out"
check_eq "authorized again: exit 0" "$?" 0
remember_store
tcheck again -w 1d
check_eq "after authorizing again: OK, exit 0" "$rc" 0

# ----------------------------------------- 5. the token endpoint down

idp_ctl "token-endpoint?state=down" >/dev/null
"$MAIL_OAUTH2" token refresh -c "$CONF" relay >"$OUT/refresh-down.out" 2>&1
check_eq "token refresh with the endpoint down: exit 1" "$?" 1
idp_ctl "token-endpoint?state=up" >/dev/null
tcheck down -w 1d
check_eq "token check: WARNING, exit 1" "$rc" 1
line_has "... unavailable, retried, the access token still valid" \
	"^TOKEN WARNING - relay: the token endpoint is unavailable \(HTTP 503, temporarily_unavailable: test switch: endpoint down\); mail stays queued and is retried \(last token request .*; the access token is still valid for [0-9]+ min\)"
"$MAIL_OAUTH2" token refresh -c "$CONF" relay >"$OUT/refresh-up.out" 2>&1
check_eq "the endpoint up again: refresh exits 0" "$?" 0
remember_store
tcheck up -w 1d
check_eq "... and check is OK again" "$rc" 0

# ------------------------------------------------ 6. as another user

tcheck_nobody() { # NAME: token check as nobody
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$MAIL_OAUTH2" token check -c "$CONF" -w 1d relay >"$OUT/$1.out" 2>&1
	rc=$?
	line=$(cat "$OUT/$1.out")
}
tcheck_nobody nobody-1
check_eq "as nobody, store directory 0700 root: UNKNOWN, exit 3" "$rc" 3
line_has "... says who checked and as whom to run it" \
	"^TOKEN UNKNOWN - relay: token store .*: cannot open its directory .*: Permission denied .*\(checked as nobody \(uid 65534\)\)"
chmod 755 "$WORK/tokens"
chmod 644 "$STORE"
tcheck_nobody nobody-2
check_eq "as nobody, readable but not writable: WARNING, exit 1" "$rc" 1
line_has "... the store cannot be replaced by this user, who is named" \
	"^TOKEN WARNING - relay: the directory of the token store $STORE is not writable by uid 65534: Permission denied \(checked as nobody \(uid 65534\)\)"
chmod 700 "$WORK/tokens"
chmod 600 "$STORE"

# ------------------------------------------------------- 7. no secrets

remember_store
assert_no_tokens "$OUT"/*
summary "$NAME"
