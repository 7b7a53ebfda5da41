# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Test-only OpenID Connect provider (npm oidc-provider) for integration tests.
# Source this file, then:
#   idp_start STATE_DIR [PORT]   start on 127.0.0.1 (PORT 0/empty = a free port)
#   idp_stop                     stop it (by PID) and wait until it is gone
#   idp_restart                  stop and start again: same state dir, port, keys
#   idp_token ACCOUNT [RESOURCE] [TTL]      print a user access token
#   idp_client_credentials [RESOURCE] [SCOPE]  print a client_credentials token
#   idp_ctl PATH?QUERY           call a /test/ control route, print its JSON
#   idp_json FIELD               print FIELD of the JSON object on stdin
#   idp_jwt_payload TOKEN        print the decoded JWT payload (JSON)
#   idp_curl ARGS...             curl with the test CA, quiet, errors shown
#   idp_device_authorize OUT ACCOUNT CMD...  runs CMD (`mail-oauth2 token
#                                authorize` of the device flow) in the background
#                                with its output in OUT, approves its code as
#                                ACCOUNT, returns CMD's exit status
# After idp_start these are exported: IDP_URL (= issuer), IDP_CA, IDP_PID,
# IDP_PORT, IDP_STATE_DIR, IDP_LOG, IDP_DISCOVERY_URL, IDP_JWKS_URL,
# IDP_TOKEN_URL, IDP_DEVICE_URL, IDP_INTROSPECTION_URL, IDP_REVOCATION_URL,
# IDP_USERINFO_URL and the client credentials below.
# Control routes (GET, loopback only; see idp-server.mjs):
#   /test/token?account=&resource=&ttl=&scope=&client=&refresh=1
#   /test/device/approve?user_code=&account=[&resource=]   /test/device/deny?user_code=
#   /test/latency?ms=[&endpoint=token]   /test/token-endpoint?state=up|down|reset
#   /test/endpoint?endpoint=jwks&state=  /test/ttl?seconds=   /test/stats[?reset=1]
#   /test/interaction-account?account=   (auto-login for the authorization code flow)
#   /test/refresh-expires-in?state=on|off (token responses with a refresh token
#                                          also carry refresh_token_expires_in)
# Environment read by idp_start: IDP_NODE (node binary), IDP_TLS_DIR (CA dir,
# default STATE_DIR/tls), IDP_START_TIMEOUT (s, default 30) and the server's
# own IDP_ACCESS_TOKEN_TTL, IDP_REFRESH_TOKEN_TTL, IDP_ROTATE_REFRESH, IDP_KEYS.

# Under dash, set IDP_LIB_DIR before sourcing (only bash tells us our path).
# shellcheck disable=SC3028
IDP_LIB_DIR=${IDP_LIB_DIR:-$(cd "$(dirname "${BASH_SOURCE:-$0}")" && pwd)}
IDP_SRC_DIR=$(cd "$IDP_LIB_DIR/../idp" && pwd)

# clients (fixed, test only; they match idp-server.mjs)
IDP_VERIFIER_ID=mail-verifier
IDP_VERIFIER_SECRET=verifier-secret-0123456789             # client_secret_basic
IDP_VERIFIER_POST_ID=mail-verifier-post
IDP_VERIFIER_POST_SECRET=verifier-post-secret-0123456789   # client_secret_post
IDP_DEVICE_CLIENT_ID=mail-device                           # public, device flow
IDP_RELAY_ID=mail-relay                                    # client_secret_post
IDP_RELAY_SECRET='relay+secret&x=1%2F='                    # form-encode it!
IDP_NATIVE_CLIENT_ID=mail-native                           # public, code + PKCE
IDP_DEFAULT_RESOURCE=https://mail.test
export IDP_VERIFIER_ID IDP_VERIFIER_SECRET IDP_VERIFIER_POST_ID \
	IDP_VERIFIER_POST_SECRET IDP_DEVICE_CLIENT_ID IDP_RELAY_ID IDP_RELAY_SECRET \
	IDP_NATIVE_CLIENT_ID IDP_DEFAULT_RESOURCE

idp_die() {
	echo "idp: $*" >&2
	return 1
}

idp_curl() {
	curl -sS --cacert "$IDP_CA" --max-time 30 "$@"
}

