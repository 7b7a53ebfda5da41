# SPDX-License-Identifier: MIT
# Sourced by tests/run-all and tests/demo: installs the Debian packages the
# build and the tests need, only those that are missing.

# build: compiler, autotools, the libraries and their headers
MOA2_BUILD_DEPS="gcc make autoconf automake libtool pkg-config libssl-dev
libjson-c-dev check libsubunit-dev dovecot-dev libsasl2-dev
openssl ca-certificates"
# sanitizers and libFuzzer
MOA2_SANITIZER_DEPS="clang libclang-rt-14-dev"
# integration tests: real servers and real clients
# (Dovecot and Postfix are started by the tests themselves, from their own
# config under a temp dir; their packages' services are never started)
MOA2_INTEGRATION_DEPS="python3 curl dovecot-core dovecot-imapd dovecot-pop3d
dovecot-submissiond dovecot-lmtpd postfix swaks util-linux bsdutils
libsasl2-modules sasl2-bin isync msmtp python3-cryptography fail2ban"
# Debian chroots of other releases (tests/support/debian-chroot.sh), to run
# the Dovecot tests against Dovecot 2.4 (trixie, sid): on the host...
MOA2_CHROOT_DEPS="debootstrap debian-archive-keyring util-linux"
# ... and inside each chroot: the Dovecot and Postfix under test, and the
# build deps (without clang: the sanitizer and fuzz builds stay on the host)
MOA2_CHROOT_PACKAGES="dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd
dovecot-submissiond dovecot-dev postfix gcc make autoconf automake libtool
pkg-config libssl-dev libcurl4-openssl-dev libjson-c-dev check libsubunit-dev
libsasl2-dev openssl ca-certificates python3 procps"

moa2_missing_packages() {
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
			printf '%s\n' "$pkg"
	done
}

# moa2_install_deps PKG...: apt-get installs what is missing (as root).
moa2_install_deps() {
	missing=$(moa2_missing_packages "$@" | tr '\n' ' ')
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages: $missing" >&2
		echo "run this as root, or first: apt-get install $missing" >&2
		return 1
	fi
	echo "== installing Debian packages: $missing"
	export DEBIAN_FRONTEND=noninteractive
	# postfix asks which kind of mail server this is: none
	echo 'postfix postfix/main_mailer_type select No configuration' |
		debconf-set-selections
	# packaged services (dovecot, postfix) must not start: the tests run
	# their own instances; a policy-rc.d of ours is removed again
	apt-get update -qq
	_moa2_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		_moa2_policy=yes
	fi
	_moa2_rc=0
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || _moa2_rc=$?
	[ -n "$_moa2_policy" ] && rm -f /usr/sbin/policy-rc.d
	return $_moa2_rc
}

# moa2_have_node: Node.js >= 18 with npm, for the test identity provider.
moa2_install_node() {
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		return 0
	fi
	moa2_install_deps nodejs npm
}
