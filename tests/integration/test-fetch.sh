#!/bin/sh
# SPDX-License-Identifier: MIT
# Integration test of the same OAuth accounts for fetching and sending mail
# (issue 11, "fetching mail"), with real programs on loopback under a temp
# dir, stopped by PID:
#  - the test OpenID Connect provider (lib/idp.sh): an account authorized
#    once with the real device flow (`mail-oauth2 token authorize`),
#    client mail-relay, rotating refresh tokens;
#  - Dovecot 2.3 with this project's inbound plugin (passdb bearer, our
#    XOAUTH2) as the remote IMAP server, STARTTLS with the test CA, and a
#    Postfix smtpd authenticating through it (smtpd_sasl_type = dovecot)
#    and delivering into it over LMTP (lib/dovecot.sh);
#  - mbsync (isync, Cyrus SASL) with AuthMechs XOAUTH2 and our Cyrus SASL
#    client plugin (found through SASL_PATH, config through
#    MAIL_OAUTH2_CONF, the account named by Pass) syncs the remote INBOX to
#    a local Maildir: a message delivered over LMTP arrives; with the
#    stored access token expired, the plugin refreshes inside mbsync's run
#    (one token request, the rotated refresh token stored);
#  - msmtp with `passwordeval "mail-oauth2 token access -c CONF ACCOUNT"`
#    and `auth xoauth2` sends through the Postfix smtpd and through Dovecot
#    submission; the messages arrive (mbsync fetches them); an expired
#    token is refreshed by `token access` under the store's lock; with the
#    token endpoint down as well, msmtp fails with the reason on stderr and
#    nothing is sent.
# No token, refresh token or secret appears in any output or log.
#
# Env: MAIL_OAUTH2 (the CLI), MOA2_SASL_PLUGIN (default: the build dir of
# MAIL_OAUTH2, plugin/sasl/.libs/libmail-oauth2.so), DOVECOT_MODULE (default
# build/ci/plugin/dovecot/.libs/libauthdb_bearer.so), KEEP_WORK=1. Needs
# root, Dovecot, Postfix, isync, msmtp, python3, node (tests/lib-deps.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/postfix.sh"
. "$ILIB/dovecot.sh"

