#!/bin/sh
# SPDX-License-Identifier: MIT
# Integration test of the Cyrus SASL plugin (plugin/sasl, issue 5) with real
# programs on loopback, everything under a temp dir, stopped by PID:
#  - the test OpenID Connect provider (lib/idp.sh) as token endpoint, with a
#    realistic latency (300 ms) and rotating refresh tokens, client
#    mail-relay (its secret contains + & = %);
#  - Postfix "relay" (postfix -c, chroot ON for smtp) relaying everything to
#    the second instance with our CLIENT mechanism XOAUTH2: Cyrus finds the
#    plugin through SASL_PATH in import_environment, the plugin reads
#    MAIL_OAUTH2_CONF (also imported) before smtp chroots;
#  - Postfix "mx" whose smtpd (smtpd_sasl_type = cyrus, smtpd.conf in
#    cyrus_sasl_config_path) verifies XOAUTH2 with our SERVER mechanism and
#    the verification engine, and delivers to a Maildir we count.
# Tokens come from the real IdP: a refresh token through the device flow
# (`mail-oauth2 token authorize`, approved through /test/device/approve),
# and client_credentials.
#
# Shown: 50 messages submitted at once with an expired access token and
# destination concurrency 20 are all delivered on the first attempt with
# exactly one token request; a token that stops being accepted mid-run
# defers mail, which is delivered with a fresh token after a queue flush;
# with the token endpoint down mail is deferred, never bounced, and the
# first flush after recovery delivers all of it with one token request;
# with 60 s and 300 s access tokens (Keycloak's default) and the default
# refresh_margin a burst of 50 messages makes one token request per token
# lifetime; a token endpoint given by name is resolved after the chroot, by
# the chrooted smtp process, with the chroot's etc files (without them the
# mail is deferred); no token or secret appears in any log. Postfix throttles a destination after
# failed deliveries ("relay dead"): `postqueue -f` lifts that.
#
# Env: MAIL_OAUTH2 (the CLI), MOA2_SASL_PLUGIN (default: the build dir of
# MAIL_OAUTH2, plugin/sasl/.libs/libmail-oauth2.so), KEEP_WORK=1.
# Needs root, Postfix, python3, node (tests/lib-deps.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/postfix.sh"

NAME=test-postfix-relay
PLUGIN=${MOA2_SASL_PLUGIN:-$(dirname "$MAIL_OAUTH2")/../sasl/.libs/libmail-oauth2.so}
MAIL_UID=65534

if [ "$(id -u)" != 0 ]; then
	echo "$NAME: needs root (Postfix instances)"; exit 77
fi
for f in "$MAIL_OAUTH2" "$PLUGIN"; do
	[ -f "$f" ] || { echo "$NAME: $f not found: build first"; exit 1; }
done
command -v postfix >/dev/null || { echo "$NAME: postfix not installed"; exit 1; }

OUT=$WORK/out
mkdir -p "$OUT"
chmod 755 "$WORK"

# ------------------------------------------------------------------ the IdP

test_ca >/dev/null
IDP_LOG=0 idp_start "$WORK/idp" >"$OUT/idp-start.log" 2>&1 || {
	cat "$OUT/idp-start.log"; exit 1; }
remember_token "$IDP_RELAY_SECRET"
idp_ctl "latency?ms=300" >/dev/null

# ----------------------------------------------------------- the plugin side

RELAY_PORT=$(free_port)
MX_PORT=$(free_port)
pf_oauth2_dirs "$PLUGIN" "$MAIL_UID" || exit 1

CONF=$WORK/client.conf
cat >"$CONF" <<EOF
ca_file = $TEST_CA
token_dir = $WORK/tokens
[account device]
provider = generic
issuer = $IDP_URL
client_id = $IDP_RELAY_ID
client_secret_file = $WORK/relay.secret
scope = openid offline_access smtp
resource = https://mail.test
[account native]
provider = generic
issuer = $IDP_URL
client_id = $IDP_NATIVE_CLIENT_ID
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
[account byname]
provider = generic
issuer = $IDP_URL
token_endpoint = https://localhost:$IDP_PORT/token
grant = client_credentials
client_id = $IDP_RELAY_ID
client_secret_file = $WORK/relay.secret
scope = smtp
resource = https://mail.test
EOF
printf '%s\n' "$IDP_RELAY_SECRET" >"$WORK/relay.secret"
chmod 600 "$WORK/relay.secret"
chmod 644 "$CONF"

