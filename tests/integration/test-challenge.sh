#!/bin/sh
# SPDX-License-Identifier: MIT
# One verdict, one challenge (issue 8): the same rejected token gets the
# byte-identical failure challenge from every host, and a provider outage
# the same "try again" everywhere. Real programs on loopback, under a temp
# dir, stopped by PID:
#  - the test OpenID Connect provider (lib/idp.sh);
#  - Dovecot 2.3 with passdb bearer and our XOAUTH2/OAUTHBEARER
#    (lib/dovecot.sh): IMAP ("+ BASE64") and Dovecot submission ("334 BASE64");
#  - Postfix smtpd with smtpd_sasl_type = cyrus and our Cyrus server
#    mechanisms (lib/postfix.sh): "334 BASE64";
#  - Postfix smtpd with smtpd_sasl_type = dovecot, which relays Dovecot's
#    challenge: "334 BASE64".
# The client is Python's imaplib/smtplib (lib/mail-login.py --show-replies
# prints the server's lines; the client's, which carry the token, never).
# Both verifiers read the same provider section (issuer, audience, scopes
# "imap smtp", discovery); only cache_dir differs (Dovecot's auth process
# runs as dovecot, smtpd as postfix).
#
# Rejections, each with XOAUTH2 and OAUTHBEARER: expired, wrong_audience,
# insufficient_scope, user_mismatch. The four challenges must be the same
# base64 text, decoding to the JSON of verdict.h's rule.
# Temporary failure (unavailable: provider down, a key not yet seen): no
# challenge anywhere; what each host answers is checked and printed:
# IMAP "NO [UNAVAILABLE] Temporary authentication failure.", Dovecot
# submission "454 4.7.0 Temporary authentication failure.", Postfix with
# Cyrus "454 4.7.0 Temporary authentication failure: transient failure
# (e.g., weak key)" (Cyrus's text for SASL_TRYAGAIN), Postfix with Dovecot
# SASL "535 5.7.8 Error: authentication failed: Temporary authentication
# failure, try again later" (Postfix ignores Dovecot's temp_fail, a known
# Postfix limitation: the README; the text is ours).
#
# Dovecot's anvil auth penalty delays logins from an IP after a failure:
# every failing Dovecot login uses its own source address (127.0.0.N).
# Env: DOVECOT_MODULE, MOA2_SASL_PLUGIN (defaults: the build dir of
# MAIL_OAUTH2), DOVECOT_SETTINGS_MODULE (Dovecot 2.4; default: next to
# DOVECOT_MODULE), DOVECOT_CHROOT (the Dovecot of a Debian chroot,
# lib/dovecot.sh; DOVECOT_MODULE then the plugin built against it),
# KEEP_WORK=1. Needs root, Dovecot, Postfix, python3, node.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/dovecot.sh"
. "$ILIB/postfix.sh"

NAME=challenge
BUILD=$(cd "$(dirname "$MAIL_OAUTH2")/../.." && pwd)
DOVECOT_MODULE=${DOVECOT_MODULE:-$BUILD/plugin/dovecot/.libs/libauthdb_bearer.so}
PLUGIN=${MOA2_SASL_PLUGIN:-$BUILD/plugin/sasl/.libs/libmail-oauth2.so}
LOGIN="python3 $ILIB/mail-login.py"
JWT_TOOL="python3 $TSUP/jwt-tool.py"
ALICE=alice@example.test
BOB=bob@example.test
OUT=$WORK/out
mkdir -p "$OUT"
chmod 711 "$WORK"
chmod 600 "$WORK/.tokens"

# ---------------------------------------------------------------- checks

missing=
# (with DOVECOT_CHROOT, dovecot is the chroot's: dovecot_setup checks it)
dovecot_cmds=dovecot
[ -n "${DOVECOT_CHROOT:-}" ] && dovecot_cmds=
for cmd in $dovecot_cmds postfix postconf python3 node openssl; do
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
[ -z "$missing" ] || { not_ok "the programs the test needs are installed" "missing:$missing"; summary $NAME; }
[ "$(id -u)" = 0 ] || { not_ok "running as root (Dovecot and Postfix start as root)"; summary $NAME; }
for f in "$DOVECOT_MODULE" "$PLUGIN"; do
	[ -f "$f" ] || { not_ok "the plugins are built" "no $f"; summary $NAME; }
