#!/bin/sh
# SPDX-License-Identifier: MIT
# Install test of the Debian packages, as root on a Debian host:
#   tests/test-install.sh [--debs DIR] [SUITE...]
# For each SUITE (default: $MOA2_INSTALL_SUITES, else the list below), in a
# clean chroot made by tests/support/debian-chroot.sh (debootstrap
# --variant=minbase plus Dovecot and Postfix as a mail server has them,
# build/chroots-install/SUITE, created once and reused), seen through an
# overlay that is thrown away afterwards:
#  - the environment of a real server: the test provider's CA trusted,
#    the mail user alice, Postfix as an Internet site, Dovecot on a
#    loopback port of the test's (the chroot shares the host's network);
#  - the README's "Installing from packages" steps, exactly as written
#    between its markers (only the example values replaced by the test's,
#    and a systemctl that starts the daemons directly, as their units do);
#    after each step, checks: the packages and their directories; IMAP
#    logins with tokens of the test IdP (npm oidc-provider, on the host),
#    the JWKS saved in the packaged cache dir by Dovecot in its default
#    mode; the token store; one message relayed by the packaged Postfix
#    through the packaged Cyrus plugin (XOAUTH2, a token refresh inside
#    Postfix's chroot) to a receiving Postfix smtpd in the chroot that
#    verifies with the packaged server mechanism; the main.cf settings are
#    those of the shipped main.cf.microsoft365;
#  - apt-get remove: only conffiles and state are left; the README's purge:
#    nothing is left but the files the admin wrote, compared with the file
#    list (path, owner, mode) taken before the install.
# The packages: --debs DIR (those of tests/test-packaging.sh --keep-debs),
# else built by packaging/build-deb (DEB_BUILD_OPTIONS=nocheck): on the
# host for its own suite, in a build chroot (debian-chroot.sh's default
# set) for another. Prints "ok N - ..." / "not ok N - ..." lines, then
# "install: N passed, M failed" and the runtime; exit 1 on a failure.
# KEEP_WORK=1 keeps the temp dir (logs, the overlay's upper layer).
# (functions called through check and variables read by sourced files:
# shellcheck disable=SC2034,SC2317
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$top/tests/lib-deps.sh"

# Debian 12 (Dovecot 2.3) and Debian 13 (Dovecot 2.4)
SUITES=${MOA2_INSTALL_SUITES:-bookworm trixie}
# the mail server before our packages (libsasl2-modules: libsasl2-2
# recommends it, the chroot installs no recommends; sasl2-bin: a check)
BASE_PACKAGES="dovecot-imapd postfix libsasl2-modules ca-certificates sasl2-bin"
PACKAGES="mail-oauth2 dovecot-auth-mail-oauth2 libsasl2-modules-mail-oauth2"

debs_arg=
while [ $# -gt 0 ]; do
	case $1 in
	--debs) [ $# -ge 2 ] || { echo "usage: $0 [--debs DIR] [SUITE...]" >&2; exit 64; }
		debs_arg=$(cd "$2" && pwd) || exit 64; shift 2 ;;
	-*) echo "usage: $0 [--debs DIR] [SUITE...]" >&2; exit 64 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] && SUITES=$*

