#!/bin/sh
# SPDX-License-Identifier: MIT
# What admins and their tools see of the Dovecot plugin (issue 9 items 1
# and 6, issue 11 item 3), with the real Dovecot on loopback, everything
# under a temp dir, stopped by PID:
#  - identity: a token's identity becomes the Dovecot user by Dovecot's own
#    username rules (auth_username_chars, auth_username_format = %Lu) in
#    every mechanism and mode: x/../../escaped@ and a name with a space are
#    refused by the core (bad_identity), alice+tag@ by Dovecot's
#    auth_username_chars, ALICE@EXAMPLE.TEST is alice@example.test
#    everywhere (one mailbox);
#  - logs: a failed OAUTHBEARER login without authzid names the token's
#    identity in the auth and the login process lines (never the
#    placeholder), Debian's fail2ban-regex with its stock dovecot filter
#    counts every failure, an empty answer to the OAUTHBEARER challenge is
#    a debug line only;
#  - passdb order: with a pam passdb before the bearer passdb (as Debian's
#    10-auth.conf + our snippet give), XOAUTH2/OAUTHBEARER tokens never
#    reach pam;
#  - metrics: the shipped conf.d/dovecot/95-mail-oauth2-metrics.conf,
#    uncommented, counts verifications by outcome/reason/provider and key
#    fetches in `doveadm stats dump` and on the OpenMetrics endpoint.
# Tokens: the test IdP (lib/idp.sh) for real ones, tests/support/jwt-tool.py
# with a local key (provider "local", jwks_file) for identities no provider
# would issue on demand.
# Env: DOVECOT_MODULE (default build/ci/plugin/dovecot/.libs/libauthdb_bearer.so),
# KEEP_WORK=1. Needs root and tests/lib-deps.sh MOA2_INTEGRATION_DEPS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/dovecot.sh"

