#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's relay recipe, step by step as an admin types it, on a clean
# Debian system: a chroot of tests/support/debian-chroot.sh (default
# build/chroots/bookworm; RECIPE_CHROOT=DIR for another) with Debian's
# Postfix, this source tree copied in (git archive HEAD), built and
# installed with the README's commands. Microsoft's endpoints are not
# reachable here: the test provider (lib/idp.sh) plays the "generic"
# preset under a host NAME (idp.test, in the chroot's /etc/hosts: so its
# resolution inside Postfix's chroot is what is shown), and the relay is a
# Postfix on the host with this plugin's server mechanisms.
# Shown: the token directory, the store's owner, test-smtp, mail relayed
# by Debian's chrooted smtp with the info line in the mail log; without
# the chroot's etc/hosts the name does not resolve and the mail is
# deferred; a config elsewhere with import_environment from postconf -dh
# keeps Postfix's defaults and works after a restart (not after a reload).
# Not run by tests/integration/run (its name does not start with test-):
# it needs the chroot (about 600 MB, `tests/support/debian-chroot.sh ensure
# bookworm`) and builds the project in it (a few minutes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"
IDP_LIB_DIR=$ILIB
. "$ILIB/idp.sh"
. "$ILIB/postfix.sh"
. "$TSUP/debian-chroot.sh"

NAME=check-relay-recipe
C=${RECIPE_CHROOT:-$TOP/build/chroots/bookworm}
PLUGIN=${MOA2_SASL_PLUGIN:-$(dirname "$MAIL_OAUTH2")/../sasl/.libs/libmail-oauth2.so}
[ "$(id -u)" = 0 ] || { echo "$NAME: needs root"; exit 1; }
[ -f "$C/$MOA2_CHROOT_MARKER" ] || { echo "$NAME: no chroot $C (tests/support/debian-chroot.sh ensure bookworm)"; exit 1; }
OUT=$WORK/out
mkdir -p "$OUT"
chmod 755 "$WORK"
export MOA2_CHROOT_BINDS=$WORK
in_chroot() {
	moa2_chroot_run "$C" sh -c "$1"
}

# a server certificate for 127.0.0.1 and the name idp.test
mkdir -p "$WORK/tls"
(
	cd "$WORK/tls" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.pem -days 2 -subj "/CN=recipe CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
		-out server.csr -subj /CN=idp.test 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:idp.test\nextendedKeyUsage=serverAuth\n' >ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
		-days 2 -extfile ext 2>/dev/null
	chmod 644 ca.pem server.pem
)
test_ca >/dev/null
IDP_LOG=0 idp_start "$WORK/idp" >"$OUT/idp.log" 2>&1 || { cat "$OUT/idp.log"; exit 1; }
remember_token "$IDP_RELAY_SECRET"

# the relay on the host: our server mechanisms verify the IdP's tokens
MX_PORT=$(free_port)
pf_oauth2_dirs "$PLUGIN" 65534 || exit 1
pf_verify_conf "$WORK/verify.conf"
pf_new_cyrus_mx mx "$MX_PORT" example.test 65534 <<EOF
mech_list: XOAUTH2
mail_oauth2_verify_conf: $WORK/verify.conf
EOF
pf_start mx || exit 1
ok "host: the relay (Postfix, our server mechanisms) on 127.0.0.1:$MX_PORT"

# ------------------------------------------------------ the clean system

rm -rf "$C/root/src"
mkdir -p "$C/root/src"
git -C "$TOP" archive HEAD | tar -x -C "$C/root/src"
# (a Postfix as "No configuration" leaves it: Debian's main.cf, and what
# an earlier run of this script left removed)
in_chroot 'grep -q idp.test /etc/hosts || echo "127.0.0.1 idp.test" >>/etc/hosts
	postfix stop >/dev/null 2>&1
	rm -rf /etc/mail-oauth2 /var/lib/mail-oauth2 /etc/postfix/oauth2.conf \
		/etc/postfix/sasl_passwd /etc/postfix/sasl_passwd.db
	cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
	postconf -e "myhostname = relay.test" "mydestination =" "inet_interfaces = loopback-only" \
		"maillog_file = /var/log/postfix.log"
	# the chroot shares the host network: no smtpd on port 25 here
	postconf -M# smtp/inet
	postsuper -d ALL >/dev/null 2>&1; : >/var/log/postfix.log' \
	>"$OUT/prepare.out" 2>&1