if [ -z "${_MOA2_INSTALL_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "test-install: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
	# shellcheck disable=SC2086 # word lists
	moa2_install_deps $MOA2_CHROOT_DEPS python3 curl openssl || exit 1
	moa2_install_node || exit 1
	# every mount of this test (the overlays) lives in a private namespace
	# and goes with it, however the test ends
	# shellcheck disable=SC2086 # a word list
	_MOA2_INSTALL_NS=1 exec unshare -m --propagation private sh "$0" ${debs_arg:+--debs "$debs_arg"} $SUITES
fi

start_time=$(date +%s)
# shellcheck source=/dev/null
. "$top/tests/integration/lib/common.sh"
# common.sh finds the tree from tests/integration/; this test is in tests/
TOP=$top ILIB=$top/tests/integration/lib TSUP=$top/tests/support
IDP_LIB_DIR=$ILIB
# shellcheck source=/dev/null
. "$ILIB/idp.sh"
# free_port, wait_for (and pf_* for the receiving relay, in the chroot)
# shellcheck source=/dev/null
. "$ILIB/postfix.sh"
# shellcheck disable=SC2034 # read by debian-chroot.sh
MOA2_TOP=$top
# shellcheck source=/dev/null
. "$top/tests/support/debian-chroot.sh"
INSTALL_BASE=$top/build/chroots-install

# ------------------------------------------------------------- cleanup

# the daemons the steps started (by PID, from their pid files) and the
# overlays, before common.sh removes WORK
_daemons=
_overlays=
install_cleanup() {
	for _p in $_daemons; do
		ours "$_p" && kill "$_p" 2>/dev/null
	done
	for _p in $_daemons; do
		_i=0
		while ours "$_p" && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
		ours "$_p" && kill -9 "$_p" 2>/dev/null
	done
	_daemons=
	for _o in $_overlays; do
		umount "$_o" 2>/dev/null || umount -l "$_o" 2>/dev/null
	done
	_overlays=
}
# shellcheck disable=SC2154 # _rc is set by the trap itself
trap '_rc=$?; install_cleanup; _common_cleanup; exit $_rc' EXIT
trap 'install_cleanup; _common_cleanup; exit 129' HUP
trap 'install_cleanup; _common_cleanup; exit 130' INT
trap 'install_cleanup; _common_cleanup; exit 143' TERM

# ours PID: PID runs in our chroot (a pid file's PID may be gone and reused)
ours() {
	[ "$(readlink "/proc/$1/root" 2>/dev/null)" = "$R" ]
}

# remember_daemons: the master PIDs in the chroot's pid files
remember_daemons() {
	for _f in "$R/run/dovecot/master.pid" "$R/var/spool/postfix/pid/master.pid" \
		"$SH/mx/queue/pid/master.pid"; do
		[ -s "$_f" ] || continue
		_p=$(tr -d ' \n' <"$_f")
		case " $_daemons " in *" $_p "*) ;; *) _daemons="$_daemons $_p" ;; esac
	done
}

# ------------------------------------------------------------- helpers

# in_chroot SCRIPT: runs the sh SCRIPT (a file under $SH) in the chroot
in_chroot() {
	MOA2_CHROOT_BINDS=$SH moa2_chroot_run "$R" env DEBIAN_FRONTEND=noninteractive sh "$@"
}

# chroot_sh NAME <<EOF: a script under $SH/scripts, run in the chroot;
# its output goes to $OUT/NAME.log (shown when it fails)
chroot_sh() {
	cat >"$SH/scripts/$1.sh"
	in_chroot "$SH/scripts/$1.sh" >"$OUT/$1.log" 2>&1
	_cs_rc=$?
	remember_daemons
	[ $_cs_rc = 0 ] || tail -n 30 "$OUT/$1.log" | sed "s/^/#   $1: /"
	return $_cs_rc
}

port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null
}

# snapshot NAME: path, owner and mode of everything under /etc, /usr and
# /var of the chroot, but for what the package manager, the logs and the
# daemons' own state change by themselves
snapshot() {
	cat >"$SH/scripts/snapshot.sh" <<'EOF'
find /etc /usr /var -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \
	-o -path /var/cache -o -path /var/log -o -path /var/spool/postfix \
	-o -path /var/lib/postfix -o -path /var/lib/dovecot -o -path /var/mail \
	-o -path /etc/ld.so.cache \) -prune -o -printf '%p %u:%g %m\n' | LC_ALL=C sort
EOF
	in_chroot "$SH/scripts/snapshot.sh" >"$OUT/snap-$1" 2>"$OUT/snap-$1.err"
}

# the paths of a snapshot only
paths_of() {
	cut -d' ' -f1 "$OUT/snap-$1"
}

# ------------------------------------------------- the README's steps

