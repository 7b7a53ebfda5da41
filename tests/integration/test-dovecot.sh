#!/bin/sh
# SPDX-License-Identifier: MIT
# Integration test of the Dovecot auth plugin (plugin/dovecot, issue 4) with
# real programs on loopback, everything under a temp dir, stopped by PID:
#  - the test OpenID Connect provider (npm oidc-provider, lib/idp.sh)
#    issuing RS256 JWT access tokens;
#  - Dovecot 2.3 (`dovecot -c`) with imap, pop3, submission, lmtp and an
#    auth socket, the passdb "bearer" of the shipped
#    conf.d/dovecot/10-mail-oauth2.conf and our XOAUTH2/OAUTHBEARER;
#  - Postfix smtpd (`postfix -c`) with smtpd_sasl_type = dovecot,
#    delivering into Dovecot over LMTP.
# Clients nobody here wrote: Python imaplib and smtplib (lib/mail-login.py
# drives them), curl (imap://, pop3://, smtp:// with --oauth2-bearer),
# swaks (AUTH PLAIN with the token as password), doveadm auth test.
#
# The plugin is loaded from the build dir; the Dovecot and Postfix
# instances (config, module mounting, start, stop) are those of
# lib/dovecot.sh, shared with tests/bench/bench-dovecot and tests/demo.
#
# Dovecot's anvil auth penalty delays logins from an IP after a failure,
# so every failing case uses its own source address (127.0.0.N).
#
# Env: DOVECOT_MODULE (default build/ci/plugin/dovecot/.libs/libauthdb_bearer.so),
# MOA2_TEST_MAIL_UID (uid/gid owning the test mailboxes, default 64999, no
# passwd entry needed), DOVECOT_EXTRA_CONF (lines added to dovecot.conf),
# KEEP_WORK=1 (keep the temp dir), DOVECOT_CHROOT (the Dovecot of a Debian
# chroot, lib/dovecot.sh; the plugin must be built against it). A module
# built with clang
# -fsanitize=address,undefined runs with
#   DOVECOT_EXTRA_CONF='default_vsz_limit = 0
#   import_environment = $import_environment LD_PRELOAD=<libclang_rt.asan-x86_64.so>
#     ASAN_OPTIONS=detect_leaks=0:log_path=<dir>/asan'
# (detect_leaks=1 hangs Dovecot's exiting processes in LSan's tracer).
# Needs root (Dovecot and Postfix start as root) and the Debian packages of
# tests/lib-deps.sh MOA2_INTEGRATION_DEPS.
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
BOB=bob@example.test

OUT=$WORK/out
DV=$WORK/dovecot
PF=$WORK/postfix
mkdir -p "$OUT" "$WORK/cache"
# Dovecot's mail and login processes and Postfix's smtpd (not root) must
# reach their files under $WORK; the token list stays private
chmod 711 "$WORK"
chmod 600 "$WORK/.tokens"

# ---------------------------------------------------------------- checks

missing=
# (with DOVECOT_CHROOT, dovecot and doveadm are the chroot's: dovecot_setup
# checks them)
dovecot_cmds="dovecot doveadm"
[ -n "${DOVECOT_CHROOT:-}" ] && dovecot_cmds=
for cmd in $dovecot_cmds postfix postconf curl swaks python3 node openssl; do
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
if [ -n "$missing" ]; then
	not_ok "the programs the test needs are installed" "missing:$missing (tests/lib-deps.sh MOA2_INTEGRATION_DEPS)"
	summary dovecot
fi
if [ "$(id -u)" != 0 ]; then
	not_ok "running as root (Dovecot and Postfix start as root)"
	summary dovecot
fi
if [ ! -f "$DOVECOT_MODULE" ]; then
	not_ok "the plugin is built" "no $DOVECOT_MODULE (build with --with-dovecot, or set DOVECOT_MODULE)"
	summary dovecot
fi
test_ca || { not_ok "test CA (make-ca.sh)"; summary dovecot; }

# ---------------------------------------------------------------- helpers

_run=0
# login PROTO PORT TOKEN [ARG...]: mail-login.py with TOKEN on stdin; sets
# rc, res (its output file), challenge (the last challenge line, JSON)
login() {
	_run=$((_run + 1))
	res=$OUT/login-$_run.out
	_l_proto=$1
	_l_port=$2
	remember_token "$3"
	printf '%s\n' "$3" >"$OUT/login.in"
	shift 3
	$LOGIN "$_l_proto" 127.0.0.1 "$_l_port" "$@" <"$OUT/login.in" >"$res" 2>&1
	rc=$?
	rm -f "$OUT/login.in"
	challenge=$(sed -n 's/^challenge: //p' "$res" | tail -n 1)
}

# result_is WANT_RC WANT_RESULT_PREFIX: the last login's exit and result line
result_is() {
	[ "$rc" = "$1" ] && grep -q "^result: $2" "$res"
}

# expect_login DESC WANT_RC WANT_RESULT PROTO PORT TOKEN [ARG...]
expect_login() {
	_el_desc=$1
	_el_rc=$2
	_el_result=$3
	shift 3
	login "$@"
	if result_is "$_el_rc" "$_el_result"; then
		ok "$_el_desc"
	else
		not_ok "$_el_desc" "want exit $_el_rc, result: $_el_result
$(cat "$res")"
	fi
}