DOVECOT_MODULE=${DOVECOT_MODULE:-$TOP/build/ci/plugin/dovecot/.libs/libauthdb_bearer.so}
case $DOVECOT_MODULE in /*) ;; *) DOVECOT_MODULE=$(pwd)/$DOVECOT_MODULE ;; esac
LOGIN="python3 $ILIB/mail-login.py"
JWT_TOOL="python3 $TSUP/jwt-tool.py"
ALICE=alice@example.test
F2B_FILTER=/etc/fail2ban/filter.d/dovecot.conf
METRICS_CONF=$TOP/conf.d/dovecot/95-mail-oauth2-metrics.conf

OUT=$WORK/out
DV=$WORK/dovecot
mkdir -p "$OUT" "$WORK/cache"
chmod 711 "$WORK"
chmod 600 "$WORK/.tokens"

missing=
for cmd in dovecot doveadm curl python3 node openssl fail2ban-regex; do
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
[ -f "$F2B_FILTER" ] || missing="$missing $F2B_FILTER"
if [ -n "$missing" ]; then
	not_ok "the programs the test needs are installed" "missing:$missing (tests/lib-deps.sh MOA2_INTEGRATION_DEPS)"
	summary dovecot-admin
fi
if [ "$(id -u)" != 0 ]; then
	not_ok "running as root (Dovecot starts as root)"
	summary dovecot-admin
fi
if [ ! -f "$DOVECOT_MODULE" ]; then
	not_ok "the plugin is built" "no $DOVECOT_MODULE"
	summary dovecot-admin
fi
test_ca || { not_ok "test CA (make-ca.sh)"; summary dovecot-admin; }

# ---------------------------------------------------------------- helpers

_run=0
# expect_login DESC WANT_RC WANT_RESULT PROTO PORT TOKEN [ARG...]
expect_login() {
	_el_desc=$1
	_el_rc=$2
	_el_result=$3
	_run=$((_run + 1))
	res=$OUT/login-$_run.out
	remember_token "$6"
	printf '%s\n' "$6" >"$OUT/login.in"
	_el_proto=$4
	_el_port=$5
	shift 6
	$LOGIN "$_el_proto" 127.0.0.1 "$_el_port" "$@" <"$OUT/login.in" >"$res" 2>&1
	rc=$?
	rm -f "$OUT/login.in"
	if [ "$rc" = "$_el_rc" ] && grep -q "^result: $_el_result" "$res"; then
		ok "$_el_desc"
	else
		not_ok "$_el_desc" "want exit $_el_rc, result: $_el_result
$(cat "$res")"
	fi
}

# log_has DESC PATTERN...: one line of the Dovecot log matches every ERE
# (waits up to 3 s: workers and login processes log asynchronously)
log_has() {
	_lh_desc=$1
	shift
	_lh_i=0
	while :; do
		_lh_lines=$(cat "$DV/dovecot.log")
		for _lh_pat in "$@"; do
			_lh_lines=$(printf '%s\n' "$_lh_lines" | grep -E -e "$_lh_pat")
		done
		if [ -n "$_lh_lines" ]; then
			ok "$_lh_desc"
			return 0
		fi
		[ $_lh_i -ge 30 ] && break
		sleep 0.1
		_lh_i=$((_lh_i + 1))
	done
	not_ok "$_lh_desc" "no line of $DV/dovecot.log matches all of: $*
$(grep -E -e "$1" "$DV/dovecot.log" | tail -n 5)"
}

# log_lacks DESC PATTERN: no line of the Dovecot log matches the ERE
log_lacks() {
	sleep 0.3
	if grep -E -e "$2" "$DV/dovecot.log" >"$OUT/lacks.out"; then
		not_ok "$1" "$(head -n 5 "$OUT/lacks.out")"
	else
		ok "$1"
	fi
}

# local_token EMAIL [EXP]: a token of provider "local" naming EMAIL
local_token() {
	$JWT_TOOL sign "$WORK/local.pem" RS256 '{"kid":"local-1","typ":"at+jwt"}' \
		"{\"iss\":\"https://local.test\",\"aud\":\"https://mail.test\",\"sub\":\"u1\",\"email\":\"$1\",\"scope\":\"imap\",\"iat\":\"-5\",\"exp\":\"${2:-+300}\"}"
}

# dovecot_conf PASSDB_OPTIONS [AUTH_CONF_BEFORE]: the shipped snippet with
# PASSDB_OPTIONS, auth_username_format = %Lu, the shipped metrics snippet
# uncommented (its stats port replaced by P_STATS)
dovecot_conf() {
	dovecot_bearer_conf "$WORK/verify.conf" "$1"
	sed -n 's/^#\([a-z}]\)/\1/p; s/^#\(  \)/\1/p' "$METRICS_CONF" |
		sed "s/port = 9900/port = $P_STATS/" >"$DV/95-metrics-active.conf"
	dovecot_write_conf "auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
auth_debug = yes
auth_username_format = %Lu
${2:-}
!include 10-mail-oauth2-active.conf
!include 95-metrics-active.conf
# the test's own: the mode and mechanism fields
metric moa2_test_mode {
  filter = event=mail_oauth2_verify_finished
  group_by = mode mechanism
}"
}

# restart PASSDB_OPTIONS [AUTH_CONF_BEFORE]
restart() {
	[ -n "$DOVECOT_PID" ] && { dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"; }
	dovecot_conf "$@"
	if dovecot_start; then
		ok "Dovecot (re)started with passdb args '$1'"
	else
		not_ok "Dovecot starts with passdb args '$1'" "$(tail -n 20 "$DV/dovecot.log")"
		summary dovecot-admin
	fi
}

# ---------------------------------------------------------------- set-up

export IDP_ACCESS_TOKEN_TTL=600
if idp_start "$WORK/idp"; then
	ok "identity provider up: $IDP_URL"
else
	not_ok "identity provider starts"
	summary dovecot-admin
fi
token_expired=$(idp_token alice https://mail.test 1)
token_alice=$(idp_token alice https://mail.test)
remember_token "$token_expired"
remember_token "$token_alice"

$JWT_TOOL keygen rsa "$WORK/local.pem"
$JWT_TOOL jwks "$WORK/local.pem" local-1 >"$WORK/local-jwks.json"
$JWT_TOOL keygen rsa "$WORK/other.pem"
token_escaped=$(local_token 'x/../../escaped@example.test')
token_space=$(local_token 'alice smith@example.test')
token_plus=$(local_token 'alice+tag@example.test')
token_upper=$(local_token 'ALICE@EXAMPLE.TEST')
token_upper_expired=$(local_token 'ALICE@EXAMPLE.TEST' -60)
for t in "$token_escaped" "$token_space" "$token_plus" "$token_upper" "$token_upper_expired"; do
	remember_token "$t"
done

cat >"$WORK/verify.conf" <<EOF
cache_dir = $WORK/cache
ca_file = $TEST_CA
[provider testidp]
issuer = $IDP_URL
audience = https://mail.test
username_claims = email
required_scopes = imap
leeway = 0
[provider local]
issuer = https://local.test
audience = https://mail.test
username_claims = email
jwks_file = $WORK/local-jwks.json
leeway = 0
EOF

dovecot_ports
P_STATS=$(free_port)
dovecot_chown dovecot "$WORK/cache"
if ! dovecot_setup "$DV" "$DOVECOT_MODULE"; then
	not_ok "the module can be loaded from the build dir" "$DOVECOT_SETUP_ERROR"
	summary dovecot-admin
fi
if [ "$DOVECOT_API" != 2.3 ]; then
	not_ok "Dovecot 2.3 (this test is written for its config)" "Dovecot $DOVECOT_VERSION"
	summary dovecot-admin
fi

# ---------------------------------------------------------------- identity

# stats_dump: doveadm stats dump into $OUT/stats.out
stats_dump() {
	sleep 1
	dovecot_cmd doveadm -c "$DV/dovecot.conf" stats dump >"$OUT/stats.out" 2>&1
}
# stats_count METRIC: the count column of METRIC in the dump
stats_count() {
	awk -v m="$1" '$1 == m { print $3; exit }' "$OUT/stats.out"
}

# identity_cases LABEL MODE: the username rules in the running mode (MODE:
# the event's mode field); Dovecot was just restarted (fresh stats)
identity_cases() {
	next_src
	expect_login "$1: OAUTHBEARER, token naming x/../../escaped@example.test: refused" \
		1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$token_escaped" --mech OAUTHBEARER --src "$SRC"
	log_has "$1: ... by the core, before Dovecot sees it (reason bad_identity)" \
		"bearer\([^,]*,$SRC,.*rejected reason=bad_identity "
	next_src
	expect_login "$1: OAUTHBEARER, token naming alice+tag@example.test ('+' is not in auth_username_chars): refused" \
		1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$token_plus" --mech OAUTHBEARER --src "$SRC"
	log_has "$1: ... by Dovecot's auth_username_chars (reason no_identity)" \
		"bearer\([^,]*,$SRC,.*rejected reason=no_identity .*not a valid user name here: .*auth_username_chars"
	next_src
	expect_login "$1: XOAUTH2 user=x/../../escaped@example.test: refused" \
		1 'NO ' imap "$P_IMAP" "$token_escaped" --user 'x/../../escaped@example.test' --src "$SRC"
	next_src
	expect_login "$1: OAUTHBEARER, token naming 'alice smith@example.test': refused" \
		1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$token_space" --mech OAUTHBEARER --src "$SRC"
	next_src
	expect_login "$1: OAUTHBEARER without authzid, token naming ALICE@EXAMPLE.TEST: logged in" \
		0 OK imap "$P_IMAP" "$token_upper" --mech OAUTHBEARER --src "$SRC" --list-subjects
	log_has "$1: ... as alice@example.test (auth_username_format = %Lu)" \
		"imap-login: Info: Login: user=<alice@example\.test>, method=OAUTHBEARER, rip=$SRC,"
	next_src
	expect_login "$1: OAUTHBEARER a=ALICE@EXAMPLE.TEST: logged in" \
		0 OK imap "$P_IMAP" "$token_upper" --mech OAUTHBEARER --authzid ALICE@EXAMPLE.TEST --src "$SRC"
	log_has "$1: ... as alice@example.test" \
		"imap-login: Info: Login: user=<alice@example\.test>, method=OAUTHBEARER, rip=$SRC,"
	next_src
	expect_login "$1: XOAUTH2 user=ALICE@EXAMPLE.TEST: logged in" \
		0 OK imap "$P_IMAP" "$token_upper" --user ALICE@EXAMPLE.TEST --src "$SRC" --list-subjects
	log_has "$1: ... as alice@example.test" \
		"imap-login: Info: Login: user=<alice@example\.test>, method=XOAUTH2, rip=$SRC,"
	next_src
	expect_login "$1: XOAUTH2 user=alice@example.test with the ALICE@EXAMPLE.TEST token: logged in (both sides through %Lu)" \
		0 OK imap "$P_IMAP" "$token_upper" --user "$ALICE" --src "$SRC"
	next_src
	expect_login "$1: PLAIN ALICE@EXAMPLE.TEST with the token as password: logged in" \
		0 OK imap "$P_IMAP" "$token_upper" --mech PLAIN --user ALICE@EXAMPLE.TEST --src "$SRC" --list-subjects
	log_has "$1: ... as alice@example.test" \
		"imap-login: Info: Login: user=<alice@example\.test>, method=PLAIN, rip=$SRC,"
	remember_token "$token_upper"
	if curl -sS --max-time 30 --login-options AUTH=LOGIN --user "ALICE@EXAMPLE.TEST:$token_upper" \
		"imap://127.0.0.1:$P_IMAP/" >"$OUT/curl-login.out" 2>&1; then
		ok "$1: curl AUTH=LOGIN ALICE@EXAMPLE.TEST with the token as password: logged in"
	else
		not_ok "$1: curl AUTH=LOGIN with the token as password: logged in" "$(cat "$OUT/curl-login.out")"
	fi
	log_has "$1: ... as alice@example.test" \
		"imap-login: Info: Login: user=<alice@example\.test>, method=LOGIN, rip=127\.0\.0\.1,"
	check_eq "$1: one mailbox for all of them, nothing outside the mail root" \
		"$(ls "$DV/mail" | tr '\n' ' '; find "$WORK" -name 'escaped*' | head -n 1)" "alice@example.test "
	# 9 verifications (XOAUTH2 user=x/../.. is refused before any)
	stats_dump
	check_eq "$1: stats: 6 accepted by provider local" \
		"$(stats_count mail_oauth2_verify_accepted_ok_local)" 6
	check_eq "$1: stats: 2 rejected bad_identity by provider local" \
		"$(stats_count mail_oauth2_verify_rejected_bad_identity_local)" 2
	check_eq "$1: stats: 1 rejected no_identity by provider local" \
		"$(stats_count mail_oauth2_verify_rejected_no_identity_local)" 1
	check_eq "$1: stats: all 9 with mode=$2" "$(stats_count "moa2_test_mode_$2")" 9
	check_eq "$1: stats: 1 of them with mechanism LOGIN" \
		"$(stats_count "moa2_test_mode_$2_LOGIN")" 1
	check_eq "$1: stats: 5 of them with mechanism OAUTHBEARER" \
		"$(stats_count "moa2_test_mode_$2_OAUTHBEARER")" 5
}

restart ""
identity_cases "blocking=threads" threads

# ---------------------------------------------------------------- logs

# failed OAUTHBEARER logins without authzid: the lines name the token's
# identity; fail2ban's stock filter counts each
log_start=$(wc -l <"$DV/dovecot.log")
failures=0
f2b_srcs=
for t in "$token_expired" "$token_upper_expired" "$token_expired"; do
	next_src
	expect_login "OAUTHBEARER without authzid, expired token from $SRC: refused" \
		1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$t" --mech OAUTHBEARER --src "$SRC"
	failures=$((failures + 1))
	f2b_srcs="$f2b_srcs $SRC"
	log_has "... the auth line names alice@example.test" \
		"auth: Info: bearer\(alice@example\.test,$SRC,.*rejected reason=expired"
	log_has "... the login process line names alice@example.test" \
		"imap-login: Info: (Disconnected|Aborted login).*auth failed.*user=<alice@example\.test>, method=OAUTHBEARER, rip=$SRC,"
done
# a token signed with a key the provider does not have: unverified, but
# its identity is still the best name for the log
token_forged=$($JWT_TOOL sign "$WORK/other.pem" RS256 '{"kid":"local-1","typ":"at+jwt"}' \
	'{"iss":"https://local.test","aud":"https://mail.test","email":"ALICE@EXAMPLE.TEST","scope":"imap","exp":"+300"}')
remember_token "$token_forged"
next_src
expect_login "OAUTHBEARER without authzid, forged token from $SRC: refused" \
	1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$token_forged" --mech OAUTHBEARER --src "$SRC"
failures=$((failures + 1))
f2b_srcs="$f2b_srcs $SRC"
log_has "... the login process line names the identity the token claims" \
	"imap-login: Info: (Disconnected|Aborted login).*auth failed.*user=<alice@example\.test>, method=OAUTHBEARER, rip=$SRC,"
# msmtp and Mail::IMAPClient answer the challenge with an empty line
next_src
expect_login "OAUTHBEARER, expired token, the challenge answered with an empty line: refused" \
	1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$token_expired" --mech OAUTHBEARER --empty-ack --src "$SRC"
failures=$((failures + 1))
f2b_srcs="$f2b_srcs $SRC"
log_has "... logged at debug once" \
	"Debug: .*oauthbearer\([^,]*,$SRC,.*the client answered the OAUTHBEARER failure challenge with an empty response instead of \^A"
log_lacks "... and not complained about at info" \
	"Info: .*oauthbearer\([^,]*,$SRC,.*did not acknowledge"
sleep 0.5
tail -n +"$((log_start + 1))" "$DV/dovecot.log" >"$OUT/f2b.log"
# (the debug lines before the token is read still show the placeholder)
if grep -E "(Info|Error): .*bearer-token-user|user=<bearer-token-user>" "$OUT/f2b.log" >"$OUT/placeholder.out"; then
	not_ok "the placeholder user is in no failure line" "$(head -n 5 "$OUT/placeholder.out")"
else
	ok "the placeholder user is in no failure line"
fi
fail2ban-regex "$OUT/f2b.log" "$F2B_FILTER" >"$OUT/f2b.out" 2>&1
matched=$(sed -n 's/^Lines: .* \([0-9][0-9]*\) matched.*/\1/p' "$OUT/f2b.out")
check_eq "fail2ban-regex with the stock dovecot filter counts every failure ($failures)" \
	"$matched" "$failures"