check "chroot: a Debian Postfix with a main.cf of its own" test -f "$C/etc/postfix/main.cf"

# 1. build and install
in_chroot 'cd /root/src && ./autogen.sh && ./configure --prefix=/usr --sysconfdir=/etc && make && make install' \
	>"$OUT/build.out" 2>&1
check_eq "step 1: autogen, configure --prefix=/usr --sysconfdir=/etc, make, make install" "$?" 0
check "... the plugin where Debian's libsasl2 looks" \
	test -f "$C/usr/lib/x86_64-linux-gnu/sasl2/libmail-oauth2.so"

# 2. the config and the token directory (the README's lines; the test
#    provider instead of the Microsoft preset)
printf '%s\n' "$IDP_RELAY_SECRET" >"$C/root/relay.secret"
in_chroot "install -d -m 755 /etc/mail-oauth2
	cat >/etc/mail-oauth2/client.conf <<'EOF'
ca_file = $TEST_CA
[account m365]
provider = generic
token_endpoint = https://idp.test:$IDP_PORT/token
device_authorization_endpoint = https://idp.test:$IDP_PORT/device/auth
client_id = $IDP_RELAY_ID
client_secret_file = /etc/mail-oauth2/relay.secret
scope = openid offline_access smtp
resource = https://mail.test
EOF
	install -m 600 /root/relay.secret /etc/mail-oauth2/relay.secret
	install -d -o postfix -g postfix -m 700 /var/lib/mail-oauth2/tokens" >"$OUT/step2.out" 2>&1
check_eq "step 2: /etc/mail-oauth2/client.conf and the token directory" "$?" 0
# owners as the chroot's passwd names them
cstat() { moa2_chroot_run "$C" stat -c '%U %a' "$1"; }
check_eq "... the token directory: postfix, 0700" "$(cstat /var/lib/mail-oauth2/tokens)" "postfix 700"

# 3. authorize, test-smtp
idp_device_authorize "$OUT/authorize.out" alice \
	moa2_chroot_run "$C" mail-oauth2 token authorize -c /etc/mail-oauth2/client.conf m365
check_eq "step 3: mail-oauth2 token authorize as root: exit 0" "$?" 0
check_eq "... the store is postfix's, 0600" "$(cstat /var/lib/mail-oauth2/tokens/m365.json)" "postfix 600"
CSTORE=$C/var/lib/mail-oauth2/tokens/m365.json
remember_token "$(json_field "$CSTORE" access_token)"
remember_token "$(json_field "$CSTORE" refresh_token)"
moa2_chroot_run "$C" mail-oauth2 token test-smtp -c /etc/mail-oauth2/client.conf --user alice \
	--ca-file "$TEST_CA" "127.0.0.1:$MX_PORT" >"$OUT/test-smtp.out" 2>&1
check_eq "... mail-oauth2 token test-smtp: 235, exit 0" "$?" 0

# 4. Postfix
in_chroot "echo '[127.0.0.1]:$MX_PORT alice:m365' >/etc/postfix/sasl_passwd
	postmap /etc/postfix/sasl_passwd
	postconf -e 'relayhost = [127.0.0.1]:$MX_PORT' 'smtp_sasl_auth_enable = yes' \
		'smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd' \
		'smtp_sasl_mechanism_filter = xoauth2' 'smtp_sasl_security_options = noanonymous' \
		'smtp_sasl_tls_security_options = noanonymous' 'smtp_tls_security_level = encrypt'
	/etc/init.d/postfix restart" >"$OUT/step4.out" 2>&1
