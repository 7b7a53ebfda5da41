#!/bin/sh
# SPDX-License-Identifier: MIT
# Tests of the mail-oauth2 CLI (encode, decode, help, usage errors) and of
# its man page against the help texts (no command or option undocumented).
# Run by `make check` with MAIL_OAUTH2 set to the built binary; prints one
# "ok N - ..." / "not ok N - ..." line per case and a summary line.
set -eu

if [ -z "${MAIL_OAUTH2:-}" ] || [ ! -x "$MAIL_OAUTH2" ]; then
	echo "test-cli.sh: set MAIL_OAUTH2 to the built mail-oauth2 binary" >&2
	exit 99 # hard error for the automake test driver, never a skip
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

n=0
passed=0
failed=0

# check DESCRIPTION FUNCTION [ARGS...]: one test case; it passes when the
# function returns 0. (set -e does not apply inside it: each step checks.)
check() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		passed=$((passed + 1))
		echo "ok $n - $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc"
		for f in out err; do
			if [ -s "$tmp/$f" ]; then
				sed "s/^/#   std$f: /" "$tmp/$f"
			fi
		done
	fi
	return 0
}

# cli INPUT_FILE ARGS...: runs mail-oauth2 with INPUT_FILE on stdin; its
# output goes to $tmp/out and $tmp/err, its exit status to $status.
cli() {
	input=$1
	shift
	status=0
	"$MAIL_OAUTH2" "$@" <"$input" >"$tmp/out" 2>"$tmp/err" || status=$?
}

# cli_text TEXT ARGS...: the same with TEXT (printf %s) on stdin.
cli_text() {
	printf %s "$1" >"$tmp/in"
	shift
	cli "$tmp/in" "$@"
}

# has_line LINE: $tmp/out holds exactly this line.
has_line() {
	grep -qxF -- "$1" "$tmp/out"
}

fingerprint() {
	printf %s "$1" | sha256sum | cut -c1-8
}

# A JWT-like token using the whole RFC 6750 b64token charset.
TOKEN='eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_~+/bmF0dXJl=='
USER_NAME='alice@example.com'

# encode_to_file FILE ARGS...: encodes $TOKEN (with a newline) into FILE.
encode_to_file() {
	file=$1
	shift
	printf '%s\n' "$TOKEN" >"$tmp/token"
	"$MAIL_OAUTH2" encode "$@" <"$tmp/token" >"$file" 2>"$tmp/err"
}

case_roundtrip_xoauth2() {
	encode_to_file "$tmp/resp" xoauth2 --user "$USER_NAME" || return 1
	cli "$tmp/resp" decode --show-token
	[ "$status" -eq 0 ] &&
		has_line "mechanism: XOAUTH2" &&
		has_line "user: $USER_NAME" &&
		has_line "token: $TOKEN"
}

case_roundtrip_oauthbearer() {
	encode_to_file "$tmp/resp" oauthbearer --user "$USER_NAME" \
		--host imap.example.com --port 993 || return 1
	cli "$tmp/resp" decode --mech oauthbearer --show-token
	[ "$status" -eq 0 ] &&
		has_line "mechanism: OAUTHBEARER" &&
		has_line "authzid: $USER_NAME" &&
		has_line "host: imap.example.com" &&
		has_line "port: 993" &&
		has_line "token: $TOKEN"
}

case_roundtrip_oauthbearer_escapes() {
	encode_to_file "$tmp/resp" oauthbearer -u 'a,b=c@example.com' \
		-H smtp.example.com -p 587 || return 1
	grep -q '^[A-Za-z0-9+/]*=*$' "$tmp/resp" || return 1
	cli "$tmp/resp" decode
	[ "$status" -eq 0 ] &&
		has_line "authzid: a,b=c@example.com" &&
		has_line "host: smtp.example.com" &&
		has_line "port: 587"
}

