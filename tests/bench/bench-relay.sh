#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark: messages relayed per second through Postfix with our XOAUTH2
# client plugin versus the same Postfix with PLAIN to the same server, in
# the same run; the cost of loading the SASL plugins per smtp(8) process for
# both; token-endpoint requests per 1,000 messages.
#
# Setup (as tests/integration/test-postfix-relay.sh, all on loopback under
# a temp dir): the test IdP (client_credentials, access tokens valid 600 s,
# token endpoint latency 300 ms); Postfix "mx" verifying XOAUTH2 with our
# server mechanism and PLAIN with sasldb, delivering to a Maildir; Postfix
# relays, the same but for their SASL settings, each with a transport to the
# mx (smtp chrooted): "relay" with smtpoauth (XOAUTH2, our client plugin)
# and "relayplain" with smtpplain (PLAIN, and a SASL_PATH of the
# distribution's plugins only: the relay without this project; Postfix
# daemons inherit the environment of their master, so this takes an
# instance of its own). Each round holds N messages at one relay, releases
# them at once and takes the time from the queue flush to the last delivery
# (the newest Maildir file's mtime). Rounds alternate PLAIN / XOAUTH2.
#
# Postfix does not reuse TLS connections by default (smtp_tls_connection_reuse
# = no), so every message is one connection, one TLS handshake and one AUTH
# on both sides: the plugin's cost per login is measured, not amortised.
# Each smtp process loads the SASL plugins once, when it starts (before its
# chroot), and serves up to max_use (100) deliveries; after the rounds,
# bench-sasl-load times that load in fresh processes with each transport's
# SASL_PATH and our client config, interleaved.
#
# Env: BENCH_MESSAGES (default 1000), BENCH_ROUNDS (per mode, default 5),
# BENCH_TTL (access token lifetime, default 600 s; e.g. 20 to see refreshes),
# BENCH_LOAD_ROUNDS (processes per variant for the load cost, default 300),
# MAIL_OAUTH2 / MOA2_SASL_PLUGIN as for the integration tests, KEEP_WORK=1.
# Needs root, Postfix, sasl2-bin, node, and tests/bench/bench-sasl-load of
# the build dir of MAIL_OAUTH2 (make -C BUILD_DIR/tests/bench bench-sasl-load).
# Output: one line per round, then the median rate of each mode, their ratio
# (target XOAUTH2/PLAIN >= 0.97), the plugins' load cost per process for
# both, and token requests per 1,000 messages (target: one per token
# lifetime). Exit status 1 when the ratio misses the target or the PLAIN
# transport had our plugin loaded, 2 when a round failed.
set -u
here=$(cd "$(dirname "$0")/../integration" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/postfix.sh"

N=${BENCH_MESSAGES:-1000}
ROUNDS=${BENCH_ROUNDS:-5}
LOAD_ROUNDS=${BENCH_LOAD_ROUNDS:-300}
TTL=${BENCH_TTL:-600}
MARGIN=$((TTL > 240 ? 60 : TTL / 4))
PLUGIN=${MOA2_SASL_PLUGIN:-$(dirname "$MAIL_OAUTH2")/../sasl/.libs/libmail-oauth2.so}
SASL_LOAD=$(dirname "$MAIL_OAUTH2")/../../tests/bench/bench-sasl-load
MAIL_UID=65534
PLAIN_PASS=bench-plain-password-0123

[ "$(id -u)" = 0 ] || { echo "bench-relay: needs root"; exit 1; }
[ -f "$PLUGIN" ] || { echo "bench-relay: $PLUGIN not found: build first"; exit 1; }
[ -x "$SASL_LOAD" ] || { echo "bench-relay: $SASL_LOAD not found (make -C BUILD_DIR/tests/bench bench-sasl-load)"; exit 1; }
command -v saslpasswd2 >/dev/null || { echo "bench-relay: needs sasl2-bin"; exit 1; }

chmod 755 "$WORK"
test_ca >/dev/null
IDP_LOG=0 idp_start "$WORK/idp" >"$WORK/idp-start.log" 2>&1 || { cat "$WORK/idp-start.log"; exit 1; }
idp_ctl "latency?ms=300" >/dev/null
idp_ctl "ttl?seconds=$TTL" >/dev/null

RELAY_PORT=$(free_port)
PLAIN_PORT=$(free_port)
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

# relay_new NAME PORT MODE TRANSPORT PASSWORD_MAP_LINE MECH SASL_PATH
relay_new() {
	pf_new "$1" "$2"
	printf '%s\n' "$5" >"$WORK/$1/etc/sasl_passwd"
	printf '%s.test %s:[127.0.0.1]:%s\n' "$3" "$4" "$MX_PORT" >"$WORK/$1/etc/transport"
	pf_service "$1" "$4 unix - - y - - smtp -o smtp_sasl_password_maps=texthash:$WORK/$1/etc/sasl_passwd -o smtp_sasl_mechanism_filter=$6"
	pf_oauth2_relay "$1" "$WORK/client.conf" "$7"
	pf_conf "$1" \
		"transport_maps = texthash:$WORK/$1/etc/transport" \
		"default_destination_concurrency_limit = 20" "initial_destination_concurrency = 20" \
		"default_process_limit = 100" "queue_run_delay = 300s"
}
relay_new relay "$RELAY_PORT" oauth smtpoauth "[127.0.0.1]:$MX_PORT mail-relay:app" \
	xoauth2 "$WORK/plugins:$PF_SYS_SASL"
relay_new relayplain "$PLAIN_PORT" plain smtpplain "[127.0.0.1]:$MX_PORT benchuser:$PLAIN_PASS" \
	plain "$PF_SYS_SASL"

pf_start mx || exit 1
pf_start relay || exit 1
pf_start relayplain || exit 1

delivered() {
	find "$WORK/mail/box/new" -type f 2>/dev/null | wc -l
}
token_requests() {
	idp_ctl stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["token_requests"])'
}

