# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Throwaway Dovecot instances (the host's 2.3, or a 2.4 in a Debian chroot)
# with the plugin of the build dir, and a Postfix smtpd that authenticates
# through them (smtpd_sasl_type = dovecot) and delivers into them over
# LMTP: shared by tests/integration/test-dovecot.sh, tests/bench/bench-dovecot
# and tests/demo. POSIX sh, run as root; source after common.sh (WORK, TOP,
# on_exit_kill). Everything lives under DIR (dovecot_setup) and PF_DIR
# (dovecot_postfix_conf); processes are stopped by PID.
#
# Dovecot loads auth modules only from its compiled-in dir (no setting or
# environment changes it), so Dovecot runs in a private mount namespace
# (unshare -m) where DIR/mods, holding the module and copies of the
# system's auth modules, is bind-mounted over that dir: the system's files
# are never touched. The same for a settings module (Dovecot 2.4: the
# module of MODULEDIR/settings that makes doveconf and the config process
# know the plugin's settings): DIR/setmods over that dir, also for doveconf
# and doveadm (dovecot_cmd). Without unshare the module is copied into the
# system dir and removed when the calling shell is gone (refused if a
# module of that name is installed there already, or with a settings
# module).
#
# DOVECOT_CHROOT=DIR (a chroot of tests/support/debian-chroot.sh, e.g.
# build/chroots/trixie) runs the Dovecot programs (dovecot, doveadm,
# doveconf: always through dovecot_cmd) in that chroot, each in a private
# mount namespace of moa2_chroot_run that has WORK bound at the same path
# (every path under WORK is the same inside and out: configs, logs,
# sockets, mailboxes, the test CA) and DIR/mods over the chroot's auth
# module dir. The clients, the test IdP and Postfix stay on the host and
# reach Dovecot over loopback TCP and the sockets under DIR/run (the
# chroot shares the host's network). Postfix runs on the host whatever
# Dovecot is tested: one Postfix for all, no second process tree in the
# chroot, and the Postfix-Dovecot SASL and LMTP protocols are the same
# across versions. The chroot's dovecot/dovenull users have uids of their
# own: dovecot_chown resolves them.
#
#   dovecot_setup DIR [MODULE [SETTINGS_MODULE]]
#                              DV=DIR (mods, mail, run, state), the module
#                              set-up (each module keeps its file name: the
#                              2.3 plugin is libauthdb_bearer.so); sets
#                              DOVECOT_MODULE_MODE (namespace | installed |
#                              chroot | none: no MODULE, a stock Dovecot) or,
#                              on refusal, DOVECOT_SETUP_ERROR and returns 1;
#                              sets DOVECOT_VERSION (2.3.19.1, 2.4.1, ...)
#                              and DOVECOT_API (2.3 | 2.4)
#   dovecot_cmd CMD...         a Dovecot program (doveadm, doveconf, ...):
#                              on the host, or in DOVECOT_CHROOT
#   dovecot_chown USER PATH... chown to the Dovecot system USER (dovecot,
#                              dovenull) of the host or of DOVECOT_CHROOT
#   dovecot_ports              free ports P_IMAP P_POP3 P_SUBM P_LMTP (Dovecot),
#                              P_SMTPD P_RELAY (Postfix smtpd and its relay)
#   dovecot_bearer_conf VERIFY_CONF [PASSDB_OPTIONS]
#                              $DV/10-mail-oauth2-active.conf: the shipped
#                              conf.d/dovecot/10-mail-oauth2.conf with its
#                              args = [PASSDB_OPTIONS] VERIFY_CONF (2.4:
#                              conf.d/dovecot/2.4/10-mail-oauth2.conf with
#                              config_file = VERIFY_CONF and each KEY=VALUE
#                              of PASSDB_OPTIONS as KEY = VALUE)
#   dovecot_write_conf AUTH_CONF
#                              $DV/dovecot.conf: imap, pop3, submission
#                              (relaying to P_RELAY) and lmtp on 127.0.0.1,
#                              an auth-postfix socket (0666) next to the
#                              auth-client one, a static userdb of uid
#                              MAIL_UID with homes under $DV/mail, then
#                              AUTH_CONF (auth_* settings, passdb, includes
#                              relative to $DV) and $DOVECOT_EXTRA_CONF, in
#                              the syntax of DOVECOT_API (AUTH_CONF and
#                              DOVECOT_EXTRA_CONF are the caller's, written
#                              for that API)
#   dovecot_start / dovecot_stop
#                              start (waits for master.pid and the IMAP port;
#                              DOVECOT_PID; registered with on_exit_kill) /
#                              stop by PID, wait up to 10 s (1 = still there)
#   dovecot_auth_pids          PIDs of the instance's auth and auth-worker
#                              processes ("PID NAME" lines)
#   dovecot_postfix_conf PF_DIR
#                              a Postfix instance: smtpd on P_SMTPD with SASL
#                              through $DV/run/auth-postfix, local delivery
#                              over LMTP to P_LMTP, and a relay smtpd on
#                              P_RELAY for Dovecot submission (no auth)
#   dovecot_postfix_start / dovecot_postfix_stop
#                              POSTFIX_PID (registered with on_exit_kill);
#                              on failure $PF_DIR/start.out holds the reason
#   free_port                  a free TCP port on 127.0.0.1
#   next_src                   SRC=127.0.0.N, a fresh loopback source address
#                              for a login that fails (Dovecot's anvil auth
#                              penalty delays the next logins from that IP)
# Env: MOA2_TEST_MAIL_UID (uid/gid owning the mailboxes, default 64999, no
# passwd entry needed), DOVECOT_EXTRA_CONF (lines added to dovecot.conf),
# DOVECOT_CHROOT (above).