case_oauthbearer_no_authzid() {
	encode_to_file "$tmp/resp" oauthbearer || return 1
	cli "$tmp/resp" decode
	[ "$status" -eq 0 ] &&
		has_line "authzid: (none)" &&
		has_line "host: (none)" &&
		has_line "port: (none)"
}

case_encode_strips_crlf() {
	printf '%s\r\n' "$TOKEN" >"$tmp/token"
	"$MAIL_OAUTH2" encode xoauth2 -u "$USER_NAME" <"$tmp/token" \
		>"$tmp/resp" || return 1
	cli "$tmp/resp" decode --show-token
	[ "$status" -eq 0 ] && has_line "token: $TOKEN"
}

# RFC 7628 section 4.1, the IMAP example.
RFC7628_41='bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB'
RFC7628_41_TOKEN='vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=='

case_rfc7628_41() {
	cli_text "$RFC7628_41
" decode
	[ "$status" -eq 0 ] &&
		has_line "mechanism: OAUTHBEARER" &&
		has_line "authzid: user@example.com" &&
		has_line "host: server.example.com" &&
		has_line "port: 143" &&
		has_line "token: sha256:$(fingerprint "$RFC7628_41_TOKEN") (42 bytes)"
}

case_fingerprint_matches_sha256sum() {
	encode_to_file "$tmp/resp" xoauth2 --user "$USER_NAME" || return 1
	cli "$tmp/resp" decode
	expected=$(fingerprint "$TOKEN")
	[ "$status" -eq 0 ] && [ ${#expected} -eq 8 ] &&
		has_line "token: sha256:$expected (${#TOKEN} bytes)"
}

case_token_hidden_without_show_token() {
	for mech in xoauth2 oauthbearer; do
		encode_to_file "$tmp/resp" "$mech" --user "$USER_NAME" || return 1
		cli "$tmp/resp" decode
		[ "$status" -eq 0 ] || return 1
		grep -q '^token: sha256:[0-9a-f]\{8\} (' "$tmp/out" || return 1
		if grep -qF -- "$TOKEN" "$tmp/out" "$tmp/err"; then
			return 1
		fi
		# the base64 response holds the token too
		if grep -qF -- "$(cat "$tmp/resp")" "$tmp/out" "$tmp/err"; then
			return 1
		fi
	done
}

case_token_shown_with_show_token() {
	encode_to_file "$tmp/resp" oauthbearer || return 1
	cli "$tmp/resp" decode --show-token
	[ "$status" -eq 0 ] && grep -qF -- "$TOKEN" "$tmp/out"
}

case_double_base64_refused() {
	encode_to_file "$tmp/resp" xoauth2 --user "$USER_NAME" || return 1
	tr -d '\n' <"$tmp/resp" | base64 | tr -d '\n' >"$tmp/double"
	cli "$tmp/double" decode
	[ "$status" -eq 1 ] && grep -q '^invalid: double_base64: .' "$tmp/out"
}

case_double_base64_allowed() {
	encode_to_file "$tmp/resp" oauthbearer --host mx.example.com || return 1
	tr -d '\n' <"$tmp/resp" | base64 | tr -d '\n' >"$tmp/double"
	cli "$tmp/double" decode --allow-double-base64
	[ "$status" -eq 0 ] &&
		has_line "host: mx.example.com" &&
		grep -q '^encoding: double base64' "$tmp/out"
}

case_garbage_is_base64_error() {
	cli_text 'this is not base64!' decode
	[ "$status" -eq 1 ] && grep -q '^invalid: base64: .' "$tmp/out"
}

case_mech_mismatch() {
	cli_text "$RFC7628_41" decode --mech xoauth2
	[ "$status" -eq 1 ] && grep -q '^invalid: mech_mismatch: ' "$tmp/out"
}

case_decode_too_long() {
	# 'QUFB' decodes to "AAA": valid base64, longer than any response
	awk 'BEGIN { for (i = 0; i < 8000; i++) printf "QUFB" }' >"$tmp/big"
	cli "$tmp/big" decode
	[ "$status" -eq 1 ] && grep -q '^invalid: too_long: ' "$tmp/out"
}

case_encode_empty_input() {
	cli_text '' encode xoauth2 --user "$USER_NAME"
	[ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q '^error: token_empty: ' "$tmp/err"
}

case_encode_multiline_input() {
	cli_text "$TOKEN
second line
" encode oauthbearer
	[ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q '^error: crlf: .*line' "$tmp/err"
}

case_encode_too_long() {
	awk 'BEGIN { for (i = 0; i < 17000; i++) printf "a" }' >"$tmp/big"
	cli "$tmp/big" encode oauthbearer
	[ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q '^error: too_long: ' "$tmp/err"
}

case_encode_bad_token_charset() {
	cli_text 'not a token' encode xoauth2 --user "$USER_NAME"
	[ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
		grep -q '^error: token_charset: ' "$tmp/err"
}

# usage ARGS...: exits 64 with one stderr line that mentions --help.
usage() {
	cli_text "$TOKEN" "$@"
	[ "$status" -eq 64 ] && [ ! -s "$tmp/out" ] &&
		[ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		grep -q -- '--help' "$tmp/err"
}

# usage_names WORD ARGS...: usage error whose message names WORD.
usage_names() {
	word=$1
	shift
	usage "$@" && grep -qF -- "'$word'" "$tmp/err"
}

# help_ok ARGS...: exits 0 with a Usage: text on stdout.
help_ok() {
	cli_text '' "$@"
	[ "$status" -eq 0 ] && grep -q '^Usage: ' "$tmp/out" && [ ! -s "$tmp/err" ]
}

case_version() {
	cli_text '' --version
	[ "$status" -eq 0 ] && grep -q '^mail-oauth2 [0-9][0-9.]*' "$tmp/out"
}

check "encode/decode round trip, xoauth2" case_roundtrip_xoauth2
check "encode/decode round trip, oauthbearer with host and port" \
	case_roundtrip_oauthbearer
check "encode/decode round trip, oauthbearer authzid with , and =" \
	case_roundtrip_oauthbearer_escapes
check "oauthbearer without --user has no authzid" case_oauthbearer_no_authzid
check "encode strips a trailing CR LF" case_encode_strips_crlf
check "RFC 7628 4.1 example decodes to its fields" case_rfc7628_41
check "fingerprint equals sha256sum | cut -c1-8" \
	case_fingerprint_matches_sha256sum
check "decode hides the token without --show-token" \
	case_token_hidden_without_show_token
check "decode --show-token prints the token" case_token_shown_with_show_token
check "double base64 exits 1 with double_base64" case_double_base64_refused
check "double base64 accepted with --allow-double-base64" \
	case_double_base64_allowed
check "garbage exits 1 with base64" case_garbage_is_base64_error
check "decode --mech xoauth2 of an OAUTHBEARER response: mech_mismatch" \
	case_mech_mismatch
check "decode of an oversized response: too_long" case_decode_too_long
check "encode of empty input: token_empty" case_encode_empty_input
check "encode of multi-line input: crlf" case_encode_multiline_input
check "encode of oversized input: too_long" case_encode_too_long
check "encode of a token with spaces: token_charset" \
	case_encode_bad_token_charset

check "usage: no command exits 64" usage
check "usage: unknown command exits 64" usage_names frobnicate frobnicate
check "usage: unknown global option exits 64" usage_names --frob --frob
check "usage: unknown encode option exits 64" \
	usage_names --frob encode xoauth2 --frob
check "usage: unknown decode option exits 64" usage_names -z decode -z
check "usage: encode without mechanism exits 64" usage encode
check "usage: encode unknown mechanism exits 64" \
	usage_names plain encode plain --user x
check "usage: encode xoauth2 without --user exits 64" usage encode xoauth2
check "usage: encode --host with xoauth2 exits 64" \
	usage encode xoauth2 --user x --host h
check "usage: encode --port out of range exits 64" \
	usage_names 65536 encode oauthbearer --port 65536
check "usage: encode --user without argument exits 64" \
	usage_names --user encode oauthbearer --user
check "usage: decode --mech bad exits 64" usage_names foo decode --mech foo
check "usage: decode with an argument exits 64" usage_names extra decode extra
check "usage: help of an unknown command exits 64" usage_names nope help nope

check "mail-oauth2 --help exits 0" help_ok --help
check "mail-oauth2 help exits 0" help_ok help
check "mail-oauth2 encode --help exits 0" help_ok encode --help
check "mail-oauth2 decode --help exits 0" help_ok decode --help
check "mail-oauth2 help encode exits 0" help_ok help encode
check "mail-oauth2 help decode exits 0" help_ok help decode
check "mail-oauth2 help --help exits 0" help_ok help --help
check "mail-oauth2 --version prints the version" case_version

# ------------------------------------------------------------ the man page
# The page must not drift from the code: every command of `mail-oauth2
# --help` (and every subcommand named in a command's usage) has a heading,
# and every long option a help text prints is documented under its
# command's headings; no long option in the page is unknown to the code.
# The page lives in the source tree beside the sources, as this script
# does (also in a VPATH or distcheck build); MAIL_OAUTH2_MAN overrides it.
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
MAN_PAGE=${MAIL_OAUTH2_MAN:-$top_srcdir/plugin/cli/mail-oauth2.1}

# man_plain: the page's source without the roff escapes that can sit
# inside a word (\% \& \- and font changes), into $tmp/man.txt
man_plain() {
	: >"$tmp/out"
	[ -r "$MAN_PAGE" ] || { echo "# no man page at $MAN_PAGE" >"$tmp/err"; return 1; }
	sed -e 's/\\[%&]//g' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' \
		-e 's/\\f\[[A-Z]*\]//g' -e 's/\\f([A-Z][A-Z]//g' \
		"$MAN_PAGE" >"$tmp/man.txt"
}

# man_headings: one line per .SH/.SS heading, words separated by spaces,
# quotes and brackets dropped, alternatives (a|b) split into words
man_headings() {
	sed -n 's/^\.S[SH][ 	]*//p' "$tmp/man.txt" | tr -d '"[]' | tr '|' ' '
}

# man_sections_of CMD: the text of the .SS sections whose heading starts
# with the word CMD
man_sections_of() {
	awk -v cmd="$1" '
		/^\.S[SH]/ { h = $0; sub(/^\.S[SH][ \t]*"?/, "", h)
			     split(h, w, /[ \t"|]/); on = (w[1] == cmd); next }
		on { print }' "$tmp/man.txt"
}

# long_options FILE: the long options FILE mentions, one a line
long_options() {
	grep -o -- '--[a-z][a-z0-9-]*' "$1" | sort -u
}

# help_commands: the command names of `mail-oauth2 --help`
help_commands() {
	"$MAIL_OAUTH2" --help </dev/null | awk '/^Commands:/ { on = 1; next }
		on && /^$/ { exit } on { print $1 }'
}

# help_subcommands CMD: the bare words after "mail-oauth2 CMD" in the
# usage lines of CMD --help (token's authorize, show, ...; encode's
# mechanisms), not options, placeholders or [optional] parts
help_subcommands() {
	"$MAIL_OAUTH2" "$1" --help </dev/null |
		sed -n "s/^\(Usage:\)\{0,1\} *mail-oauth2 $1 \([a-z][a-z0-9-]*\).*/\2/p" |
		sort -u
}

case_man_has_command_headings() {
	man_plain || return 1
	help_commands >"$tmp/commands"
	[ -s "$tmp/commands" ] || { echo "# no command in --help" >"$tmp/err"; return 1; }
	man_headings >"$tmp/headings"
	: >"$tmp/err"
	while read -r cmd; do
		if ! awk -v c="$cmd" '$1 == c { found = 1 } END { exit !found }' \
		    "$tmp/headings"; then
			echo "# no heading for command '$cmd'" >>"$tmp/err"
		fi
		for sub in $(help_subcommands "$cmd"); do
			awk -v c="$cmd" -v s="$sub" '$1 == c {
				for (i = 2; i <= NF; i++) if ($i == s) found = 1 }
				END { exit !found }' "$tmp/headings" ||
				echo "# no heading for '$cmd $sub'" >>"$tmp/err"
		done
	done <"$tmp/commands"
	[ ! -s "$tmp/err" ]
}

case_man_documents_every_option() {
	man_plain || return 1
	help_commands >"$tmp/commands"
	[ -s "$tmp/commands" ] || return 1
	: >"$tmp/err"
	# the global options: anywhere in the page
	"$MAIL_OAUTH2" --help >"$tmp/help" || return 1
	long_options "$tmp/help" >"$tmp/all-options"
	while read -r opt; do
		grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|$)" "$tmp/man.txt" ||
			echo "# global option $opt is not in the man page" >>"$tmp/err"
	done <"$tmp/all-options"
	while read -r cmd; do
		man_sections_of "$cmd" >"$tmp/section"
		: >"$tmp/help"
		for sub in "" $(help_subcommands "$cmd"); do
			# shellcheck disable=SC2086 # $sub: no word or one
			"$MAIL_OAUTH2" "$cmd" $sub --help </dev/null >>"$tmp/help" 2>>"$tmp/err" ||
				echo "# '$cmd $sub --help' failed" >>"$tmp/err"
		done
		long_options "$tmp/help" >"$tmp/options"
		cat "$tmp/options" >>"$tmp/all-options"
		while read -r opt; do
			grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|$)" "$tmp/section" ||
				echo "# $cmd: $opt is not documented under its heading" >>"$tmp/err"
		done <"$tmp/options"
	done <"$tmp/commands"
	# at least the codec's options must have been seen, else the help
	# texts were not read
	grep -qx -- '--allow-double-base64' "$tmp/all-options" ||
		echo "# no option read from the help texts" >>"$tmp/err"
	# and the page names no option the code does not have
	long_options "$tmp/man.txt" >"$tmp/man-options"
	while read -r opt; do
		grep -qx -- "$opt" "$tmp/all-options" ||
			echo "# the man page names $opt, which no help text has" >>"$tmp/err"
	done <"$tmp/man-options"
	[ ! -s "$tmp/err" ]
}

# groff renders the page without a warning (when groff is installed; not
# counted otherwise)
case_man_renders_cleanly() {
	groff -man -Tutf8 -ww -z "$MAN_PAGE" >"$tmp/out" 2>"$tmp/err" &&
		[ ! -s "$tmp/err" ]
}

check "man page: a heading for every command and subcommand" \
	case_man_has_command_headings
check "man page: every long option documented under its command, none unknown" \
	case_man_documents_every_option
if command -v groff >/dev/null 2>&1; then
	check "man page: groff -ww renders it without warnings" \
		case_man_renders_cleanly
else
	echo "# groff not installed: the man page render check was not run"
fi

# ---- verify with a local key (issue 9): the same verdicts as every host

b64url() {
	openssl base64 -A | tr '+/' '-_' | tr -d '='
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$tmp/key.pem" 2>/dev/null
openssl pkey -in "$tmp/key.pem" -pubout -out "$tmp/pub.pem"
EXP=$(($(date +%s) + 3600))
AT_HEADER='{"alg":"RS256","typ":"at+jwt"}'

# jwt CLAIMS [HEADER]: an RS256 JWT whose claims are iss, aud, exp and
# CLAIMS (members of a JSON object, without the braces)
jwt() {
	_h=$(printf %s "${2:-$AT_HEADER}" | b64url)
	_p=$(printf '{"iss":"https://idp.test","aud":"mail","exp":%s,%s}' "$EXP" "$1" | b64url)
	_s=$(printf %s "$_h.$_p" | openssl dgst -sha256 -sign "$tmp/key.pem" -binary | b64url)
	printf '%s.%s.%s\n' "$_h" "$_p" "$_s"
}

cat >"$tmp/verify.conf" <<EOF
cache_dir = $tmp/cache
[provider local]
issuer = https://idp.test
jwks_file = $tmp/pub.pem
audience = mail
EOF

# verify_case EXIT FIRST CLAIMS [USER]: mail-oauth2 verify exits with EXIT
# and its first line starts with FIRST
verify_case() {
	jwt "$3" >"$tmp/tok"
	if [ -n "${4:-}" ]; then
		cli "$tmp/tok" verify -c "$tmp/verify.conf" --user "$4"
	else
		cli "$tmp/tok" verify -c "$tmp/verify.conf"
	fi
	[ "$status" -eq "$1" ] || return 1
	case $(head -n 1 "$tmp/out") in
	"$2 "*) return 0 ;;
	*) return 1 ;;
	esac
}

check "verify: a plain user is accepted" \
	verify_case 0 "accepted user=alice provider=local" '"preferred_username":"alice"'
check "verify: x/../../escaped@example.test is bad_identity" \
	verify_case 1 "rejected reason=bad_identity" \
	'"preferred_username":"x/../../escaped@example.test"'
check "verify: a name with a space is bad_identity" \
	verify_case 1 "rejected reason=bad_identity" '"preferred_username":"alice smith"'
check "verify: an asserted user with a space is bad_identity" \
	verify_case 1 "rejected reason=bad_identity" '"preferred_username":"alice"' 'alice smith'
check "verify: ALICE@EXAMPLE.TEST, no user asserted (OAUTHBEARER without a=)" \
	verify_case 0 "accepted user=ALICE@EXAMPLE.TEST provider=local" \
	'"email":"ALICE@EXAMPLE.TEST"'
check "verify: ALICE@EXAMPLE.TEST, user lowercased by the host (XOAUTH2 user=)" \
	verify_case 0 "accepted user=ALICE@EXAMPLE.TEST provider=local" \
	'"email":"ALICE@EXAMPLE.TEST"' 'alice@example.test'
check "verify: a client_credentials token is no_identity" \
	verify_case 1 "rejected reason=no_identity" \
	'"sub":"mail-verifier","client_id":"mail-verifier","scope":"mail"'
check "verify: a duplicate claim is malformed" \
	verify_case 1 "rejected reason=malformed" \
	'"preferred_username":"alice","preferred_username":"root"'

# config_error CONFIG PHRASE: mail-oauth2 verify refuses CONFIG with exit
# 3 and a message holding PHRASE
config_error() {
	printf '%s\n' "$1" >"$tmp/bad.conf"
	jwt '"preferred_username":"alice"' >"$tmp/tok"
	cli "$tmp/tok" verify -c "$tmp/bad.conf"
	[ "$status" -eq 3 ] && grep -q -- "$2" "$tmp/err"
}

check "verify: mode userinfo with required_scopes is a config error (exit 3)" \
	config_error "[provider u]
mode = userinfo
userinfo_url = https://u.test/me
audience_check = no
required_scopes = mail" "userinfo answers carry no scope"
check "verify: two opaque providers without a prefix are a config error (exit 3)" \
	config_error "[provider a]
mode = introspection
introspection_url = https://a.test/i
client_id = a
client_secret = s
audience = mail
[provider b]
mode = introspection
introspection_url = https://b.test/i
client_id = b
client_secret = s
audience = mail" "both verify opaque tokens"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