# the newest delivery, in ms since the epoch (Maildir file mtime)
last_delivery_ms() {
	find "$WORK/mail/box/new" -type f -printf '%T@\n' | sort -n | tail -n 1 |
		awk '{ printf "%.0f\n", $1 * 1000 }'
}

# round MODE: prints the milliseconds from the flush of N released messages
# to the last delivery
round() {
	_relay=relay
	_port=$RELAY_PORT
	[ "$1" = plain ] && _relay=relayplain _port=$PLAIN_PORT
	_before=$(delivered)
	pf_submit "$_port" "bench@$1.test" "$N" "X-Hold: yes" || return 1
	wait_for 120 sh -c "[ \$(find '$WORK/$_relay/queue/hold' -type f | wc -l) -ge $N ]" || return 1
	postsuper -c "$WORK/$_relay/etc" -H ALL >/dev/null 2>&1
	_start=$(now_ms)
	pf_flush "$_relay"
	wait_for 600 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge $((_before + N)) ]" ||
		{ echo "round $1: not all delivered" >&2; return 1; }
	echo $(($(last_delivery_ms) - _start))
}

# the smtp processes of relay NAME (chrooted there): "COUNT WITH_OUR_PLUGIN"
smtp_mapped() {
	_n=0
	_m=0
	for _pid in $(pgrep -x smtp 2>/dev/null); do
		[ "$(readlink "/proc/$_pid/root")" = "$WORK/$1/queue" ] || continue
		_n=$((_n + 1))
		grep -q libmail-oauth2.so "/proc/$_pid/maps" 2>/dev/null && _m=$((_m + 1))
	done
	echo "$_n $_m"
}

# one message each way first: processes, TLS, JWKS and token warm for both;
# the token is fetched here, counted with the rest
idp_ctl "stats?reset=1" >/dev/null
bench_start=$(date +%s)
pf_submit "$PLAIN_PORT" warm@plain.test 1
pf_submit "$RELAY_PORT" warm@oauth.test 1
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f | wc -l) -ge 2 ]" ||
	{ echo "bench-relay: warm-up mail not delivered"; tail -n 10 "$(pf_log relay)" "$(pf_log relayplain)"; exit 1; }

rates=$WORK/rates
: >"$rates"
for r in $(seq 1 "$ROUNDS"); do
	for mode in plain oauth; do
		ms=$(round $mode) || exit 2
		rate=$(python3 -c "print(round($N * 1000 / $ms, 1))")
		echo "$mode $rate" >>"$rates"
		label=PLAIN:
		[ $mode = oauth ] && label=XOAUTH2:
		printf 'round %s %-8s %s messages in %s ms (%s msg/s), load %s\n' "$r" "$label" \
			"$N" "$ms" "$rate" "$(cut -d' ' -f1 /proc/loadavg)"
	done
