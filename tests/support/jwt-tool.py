#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test-only JWT minting with the openssl command: the tokens a real
provider will not issue on demand (expired, wrong audience, forged, alg
none, unknown kid, ...).

  jwt-tool.py keygen rsa|ec|ed25519 KEY.pem
  jwt-tool.py jwks KEY.pem KID [KEY2.pem KID2 ...]   -> public JWKS on stdout
  jwt-tool.py sign KEY.pem ALG '{"kid":..}' '{"sub":..}' -> compact JWS
      claims may use "exp": "+300" / "-60" (relative to now)
  jwt-tool.py none '{"sub":..}'                       -> alg none token
"""
import base64, json, os, subprocess, sys, tempfile, time


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


def keygen(kind, path):
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    elif kind == "ec":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "ED25519", "-out", path)


def der_ints(der):
    """Minimal DER SEQUENCE of two INTEGERs (an ECDSA signature)."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = []
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out.append(int.from_bytes(der[i + 2:i + 2 + n], "big"))
        i += 2 + n
    return out


def public_jwk(path, kid):
    text = openssl("pkey", "-in", path, "-noout", "-text").decode()
    pub = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    if "RSA" in text.split("\n")[0] or "modulus" in text:
        mod = openssl("rsa", "-in", path, "-noout", "-modulus").decode().strip().split("=")[1]
        n = bytes.fromhex(mod)
        return {"kty": "RSA", "kid": kid, "use": "sig", "n": b64u(n), "e": "AQAB"}
    if "ED25519" in text.upper():
        return {"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "x": b64u(pub[-32:])}
    point = pub[-65:]
    return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": b64u(point[1:33]), "y": b64u(point[33:])}


def sign(path, alg, header, claims):
    now = int(time.time())
    for k in ("exp", "nbf", "iat"):
        v = claims.get(k)
        if isinstance(v, str) and v[:1] in "+-":
            claims[k] = now + int(v)
    header = {"alg": alg, **header}
    signing_input = (b64u(json.dumps(header).encode()) + "." +
                     b64u(json.dumps(claims).encode())).encode()
    digest = {"256": "-sha256", "384": "-sha384", "512": "-sha512"}.get(alg[2:])
    if alg == "EdDSA":
        with tempfile.NamedTemporaryFile() as f:
            f.write(signing_input)
            f.flush()
            sig = openssl("pkeyutl", "-sign", "-inkey", path, "-rawin", "-in", f.name)
    elif alg.startswith("PS"):
        sig = openssl("dgst", digest, "-sign", path, "-sigopt", "rsa_padding_mode:pss",
                      "-sigopt", "rsa_pss_saltlen:digest", data=signing_input)
    else:
        sig = openssl("dgst", digest, "-sign", path, data=signing_input)
        if alg.startswith("ES"):
            r, s = der_ints(sig)
            size = {"ES256": 32, "ES384": 48, "ES512": 66}[alg]
            sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode() + "." + b64u(sig)


def main(argv):
    cmd = argv[1]
    if cmd == "keygen":
        keygen(argv[2], argv[3])
    elif cmd == "jwks":
        keys = [public_jwk(argv[i], argv[i + 1]) for i in range(2, len(argv), 2)]
        print(json.dumps({"keys": keys}))
    elif cmd == "sign":
        print(sign(argv[2], argv[3], json.loads(argv[4]), json.loads(argv[5])))
    elif cmd == "none":
        claims = json.loads(argv[2])
        now = int(time.time())
        for k in ("exp", "iat"):
            if isinstance(claims.get(k), str):
                claims[k] = now + int(claims[k])
        print(b64u(b'{"alg":"none","typ":"JWT"}') + "." + b64u(json.dumps(claims).encode()) + ".")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