# Install the locked dependencies once (serialised: tests may start in parallel).
idp_install_deps() {
	[ -f "$IDP_SRC_DIR/node_modules/oidc-provider/package.json" ] && return 0
	command -v npm >/dev/null 2>&1 || {
		idp_die "npm not found (apt-get install nodejs npm)"
		return 1
	}
	(
		cd "$IDP_SRC_DIR" || exit 1
		if command -v flock >/dev/null 2>&1; then
			exec 9>"${TMPDIR:-/tmp}/mail-oauth2-idp-npm.lock"
			flock 9
		fi
		[ -f node_modules/oidc-provider/package.json ] && exit 0
		npm ci --no-audit --no-fund >npm-install.log 2>&1 || {
			tail -n 20 npm-install.log >&2
			exit 1
		}
	) || idp_die "npm ci failed in $IDP_SRC_DIR (see npm-install.log there)"
}

idp_check_node() {
	IDP_NODE=${IDP_NODE:-node}
	command -v "$IDP_NODE" >/dev/null 2>&1 || {
		idp_die "node not found (apt-get install nodejs npm)"
		return 1
	}
	_idp_major=$("$IDP_NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null)
	[ "${_idp_major:-0}" -ge 18 ] 2>/dev/null || {
		idp_die "node >= 18 required, $IDP_NODE is ${_idp_major:-unknown}"
		return 1
	}
}

idp_start() {
	[ $# -ge 1 ] || { idp_die "usage: idp_start STATE_DIR [PORT]"; return 1; }
	if [ -n "${IDP_PID:-}" ] && kill -0 "$IDP_PID" 2>/dev/null; then
		idp_die "already running (pid $IDP_PID); idp_stop first"
		return 1
	fi
	mkdir -p "$1" || return 1
	IDP_STATE_DIR=$(cd "$1" && pwd)
	_idp_port=${2:-0}
	_idp_tls=${IDP_TLS_DIR:-$IDP_STATE_DIR/tls}
	sh "$IDP_LIB_DIR/../../support/make-ca.sh" "$_idp_tls" || { idp_die "make-ca.sh failed"; return 1; }
	IDP_CA=$_idp_tls/ca.pem
	idp_check_node || return 1
	idp_install_deps || return 1

	IDP_LOG=$IDP_STATE_DIR/idp.log
	rm -f "$IDP_STATE_DIR/idp.port" "$IDP_STATE_DIR/idp.pid"
	"$IDP_NODE" "$IDP_SRC_DIR/idp-server.mjs" --state "$IDP_STATE_DIR" \
		--tls "$_idp_tls" --port "$_idp_port" \
		--port-file "$IDP_STATE_DIR/idp.port" --pid-file "$IDP_STATE_DIR/idp.pid" \
		>>"$IDP_LOG" 2>&1 </dev/null &
	IDP_PID=$!
	export IDP_PID IDP_CA IDP_STATE_DIR IDP_LOG

	# wait for the port file, then for discovery to answer over TLS
	_idp_deadline=$(( $(date +%s) + ${IDP_START_TIMEOUT:-30} ))
	while :; do
		if ! kill -0 "$IDP_PID" 2>/dev/null; then
			tail -n 20 "$IDP_LOG" >&2
			IDP_PID=
			idp_die "server exited during start-up (log: $IDP_LOG)"
			return 1
		fi
		if [ -s "$IDP_STATE_DIR/idp.port" ]; then
			IDP_PORT=$(cat "$IDP_STATE_DIR/idp.port")
			IDP_URL=https://127.0.0.1:$IDP_PORT
			if curl -sf --cacert "$IDP_CA" --max-time 2 -o /dev/null \
				"$IDP_URL/.well-known/openid-configuration"; then
				break
			fi
		fi
		if [ "$(date +%s)" -ge "$_idp_deadline" ]; then
			tail -n 20 "$IDP_LOG" >&2
			kill "$IDP_PID" 2>/dev/null
			IDP_PID=
			idp_die "discovery did not answer within ${IDP_START_TIMEOUT:-30}s (log: $IDP_LOG)"
			return 1
		fi
		sleep 0.1
	done
	IDP_DISCOVERY_URL=$IDP_URL/.well-known/openid-configuration
	IDP_JWKS_URL=$IDP_URL/jwks
	IDP_TOKEN_URL=$IDP_URL/token
	IDP_DEVICE_URL=$IDP_URL/device/auth
	IDP_INTROSPECTION_URL=$IDP_URL/token/introspection
	IDP_REVOCATION_URL=$IDP_URL/token/revocation
	IDP_USERINFO_URL=$IDP_URL/me
	export IDP_PORT IDP_URL IDP_DISCOVERY_URL IDP_JWKS_URL IDP_TOKEN_URL \
		IDP_DEVICE_URL IDP_INTROSPECTION_URL IDP_REVOCATION_URL IDP_USERINFO_URL
}

idp_stop() {
	[ -n "${IDP_PID:-}" ] || return 0
	kill "$IDP_PID" 2>/dev/null
	_idp_i=0
	while kill -0 "$IDP_PID" 2>/dev/null && [ $_idp_i -lt 50 ]; do
		sleep 0.1
		_idp_i=$((_idp_i + 1))
	done
	if kill -0 "$IDP_PID" 2>/dev/null; then
		echo "idp: pid $IDP_PID ignored SIGTERM, sending SIGKILL" >&2
		kill -9 "$IDP_PID" 2>/dev/null
	fi
	wait "$IDP_PID" 2>/dev/null
	rm -f "$IDP_STATE_DIR/idp.pid" "$IDP_STATE_DIR/idp.port"
	IDP_PID=
	return 0
}

# Same port (so the same issuer) and the same keys unless IDP_KEYS says otherwise.
idp_restart() {
	_idp_keep_port=$IDP_PORT
	idp_stop
	idp_start "$IDP_STATE_DIR" "$_idp_keep_port"
}

idp_json() {
	python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
    if v is None:
        sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

idp_jwt_payload() {
	python3 -c '
import base64, sys
part = sys.argv[1].split(".")[int(sys.argv[2])]
sys.stdout.write(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode() + "\n")' "$1" "${2:-1}"
}

idp_jwt_header() {
	idp_jwt_payload "$1" 0
}

idp_ctl() {
	idp_curl --fail-with-body "$IDP_URL/test/$1"
}

# idp_token ACCOUNT [RESOURCE] [TTL]: a user access token (sub, email,
# preferred_username, scope "mail imap smtp"); RESOURCE "" gives an opaque
# token for the userinfo endpoint.
idp_token() {
	_idp_q="account=$1"
	if [ $# -ge 2 ]; then
		_idp_q="$_idp_q&resource=$(idp_urlencode "$2")"
	fi
	[ -n "${3:-}" ] && _idp_q="$_idp_q&ttl=$3"
	idp_ctl "token?$_idp_q" | idp_json access_token
}

# idp_client_credentials [RESOURCE] [SCOPE]: via the real token endpoint
idp_client_credentials() {
	idp_curl -f -u "$IDP_VERIFIER_ID:$IDP_VERIFIER_SECRET" \
		-d grant_type=client_credentials \
		--data-urlencode "scope=${2:-mail imap smtp}" \
		--data-urlencode "resource=${1:-$IDP_DEFAULT_RESOURCE}" \
		"$IDP_TOKEN_URL" | idp_json access_token
}

idp_urlencode() {
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

idp_device_authorize() {
	_ida_out=$1
	_ida_account=$2
	shift 2
	"$@" >"$_ida_out" 2>&1 &
	_ida_pid=$!
	_ida_i=0
	while ! grep -q 'enter the code:' "$_ida_out" 2>/dev/null; do
		if ! kill -0 "$_ida_pid" 2>/dev/null || [ $_ida_i -ge 150 ]; then
			kill "$_ida_pid" 2>/dev/null
			wait "$_ida_pid"
			return 1
		fi
		sleep 0.2
		_ida_i=$((_ida_i + 1))
	done
	_ida_code=$(sed -n 's/.*enter the code: //p' "$_ida_out")
	idp_ctl "device/approve?user_code=$(idp_urlencode "$_ida_code")&account=$_ida_account" >/dev/null ||
		kill "$_ida_pid" 2>/dev/null
	wait "$_ida_pid"
}