done
# shellcheck disable=SC2046
set -- $(smtp_mapped relayplain) $(smtp_mapped relay)
plain_procs=$1 plain_mapped=$2 oauth_procs=$3 oauth_mapped=$4
connections=$(grep -c 'postfix-mx/smtpd.*: connect from' "$(pf_log mx)")
requests=$(token_requests)
total=$((ROUNDS * N + 1))
elapsed_s=$(($(date +%s) - bench_start))
pf_stop_all

# the load cost per process: each relay's SASL_PATH, our client config; and
# the same config without ca_file (the plugin reads the system CA bundle)
grep -v '^ca_file' "$WORK/client.conf" >"$WORK/client-system-ca.conf"
MAIL_OAUTH2_CONF=$WORK/client.conf "$SASL_LOAD" -n "$LOAD_ROUNDS" \
	"PLAIN=$PF_SYS_SASL" "XOAUTH2=$WORK/plugins:$PF_SYS_SASL" \
	"SYSTEMCA,$WORK/client-system-ca.conf=$WORK/plugins:$PF_SYS_SASL" >"$WORK/load" ||
	{ echo "bench-relay: bench-sasl-load failed"; exit 2; }

echo
echo "bench-relay: $N messages per round, $ROUNDS rounds per mode, alternating; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$rates" "$WORK/load" <<'EOF'
import statistics, sys
rates = {"plain": [], "oauth": []}
for line in open(sys.argv[1]):
    mode, rate = line.split()
    rates[mode].append(float(rate))
p, o = statistics.median(rates["plain"]), statistics.median(rates["oauth"])
ratio = o / p
print("  PLAIN   %7.1f msg/s (median of %d rounds)" % (p, len(rates["plain"])))
print("  XOAUTH2 %7.1f msg/s (median of %d rounds)" % (o, len(rates["oauth"])))
print("  ratio XOAUTH2/PLAIN %.3f (target >= 0.97): %s" % (ratio, "PASS" if ratio >= 0.97 else "FAIL"))
load = {}
for line in open(sys.argv[2]):
    f = line.split()
    load[f[1]] = {k: int(v) for k, v in (kv.split("=") for kv in f[2:])}
lp, lo, ls = load["PLAIN"], load["XOAUTH2"], load["SYSTEMCA"]
print("  SASL plugin load per smtp process, median of %d fresh processes each, interleaved:" % lp["rounds"])
for name, what, l in (("PLAIN", "(distribution plugins)", lp),
                      ("XOAUTH2", "(the same + libmail-oauth2.so)", lo)):
    print("    %-7s %-30s sasl_client_init %5.2f ms, whole process %5.2f ms"
          % (name, what, l["init_us"] / 1000, l["process_us"] / 1000))
print("    libmail-oauth2.so adds %.2f ms to sasl_client_init, %.2f ms to the process"
      % ((lo["init_us"] - lp["init_us"]) / 1000, (lo["process_us"] - lp["process_us"]) / 1000))
print("    (without ca_file, reading the system CA bundle: +%.2f ms, +%.2f ms)"
      % ((ls["init_us"] - lp["init_us"]) / 1000, (ls["process_us"] - lp["process_us"]) / 1000))
sys.exit(0 if ratio >= 0.97 else 1)
EOF
verdict=$?
echo "  smtp processes at the end: PLAIN relay $plain_procs ($plain_mapped with our plugin loaded), XOAUTH2 relay $oauth_procs ($oauth_mapped with it)"
echo "  connections (= TLS handshakes and AUTHs) at the mx: $connections for $((2 * ROUNDS * N + 2)) messages"
python3 -c "
import math
req, total, ttl, el, margin = $requests, $total, $TTL, $elapsed_s, $MARGIN
print('  token-endpoint requests: %d for %d XOAUTH2 messages = %.2f per 1,000 messages' % (req, total, req * 1000 / total))
print('  relaying took %d s; tokens live %d s, refreshed %d s early: %d token lifetime(s) started, %d expected'
      % (el, ttl, margin, req, math.ceil(el / (ttl - margin))))"
if [ "$plain_procs" = 0 ] || [ "$plain_mapped" != 0 ] || [ "$oauth_mapped" != "$oauth_procs" ]; then
	echo "bench-relay: the PLAIN transport must run without our plugin, XOAUTH2 with it: the comparison is void"
	exit 1
fi
exit $verdict