# readme_steps DIR: the steps between the README's markers, with the
# example values replaced, as DIR/step-N.sh; prints their number. Fails
# when an example value is missing (the README and this test drifted).
readme_steps() {
	python3 - "$top/README" "$1" \
		'https://sso.example.org/realms/mail' "$IDP_URL" \
		'audience = mail-server' 'audience = https://mail.test' \
		'CLIENT-SECRET' "$IDP_RELAY_SECRET" \
		'smtp.example.org]:587' "127.0.0.1]:$MX_PORT" \
		'smtp.example.org:587' "127.0.0.1:$MX_PORT" \
		'relay@example.org' 'alice@example.test' \
		'postmaster@example.net' 'postmaster@example.test' <<'EOF'
import re, sys
readme, outdir, subs = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(readme).read()
m = re.search(r"^-- begin install steps.*?--\n(.*?)^-- end install steps --$", text, re.S | re.M)
if not m:
    sys.exit("README: no '-- begin install steps' ... '-- end install steps --'")
block = m.group(1)
for old, new in zip(subs[0::2], subs[1::2]):
    if old not in block:
        sys.exit("README: the example value %r is not in the install steps" % old)
    if "'" in new:
        sys.exit("test value %r has a quote" % new)
    block = block.replace(old, new)
steps = {}
current = None
for line in block.split("\n"):
    n = re.match(r"^(\d+)\. ", line)
    if n:
        current = int(n.group(1))
        steps[current] = []
    elif line.startswith("    ") and current is not None:
        steps[current].append(line[4:])
if sorted(steps) != list(range(1, len(steps) + 1)):
    sys.exit("README: steps are not numbered 1..N: %s" % sorted(steps))
for n, lines in steps.items():
    if not lines:
        sys.exit("README: step %d has no commands" % n)
    with open("%s/step-%d.sh" % (outdir, n), "w") as f:
        f.write("\n".join(lines) + "\n")
print(len(steps))
EOF
}

# The shell of the admin: in the directory that holds build/deb, -e, and a
# systemctl doing what the packages' units do (dovecot.service runs
# dovecot; Debian 12's postfix@-.service runs configure-instance.sh, then
# postfix start; Debian 13's postfix.service postfix check, then postfix
# debian-systemd-start, which is postfix start outside systemd), as the
# chroot has no init system.
write_prelude() {
	cat >"$SH/scripts/prelude.sh" <<'EOF'
set -e
cd /root/mail-oauth2
_moa2_wait_gone() {
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 200 ]; do sleep 0.1; _i=$((_i + 1)); done
	! kill -0 "$1" 2>/dev/null
}
_moa2_dovecot() {
	case $1 in stop | restart)
		if [ -s /run/dovecot/master.pid ] && kill "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
			_moa2_wait_gone "$(cat /run/dovecot/master.pid)"
		fi ;;
	esac
	case $1 in start | restart) dovecot ;; reload) doveadm reload ;; esac
}
_moa2_postfix() {
	case $1 in stop | restart)
		if postfix status >/dev/null 2>&1; then
			_pid=$(tr -d ' ' </var/spool/postfix/pid/master.pid)
			postfix stop
			_moa2_wait_gone "$_pid"
		fi ;;
	esac
	case $1 in
	start | restart)
		# Debian 13's postfix.service; Debian 12's postfix@-.service
		if grep -q debian-systemd-start /usr/lib/systemd/system/postfix.service 2>/dev/null; then
			postfix check && postfix start
		else
			/usr/lib/postfix/configure-instance.sh - && postfix start
		fi ;;
	reload) postfix reload ;;
	esac
}
systemctl() {
	_act=$1
	shift
	for _unit; do
		case ${_unit%.service} in
		dovecot) _moa2_dovecot "$_act" ;;
		postfix) _moa2_postfix "$_act" ;;
		*) echo "systemctl (test): unknown unit $_unit" >&2; return 1 ;;
		esac
	done
}
set -x
EOF
}

# run_step N: the README's step N, its output in $OUT/step-N.log. A device
# code it prints is approved at the test IdP as alice (the admin in the
# browser).
run_step() {
	cat "$SH/scripts/prelude.sh" "$SH/steps/step-$1.sh" >"$SH/scripts/step-$1.sh"
	in_chroot "$SH/scripts/step-$1.sh" >"$OUT/step-$1.log" 2>&1 </dev/null &
	_rs_pid=$!
	_rs_approved=
	_rs_deadline=$(($(date +%s) + 300))
	while kill -0 "$_rs_pid" 2>/dev/null; do
		if [ -z "$_rs_approved" ] && grep -qs 'enter the code: ' "$OUT/step-$1.log"; then
			_rs_code=$(sed -n 's/.*enter the code: //p' "$OUT/step-$1.log" | head -n 1)
			idp_ctl "device/approve?user_code=$(idp_urlencode "$_rs_code")&account=alice" \
				>"$OUT/step-$1.approve" 2>&1
			_rs_approved=yes
		fi
		if [ "$(date +%s)" -ge "$_rs_deadline" ]; then
			echo "step $1: still running after 300 s, stopped" >>"$OUT/step-$1.log"
			kill_tree "$_rs_pid"
			_rs_deadline=$((_rs_deadline + 10))
		fi
		sleep 0.2
	done
	wait "$_rs_pid"
	_rs_rc=$?
	remember_daemons
	if [ $_rs_rc = 0 ]; then
		ok "README step $1 runs as written ($(step_title "$1"))"
	else
		not_ok "README step $1 runs as written ($(step_title "$1"))" \
			"exit $_rs_rc; the end of $OUT/step-$1.log:
$(tail -n 25 "$OUT/step-$1.log")"
	fi
	return $_rs_rc
}

