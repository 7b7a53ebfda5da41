#!/bin/sh
# SPDX-License-Identifier: MIT
# Packaging test, as root on Debian 12 (Dovecot 2.3) or, for Dovecot 2.4,
# in a Debian 13 chroot (tests/run-all: debian-chroot.sh run trixie ...):
#   tests/test-packaging.sh [--keep-debs DIR]
# Builds the Debian packages (binary and source) with packaging/build-deb in
# a temporary directory and checks them: the set of packages, exactly the
# files each one ships, the conffiles, no libtool archive, no build path,
# the dependencies (Dovecot ABI, Cyrus SASL, the tool), the copyright file
# (MIT, COPYING's text), the symbols the plugins export, that the packaged
# SASL plugin loads and offers its mechanisms, that the packaged tool runs,
# and that lintian reports no error (its warnings are listed).
# --keep-debs DIR copies the binary packages into DIR when the build
# succeeded (tests/run-all hands them to tests/test-install.sh, which
# installs them in clean chroots). Prints "ok N - ..." / "not ok N - ..."
# lines, then "packaging: N passed, M failed" and the runtime.
# (the case functions are called through check: SC2317 does not see it)
# shellcheck disable=SC2317,SC2012
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)
keep_debs=
case "${1:-}" in
--keep-debs) [ $# = 2 ] || { echo "usage: $0 [--keep-debs DIR]" >&2; exit 64; }; keep_debs=$2 ;;
"") ;;
*) echo "usage: $0 [--keep-debs DIR]" >&2; exit 64 ;;
esac

# shellcheck source=/dev/null
. "$top/tests/lib-deps.sh"
# lintian, saslpluginviewer (sasl2-bin), nm/readelf (binutils)
moa2_install_deps lintian sasl2-bin binutils

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
debs=$tmp/debs
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
packages="mail-oauth2 dovecot-auth-mail-oauth2 libsasl2-modules-mail-oauth2"
# the Dovecot built against: 2.4 adds the settings module and has its own snippet
dovecot_abi=$(tr '[:upper:]' '[:lower:]' </usr/share/dovecot/dovecot-abi)
settings_module=
snippet=conf.d/dovecot/10-mail-oauth2.conf
metrics_snippet=conf.d/dovecot/95-mail-oauth2-metrics.conf
case $dovecot_abi in
2.4.*)
	settings_module=/usr/lib/dovecot/modules/settings/libmail_oauth2_settings.so
	snippet=conf.d/dovecot/2.4/10-mail-oauth2.conf
	metrics_snippet=conf.d/dovecot/2.4/95-mail-oauth2-metrics.conf
	;;
esac

n=0
passed=0
failed=0
# check DESCRIPTION FUNCTION [ARGS...]: one case; it passes when the
# function returns 0. What the function writes to $tmp/detail is shown
# under a failing case.
check() {
	desc=$1
	shift
	n=$((n + 1))
	: >"$tmp/detail"
	if "$@"; then
		passed=$((passed + 1))
		echo "ok $n - $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$tmp/detail"
	fi
	return 0
}
note() { sed 's/^/#   /' "$tmp/detail"; }
finish() {
	echo "packaging: $passed passed, $failed failed"
	echo "# runtime: $(($(date +%s) - start)) s"
	[ "$failed" = 0 ] && exit 0
	exit 1
}

deb_of() { ls "$debs/$1"_*_"$arch".deb 2>/dev/null | head -n 1; }
# the files and symlinks of a package (directories left out), one per line
deb_files() {
	dpkg-deb -c "$(deb_of "$1")" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' | sort
}

# ---------------------------------------------------------------- build
build_packages() {
	mkdir -p "$tmp/t"
	# build paths then all start with $tmp (checked below)
	TMPDIR=$tmp/t BUILD_SOURCE=1 "$top/packaging/build-deb" "$debs" >"$tmp/build.out" 2>&1 ||
		{ tail -n 40 "$tmp/build.out" >"$tmp/detail"; return 1; }
}
check "packaging/build-deb builds the source and binary packages (make check included)" build_packages
if [ "$failed" != 0 ]; then
	finish
fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR|SKIP):' "$debs/build-deb.log" >"$tmp/detail" || true
note
if [ -n "$keep_debs" ]; then
	mkdir -p "$keep_debs"
	rm -f "$keep_debs"/*.deb
	cp "$debs"/*.deb "$keep_debs"/
fi

package_set() {
	ls "$debs"/*.deb | sed 's|.*/||; s|_.*||; s|-dbgsym$||' | sort -u >"$tmp/got"
	# shellcheck disable=SC2086 # a word list
	printf '%s\n' $packages | sort >"$tmp/want"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}
