/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the JWS layer: compact JWS parsing (with and without
   the JWT payload flag) and verification against a fixed key set made of
   the RFC 7515 / 7520 / 8037 public keys plus two configured HMAC secrets
   (RFC 7515 A.1, RFC 7520 4.4), so that the seed corpus of RFC tokens
   reaches every signature path. Checks: results are in the closed enum,
   a failed parse leaves no object, the two-step and one-call forms agree,
   and an accepted token's alg is allowed and fits the key that verified. */

#include "fuzz-common.h"

#include "support/base64.h"
#include "jose/jose-jwk.h"
#include "jose/jose-jws.h"
#include "mail-oauth2/verify-reason.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char fuzz_jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJ"
	"cyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT"
	"-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-b"
	"Sf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsm"
	"tdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAc"
	"o9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\",\"k"
	"id\":\"a2\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1g"
	"HMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjK"
	"IWI5a0\",\"kid\":\"a3\"},{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AekpBQ8ST8a8V"
	"cfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4q"
	"UxcWceqwQGk\",\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-"
	"x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\",\"kid\":\"a4\"},{\"kty\":\""
	"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaP"
	"cHURo\",\"kid\":\"ed\"},{\"kty\":\"RSA\",\"use\":\"sig\",\"n\":\"n4EPtAOCc9AlkeQ"
	"HPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ"
	"0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5y"
	"dQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5"
	"lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vni"
	"UFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gH"
	"drNP5zw\",\"e\":\"AQAB\",\"kid\":\"bilbo.baggins@hobbiton.example\"},{\"kt"
	"y\":\"EC\",\"use\":\"sig\",\"crv\":\"P-521\",\"x\":\"AHKZLLOsCOzz5cY97ewNUajB9"
	"57y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt\""
	",\"y\":\"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUd"
	"aQkAgDPrwQrJmbnX9cwlGfP-HqHZR1\",\"kid\":\"bilbo.baggins@hobbiton.ex"
	"ample\"}]}";

/* RFC 7515 A.1 and RFC 7520 4.4 HMAC keys (base64url) */
static const char *const fuzz_secrets[][2] = {
	{ NULL, "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow" },
	{ "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg" },
};

static struct moa2_jwks *keys;

static void
load_keys(void)
{
	const char *error;
	size_t skipped;

	if (moa2_jwks_parse(fuzz_jwks, strlen(fuzz_jwks), &keys, &skipped,
			    NULL, NULL, &error) < 0 || skipped != 0) {
		fprintf(stderr, "fuzz key set refused\n");
		abort();
	}
	for (size_t i = 0; i < sizeof(fuzz_secrets) / sizeof(fuzz_secrets[0]); i++) {
		unsigned char secret[128];
		size_t len;
		struct moa2_jwk *jwk;

		if (moa2_base64url_decode(fuzz_secrets[i][1], strlen(fuzz_secrets[i][1]),
					  secret, sizeof(secret), &len) < 0 ||
		    moa2_jwk_from_secret(secret, len, fuzz_secrets[i][0],
					 MOA2_JOSE_ALG_COUNT, &jwk, &error) < 0 ||
		    moa2_jwks_add(keys, jwk) < 0)
			abort();
		moa2_jwk_unref(&jwk);
	}
}

static void
check_reason(enum moa2_verify_reason reason)
{
	/* the JWS layer returns signature-level reasons only */
	FUZZ_CHECK(reason == MOA2_VERIFY_OK || reason == MOA2_VERIFY_MALFORMED ||
		   reason == MOA2_VERIFY_ALG_NOT_ALLOWED ||
		   reason == MOA2_VERIFY_BAD_SIGNATURE ||
		   reason == MOA2_VERIFY_UNKNOWN_KEY ||
		   reason == MOA2_VERIFY_KEY_TYPE_MISMATCH ||
		   reason == MOA2_VERIFY_UNSUPPORTED_CRIT ||
		   reason == MOA2_VERIFY_TOO_LARGE);
}

static void
fuzz_one(const char *token, size_t len, unsigned int flags, uint32_t allowed)
{
	struct moa2_jws *jws = (struct moa2_jws *)1, *jws2;
	const struct moa2_jwk *key = NULL;
	const char *error = NULL;
	enum moa2_verify_reason parsed, verified, compact;

	parsed = moa2_jws_parse(token, len, flags, &jws, &error);
	check_reason(parsed);
	if (parsed != MOA2_VERIFY_OK) {
		FUZZ_CHECK(jws == NULL && error != NULL);
		FUZZ_CHECK(parsed != MOA2_VERIFY_BAD_SIGNATURE &&
			   parsed != MOA2_VERIFY_UNKNOWN_KEY);
		verified = parsed;
	} else {
		size_t plen, slen, ilen;

		FUZZ_CHECK(jws != NULL && moa2_jws_header(jws) != NULL);
		FUZZ_CHECK((moa2_jws_payload(jws) != NULL) == ((flags & MOA2_JWS_FLAG_JWT) != 0));
		(void)moa2_jws_payload_raw(jws, &plen);
		(void)moa2_jws_signature(jws, &slen);
		(void)moa2_jws_signing_input(jws, &ilen);
		FUZZ_CHECK(slen > 0 && ilen < len && plen < len);
		verified = moa2_jws_verify(jws, keys, allowed, &key, &error);
		check_reason(verified);
		if (verified == MOA2_VERIFY_OK) {
			FUZZ_CHECK(key != NULL);
			FUZZ_CHECK((allowed & MOA2_JOSE_ALG_BIT(moa2_jws_alg(jws))) != 0);
			FUZZ_CHECK(moa2_jwk_fits_alg(key, moa2_jws_alg(jws)));
		} else {
			FUZZ_CHECK(key == NULL);
		}
		moa2_jws_free(&jws);
		FUZZ_CHECK(jws == NULL);
	}
	compact = moa2_jws_verify_compact(token, len, flags, keys, allowed,
					  &jws2, &error);
	FUZZ_CHECK(compact == verified);
	FUZZ_CHECK((jws2 != NULL) == (compact == MOA2_VERIFY_OK));
	moa2_jws_free(&jws2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (keys == NULL)
		load_keys();
	fuzz_one((const char *)data, size, 0, MOA2_JOSE_ALGS_ALL);
	fuzz_one((const char *)data, size, MOA2_JWS_FLAG_JWT,
		 MOA2_JOSE_ALGS_ASYMMETRIC);
	return 0;
}