fail2ban-regex --print-all-matched "$OUT/f2b.log" "$F2B_FILTER" >"$OUT/f2b-matched.out" 2>&1
f2b_missing=
for s in $f2b_srcs; do
	grep -q "rip=$s," "$OUT/f2b-matched.out" || f2b_missing="$f2b_missing $s"
done
check_eq "... one match per failing address" "$f2b_missing" ""

# ---------------------------------------------------------------- metrics

# a fresh instance and key cache: known verifications, one key fetch
rm -rf "$WORK/cache"
mkdir -p "$WORK/cache"
dovecot_chown dovecot "$WORK/cache"
restart ""
expect_login "metrics: accepted 1 (testidp)" 0 OK imap "$P_IMAP" "$token_alice" --user "$ALICE"
expect_login "metrics: accepted 2 (testidp)" 0 OK imap "$P_IMAP" "$token_alice" --mech OAUTHBEARER
next_src
expect_login "metrics: rejected expired 1 (testidp)" 1 'NO ' imap "$P_IMAP" "$token_expired" --user "$ALICE" --src "$SRC"
next_src
expect_login "metrics: rejected expired 2 (testidp)" 1 'NO ' imap "$P_IMAP" "$token_expired" --mech OAUTHBEARER --src "$SRC"
next_src
expect_login "metrics: rejected expired 3 (local)" 1 'NO ' imap "$P_IMAP" "$token_upper_expired" --mech OAUTHBEARER --src "$SRC"
stats_dump
check_eq "doveadm stats dump: mail_oauth2_verify counted 5" "$(stats_count mail_oauth2_verify)" 5
check_eq "doveadm stats dump: accepted by testidp: 2" \
	"$(stats_count mail_oauth2_verify_accepted_ok_testidp)" 2