step_title() {
	sed -n "/^-- begin install steps/,/^-- end install steps/s/^$1\\. //p" "$top/README" |
		cut -c1-50
}

# kill_tree PID: PID and its descendants (ours: a step that hangs)
kill_tree() {
	for _kt in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		kill_tree "$_kt"
	done
	kill "$1" 2>/dev/null
}

# login MECH [ARGS...] <TOKEN: an IMAP login at the chroot's Dovecot
# (lib/mail-login.py: 0 logged in, 1 refused, 2 tempfail, 3 other error)
login() {
	_lm=$1
	shift
	python3 "$ILIB/mail-login.py" imap 127.0.0.1 "$IMAP_PORT" --mech "$_lm" "$@" \
		>>"$OUT/login.out" 2>&1
}

# absent STRING FILE...: each FILE exists, none has STRING
absent() {
	_as=$1
	shift
	grep -F -q -e "$_as" "$@"
	[ $? = 1 ]
}

# installed_files PATH...: each a file of the installed packages
installed_files() {
	for _f; do
		if ! grep -qxF "$_f" "$OUT/pkgfiles" || [ ! -f "$R$_f" ]; then
			echo "missing: $_f"
			return 1
		fi
	done
}

# ----------------------------------------------------- the packages

# build_debs SUITE DIR: the binary packages for SUITE into DIR
build_debs() {
	mkdir -p "$2"
	if [ "$1" = "$(. /etc/os-release && echo "$VERSION_CODENAME")" ]; then
		if [ -z "$debs_arg" ]; then
			debs_arg=$WORK/build-$1
			DEB_BUILD_OPTIONS=nocheck "$top/packaging/build-deb" "$debs_arg" \
				>"$OUT/build-$1.log" 2>&1 || return 1
		fi
		cp "$debs_arg"/*.deb "$2"/
	else
		# another release: built in its build chroot, the source tree bound
		(
			unset MOA2_CHROOT_BASE
			# shellcheck disable=SC2086 # a word list
			moa2_chroot_ensure "$1" $MOA2_CHROOT_PACKAGES &&
				MOA2_CHROOT_BINDS=$top moa2_chroot_run "$MOA2_CHROOT_DIR" \
					env DEB_BUILD_OPTIONS=nocheck "$top/packaging/build-deb" "$top/build/deb-$1"
		) >"$OUT/build-$1.log" 2>&1 || return 1
		cp "$top/build/deb-$1"/*.deb "$2"/
	fi
}

# ---------------------------------------------------------- one suite

# the files the admin writes in the README's steps: purge leaves them
ADMIN_FILES="/etc/mail-oauth2/verify.conf /etc/mail-oauth2/client.conf
/etc/mail-oauth2/relay.secret /etc/dovecot/local.conf /etc/postfix/sasl_passwd
/etc/postfix/sasl_passwd.db"

run_suite() {
	suite=$1
	echo "# $suite"
	SH=$WORK/$suite/shared # bound into the chroot at the same path
	OUT=$WORK/$suite/out
	mkdir -p "$SH/scripts" "$SH/steps" "$SH/debs" "$OUT" "$WORK/$suite/upper" "$WORK/$suite/work" \
		"$WORK/$suite/root"
	chmod 755 "$WORK" "$WORK/$suite" "$SH" "$SH/scripts"

	t0=$(date +%s)
	if ! build_debs "$suite" "$SH/debs"; then
		not_ok "$suite: the packages build" "$(tail -n 30 "$OUT/build-$suite.log")"
		return
	fi
	ok "$suite: the packages ($(cd "$SH/debs" && echo *.deb))"

	t1=$(date +%s)
	MOA2_CHROOT_BASE=$INSTALL_BASE
	# shellcheck disable=SC2086 # a word list
	if ! moa2_chroot_ensure "$suite" $BASE_PACKAGES 2>"$OUT/ensure.log"; then
		not_ok "$suite: the clean chroot ($INSTALL_BASE/$suite)" "$(tail -n 20 "$OUT/ensure.log")"
		return
	fi
	base=$MOA2_CHROOT_DIR
	# no ensure changes the lower layer while it is mounted
	exec 8>"$INSTALL_BASE/.$suite.lock"
	flock -s 8
	R=$WORK/$suite/root
	mount -t overlay overlay -o "lowerdir=$base,upperdir=$WORK/$suite/upper,workdir=$WORK/$suite/work" "$R" ||
		{ not_ok "$suite: an overlay on the chroot"; return; }
	_overlays="$_overlays $R"
	ok "$suite: a clean chroot ($(($(date +%s) - t1)) s; $(sed -n 's/^created=//p' "$base/.moa2-chroot")), seen through an overlay"

	# ------------------------------------------- the server's environment
	IMAP_PORT=$(free_port)
	MX_PORT=$(free_port)
	# the test CA of the IdP, also for the receiving relay's certificate
	mkdir -p "$SH/tls"
	cp -p "$WORK/tls/"* "$SH/tls/"
	chmod 755 "$SH/tls"
	cp "$ILIB/postfix.sh" "$SH/scripts/postfix-lib.sh"
	if ! chroot_sh environment <<EOF; then
set -e
# a standard Debian system has the documentation (the test chroots leave it out)
printf 'force-unsafe-io\n' >/etc/dpkg/dpkg.cfg.d/moa2-chroot
# the admin answers apt-get's question
echo 'APT::Get::Assume-Yes "true";' >/etc/apt/apt.conf.d/90moa2-assume-yes
apt-get update -q
# the identity provider's certificate is trusted, as a real provider's is
cp $SH/tls/ca.pem /usr/local/share/ca-certificates/moa2-test-ca.crt
update-ca-certificates
useradd -m alice
# Postfix as configured for an Internet site, without an smtpd on the
# host's port 25, logging to a file (no syslog here)
printf '%s\n' 'postfix postfix/main_mailer_type select Internet Site' \
	'postfix postfix/mailname string relay.test' | debconf-set-selections
dpkg-reconfigure -f noninteractive postfix
postconf -e inet_interfaces=loopback-only maillog_file=/var/log/postfix.log
postconf -M# smtp/inet
# Dovecot on the test's port, logging to a file
cat >/etc/dovecot/conf.d/99-moa2-test.conf <<'CONF'
listen = 127.0.0.1
log_path = /var/log/dovecot.log
auth_verbose = yes
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
mkdir -p /root/mail-oauth2/build/deb
cp $SH/debs/*.deb /root/mail-oauth2/build/deb/
EOF
		not_ok "$suite: the server's environment"
		return
	fi
	ok "$suite: the server's environment (test CA trusted, user alice, Postfix, Dovecot on port $IMAP_PORT)"

	idp_ctl "stats?reset=1" >/dev/null
	if ! steps=$(readme_steps "$SH/steps" 2>"$OUT/steps.err"); then
		not_ok "the README's install steps can be extracted" "$(cat "$OUT/steps.err")"
		return
	fi
	check_eq "the README has 6 install steps" "$steps" 6
	write_prelude
	snapshot before

	# ---------------------------------------------- 1. the packages
	run_step 1 || return
	snapshot installed
	chroot_sh installed-state <<'EOF'
for p in mail-oauth2 dovecot-auth-mail-oauth2 libsasl2-modules-mail-oauth2; do
	dpkg-query -W -f='${Package} ${Status}\n' "$p"
	dpkg -L "$p" >>/root/pkgfiles
	dpkg-query -W -f='${Conffiles}\n' "$p" | awk 'NF { print $1 }' >>/root/conffiles
done
stat -c 'state %n %U:%G %a' /var/lib/mail-oauth2 /var/lib/mail-oauth2/tokens /etc/mail-oauth2
mail-oauth2 --version
apt-get check >/dev/null 2>&1 && echo "apt-check: ok"
echo "audit: $(dpkg --audit | wc -l)"
echo "mechs: $(env -u MAIL_OAUTH2_CONF saslpluginviewer -c 2>&1 | sed -n '/^Installed and properly configured/{n;p;}')"
EOF
	cp "$R/root/pkgfiles" "$OUT/pkgfiles" 2>/dev/null || : >"$OUT/pkgfiles"
	cp "$R/root/conffiles" "$OUT/conffiles" 2>/dev/null || : >"$OUT/conffiles"
	check_eq "the three packages are installed" \
		"$(grep -c ' install ok installed$' "$OUT/installed-state.log")" 3
	check "installed: the CLI, the Dovecot module and snippet, the SASL plugin, the examples" \
		installed_files /usr/bin/mail-oauth2 /usr/lib/dovecot/modules/auth/libauthdb_bearer.so \
		/etc/dovecot/conf.d/auth-mail-oauth2.conf.ext \
		"$(grep '/sasl2/libmail-oauth2\.so$' "$OUT/pkgfiles" || echo /usr/lib/MULTIARCH/sasl2/libmail-oauth2.so)" \
		/usr/share/doc/mail-oauth2/examples/mail-oauth2-verify.conf.example \
		/usr/share/doc/mail-oauth2/examples/main.cf.microsoft365
	check "the packaged mail-oauth2 runs" grep -q '^mail-oauth2 [0-9]' "$OUT/installed-state.log"
	check "the key cache /var/lib/mail-oauth2 is root:dovecot 0775 (Dovecot's auth process writes it)" \
		grep -qx 'state /var/lib/mail-oauth2 root:dovecot 775' "$OUT/installed-state.log"
	check "the token store /var/lib/mail-oauth2/tokens is postfix:postfix 0700" \
		grep -qx 'state /var/lib/mail-oauth2/tokens postfix:postfix 700' "$OUT/installed-state.log"
	check "saslpluginviewer -c lists XOAUTH2 and OAUTHBEARER from the system plugin dir" \
		grep -q '^mechs: .*XOAUTH2.*OAUTHBEARER\|^mechs: .*OAUTHBEARER.*XOAUTH2' "$OUT/installed-state.log"
	n_new=$(sed -n 's/^[0-9]* upgraded, \([0-9]*\) newly installed.*/\1/p' "$OUT/step-1.log")
	# (how many packages apt-get added depends on the base system: the
	# check is that every dependency is met, from the archive)
	check "apt-get installed them with their dependencies ($n_new new packages; apt-get check, dpkg --audit clean)" \
		sh -c "grep -qx 'apt-check: ok' '$OUT/installed-state.log' && grep -qx 'audit: 0' '$OUT/installed-state.log' && [ '${n_new:-0}' -ge 3 ]"

	# the receiving relay: a second Postfix in the chroot whose smtpd takes
	# XOAUTH2 with the packaged server mechanism (lib/postfix.sh)
	cat >"$SH/mx-verify.conf" <<EOF
cache_dir = $SH/mx/cache
ca_file = $SH/tls/ca.pem
[provider idp]
issuer = $IDP_URL
audience = https://mail.test
required_scopes = smtp
username_claims = email
EOF
	chroot_sh mx <<EOF
set -e
WORK=$SH
on_exit_kill() { :; }
. $SH/scripts/postfix-lib.sh
pf_new_cyrus_mx mx $MX_PORT example.test 65534 <<'CONF'
mech_list: XOAUTH2 OAUTHBEARER
mail_oauth2_verify_conf: $SH/mx-verify.conf
CONF
# the system's plugin dir: the packaged plugin
pf_conf mx 'import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C'
mkdir -p $SH/mx/cache $SH/mail
chown postfix $SH/mx/cache
chown 65534:65534 $SH/mail
pf_start mx
EOF
	check "the receiving smtpd (packaged Cyrus server mechanism) listens on port $MX_PORT" \
		wait_for 20 port_open "$MX_PORT"

	# --------------------------------------------------- 2. Dovecot
	run_step 2 || return
	check "Dovecot (packaged config, the include) listens on port $IMAP_PORT" \
		wait_for 20 port_open "$IMAP_PORT"
	tok=$(idp_token alice)
	remember_token "$tok"
	printf '%s\n' "$tok" | login XOAUTH2 --user alice
	check_eq "IMAP XOAUTH2 with a token of the provider: logged in" "$?" 0
	printf '%s\n' "$tok" | login OAUTHBEARER
	check_eq "IMAP OAUTHBEARER without authzid: logged in" "$?" 0
	bad=$(printf '%s' "$tok" | python3 -c 'import sys
h, p, s = sys.stdin.read().split(".")
print(h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])')
	printf '%s\n' "$bad" | login XOAUTH2 --user alice
	check_eq "IMAP XOAUTH2 with a forged signature: refused (exit 1)" "$?" 1

	# the JWKS is saved by Dovecot in its default mode (blocking=threads):
	# no copy on disk (the step's discover, run as root, left one), then a
	# login makes the auth process fetch and save the keys
	chroot_sh jwks-restart <<EOF
. $SH/scripts/prelude.sh
systemctl stop dovecot
rm -f /var/lib/mail-oauth2/example.*
mv /var/log/dovecot.log /var/log/dovecot.log.1
systemctl start dovecot
EOF
	wait_for 20 port_open "$IMAP_PORT"
	printf '%s\n' "$tok" | login XOAUTH2 --user alice
	check_eq "IMAP login after a restart without cached keys" "$?" 0
	chroot_sh jwks-state <<'EOF'
stat -c 'file %n %U:%G %a' /var/lib/mail-oauth2/example.jwks.json
grep -c 'cannot save' /var/log/dovecot.log || true
EOF
	check "the JWKS is saved in /var/lib/mail-oauth2 by Dovecot's auth process (user dovecot)" \
		grep -q '^file /var/lib/mail-oauth2/example.jwks.json dovecot:' "$OUT/jwks-state.log"
	check_eq "no 'cannot save the JWKS' in Dovecot's log" "$(tail -n 1 "$OUT/jwks-state.log")" 0

	# ------------------------------------------ 3. the relay account
	idp_ctl "ttl?seconds=5" >/dev/null # the stored access token expires soon
	run_step 3
	idp_ctl "ttl?seconds=600" >/dev/null
	check "device flow: the code was approved at the provider" grep -q '"approved":true' "$OUT/step-3.approve"
	chroot_sh token-state <<'EOF'
stat -c 'file %n %U:%G %a' /var/lib/mail-oauth2/tokens/relay.json
EOF
	check "the token store tokens/relay.json is postfix's, mode 0600" \
		grep -qx 'file /var/lib/mail-oauth2/tokens/relay.json postfix:postfix 600' "$OUT/token-state.log"
	check "token test-smtp: XOAUTH2 accepted by the relay" grep -q '^S: 235 ' "$OUT/step-3.log"

	# --------------------------------------------------- 4. Postfix
	idp_ctl "stats?reset=1" >/dev/null
	run_step 4
	wait_for 90 sh -c "[ \$(find '$SH/mail/box/new' -type f 2>/dev/null | wc -l) -ge 1 ]"
	check_eq "the message is relayed (XOAUTH2) and delivered at the receiving side" \
		"$(find "$SH/mail/box/new" -type f 2>/dev/null | wc -l)" 1
	check "the relay's log: status=sent" grep -q 'status=sent' "$R/var/log/postfix.log"
	chrooted=0
	for pid in $(pgrep -x smtp); do
		[ "$(readlink "/proc/$pid/root")" = "$R/var/spool/postfix" ] && chrooted=$((chrooted + 1))
	done
	check "the relay's smtp ran chrooted in /var/spool/postfix" test "$chrooted" -ge 1
	check "the receiving side's log: sasl_username=alice@example.test" \
		grep -q 'sasl_username=alice@example.test' "$SH/mx/maillog"
	n_refresh=$(idp_ctl stats | python3 -c 'import json, sys
print(json.load(sys.stdin)["token_by_grant"].get("refresh_token", 0))')
	check_eq "Postfix's chrooted smtp refreshed the expired access token (one refresh request)" "$n_refresh" 1
	for f in access_token refresh_token; do
		remember_token "$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$R/var/lib/mail-oauth2/tokens/relay.json" "$f" 2>/dev/null)"
	done
	# the README's main.cf settings are the shipped main.cf.microsoft365's
	mkdir -p "$SH/m365"
	cp "$R/usr/share/doc/mail-oauth2/examples/main.cf.microsoft365" "$SH/m365/main.cf"
	chroot_sh main-cf <<EOF
postconf -c $SH/m365 -n 2>/dev/null | while read -r key eq value; do
	case \$key in relayhost | config_directory) continue ;; esac
	printf '%s = %s | %s\n' "\$key" "\$value" "\$(postconf -h "\$key")"