VERIFY=$WORK/verify.conf
pf_verify_conf "$VERIFY"

# ------------------------------------------------------------------ Postfix

pf_new_cyrus_mx mx "$MX_PORT" "example.test cc.test byname.test" "$MAIL_UID" <<EOF
mech_list: XOAUTH2 OAUTHBEARER
mail_oauth2_verify_conf: $VERIFY
EOF
pf_conf mx "default_process_limit = 60"

pf_new relay "$RELAY_PORT"
printf '[127.0.0.1]:%s alice:device\n' "$MX_PORT" >"$WORK/relay/etc/sasl_passwd"
printf '[127.0.0.1]:%s mail-relay:app\n' "$MX_PORT" >"$WORK/relay/etc/sasl_passwd_app"
printf '[127.0.0.1]:%s mail-relay:byname\n' "$MX_PORT" >"$WORK/relay/etc/sasl_passwd_byname"
printf 'cc.test smtpapp:[127.0.0.1]:%s\nbyname.test smtpbyname:[127.0.0.1]:%s\n' \
	"$MX_PORT" "$MX_PORT" >"$WORK/relay/etc/transport"
pf_service relay "smtpapp unix - - y - - smtp -o smtp_sasl_password_maps=texthash:$WORK/relay/etc/sasl_passwd_app"
pf_service relay "smtpbyname unix - - y - - smtp -o smtp_sasl_password_maps=texthash:$WORK/relay/etc/sasl_passwd_byname"
pf_oauth2_relay relay "$CONF" "$WORK/plugins"
pf_conf relay \
	"relayhost = [127.0.0.1]:$MX_PORT" \
	"transport_maps = texthash:$WORK/relay/etc/transport" \
	"smtp_sasl_password_maps = texthash:$WORK/relay/etc/sasl_passwd" \
	"smtp_sasl_mechanism_filter = xoauth2" \
	"default_destination_concurrency_limit = 20" \
	"initial_destination_concurrency = 20" \
	"default_process_limit = 60" \
	"minimal_backoff_time = 300s" "maximal_backoff_time = 600s" \
	"queue_run_delay = 300s"

pf_start mx || exit 1
pf_start relay || exit 1
RLOG=$(pf_log relay)
MXLOG=$(pf_log mx)

delivered() {
	find "$WORK/mail/box/new" -type f 2>/dev/null | wc -l
}
count_in() { # FILE PATTERN
	grep -c -- "$2" "$1" 2>/dev/null || true
}
idp_stat() { # token requests handled for GRANT, or "all"
	idp_ctl stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
g = sys.argv[1]
print(s["token_requests"] if g == "all" else s["token_by_grant"].get(g, 0))' "$1"
}
store_field() { # ACCOUNT FIELD
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d.get(sys.argv[2], ""))' "$WORK/tokens/$1.json" "$2"
}
remember_store() {
	for _acct in device native app byname; do
		[ -f "$WORK/tokens/$_acct.json" ] || continue
		for _f in access_token refresh_token; do
			_v=$(store_field "$_acct" "$_f")
			[ -n "$_v" ] && remember_token "$_v"
		done
	done
	return 0
}
# every message that has gone through the relay: sent, deferred, bounced
status_count() {
	count_in "$RLOG" "status=$1"
}
# the stored access token of ACCOUNT counts as expired (in place: mode
# and owner stay)
expire_store() {
	python3 - "$WORK/tokens/$1.json" <<'EOF'
import json, sys
with open(sys.argv[1], "r+") as f:
    d = json.load(f)
    d["expires_at"] = 1
    f.seek(0); f.truncate(); json.dump(d, f)
EOF
}
# burst N: N messages to alice (the device account) held, then released
# at once; sets burst_ms (how long the delivery took) and burst_delivered
burst() {
	_b_before=$(delivered)
	pf_submit "$RELAY_PORT" alice@example.test "$1" "X-Hold: yes"
	wait_for 20 sh -c "[ \$(find '$WORK/relay/queue/hold' -type f | wc -l) -eq $1 ]"
	postsuper -c "$WORK/relay/etc" -H ALL >/dev/null 2>&1
	pf_flush relay
	_b_start=$(now_ms)
	wait_for 120 sh -c "[ \$(find '$WORK/mail/box/new' -type f 2>/dev/null | wc -l) -ge $((_b_before + $1)) ]"
	burst_ms=$(elapsed_ms "$_b_start")
	burst_delivered=$(($(delivered) - _b_before))
}