# shellcheck disable=SC2034 # variables set here are read by the callers
MAIL_UID=${MOA2_TEST_MAIL_UID:-64999}
DOVECOT_PID=
POSTFIX_PID=

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_src_n=9
next_src() {
	_src_n=$((_src_n + 1))
	SRC=127.0.0.$_src_n
}

dovecot_ports() {
	P_IMAP=$(free_port)
	P_POP3=$(free_port)
	P_SUBM=$(free_port)
	P_LMTP=$(free_port)
	P_SMTPD=$(free_port)
	P_RELAY=$(free_port)
}

# the module dirs' bind mounts (SRC:DST): DV/mods over the auth module
# dir, DV/setmods over the settings module dir
_dovecot_module_binds() {
	case ${DOVECOT_MODULE_MODE:-none} in
	none) ;;
	*) printf '%s\n' "$DV/mods:$AUTH_MODULE_DIR" ;;
	esac
	[ -n "${DOVECOT_SETTINGS_MODULE_DIR:-}" ] &&
		printf '%s\n' "$DV/setmods:$DOVECOT_SETTINGS_MODULE_DIR"
	return 0
}

# the chroot's bind mounts: WORK (or DV) at the same path, and the modules
_dovecot_binds() {
	printf '%s %s\n' "${WORK:-$DV}" "$(_dovecot_module_binds | tr '\n' ' ')"
}

# _dovecot_in_namespace CMD...: CMD in a private mount namespace with the
# module binds (the host's Dovecot)
_dovecot_in_namespace() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare -m sh -c 'binds=$1; shift
		for b in $binds; do mount --bind "${b%%:*}" "${b#*:}" || exit 125; done
		exec "$@"' sh "$(_dovecot_module_binds | tr '\n' ' ')" "$@"
}

dovecot_cmd() {
	if [ -n "${DOVECOT_CHROOT:-}" ]; then
		_dc_rc=0
		MOA2_CHROOT_BINDS=$(_dovecot_binds) moa2_chroot_run "$DOVECOT_CHROOT" "$@" || _dc_rc=$?
		# the chroot's mount point of WORK goes unless a process (a
		# Dovecot started by this) still has its mount there
		moa2_chroot_rmdir_bind "$DOVECOT_CHROOT" "${WORK:-$DV}"
		return $_dc_rc
	elif [ -n "${DOVECOT_SETTINGS_MODULE_DIR:-}" ]; then
		# doveconf and doveadm must know the plugin's settings too
		_dovecot_in_namespace "$@"
	else
		"$@"
	fi
}

dovecot_chown() {
	_dco_user=$1
	shift
	if [ -n "${DOVECOT_CHROOT:-}" ]; then
		_dco_ids=$(awk -F: -v u="$_dco_user" '$1 == u { print $3 ":" $4 }' \
			"$DOVECOT_CHROOT/etc/passwd")
		if [ -z "$_dco_ids" ]; then
			echo "dovecot_chown: no user $_dco_user in $DOVECOT_CHROOT" >&2
			return 1
		fi
		chown "$_dco_ids" "$@"
	else
		chown "$_dco_user" "$@"
	fi
}