check "exactly the packages $packages (and their -dbgsym)" package_set

# expect_files PACKAGE FILE...: the package ships exactly these files
expect_files() {
	pkg=$1
	shift
	printf '%s\n' "$@" | sort >"$tmp/want"
	deb_files "$pkg" >"$tmp/got"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}
doc=/usr/share/doc
ex=$doc/mail-oauth2/examples
lo=/usr/share/lintian/overrides
check "mail-oauth2: the CLI, its man page, README, the examples, a lintian override" expect_files mail-oauth2 \
	/usr/bin/mail-oauth2 /usr/share/man/man1/mail-oauth2.1.gz \
	$doc/mail-oauth2/README.gz $doc/mail-oauth2/changelog.Debian.gz $doc/mail-oauth2/copyright \
	$ex/mail-oauth2-client.conf.example \
	$ex/mail-oauth2-verify.conf.example $ex/main.cf.gmail $ex/main.cf.microsoft365 \
	$ex/sasl_passwd.gmail $ex/sasl_passwd.microsoft365 $ex/smtpd.conf.example \
	$lo/mail-oauth2
check "dovecot-auth-mail-oauth2: the module in Dovecot's auth module dir${settings_module:+, the settings module}, its conf.d snippets" \
	expect_files dovecot-auth-mail-oauth2 \
	/usr/lib/dovecot/modules/auth/libauthdb_bearer.so $settings_module \
	/etc/dovecot/conf.d/auth-mail-oauth2.conf.ext \
	/etc/dovecot/conf.d/auth-mail-oauth2-metrics.conf.ext \
	$doc/dovecot-auth-mail-oauth2/README.Debian \
	$doc/dovecot-auth-mail-oauth2/changelog.Debian.gz $doc/dovecot-auth-mail-oauth2/copyright \
	$lo/dovecot-auth-mail-oauth2
check "libsasl2-modules-mail-oauth2: the plugin in /usr/lib/$multiarch/sasl2" \
	expect_files libsasl2-modules-mail-oauth2 \
	"/usr/lib/$multiarch/sasl2/libmail-oauth2.so" \
	$doc/libsasl2-modules-mail-oauth2/README.Debian \
	$doc/libsasl2-modules-mail-oauth2/changelog.Debian.gz $doc/libsasl2-modules-mail-oauth2/copyright \
	$lo/libsasl2-modules-mail-oauth2

state_dirs() {
	dpkg-deb -c "$(deb_of mail-oauth2)" | awk '{ print $1, $2, $6 }' |
		grep -E ' \./(etc/mail-oauth2|var/lib/mail-oauth2)/$' >"$tmp/got" || true
	printf '%s\n' 'drwxr-xr-x root/root ./etc/mail-oauth2/' \
		'drwxr-xr-x root/root ./var/lib/mail-oauth2/' >"$tmp/want"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}
check "mail-oauth2 ships /etc/mail-oauth2 and /var/lib/mail-oauth2 (root, 0755)" state_dirs

# conffiles PACKAGE [FILE...]: the package's conffiles are exactly these
conffiles() {
	pkg=$1
	shift
	printf '%s\n' "$@" | sed '/^$/d' | sort >"$tmp/want"
	dpkg-deb --ctrl-tarfile "$(deb_of "$pkg")" | tar -xOf - ./conffiles 2>/dev/null |
		sed '/^$/d' | sort >"$tmp/got" || true
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}
check "conffiles: dovecot-auth-mail-oauth2 has its Dovecot snippets" conffiles \
	dovecot-auth-mail-oauth2 /etc/dovecot/conf.d/auth-mail-oauth2.conf.ext \
	/etc/dovecot/conf.d/auth-mail-oauth2-metrics.conf.ext
check "conffiles: mail-oauth2 has none" conffiles mail-oauth2
check "conffiles: libsasl2-modules-mail-oauth2 has none" conffiles libsasl2-modules-mail-oauth2

snippet_is_upstream() {
	dpkg-deb --fsys-tarfile "$(deb_of dovecot-auth-mail-oauth2)" |
		tar -xOf - ./etc/dovecot/conf.d/auth-mail-oauth2.conf.ext >"$tmp/got" 2>"$tmp/detail" &&
		diff "$top/$snippet" "$tmp/got" >"$tmp/detail"
}
check "the packaged Dovecot snippet is $snippet (Dovecot ABI $dovecot_abi)" snippet_is_upstream
metrics_snippet_is_upstream() {
	dpkg-deb --fsys-tarfile "$(deb_of dovecot-auth-mail-oauth2)" |
		tar -xOf - ./etc/dovecot/conf.d/auth-mail-oauth2-metrics.conf.ext >"$tmp/got" 2>"$tmp/detail" &&
		diff "$top/$metrics_snippet" "$tmp/got" >"$tmp/detail"
}
check "the packaged metrics snippet is $metrics_snippet" metrics_snippet_is_upstream

