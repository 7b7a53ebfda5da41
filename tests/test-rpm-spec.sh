#!/bin/sh
# SPDX-License-Identifier: MIT
# The RPM spec builds: as root on a Debian system with dovecot-dev (tests/
# run-all runs it in the Debian 13 chroot, against Dovecot 2.4.1, the
# Dovecot series Fedora ships):
#   tests/test-rpm-spec.sh
# Makes the release tarball (make dist) and builds the binary RPMs from it
# with Debian's rpmbuild: `rpmbuild -tb --nodeps` (Debian has no RPM
# dependencies to resolve; the build itself, %check included, is the
# spec's), Dovecot where Debian keeps it (--define dovecot_dir), then
# checks the packages: the three of them, the Dovecot module (and on
# Dovecot 2.4 its settings module) in the Dovecot subpackage, the SASL
# plugin in the cyrus-sasl one, the tool and the examples in the main one,
# no .la. Prints "ok N - ..." / "not ok N - ..." lines, then
# "rpm-spec: N passed, M failed"; exit 1 on a failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$top/tests/lib-deps.sh"
# shellcheck disable=SC2086 # a word list
moa2_install_deps rpm $MOA2_BUILD_DEPS || exit 1

n=0
passed=0
failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}
finish() {
	echo "rpm-spec: $passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-rpm-spec.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
abi=$(cat /usr/share/dovecot/dovecot-abi 2>/dev/null)

# the release tarball, from a configured out-of-tree build
mkdir "$tmp/dist"
if (cd "$tmp/dist" && "$top/configure" >configure.out 2>&1 && make dist >dist.out 2>&1); then
	tarball=$(ls "$tmp"/dist/mail-oauth2-*.tar.gz)
	ok "make dist: $(basename "$tarball")"
else
	not_ok "make dist" "$(tail -n 20 "$tmp/dist/configure.out" "$tmp/dist/dist.out" 2>/dev/null)"
	finish
fi

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
if rpmbuild -tb --nodeps "$tarball" \
	--define "_topdir $tmp/rpm" \
	--define "dovecot_dir /usr/lib/dovecot" \
	--define "_libdir /usr/lib/$multiarch" \
	--define "_docdir /usr/share/doc" \
	--define "_sharedstatedir /var/lib" >"$tmp/rpmbuild.out" 2>&1; then
	ok "rpmbuild -tb builds the spec against Dovecot $abi (%check: the unit tests)"
else
	not_ok "rpmbuild -tb builds the spec against Dovecot $abi" "$(tail -n 30 "$tmp/rpmbuild.out")"
	finish
fi

rpm_of() { ls "$tmp"/rpm/RPMS/*/"$1"-[0-9]*.rpm 2>/dev/null | head -n 1; }
for p in mail-oauth2 mail-oauth2-dovecot mail-oauth2-cyrus-sasl; do
	if [ -n "$(rpm_of "$p")" ]; then ok "the package $p"; else not_ok "the package $p" "$(ls -R "$tmp/rpm/RPMS")"; fi
done

# has PACKAGE PATTERN DESCRIPTION: a file of the package matches PATTERN
has() {
	if rpm -qlp "$(rpm_of "$1")" 2>/dev/null | grep -qE "$2"; then
		ok "$1: $3"
	else
		not_ok "$1: $3" "$(rpm -qlp "$(rpm_of "$1")" 2>&1)"
	fi
}
has mail-oauth2-dovecot '/auth/libauthdb_bearer\.so$' "the Dovecot auth module"
case $abi in
2.4.*) has mail-oauth2-dovecot '/settings/libmail_oauth2_settings\.so$' "the settings module (Dovecot 2.4)" ;;
esac
has mail-oauth2-cyrus-sasl '/sasl2/libmail-oauth2\.so$' "the Cyrus SASL plugin"
has mail-oauth2 '^/usr/bin/mail-oauth2$' "the tool"
has mail-oauth2 '/examples/mail-oauth2-verify\.conf\.example$' "the examples"
if rpm -qlp "$tmp"/rpm/RPMS/*/*.rpm 2>/dev/null | grep -q '\.la$'; then
	not_ok "no libtool archive in any package"
else
	ok "no libtool archive in any package"
fi
finish