check_eq "doveadm stats dump: rejected expired by testidp: 2" \
	"$(stats_count mail_oauth2_verify_rejected_expired_testidp)" 2
check_eq "doveadm stats dump: rejected expired by local: 1" \
	"$(stats_count mail_oauth2_verify_rejected_expired_local)" 1
check_eq "doveadm stats dump: one key fetch of testidp, ok" \
	"$(stats_count mail_oauth2_key_fetch_testidp_ok)" 1
check_eq "doveadm stats dump: the latency histogram holds all 5" \
	"$(stats_count mail_oauth2_verify_latency)" 5
if curl -sS --max-time 10 "http://127.0.0.1:$P_STATS/metrics" >"$OUT/metrics.out" 2>&1; then
	ok "OpenMetrics endpoint (service stats, inet_listener http) answers"
else
	not_ok "OpenMetrics endpoint answers" "$(cat "$OUT/metrics.out")"
fi
# metric_value SUBSTRING...: the value of the _total line holding all
metric_value() {
	_mv=$(grep '^dovecot_mail_oauth2_verify_total{' "$OUT/metrics.out")
	for _s; do
		_mv=$(printf '%s\n' "$_mv" | grep -F -e "$_s")
	done
	printf '%s\n' "$_mv" | awk '{ print $2; exit }'
}
check_eq "OpenMetrics: accepted by testidp: 2" \
	"$(metric_value 'outcome="accepted"' 'provider="testidp"')" 2