no_la() {
	for deb in "$debs"/*.deb; do
		dpkg-deb -c "$deb" | awk '{ print $6 }' |
			grep -E '\.la$|\.a$|^\./usr/include/|pkgconfig/' >>"$tmp/detail" || true
	done
	[ ! -s "$tmp/detail" ]
}
check "no libtool archive, static library, header or .pc file in any package" no_la

for pkg in $packages; do
	mkdir -p "$tmp/x/$pkg"
	dpkg-deb -x "$(deb_of "$pkg")" "$tmp/x/$pkg"
done
no_build_path() {
	grep -rlF -e "$tmp" -e "$top" "$tmp/x" >"$tmp/detail" || true
	[ ! -s "$tmp/detail" ]
}
check "no build path ($tmp/..., $top) in the packaged files" no_build_path

# deb_field PACKAGE FIELD
deb_field() { dpkg-deb -f "$(deb_of "$1")" "$2"; }
# depends_on PACKAGE DEP: DEP is one of PACKAGE's Depends alternatives
depends_on() {
	deb_field "$1" Depends >"$tmp/detail"
	tr ',' '\n' <"$tmp/detail" | sed 's/^ *//; s/ *$//' | grep -qxF "$2"
}
abi=dovecot-abi-$dovecot_abi
check "dovecot-auth-mail-oauth2 depends on $abi" depends_on dovecot-auth-mail-oauth2 "$abi"
version=$(deb_field mail-oauth2 Version)
check "dovecot-auth-mail-oauth2 depends on mail-oauth2 (= $version) (verify.conf, the key cache dir)" \
	depends_on dovecot-auth-mail-oauth2 "mail-oauth2 (= $version)"
check "libsasl2-modules-mail-oauth2 depends on libsasl2-modules" \
	depends_on libsasl2-modules-mail-oauth2 libsasl2-modules
check "libsasl2-modules-mail-oauth2 depends on libsasl2-2 (the library that loads it)" \
	depends_on libsasl2-modules-mail-oauth2 libsasl2-2

maintainer_scripts() {
	for pkg in $packages; do
		printf '%s:' "$pkg"
		dpkg-deb --ctrl-tarfile "$(deb_of "$pkg")" | tar -tf - | sed 's|^\./||' |
			grep -E '^(preinst|postinst|prerm|postrm)$' | sort | tr '\n' ' ' | sed 's/^./ &/; s/ $//'
		echo
	done >"$tmp/got"
	printf '%s\n' 'mail-oauth2: postinst postrm' 'dovecot-auth-mail-oauth2: postinst postrm' \
		'libsasl2-modules-mail-oauth2:' >"$tmp/want"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}
check "maintainer scripts: postinst and postrm of mail-oauth2 and dovecot-auth-mail-oauth2" maintainer_scripts

# copyright_mit PACKAGE: DEP-5, Files: * under MIT, with COPYING's text
copyright_mit() {
	f=$tmp/x/$1/usr/share/doc/$1/copyright
	head -n 1 "$f" | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
		{ echo "$f: not DEP-5" >"$tmp/detail"; return 1; }
	awk '/^Files: \*$/ { f = 1; next } f && /^License:/ { print; exit }' "$f" >"$tmp/got"
	echo 'License: MIT' >"$tmp/want"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail" || return 1
	# the permission text of COPYING, as the License: MIT paragraph has it
	sed -n '/^Permission is hereby granted/,$p' "$top/COPYING" |
		sed 's/^$/./; s/^/ /' >"$tmp/want"
	# the stand-alone License: MIT paragraph (after a blank line)
	awk 'prev == "" && /^License: MIT$/ { f = 1; next } f && !/^ / { exit } f { print } { prev = $0 }' \
		"$f" >"$tmp/got"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}

for pkg in $packages; do
	check "$pkg: copyright is DEP-5, Files: * under MIT with the text of COPYING" copyright_mit "$pkg"
done

