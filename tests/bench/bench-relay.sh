#!/bin/sh
# Benchmark: messages relayed per second through Postfix with our XOAUTH2
# client plugin versus the same Postfix with PLAIN to the same server, in
# the same run, and token-endpoint requests per 1,000 messages.
#
# Setup (as tests/integration/test-postfix-relay.sh, all on loopback under
# a temp dir): the test IdP (client_credentials, access tokens valid 600 s,
# token endpoint latency 300 ms); Postfix "mx" verifying XOAUTH2 with our
# server mechanism and PLAIN with sasldb, delivering to a Maildir; Postfix
# "relay" (smtp chrooted) with two transports to the same mx: smtpoauth
# (XOAUTH2, our client plugin) and smtpplain (PLAIN). Each round holds N
# messages for one transport, releases them at once and times until the
# mx has delivered all N. Rounds alternate PLAIN / XOAUTH2.
#
# Postfix does not reuse TLS connections by default (smtp_tls_connection_reuse
# = no), so every message is one connection, one TLS handshake and one AUTH
# on both sides: the plugin's cost per login is measured, not amortised.
#
# Env: BENCH_MESSAGES (default 1000), BENCH_ROUNDS (per mode, default 3),
# BENCH_TTL (access token lifetime, default 600 s; e.g. 20 to see refreshes),
# MAIL_OAUTH2 / MOA2_SASL_PLUGIN as for the integration tests, KEEP_WORK=1.
# Needs root, Postfix, sasl2-bin, node.
# Output: one line per round, then a summary with the ratio (target >=
# 0.9) and token requests per 1,000 messages (target: one per token
# lifetime).
set -u
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/postfix.sh"

N=${BENCH_MESSAGES:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
TTL=${BENCH_TTL:-600}
MARGIN=$((TTL > 240 ? 60 : TTL / 4))
PLUGIN=${MOA2_SASL_PLUGIN:-$(dirname "$MAIL_OAUTH2")/../sasl/.libs/libmail-oauth2.so}
MAIL_UID=65534
PLAIN_PASS=bench-plain-password-0123

[ "$(id -u)" = 0 ] || { echo "bench-relay: needs root"; exit 1; }
[ -f "$PLUGIN" ] || { echo "bench-relay: $PLUGIN not found: build first"; exit 1; }
command -v saslpasswd2 >/dev/null || { echo "bench-relay: needs sasl2-bin"; exit 1; }

chmod 755 "$WORK"
test_ca >/dev/null
IDP_LOG=0 idp_start "$WORK/idp" >"$WORK/idp-start.log" 2>&1 || { cat "$WORK/idp-start.log"; exit 1; }
idp_ctl "latency?ms=300" >/dev/null
idp_ctl "ttl?seconds=$TTL" >/dev/null

RELAY_PORT=$(free_port)
MX_PORT=$(free_port)
pf_oauth2_dirs "$PLUGIN" "$MAIL_UID" || exit 1
printf '%s\n' "$IDP_RELAY_SECRET" >"$WORK/relay.secret"
chmod 600 "$WORK/relay.secret"
cat >"$WORK/client.conf" <<EOF
ca_file = $TEST_CA
token_dir = $WORK/tokens
[account app]
provider = generic
issuer = $IDP_URL
grant = client_credentials
client_id = $IDP_RELAY_ID
client_secret_file = $WORK/relay.secret
scope = smtp
resource = https://mail.test
refresh_margin = ${MARGIN}s
EOF
pf_verify_conf "$WORK/verify.conf"

printf '%s' "$PLAIN_PASS" | saslpasswd2 -p -c -f "$WORK/sasldb2" -u mx.test benchuser
chown postfix "$WORK/sasldb2"
pf_new_cyrus_mx mx "$MX_PORT" "oauth.test plain.test" "$MAIL_UID" <<EOF
mech_list: XOAUTH2 PLAIN
mail_oauth2_verify_conf: $WORK/verify.conf
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $WORK/sasldb2
EOF
pf_conf mx "default_process_limit = 100" "virtual_destination_concurrency_limit = 20"

pf_new relay "$RELAY_PORT"
printf '[127.0.0.1]:%s mail-relay:app\n' "$MX_PORT" >"$WORK/relay/etc/sasl_oauth"
printf '[127.0.0.1]:%s benchuser:%s\n' "$MX_PORT" "$PLAIN_PASS" >"$WORK/relay/etc/sasl_plain"
printf 'oauth.test smtpoauth:[127.0.0.1]:%s\nplain.test smtpplain:[127.0.0.1]:%s\n' \
	"$MX_PORT" "$MX_PORT" >"$WORK/relay/etc/transport"
pf_service relay "smtpoauth unix - - y - - smtp -o smtp_sasl_password_maps=texthash:$WORK/relay/etc/sasl_oauth -o smtp_sasl_mechanism_filter=xoauth2"
pf_service relay "smtpplain unix - - y - - smtp -o smtp_sasl_password_maps=texthash:$WORK/relay/etc/sasl_plain -o smtp_sasl_mechanism_filter=plain"
pf_oauth2_relay relay "$WORK/client.conf" "$WORK/plugins:$PF_SYS_SASL"
pf_conf relay \
	"transport_maps = texthash:$WORK/relay/etc/transport" \
	"default_destination_concurrency_limit = 20" "initial_destination_concurrency = 20" \
	"default_process_limit = 100" "queue_run_delay = 300s"

pf_start mx || exit 1
pf_start relay || exit 1

delivered() {
	find "$WORK/mail/box/new" -type f 2>/dev/null | wc -l
}
token_requests() {
	idp_ctl stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["token_requests"])'
}