check_eq "step 4: sasl_passwd, postmap, postconf -e, the postfix service restarted" "$?" 0
check "... Debian's service copied etc/hosts into the chroot" test -f "$C/var/spool/postfix/etc/hosts"
check "... smtp runs chrooted (master.cf)" sh -c "grep -Eq '^smtp +unix +- +- +y' '$C/etc/postfix/master.cf'"

delivered() { find "$WORK/mail/box/new" -type f 2>/dev/null | wc -l; }
send() { # SUBJECT
	in_chroot "printf 'From: root@relay.test\nTo: alice@example.test\nSubject: $1\n\nbody\n' |
		sendmail -f root@relay.test alice@example.test"
}
expire() {
	store_expire "$CSTORE"
}
RLOG=$C/var/log/postfix.log
expire
send "recipe 1"
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f 2>/dev/null | wc -l) -ge 1 ]"
check_eq "mail relayed by Debian's chrooted smtp with a refreshed token" "$(delivered)" 1
check "the mail log has the info line of the token request (normal verbosity)" \
	grep -q "postfix/smtp\[[0-9]*\]: mail-oauth2: account m365: token request (grant refresh_token) to idp.test:$IDP_PORT took" "$RLOG"

# without the chroot's etc/hosts the name does not resolve
in_chroot 'postfix stop; rm -f /var/spool/postfix/etc/hosts; postfix start' >"$OUT/nohosts.out" 2>&1
expire
send "recipe 2"
wait_for 60 grep -q 'status=deferred' "$RLOG"
check "no etc/hosts in the chroot: deferred, and the log says the name did not resolve" \
	grep -q "mail-oauth2: account m365: token request failed: cannot reach idp.test:$IDP_PORT: .*resolve" "$RLOG"
in_chroot '/etc/init.d/postfix restart; postqueue -f' >>"$OUT/nohosts.out" 2>&1
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f 2>/dev/null | wc -l) -ge 2 ]"
check_eq "the service's restart copies it again: the deferred mail goes out" "$(delivered)" 2

# a config elsewhere: import_environment from postconf -dh; a reload does
# not give the daemons the new environment, a restart does
in_chroot 'mv /etc/mail-oauth2/client.conf /etc/postfix/oauth2.conf
	postconf -e "import_environment = $(postconf -dh import_environment) MAIL_OAUTH2_CONF=/etc/postfix/oauth2.conf"
	postfix reload' >"$OUT/env.out" 2>&1
check "import_environment keeps Postfix's defaults (POSTLOG_SERVICE) and adds ours" \
	grep -q '^import_environment = .*POSTLOG_SERVICE POSTLOG_HOSTNAME MAIL_OAUTH2_CONF=/etc/postfix/oauth2.conf$' \
	"$C/etc/postfix/main.cf"
deferred=$(grep -c 'status=deferred' "$RLOG")
send "recipe 3"
wait_for 60 sh -c "[ \$(grep -c 'status=deferred' '$RLOG') -gt $deferred ]"
check "after postfix reload the daemons still lack MAIL_OAUTH2_CONF (the default path is read)" \
	grep -q 'mail-oauth2: /etc/mail-oauth2/client.conf: cannot open the config file.*restart Postfix' "$RLOG"
in_chroot '/etc/init.d/postfix restart; postqueue -f' >>"$OUT/env.out" 2>&1
wait_for 60 sh -c "[ \$(find '$WORK/mail/box/new' -type f 2>/dev/null | wc -l) -ge 3 ]"
check_eq "after a restart the plugin reads the config named by MAIL_OAUTH2_CONF" "$(delivered)" 3

in_chroot 'postfix stop' >/dev/null 2>&1
remember_token "$(json_field "$CSTORE" refresh_token)"
assert_no_tokens "$OUT"/* "$RLOG" "$(pf_log mx)"
pf_stop_all
summary "$NAME"