NAME=test-fetch
PLUGIN=${MOA2_SASL_PLUGIN:-$(dirname "$MAIL_OAUTH2")/../sasl/.libs/libmail-oauth2.so}
DOVECOT_MODULE=${DOVECOT_MODULE:-$TOP/build/ci/plugin/dovecot/.libs/libauthdb_bearer.so}
case $DOVECOT_MODULE in /*) ;; *) DOVECOT_MODULE=$(pwd)/$DOVECOT_MODULE ;; esac
ALICE=alice@example.test
OUT=$WORK/out
DV=$WORK/dovecot
PF=$WORK/postfix
LOCAL=$WORK/local
mkdir -p "$OUT" "$WORK/tokens" "$WORK/plugins" "$LOCAL"
chmod 711 "$WORK"
chmod 600 "$WORK/.tokens"

# ---------------------------------------------------------------- checks

missing=
for cmd in dovecot doveadm postfix mbsync msmtp python3 node curl; do
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
if [ -n "$missing" ]; then
	not_ok "the programs the test needs are installed" "missing:$missing (tests/lib-deps.sh MOA2_INTEGRATION_DEPS)"
	summary "$NAME"
fi
if [ "$(id -u)" != 0 ]; then
	not_ok "running as root (Dovecot and Postfix start as root)"
	summary "$NAME"
fi
for f in "$MAIL_OAUTH2" "$PLUGIN" "$DOVECOT_MODULE"; do
	[ -f "$f" ] || { not_ok "built: $f"; summary "$NAME"; }
done
if ldd "$(command -v mbsync)" | grep -q libsasl2; then
	ok "mbsync authenticates through Cyrus SASL (linked with libsasl2)"
else
	not_ok "mbsync is built with Cyrus SASL" "$(ldd "$(command -v mbsync)")"
	summary "$NAME"
fi
test_ca >/dev/null || { not_ok "test CA (make-ca.sh)"; summary "$NAME"; }
cp "$PLUGIN" "$WORK/plugins/libmail-oauth2.so"

# -------------------------------------------------------------- provider

IDP_LOG=0 IDP_ACCESS_TOKEN_TTL=600 idp_start "$WORK/idp" >"$OUT/idp-start.log" 2>&1 || {
	not_ok "identity provider starts" "$(cat "$OUT/idp-start.log")"
	summary "$NAME"
}
remember_token "$IDP_RELAY_SECRET"

CONF=$WORK/client.conf
cat >"$CONF" <<EOF
ca_file = $TEST_CA
token_dir = $WORK/tokens
[account alice]
provider = generic
issuer = $IDP_URL
client_id = $IDP_RELAY_ID
client_secret_file = $WORK/relay.secret
scope = openid offline_access imap smtp
resource = https://mail.test
EOF
printf '%s\n' "$IDP_RELAY_SECRET" >"$WORK/relay.secret"
chmod 600 "$WORK/relay.secret"
STORE=$WORK/tokens/alice.json

store_field() {
	json_field "$STORE" "$1"
}
remember_store() {
	remember_token "$(store_field access_token)"
	remember_token "$(store_field refresh_token)"
}
expire_store() {
	store_expire "$STORE"
}
refresh_requests() {
	idp_ctl stats | python3 -c 'import json, sys
print(json.load(sys.stdin)["token_by_grant"].get("refresh_token", 0))'
}

idp_device_authorize "$OUT/authorize.out" alice "$MAIL_OAUTH2" token authorize -c "$CONF" alice
check_eq "the account is authorized once (device flow)" "$?" 0
remember_store

# -------------------------------------------- Dovecot with our plugin

dovecot_ports
cat >"$WORK/verify.conf" <<EOF
cache_dir = $WORK/cache
ca_file = $TEST_CA
[provider testidp]
issuer = $IDP_URL
audience = https://mail.test
username_claims = email
required_scopes = imap
EOF
mkdir -p "$WORK/cache"
if ! dovecot_setup "$DV" "$DOVECOT_MODULE"; then
	not_ok "the Dovecot module can be loaded from the build dir" "$DOVECOT_SETUP_ERROR"
	summary "$NAME"
fi
dovecot_chown dovecot "$WORK/cache"
dovecot_bearer_conf "$WORK/verify.conf" ""
# STARTTLS for IMAP (the last ssl line wins over the shared config's "no")
DOVECOT_EXTRA_CONF="ssl = yes
ssl_cert = <$WORK/tls/server.pem
ssl_key = <$WORK/tls/server.key"
dovecot_write_conf "auth_mechanisms = plain
auth_failure_delay = 0
auth_verbose = yes

!include 10-mail-oauth2-active.conf"
if dovecot_start; then
	ok "Dovecot up with the inbound plugin (pid $DOVECOT_PID)"
else
	not_ok "Dovecot starts" "$(cat "$DV/start.out" "$DV/dovecot.log" 2>/dev/null | tail -n 20)"
	summary "$NAME"
fi
dovecot_postfix_conf "$PF"
if dovecot_postfix_start; then
	ok "Postfix up (smtpd_sasl_type = dovecot, local delivery over LMTP)"
else
	not_ok "Postfix starts" "$(cat "$PF/start.out" "$PF/maillog" 2>/dev/null | tail -n 20)"
	summary "$NAME"
fi

# lmtp_deliver SUBJECT: one message for alice straight into Dovecot
lmtp_deliver() {
	python3 - "$P_LMTP" "$ALICE" "$1" <<'EOF'
import smtplib, sys
port, rcpt, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with smtplib.LMTP("127.0.0.1", port) as s:
    s.sendmail("sender@example.net", [rcpt],
               "From: sender@example.net\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n"
               % (rcpt, subject))
EOF
}
# local_has SUBJECT: the local Maildir (mbsync's copy) has that message
local_has() {
	grep -rqsl -- "^Subject: $1\$" "$LOCAL/INBOX/cur" "$LOCAL/INBOX/new"
}
local_count() {
	find "$LOCAL/INBOX/cur" "$LOCAL/INBOX/new" -type f 2>/dev/null | wc -l
}

# ---------------------------------------------------------------- mbsync

cat >"$WORK/mbsyncrc" <<EOF
# the remote: Dovecot, XOAUTH2 through Cyrus SASL and the mail-oauth2 plugin
IMAPAccount remote
Host localhost
Port $P_IMAP
User $ALICE
# not a password: the [account NAME] of client.conf whose tokens are sent
Pass alice
AuthMechs XOAUTH2
SSLType STARTTLS
CertificateFile $TEST_CA

IMAPStore remote
Account remote

MaildirStore local
Path $LOCAL/
Inbox $LOCAL/INBOX

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
EOF
chmod 600 "$WORK/mbsyncrc"
run=0
# mbsync_run: one sync; exit in $rc, output in $mbout
mbsync_run() {
	run=$((run + 1))
	mbout=$OUT/mbsync-$run.out
	SASL_PATH=$WORK/plugins MAIL_OAUTH2_CONF=$CONF mbsync -V -c "$WORK/mbsyncrc" inbox \
		>"$mbout" 2>&1 </dev/null
	rc=$?
}

lmtp_deliver "fetch one"
at_before=$(store_field access_token)
idp_ctl "stats?reset=1" >/dev/null
mbsync_run
check_eq "mbsync (AuthMechs XOAUTH2, our Cyrus plugin) syncs: exit 0" "$rc" 0
check "mbsync: STARTTLS with the certificate verified" grep -q 'Connection is now encrypted' "$mbout"
check "mbsync used the SASL mechanism XOAUTH2" grep -q 'Authenticating with SASL mechanism XOAUTH2' "$mbout"
check "the message delivered over LMTP arrived in the local Maildir" local_has "fetch one"
check "Dovecot logged the XOAUTH2 login of alice, verified by the inbound plugin" \
	grep -q "imap-login: Info: Login: user=<$ALICE>, method=XOAUTH2" "$DV/dovecot.log"
check "the successful login did not drop the stored token" test "$(store_field access_token)" = "$at_before"
check "no SASL failure reported after the server's OK" sh -c "! grep -q 'SASL reported failure' '$mbout'"
check_eq "a fresh stored token: no token request" "$(refresh_requests)" 0

# a refresh inside mbsync's run
expire_store
rt_before=$(store_field refresh_token)
lmtp_deliver "fetch two"
mbsync_run
check_eq "stored access token expired: mbsync syncs, exit 0" "$rc" 0
check "... the second message arrived" local_has "fetch two"
check_eq "... the plugin made one token request inside mbsync's run" "$(refresh_requests)" 1
check "... and stored the new access token" test "$(store_field access_token)" != "$at_before"
check "... and the rotated refresh token" test "$(store_field refresh_token)" != "$rt_before"
remember_store

# ---------------------------------------------------------------- msmtp

cat >"$WORK/msmtprc" <<EOF
defaults
logfile $OUT/msmtp.log
from $ALICE
auth xoauth2
user $ALICE
passwordeval "$MAIL_OAUTH2 token access -c $CONF alice"

# Postfix smtpd, SASL through Dovecot (and so through the inbound plugin)
account postfix
host 127.0.0.1
port $P_SMTPD
tls off

# Dovecot submission (relays to Postfix)
account submission
host 127.0.0.1
port $P_SUBM
tls off

account default : postfix
EOF
chmod 600 "$WORK/msmtprc"
# msmtp_send ACCOUNT SUBJECT: exit in $rc, stderr in $OUT/msmtp-ACCOUNT.err
msmtp_send() {
	printf 'From: %s\nTo: %s\nSubject: %s\n\nsent with msmtp\n' "$ALICE" "$ALICE" "$2" |
		msmtp -C "$WORK/msmtprc" -a "$1" "$ALICE" >"$OUT/msmtp-$1.out" 2>"$OUT/msmtp-$1.err"
	rc=$?
}

msmtp_send postfix "msmtp via postfix"
check_eq "msmtp with passwordeval 'mail-oauth2 token access' through Postfix: exit 0" "$rc" 0
check "Postfix authenticated alice with XOAUTH2 (through Dovecot)" \
	grep -q "sasl_method=XOAUTH2, sasl_username=$ALICE" "$PF/maillog"
msmtp_send submission "msmtp via submission"
check_eq "msmtp through Dovecot submission: exit 0" "$rc" 0
wait_for 30 sh -c "grep -c 'status=sent' '$PF/maillog' | grep -q '^[2-9]'"
mbsync_run
check_eq "mbsync fetches what msmtp sent: exit 0" "$rc" 0
check "... the message sent through Postfix arrived" local_has "msmtp via postfix"
check "... the message sent through Dovecot submission arrived" local_has "msmtp via submission"
check_eq "four messages in the local Maildir" "$(local_count)" 4

# token access refreshes under the lock when msmtp asks
expire_store
idp_ctl "stats?reset=1" >/dev/null
at_before=$(store_field access_token)
msmtp_send postfix "msmtp after expiry"
check_eq "expired token: msmtp still sends, exit 0" "$rc" 0
check_eq "... token access made one token request" "$(refresh_requests)" 1
check "... and stored the new token" test "$(store_field access_token)" != "$at_before"
remember_store

# no token to be had: msmtp fails with the reason, nothing is sent
expire_store
idp_ctl "token-endpoint?state=down" >/dev/null
sent_before=$(grep -c 'status=sent' "$PF/maillog")
msmtp_send postfix "msmtp while down"
check "token endpoint down, token expired: msmtp fails" test "$rc" -ne 0
check "... mail-oauth2's reason is on msmtp's stderr" \
	grep -q 'the token endpoint is unavailable (HTTP 503' "$OUT/msmtp-postfix.err"
idp_ctl "token-endpoint?state=up" >/dev/null
sleep 1
check_eq "... and nothing was sent" "$(grep -c 'status=sent' "$PF/maillog")" "$sent_before"

# ------------------------------------------------------- no secrets

remember_store
assert_no_tokens "$OUT"/* "$DV/dovecot.log" "$PF/maillog"
dovecot_postfix_stop
dovecot_stop
summary "$NAME"
