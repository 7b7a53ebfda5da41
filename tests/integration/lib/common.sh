# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Shared helpers of the integration test scripts (POSIX sh). A test does
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/lib/common.sh"
# and gets:
#   TOP, ILIB      the repository and tests/integration/lib (found from $0:
#                  the test script lives in tests/integration)
#   WORK           a fresh temp dir under ${TMPDIR:-/tmp}, removed at exit
#                  (KEEP_WORK=1 keeps it and says where)
#   MAIL_OAUTH2    the built CLI (env, default build/ci/plugin/cli/mail-oauth2)
#   TEST_CA        after test_ca: a CA (make-ca.sh) in $WORK/tls; IDP_TLS_DIR
#                  points there too, so the IdP and fault servers share it
#   on_exit_kill PID         kill PID at exit (EXIT/HUP/INT/PIPE/TERM); the test IdP of
#                            idp.sh is stopped by idp_stop if it runs
#   ok DESC | not_ok DESC [DETAIL] | check DESC CMD... | check_eq DESC GOT WANT
#                            TAP-like "ok N - DESC" / "not ok N - DESC"
#   todo_eq DESC GOT WANT    a check of a known, reported bug: a failure is
#                            "not ok N - DESC # TODO", counted in neither total
#                            (summary lists it); a pass counts as a pass
#   summary NAME             "NAME: N passed, M failed"; exit 1 on a failure
#                            (or when nothing was checked), else 0
#   fault_start NAME ROOT [ARG...]   fault-server.py over HTTPS with TEST_CA;
#                            then fault_url NAME, fault_ctl NAME JSON,
#                            fault_stats NAME [PATH], fault_stop NAME,
#                            fault_down NAME / fault_up NAME (by signal: a
#                            down server answers no new connection, not
#                            even /_control; its stats count "_refused")
#   remember_token TOKEN     a token the test used, for assert_no_tokens
#   assert_no_tokens FILE... one check: no remembered token (nor the
#                            signature part of a JWT) appears in the files
#   elapsed_ms START         milliseconds since START (START=$(now_ms))
#   json_field FILE KEY[.KEY...]  a member of the JSON object in FILE ("" when
#                            absent; Python's str(): True/False for booleans)
#   store_expire FILE        the access token of the token store FILE counts
#                            as expired (changed in place: mode and owner stay)

