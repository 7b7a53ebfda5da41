#!/bin/sh
# SPDX-License-Identifier: MIT
# Include discipline of the plugin tree (plugin/README, "Adding a host"):
#   1. outside plugin/core (every host adapter and the CLI: plugin/*/ but
#      core) a core header is included only from the public API,
#      plugin/core/include/mail-oauth2/;
#   2. no core file includes a Dovecot, Cyrus or other host header: every
#      quoted include of plugin/core resolves inside plugin/core (or is
#      config.h), and none includes <sasl/...> or <dovecot/...>;
#   3. the core talks to the network in one layer: <openssl/ssl.h> and the
#      socket headers (<sys/socket.h>, <netdb.h>) are included only by the
#      files of the connection layer, plugin/core/support/http-conn.c and
#      its parts http-tls.c and http-resolve.c (NETWORK_FILES); no libcurl
#      header anywhere in plugin/ (the project has its own HTTP client).
# OpenSSL is allowed in the core. The unit tests and fuzz targets of
# private core modules include private headers by design: not checked.
#
# The checks run on the repository, then on a scratch tree with one
# planted violation of each kind, which each must be reported (the test
# can fail). Output: "ok N - ..." / "not ok N - ..." and a summary line.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)

# Known exceptions to rule 1, one "FILE HEADER" a line. Reported on every
# run; an entry whose include is gone fails the test, so that the list only
# shrinks. Empty: every host and the CLI include public headers only.
KNOWN_PRIVATE_INCLUDES=''

# Rule 3: the files of the connection layer (support/http-conn-private.h).
NETWORK_FILES='plugin/core/support/http-conn.c
plugin/core/support/http-tls.c
plugin/core/support/http-resolve.c'

n=0
failed=0
passed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/#   /'
}

# includes FILE: "LINE KIND NAME" per #include, KIND q (quoted) or a (<>)
includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\(["<]\)\([^">]*\)[">].*/\1 \2/p' "$1" |
		sed 's/^"/q/; s/^</a/'
}