# ---------------------------------------------------- 1. device flow (CLI)

idp_ctl "ttl?seconds=3" >/dev/null
"$MAIL_OAUTH2" token authorize -c "$CONF" device >"$OUT/authorize.out" 2>&1 &
auth_pid=$!
wait_for 20 grep -q 'enter the code:' "$OUT/authorize.out"
user_code=$(sed -n 's/.*enter the code: //p' "$OUT/authorize.out")
idp_ctl "device/approve?user_code=$(idp_urlencode "$user_code")&account=alice" >"$OUT/approve.json"
wait "$auth_pid"
check_eq "device flow: mail-oauth2 token authorize exits 0" "$?" 0
idp_ctl "ttl?seconds=600" >/dev/null
remember_store
check "device flow: the store has a refresh token" test -n "$(store_field device refresh_token)"
check_eq "the store is owned by postfix, mode 0600 (written by root)" \
	"$(stat -c '%U %a' "$WORK/tokens/device.json")" "postfix 600"
"$MAIL_OAUTH2" token show -c "$CONF" device >"$OUT/show.out" 2>&1
check "token show names the account and no token" grep -q 'refresh token:' "$OUT/show.out"

# ------------- 1b. authorization code + PKCE with a loopback redirect (CLI)

"$MAIL_OAUTH2" token authorize -c "$CONF" --browser native >"$OUT/browser.out" 2>&1 &
auth_pid=$!
wait_for 20 grep -q '^https://' "$OUT/browser.out"
auth_url=$(grep '^https://' "$OUT/browser.out")
case $auth_url in
*code_challenge_method=S256*redirect_uri=* | *redirect_uri=*code_challenge_method=S256*)
	ok "browser flow: the URL carries PKCE S256 and a loopback redirect" ;;
*) not_ok "browser flow: the URL carries PKCE S256 and a loopback redirect" "$auth_url" ;;
esac
# the IdP logs alice in by itself; curl plays the browser
http_code=$(curl -s -L --max-time 30 --cacert "$TEST_CA" -c "$OUT/jar" -b "$OUT/jar" \
	-o "$OUT/browser-page.html" -w '%{http_code}' "$auth_url")
check_eq "browser flow: the loopback listener answered the redirect" "$http_code" 200
wait "$auth_pid"
check_eq "browser flow: mail-oauth2 token authorize --browser exits 0" "$?" 0
check "browser flow: refresh token stored" test -n "$(store_field native refresh_token)"
remember_store

# --------------------------- 2. 50 messages, expired token, concurrency 20

sleep 4 # the 3 s access token has expired
rt_before=$(store_field device refresh_token)
idp_ctl "stats?reset=1" >/dev/null
pf_submit "$RELAY_PORT" alice@example.test 50 "X-Hold: yes"
wait_for 20 sh -c "[ \$(find '$WORK/relay/queue/hold' -type f | wc -l) -eq 50 ]"
check_eq "50 messages held" "$(find "$WORK/relay/queue/hold" -type f | wc -l)" 50
postsuper -c "$WORK/relay/etc" -H ALL >/dev/null 2>&1
pf_flush relay
start=$(now_ms)
wait_for 120 sh -c "[ \$(find '$WORK/mail/box/new' -type f 2>/dev/null | wc -l) -ge 50 ]"
elapsed=$(elapsed_ms "$start")
check_eq "50 messages delivered (in ${elapsed} ms)" "$(delivered)" 50
check_eq "none deferred" "$(status_count deferred)" 0
check_eq "one token request for 50 messages" "$(idp_stat refresh_token)" 1
check_eq "no other token request" "$(idp_stat all)" 1
check_eq "the mail log has one info line for it: grant, expiry, rotation, duration" \
	"$(grep -c 'postfix-relay/smtp\[[0-9]*\]: mail-oauth2: account device: token request (grant refresh_token) to 127\.0\.0\.1:[0-9]* took [0-9]* ms: access token sha256:[0-9a-f]\{8\} valid for [0-9]* s, until 20[0-9T:-]*Z; refresh token rotated$' "$RLOG")" 1