# DOVECOT_VERSION and DOVECOT_API; with DOVECOT_CHROOT, debian-chroot.sh
_dovecot_init() {
	if [ -n "${DOVECOT_CHROOT:-}" ]; then
		case $DOVECOT_CHROOT in /*) ;; *) DOVECOT_CHROOT=$(pwd)/$DOVECOT_CHROOT ;; esac
		command -v moa2_chroot_run >/dev/null 2>&1 ||
			. "$TOP/tests/support/debian-chroot.sh"
		if [ ! -f "$DOVECOT_CHROOT/$MOA2_CHROOT_MARKER" ]; then
			DOVECOT_SETUP_ERROR="DOVECOT_CHROOT=$DOVECOT_CHROOT is not a chroot of tests/support/debian-chroot.sh"
			return 1
		fi
	fi
	# "2.4.1-4 (7d8c0e5759)", "2.3.19.1 (9b53102964)"
	DOVECOT_VERSION=$(dovecot_cmd dovecot --version 2>/dev/null | sed -n '1s/[- ].*//p')
	case $DOVECOT_VERSION in
	2.3.*) DOVECOT_API=2.3 ;;
	2.4.*) DOVECOT_API=2.4 ;;
	*)
		DOVECOT_SETUP_ERROR="Dovecot version '$DOVECOT_VERSION'${DOVECOT_CHROOT:+ in $DOVECOT_CHROOT}: neither 2.3 nor 2.4"
		return 1
		;;
	esac
}

_dovecot_auth_module_dir() {
	# dovecot-config (dovecot-dev) names the module dir; 2.3.19 and 2.4
	# no longer print it in --build-options
	AUTH_MODULE_DIR=$(sed -n 's/^dovecot_moduledir="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' \
		"${DOVECOT_CHROOT:-}/usr/lib/dovecot/dovecot-config" 2>/dev/null)
	[ -n "$AUTH_MODULE_DIR" ] || AUTH_MODULE_DIR=/usr/lib/dovecot/modules
	AUTH_MODULE_DIR=$AUTH_MODULE_DIR/auth
}

# _dovecot_module_copy MODULE SRC_DIR DEST_DIR: DEST_DIR gets copies of
# SRC_DIR's modules and MODULE in place of its namesake
_dovecot_module_copy() {
	_dmc_name=$(basename "$1")
	mkdir -p "$3"
	cp "$1" "$3/$_dmc_name" || return 1
	for _dmc_m in "$2"/*.so; do
		[ -f "$_dmc_m" ] && [ "$(basename "$_dmc_m")" != "$_dmc_name" ] &&
			cp "$_dmc_m" "$3/"
	done
	return 0
}

dovecot_setup() {
	DV=$1
	DOVECOT_SETUP_ERROR=
	DOVECOT_MODULE_MODE=
	DOVECOT_SETTINGS_MODULE_DIR=
	_dovecot_init || return 1
	mkdir -p "$DV/mods" "$DV/mail"
	chown "$MAIL_UID:$MAIL_UID" "$DV/mail"
	_dovecot_auth_module_dir
	if [ -z "${2:-}" ]; then
		DOVECOT_MODULE_MODE=none
		return 0
	fi
	_dovecot_module_copy "$2" "${DOVECOT_CHROOT:-}$AUTH_MODULE_DIR" "$DV/mods" || {
		DOVECOT_SETUP_ERROR="cannot copy $2"
		return 1
	}
	if [ -n "${3:-}" ]; then
		_dovecot_module_copy "$3" "${DOVECOT_CHROOT:-}${AUTH_MODULE_DIR%/auth}/settings" \
			"$DV/setmods" || {
			DOVECOT_SETUP_ERROR="cannot copy $3"
			return 1
		}
		DOVECOT_SETTINGS_MODULE_DIR=${AUTH_MODULE_DIR%/auth}/settings
	fi

	_dv_name=$(basename "$2")
	if [ -n "${DOVECOT_CHROOT:-}" ]; then
		# the bind mounts are in each dovecot_cmd's own namespace
		DOVECOT_MODULE_MODE=chroot
	elif unshare -m true 2>/dev/null; then
		DOVECOT_MODULE_MODE=namespace
	elif [ -n "${3:-}" ]; then
		DOVECOT_SETUP_ERROR="no mount namespace (unshare -m): a settings module needs one"
		return 1
	elif [ -e "$AUTH_MODULE_DIR/$_dv_name" ]; then
		DOVECOT_SETUP_ERROR="no mount namespace (unshare -m) and $AUTH_MODULE_DIR/$_dv_name exists: not replacing an installed module"
		return 1
	else
		DOVECOT_MODULE_MODE=installed
		cp "$2" "$AUTH_MODULE_DIR/$_dv_name"
		# removed when the calling shell is gone, however it ends
		(
			while kill -0 $$ 2>/dev/null; do sleep 1; done
			rm -f "$AUTH_MODULE_DIR/$_dv_name"
		) </dev/null >/dev/null 2>&1 &
	fi
	return 0
}

dovecot_bearer_conf() {
	if [ "${DOVECOT_API:-2.3}" = 2.4 ]; then
		_dovecot_bearer_conf_24 "$@"
		return
	fi
	sed -e "s|/etc/mail-oauth2/verify.conf|$1|" -e "s|^  args = |  args = ${2:-} |" \
		"$TOP/conf.d/dovecot/10-mail-oauth2.conf" >"$DV/10-mail-oauth2-active.conf"
}

# 2.4: the shipped conf.d/dovecot/2.4/10-mail-oauth2.conf, its config_file
# the verify.conf path; each KEY=VALUE of PASSDB_OPTIONS (the 2.3 args'
# words: blocking=yes threads=2 ...) becomes the line KEY = VALUE of the
# passdb bearer { } block, in place of the snippet's own line of that key
# (a key the snippet has no line for, e.g. use_worker, at the block's end)
_dovecot_bearer_conf_24() {
	awk -v path="$1" -v opts="${2:-}" '
		BEGIN { n = split(opts, o, " "); for (i = 1; i <= n; i++) {
			k = o[i]; sub(/=.*/, "", k); v = o[i]; sub(/^[^=]*=/, "", v); set[k] = v } }
		/^passdb bearer \{/ { inblock = 1 }
		inblock && /^}/ {
			# keys the snippet does not list (e.g. use_worker): at the end
			for (k in set) print "  " k " = " set[k]
			for (k in set) delete set[k]
			inblock = 0
		}
		inblock && /^  [a-z_0-9]+ = / {
			k = $1
			if (k == "config_file") { print "  config_file = " path; next }
			if (k in set) { print "  " k " = " set[k]; delete set[k]; next }
		}
		{ print }
		END { bad = 0; for (k in set) { printf "dovecot_bearer_conf: no passdb bearer { } for %s\n", k > "/dev/stderr"; bad = 1 }; exit bad }
	' "$TOP/conf.d/dovecot/2.4/10-mail-oauth2.conf" >"$DV/10-mail-oauth2-active.conf"
}