# challenge_is DESC STATUS: the last challenge carries STATUS and the
# provider's scope and discovery URL
challenge_is() {
	if python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d.get("status") == sys.argv[2], "status %r" % d.get("status")
assert d.get("scope") == "imap", "scope %r" % d.get("scope")
assert d.get("openid-configuration") == sys.argv[3], "openid-configuration %r" % d.get("openid-configuration")
' "$challenge" "$2" "$IDP_DISCOVERY_URL" >"$OUT/challenge.err" 2>&1; then
		ok "$1"
	else
		not_ok "$1" "challenge: $challenge
$(cat "$OUT/challenge.err")"
	fi
}

dovecot_log() {
	cat "$DV/dovecot.log"
}

# The log prefixes differ between Dovecot 2.3 and 2.4 (EREs):
#   2.3  auth: Info: bearer(USER,SRC,<session>): TEXT
#        auth-worker(PID): Info: bearer(USER,SRC,<session>): TEXT
#        auth: Info: xoauth2(USER,SRC,<session>): TEXT
#   2.4  auth(USER,SRC,sasl:xoauth2)<session>: Info: bearer: TEXT
#        auth-worker(USER,SRC)<PID><session>: request [N]: Info: bearer: TEXT
#        auth(USER,SRC,sasl:xoauth2)<session>: Info: xoauth2: TEXT
#        (2.4.2+: ... Info: sasl(xoauth2): TEXT)
# req_re PROCESS LEVEL USER SRC: up to TEXT of a passdb line (PROCESS: auth
# or auth-worker); mech_re LEVEL MECH USER SRC: of a mechanism's line
req_re() {
	if [ "$DOVECOT_API" = 2.4 ]; then
		printf '%s\\(%s,%s[,)][^ ]*:( request \\[[0-9]+\\]:)? %s: bearer: ' "$1" "$3" "$4" "$2"
	else
		_rr_proc=$1
		[ "$_rr_proc" = auth-worker ] && _rr_proc='auth-worker\([0-9]+\)'
		printf '%s: %s: .*bearer\\(%s,%s[,)]' "$_rr_proc" "$2" "$3" "$4"
	fi
}
mech_re() {
	if [ "$DOVECOT_API" = 2.4 ]; then
		# 2.4.2+ (lib-sasl): sasl(xoauth2): instead of xoauth2:
		printf 'auth\\(%s,%s,sasl:%s\\)[^ ]*: %s: (%s|sasl\\(%s\\)): ' "$3" "$4" "$2" "$1" "$2" "$2"
	else
		printf '%s: %s\\(%s,%s,' "$1" "$2" "$3" "$4"
	fi
}
# login_re SRC: the login process's line of a successful login from SRC
login_re() {
	if [ "$DOVECOT_API" = 2.4 ]; then
		printf 'imap-login: Info: Logged in: user=<alice@example\\.test>, method=OAUTHBEARER, rip=%s,' "$1"
	else
		printf 'imap-login: Info: Login: user=<alice@example\\.test>, method=OAUTHBEARER, rip=%s,' "$1"
	fi
}