done
echo "relayhost = \$(postconf -h relayhost)"
EOF
	check "the example's main.cf settings are all in main.cf (README step 4 = main.cf.microsoft365)" \
		awk -F' [|] ' '/ [|] / { n++; split($1, a, " = "); if (a[2] != $2) { print "differs: " $0; bad = 1 } }
			END { exit bad || n < 8 }' "$OUT/main-cf.log"
	check "main.cf: relayhost = [127.0.0.1]:$MX_PORT" grep -qxF "relayhost = [127.0.0.1]:$MX_PORT" "$OUT/main-cf.log"

	# ----------------------------------------- 5. Dovecot without it
	run_step 5
	check "Dovecot runs again without the include" wait_for 20 port_open "$IMAP_PORT"
	printf '%s\n' "$tok" | login XOAUTH2 --user alice
	check "without the include no XOAUTH2 login" test "$?" != 0

	# ------------------------------------------------ remove, purge
	chroot_sh remove <<EOF
apt-get remove -q $PACKAGES
EOF
	check_eq "apt-get remove of the three packages" "$?" 0
	snapshot removed
	# what of the packages is left: conffiles, and the directories that
	# hold the admin's files or the packages' state
	paths_of before >"$OUT/before.paths"
	paths_of removed >"$OUT/removed.paths"
	left=$(while read -r p; do
		grep -qxF "$p" "$OUT/removed.paths" || continue
		grep -qxF "$p" "$OUT/conffiles" && continue
		grep -qxF "$p" "$OUT/before.paths" && [ -d "$R$p" ] && continue # shared dirs
		case $p in /etc/mail-oauth2 | /var/lib/mail-oauth2) continue ;; esac
		echo "$p"
	done <"$OUT/pkgfiles")
	check_eq "after remove only conffiles and state are left" "$left" ""
	check "after remove: the conffile /etc/dovecot/conf.d/auth-mail-oauth2.conf.ext stays" \
		grep -q '^/etc/dovecot/conf.d/auth-mail-oauth2.conf.ext ' "$OUT/snap-removed"
	check "after remove: /var/lib/mail-oauth2 is root:root 0755 again (state kept)" \
		grep -qx '/var/lib/mail-oauth2 root:root 755' "$OUT/snap-removed"

	run_step 6
	snapshot purged
	chroot_sh purged-state <<EOF