smtp_pids=$(grep -o 'postfix-relay/smtp\[[0-9]*\]: [0-9A-F]*: to=' "$RLOG" |
	sed 's/\].*//; s/.*\[//' | sort -u | wc -l)
if [ "$smtp_pids" -ge 10 ]; then
	ok "deliveries ran in parallel ($smtp_pids smtp processes)"
else
	not_ok "deliveries ran in parallel" "only $smtp_pids smtp processes"
fi
rt_after=$(store_field device refresh_token)
check "the rotated refresh token is in the store" test "$rt_before" != "$rt_after"
remember_store
# the smtp processes are still alive, idle: they run chrooted
chrooted=0
for pid in $(pgrep -x smtp 2>/dev/null); do
	root=$(readlink "/proc/$pid/root" 2>/dev/null)
	case $root in "$WORK/relay/queue") chrooted=$((chrooted + 1)) ;; esac
done
if [ "$chrooted" -ge 1 ]; then
	ok "the relay's smtp processes run chrooted in its queue dir ($chrooted)"
else
	not_ok "the relay's smtp processes run chrooted" "$(pgrep -af smtp)"
fi

# ------------------------------------------------ 3. client_credentials

idp_ctl "stats?reset=1" >/dev/null
pf_submit "$RELAY_PORT" bob@cc.test 10
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge 60 ]"
check_eq "client_credentials account: 10 more messages delivered" "$(delivered)" 60
check_eq "client_credentials: one token request" "$(idp_stat client_credentials)" 1
check_eq "still none deferred" "$(status_count deferred)" 0
check "mx logged sasl_username=mail-relay" grep -q 'sasl_username=mail-relay' "$MXLOG"
remember_store

# ----------------------------- 4. the token stops being accepted mid-run

sleep 12
at_before=$(store_field device access_token)
pf_verify_conf "$VERIFY" "max_token_age = 10s"
pf_reload mx
sleep 2
idp_ctl "stats?reset=1" >/dev/null
deferred_before=$(status_count deferred)
pf_submit "$RELAY_PORT" alice@example.test 5
wait_for 60 sh -c "[ \$(grep -c 'status=deferred' '$RLOG') -gt $deferred_before ]"
check "a rejected token defers the mail" test "$(status_count deferred)" -gt "$deferred_before"
check "the deferral says why" grep -q 'the relay rejected access token' "$RLOG"
check "the mx rejected the old token (max_token_age) after the challenge" \
	grep -q 'XOAUTH2 rejected reason=[a-z_]* token=sha256:[0-9a-f]*: .*max_token_age' "$MXLOG"
check "the rejected token was dropped from the store" \
	test "$(store_field device access_token)" != "$at_before"
check_eq "nothing bounced" "$(status_count bounced)" 0
pf_flush relay
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge 65 ]"
check_eq "after a flush the 5 messages are delivered with a fresh token" "$(delivered)" 65
check_eq "queue empty" "$(pf_queue_count relay)" 0
n=$(idp_stat refresh_token)
if [ "$n" -ge 1 ] && [ "$n" -le 2 ]; then
	ok "fresh tokens for the recovery: $n refresh request(s)"
else
	not_ok "fresh token for the recovery" "refresh requests: $n"
fi
remember_store
pf_verify_conf "$VERIFY"
pf_reload mx
sleep 2

# --------------------------- 5. token endpoint down: deferred, not bounced

expire_store device
idp_ctl "token-endpoint?state=down" >/dev/null
idp_ctl "stats?reset=1" >/dev/null
deferred_before=$(status_count deferred)
before=$(delivered)
pf_submit "$RELAY_PORT" alice@example.test 10
wait_for 60 sh -c "[ \$(grep -c 'status=deferred' '$RLOG') -ge $((deferred_before + 10)) ]"
check_eq "provider down: the 10 messages are deferred" \
	"$(($(status_count deferred) - deferred_before))" 10