# in_core TOP DIR NAME: the quoted include NAME of a file in DIR resolves to
# a file of plugin/core (prints the path, relative to TOP), else nothing.
# As the compiler: the includer's directory first, then the -I dirs.
in_core() {
	for _ic in "$1/$2/$3" "$1/plugin/core/$3" "$1/plugin/core/include/$3"; do
		[ -f "$_ic" ] || continue
		_ic_dir=$(cd "$(dirname "$_ic")" && pwd -P)
		case $_ic_dir/ in
		"$1"/plugin/core/*) echo "${_ic_dir#"$1"/}/$(basename "$_ic")" ;;
		esac
		return
	done
}

# check_tree TOP: prints one line per violation ("FILE: ..."); the known
# exceptions as "known: FILE HEADER" lines
check_tree() {
	_t=$(cd "$1" && pwd -P)
	find "$_t/plugin" -name '*.[ch]' | LC_ALL=C sort | while read -r _f; do
		_rel=${_f#"$_t"/}
		_dir=$(dirname "$_rel")
		includes "$_f" | while read -r _kind _name; do
			case $_rel in
			plugin/core/*)
				if [ "$_kind" = q ]; then
					[ "$_name" = config.h ] && continue
					[ -n "$(in_core "$_t" "$_dir" "$_name")" ] && continue
					echo "$_rel: \"$_name\" is not a core header (a host's header in the core?)"
					continue
				fi
				case $_name in
				sasl/* | sasl.h | saslplug.h | dovecot/*)
					echo "$_rel: <$_name> is a host's header (the core includes none)" ;;
				curl/*)
					echo "$_rel: <$_name>: no libcurl in the project" ;;
				openssl/ssl.h | sys/socket.h | netdb.h)
					printf '%s\n' "$NETWORK_FILES" | grep -qxF "$_rel" ||
						echo "$_rel: <$_name>: only support/http-conn.c (and its http-tls.c, http-resolve.c) talks to the network" ;;
				esac
				;;
			*)
				case $_kind:$_name in
				a:curl/*)
					echo "$_rel: <$_name>: no libcurl in the project"
					continue ;;
				*:mail-oauth2/*) continue ;;
				a:*) continue ;;
				esac
				_hit=$(in_core "$_t" "$_dir" "$_name")
				case $_hit in
				'' | plugin/core/include/mail-oauth2/*) continue ;;
				esac
				if printf '%s\n' "$KNOWN_PRIVATE_INCLUDES" | grep -qxF "$_rel $_name"; then
					echo "known: $_rel $_name"
				else
					echo "$_rel: \"$_name\" is a private core header ($_hit): include <mail-oauth2/...> only"
				fi
				;;
			esac
		done
	done
}

# ------------------------------------------------------------ the tree

out=$(check_tree "$top")
violations=$(printf '%s\n' "$out" | grep -v '^known: ' | grep . || true)
known=$(printf '%s\n' "$out" | sed -n 's/^known: //p')
if [ -z "$violations" ]; then
	ok "plugin/: private core headers only in the core, no host or curl header in it, the network only in http-conn.c and its parts, no curl"
else
	not_ok "include discipline of plugin/ ($(printf '%s\n' "$violations" | wc -l) violations)" "$violations"
fi
if [ -n "$known" ]; then
	echo "# known exceptions (KNOWN_PRIVATE_INCLUDES, to be emptied):"
	printf '%s\n' "$known" | sed 's/^/#   /'
fi
stale=$(printf '%s\n' "$KNOWN_PRIVATE_INCLUDES" | grep . | while read -r _file _hdr; do
	printf '%s\n' "$known" | grep -qxF "$_file $_hdr" || echo "$_file $_hdr"
done)
if [ -z "$stale" ]; then
	ok "every KNOWN_PRIVATE_INCLUDES entry is still needed"
else
	not_ok "KNOWN_PRIVATE_INCLUDES lists includes that are gone: remove them from $0" "$stale"
fi

# ------------------------------------------------------------ the checks can fail

scratch=$(mktemp -d "${TMPDIR:-/tmp}/moa2-includes.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/plugin/core/support" "$scratch/plugin/core/include/mail-oauth2" \
	"$scratch/plugin/core/verify" "$scratch/plugin/host"
: >"$scratch/plugin/core/support/json.h"
: >"$scratch/plugin/core/include/mail-oauth2/common.h"
printf '#include "mail-oauth2/common.h"\n#include "support/json.h"\n#include "lib.h"\n#include <sasl/sasl.h>\n#include <openssl/evp.h>\n' \
	>"$scratch/plugin/core/support/json.c"
printf '#include <curl/curl.h>\n' >"$scratch/plugin/core/verify/fetch.c"
printf '#include <sys/socket.h>\n' >"$scratch/plugin/core/verify/socket.c"
printf '#include <netdb.h>\n' >"$scratch/plugin/core/support/http-proxy.c"
printf '#include "mail-oauth2/common.h"\n#include <mail-oauth2/common.h>\n#include "host.h"\n#include "support/json.h"\n#include "../core/support/json.h"\n#include <curl/curl.h>\n' \
	>"$scratch/plugin/host/adapter.c"
: >"$scratch/plugin/host/host.h"
planted=$(check_tree "$scratch")
expect_planted() {
	if printf '%s\n' "$planted" | grep -qF -- "$1"; then
		ok "a planted violation is reported: $2"
	else
		not_ok "a planted violation is reported: $2" "want a line with: $1
got:
$planted"
	fi
}
expect_planted 'plugin/host/adapter.c: "support/json.h" is a private core header' "a host includes a private core header"
expect_planted 'plugin/host/adapter.c: "../core/support/json.h" is a private core header' "... also by a relative path"
expect_planted 'plugin/core/support/json.c: "lib.h" is not a core header' "the core includes a Dovecot header"
expect_planted 'plugin/core/support/json.c: <sasl/sasl.h> is a host' "the core includes a Cyrus header"
expect_planted 'plugin/core/verify/fetch.c: <curl/curl.h>: no libcurl' "curl in the core"
expect_planted 'plugin/host/adapter.c: <curl/curl.h>: no libcurl' "curl in a host"
expect_planted 'plugin/core/verify/socket.c: <sys/socket.h>: only support/http-conn.c' "a socket outside http-conn.c in the core"
expect_planted 'plugin/core/support/http-proxy.c: <netdb.h>: only support/http-conn.c' "... also in an HTTP file outside the connection layer"
if [ "$(printf '%s\n' "$planted" | grep -c .)" = 8 ]; then
	ok "nothing else is reported (public headers, a host's own header, OpenSSL in the core)"
else
	not_ok "exactly the 8 planted violations are reported" "$planted"
fi

echo "includes: $passed passed, $failed failed"
[ "$failed" = 0 ]