dovecot_write_conf() {
	if [ "${DOVECOT_API:-2.3}" = 2.4 ]; then
		_dovecot_write_conf_24 "$1"
		return
	fi
	cat >"$DV/dovecot.conf" <<EOF
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
listen = 127.0.0.1
protocols = imap pop3 submission lmtp
hostname = mail.example.test
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
ssl = no
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
submission_relay_host = 127.0.0.1
submission_relay_port = $P_RELAY

$1

userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_UID home=$DV/mail/%u allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    port = $P_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $P_POP3
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = $P_SUBM
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $P_LMTP
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
${DOVECOT_EXTRA_CONF:-}
EOF
}

# Dovecot 2.4 refuses the 2.3 syntax. The config starts with
# dovecot_config_version (the defaults of that version apply) and
# dovecot_storage_version; disable_plaintext_auth is auth_allow_cleartext;
# mail_location is mail_driver + mail_path; %u is %{user}; a passdb or
# userdb is a named block (the name is the driver unless driver = says
# otherwise) whose settings are keys of their own (no args, userdb fields
# in fields { }, passdb mechanisms is mechanisms_filter, use_worker
# replaces blocking); an inet_listener has listen, not address; the inbox
# namespace is declared.
_dovecot_write_conf_24() {
	cat >"$DV/dovecot.conf" <<EOF
dovecot_config_version = $DOVECOT_VERSION
dovecot_storage_version = $DOVECOT_VERSION
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
listen = 127.0.0.1
protocols = imap pop3 submission lmtp
hostname = mail.example.test
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
ssl = no
auth_allow_cleartext = yes
# 2.4 delays every temporary failure by 2-3 s (2.3 does not): callers that
# want it set it again after this
auth_internal_failure_delay = 0
mail_driver = maildir
mail_path = %{home}/Maildir
submission_relay_host = 127.0.0.1
submission_relay_port = $P_RELAY
namespace inbox {
  inbox = yes
}

$1

userdb static {
  fields {
    uid = $MAIL_UID
    gid = $MAIL_UID
    home = $DV/mail/%{user}
  }
  allow_all_users = yes
}
service imap-login {
  inet_listener imap {
    port = $P_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $P_POP3
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = $P_SUBM
  }
}
service lmtp {
  inet_listener lmtp {
    listen = 127.0.0.1
    port = $P_LMTP
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
${DOVECOT_EXTRA_CONF:-}
EOF
}

_dovecot_port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null
}

dovecot_start() {
	rm -f "$DV/run/master.pid"
	if [ -n "${DOVECOT_CHROOT:-}" ]; then
		# the master keeps its mount namespace (and so its bind mounts)
		# until it exits
		dovecot_cmd dovecot -c "$DV/dovecot.conf" >"$DV/start.out" 2>&1
	elif [ "$DOVECOT_MODULE_MODE" = namespace ]; then
		_dovecot_in_namespace dovecot -c "$DV/dovecot.conf" >"$DV/start.out" 2>&1
	else
		dovecot -c "$DV/dovecot.conf" >"$DV/start.out" 2>&1
	fi
	_ds_i=0
	while [ ! -s "$DV/run/master.pid" ] || ! _dovecot_port_open "$P_IMAP"; do
		_ds_i=$((_ds_i + 1))
		if [ $_ds_i -ge 100 ]; then
			cat "$DV/start.out" "$DV/dovecot.log" 2>/dev/null | tail -n 20
			return 1
		fi
		sleep 0.1
	done
	DOVECOT_PID=$(cat "$DV/run/master.pid")
	on_exit_kill "$DOVECOT_PID"
}

dovecot_stop() {
	[ -n "$DOVECOT_PID" ] || return 0
	kill "$DOVECOT_PID" 2>/dev/null
	_dst_i=0
	while kill -0 "$DOVECOT_PID" 2>/dev/null && [ $_dst_i -lt 100 ]; do
		sleep 0.1
		_dst_i=$((_dst_i + 1))
	done
	kill -0 "$DOVECOT_PID" 2>/dev/null && return 1
	DOVECOT_PID=
	# the chroot's empty mount point of WORK, now that the master is gone
	[ -n "${DOVECOT_CHROOT:-}" ] && moa2_chroot_rmdir_bind "$DOVECOT_CHROOT" "${WORK:-$DV}"
	return 0
}

dovecot_auth_pids() {
	for _dap in $(pgrep -P "$DOVECOT_PID"); do
		# workers run as "auth -w"
		case $(tr '\0' ' ' <"/proc/$_dap/cmdline" 2>/dev/null) in
		'dovecot/auth -w '* | dovecot/auth-worker*) echo "$_dap auth-worker" ;;
		'dovecot/auth '*) echo "$_dap auth" ;;
		esac
	done
}