done
test_ca >/dev/null || { not_ok "test CA (make-ca.sh)"; summary $NAME; }

# ---------------------------------------------------------------- provider

export IDP_ACCESS_TOKEN_TTL=600
if IDP_LOG=0 idp_start "$WORK/idp" >"$OUT/idp-start.log" 2>&1; then
	ok "identity provider up: $IDP_URL"
else
	not_ok "identity provider starts" "$(tail -n 20 "$OUT/idp-start.log")"
	summary $NAME
fi

mint() { # ACCOUNT RESOURCE [TTL] [SCOPE]
	_m_q="account=$1&resource=$(idp_urlencode "$2")"
	[ -n "${3:-}" ] && _m_q="$_m_q&ttl=$3"
	[ -n "${4:-}" ] && _m_q="$_m_q&scope=$(idp_urlencode "$4")"
	idp_ctl "token?$_m_q" | idp_json access_token
}
token_expired=$(mint alice https://mail.test 1)
token_alice=$(mint alice https://mail.test)
token_other_aud=$(mint alice https://mail-es.test)
token_no_scope=$(mint alice https://mail.test "" "email mail")
for t in "$token_expired" "$token_alice" "$token_other_aud" "$token_no_scope"; do
	remember_token "$t"
done
if printf '%s' "$token_no_scope" | grep -q '^eyJ.*\..*\.' &&
	[ "$(idp_jwt_payload "$token_no_scope" | idp_json scope)" = mail ]; then
	ok "tokens from the provider (one without the imap and smtp scopes)"
else
	not_ok "tokens from the provider" "$(idp_jwt_payload "$token_no_scope")"
	summary $NAME
fi

# ---------------------------------------------------------------- verifiers

# one provider section for every host
verify_conf() { # FILE CACHE_DIR
	cat >"$1" <<EOF
cache_dir = $2
ca_file = $TEST_CA
[provider testidp]
issuer = $IDP_URL
audience = https://mail.test
username_claims = email
required_scopes = imap smtp
leeway = 0
jwks_refetch_interval = 1s
EOF
}
mkdir -p "$WORK/cache-dovecot"
dovecot_chown dovecot "$WORK/cache-dovecot"
verify_conf "$WORK/verify-dovecot.conf" "$WORK/cache-dovecot"

# ---------------------------------------------------------------- Dovecot

dovecot_ports
# Dovecot 2.4: the settings module built next to the auth module
DOVECOT_SETTINGS_MODULE=${DOVECOT_SETTINGS_MODULE:-$(dirname "$DOVECOT_MODULE")/libmail_oauth2_settings.so}
[ -f "$DOVECOT_SETTINGS_MODULE" ] || DOVECOT_SETTINGS_MODULE=
if ! dovecot_setup "$WORK/dovecot" "$DOVECOT_MODULE" $DOVECOT_SETTINGS_MODULE; then
	not_ok "the Dovecot module can be loaded from the build dir" "$DOVECOT_SETUP_ERROR"
	summary $NAME
fi
dovecot_bearer_conf "$WORK/verify-dovecot.conf" ""
dovecot_write_conf "auth_mechanisms = plain
auth_failure_delay = 0
auth_verbose = yes

!include 10-mail-oauth2-active.conf"
if dovecot_start; then
	ok "Dovecot up (IMAP $P_IMAP, submission $P_SUBM)"
else
	not_ok "Dovecot starts"
	summary $NAME
fi
dovecot_postfix_conf "$WORK/postfix-dovecot"
if dovecot_postfix_start; then
	ok "Postfix smtpd with smtpd_sasl_type = dovecot up ($P_SMTPD)"
else
	not_ok "Postfix (Dovecot SASL) starts" "$(cat "$PF/start.out" 2>/dev/null | tail -n 20)"
fi

# ---------------------------------------------------------------- Postfix + Cyrus

CYRUS_PORT=$(free_port)
pf_oauth2_dirs "$PLUGIN" 65534 || { not_ok "Cyrus plugin dir"; summary $NAME; }
verify_conf "$WORK/verify-cyrus.conf" "$WORK/verify-cache"
pf_new_cyrus_mx cyrus "$CYRUS_PORT" "example.test" 65534 <<EOF
mech_list: XOAUTH2 OAUTHBEARER
mail_oauth2_verify_conf: $WORK/verify-cyrus.conf
EOF
# smtplib logs in without STARTTLS here (the Dovecot hosts do too)
pf_conf cyrus "smtpd_tls_auth_only = no"
if pf_start cyrus; then
	ok "Postfix smtpd with smtpd_sasl_type = cyrus up ($CYRUS_PORT)"
else
	not_ok "Postfix (Cyrus SASL) starts"
	summary $NAME
fi
CYRUS_LOG=$(pf_log cyrus)

# ---------------------------------------------------------------- logins

_run=0
# login HOST MECH USER TOKEN: one login at HOST (imap, subm, cyrus,
# pf-dovecot); sets rc, res, and ch: the base64 of the last non-empty
# challenge the server sent ("" for none)
login() {
	_run=$((_run + 1))
	res=$OUT/login-$_run-$1-$2.out
	remember_token "$4"
	_extra=
	case $1 in
	imap) _l="imap $P_IMAP" ;;
	# Dovecot 2.3 submission refuses an AUTH line holding a JWT ("500
	# 5.5.2 Line too long"): the response goes after the empty 334
	subm) _l="smtp $P_SUBM"; _extra=--no-initial-response ;;
	cyrus) _l="smtp $CYRUS_PORT" ;;
	pf-dovecot) _l="smtp $P_SMTPD" ;;
	esac
	case $2 in
	XOAUTH2) _who="--user $3" ;;
	OAUTHBEARER) _who="--authzid $3" ;;
	esac
	next_src
	# shellcheck disable=SC2086 # _l, _who and _extra are word lists
	printf '%s\n' "$4" | $LOGIN ${_l%% *} 127.0.0.1 ${_l#* } --mech "$2" $_who \
		--src "$SRC" --show-replies $_extra >"$res" 2>&1
	rc=$?
	ch=$(sed -n 's/^S: + \(..*\)$/\1/p; s/^S: 334 \(..*\)$/\1/p' "$res" | tail -n 1 | tr -d '\r')
}