for p in $PACKAGES; do dpkg-query -W -f='\${Package} \${Status}\n' "\$p" 2>/dev/null; done
true
EOF
	check_eq "after purge dpkg has none of the packages" \
		"$(grep -v ' not-installed$' "$OUT/purged-state.log" | grep -c .)" 0
	# shellcheck disable=SC2086 # a word list
	printf '%s\n' $ADMIN_FILES /etc/mail-oauth2 | while read -r p; do
		grep "^$p " "$OUT/snap-purged"
	done | LC_ALL=C sort >"$OUT/admin-left"
	LC_ALL=C comm -3 "$OUT/snap-before" "$OUT/snap-purged" | sed 's/^\t/+ /; t; s/^/- /' >"$OUT/purge-diff"
	unexpected=$({
		sed -n 's/^+ //p' "$OUT/purge-diff" | LC_ALL=C comm -23 - "$OUT/admin-left"
		sed -n 's/^- /changed or gone: /p' "$OUT/purge-diff"
	})
	check_eq "after purge nothing is left but the admin's own files" "$unexpected" ""
	n_admin=$(printf '%s\n' $ADMIN_FILES | grep -c .)
	check_eq "the admin's files stay after purge ($n_admin, and /etc/mail-oauth2 holding some)" \
		"$(grep -c . "$OUT/admin-left")" "$((n_admin + 1))"

	logs="$R/var/log/dovecot.log.1 $R/var/log/dovecot.log $R/var/log/postfix.log $SH/mx/maillog"
	# shellcheck disable=SC2086 # a word list
	assert_no_tokens "$OUT"/*.log $logs
	# (the steps' own trace has the secret: the admin typed it)
	# shellcheck disable=SC2086
	check "the client secret is in no log of Dovecot or Postfix" absent "$IDP_RELAY_SECRET" $logs
	echo "# $suite: $(($(date +%s) - t0)) s (packages $((t1 - t0)) s)"
}

# ------------------------------------------------------------------ main

test_ca >/dev/null
IDP_LOG=0 idp_start "$WORK/idp" >"$WORK/idp-start.log" 2>&1 || {
	cat "$WORK/idp-start.log"
	exit 1
}
for s in $SUITES; do
	R=
	run_suite "$s"
	install_cleanup
	flock -u 8 2>/dev/null
done
echo "# runtime: $(($(date +%s) - start_time)) s"
summary install