# ---------------------------------------------------------------- Postfix

dovecot_postfix_conf() {
	PF=$1
	mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
	chown postfix "$PF/data"
	cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_transport = lmtp:inet:127.0.0.1:$P_LMTP
local_recipient_maps =
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP test
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DV/run/auth-postfix
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
EOF
	cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$P_SMTPD inet n - n - - smtpd
127.0.0.1:$P_RELAY inet n - n - - smtpd -o smtpd_sasl_auth_enable=no -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

dovecot_postfix_start() {
	POSTFIX_PID=
	if postfix -c "$PF/etc" start >"$PF/start.out" 2>&1; then
		_pf_i=0
		while [ ! -s "$PF/queue/pid/master.pid" ] && [ $_pf_i -lt 100 ]; do
			sleep 0.1
			_pf_i=$((_pf_i + 1))
		done
		POSTFIX_PID=$(tr -d ' ' <"$PF/queue/pid/master.pid" 2>/dev/null)
	fi
	if [ -n "$POSTFIX_PID" ] && kill -0 "$POSTFIX_PID" 2>/dev/null; then
		on_exit_kill "$POSTFIX_PID"
		return 0
	fi
	# postfix writes its fatal errors to stderr only when that is a tty
	command -v script >/dev/null 2>&1 &&
		script -qc "postfix -c '$PF/etc' check" /dev/null >>"$PF/start.out" 2>&1
	POSTFIX_PID=
	return 1
}

dovecot_postfix_stop() {
	[ -n "$POSTFIX_PID" ] || return 0
	postfix -c "$PF/etc" stop >/dev/null 2>&1
	_pfs_i=0
	while kill -0 "$POSTFIX_PID" 2>/dev/null && [ $_pfs_i -lt 100 ]; do
		sleep 0.1
		_pfs_i=$((_pfs_i + 1))
	done
	kill -0 "$POSTFIX_PID" 2>/dev/null && return 1
	POSTFIX_PID=
	return 0
}