# expected JSON for MECH and REASON under verdict.h's rule, from this
# provider (scope "imap smtp", its discovery URL)
expected_json() {
	python3 -c '
import json, sys
mech, reason, url = sys.argv[1:4]
scope_problem = reason == "insufficient_scope"
if mech == "XOAUTH2":
    d = {"status": "403" if scope_problem else "401", "schemes": "bearer"}
else:
    d = {"status": "insufficient_scope" if scope_problem else "invalid_token"}
d["scope"] = "imap smtp"
d["openid-configuration"] = url
print(json.dumps(d, separators=(",", ":")))' "$1" "$2" "$IDP_DISCOVERY_URL"
}

b64decode() {
	printf '%s' "$1" | base64 -d 2>/dev/null
}

hosts="imap subm cyrus pf-dovecot"
[ -n "$POSTFIX_PID" ] || hosts="imap subm cyrus"

# rejected REASON MECH USER TOKEN: every host refuses the login after the
# challenge, and the challenges are one and the same text
rejected() {
	_rj_reason=$1
	_rj_mech=$2
	_rj_first=
	_rj_all=
	_rj_bad=
	for _rj_host in $hosts; do
		login "$_rj_host" "$_rj_mech" "$3" "$4"
		if [ "$rc" != 1 ]; then
			_rj_bad="$_rj_bad
$_rj_host: exit $rc: $(grep '^result:' "$res")"
		fi
		_rj_all="$_rj_all
$_rj_host: $ch"
		if [ -z "$_rj_first" ]; then
			_rj_first=$ch
		elif [ "$ch" != "$_rj_first" ]; then
			_rj_bad="$_rj_bad
$_rj_host: another challenge"
		fi
	done
	if [ -z "$_rj_bad" ] && [ -n "$_rj_first" ]; then
		ok "$_rj_reason, $_rj_mech: $(echo $hosts | tr ' ' '/') refuse after the byte-identical challenge $_rj_first"
	else
		not_ok "$_rj_reason, $_rj_mech: every host refuses after the same challenge" "$_rj_bad
challenges:$_rj_all"
	fi
	_rj_want=$(expected_json "$_rj_mech" "$_rj_reason")
	check_eq "$_rj_reason, $_rj_mech: the challenge is verdict.h's $(b64decode "$_rj_first")" \
		"$(b64decode "$_rj_first")" "$_rj_want"
}