TOP=$(cd "$(dirname "$0")/../.." && pwd)
ILIB=$TOP/tests/integration/lib
TSUP=$TOP/tests/support
MAIL_OAUTH2=${MAIL_OAUTH2:-$TOP/build/ci/plugin/cli/mail-oauth2}
case $MAIL_OAUTH2 in /*) ;; *) MAIL_OAUTH2=$(pwd)/$MAIL_OAUTH2 ;; esac
export MAIL_OAUTH2

WORK=$(mktemp -d "${TMPDIR:-/tmp}/moa2-itest.XXXXXX") || {
	echo "cannot create a temp dir under ${TMPDIR:-/tmp}" >&2
	exit 1
}
_common_pids=
_common_passed=0
_common_failed=0
_common_n=0
_common_todo=
_common_rc=0
_common_tokens=$WORK/.tokens
: >"$_common_tokens"

# ---------------------------------------------------------------- cleanup

on_exit_kill() {
	_common_pids="$_common_pids $1"
}

_common_stop_pid() {
	kill "$1" 2>/dev/null || return 0
	_common_i=0
	while kill -0 "$1" 2>/dev/null && [ $_common_i -lt 30 ]; do
		sleep 0.1
		_common_i=$((_common_i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

_common_cleanup() {
	trap - EXIT HUP INT PIPE TERM
	for _common_pid in $_common_pids; do
		_common_stop_pid "$_common_pid"
	done
	_common_pids=
	if [ -n "${IDP_PID:-}" ] && command -v idp_stop >/dev/null 2>&1; then
		idp_stop
	fi
	if [ -n "${KEEP_WORK:-}" ]; then
		echo "# kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}

trap '_common_rc=$?; _common_cleanup; exit $_common_rc' EXIT
trap '_common_cleanup; exit 129' HUP
trap '_common_cleanup; exit 130' INT
trap '_common_cleanup; exit 141' PIPE
trap '_common_cleanup; exit 143' TERM

# ---------------------------------------------------------------- results

ok() {
	_common_n=$((_common_n + 1))
	_common_passed=$((_common_passed + 1))
	echo "ok $_common_n - $1"
}

# not_ok DESC [DETAIL]: DETAIL (the offending output) is shown as comments
not_ok() {
	_common_n=$((_common_n + 1))
	_common_failed=$((_common_failed + 1))
	echo "not ok $_common_n - $1"
	if [ $# -ge 2 ]; then
		printf '%s\n' "$2" | head -n 40 | sed 's/^/#   /'
	fi
	return 0
}

# check DESC CMD...: passes when CMD exits 0
check() {
	_common_desc=$1
	shift
	if _common_out=$("$@" 2>&1); then
		ok "$_common_desc"
	else
		not_ok "$_common_desc" "command: $* (exit $?)
$_common_out"
	fi
}

# check_eq DESC GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got:  $2
want: $3"
	fi
}

todo_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1 # TODO passes now: make it a check_eq"
	else
		_common_n=$((_common_n + 1))
		_common_todo="$_common_todo
#   not ok $_common_n - $1"
		echo "not ok $_common_n - $1 # TODO known bug"
		printf 'got:  %s\nwant: %s\n' "$2" "$3" | sed 's/^/#   /'
	fi
}

summary() {
	[ -n "$_common_todo" ] && echo "# known bugs (TODO, not counted):$_common_todo"
	echo "$1: $_common_passed passed, $_common_failed failed"
	[ "$_common_failed" -eq 0 ] && [ "$_common_passed" -gt 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- tools

now_ms() {
	date +%s%3N
}

elapsed_ms() {
	echo $(($(now_ms) - $1))
}

test_ca() {
	TEST_CA=$WORK/tls/ca.pem
	IDP_TLS_DIR=$WORK/tls
	export TEST_CA IDP_TLS_DIR
	[ -f "$TEST_CA" ] && return 0
	sh "$TSUP/make-ca.sh" "$WORK/tls"
}

# ---------------------------------------------------------------- fault server

_common_fault_name() {
	case $1 in
	'' | *[!A-Za-z0-9_]*)
		echo "fault server name '$1': letters, digits and _ only" >&2
		return 1
		;;
	esac
}

# fault_start NAME ROOT [ARG...]: extra ARGs go to fault-server.py (--route ...)
fault_start() {
	_common_fault_name "$1" || return 1
	_fs_name=$1
	_fs_root=$2
	shift 2
	test_ca || return 1
	mkdir -p "$_fs_root" "$WORK/fault"
	_fs_port_file=$WORK/fault/$_fs_name.port
	rm -f "$_fs_port_file"
	python3 "$TSUP/fault-server.py" --root "$_fs_root" --tls-dir "$WORK/tls" \
		--port-file "$_fs_port_file" --parent-pid $$ "$@" \
		>>"$WORK/fault/$_fs_name.log" 2>&1 </dev/null &
	_fs_pid=$!
	on_exit_kill "$_fs_pid"
	echo "$_fs_pid" >"$WORK/fault/$_fs_name.pid"
	_fs_i=0
	while [ ! -s "$_fs_port_file" ]; do
		if ! kill -0 "$_fs_pid" 2>/dev/null || [ $_fs_i -ge 100 ]; then
			echo "fault server $_fs_name did not start:" >&2
			tail -n 20 "$WORK/fault/$_fs_name.log" >&2
			return 1
		fi
		sleep 0.1
		_fs_i=$((_fs_i + 1))
	done
	echo "https://127.0.0.1:$(cat "$_fs_port_file")" >"$WORK/fault/$_fs_name.url"
}

fault_url() {
	cat "$WORK/fault/$1.url"
}

fault_stop() {
	_common_stop_pid "$(cat "$WORK/fault/$1.pid")"
}

fault_down() {
	kill -USR1 "$(cat "$WORK/fault/$1.pid")"
	sleep 0.1
}

fault_up() {
	kill -USR2 "$(cat "$WORK/fault/$1.pid")"
	sleep 0.1
}

# fault_ctl NAME JSON: fails unless the server answers {"ok": true}
fault_ctl() {
	_fc_out=$(curl -sS --max-time 10 --cacert "$TEST_CA" -H 'Content-Type: application/json' \
		--data-binary "$2" "$(fault_url "$1")/_control") || return 1
	case $_fc_out in
	*'"ok": true'*) return 0 ;;
	*) echo "fault_ctl $1 $2: $_fc_out" >&2; return 1 ;;
	esac
}

# fault_stats NAME [PATH]: the /_stats JSON, or the request count of PATH
fault_stats() {
	_fst_json=$(curl -sS --max-time 10 --cacert "$TEST_CA" "$(fault_url "$1")/_stats") || return 1
	if [ $# -lt 2 ]; then
		printf '%s\n' "$_fst_json"
		return 0
	fi
	printf '%s' "$_fst_json" | python3 -c '
import json, sys
print(json.load(sys.stdin).get(sys.argv[1], 0))' "$2"
}

# ---------------------------------------------------------------- secrets

remember_token() {
	[ -n "$1" ] || return 0 # an empty pattern would match every file
	printf '%s\n' "$1" >>"$_common_tokens"
	case $1 in
	*.*.*)
		# the signature alone is as secret as the token
		_rt_sig=${1##*.}
		[ ${#_rt_sig} -ge 16 ] && printf '%s\n' "$_rt_sig" >>"$_common_tokens"
		;;
	esac
	return 0
}

assert_no_tokens() {
	_ant_count=$(grep -c . "$_common_tokens")
	if [ "$_ant_count" -eq 0 ]; then
		not_ok "no token in the output: no token was remembered"
		return 0
	fi
	_ant_hits=$(grep -F -l -f "$_common_tokens" "$@" 2>/dev/null)
	if [ -z "$_ant_hits" ]; then
		ok "none of $_ant_count token strings appears in $# output/log files"
	else
		not_ok "a token appears in an output/log file" "$_ant_hits"
	fi
}

# ---------------------------------------------------------------- JSON files

json_field() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1" "$2"
}

store_expire() {
	python3 -c 'import json, sys
with open(sys.argv[1], "r+") as f:
    d = json.load(f)
    d["expires_at"] = 1
    f.seek(0); f.truncate(); json.dump(d, f)' "$1"
}