# exports FILE SYMBOL...: the file's dynamic symbol table defines exactly these
exports() {
	file=$1
	shift
	printf '%s\n' "$@" | sort >"$tmp/want"
	nm -D --defined-only "$file" | awk '{ print $3 }' | sort >"$tmp/got"
	diff "$tmp/want" "$tmp/got" >"$tmp/detail"
}
check "the Dovecot module exports authdb_bearer_{version,init,deinit} only" exports \
	"$tmp/x/dovecot-auth-mail-oauth2/usr/lib/dovecot/modules/auth/libauthdb_bearer.so" \
	authdb_bearer_version authdb_bearer_init authdb_bearer_deinit
if [ -n "$settings_module" ]; then
	check "the settings module exports mail_oauth2_settings_{version,set_infos} only" exports \
		"$tmp/x/dovecot-auth-mail-oauth2$settings_module" \
		mail_oauth2_settings_version mail_oauth2_settings_set_infos
fi
check "the SASL plugin exports sasl_{client,server}_plug_init only" exports \
	"$tmp/x/libsasl2-modules-mail-oauth2/usr/lib/$multiarch/sasl2/libmail-oauth2.so" \
	sasl_client_plug_init sasl_server_plug_init

no_rpath() {
	for f in "$tmp/x/mail-oauth2/usr/bin/mail-oauth2" \
		"$tmp/x/dovecot-auth-mail-oauth2/usr/lib/dovecot/modules/auth/libauthdb_bearer.so" \
		${settings_module:+"$tmp/x/dovecot-auth-mail-oauth2$settings_module"} \
		"$tmp/x/libsasl2-modules-mail-oauth2/usr/lib/$multiarch/sasl2/libmail-oauth2.so"; do
		readelf -d "$f" | grep -E 'RPATH|RUNPATH' >>"$tmp/detail" || true
	done
	[ ! -s "$tmp/detail" ]
}
check "no RPATH/RUNPATH in the packaged binaries" no_rpath

# sasl_mechs -c|-s DIR: the mechanisms saslpluginviewer loads from DIR
sasl_mechs() {
	env -u MAIL_OAUTH2_CONF -u MAIL_OAUTH2_VERIFY_CONF saslpluginviewer "$1" -p "$2" >"$tmp/detail" 2>&1 || true
	sed -n '/^Installed and properly configured/{n;p;}' "$tmp/detail"
}
plugin_loads() {
	mechs=$(sasl_mechs "$1" "$2")
	case " $mechs " in *" XOAUTH2 "*) ;; *) return 1 ;; esac
	case " $mechs " in *" OAUTHBEARER "*) ;; *) return 1 ;; esac
}
sasldir=$tmp/x/libsasl2-modules-mail-oauth2/usr/lib/$multiarch/sasl2
check "the packaged SASL plugin loads: client mechanisms XOAUTH2 OAUTHBEARER" plugin_loads -c "$sasldir"
check "the packaged SASL plugin loads: server mechanisms XOAUTH2 OAUTHBEARER" plugin_loads -s "$sasldir"

cli_runs() {
	"$tmp/x/mail-oauth2/usr/bin/mail-oauth2" --version >"$tmp/detail" 2>&1 &&
		grep -qx "mail-oauth2 $(dpkg-deb -f "$(deb_of mail-oauth2)" Version | sed 's/-[^-]*$//')" "$tmp/detail"
}
check "the packaged mail-oauth2 runs and reports the package's upstream version" cli_runs

man_page() {
	gzip -dc "$tmp/x/mail-oauth2/usr/share/man/man1/mail-oauth2.1.gz" >"$tmp/man" 2>"$tmp/detail" &&
		grep -m 1 '^\.TH' "$tmp/man" >"$tmp/detail" &&
		grep -qE '^\.TH "?MAIL\\?-OAUTH2"? "?1"? ' "$tmp/detail"
}
check "the man page is a compressed mail-oauth2(1) page" man_page

lintian_clean() {
	# exit 0: it ran and found no error (a crash exits 2)
	rc=0
	lintian --pedantic -I "$debs"/*.changes >"$tmp/lintian.out" 2>&1 || rc=$?
	# lintian says so when it runs as root; that line is no finding
	grep -v '^running with root privileges' "$tmp/lintian.out" >"$tmp/lintian" || true
	grep -E '^[EW]: ' "$tmp/lintian" >"$tmp/detail" || true
	echo "lintian exit status $rc" >>"$tmp/detail"
	[ "$rc" = 0 ] && ! grep -qE '^[EW]: ' "$tmp/lintian"
}
check "lintian (--pedantic, source and binary packages): no error, no warning" lintian_clean
if [ -s "$tmp/lintian" ]; then
	sed 's/^/#   lintian: /' "$tmp/lintian"
else
	echo "#   lintian: no finding"
fi

finish