# wait until the 1 s token has expired (leeway = 0)
_exp=$(idp_jwt_payload "$token_expired" | idp_json exp)
while [ "$(date +%s)" -le "$_exp" ]; do sleep 0.5; done

for mech in XOAUTH2 OAUTHBEARER; do
	rejected expired "$mech" "$ALICE" "$token_expired"
	rejected wrong_audience "$mech" "$ALICE" "$token_other_aud"
	rejected insufficient_scope "$mech" "$ALICE" "$token_no_scope"
	rejected user_mismatch "$mech" "$BOB" "$token_alice"
done

# the verdict lines of the two engines are the same text too
dv_line=$(grep -o 'OAUTHBEARER rejected reason=insufficient_scope token=sha256:[0-9a-f]*: .*' \
	"$DV/dovecot.log" | head -n 1)
cy_line=$(grep -o 'OAUTHBEARER rejected reason=insufficient_scope token=sha256:[0-9a-f]*: .*' \
	"$CYRUS_LOG" | head -n 1)
if [ -n "$dv_line" ] && [ "$dv_line" = "$cy_line" ]; then
	ok "Dovecot's and Postfix/Cyrus's logs have the same verdict line: $dv_line"
else
	not_ok "the same verdict line in both logs" "dovecot: $dv_line
cyrus:   $cy_line"
fi

# ---------------------------------------------------------------- unavailable

$JWT_TOOL keygen rsa "$WORK/newkey.pem"
kid_token=$($JWT_TOOL sign "$WORK/newkey.pem" RS256 '{"kid":"not-yet-published","typ":"at+jwt"}' \
	"{\"iss\":\"$IDP_URL\",\"aud\":\"https://mail.test\",\"sub\":\"alice\",\"email\":\"$ALICE\",\"scope\":\"imap smtp\",\"iat\":\"-5\",\"exp\":\"+300\"}")
remember_token "$kid_token"
idp_stop
if curl -s --max-time 2 --cacert "$TEST_CA" -o /dev/null "$IDP_DISCOVERY_URL"; then
	not_ok "provider down" "it still answers"
else
	ok "provider down"
fi

# tempfail HOST MECH WANT_RC WANT_RESULT DESC: no challenge, the host's answer
tempfail() {
	login "$1" "$2" "$ALICE" "$kid_token"
	_tf_reply=$(grep '^result:' "$res")
	if [ "$rc" = "$3" ] && [ -z "$ch" ] && grep -q "^result: $4" "$res"; then
		ok "unavailable, $2 at $1: no challenge, $5 ($_tf_reply)"
	else
		not_ok "unavailable, $2 at $1: no challenge, $5" "exit $rc, challenge '$ch'
$(grep -v '^S: [0-9]*[- ]\(250\|220\)' "$res")"
	fi
}
for mech in XOAUTH2 OAUTHBEARER; do
	tempfail imap "$mech" 2 'TEMPFAIL .*\[UNAVAILABLE\]' "NO [UNAVAILABLE]"
	tempfail subm "$mech" 2 'TEMPFAIL 454 ' "454 (Dovecot submission)"
	tempfail cyrus "$mech" 2 'TEMPFAIL 454 4\.7\.0' "454 4.7.0 (Cyrus SASL_TRYAGAIN)"
	[ -n "$POSTFIX_PID" ] && tempfail pf-dovecot "$mech" 1 \
		'NO 535 .*Temporary authentication failure' \
		"535 saying temporary failure (Postfix ignores Dovecot's temp_fail)"
done
check "the Dovecot log: temporary failure reason=unavailable at error" \
	grep -q 'Error: .*temporary failure reason=unavailable token=sha256:' "$DV/dovecot.log"
check "the Postfix/Cyrus log: the same line" \
	grep -q 'temporary failure reason=unavailable token=sha256:' "$CYRUS_LOG"

# ---------------------------------------------------------------- end

dovecot_stop || not_ok "Dovecot stops" "pid $DOVECOT_PID still running"
dovecot_postfix_stop
pf_stop_all
assert_no_tokens "$OUT"/* "$DV/dovecot.log" "$CYRUS_LOG" "$WORK/postfix-dovecot/maillog"
summary $NAME
