# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Throwaway Postfix instances for integration tests and benchmarks (POSIX
# sh, run as root). Source after common.sh. Each instance lives in
# $WORK/NAME: its own config dir (etc), queue dir (queue, also the chroot),
# data dir and log file (maillog, through postlogd). Nothing of the system
# Postfix is touched: /etc/postfix is only read for the default paths.
#   pf_new NAME SMTPD_PORT     config for an instance whose smtpd listens on
#                              127.0.0.1:SMTPD_PORT (chroot of smtp: yes)
#   pf_conf NAME KEY=VALUE...  postconf -e on the instance
#   pf_service NAME LINE       append a master.cf line
#   pf_start NAME / pf_stop NAME / pf_reload NAME
#   pf_flush NAME              postqueue -f (also lifts "relay dead" throttling)
#   pf_queue_count NAME        messages in any queue
#   pf_log NAME                path of its log
#   pf_submit PORT RCPT COUNT [HEADER]   COUNT messages in one SMTP session
#   free_port                  a free TCP port on 127.0.0.1
#   wait_for SECONDS CMD...    polls CMD every 0.2 s until it succeeds
#   sasl_system_plugindir      the distribution's Cyrus plugin dir
# Our SASL plugin between two instances (after idp.sh and test_ca):
#   pf_oauth2_dirs PLUGIN MAIL_UID   $WORK/plugins with PLUGIN as
#                              libmail-oauth2.so, $WORK/tokens and
#                              $WORK/verify-cache for postfix, $WORK/mail for
#                              MAIL_UID; sets PF_SYS_SASL (sasl_system_plugindir)
#   pf_verify_conf FILE [LINE] the verifier config of the mx: the test IdP,
#                              audience https://mail.test, scope smtp (+ LINE)
#   pf_new_cyrus_mx NAME PORT DOMAINS MAIL_UID <SMTPD_CONF
#                              pf_new, and its smtpd takes AUTH (over TLS only)
#                              through Cyrus SASL with smtpd.conf from stdin
#                              and SASL_PATH $WORK/plugins:$PF_SYS_SASL; mail
#                              to DOMAINS goes to the Maildir $WORK/mail/box/
#   pf_oauth2_relay NAME CLIENT_CONF SASL_PATH
#                              smtp of NAME authenticates over TLS (TEST_CA)
#                              with the Cyrus plugins of SASL_PATH, our client
#                              mechanisms reading CLIENT_CONF; messages with
#                              "X-Hold: yes" are put on hold

PF_DAEMON_DIR=$(postconf -d -h daemon_directory 2>/dev/null)
PF_COMMAND_DIR=$(postconf -d -h command_directory 2>/dev/null)
PF_SHLIB_DIR=$(postconf -d -h shlib_directory 2>/dev/null)
PF_META_DIR=$(postconf -d -h meta_directory 2>/dev/null)
_pf_instances=

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {
	_wf_deadline=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_wf_deadline" ] && return 1
		sleep 0.2
	done
	return 0
}