check_eq "provider down: nothing delivered" "$(delivered)" "$before"
check_eq "provider down: 10 messages in the queue" "$(pf_queue_count relay)" 10
check "provider down: the log tells the admin" \
	grep -q 'the token endpoint is unavailable (HTTP 503.*mail stays queued and is retried' "$RLOG"
check_eq "provider down: nothing bounced" "$(status_count bounced)" 0
idp_ctl "token-endpoint?state=up" >/dev/null
idp_ctl "stats?reset=1" >/dev/null
pf_flush relay
wait_for 90 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge $((before + 10)) ]"
check_eq "after recovery one flush delivers all 10" "$(delivered)" $((before + 10))
check_eq "after recovery: one token request" "$(idp_stat refresh_token)" 1
check_eq "after recovery: queue empty" "$(pf_queue_count relay)" 0
check_eq "in the whole run: nothing bounced" "$(status_count bounced)" 0
remember_store

# ------------- 5b. short-lived tokens under the default refresh_margin (5m)
# Keycloak's access tokens live 5 minutes; with 60 s or 300 s tokens a
# burst of 50 messages makes one token request per token lifetime (the
# margin adapts: at most a quarter of the lifetime), not one per login.

for ttl in 60 300; do
	idp_ctl "ttl?seconds=$ttl" >/dev/null
	expire_store device
	idp_ctl "stats?reset=1" >/dev/null
	deferred_before=$(status_count deferred)
	burst 50
	n=$(idp_stat refresh_token)
	lifetimes=$((1 + burst_ms / (ttl * 750)))
	echo "# ${ttl} s tokens: $n token request(s) for 50 messages in ${burst_ms} ms"
	check_eq "${ttl} s tokens: 50 messages delivered" "$burst_delivered" 50
	check_eq "${ttl} s tokens: none deferred" "$(status_count deferred)" "$deferred_before"
	if [ "$n" -ge 1 ] && [ "$n" -le "$lifetimes" ]; then
		ok "${ttl} s tokens: one token request per lifetime ($n in ${burst_ms} ms)"
	else
		not_ok "${ttl} s tokens: one token request per lifetime" \
			"$n token requests in ${burst_ms} ms (at most $lifetimes)"
	fi
	check_eq "${ttl} s tokens: the store knows the lifetime" \
		"$(($(store_field device expires_at) - $(store_field device access_token_at)))" "$ttl"
	remember_store
done
idp_ctl "ttl?seconds=600" >/dev/null

# ------------ 5c. a token endpoint by name, resolved after the chroot

# The plugin loads before smtp chroots, but it resolves the token
# endpoint's name when it fetches a token: inside the chroot, with the
# chroot's /etc files (Debian's postfix copies hosts, resolv.conf,
# nsswitch.conf... into /var/spool/postfix/etc). Without them the name does
# not resolve and the mail is deferred; with them it is delivered.
chroot_etc=$WORK/relay/queue/etc
check "precondition: the relay's chroot has no etc/hosts" test ! -e "$chroot_etc/hosts"
idp_ctl "stats?reset=1" >/dev/null
deferred_before=$(status_count deferred)
before=$(delivered)
pf_submit "$RELAY_PORT" carol@byname.test 1
wait_for 60 sh -c "[ \$(grep -c 'status=deferred' '$RLOG') -gt $deferred_before ]"
check "no hosts file in the chroot: the mail is deferred" \
	test "$(status_count deferred)" -gt "$deferred_before"
check "the reason names the host that did not resolve" \
	grep -q 'SASL authentication failure: .*account byname: .*cannot resolve host localhost' "$RLOG"
check_eq "no token request reached the IdP" "$(idp_stat all)" 0
mkdir -p "$chroot_etc"
for f in hosts nsswitch.conf host.conf resolv.conf; do
	[ -f "/etc/$f" ] && cp "/etc/$f" "$chroot_etc/"
done
pf_flush relay
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge $((before + 1)) ]"
check_eq "with the chroot's etc files the mail is delivered" "$(delivered)" $((before + 1))
check_eq "with one token request" "$(idp_stat client_credentials)" 1
fetcher=$(sed -n 's/.*postfix-relay\/smtp\[\([0-9]*\)\]: [0-9A-F]*: to=<carol@byname.test>.*status=sent.*/\1/p' \
	"$RLOG" | tail -n 1)
