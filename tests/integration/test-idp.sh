#!/bin/bash
# SPDX-License-Identifier: MIT
# Self-test of the test identity provider (tests/integration/idp) and of
# tests/integration/lib/idp.sh. Starts it on loopback under a temp dir,
# exercises every flow the other integration tests rely on, stops it by PID.
# IDP_NODE=/path/to/node runs the server with another node binary.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/idp.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/test-idp.XXXXXX")
passed=0
failed=0
n=0

cleanup() {
	idp_stop
	[ -n "${IDP_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ $# -ge 2 ] && printf '#   %s\n' "$2"
}

# check DESCRIPTION COMMAND...: passes when the command succeeds
check() {
	_desc=$1
	shift
	if _out=$("$@" 2>&1); then
		ok "$_desc"
	else
		not_ok "$_desc" "$(printf '%s' "$_out" | tail -n 3)"
	fi
}

# fails COMMAND...: passes when the command fails
fails() {
	! "$@" >/dev/null 2>&1
}

finish() {
	echo "idp: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit $?
}

# pyassert JSON EXPR: evaluate a Python boolean EXPR over d = the parsed JSON
pyassert() {
	python3 -c '
import json, sys, time
d = json.loads(sys.argv[1])
now = int(time.time())
if not eval(sys.argv[2]):
    sys.exit("assertion failed: %s on %s" % (sys.argv[2], sys.argv[1][:400]))' "$1" "$2"
}

# jwt_verify TOKEN: check the JWS signature with the key of the header kid
# from the provider's published JWKS, with Node's own crypto (not oidc-provider)
jwt_verify() {
	idp_curl "$IDP_JWKS_URL" >"$work/jwks.json" || return 1
	node -e '
const crypto = require("crypto");
const fs = require("fs");
const [h, p, s] = process.argv[2].split(".");
const header = JSON.parse(Buffer.from(h, "base64url"));
const jwk = JSON.parse(fs.readFileSync(process.argv[1])).keys.find((k) => k.kid === header.kid);
if (!jwk) { console.error("kid not in JWKS:", header.kid); process.exit(1); }
if (jwk.d) { console.error("private key published"); process.exit(1); }
const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
const data = Buffer.from(`${h}.${p}`);
const sig = Buffer.from(s, "base64url");
const opts = {
	RS256: ["sha256", { key }],
	PS256: ["sha256", { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
	ES256: ["sha256", { key, dsaEncoding: "ieee-p1363" }],
	EdDSA: [null, key],
}[header.alg];
if (!opts || jwk.alg !== header.alg) { console.error("alg", header.alg, "key alg", jwk.alg); process.exit(1); }
if (!crypto.verify(opts[0], data, opts[1], sig)) { console.error("bad signature"); process.exit(1); }
const tampered = Buffer.from(`${h}.${p}x`);
if (crypto.verify(opts[0], tampered, opts[1], sig)) { console.error("verifier accepts anything"); process.exit(1); }
' "$work/jwks.json" "$1"
}

# token_post ARGS...: POST to the token endpoint, print "HTTPCODE BODY"
token_post() {
	idp_curl -o "$work/body" -w '%{http_code}' "$@" "$IDP_TOKEN_URL" >"$work/code"
	printf '%s %s' "$(cat "$work/code")" "$(cat "$work/body")"
}

expect_status() { # expect_status CODE ERROR RESPONSE
	case $3 in
	"$1 "*"\"error\":\"$2\""*) return 0 ;;
	*) echo "expected $1 $2, got: $3" | cut -c1-300; return 1 ;;
	esac
}

DEVICE_GRANT=urn:ietf:params:oauth:grant-type:device_code

# ---------------------------------------------------------------- start
export IDP_ACCESS_TOKEN_TTL=300
if idp_start "$work/idp"; then
	ok "idp_start: pid $IDP_PID, $IDP_URL"
else
	not_ok "idp_start"
	finish
fi

disc=$(idp_curl "$IDP_DISCOVERY_URL")
check "discovery: issuer and endpoints on $IDP_URL" pyassert "$disc" \
	"d['issuer'] == '$IDP_URL' and d['jwks_uri'] == '$IDP_URL/jwks' and d['token_endpoint'] == '$IDP_URL/token' and d['introspection_endpoint'] == '$IDP_URL/token/introspection' and d['device_authorization_endpoint'] == '$IDP_URL/device/auth' and d['userinfo_endpoint'] == '$IDP_URL/me'"

jwks=$(idp_curl "$IDP_JWKS_URL")
check "JWKS: RS256, PS256, ES256, EdDSA public keys with kids" pyassert "$jwks" \
	"sorted(k['alg'] for k in d['keys']) == ['ES256', 'EdDSA', 'PS256', 'RS256'] and all(k.get('kid') and 'd' not in k for k in d['keys'])"

check "state dir: private JWKS is mode 600" \
	test "$(stat -c %a "$IDP_STATE_DIR/jwks-private.json")" = 600

# ---------------------------------------------------------------- client_credentials
cc=$(idp_client_credentials https://mail.test)
check "client_credentials (client_secret_basic): at+jwt RS256 header" pyassert "$(idp_jwt_header "$cc")" \
	"d['typ'] == 'at+jwt' and d['alg'] == 'RS256' and d['kid'].startswith('rs256-')"
check "client_credentials: iss, aud, sub, scope, exp" pyassert "$(idp_jwt_payload "$cc")" \
	"d['iss'] == '$IDP_URL' and d['aud'] == 'https://mail.test' and d['sub'] == 'mail-verifier' and d['client_id'] == 'mail-verifier' and d['scope'] == 'mail imap smtp' and now - 5 <= d['iat'] <= now + 5 and d['exp'] - d['iat'] == 300"
check "client_credentials: RS256 signature verifies against the JWKS" jwt_verify "$cc"

r=$(token_post -d grant_type=client_credentials -d "client_id=$IDP_VERIFIER_POST_ID" \
	-d "client_secret=$IDP_VERIFIER_POST_SECRET" -d scope=mail)
check "client_credentials (client_secret_post): 200 with a JWT" pyassert "${r#* }" \
	"'${r%% *}' == '200' and d['access_token'].count('.') == 2 and d['token_type'] == 'Bearer'"
r=$(token_post -u "$IDP_VERIFIER_ID:wrong-secret" -d grant_type=client_credentials)
check "client_credentials with a wrong secret: 401 invalid_client" expect_status 401 invalid_client "$r"
r=$(token_post -u "$IDP_VERIFIER_ID:$IDP_VERIFIER_SECRET" -d grant_type=client_credentials \
	--data-urlencode resource=https://unknown.test)
check "unknown resource: 400 invalid_target" expect_status 400 invalid_target "$r"

for pair in https://mail-ps.test:PS256 https://mail-es.test:ES256 https://mail-ed.test:EdDSA; do
	res=${pair%:*}
	alg=${pair##*:}
	t=$(idp_client_credentials "$res" mail)
	if pyassert "$(idp_jwt_header "$t")" "d['alg'] == '$alg'" >/dev/null 2>&1 &&
		pyassert "$(idp_jwt_payload "$t")" "d['aud'] == '$res'" >/dev/null 2>&1; then
		check "resource $res: $alg JWT whose signature verifies" jwt_verify "$t"
	else
		not_ok "resource $res: $alg JWT" "$(idp_jwt_header "$t" 2>&1)"
	fi
done

r=$(token_post -d grant_type=client_credentials -d "client_id=$IDP_RELAY_ID" \
	--data-urlencode "client_secret=$IDP_RELAY_SECRET" -d scope=smtp)
check "relay client (secret with +&=%, form-encoded): 200" test "${r%% *}" = 200
r=$(token_post -d grant_type=client_credentials -d "client_id=$IDP_RELAY_ID" \
	-d "client_secret=$IDP_RELAY_SECRET" -d scope=smtp)
check "relay client with the secret NOT form-encoded: 401 invalid_client" expect_status 401 invalid_client "$r"

# ---------------------------------------------------------------- minted user tokens
ta=$(idp_token alice https://mail.test)
check "user token for alice: sub, email, preferred_username, scope, aud, iss" pyassert "$(idp_jwt_payload "$ta")" \
	"d['sub'] == 'alice' and d['email'] == 'alice@example.test' and d['preferred_username'] == 'alice' and d['scope'] == 'mail imap smtp' and d['aud'] == 'https://mail.test' and d['iss'] == '$IDP_URL' and d['exp'] - d['iat'] == 300 and d['exp'] > now"
check "user token for alice: signature verifies" jwt_verify "$ta"
tb=$(idp_token bob https://mail-es.test 7)
check "user token for bob, ES256 resource, ttl 7: exp = iat + 7" pyassert "$(idp_jwt_payload "$tb")" \
	"d['sub'] == 'bob' and d['email'] == 'bob@example.test' and d['aud'] == 'https://mail-es.test' and d['exp'] - d['iat'] == 7"
check "user token with an unknown account is refused" fails idp_ctl "token?account=mallory"

# ---------------------------------------------------------------- device flow + refresh rotation
da=$(idp_curl -d "client_id=$IDP_DEVICE_CLIENT_ID" -d 'scope=openid offline_access email profile mail imap smtp' "$IDP_DEVICE_URL")
check "device authorization: device_code, user_code, verification_uri" pyassert "$da" \
	"d['device_code'] and d['user_code'] and d['verification_uri'] == '$IDP_URL/device' and d['expires_in'] > 0"
dc=$(printf '%s' "$da" | idp_json device_code)
uc=$(printf '%s' "$da" | idp_json user_code)
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d "grant_type=$DEVICE_GRANT" -d "device_code=$dc")
check "device poll before approval: authorization_pending" expect_status 400 authorization_pending "$r"
ap=$(idp_ctl "device/approve?user_code=$(idp_urlencode "$uc")&account=alice")
check "device approval via the test route" pyassert "$ap" "d['approved'] and d['account'] == 'alice'"
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d "grant_type=$DEVICE_GRANT" -d "device_code=$dc")
tok=${r#* }
check "device poll after approval: access, refresh and id token" pyassert "$tok" \
	"'${r%% *}' == '200' and d['access_token'].count('.') == 2 and d['refresh_token'] and d['id_token'] and d['scope'] == 'mail imap smtp'"
at=$(printf '%s' "$tok" | idp_json access_token)
check "device flow access token: alice, email, preferred_username, aud" pyassert "$(idp_jwt_payload "$at")" \
	"d['sub'] == 'alice' and d['email'] == 'alice@example.test' and d['preferred_username'] == 'alice' and d['aud'] == 'https://mail.test' and d['client_id'] == 'mail-device'"
check "device flow access token: signature verifies" jwt_verify "$at"

rt0=$(printf '%s' "$tok" | idp_json refresh_token)
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d grant_type=refresh_token -d "refresh_token=$rt0")
rt1=$(printf '%s' "${r#* }" | idp_json refresh_token)
check "refresh 1: new access token and a rotated refresh token" pyassert "${r#* }" \
	"'${r%% *}' == '200' and d['refresh_token'] != '$rt0' and d['access_token'].count('.') == 2"
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d grant_type=refresh_token -d "refresh_token=$rt1")
rt2=$(printf '%s' "${r#* }" | idp_json refresh_token)
at2=$(printf '%s' "${r#* }" | idp_json access_token)
check "refresh 2: rotated again" pyassert "${r#* }" \
	"'${r%% *}' == '200' and d['refresh_token'] not in ('$rt0', '$rt1')"
check "refreshed access token keeps resource and user claims" pyassert "$(idp_jwt_payload "$at2")" \
	"d['aud'] == 'https://mail.test' and d['sub'] == 'alice' and d['email'] == 'alice@example.test'"
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d grant_type=refresh_token -d "refresh_token=$rt0")
check "reuse of the first (rotated-out) refresh token: invalid_grant" expect_status 400 invalid_grant "$r"
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d grant_type=refresh_token -d "refresh_token=$rt2")
check "after reuse the whole grant is revoked: newest refresh token invalid_grant" expect_status 400 invalid_grant "$r"
r=$(token_post -d "client_id=$IDP_DEVICE_CLIENT_ID" -d "grant_type=$DEVICE_GRANT" -d "device_code=$dc")
check "device code reuse (after the flow): invalid_grant" expect_status 400 invalid_grant "$r"

# confidential relay client: refresh token from the mint route, rotating too
mr=$(idp_ctl "token?account=bob&client=$IDP_RELAY_ID&refresh=1")
rrt=$(printf '%s' "$mr" | idp_json refresh_token)
r=$(token_post -d grant_type=refresh_token -d "client_id=$IDP_RELAY_ID" \
	--data-urlencode "client_secret=$IDP_RELAY_SECRET" -d "refresh_token=$rrt")
check "relay client: minted refresh token works at /token and rotates" pyassert "${r#* }" \
	"'${r%% *}' == '200' and d['refresh_token'] != '$rrt' and d['scope'] == 'mail imap smtp'"
check "no refresh_token_expires_in by default" pyassert "${r#* }" \
	"'refresh_token_expires_in' not in d"
rrt=$(printf '%s' "${r#* }" | idp_json refresh_token)
idp_ctl "refresh-expires-in?state=on" >/dev/null
r=$(token_post -d grant_type=refresh_token -d "client_id=$IDP_RELAY_ID" \
	--data-urlencode "client_secret=$IDP_RELAY_SECRET" -d "refresh_token=$rrt")
idp_ctl "refresh-expires-in?state=off" >/dev/null
check "/test/refresh-expires-in: the refresh token's lifetime in the response" pyassert "${r#* }" \
	"'${r%% *}' == '200' and d['refresh_token_expires_in'] == 14 * 24 * 3600"

# ---------------------------------------------------------------- introspection / revocation / userinfo
intro() { # intro TOKEN [post]
	if [ "${2:-}" = post ]; then
		idp_curl -d "client_id=$IDP_VERIFIER_POST_ID" -d "client_secret=$IDP_VERIFIER_POST_SECRET" \
			--data-urlencode "token=$1" "$IDP_INTROSPECTION_URL"
	else
		idp_curl -u "$IDP_VERIFIER_ID:$IDP_VERIFIER_SECRET" --data-urlencode "token=$1" "$IDP_INTROSPECTION_URL"
	fi
}
op=$(idp_client_credentials https://mail-opaque.test mail)
check "opaque resource: client_credentials token is not a JWT" test "$(printf '%s' "$op" | tr -cd . | wc -c)" -eq 0
check "introspection (basic) of the opaque token: active" pyassert "$(intro "$op")" \
	"d['active'] is True and d['client_id'] == 'mail-verifier' and d['aud'] == 'https://mail-opaque.test' and d['scope'] == 'mail' and d['exp'] > now"
ou=$(idp_token alice https://mail-opaque.test)
check "introspection (post) of alice's opaque token: active, sub, email" pyassert "$(intro "$ou" post)" \
	"d['active'] is True and d['sub'] == 'alice' and d['email'] == 'alice@example.test' and d['preferred_username'] == 'alice'"
check "introspection of a junk token: active false" pyassert "$(intro junk-token-$$)" "d == {'active': False}"
check "introspection with a wrong secret: refused" fails \
	idp_curl -f -u "$IDP_VERIFIER_ID:nope" -d token=x "$IDP_INTROSPECTION_URL"
idp_curl -u "$IDP_VERIFIER_ID:$IDP_VERIFIER_SECRET" --data-urlencode "token=$op" "$IDP_REVOCATION_URL" >/dev/null
check "revoked opaque token introspects inactive" pyassert "$(intro "$op")" "d['active'] is False"
ui=$(idp_token alice "")
check "userinfo with an audience-less token: alice's claims" pyassert \
	"$(idp_curl -H "Authorization: Bearer $ui" "$IDP_USERINFO_URL")" \
	"d['sub'] == 'alice' and d['email'] == 'alice@example.test' and d['preferred_username'] == 'alice'"

# ---------------------------------------------------------------- authorization code + PKCE (auto login)
idp_ctl "interaction-account?account=bob" >/dev/null
verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
challenge=$(python3 -c 'import sys, hashlib, base64; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$verifier")
redirect=http://127.0.0.1:9/callback
url="$IDP_URL/auth?client_id=$IDP_NATIVE_CLIENT_ID&response_type=code&redirect_uri=$(idp_urlencode $redirect)&scope=$(idp_urlencode 'openid offline_access mail')&code_challenge=$challenge&code_challenge_method=S256&state=s1&prompt=consent&resource=$(idp_urlencode https://mail.test)"
i=0
while [ $i -lt 10 ]; do
	loc=$(idp_curl -b "$work/jar" -c "$work/jar" -o /dev/null -w '%{redirect_url}' "$url")
	case $loc in "$redirect"*|'') break ;; esac
	url=$loc
	i=$((i + 1))
done
code=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc" 2>/dev/null)
r=$(token_post -d grant_type=authorization_code -d "client_id=$IDP_NATIVE_CLIENT_ID" \
	-d "code=${code:-none}" --data-urlencode "redirect_uri=$redirect" -d "code_verifier=$verifier")
check "authorization code + PKCE with loopback redirect (auto-login bob)" pyassert "${r#* }" \
	"'${r%% *}' == '200' and d['refresh_token'] and d['scope'] == 'mail' and __import__('json').loads(__import__('base64').urlsafe_b64decode(d['access_token'].split('.')[1] + '==='))['sub'] == 'bob'"

# ---------------------------------------------------------------- knobs
idp_ctl "stats?reset=1" >/dev/null
idp_ctl "latency?ms=400" >/dev/null
t0=$(date +%s%N)
idp_client_credentials >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
idp_ctl "latency?ms=0" >/dev/null
check "latency knob: token request took ${ms} ms (>= 400)" test "$ms" -ge 400
idp_ctl "token-endpoint?state=down" >/dev/null
r=$(token_post -u "$IDP_VERIFIER_ID:$IDP_VERIFIER_SECRET" -d grant_type=client_credentials)
check "token endpoint down: 503 temporarily_unavailable" expect_status 503 temporarily_unavailable "$r"
idp_ctl "token-endpoint?state=reset" >/dev/null
check "token endpoint reset: connection closed without a response" fails \
	idp_curl -u "$IDP_VERIFIER_ID:$IDP_VERIFIER_SECRET" -d grant_type=client_credentials "$IDP_TOKEN_URL"
idp_ctl "token-endpoint?state=up" >/dev/null
check "token endpoint up again" idp_client_credentials
st=$(idp_ctl stats)
check "stats: 4 token requests counted, 1 refused while down" pyassert "$st" \
	"d['token_requests'] == 4 and d['token_refused_down'] == 1 and d['token_by_grant'] == {'client_credentials': 2}"
idp_ctl "ttl?seconds=2" >/dev/null
short=$(idp_client_credentials)
idp_ctl "ttl?seconds=300" >/dev/null
check "ttl knob: access token lifetime 2 s" pyassert "$(idp_jwt_payload "$short")" "d['exp'] - d['iat'] == 2"
check "control routes are not advertised in discovery" fails grep -q /test/ <<<"$disc"

# ---------------------------------------------------------------- restart, key rotation, stop
kid1=$(idp_jwt_header "$(idp_client_credentials)" | idp_json kid)
port1=$IDP_PORT
pid1=$IDP_PID
if idp_restart; then
	kid2=$(idp_jwt_header "$(idp_client_credentials)" | idp_json kid)
	check "restart: same port (issuer), new pid, same signing key" test \
		"$IDP_PORT $kid2" = "$port1 $kid1" -a "$IDP_PID" != "$pid1"
else
	not_ok "restart"
fi
idp_stop
if IDP_KEYS=rotate idp_start "$IDP_STATE_DIR" "$port1"; then
	kid3=$(idp_jwt_header "$(idp_client_credentials)" | idp_json kid)
	check "IDP_KEYS=rotate: new RS256 kid signs, the old one is still published" pyassert \
		"$(idp_curl "$IDP_JWKS_URL")" "'$kid3' != '$kid1' and {'$kid1', '$kid3'} <= {k['kid'] for k in d['keys']}"
else
	not_ok "start with IDP_KEYS=rotate"
fi

pid=$IDP_PID
idp_stop
check "idp_stop: process $pid is gone" sh -c "! kill -0 $pid 2>/dev/null"
check "idp_stop: nothing answers on port $port1" sh -c \
	"! curl -s --cacert '$IDP_CA' --max-time 3 -o /dev/null https://127.0.0.1:$port1/jwks"

finish