# log_has DESC PATTERN...: every grep -E PATTERN matches one same line of
# the Dovecot log (waits up to 3 s: workers log asynchronously)
log_has() {
	_lh_desc=$1
	shift
	_lh_i=0
	while :; do
		_lh_lines=$(dovecot_log)
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

# curl_mail DESC URL TOKEN [ARG...]: curl with --oauth2-bearer, must succeed
curl_mail() {
	_cm_desc=$1
	_cm_url=$2
	remember_token "$3"
	_cm_token=$3
	shift 3
	_run=$((_run + 1))
	if curl -sS --max-time 30 --oauth2-bearer "$_cm_token" "$@" "$_cm_url" \
		>"$OUT/curl-$_run.out" 2>&1; then
		ok "$_cm_desc"
	else
		not_ok "$_cm_desc" "curl exit $?: $(cat "$OUT/curl-$_run.out")"
	fi
}

# ---------------------------------------------------------------- provider

export IDP_ACCESS_TOKEN_TTL=600
if idp_start "$WORK/idp"; then
	ok "identity provider up: $IDP_URL (pid $IDP_PID)"
else
	not_ok "identity provider starts"
	summary dovecot
fi

# minted now, used after the other cases: expired by then
token_expired=$(idp_token alice https://mail.test 1)
token_alice=$(idp_token alice https://mail.test)
token_bob=$(idp_token bob https://mail.test)
token_other_aud=$(idp_token alice https://mail-es.test)
for t in "$token_expired" "$token_alice" "$token_bob" "$token_other_aud"; do
	remember_token "$t"
done
if printf '%s' "$token_alice" | grep -q '^eyJ.*\..*\.'; then
	ok "tokens obtained from the provider (JWT access tokens)"
else
	not_ok "tokens obtained from the provider" "$token_alice"
	summary dovecot
fi

# ---------------------------------------------------------------- configs

dovecot_ports

cat >"$WORK/verify.conf" <<EOF
cache_dir = $WORK/cache
ca_file = $TEST_CA
[provider testidp]
issuer = $IDP_URL
audience = https://mail.test
username_claims = email
required_scopes = imap
claims_export = preferred_username
leeway = 0
# an unknown kid may refetch the keys at once (the outage case below)
jwks_refetch_interval = 1s
EOF

# dovecot_conf PASSDB_OPTIONS: writes dovecot.conf with the shipped snippet,
# only the verify.conf path changed and PASSDB_OPTIONS added to its args
dovecot_conf() {
	dovecot_bearer_conf "$WORK/verify.conf" "$1"
	dovecot_write_conf "auth_mechanisms = plain
auth_failure_delay = 0
# on, to show that it never holds a result of passdb bearer
auth_cache_size = 1M
auth_cache_ttl = 1 hour
auth_verbose = yes
auth_debug = yes

!include 10-mail-oauth2-active.conf"
}

# verification in the auth process (blocking=threads, the default, and
# blocking=no) runs as user dovecot
dovecot_chown dovecot "$WORK/cache"

# ---------------------------------------------------------------- Dovecot

# Dovecot 2.4: the settings module built next to the auth module
DOVECOT_SETTINGS_MODULE=${DOVECOT_SETTINGS_MODULE:-$(dirname "$DOVECOT_MODULE")/libmail_oauth2_settings.so}
[ -f "$DOVECOT_SETTINGS_MODULE" ] || DOVECOT_SETTINGS_MODULE=
if ! dovecot_setup "$DV" "$DOVECOT_MODULE" $DOVECOT_SETTINGS_MODULE; then
	not_ok "the module can be loaded from the build dir" "$DOVECOT_SETUP_ERROR"
	summary dovecot
fi

# Dovecot 2.4's built-in oauth2 (the builtin_mechanisms=yes case) validates
# locally with the provider's public key as PEM, under the key of its dict:
# <azp or default>/RS256/<kid>
if [ "$DOVECOT_API" = 2.4 ]; then
	kid_alice=$(idp_jwt_header "$token_alice" | idp_json kid)
	azp_alice=$(idp_jwt_payload "$token_alice" | idp_json azp 2>/dev/null)
	mkdir -p "$WORK/oauth2-keys/default/RS256"
	[ -n "$azp_alice" ] && mkdir -p "$WORK/oauth2-keys/$azp_alice/RS256"
	if curl -sS --cacert "$TEST_CA" "$IDP_JWKS_URL" >"$OUT/jwks.json" &&
		python3 -c '
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
def b64(v): return int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")
k = [k for k in json.load(open(sys.argv[1]))["keys"] if k["kid"] == sys.argv[2]][0]
pem = rsa.RSAPublicNumbers(b64(k["e"]), b64(k["n"])).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
for d in sys.argv[3:]: open(d + "/" + sys.argv[2], "wb").write(pem)
' "$OUT/jwks.json" "$kid_alice" "$WORK/oauth2-keys/default/RS256" \
			${azp_alice:+"$WORK/oauth2-keys/$azp_alice/RS256"}; then
		chmod -R a+rX "$WORK/oauth2-keys"
	else
		not_ok "the provider's key as PEM (for Dovecot 2.4's built-in oauth2)"
	fi
fi

dovecot_conf ""
if dovecot_cmd doveconf -c "$DV/dovecot.conf" -n >"$OUT/doveconf.out" 2>&1 &&
	grep -q 'auth_mechanisms = plain xoauth2 oauthbearer' "$OUT/doveconf.out" &&
	grep -q -E '^(  driver = bearer|passdb bearer \{)' "$OUT/doveconf.out"; then
	ok "conf.d/dovecot/10-mail-oauth2.conf: doveconf accepts it (auth_mechanisms extended, passdb bearer)"
else
	not_ok "conf.d/dovecot/10-mail-oauth2.conf is a valid Dovecot config" "$(cat "$OUT/doveconf.out")"
fi

# 2.4: the settings module makes doveconf check our keys (a bad value is
# refused with the key's name), and its default oauth2_introspection_mode =
# local is why xoauth2 in auth_mechanisms needs no oauth2 { } block
if [ "$DOVECOT_API" = 2.4 ]; then
	sed 's/^  threads = 0$/  threads = 65/' "$DV/10-mail-oauth2-active.conf" >"$DV/bad-threads.conf"
	sed "s|10-mail-oauth2-active.conf|bad-threads.conf|" "$DV/dovecot.conf" >"$DV/bad.conf"
	if dovecot_cmd doveconf -c "$DV/bad.conf" -n >"$OUT/doveconf-bad.out" 2>&1; then
		not_ok "doveconf refuses threads = 65" "$(tail -n 3 "$OUT/doveconf-bad.out")"
	else
		check "doveconf refuses threads = 65, naming the key" \
			grep -q 'passdb_bearer_threads = 65: at most 64' "$OUT/doveconf-bad.out"
	fi
	check_eq "the settings module's default: oauth2_introspection_mode = local" \
		"$(dovecot_cmd doveconf -c "$DV/dovecot.conf" -h oauth2/introspection_mode 2>&1)" local
	rm -f "$DV/bad.conf" "$DV/bad-threads.conf"
	# the control: Dovecot 2.4 with xoauth2 in auth_mechanisms, no oauth2 { }
	# and no passdb of ours (passdb static): without the settings module its
	# auth process dies; with it, it authenticates
	mkdir -p "$WORK/ctl/run"
	cat >"$WORK/ctl/dovecot.conf" <<EOF
dovecot_config_version = $DOVECOT_VERSION
dovecot_storage_version = $DOVECOT_VERSION
base_dir = $WORK/ctl/run
log_path = $WORK/ctl/dovecot.log
listen = 127.0.0.1
protocols =
auth_mechanisms = plain xoauth2
passdb static {
  password = secret
}
userdb static {
  allow_all_users = yes
}
EOF
	# ctl_auth [SETTINGS_MODULE_DIR]: starts it, one auth test, stops it
	ctl_auth() {
		rm -f "$WORK/ctl/dovecot.log" "$WORK/ctl/run/master.pid"
		(
			DOVECOT_SETTINGS_MODULE_DIR=${1:-}
			dovecot_cmd sh -c 'dovecot -c "$1" && sleep 1 &&
				doveadm -c "$1" auth test ctl-user secret' sh "$WORK/ctl/dovecot.conf"
		) >"$OUT/ctl.out" 2>&1
		_ctl_rc=$?
		[ -s "$WORK/ctl/run/master.pid" ] && kill "$(cat "$WORK/ctl/run/master.pid")" 2>/dev/null
		sleep 0.5
		return $_ctl_rc
	}
	if ctl_auth; then
		not_ok "control: without the settings module, xoauth2 without oauth2 { } kills Dovecot 2.4's auth process" \
			"the auth test succeeded: $(cat "$OUT/ctl.out")"
	else
		check "control: without the settings module, xoauth2 without oauth2 { } kills Dovecot 2.4's auth process" \
			grep -q 'Fatal: Cannot initialize oauth2: Missing oauth2_introspection_mode' "$WORK/ctl/dovecot.log"
	fi
	if ctl_auth "$DOVECOT_SETTINGS_MODULE_DIR"; then
		ok "with the settings module, the same config starts and authenticates (no oauth2 { } needed)"
	else
		not_ok "with the settings module, xoauth2 without oauth2 { } works" \
			"$(cat "$OUT/ctl.out"; grep -E 'Fatal|Error' "$WORK/ctl/dovecot.log")"
	fi

	# the README's path on Debian 13: the distribution's own /etc/dovecot
	# (of the chroot) with the snippet copied into conf.d/
	if [ -n "${DOVECOT_CHROOT:-}" ] && [ -f "$DOVECOT_CHROOT/etc/dovecot/dovecot.conf" ]; then
		cp -a "$DOVECOT_CHROOT/etc/dovecot" "$WORK/etc-dovecot"
		sed "s|^  config_file = .*|  config_file = $WORK/verify.conf|" \
			"$TOP/conf.d/dovecot/2.4/10-mail-oauth2.conf" >"$WORK/etc-dovecot/conf.d/10-mail-oauth2.conf"
		if dovecot_cmd doveconf -c "$WORK/etc-dovecot/dovecot.conf" -n >"$OUT/doveconf-debian.out" 2>&1 &&
			grep -q '^passdb bearer {' "$OUT/doveconf-debian.out" &&
			grep -q '^  xoauth2 = yes' "$OUT/doveconf-debian.out"; then
			ok "Debian's own dovecot.conf with the snippet in conf.d/: doveconf accepts it (xoauth2, oauthbearer, passdb bearer)"
		else
			not_ok "Debian's own dovecot.conf with the snippet in conf.d/" "$(grep -v '^#' "$OUT/doveconf-debian.out" | head -n 20)"
		fi
	fi
fi

# every passdb option the driver parses is documented in the snippet (2.3:
# the args of dovecot-api-23.c; 2.4: the passdb_bearer_* settings of
# dovecot-settings-24.c, each a "  KEY = " line of the 2.4 snippet)
if [ "$DOVECOT_API" = 2.4 ]; then
	opts=$(sed -n 's/.*DEF([A-Z_]*, passdb_bearer_\([a-z_0-9]*\)),.*/\1/p' "$TOP/plugin/dovecot/dovecot-settings-24.c")
	snippet=$TOP/conf.d/dovecot/2.4/10-mail-oauth2.conf
	doc_24=yes
else
	opts=$(sed -n 's/.*strcmp(key, "\([a-z_0-9]*\)") == 0.*/\1/p' "$TOP/plugin/dovecot/dovecot-api-23.c")
	snippet=$TOP/conf.d/dovecot/10-mail-oauth2.conf
	doc_24=
fi
undocumented=
for o in $opts; do
	if [ -n "$doc_24" ]; then
		grep -q "^  $o = " "$snippet" || undocumented="$undocumented $o"
	else
		grep -q "^  #.*\b$o=" "$snippet" || undocumented="$undocumented $o"
	fi
done
if [ -n "$opts" ] && [ -z "$undocumented" ]; then
	ok "every passdb option ($(echo $opts)) is documented in $(basename "$(dirname "$snippet")")/10-mail-oauth2.conf"
else
	not_ok "passdb options documented in $snippet" "found: $opts; undocumented:$undocumented"
fi

if dovecot_start; then
	ok "Dovecot up (pid $DOVECOT_PID, module $DOVECOT_MODULE_MODE from the build dir)"
else
	not_ok "Dovecot starts"
	summary dovecot
fi

# ---------------------------------------------------------------- Postfix

dovecot_postfix_conf "$PF"
if dovecot_postfix_start; then
	ok "Postfix up (pid $POSTFIX_PID, smtpd_sasl_type = dovecot)"
else
	not_ok "Postfix starts" "$(cat "$PF/start.out" "$PF/maillog" 2>/dev/null | tail -n 20)"
fi

# ---------------------------------------------------------------- logins

expect_login "imaplib XOAUTH2 (user=alice): logged in" 0 OK \
	imap "$P_IMAP" "$token_alice" --user "$ALICE"
token_short=$(idp_token alice https://mail.test 6)
expect_login "a token valid for 6 s: logged in (auth_cache_size is set)" 0 OK \
	imap "$P_IMAP" "$token_short" --user "$ALICE"
log_has "log: accepted at debug level with identity, provider and token fingerprint" \
	"$(req_re auth Debug 'alice@example\.test' '127\.0\.0\.1').*accepted user=alice@example\.test provider=testidp token=sha256:[0-9a-f]{8} "
log_has "XOAUTH2 is mail-oauth2's mechanism (the built-in was replaced)" \
	'XOAUTH2: using the mail-oauth2 mechanism'
log_has "the default mode verifies in threads of the auth process (blocking=threads)" \
	'auth: Debug: bearer: verifying tokens in [0-9]+ threads of the auth process'
log_has "... and the login above was verified there, not in an auth-worker" \
	"$(req_re auth Debug 'alice@example\.test' '127\.0\.0\.1').*accepted user=alice@example\.test"
log_has "the claim of claims_export reaches the login process as an extra field" \
	'client passdb out: OK.*user=alice@example\.test.*preferred_username=alice'

expect_login "imaplib OAUTHBEARER with authzid a=alice: logged in" 0 OK \
	imap "$P_IMAP" "$token_alice" --mech OAUTHBEARER --authzid "$ALICE"
next_src
expect_login "imaplib OAUTHBEARER without authzid (RFC 7628: optional): logged in" 0 OK \
	imap "$P_IMAP" "$token_alice" --mech OAUTHBEARER --src "$SRC"
log_has "OAUTHBEARER without authzid: the user is the token's identity" \
	"$(login_re "$SRC")"
expect_login "imaplib PLAIN with the token as password: logged in" 0 OK \
	imap "$P_IMAP" "$token_alice" --mech PLAIN --user "$ALICE"
expect_login "bob's own token (user=bob): logged in as bob" 0 OK \
	imap "$P_IMAP" "$token_bob" --user "$BOB"

remember_token "$token_alice"
if dovecot_cmd doveadm -c "$DV/dovecot.conf" auth test -x service=imap "$ALICE" "$token_alice" \
	>"$OUT/doveadm.out" 2>&1 && grep -q "passdb: $ALICE auth succeeded" "$OUT/doveadm.out"; then
	ok "doveadm auth test (PLAIN at the auth socket) with the token: succeeded"
else
	not_ok "doveadm auth test with the token" "$(cat "$OUT/doveadm.out")"
fi

curl_mail "curl imap:// --oauth2-bearer, AUTH=XOAUTH2: mailbox list" \
	"imap://127.0.0.1:$P_IMAP/" "$token_alice" --user "$ALICE" --login-options AUTH=XOAUTH2
curl_mail "curl imap:// --oauth2-bearer, AUTH=OAUTHBEARER: mailbox list" \
	"imap://127.0.0.1:$P_IMAP/" "$token_alice" --user "$ALICE" --login-options AUTH=OAUTHBEARER
curl_mail "curl pop3:// --oauth2-bearer, AUTH=XOAUTH2: message list" \
	"pop3://127.0.0.1:$P_POP3/" "$token_alice" --user "$ALICE" --login-options AUTH=XOAUTH2

# ---------------------------------------------------------------- SMTP

if [ -n "$POSTFIX_PID" ]; then
	expect_login "Postfix smtpd AUTH XOAUTH2 (smtplib, through Dovecot SASL): 235" 0 OK \
		smtp "$P_SMTPD" "$token_alice" --user "$ALICE"
	expect_login "Postfix smtpd AUTH OAUTHBEARER without authzid (smtplib): 235" 0 OK \
		smtp "$P_SMTPD" "$token_alice" --mech OAUTHBEARER

	subject_swaks="moa2 swaks $$ $(date +%s)"
	remember_token "$token_alice"
	if swaks --server 127.0.0.1 --port "$P_SMTPD" --ehlo client.example.test \
		--auth PLAIN --auth-user "$ALICE" --auth-password "$token_alice" \
		--from "$ALICE" --to "$ALICE" --header "Subject: $subject_swaks" \
		--body "sent by swaks through Postfix" >"$OUT/swaks.out" 2>&1; then
		ok "swaks AUTH PLAIN (token as password) at Postfix: message accepted"
	else
		not_ok "swaks AUTH PLAIN at Postfix: message accepted" "$(tail -n 15 "$OUT/swaks.out")"
	fi
	expect_login "the message went Postfix -> LMTP -> Dovecot and reads back over IMAP" 0 OK \
		imap "$P_IMAP" "$token_alice" --user "$ALICE" --wait-subject "$subject_swaks"

	subject_curl="moa2 curl-smtp $$ $(date +%s)"
	printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nsent by curl with OAUTHBEARER\r\n' \
		"$ALICE" "$ALICE" "$subject_curl" >"$OUT/mail-curl.txt"
	curl_mail "curl smtp:// --oauth2-bearer AUTH=OAUTHBEARER at Postfix: message sent" \
		"smtp://127.0.0.1:$P_SMTPD/client.example.test" "$token_alice" --user "$ALICE" \
		--login-options AUTH=OAUTHBEARER --mail-from "$ALICE" --mail-rcpt "$ALICE" \
		--upload-file "$OUT/mail-curl.txt"
	expect_login "... and that message reads back over IMAP" 0 OK \
		imap "$P_IMAP" "$token_alice" --user "$ALICE" --wait-subject "$subject_curl"

	subject_subm="moa2 submission $$ $(date +%s)"
	printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nsent through Dovecot submission\r\n' \
		"$ALICE" "$ALICE" "$subject_subm" >"$OUT/mail-subm.txt"
	curl_mail "curl smtp:// XOAUTH2 at Dovecot submission (relayed by Postfix): message sent" \
		"smtp://127.0.0.1:$P_SUBM/client.example.test" "$token_alice" --user "$ALICE" \
		--login-options AUTH=XOAUTH2 --mail-from "$ALICE" --mail-rcpt "$ALICE" \
		--upload-file "$OUT/mail-subm.txt"
	expect_login "... and that message reads back over IMAP" 0 OK \
		imap "$P_IMAP" "$token_alice" --user "$ALICE" --wait-subject "$subject_subm"
fi

# ---------------------------------------------------------------- refusals

# refused DESC REASON ARG...: a login from a fresh source address fails
# with the XOAUTH2 challenge and the Dovecot log names REASON for it
refused() {
	_rf_desc=$1
	_rf_reason=$2
	shift 2
	next_src
	expect_login "$_rf_desc: NO [AUTHENTICATIONFAILED]" 1 'NO \[AUTHENTICATIONFAILED\]' \
		"$@" --src "$SRC"
	challenge_is "$_rf_desc: challenge status 401 with scope and openid-configuration" 401
	log_has "$_rf_desc: log says rejected reason=$_rf_reason at info" \
		"$(req_re auth Info '[^,]*' "$SRC").*rejected reason=$_rf_reason token=sha256:[0-9a-f]{8}: "
}

refused "alice's token with user=bob" user_mismatch \
	imap "$P_IMAP" "$token_alice" --user "$BOB"
refused "a token for another audience" wrong_audience \
	imap "$P_IMAP" "$token_other_aud" --user "$ALICE"

kid=$(idp_jwt_header "$token_alice" | idp_json kid)
$JWT_TOOL keygen rsa "$WORK/forger.pem"
claims_alice="{\"iss\":\"$IDP_URL\",\"aud\":\"https://mail.test\",\"sub\":\"alice\",\"email\":\"$ALICE\",\"scope\":\"mail imap smtp\",\"iat\":\"-5\",\"exp\":\"+300\"}"
token_forged=$($JWT_TOOL sign "$WORK/forger.pem" RS256 "{\"kid\":\"$kid\",\"typ\":\"at+jwt\"}" "$claims_alice")
refused "a token signed by another key under the provider's kid" bad_signature \
	imap "$P_IMAP" "$token_forged" --user "$ALICE"
token_none=$($JWT_TOOL none "$claims_alice")
# alg none is refused while parsing, before the token is routed to a
# provider: the challenge names no provider's scope or discovery URL
next_src
expect_login "an alg:none token: NO [AUTHENTICATIONFAILED]" 1 'NO \[AUTHENTICATIONFAILED\]' \
	imap "$P_IMAP" "$token_none" --user "$ALICE" --src "$SRC"
check "an alg:none token: challenge status 401, no foreign scope or URL" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "401" and d.get("scope") in (None, "imap"), d
assert d.get("openid-configuration") in (None, sys.argv[2]), d' "$challenge" "$IDP_DISCOVERY_URL"
log_has "an alg:none token: log says rejected reason=alg_not_allowed at info" \
	"$(req_re auth Info '[^,]*' "$SRC").*rejected reason=alg_not_allowed token=sha256:[0-9a-f]{8}: "
refused "an expired token" expired \
	imap "$P_IMAP" "$token_expired" --user "$ALICE"
# wait_past_exp TOKEN: sleep until the token's exp has passed
wait_past_exp() {
	_wp_exp=$(idp_jwt_payload "$1" | idp_json exp)
	while [ "$(date +%s)" -le "$_wp_exp" ]; do
		sleep 0.5
	done
}
wait_past_exp "$token_short"
refused "the 6 s token again after its exp (Dovecot's auth cache did not keep the success)" expired \
	imap "$P_IMAP" "$token_short" --user "$ALICE"

next_src
expect_login "OAUTHBEARER with a=bob and alice's token: NO" 1 'NO \[AUTHENTICATIONFAILED\]' \
	imap "$P_IMAP" "$token_alice" --mech OAUTHBEARER --authzid "$BOB" --src "$SRC"
challenge_is "OAUTHBEARER failure: challenge status invalid_token with scope and openid-configuration" invalid_token
log_has "OAUTHBEARER with a=bob: log says rejected reason=user_mismatch" \
	"$(req_re auth Info '[^,]*' "$SRC").*rejected reason=user_mismatch"

next_src
expect_login "double base64 (the imaplib example's bug): NO" 1 'NO \[AUTHENTICATIONFAILED\]' \
	imap "$P_IMAP" "$token_alice" --user "$ALICE" --double-b64 --src "$SRC"
check_eq "double base64: no challenge (a malformed response is not a token failure)" "$challenge" ""
log_has "double base64: the log names it in plain words" \
	"$(mech_re Info xoauth2 '\?' "$SRC").*XOAUTH2 response refused: double_base64: the client base64-encoded its response twice"

next_src
expect_login "invalid base64: refused by Dovecot before any mechanism" 1 'NO ' \
	imap "$P_IMAP" "$token_alice" --raw '!!not*base64!!' --src "$SRC"
log_has "invalid base64: Dovecot logs it" "Invalid base64.*rip=$SRC,"

next_src
expect_login "base64 of garbage: NO" 1 'NO \[AUTHENTICATIONFAILED\]' \
	imap "$P_IMAP" "$token_alice" --raw "$(printf 'user=x auth=y' | base64)" --src "$SRC"
log_has "base64 of garbage: the codec error is logged by name" \
	"$(mech_re Info xoauth2 '\?' "$SRC").*XOAUTH2 response refused: no_terminator: "

if [ -n "$POSTFIX_PID" ]; then
	next_src
	expect_login "Postfix smtpd, expired token: 535" 1 'NO 535' \
		smtp "$P_SMTPD" "$token_expired" --user "$ALICE" --src "$SRC"
	challenge_is "Postfix smtpd: the client got the 334 JSON challenge" 401
	log_has "Postfix smtpd, expired token: log says rejected reason=expired" \
		"$(req_re auth Info '[^,]*' "$SRC").*rejected reason=expired"
fi

# ---------------------------------------------------------------- outage

token_warm=$(idp_token alice https://mail.test)
remember_token "$token_warm"
$JWT_TOOL keygen rsa "$WORK/newkey.pem"
token_new_kid=$($JWT_TOOL sign "$WORK/newkey.pem" RS256 '{"kid":"rs256-not-yet-published","typ":"at+jwt"}' "$claims_alice")
remember_token "$token_new_kid"
idp_stop
if curl -s --max-time 2 --cacert "$TEST_CA" -o /dev/null "$IDP_DISCOVERY_URL"; then
	not_ok "provider down" "it still answers"
else
	ok "provider down"
fi

expect_login "provider down, keys warm: XOAUTH2 login still works" 0 OK \
	imap "$P_IMAP" "$token_warm" --user "$ALICE"
next_src
expect_login "provider down, token with an unknown key: NO [UNAVAILABLE] (temporary failure)" \
	2 'TEMPFAIL .*\[UNAVAILABLE\]' imap "$P_IMAP" "$token_new_kid" --user "$ALICE" --src "$SRC"
log_has "provider down: the log says temporary failure reason=unavailable at error level" \
	"$(req_re auth Error '[^,]*' "$SRC").*temporary failure reason=unavailable token=sha256:[0-9a-f]{8}"
if [ -n "$POSTFIX_PID" ]; then
	# Postfix's Dovecot SASL client answers every FAIL with 535 (it ignores
	# Dovecot's code=temp_fail); the reason text is all it can pass on
	next_src
	expect_login "provider down, unknown key, SMTP at Postfix: 535 saying temporary failure" \
		1 'NO 535 .*Temporary authentication failure' smtp "$P_SMTPD" "$token_new_kid" --user "$ALICE" --src "$SRC"
	next_src
	expect_login "provider down, unknown key, SMTP at Dovecot submission: 454 temporary failure" \
		2 'TEMPFAIL 454' smtp "$P_SUBM" "$token_new_kid" --user "$ALICE" --src "$SRC"
fi

# ---------------------------------------------------------------- in-process

# blocking=no: the same in the auth process itself (user dovecot), with a
# key cache of its own (the workers' cache files belong to root)
mkdir -p "$WORK/cache-inproc"
dovecot_chown dovecot "$WORK/cache-inproc"
sed -i "s|^cache_dir = .*|cache_dir = $WORK/cache-inproc|" "$WORK/verify.conf"
dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"
if idp_restart; then
	ok "provider up again (same port and keys)"
else
	not_ok "provider restarts"
fi
dovecot_conf "blocking=no allow_double_base64=yes"
if dovecot_start; then
	ok "Dovecot restarted with blocking=no allow_double_base64=yes"
	expect_login "blocking=no: XOAUTH2 login" 0 OK \
		imap "$P_IMAP" "$token_warm" --user "$ALICE"
	next_src
	expect_login "allow_double_base64=yes: the doubly encoded response logs in" 0 OK \
		imap "$P_IMAP" "$token_warm" --user "$ALICE" --double-b64 --src "$SRC"
	log_has "allow_double_base64=yes: still named in the log" \
		"$(mech_re Info xoauth2 '[^,]*' "$SRC").*accepted a doubly base64-encoded response"
	log_has "blocking=no: accepted in the auth process itself, not in a worker" \
		"$(req_re auth Debug 'alice@example\.test' '127\.0\.0\.1').*accepted user=alice@example\.test"
	next_src
	expect_login "blocking=no, OAUTHBEARER with a=bob: NO" 1 'NO \[AUTHENTICATIONFAILED\]' \
		imap "$P_IMAP" "$token_warm" --mech OAUTHBEARER --authzid "$BOB" --src "$SRC"
	challenge_is "blocking=no: the challenge carries scope and openid-configuration too" invalid_token
	log_has "blocking=no: rejected in the auth process, reason=user_mismatch" \
		"$(req_re auth Info '[^,]*' "$SRC").*rejected reason=user_mismatch"
	idp_stop
	expect_login "blocking=no, provider down, keys warm: login works" 0 OK \
		imap "$P_IMAP" "$token_warm" --mech OAUTHBEARER
	next_src
	expect_login "blocking=no, provider down, unknown key: NO [UNAVAILABLE]" \
		2 'TEMPFAIL .*\[UNAVAILABLE\]' imap "$P_IMAP" "$token_new_kid" --user "$ALICE" --src "$SRC"
else
	not_ok "Dovecot restarts with blocking=no"
fi

# ---------------------------------------------------------------- modes

# mode_cases LABEL PASSDB_OPTIONS PROCESS: Dovecot restarted with
# PASSDB_OPTIONS, the provider up at the start and down at the end. PROCESS
# is the process that must verify (req_re): "auth" for blocking=no|threads,
# "auth-worker" for blocking=yes. In
# blocking=threads the verification threads only buffer their log lines;
# the auth process's main thread logs them on the request's event, which
# the checks of the engine's own error line prove.
mode_cases() {
	_mc_label=$1
	_mc_proc=$3
	_mc_where=$3
	dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"
	if idp_restart; then
		ok "$_mc_label: provider up again (same port and keys)"
	else
		not_ok "$_mc_label: provider restarts"
	fi
	dovecot_conf "$2"
	if ! dovecot_start; then
		not_ok "Dovecot restarts with $2"
		return
	fi
	ok "Dovecot restarted with $2"
	next_src
	expect_login "$_mc_label: XOAUTH2 login" 0 OK \
		imap "$P_IMAP" "$token_warm" --user "$ALICE" --src "$SRC"
	log_has "$_mc_label: accepted (debug) in the $_mc_where process" \
		"$(req_re "$_mc_proc" Debug 'alice@example\.test' "$SRC").*accepted user=alice@example\.test provider=testidp"
	next_src
	expect_login "$_mc_label, OAUTHBEARER with a=bob: NO" 1 'NO \[AUTHENTICATIONFAILED\]' \
		imap "$P_IMAP" "$token_warm" --mech OAUTHBEARER --authzid "$BOB" --src "$SRC"
	challenge_is "$_mc_label: the challenge carries status, scope and openid-configuration" invalid_token
	log_has "$_mc_label: rejected at info in the $_mc_where process, reason=user_mismatch" \
		"$(req_re "$_mc_proc" Info '[^,]*' "$SRC").*rejected reason=user_mismatch token=sha256:[0-9a-f]{8}: "
	idp_stop
	next_src
	expect_login "$_mc_label, provider down, keys warm: login works" 0 OK \
		imap "$P_IMAP" "$token_warm" --mech OAUTHBEARER --src "$SRC"
	next_src
	expect_login "$_mc_label, provider down, unknown key: NO [UNAVAILABLE]" \
		2 'TEMPFAIL .*\[UNAVAILABLE\]' imap "$P_IMAP" "$token_new_kid" --user "$ALICE" --src "$SRC"
	log_has "$_mc_label, provider down: temporary failure reason=unavailable at error in the $_mc_where process" \
		"$(req_re "$_mc_proc" Error '[^,]*' "$SRC").*temporary failure reason=unavailable token=sha256:[0-9a-f]{8}"
	log_has "$_mc_label, provider down: the engine's own error line, logged while verifying, is on that request" \
		"$(req_re "$_mc_proc" Error '[^,]*' "$SRC").*provider testidp: fetching the .* failed"
}

# the default mode (blocking=threads) ran the cases above; the explicit
# modes again, each proving where it verifies
mode_cases "blocking=threads threads=2" "blocking=threads threads=2" auth
mode_cases "threads=1" "threads=1" auth
mode_cases "blocking=yes" "blocking=yes" auth-worker
# 2.4: Dovecot's own use_worker = yes means the same (our worker call, so the
# challenge keeps scope and openid-configuration)
[ "$DOVECOT_API" = 2.4 ] && mode_cases "use_worker=yes" "use_worker=yes" auth-worker

# ---------------------------------------------------------------- built-ins

# builtin_mechanisms=yes keeps Dovecot's own XOAUTH2/OAUTHBEARER. 2.3's hand
# the token to the passdb as the password (the provider is still down: the
# workers read the keys the auth process saved in cache_dir). 2.4's validate
# it themselves with a global oauth2 { } (here: local validation with the
# provider's key as PEM, kept from the start) and never ask the passdb
dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"
builtin_extra=
if [ "$DOVECOT_API" = 2.4 ]; then
	builtin_extra="oauth2 {
  introspection_mode = local
  username_attribute = email
  issuers = $IDP_URL
  oauth2_local_validation {
    dict fs {
      fs posix {
        prefix = $WORK/oauth2-keys/
      }
    }
  }
}"
fi
DOVECOT_EXTRA_CONF="${DOVECOT_EXTRA_CONF:-}
$builtin_extra" dovecot_conf "builtin_mechanisms=yes"
if dovecot_start; then
	ok "Dovecot restarted with builtin_mechanisms=yes"
	next_src
	if [ "$DOVECOT_API" = 2.4 ]; then
		expect_login "built-in XOAUTH2 with its own oauth2 { }: login works" 0 OK \
			imap "$P_IMAP" "$token_warm" --user "$ALICE" --src "$SRC"
		log_has "built-in XOAUTH2: validated by Dovecot itself" \
			"auth\(alice@example\.test,$SRC,sasl:xoauth2\).*Attempting to locally validate token"
		if grep -E "$(req_re auth Debug 'alice@example\.test' "$SRC").*accepted" "$DV/dovecot.log" >/dev/null; then
			not_ok "built-in XOAUTH2: the bearer passdb never saw the token" \
				"$(grep -E "$(req_re auth Debug '[^,]*' "$SRC")" "$DV/dovecot.log")"
		else
			ok "built-in XOAUTH2: the bearer passdb never saw the token"
		fi
	else
		expect_login "built-in XOAUTH2 + passdb bearer: login works" 0 OK \
			imap "$P_IMAP" "$token_warm" --user "$ALICE" --src "$SRC"
		log_has "built-in XOAUTH2: verified by the bearer passdb" \
			"$(req_re auth Debug 'alice@example\.test' "$SRC").*accepted user=alice@example\.test"
	fi
	next_src
	expect_login "built-in OAUTHBEARER without authzid: refused (the built-in demands one)" \
		1 'NO ' imap "$P_IMAP" "$token_warm" --mech OAUTHBEARER --src "$SRC"
	log_has "built-in OAUTHBEARER: Dovecot's own message, so the built-in ran" \
		"$(mech_re Info oauthbearer '\?' "$SRC").*Missing username"
else
	not_ok "Dovecot restarts with builtin_mechanisms=yes"
fi

# ---------------------------------------------------------------- logs

dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"
dovecot_postfix_stop
check "the Dovecot log has no error except the provider outage" \
	sh -c '! grep -E "(Error|Fatal|Panic):" "$1" | grep -v "temporary failure reason=unavailable\|fetching the .* failed"' \
	sh "$DV/dovecot.log"
assert_no_tokens "$DV/dovecot.log" "$PF/maillog"

summary dovecot