check "the mail was sent by smtp process ${fetcher:-?}, which fetched the token" test -n "$fetcher"
check_eq "and that process runs chrooted in the relay's queue dir" \
	"$(readlink "/proc/${fetcher:-0}/root" 2>/dev/null)" "$WORK/relay/queue"
check_eq "still nothing bounced" "$(status_count bounced)" 0
remember_store

# ------------------------------- 6. mail-oauth2 token test-smtp (CLI)

"$MAIL_OAUTH2" token test-smtp -c "$CONF" --account device --user alice \
	--ca-file "$TEST_CA" "127.0.0.1:$MX_PORT" >"$OUT/test-smtp.out" 2>&1
check_eq "test-smtp: XOAUTH2 accepted, exit 0" "$?" 0
check "test-smtp: STARTTLS with a verified certificate" \
	grep -q '^TLS: .*certificate verified for 127.0.0.1' "$OUT/test-smtp.out"
check "test-smtp: the server's 235 is printed" grep -q '^S: 235 ' "$OUT/test-smtp.out"
check "test-smtp: the AUTH line is shown redacted" \
	grep -q '^C: \(AUTH XOAUTH2 \)\?\[initial response: user=alice, token [0-9a-f]*' "$OUT/test-smtp.out"
"$MAIL_OAUTH2" token test-smtp -c "$CONF" --account device --user alice --mech oauthbearer \
	--ca-file "$TEST_CA" "127.0.0.1:$MX_PORT" >"$OUT/test-smtp-ob.out" 2>&1
check_eq "test-smtp: OAUTHBEARER accepted, exit 0" "$?" 0
"$MAIL_OAUTH2" token test-smtp -c "$CONF" --account device --user bob \
	--ca-file "$TEST_CA" "127.0.0.1:$MX_PORT" >"$OUT/test-smtp-bob.out" 2>&1
check_eq "test-smtp: a token for another user is refused, exit 1" "$?" 1
check "test-smtp: the failure challenge is decoded and shown" \
	grep -q 'decoded challenge: {"status":"401"' "$OUT/test-smtp-bob.out"
check "test-smtp: then 535" grep -q '^S: 535 ' "$OUT/test-smtp-bob.out"
check "mx: user_mismatch logged" grep -q 'rejected reason=user_mismatch' "$MXLOG"
remember_store

# -------------------- 7. the server mechanisms with clients nobody here wrote

printf 'From: a@relay.test\r\nTo: x@example.test\r\nSubject: curl\r\n\r\nhi\r\n' >"$OUT/msg.txt"
tok=$(idp_token alice)
remember_token "$tok"
before=$(delivered)
for mech in XOAUTH2 OAUTHBEARER; do
	curl -s --max-time 30 --ssl-reqd --cacert "$TEST_CA" --user alice: \
		--oauth2-bearer "$tok" --login-options "AUTH=$mech" \
		--mail-from a@relay.test --mail-rcpt x@example.test -T "$OUT/msg.txt" \
		"smtp://127.0.0.1:$MX_PORT" >"$OUT/curl-$mech.out" 2>&1
	check_eq "curl $mech with a valid token: accepted" "$?" 0
done
wait_for 20 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge $((before + 2)) ]"
check_eq "curl: both messages delivered" "$(delivered)" $((before + 2))
bad=$(printf '%s' "$tok" | python3 -c 'import sys
t = sys.stdin.read(); h, p, s = t.split(".")
print(h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])')
curl -s --max-time 30 --ssl-reqd --cacert "$TEST_CA" --user alice: --oauth2-bearer "$bad" \
	--login-options AUTH=XOAUTH2 --mail-from a@relay.test --mail-rcpt x@example.test \
	-T "$OUT/msg.txt" "smtp://127.0.0.1:$MX_PORT" >"$OUT/curl-bad.out" 2>&1
check_eq "curl with a forged signature: login denied (curl exit 67)" "$?" 67
check "mx: bad_signature logged" grep -q 'rejected reason=bad_signature' "$MXLOG"

# ------------------------------------------------------- 8. no secrets

assert_no_tokens "$OUT"/* "$RLOG" "$MXLOG"

pf_stop_all
summary "$NAME"