sasl_system_plugindir() {
	for _d in "/usr/lib/$(gcc -print-multiarch 2>/dev/null)/sasl2" /usr/lib64/sasl2 \
		/usr/lib/sasl2 /usr/lib/*/sasl2; do
		[ -f "$_d/libplain.so" ] && { echo "$_d"; return 0; }
	done
	return 1
}

pf_dir() {
	echo "$WORK/$1"
}

pf_log() {
	echo "$WORK/$1/maillog"
}

pf_conf() {
	_pc_name=$1
	shift
	postconf -c "$WORK/$_pc_name/etc" -e "$@"
}

pf_service() {
	printf '%s\n' "$2" >>"$WORK/$1/etc/master.cf"
}

pf_new() {
	_pn_dir=$WORK/$1
	mkdir -p "$_pn_dir/etc" "$_pn_dir/queue" "$_pn_dir/data"
	chmod 755 "$WORK" "$_pn_dir" "$_pn_dir/etc" "$_pn_dir/queue"
	chown postfix "$_pn_dir/data"
	: >"$_pn_dir/maillog"
	chown postfix "$_pn_dir/maillog"
	cat >"$_pn_dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $_pn_dir/queue
data_directory = $_pn_dir/data
daemon_directory = $PF_DAEMON_DIR
command_directory = $PF_COMMAND_DIR
shlib_directory = $PF_SHLIB_DIR
meta_directory = $PF_META_DIR
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-$1
maillog_file = $_pn_dir/maillog
maillog_file_prefixes = $WORK
myhostname = $1.test
mydomain = test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
smtpd_banner = \$myhostname ESMTP test
delay_warning_time = 0
EOF
	cat >"$_pn_dir/etc/master.cf" <<EOF
127.0.0.1:$2 inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - y - - smtp
relay     unix  - - y - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

_pf_master_pid() {
	_pmp=$(cat "$WORK/$1/queue/pid/master.pid" 2>/dev/null | tr -d ' ')
	[ -n "$_pmp" ] && echo "$_pmp"
}

pf_start() {
	postfix -c "$WORK/$1/etc" start >>"$WORK/$1/start.log" 2>&1 || {
		echo "postfix $1 did not start:" >&2
		tail -n 20 "$WORK/$1/start.log" "$WORK/$1/maillog" >&2
		return 1
	}
	wait_for 20 _pf_master_pid "$1" || return 1
	on_exit_kill "$(_pf_master_pid "$1")"
	_pf_instances="$_pf_instances $1"
}

pf_stop() {
	_ps_pid=$(_pf_master_pid "$1")
	postfix -c "$WORK/$1/etc" stop >>"$WORK/$1/start.log" 2>&1
	[ -n "$_ps_pid" ] && wait_for 20 sh -c "! kill -0 $_ps_pid"
	return 0
}

pf_stop_all() {
	for _psa in $_pf_instances; do
		pf_stop "$_psa"
	done
	_pf_instances=
}

pf_reload() {
	postfix -c "$WORK/$1/etc" reload >>"$WORK/$1/start.log" 2>&1
}

pf_flush() {
	postqueue -c "$WORK/$1/etc" -f
}

pf_queue_count() {
	find "$WORK/$1/queue/incoming" "$WORK/$1/queue/active" \
		"$WORK/$1/queue/deferred" "$WORK/$1/queue/hold" \
		"$WORK/$1/queue/maildrop" -type f 2>/dev/null | wc -l
}

# ------------------------------------------------------- our SASL plugin

pf_oauth2_dirs() {
	PF_SYS_SASL=$(sasl_system_plugindir) || {
		echo "no Cyrus plugin dir (libplain.so) found" >&2
		return 1
	}
	mkdir -p "$WORK/plugins" "$WORK/tokens" "$WORK/mail" "$WORK/verify-cache"
	cp "$1" "$WORK/plugins/libmail-oauth2.so"
	chmod 755 "$WORK/plugins"
	chown postfix:postfix "$WORK/tokens" "$WORK/verify-cache"
	chmod 700 "$WORK/tokens"
	chown "$2:$2" "$WORK/mail"
}

pf_verify_conf() {
	cat >"$1" <<EOF
cache_dir = $WORK/verify-cache
ca_file = $TEST_CA
[provider idp]
issuer = $IDP_URL
audience = https://mail.test
required_scopes = smtp
username_claims = preferred_username sub
# the relays of these tests log in with service tokens (client_credentials:
# sub is the client id); a receiving server takes them only when told to
allow_service_tokens = yes
${2:-}
EOF
}

pf_new_cyrus_mx() {
	pf_new "$1" "$2"
	# Debian's Postfix reads smtpd.conf from $config_directory/sasl whatever
	# cyrus_sasl_config_path says: put it there, and name the dir in both
	mkdir -p "$WORK/$1/etc/sasl"
	cat >"$WORK/$1/etc/sasl/smtpd.conf"
	pf_conf "$1" \
		"virtual_mailbox_domains = $3" \
		"virtual_mailbox_base = $WORK/mail" \
		"virtual_mailbox_maps = static:box/" \
		"virtual_uid_maps = static:$4" "virtual_gid_maps = static:$4" \
		"virtual_minimum_uid = 1" \
		"smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = cyrus" \
		"smtpd_sasl_path = smtpd" "cyrus_sasl_config_path = $WORK/$1/etc/sasl" \
		"smtpd_sasl_security_options = noanonymous" \
		"smtpd_tls_security_level = may" "smtpd_tls_auth_only = yes" \
		"smtpd_tls_cert_file = $WORK/tls/server.pem" \
		"smtpd_tls_key_file = $WORK/tls/server.key" \
		"smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
		"smtpd_recipient_restrictions = permit_sasl_authenticated, reject" \
		"import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$WORK/plugins:$PF_SYS_SASL"
}

pf_oauth2_relay() {
	printf '/^X-Hold: yes/ HOLD\n' >"$WORK/$1/etc/header_checks"
	pf_conf "$1" \
		"header_checks = regexp:$WORK/$1/etc/header_checks" \
		"smtp_sasl_auth_enable = yes" \
		"smtp_sasl_security_options = noanonymous" \
		"smtp_sasl_tls_security_options = noanonymous" \
		"smtp_tls_security_level = encrypt" \
		"smtp_tls_CAfile = $TEST_CA" \
		"import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$3 MAIL_OAUTH2_CONF=$2"
}

# pf_submit PORT RCPT COUNT [HEADER]: one SMTP session, COUNT messages
pf_submit() {
	python3 - "$@" <<'EOF'
import smtplib, sys
port, rcpt, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
header = sys.argv[4] if len(sys.argv) > 4 else ""
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for i in range(count):
        msg = ("From: sender@relay.test\r\nTo: %s\r\nSubject: test %d\r\n%s\r\n"
               "message %d\r\n" % (rcpt, i, header + "\r\n" if header else "", i))
        s.sendmail("sender@relay.test", [rcpt], msg)
EOF
}