# round MODE: prints the elapsed milliseconds for N messages
round() {
	_before=$(delivered)
	pf_submit "$RELAY_PORT" "bench@$1.test" "$N" "X-Hold: yes" || return 1
	wait_for 120 sh -c "[ \$(find '$WORK/relay/queue/hold' -type f | wc -l) -ge $N ]" || return 1
	postsuper -c "$WORK/relay/etc" -H ALL >/dev/null 2>&1
	_start=$(now_ms)
	pf_flush relay
	wait_for 600 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge $((_before + N)) ]" ||
		{ echo "round $1: not all delivered" >&2; return 1; }
	elapsed_ms "$_start"
}

# one message each way first: processes, TLS, JWKS and token warm for both;
# the token is fetched here, counted with the rest
idp_ctl "stats?reset=1" >/dev/null
bench_start=$(date +%s)
pf_submit "$RELAY_PORT" warm@plain.test 1
pf_submit "$RELAY_PORT" warm@oauth.test 1
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge 2 ]" ||
	{ echo "bench-relay: warm-up mail not delivered"; tail -n 20 "$(pf_log relay)"; exit 1; }

report=$WORK/report
: >"$report"
plain_ms=0
oauth_ms=0
for r in $(seq 1 "$ROUNDS"); do
	ms=$(round plain) || exit 1
	plain_ms=$((plain_ms + ms))
	echo "round $r PLAIN:   $N messages in $ms ms ($(python3 -c "print(round($N * 1000 / $ms, 1))") msg/s)"
	ms=$(round oauth) || exit 1
	oauth_ms=$((oauth_ms + ms))
	echo "round $r XOAUTH2: $N messages in $ms ms ($(python3 -c "print(round($N * 1000 / $ms, 1))") msg/s)"
done
connections=$(grep -c 'postfix-mx/smtpd.*: connect from' "$(pf_log mx)")
requests=$(token_requests)
total=$((ROUNDS * N + 1))
elapsed_s=$(($(date +%s) - bench_start))

echo
echo "bench-relay: $N messages per round, $ROUNDS rounds per mode, alternating"
python3 -c "
n, r = $N, $ROUNDS
p, o = n * r * 1000 / $plain_ms, n * r * 1000 / $oauth_ms
print('  PLAIN   %7.1f msg/s' % p)
print('  XOAUTH2 %7.1f msg/s' % o)
print('  ratio XOAUTH2/PLAIN %.3f (target >= 0.9)' % (o / p))"
echo "  connections (= TLS handshakes and AUTHs) at the mx: $connections for $((2 * ROUNDS * N + 2)) messages"
python3 -c "
import math
req, total, ttl, el, margin = $requests, $total, $TTL, $elapsed_s, $MARGIN
print('  token-endpoint requests: %d for %d XOAUTH2 messages = %.2f per 1,000 messages' % (req, total, req * 1000 / total))
print('  relaying took %d s; tokens live %d s, refreshed %d s early: %d token lifetime(s) started, %d expected'
      % (el, ttl, margin, req, math.ceil(el / (ttl - margin))))"
pf_stop_all