check_eq "OpenMetrics: rejected expired by testidp: 2" \
	"$(metric_value 'outcome="rejected"' 'reason="expired"' 'provider="testidp"')" 2
check_eq "OpenMetrics: rejected expired by local: 1" \
	"$(metric_value 'outcome="rejected"' 'reason="expired"' 'provider="local"')" 1
check "OpenMetrics: the key fetch of testidp, ok" \
	grep -q '^dovecot_mail_oauth2_key_fetch_total{provider="testidp",result="ok"} 1$' "$OUT/metrics.out"
check "OpenMetrics: the latency histogram counts all 5" \
	grep -q '^dovecot_mail_oauth2_verify_latency_count 5$' "$OUT/metrics.out"

# ---------------------------------------------------------------- modes

for mode in blocking=no:main blocking=yes:worker; do
	restart "${mode%%:*}"
	identity_cases "${mode%%:*}" "${mode#*:}"
	mode=${mode%%:*}
	next_src
	expect_login "$mode: OAUTHBEARER without authzid, expired token: refused" \
		1 'NO \[AUTHENTICATIONFAILED\]' imap "$P_IMAP" "$token_expired" --mech OAUTHBEARER --src "$SRC"
	log_has "$mode: ... the login process line names alice@example.test" \
		"imap-login: Info: (Disconnected|Aborted login).*auth failed.*user=<alice@example\.test>, method=OAUTHBEARER, rip=$SRC,"
done

# ---------------------------------------------------------------- order

# Debian's 10-auth.conf includes auth-system.conf.ext (passdb pam) before
# the conf.d snippet: XOAUTH2/OAUTHBEARER tokens must not go to pam
restart "" "passdb {
  driver = pam
}"
next_src
expect_login "pam passdb first: XOAUTH2 logs in" 0 OK imap "$P_IMAP" "$token_alice" --user "$ALICE" --src "$SRC"
log_has "... verified by passdb bearer" "bearer\(alice@example\.test,$SRC,.*accepted user=alice@example\.test"
next_src
expect_login "pam passdb first: OAUTHBEARER logs in" 0 OK imap "$P_IMAP" "$token_alice" --mech OAUTHBEARER --src "$SRC"
next_src
expect_login "pam passdb first: XOAUTH2 with an expired token: refused" 1 'NO ' \
	imap "$P_IMAP" "$token_expired" --user "$ALICE" --src "$SRC"
log_lacks "... and pam never saw a token" "pam\("

dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"
check "the Dovecot log has no error, fatal or panic line" \
	sh -c '! grep -E "(Error|Fatal|Panic):" "$1"' sh "$DV/dovecot.log"
assert_no_tokens "$DV/dovecot.log"

summary dovecot-admin
