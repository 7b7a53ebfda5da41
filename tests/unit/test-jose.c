/* SPDX-License-Identifier: MIT */
/* Unit tests of the JOSE layer (jose-jwk.h, jose-jws.h, verify-reason.h):
   the published vectors of RFC 7515 Appendix A, RFC 7520 §4 and RFC 8037
   Appendix A (tests/data/jose/, one JSON file per vector, copied from the RFCs), then a
   negative table of RFC 8725 attacks built with keys generated here and
   the test-side signer (test-jose-sign.c). */

#include "test-common.h"
#include "test-jose-sign.h"

#include "support/base64.h"
#include "jose/jose-jwk.h"
#include "jose/jose-jws.h"
#include "support/json.h"
#include "mail-oauth2/verify-reason.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define PAYLOAD "{\"iss\":\"https://idp.example\",\"sub\":\"alice\",\"exp\":4102444800}"

/* ------------------------------------------------------------ helpers */

static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)size + 1);
	ck_assert(data != NULL);
	ck_assert(fread(data, 1, (size_t)size, f) == (size_t)size);
	fclose(f);
	data[size] = '\0';
	*len_r = (size_t)size;
	return data;
}

static struct moa2_json *
load_vector(const char *name)
{
	char path[512];
	struct moa2_json *json;
	const char *error;
	size_t len;
	char *data;

	snprintf(path, sizeof(path), "%s/jose/%s.json", TEST_DATA_DIR, name);
	data = read_file(path, &len);
	ck_assert_msg(moa2_json_parse(data, len, &json, &error) == 0,
		      "%s: %s", path, error);
	free(data);
	return json;
}

static const char *
json_str(const struct moa2_json *json, const char *key)
{
	const char *value;

	ck_assert_msg(moa2_json_get_string(json, key, &value) == 1,
		      "vector has no string %s", key);
	return value;
}

#define ck_assert_reason(got, want, what) \
	ck_assert_msg((got) == (want), "%s: got %s, want %s", (what), \
		      moa2_verify_reason_name(got), moa2_verify_reason_name(want))

static struct moa2_jwks *
jwks_from_text(const char *text, size_t *skipped_r)
{
	struct moa2_jwks *jwks;
	const char *error = NULL;

	ck_assert_msg(moa2_jwks_parse(text, strlen(text), &jwks, skipped_r,
				      NULL, NULL, &error) == 0,
		      "JWKS refused: %s", error);
	return jwks;
}

static struct moa2_jwks *
jwks_single(struct moa2_jwk *jwk)
{
	struct moa2_jwks *jwks = moa2_jwks_new();

	ck_assert(jwks != NULL);
	ck_assert_int_eq(moa2_jwks_add(jwks, jwk), 0);
	return jwks;
}

/* Flips one character of part (0 header, 1 payload, 2 signature) to
   another valid base64url character. */
static void
tamper(char *token, unsigned int part)
{
	char *p = token;

	for (unsigned int i = 0; i < part; i++)
		p = strchr(p, '.') + 1;
	p[1] = p[1] == 'A' ? 'B' : 'A';
}

/* ------------------------------------------------------------ RFC vectors */

static const char *const rfc_vectors[] = {
	"rfc7515-a1", "rfc7515-a2", "rfc7515-a3", "rfc7515-a4",
	"rfc7520-4.1", "rfc7520-4.2", "rfc7520-4.3", "rfc7520-4.4",
	"rfc8037-a4",
};

START_TEST(test_rfc_vector)
{
	struct moa2_json *vec = load_vector(rfc_vectors[_i]);
	const struct moa2_json *key_json;
	const char *alg_name = json_str(vec, "alg"), *error = NULL;
	const char *compact = json_str(vec, "compact");
	const char *payload = json_str(vec, "payload");
	enum moa2_jose_alg alg;
	struct moa2_jwk *jwk;
	struct moa2_jwks *jwks;
	struct moa2_jws *jws;
	const unsigned char *raw;
	size_t raw_len;
	char *copy;
	unsigned int flags;

	ck_assert_int_eq(moa2_jose_alg_from_name(alg_name, &alg), 0);
	ck_assert_int_eq(moa2_json_get(vec, "key", &key_json), 1);
	/* an HMAC key only through the configuration path */
	flags = moa2_jose_alg_is_hmac(alg) ? MOA2_JWK_FLAG_ALLOW_OCT : 0;
	ck_assert_msg(moa2_jwk_from_json(key_json, flags, &jwk, &error) == 0,
		      "%s: key refused: %s", rfc_vectors[_i], error);
	ck_assert(moa2_jwk_fits_alg(jwk, alg));
	jwks = jwks_single(jwk);

	ck_assert_reason(moa2_jws_verify_compact(compact, strlen(compact), 0,
						 jwks, MOA2_JOSE_ALG_BIT(alg),
						 &jws, &error),
			 MOA2_VERIFY_OK, rfc_vectors[_i]);
	ck_assert_int_eq(moa2_jws_alg(jws), alg);
	raw = moa2_jws_payload_raw(jws, &raw_len);
	ck_assert_uint_eq(raw_len, strlen(payload));
	ck_assert(memcmp(raw, payload, raw_len) == 0);
	moa2_jws_free(&jws);
	ck_assert(jws == NULL);

	/* the same token outside the allow-list */
	ck_assert_reason(moa2_jws_verify_compact(compact, strlen(compact), 0,
						 jwks, MOA2_JOSE_ALGS_ALL &
						 ~MOA2_JOSE_ALG_BIT(alg),
						 NULL, &error),
			 MOA2_VERIFY_ALG_NOT_ALLOWED, rfc_vectors[_i]);
	/* one changed character in payload and in signature */
	for (unsigned int part = 1; part <= 2; part++) {
		copy = strdup(compact);
		tamper(copy, part);
		ck_assert_reason(moa2_jws_verify_compact(copy, strlen(copy), 0,
							 jwks, MOA2_JOSE_ALGS_ALL,
							 NULL, &error),
				 MOA2_VERIFY_BAD_SIGNATURE, rfc_vectors[_i]);
		free(copy);
	}
	moa2_jwks_free(&jwks);
	ck_assert(jwks == NULL);
	moa2_jwk_unref(&jwk);
	ck_assert(jwk == NULL);
	moa2_json_free(&vec);
}
END_TEST

/* RFC 7515 A.1's payload is a JWT: the claims are readable. */
START_TEST(test_rfc7515_a1_claims)
{
	struct moa2_json *vec = load_vector("rfc7515-a1");
	const struct moa2_json *key_json, *payload;
	const char *compact = json_str(vec, "compact"), *error, *iss;
	struct moa2_jwk *jwk;
	struct moa2_jwks *jwks;
	struct moa2_jws *jws;
	int64_t exp;
	bool is_root;

	ck_assert_int_eq(moa2_json_get(vec, "key", &key_json), 1);
	ck_assert_int_eq(moa2_jwk_from_json(key_json, MOA2_JWK_FLAG_ALLOW_OCT,
					    &jwk, &error), 0);
	jwks = jwks_single(jwk);
	ck_assert_reason(moa2_jws_verify_compact(compact, strlen(compact),
						 MOA2_JWS_FLAG_JWT, jwks,
						 MOA2_JOSE_ALGS_HMAC, &jws, &error),
			 MOA2_VERIFY_OK, "A.1 as JWT");
	ck_assert_str_eq(moa2_jws_typ(jws), "JWT");
	ck_assert(moa2_jws_kid(jws) == NULL);
	payload = moa2_jws_payload(jws);
	ck_assert(payload != NULL);
	ck_assert_int_eq(moa2_json_get_string(payload, "iss", &iss), 1);
	ck_assert_str_eq(iss, "joe");
	ck_assert_int_eq(moa2_json_get_int64(payload, "exp", &exp), 1);
	ck_assert(exp == 1300819380);
	ck_assert_int_eq(moa2_json_get_bool(payload, "http://example.com/is_root",
					    &is_root), 1);
	ck_assert(is_root);
	moa2_jws_free(&jws);
	moa2_jwks_free(&jwks);
	moa2_jwk_unref(&jwk);
	moa2_json_free(&vec);
}
END_TEST

/* RFC 7515 A.5: an unsecured JWS ("alg":"none") is never accepted, whatever
   the allow-list and key set. */
START_TEST(test_rfc7515_a5_none)
{
	struct moa2_json *vec = load_vector("rfc7515-a5");
	const char *compact = json_str(vec, "compact"), *error = NULL;
	struct moa2_jws *jws = (struct moa2_jws *)1;
	struct moa2_jwks *jwks = moa2_jwks_new();
	char *with_sig;

	ck_assert_reason(moa2_jws_parse(compact, strlen(compact), 0, &jws, &error),
			 MOA2_VERIFY_ALG_NOT_ALLOWED, "A.5");
	ck_assert(jws == NULL);
	ck_assert(error != NULL);
	ck_assert_reason(moa2_jws_verify_compact(compact, strlen(compact), 0, jwks,
						 0xffffffffU, NULL, &error),
			 MOA2_VERIFY_ALG_NOT_ALLOWED, "A.5 all bits");
	/* "none" with something in the signature part */
	with_sig = malloc(strlen(compact) + 8);
	sprintf(with_sig, "%sAAAA", compact);
	ck_assert_reason(moa2_jws_verify_compact(with_sig, strlen(with_sig), 0, jwks,
						 0xffffffffU, NULL, &error),
			 MOA2_VERIFY_ALG_NOT_ALLOWED, "A.5 with signature");
	free(with_sig);
	moa2_jwks_free(&jwks);
	moa2_json_free(&vec);
}
END_TEST

/* RFC 8037 A.1 (private) and A.2 (public) are the same key pair; a JWK with
   "d" yields only its public key. */
START_TEST(test_rfc8037_keys)
{
	struct moa2_json *vec = load_vector("rfc8037-a4");
	const struct moa2_json *pub_json, *priv_json;
	struct moa2_jwk *pub, *from_priv;
	const char *error, *d_b64, *x_b64;
	unsigned char d[64], x[64], derived[32], raw[32];
	size_t d_len, x_len, derived_len = sizeof(derived), raw_len = sizeof(raw);
	EVP_PKEY *priv;

	ck_assert_int_eq(moa2_json_get(vec, "key", &pub_json), 1);
	ck_assert_int_eq(moa2_json_get(vec, "private_key", &priv_json), 1);
	ck_assert_int_eq(moa2_jwk_from_json(pub_json, 0, &pub, &error), 0);
	ck_assert_int_eq(moa2_jwk_from_json(priv_json, 0, &from_priv, &error), 0);
	ck_assert_int_eq(moa2_jwk_kty(pub), MOA2_JWK_KTY_OKP);
	ck_assert_int_eq(moa2_jwk_crv(pub), MOA2_JWK_CRV_ED25519);
	ck_assert_int_eq(EVP_PKEY_eq(moa2_jwk_pkey(pub), moa2_jwk_pkey(from_priv)), 1);
	/* no private half was imported */
	ck_assert_int_eq(EVP_PKEY_get_raw_private_key(moa2_jwk_pkey(from_priv),
						      NULL, &raw_len), 0);

	/* d of A.1 derives x of A.2 */
	ck_assert_int_eq(moa2_json_get_string(priv_json, "d", &d_b64), 1);
	ck_assert_int_eq(moa2_json_get_string(pub_json, "x", &x_b64), 1);
	ck_assert_int_eq(moa2_base64url_decode(d_b64, strlen(d_b64), d, sizeof(d), &d_len), 0);
	ck_assert_int_eq(moa2_base64url_decode(x_b64, strlen(x_b64), x, sizeof(x), &x_len), 0);
	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, d_len);
	ck_assert(priv != NULL);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(priv, derived, &derived_len), 1);
	ck_assert_uint_eq(derived_len, x_len);
	ck_assert(memcmp(derived, x, x_len) == 0);
	raw_len = sizeof(raw);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(moa2_jwk_pkey(pub), raw, &raw_len), 1);
	ck_assert(memcmp(raw, x, x_len) == 0);
	EVP_PKEY_free(priv);
	moa2_jwk_unref(&pub);
	moa2_jwk_unref(&from_priv);
	moa2_json_free(&vec);
}
END_TEST

/* RFC 7520 §4.4's key is kty oct: inside a JWKS it is never usable, so its
   token is not accepted from a fetched set. */
START_TEST(test_rfc7520_oct_in_jwks)
{
	struct moa2_json *vec = load_vector("rfc7520-4.4");
	const struct moa2_json *key_json;
	const char *compact = json_str(vec, "compact"), *error;
	struct moa2_jwks *jwks;
	struct moa2_jwk *jwk;
	size_t skipped = 0;

	ck_assert_int_eq(moa2_json_get(vec, "key", &key_json), 1);
	ck_assert_int_eq(moa2_jwk_from_json(key_json, 0, &jwk, &error), -1);
	ck_assert(jwk == NULL);
	ck_assert(strstr(error, "oct") != NULL);
	jwks = jwks_from_text("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"018c0ae5-4d9b-471b-bfd6-eef314bc7037\","
			      "\"use\":\"sig\",\"alg\":\"HS256\",\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}]}",
			      &skipped);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 0);
	ck_assert_reason(moa2_jws_verify_compact(compact, strlen(compact), 0, jwks,
						 MOA2_JOSE_ALGS_ALL, NULL, &error),
			 MOA2_VERIFY_UNKNOWN_KEY, "HS256 against a fetched oct key");
	moa2_jwks_free(&jwks);
	moa2_json_free(&vec);
}
END_TEST

/* ------------------------------------------------------------ fixtures */

static EVP_PKEY *key_rsa, *key_rsa_attacker, *key_rsa_small, *key_ec256,
	*key_ec384, *key_ec521, *key_ed, *key_ed_other;
static const unsigned char hmac_secret[] =
	"0123456789abcdef0123456789abcdef"; /* 32 bytes */
/* The "real" provider set: the JWKS a verifier would have fetched. */
static struct moa2_jwks *real_set;
/* The same plus the configured HMAC secret (kid "hs"). */
static struct moa2_jwks *real_set_hmac;
static char *rsa_pem, *rsa_jwk;

static void
generate_keys(void)
{
	char *jwks[8];
	struct moa2_jwk *secret;
	const char *error;

	key_rsa = test_jose_keygen_rsa(2048);
	key_rsa_attacker = test_jose_keygen_rsa(2048);
	key_rsa_small = test_jose_keygen_rsa(1024);
	key_ec256 = test_jose_keygen_ec("P-256");
	key_ec384 = test_jose_keygen_ec("P-384");
	key_ec521 = test_jose_keygen_ec("P-521");
	key_ed = test_jose_keygen_ed25519();
	key_ed_other = test_jose_keygen_ed25519();
	if (key_rsa == NULL || key_rsa_attacker == NULL || key_rsa_small == NULL ||
	    key_ec256 == NULL || key_ec384 == NULL || key_ec521 == NULL ||
	    key_ed == NULL || key_ed_other == NULL) {
		fprintf(stderr, "key generation failed\n");
		exit(EXIT_FAILURE);
	}
	rsa_pem = test_jose_public_pem(key_rsa);
	rsa_jwk = test_jose_public_jwk(key_rsa, "rsa1", NULL);
	jwks[0] = test_jose_public_jwk(key_rsa, "rsa1", NULL);
	jwks[1] = test_jose_public_jwk(key_ec256, "ec256", NULL);
	jwks[2] = test_jose_public_jwk(key_ec384, "ec384", "ES384");
	jwks[3] = test_jose_public_jwk(key_ec521, "ec521", NULL);
	jwks[4] = test_jose_public_jwk(key_ed, "ed1", "EdDSA");
	jwks[5] = test_jose_public_jwk(key_rsa, "rsa-rs256-only", "RS256");
	jwks[6] = NULL;
	{
		char *text = test_jose_jwks((const char *const *)jwks);
		const char *err = NULL;
		size_t skipped = 99;

		if (moa2_jwks_parse(text, strlen(text), &real_set, &skipped,
				    NULL, NULL, &err) < 0 || skipped != 0 ||
		    moa2_jwks_parse(text, strlen(text), &real_set_hmac, NULL,
				    NULL, NULL, &err) < 0) {
			fprintf(stderr, "fixture JWKS refused: %s\n", err);
			exit(EXIT_FAILURE);
		}
		free(text);
	}
	for (size_t i = 0; jwks[i] != NULL; i++)
		free(jwks[i]);
	if (moa2_jwk_from_secret(hmac_secret, 32, "hs", MOA2_JOSE_ALG_COUNT,
				 &secret, &error) < 0 ||
	    moa2_jwks_add(real_set_hmac, secret) < 0) {
		fprintf(stderr, "secret refused\n");
		exit(EXIT_FAILURE);
	}
	moa2_jwk_unref(&secret);
}

static void
free_keys(void)
{
	EVP_PKEY_free(key_rsa);
	EVP_PKEY_free(key_rsa_attacker);
	EVP_PKEY_free(key_rsa_small);
	EVP_PKEY_free(key_ec256);
	EVP_PKEY_free(key_ec384);
	EVP_PKEY_free(key_ec521);
	EVP_PKEY_free(key_ed);
	EVP_PKEY_free(key_ed_other);
	moa2_jwks_free(&real_set);
	moa2_jwks_free(&real_set_hmac);
	free(rsa_pem);
	free(rsa_jwk);
}

/* ------------------------------------------------------------ token makers */

static char *
sign(const char *alg, EVP_PKEY *pkey, const char *header)
{
	char *token = test_jose_sign(alg, pkey, header, PAYLOAD);

	ck_assert_msg(token != NULL, "signing %s failed", header);
	return token;
}

/* A token with the given header and payload and an arbitrary signature. */
static char *
raw_token(const char *header, const void *sig, size_t sig_len)
{
	return test_jose_compact(header, PAYLOAD, strlen(PAYLOAD), sig, sig_len);
}

static char *make_rs256(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"); }
static char *make_rs384(void) { return sign("RS384", key_rsa, "{\"alg\":\"RS384\",\"kid\":\"rsa1\"}"); }
static char *make_rs512(void) { return sign("RS512", key_rsa, "{\"alg\":\"RS512\",\"kid\":\"rsa1\"}"); }
static char *make_ps256(void) { return sign("PS256", key_rsa, "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}"); }
static char *make_ps384(void) { return sign("PS384", key_rsa, "{\"alg\":\"PS384\",\"kid\":\"rsa1\"}"); }
static char *make_ps512(void) { return sign("PS512", key_rsa, "{\"alg\":\"PS512\",\"kid\":\"rsa1\"}"); }
static char *make_es256(void) { return sign("ES256", key_ec256, "{\"alg\":\"ES256\",\"kid\":\"ec256\"}"); }
static char *make_es384(void) { return sign("ES384", key_ec384, "{\"alg\":\"ES384\",\"kid\":\"ec384\"}"); }
static char *make_es512(void) { return sign("ES512", key_ec521, "{\"alg\":\"ES512\",\"kid\":\"ec521\"}"); }
static char *make_eddsa(void) { return sign("EdDSA", key_ed, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}"); }
static char *make_rs256_no_kid(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}"); }
static char *make_es256_no_kid(void) { return sign("ES256", key_ec256, "{\"alg\":\"ES256\"}"); }
static char *make_eddsa_no_kid(void) { return sign("EdDSA", key_ed, "{\"alg\":\"EdDSA\"}"); }
static char *make_rs256_kid_of_rs256_only(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa-rs256-only\"}"); }

static char *
make_hs256(void)
{
	return test_jose_sign_hmac("HS256", hmac_secret, 32,
				   "{\"alg\":\"HS256\",\"kid\":\"hs\"}", PAYLOAD);
}

/* HS384 needs a 48-byte key; the configured secret has 32 */
static char *
make_hs384_short_secret(void)
{
	return test_jose_sign_hmac("HS384", hmac_secret, 32,
				   "{\"alg\":\"HS384\",\"kid\":\"hs\"}", PAYLOAD);
}

static char *make_none(void)
{
	return raw_token("{\"alg\":\"none\",\"kid\":\"rsa1\"}", "", 0);
}

static char *make_none_cased(void)
{
	return raw_token("{\"alg\":\"None\"}", "x", 1);
}

/* Key confusion: HS256 with the RSA public key (PEM and JWK text) as the
   HMAC secret. */
static char *
make_confusion_pem(void)
{
	return test_jose_sign_hmac("HS256", rsa_pem, strlen(rsa_pem),
				   "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", PAYLOAD);
}

static char *
make_confusion_pem_no_kid(void)
{
	return test_jose_sign_hmac("HS256", rsa_pem, strlen(rsa_pem),
				   "{\"alg\":\"HS256\"}", PAYLOAD);
}

static char *
make_confusion_jwk(void)
{
	return test_jose_sign_hmac("HS256", rsa_jwk, strlen(rsa_jwk),
				   "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", PAYLOAD);
}

static char *make_es256_kid_rsa(void) { return sign("ES256", key_ec256, "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}"); }
static char *make_rs256_kid_ec(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"ec256\"}"); }
static char *make_eddsa_kid_rsa(void) { return sign("EdDSA", key_ed, "{\"alg\":\"EdDSA\",\"kid\":\"rsa1\"}"); }
/* ES256 header, signed by the P-384 key (kid ec384 names a P-384 key) */
static char *make_es256_p384(void) { return sign("ES384", key_ec384, "{\"alg\":\"ES256\",\"kid\":\"ec384\"}"); }
/* ES384 header for the P-521 key: wrong crv */
static char *make_es384_p521(void) { return sign("ES512", key_ec521, "{\"alg\":\"ES384\",\"kid\":\"ec521\"}"); }
static char *make_ps256_kid_rs256_only(void) { return sign("PS256", key_rsa, "{\"alg\":\"PS256\",\"kid\":\"rsa-rs256-only\"}"); }

static char *
make_es256_der(void)
{
	char *token = test_jose_sign_der("ES256", key_ec256, "{\"alg\":\"ES256\",\"kid\":\"ec256\"}", PAYLOAD);

	ck_assert(token != NULL);
	return token;
}

static char *
make_es256_zero(void)
{
	unsigned char sig[64] = { 0 };

	return raw_token("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", sig, sizeof(sig));
}

/* r = 1, s = n (the P-256 group order): s out of range */
static char *
make_es256_s_order(void)
{
	static const unsigned char order[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
		0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	};
	unsigned char sig[64] = { 0 };

	sig[31] = 1;
	memcpy(sig + 32, order, 32);
	return raw_token("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", sig, sizeof(sig));
}

/* a valid R||S with one byte dropped / one byte added */
static char *
make_es256_resized(int delta)
{
	const char *header = "{\"alg\":\"ES256\",\"kid\":\"ec256\"}";
	char *good = sign("ES256", key_ec256, header), *input, *token;
	unsigned char *sig, padded[80] = { 0 };
	size_t sig_len;

	input = strndup(good, (size_t)(strrchr(good, '.') - good));
	ck_assert_int_eq(test_jose_raw_sign("ES256", key_ec256, NULL, 0, false,
					    input, strlen(input), &sig, &sig_len), 0);
	memcpy(padded + (delta > 0 ? 1 : 0), sig, sig_len);
	token = raw_token(header, delta > 0 ? padded : sig + 1,
			  sig_len + (size_t)(delta > 0 ? 1 : -1));
	free(sig);
	free(input);
	free(good);
	return token;
}

static char *make_es256_short(void) { return make_es256_resized(-1); }
static char *make_es256_long(void) { return make_es256_resized(1); }

static char *
make_rs256_sig_padded(void)
{
	char *good = make_rs256(), *token;

	/* a leading zero byte in front of the signature: "AA" + the old
	   base64url is a different, longer encoding */
	token = malloc(strlen(good) + 8);
	strcpy(token, good);
	{
		char *sig_b64 = strrchr(token, '.') + 1;
		unsigned char raw[600] = { 0 };
		size_t raw_len;
		char *enc;

		ck_assert_int_eq(moa2_base64url_decode(sig_b64, strlen(sig_b64),
						       raw + 1, sizeof(raw) - 1,
						       &raw_len), 0);
		enc = moa2_base64url_encode(raw, raw_len + 1);
		strcpy(sig_b64, enc);
		free(enc);
	}
	free(good);
	return token;
}

static char *make_small_rsa(void) { return sign("RS256", key_rsa_small, "{\"alg\":\"RS256\",\"kid\":\"small\"}"); }
static char *make_small_rsa_no_kid(void) { return sign("RS256", key_rsa_small, "{\"alg\":\"RS256\"}"); }

static char *make_crit_unknown(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"http://example.invalid/x\"],\"http://example.invalid/x\":1}"); }
static char *make_crit_b64(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"b64\":false,\"crit\":[\"b64\"]}"); }
static char *make_crit_empty(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[]}"); }
static char *make_crit_string(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":\"exp\"}"); }

/* The attacker signs with its own key and names it in the header. */
static char *
make_embedded_jwk(bool with_kid)
{
	char *jwk = test_jose_public_jwk(key_rsa_attacker, NULL, NULL);
	char header[4096], *token;

	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",%s\"jwk\":%s}",
		 with_kid ? "\"kid\":\"attacker\"," : "", jwk);
	token = sign("RS256", key_rsa_attacker, header);
	free(jwk);
	return token;
}

static char *make_embedded_jwk_no_kid(void) { return make_embedded_jwk(false); }
static char *make_embedded_jwk_kid(void) { return make_embedded_jwk(true); }
/* the attacker's jwk and the real kid */
static char *
make_embedded_jwk_real_kid(void)
{
	char *jwk = test_jose_public_jwk(key_rsa_attacker, "rsa1", NULL);
	char header[4096], *token;

	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jwk\":%s}", jwk);
	token = sign("RS256", key_rsa_attacker, header);
	free(jwk);
	return token;
}

static char *make_jku(void) { return sign("RS256", key_rsa_attacker, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":\"https://attacker.example/jwks.json\"}"); }
static char *make_x5u(void) { return sign("RS256", key_rsa_attacker, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x5u\":\"https://attacker.example/cert.pem\"}"); }
static char *make_x5c(void) { return sign("RS256", key_rsa_attacker, "{\"alg\":\"RS256\",\"x5c\":[\"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\"]}"); }
/* the real key's token also carrying jku: ignored, still valid */
static char *make_jku_real(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":\"https://attacker.example/jwks.json\"}"); }

static char *make_unknown_kid(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"no-such-key\"}"); }
static char *make_ed_other_no_kid(void) { return sign("EdDSA", key_ed_other, "{\"alg\":\"EdDSA\"}"); }

/* PS256 signature under an RS256 header and the other way round */
static char *make_ps_as_rs(void) { return sign("PS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"); }
static char *make_rs_as_ps(void) { return sign("RS256", key_rsa, "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}"); }
/* RS256 signature under an RS384 header */
static char *make_rs256_as_rs384(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS384\",\"kid\":\"rsa1\"}"); }

static char *
make_dots(unsigned int extra)
{
	char *good = make_rs256(), *token = malloc(strlen(good) + 16);

	if (extra == 0) {	/* one dot: drop the signature */
		*strrchr(good, '.') = '\0';
		strcpy(token, good);
	} else {
		strcpy(token, good);
		for (unsigned int i = 0; i < extra; i++)
			strcat(token, ".AAAA");
	}
	free(good);
	return token;
}

static char *make_one_dot(void) { return make_dots(0); }
static char *make_three_dots(void) { return make_dots(1); }
static char *make_four_dots(void) { return make_dots(2); }
static char *make_no_dot(void) { return strdup("eyJhbGciOiJSUzI1NiJ9"); }
static char *make_empty(void) { return strdup(""); }
static char *make_only_dots(void) { return strdup(".."); }

/* A signed token of exactly len characters: the payload is padded. */
static char *
make_sized(size_t len)
{
	/* two headers whose encodings differ by one character, so that the
	   payload's encoded length can always be valid (not 1 mod 4) */
	const char *header = "{\"alg\":\"ES256\",\"kid\":\"ec256\"}";
	/* header b64 + '.' + payload b64 + '.' + 86 signature chars */
	size_t fixed = moa2_base64url_encoded_len(strlen(header)) + 2 + 86;
	size_t payload_b64, payload_len;
	char *payload, *token;

	if ((len - fixed) % 4 == 1) {
		header = "{\"alg\":\"ES256\",\"kid\":\"ec256\" }";
		fixed++;
	}
	payload_b64 = len - fixed;
	payload_len = payload_b64 * 3 / 4;
	payload = malloc(payload_len + 1);
	memset(payload, ' ', payload_len);
	memcpy(payload, "{\"a\":1}", 7);
	payload[payload_len] = '\0';
	token = test_jose_sign("ES256", key_ec256, header, payload);
	free(payload);
	ck_assert_uint_eq(strlen(token), len);
	return token;
}

static char *make_max_size(void) { return make_sized(MOA2_JWS_MAX_LEN); }
static char *make_oversized(void) { return make_sized(MOA2_JWS_MAX_LEN + 1); }

static char *
make_bad_b64(unsigned int part, char bad)
{
	char *token = make_rs256(), *p = token;

	for (unsigned int i = 0; i < part; i++)
		p = strchr(p, '.') + 1;
	p[2] = bad;
	return token;
}

static char *make_bad_b64_header(void) { return make_bad_b64(0, '+'); }
static char *make_bad_b64_payload(void) { return make_bad_b64(1, '/'); }
static char *make_bad_b64_sig(void) { return make_bad_b64(2, '='); }
static char *make_bad_b64_space(void) { return make_bad_b64(1, ' '); }

/* padding is not part of base64url in JOSE */
static char *
make_padded_sig(void)
{
	char *good = make_es256(), *token = malloc(strlen(good) + 4);

	sprintf(token, "%s==", good);	/* 86 chars + "==" */
	free(good);
	return token;
}

/* 1 mod 4 characters in the header: not base64url at all */
static char *make_b64_len(void)
{
	char *good = make_rs256(), *token = malloc(strlen(good) + 32);

	sprintf(token, "eyJhbGciOiJSUzI1NiJ9A%s", strchr(good, '.'));
	free(good);
	return token;
}

static char *make_header_array(void) { return sign("RS256", key_rsa, "[{\"alg\":\"RS256\"}]"); }
static char *make_header_string(void) { return sign("RS256", key_rsa, "\"RS256\""); }
static char *make_header_null(void) { return sign("RS256", key_rsa, "null"); }
static char *make_header_bad_json(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\""); }
static char *make_header_trailing(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\"}x"); }
static char *make_header_no_alg(void) { return sign("RS256", key_rsa, "{\"kid\":\"rsa1\"}"); }
static char *make_header_alg_number(void) { return sign("RS256", key_rsa, "{\"alg\":256}"); }
static char *make_header_kid_number(void) { return sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":1}"); }
static char *make_header_empty(void) { return raw_token("", "\x01", 1); }

static char *
make_payload_not_json(void)
{
	return test_jose_sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "not json");
}

static char *
make_payload_array(void)
{
	return test_jose_sign("RS256", key_rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "[1,2]");
}

enum set_choice { SET_REAL, SET_REAL_HMAC };

struct neg_case {
	const char *name;
	char *(*make)(void);
	enum set_choice set;
	uint32_t allowed;
	unsigned int flags;
	enum moa2_verify_reason want;
};

#define ALL MOA2_JOSE_ALGS_ALL
#define ASYM MOA2_JOSE_ALGS_ASYMMETRIC
#define BIT(a) MOA2_JOSE_ALG_BIT(MOA2_JOSE_ALG_##a)
#define JWT MOA2_JWS_FLAG_JWT

static const struct neg_case neg_cases[] = {
	/* controls: the same keys and signer accept good tokens */
	{ "good RS256", make_rs256, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good RS384", make_rs384, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good RS512", make_rs512, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good PS256", make_ps256, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good PS384", make_ps384, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good PS512", make_ps512, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good ES256", make_es256, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good ES384", make_es384, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good ES512", make_es512, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good EdDSA", make_eddsa, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good HS256 configured secret", make_hs256, SET_REAL_HMAC, ALL, JWT, MOA2_VERIFY_OK },
	{ "good RS256 without kid", make_rs256_no_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good ES256 without kid", make_es256_no_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good EdDSA without kid", make_eddsa_no_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good RS256 key with alg RS256", make_rs256_kid_of_rs256_only, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good jku header ignored", make_jku_real, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },
	{ "good at the size limit", make_max_size, SET_REAL, ASYM, JWT, MOA2_VERIFY_OK },

	/* alg none and the allow-list */
	{ "alg none", make_none, SET_REAL, ALL, 0, MOA2_VERIFY_ALG_NOT_ALLOWED },
	{ "alg None", make_none_cased, SET_REAL, ALL, 0, MOA2_VERIFY_ALG_NOT_ALLOWED },
	{ "RS256 outside allow-list", make_rs256, SET_REAL, BIT(ES256), JWT, MOA2_VERIFY_ALG_NOT_ALLOWED },
	{ "HS256 with default allow-list", make_hs256, SET_REAL_HMAC, ASYM, JWT, MOA2_VERIFY_ALG_NOT_ALLOWED },

	/* key confusion: HS256 keyed with the RSA public key */
	{ "HS256 keyed with RSA PEM, kid rsa1", make_confusion_pem, SET_REAL, ALL, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "HS256 keyed with RSA PEM, no kid", make_confusion_pem_no_kid, SET_REAL, ALL, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "HS256 keyed with RSA PEM, secret set", make_confusion_pem_no_kid, SET_REAL_HMAC, ALL, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "HS256 keyed with RSA JWK, kid rsa1", make_confusion_jwk, SET_REAL_HMAC, ALL, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "HS256 keyed with RSA PEM, asymmetric list", make_confusion_pem, SET_REAL, ASYM, JWT, MOA2_VERIFY_ALG_NOT_ALLOWED },

	/* alg / kty / crv mismatch */
	{ "ES256 with kid of RSA key", make_es256_kid_rsa, SET_REAL, ASYM, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "RS256 with kid of EC key", make_rs256_kid_ec, SET_REAL, ASYM, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "EdDSA with kid of RSA key", make_eddsa_kid_rsa, SET_REAL, ASYM, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "ES256 with a P-384 key", make_es256_p384, SET_REAL, ASYM, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "ES384 with a P-521 key", make_es384_p521, SET_REAL, ASYM, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "PS256 with a key whose alg is RS256", make_ps256_kid_rs256_only, SET_REAL, ASYM, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },
	{ "HS384 with a 32-byte secret", make_hs384_short_secret, SET_REAL_HMAC, ALL, JWT, MOA2_VERIFY_KEY_TYPE_MISMATCH },

	/* ECDSA signature encoding */
	{ "ES256 DER signature", make_es256_der, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "ES256 r = s = 0", make_es256_zero, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "ES256 s = n", make_es256_s_order, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "ES256 63-byte signature", make_es256_short, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "ES256 65-byte signature", make_es256_long, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "RS256 signature with a leading zero", make_rs256_sig_padded, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },

	/* RSA under 2048 bits never got into the set */
	{ "RSA-1024 key, kid", make_small_rsa, SET_REAL, ASYM, JWT, MOA2_VERIFY_UNKNOWN_KEY },
	{ "RSA-1024 key, no kid", make_small_rsa_no_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },

	/* crit */
	{ "unknown crit", make_crit_unknown, SET_REAL, ASYM, JWT, MOA2_VERIFY_UNSUPPORTED_CRIT },
	{ "crit b64", make_crit_b64, SET_REAL, ASYM, JWT, MOA2_VERIFY_UNSUPPORTED_CRIT },
	{ "crit empty", make_crit_empty, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "crit not an array", make_crit_string, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },

	/* keys from the token are never used */
	{ "embedded jwk, no kid", make_embedded_jwk_no_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "embedded jwk, its kid", make_embedded_jwk_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_UNKNOWN_KEY },
	{ "embedded jwk, real kid", make_embedded_jwk_real_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "jku header", make_jku, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "x5u header", make_x5u, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "x5c header", make_x5c, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },

	/* structure */
	{ "no dot", make_no_dot, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "one dot", make_one_dot, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "three dots", make_three_dots, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "four dots (JWE)", make_four_dots, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "empty token", make_empty, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "only dots", make_only_dots, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "oversized", make_oversized, SET_REAL, ASYM, JWT, MOA2_VERIFY_TOO_LARGE },
	{ "bad base64url in header", make_bad_b64_header, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "bad base64url in payload", make_bad_b64_payload, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "bad base64url in signature", make_bad_b64_sig, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "space in payload", make_bad_b64_space, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "padded signature", make_padded_sig, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "impossible base64url length", make_b64_len, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header is an array", make_header_array, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header is a string", make_header_string, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header is null", make_header_null, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header is bad JSON", make_header_bad_json, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header with trailing data", make_header_trailing, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header without alg", make_header_no_alg, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header alg is a number", make_header_alg_number, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header kid is a number", make_header_kid_number, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "header empty", make_header_empty, SET_REAL, ASYM, 0, MOA2_VERIFY_MALFORMED },
	{ "JWT payload not JSON", make_payload_not_json, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "JWT payload an array", make_payload_array, SET_REAL, ASYM, JWT, MOA2_VERIFY_MALFORMED },
	{ "non-JWT payload accepted without flag", make_payload_not_json, SET_REAL, ASYM, 0, MOA2_VERIFY_OK },

	/* key lookup */
	{ "unknown kid", make_unknown_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_UNKNOWN_KEY },
	{ "other Ed25519 key, no kid", make_ed_other_no_kid, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },

	/* signature algorithm confusion within RSA */
	{ "PS256 signature as RS256", make_ps_as_rs, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "RS256 signature as PS256", make_rs_as_ps, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
	{ "RS256 signature as RS384", make_rs256_as_rs384, SET_REAL, ASYM, JWT, MOA2_VERIFY_BAD_SIGNATURE },
};

START_TEST(test_negative_table)
{
	const struct neg_case *c = &neg_cases[_i];
	const struct moa2_jwks *set = c->set == SET_REAL ? real_set : real_set_hmac;
	char *token = c->make();
	struct moa2_jws *jws = NULL;
	const struct moa2_jwk *key = NULL;
	const char *error = NULL;
	enum moa2_verify_reason got;

	ck_assert_msg(token != NULL, "%s: no token", c->name);
	got = moa2_jws_parse(token, strlen(token), c->flags, &jws, &error);
	if (got == MOA2_VERIFY_OK) {
		got = moa2_jws_verify(jws, set, c->allowed, &key, &error);
		if (got == MOA2_VERIFY_OK)
			ck_assert_msg(key != NULL, "%s: no key reported", c->name);
		else
			ck_assert_msg(key == NULL, "%s: key reported on failure", c->name);
	} else {
		ck_assert_msg(jws == NULL, "%s: jws left on failure", c->name);
	}
	ck_assert_msg(got == c->want, "%s: got %s (%s), want %s", c->name,
		      moa2_verify_reason_name(got), got == MOA2_VERIFY_OK ? "-" : error,
		      moa2_verify_reason_name(c->want));
	if (got != MOA2_VERIFY_OK)
		ck_assert_msg(error != NULL && *error != '\0', "%s: no detail", c->name);
	/* the one-call form agrees */
	ck_assert_reason(moa2_jws_verify_compact(token, strlen(token), c->flags,
						 set, c->allowed, NULL, &error),
			 c->want, c->name);
	moa2_jws_free(&jws);
	free(token);
}
END_TEST

/* ------------------------------------------------------------ key selection */

/* Without a kid at most MOA2_JWS_MAX_KEY_TRIES fitting keys are tried. */
START_TEST(test_kidless_try_bound)
{
	EVP_PKEY *keys[MOA2_JWS_MAX_KEY_TRIES + 2];
	const size_t n = MOA2_JWS_MAX_KEY_TRIES + 2;
	char *token;
	const char *error;

	for (size_t i = 0; i < n; i++)
		keys[i] = test_jose_keygen_ec("P-256");
	for (size_t right = 0; right < n; right++) {
		char *jwks_text[MOA2_JWS_MAX_KEY_TRIES + 3];
		struct moa2_jwks *jwks;

		for (size_t i = 0; i < n; i++)
			jwks_text[i] = test_jose_public_jwk(keys[i], NULL, NULL);
		jwks_text[n] = NULL;
		{
			char *text = test_jose_jwks((const char *const *)jwks_text);

			jwks = jwks_from_text(text, NULL);
			free(text);
		}
		token = sign("ES256", keys[right], "{\"alg\":\"ES256\"}");
		ck_assert_reason(moa2_jws_verify_compact(token, strlen(token), 0, jwks,
							 ASYM, NULL, &error),
				 right < MOA2_JWS_MAX_KEY_TRIES ? MOA2_VERIFY_OK :
				 MOA2_VERIFY_BAD_SIGNATURE, "kid-less bound");
		free(token);
		moa2_jwks_free(&jwks);
		for (size_t i = 0; i < n; i++)
			free(jwks_text[i]);
	}
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(keys[i]);
}
END_TEST

START_TEST(test_select)
{
	const struct moa2_jwk *keys[4];
	size_t count;

	ck_assert_reason(moa2_jwks_select(real_set, "rsa1", MOA2_JOSE_ALG_PS512,
					  keys, 4, &count), MOA2_VERIFY_OK, "rsa1");
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(moa2_jwk_kid(keys[0]), "rsa1");
	ck_assert_reason(moa2_jwks_select(real_set, "rsa1", MOA2_JOSE_ALG_ES256,
					  keys, 4, &count),
			 MOA2_VERIFY_KEY_TYPE_MISMATCH, "rsa1 ES256");
	ck_assert_uint_eq(count, 0);
	ck_assert_reason(moa2_jwks_select(real_set, "nope", MOA2_JOSE_ALG_RS256,
					  keys, 4, &count),
			 MOA2_VERIFY_UNKNOWN_KEY, "nope");
	/* without kid: both RSA keys fit RS256, in set order */
	ck_assert_reason(moa2_jwks_select(real_set, NULL, MOA2_JOSE_ALG_RS256,
					  keys, 4, &count), MOA2_VERIFY_OK, "no kid");
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(moa2_jwk_kid(keys[0]), "rsa1");
	ck_assert_str_eq(moa2_jwk_kid(keys[1]), "rsa-rs256-only");
	/* the RS256-bound key is not a PS256 candidate */
	ck_assert_reason(moa2_jwks_select(real_set, NULL, MOA2_JOSE_ALG_PS256,
					  keys, 4, &count), MOA2_VERIFY_OK, "no kid PS256");
	ck_assert_uint_eq(count, 1);
	ck_assert(moa2_jwks_find_kid(real_set, "ec384") != NULL);
	ck_assert(moa2_jwks_find_kid(real_set, "EC384") == NULL);
}
END_TEST

/* ------------------------------------------------------------ JWK parsing */

struct jwk_case {
	const char *name;
	const char *json;
	unsigned int flags;
	bool ok;
	const char *error_part;	/* a word of the reason, or NULL */
};

/* P-256 point of RFC 7515 A.3 */
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_Y_BAD "x_FEzRu8m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
/* 96 bytes of 0xff: a 768-bit odd modulus */
#define N_768 "________________________________________________________________" \
	"________________________________________________________________"
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define SECRET_K "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"

static const struct jwk_case jwk_cases[] = {
	{ "EC P-256", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, true, NULL },
	{ "EC use sig, key_ops verify", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"sig\",\"key_ops\":[\"verify\"],\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, true, NULL },
	{ "EC alg ES256", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, true, NULL },
	{ "EC use enc", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "use" },
	{ "EC key_ops encrypt", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"key_ops\":[\"encrypt\"],\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "key_ops" },
	{ "EC key_ops not array", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"key_ops\":\"verify\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "key_ops" },
	{ "EC alg ES384 on P-256", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "alg" },
	{ "EC alg ECDH-ES", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ECDH-ES\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "alg" },
	{ "EC point off the curve", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y_BAD "\"}", 0, false, "curve" },
	{ "EC short x", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQID\",\"y\":\"" A3_Y "\"}", 0, false, "length" },
	{ "EC P-384 crv with P-256 point", "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "length" },
	{ "EC crv secp256k1", "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", 0, false, "curve" },
	{ "EC crv Ed25519", "{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}", 0, false, "curve" },
	{ "EC no y", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}", 0, false, "missing" },
	{ "EC x padded base64", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "=\",\"y\":\"" A3_Y "\"}", 0, false, "base64url" },
	{ "OKP Ed25519", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"kid\":\"k\"}", 0, true, NULL },
	{ "OKP X25519", "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}", 0, false, "curve" },
	{ "OKP Ed448", "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" ED_X "\"}", 0, false, "curve" },
	{ "OKP P-256", "{\"kty\":\"OKP\",\"crv\":\"P-256\",\"x\":\"" ED_X "\"}", 0, false, "curve" },
	{ "OKP short x", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQID\"}", 0, false, "32" },
	{ "OKP alg ES256", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\",\"x\":\"" ED_X "\"}", 0, false, "alg" },
	{ "RSA e even", "{\"kty\":\"RSA\",\"n\":\"" N_768 "\",\"e\":\"AQAA\"}", 0, false, "exponent" },
	{ "RSA e = 1", "{\"kty\":\"RSA\",\"n\":\"" N_768 "\",\"e\":\"AQ\"}", 0, false, "exponent" },
	{ "RSA no n", "{\"kty\":\"RSA\",\"e\":\"AQAB\"}", 0, false, "missing" },
	{ "RSA n empty", "{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}", 0, false, "empty" },
	{ "RSA n number", "{\"kty\":\"RSA\",\"n\":5,\"e\":\"AQAB\"}", 0, false, "string" },
	{ "RSA 768-bit n", "{\"kty\":\"RSA\",\"n\":\"" N_768 "\",\"e\":\"AQAB\"}", 0, false, "2048" },
	{ "oct from a JWKS", "{\"kty\":\"oct\",\"k\":\"" SECRET_K "\"}", 0, false, "oct" },
	{ "oct configured", "{\"kty\":\"oct\",\"k\":\"" SECRET_K "\"}", MOA2_JWK_FLAG_ALLOW_OCT, true, NULL },
	{ "oct configured, short", "{\"kty\":\"oct\",\"k\":\"AQIDBA\"}", MOA2_JWK_FLAG_ALLOW_OCT, false, "32" },
	{ "oct configured, alg RS256", "{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"" SECRET_K "\"}", MOA2_JWK_FLAG_ALLOW_OCT, false, "alg" },
	{ "kty unknown", "{\"kty\":\"DSA\"}", 0, false, "kty" },
	{ "kty missing", "{\"crv\":\"P-256\"}", 0, false, "kty" },
	{ "kty lowercase", "{\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", 0, false, "kty" },
	{ "kid number", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":7,\"x\":\"" ED_X "\"}", 0, false, "kid" },
	{ "not an object", "[1]", 0, false, "object" },
};

START_TEST(test_jwk_table)
{
	const struct jwk_case *c = &jwk_cases[_i];
	struct moa2_json *json;
	struct moa2_jwk *jwk = (struct moa2_jwk *)1;
	const char *error = NULL;
	int ret;

	ck_assert_msg(moa2_json_parse(c->json, strlen(c->json), &json, &error) == 0,
		      "%s: test JSON invalid", c->name);
	ret = moa2_jwk_from_json(json, c->flags, &jwk, &error);
	ck_assert_msg((ret == 0) == c->ok, "%s: got %d (%s)", c->name, ret,
		      ret < 0 ? error : "-");
	if (c->ok) {
		ck_assert(jwk != NULL);
		moa2_jwk_unref(&jwk);
	} else {
		ck_assert(jwk == NULL);
		ck_assert_msg(strstr(error, c->error_part) != NULL,
			      "%s: reason '%s' lacks '%s'", c->name, error, c->error_part);
	}
	moa2_json_free(&json);
}
END_TEST

START_TEST(test_jwk_accessors)
{
	static const char json_text[] =
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\",\"use\":\"sig\","
		"\"alg\":\"ES256\",\"key_ops\":[\"verify\",\"sign\"],"
		"\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}";
	struct moa2_json *json;
	struct moa2_jwk *jwk, *ref;
	enum moa2_jose_alg alg;
	unsigned int ops;
	const char *error;

	ck_assert_int_eq(moa2_json_parse(json_text, strlen(json_text), &json, &error), 0);
	ck_assert_int_eq(moa2_jwk_from_json(json, 0, &jwk, &error), 0);
	moa2_json_free(&json);
	ck_assert_str_eq(moa2_jwk_kid(jwk), "k1");
	ck_assert_str_eq(moa2_jwk_use(jwk), "sig");
	ck_assert_int_eq(moa2_jwk_kty(jwk), MOA2_JWK_KTY_EC);
	ck_assert_str_eq(moa2_jwk_kty_name(moa2_jwk_kty(jwk)), "EC");
	ck_assert_str_eq(moa2_jwk_crv_name(moa2_jwk_crv(jwk)), "P-256");
	ck_assert(moa2_jwk_alg(jwk, &alg));
	ck_assert_int_eq(alg, MOA2_JOSE_ALG_ES256);
	ck_assert(moa2_jwk_key_ops(jwk, &ops));
	ck_assert_uint_eq(ops, MOA2_JWK_OP_VERIFY | MOA2_JWK_OP_SIGN);
	ck_assert_uint_eq(moa2_jwk_bits(jwk), 256);
	ck_assert(moa2_jwk_pkey(jwk) != NULL);
	ck_assert(moa2_jwk_fits_alg(jwk, MOA2_JOSE_ALG_ES256));
	ck_assert(!moa2_jwk_fits_alg(jwk, MOA2_JOSE_ALG_ES384));
	ck_assert(!moa2_jwk_fits_alg(jwk, MOA2_JOSE_ALG_HS256));
	/* reference counting: the key survives the first unref */
	ref = moa2_jwk_ref(jwk);
	moa2_jwk_unref(&jwk);
	ck_assert(jwk == NULL);
	ck_assert_str_eq(moa2_jwk_kid(ref), "k1");
	moa2_jwk_unref(&ref);
	moa2_jwk_unref(&ref);	/* NULL-safe */
}
END_TEST

START_TEST(test_secret_keys)
{
	struct moa2_jwk *jwk;
	const char *error;
	const unsigned char *secret;
	size_t len;
	enum moa2_jose_alg alg;

	ck_assert_int_eq(moa2_jwk_from_secret(hmac_secret, 31, NULL,
					      MOA2_JOSE_ALG_COUNT, &jwk, &error), -1);
	ck_assert(jwk == NULL);
	ck_assert_int_eq(moa2_jwk_from_secret(hmac_secret, 32, NULL,
					      MOA2_JOSE_ALG_RS256, &jwk, &error), -1);
	ck_assert_int_eq(moa2_jwk_from_secret(hmac_secret, 32, "k",
					      MOA2_JOSE_ALG_HS256, &jwk, &error), 0);
	secret = moa2_jwk_secret(jwk, &len);
	ck_assert_uint_eq(len, 32);
	ck_assert(memcmp(secret, hmac_secret, 32) == 0);
	ck_assert(secret != hmac_secret);
	ck_assert(moa2_jwk_pkey(jwk) == NULL);
	ck_assert(moa2_jwk_alg(jwk, &alg) && alg == MOA2_JOSE_ALG_HS256);
	ck_assert(moa2_jwk_fits_alg(jwk, MOA2_JOSE_ALG_HS256));
	ck_assert(!moa2_jwk_fits_alg(jwk, MOA2_JOSE_ALG_HS512));
	ck_assert(!moa2_jwk_fits_alg(jwk, MOA2_JOSE_ALG_RS256));
	moa2_jwk_unref(&jwk);
}
END_TEST

/* ------------------------------------------------------------ JWKS */

struct skip_log {
	size_t calls;
	size_t last_index;
	char last_kid[64];
	char reasons[512];
};

static void
record_skip(void *context, size_t index, const char *kid, const char *reason)
{
	struct skip_log *log = context;

	log->calls++;
	log->last_index = index;
	snprintf(log->last_kid, sizeof(log->last_kid), "%s", kid != NULL ? kid : "(none)");
	strncat(log->reasons, reason, sizeof(log->reasons) - strlen(log->reasons) - 2);
	strcat(log->reasons, "|");
}

START_TEST(test_jwks_skips)
{
	char *small = test_jose_public_jwk(key_rsa_small, "small", NULL);
	char *good = test_jose_public_jwk(key_ec256, "good", NULL);
	char *text;
	const char *parts[8];
	struct skip_log log;
	struct moa2_jwks *jwks;
	size_t skipped;
	const char *error;

	parts[0] = "{\"kty\":\"oct\",\"kid\":\"sym\",\"k\":\"" SECRET_K "\"}";
	parts[1] = small;
	parts[2] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"kid\":\"enc\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}";
	parts[3] = good;
	parts[4] = "\"not a key\"";
	parts[5] = "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"x\",\"x\":\"" ED_X "\"}";
	parts[6] = NULL;
	text = test_jose_jwks(parts);
	memset(&log, 0, sizeof(log));
	ck_assert_int_eq(moa2_jwks_parse(text, strlen(text), &jwks, &skipped,
					 record_skip, &log, &error), 0);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 1);
	ck_assert_str_eq(moa2_jwk_kid(moa2_jwks_get(jwks, 0)), "good");
	ck_assert(moa2_jwks_get(jwks, 1) == NULL);
	ck_assert_uint_eq(skipped, 5);
	ck_assert_uint_eq(log.calls, 5);
	ck_assert_uint_eq(log.last_index, 5);
	ck_assert_str_eq(log.last_kid, "x");
	ck_assert_msg(strstr(log.reasons, "oct") != NULL, "%s", log.reasons);
	ck_assert_msg(strstr(log.reasons, "2048") != NULL, "%s", log.reasons);
	ck_assert_msg(strstr(log.reasons, "use") != NULL, "%s", log.reasons);
	ck_assert_msg(strstr(log.reasons, "object") != NULL, "%s", log.reasons);
	ck_assert_msg(strstr(log.reasons, "curve") != NULL, "%s", log.reasons);
	moa2_jwks_free(&jwks);
	ck_assert(jwks == NULL);
	moa2_jwks_free(&jwks);	/* NULL-safe */
	/* no out-params at all */
	ck_assert_int_eq(moa2_jwks_parse(text, strlen(text), &jwks, NULL, NULL,
					 NULL, &error), 0);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 1);
	moa2_jwks_free(&jwks);
	free(text);
	free(small);
	free(good);
}
END_TEST

static const char *const not_jwks[] = {
	"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "{\"key\":[]}",
	"{\"keys\":[]", "null", "{\"keys\":[]} x",
};

START_TEST(test_jwks_not_a_jwks)
{
	struct moa2_jwks *jwks = (struct moa2_jwks *)1;
	const char *error = NULL;
	size_t skipped;

	ck_assert_msg(moa2_jwks_parse(not_jwks[_i], strlen(not_jwks[_i]), &jwks,
				      &skipped, NULL, NULL, &error) == -1,
		      "accepted '%s'", not_jwks[_i]);
	ck_assert(jwks == NULL);
	ck_assert(error != NULL);
}
END_TEST

START_TEST(test_jwks_empty_and_cap)
{
	char *good = test_jose_public_jwk(key_ec256, NULL, NULL);
	const char **parts = calloc(MOA2_JWKS_MAX_KEYS + 4, sizeof(*parts));
	struct moa2_jwks *jwks;
	size_t skipped;
	char *text;

	jwks = jwks_from_text("{\"keys\":[]}", &skipped);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 0);
	ck_assert_uint_eq(skipped, 0);
	moa2_jwks_free(&jwks);

	for (size_t i = 0; i < MOA2_JWKS_MAX_KEYS + 3; i++)
		parts[i] = good;
	text = test_jose_jwks(parts);
	jwks = jwks_from_text(text, &skipped);
	ck_assert_uint_eq(moa2_jwks_count(jwks), MOA2_JWKS_MAX_KEYS);
	ck_assert_uint_eq(skipped, 3);
	ck_assert_int_eq(moa2_jwks_add(jwks, moa2_jwks_get(jwks, 0)), -1);
	moa2_jwks_free(&jwks);
	free(text);
	free(parts);
	free(good);
}
END_TEST

/* ------------------------------------------------------------ PEM files */

static char *
self_signed_cert_pem(EVP_PKEY *pkey)
{
	X509 *cert = X509_new();
	X509_NAME *name;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	ck_assert(cert != NULL && bio != NULL);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, pkey);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	ck_assert(X509_sign(cert, pkey, EVP_sha256()) > 0);
	ck_assert(PEM_write_bio_X509(bio, cert) == 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	X509_free(cert);
	return out;
}

START_TEST(test_pem_keys)
{
	char *rsa = test_jose_public_pem(key_rsa), *ec = test_jose_public_pem(key_ec384);
	char *ed = test_jose_public_pem(key_ed), *cert = self_signed_cert_pem(key_ec256);
	char *all = malloc(strlen(rsa) + strlen(ec) + strlen(ed) + strlen(cert) + 16);
	struct moa2_jwks *jwks;
	const char *error = NULL;
	enum moa2_jose_alg alg;
	char *token;

	sprintf(all, "%s\n%s%s\n%s", rsa, ec, ed, cert);
	ck_assert_msg(moa2_jwks_parse_pem(all, strlen(all), &jwks, &error) == 0,
		      "PEM refused: %s", error);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 4);
	ck_assert(moa2_jwk_kid(moa2_jwks_get(jwks, 0)) == NULL);
	ck_assert_int_eq(moa2_jwk_kty(moa2_jwks_get(jwks, 0)), MOA2_JWK_KTY_RSA);
	ck_assert(!moa2_jwk_alg(moa2_jwks_get(jwks, 0), &alg));
	ck_assert_uint_eq(moa2_jwk_bits(moa2_jwks_get(jwks, 0)), 2048);
	ck_assert(moa2_jwk_alg(moa2_jwks_get(jwks, 1), &alg) && alg == MOA2_JOSE_ALG_ES384);
	ck_assert(moa2_jwk_alg(moa2_jwks_get(jwks, 2), &alg) && alg == MOA2_JOSE_ALG_EDDSA);
	ck_assert(moa2_jwk_alg(moa2_jwks_get(jwks, 3), &alg) && alg == MOA2_JOSE_ALG_ES256);

	/* PEM keys have no kid: they serve tokens with any kid */
	token = sign("PS256", key_rsa, "{\"alg\":\"PS256\",\"kid\":\"idp-key-7\"}");
	ck_assert_reason(moa2_jws_verify_compact(token, strlen(token), JWT, jwks,
						 ASYM, NULL, &error),
			 MOA2_VERIFY_OK, "PEM RSA");
	free(token);
	token = sign("ES256", key_ec256, "{\"alg\":\"ES256\"}");
	ck_assert_reason(moa2_jws_verify_compact(token, strlen(token), JWT, jwks,
						 ASYM, NULL, &error),
			 MOA2_VERIFY_OK, "PEM certificate EC");
	free(token);
	token = sign("EdDSA", key_ed_other, "{\"alg\":\"EdDSA\",\"kid\":\"x\"}");
	ck_assert_reason(moa2_jws_verify_compact(token, strlen(token), JWT, jwks,
						 ASYM, NULL, &error),
			 MOA2_VERIFY_BAD_SIGNATURE, "PEM other Ed25519");
	free(token);
	moa2_jwks_free(&jwks);
	free(all);
	free(rsa);
	free(ec);
	free(ed);
	free(cert);
}
END_TEST

static char *
private_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	ck_assert(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	return out;
}

START_TEST(test_pem_refused)
{
	char *small = test_jose_public_pem(key_rsa_small);
	char *priv = private_pem(key_ec256);
	char *good = test_jose_public_pem(key_ec256);
	char *both = malloc(strlen(small) + strlen(good) + 1);
	struct moa2_jwks *jwks = (struct moa2_jwks *)1;
	const char *error = NULL;
	EVP_PKEY *secp256k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	char *k1 = test_jose_public_pem(secp256k1);

	ck_assert_int_eq(moa2_jwks_parse_pem(small, strlen(small), &jwks, &error), -1);
	ck_assert(jwks == NULL);
	ck_assert_msg(strstr(error, "2048") != NULL, "%s", error);
	sprintf(both, "%s%s", good, small);
	ck_assert_int_eq(moa2_jwks_parse_pem(both, strlen(both), &jwks, &error), -1);
	ck_assert_int_eq(moa2_jwks_parse_pem(priv, strlen(priv), &jwks, &error), -1);
	ck_assert_msg(strstr(error, "private") != NULL, "%s", error);
	ck_assert_int_eq(moa2_jwks_parse_pem("garbage", 7, &jwks, &error), -1);
	ck_assert_int_eq(moa2_jwks_parse_pem("", 0, &jwks, &error), -1);
	ck_assert_int_eq(moa2_jwks_parse_pem(k1, strlen(k1), &jwks, &error), -1);
	ck_assert_msg(strstr(error, "curve") != NULL, "%s", error);
	/* a corrupted base64 body */
	good[40] = good[40] == 'A' ? 'B' : 'A';
	good[41] = '!';
	ck_assert_int_eq(moa2_jwks_parse_pem(good, strlen(good), &jwks, &error), -1);
	ck_assert(jwks == NULL);
	EVP_PKEY_free(secp256k1);
	free(k1);
	free(small);
	free(priv);
	free(good);
	free(both);
}
END_TEST

static char *
write_temp(const char *content)
{
	char *path = strdup("/tmp/test-jose-XXXXXX");
	int fd = mkstemp(path);

	ck_assert(fd >= 0);
	ck_assert(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	close(fd);
	return path;
}

START_TEST(test_load_file)
{
	char *jwk = test_jose_public_jwk(key_ed, "ed1", NULL);
	const char *parts[] = { jwk, "{\"kty\":\"oct\",\"k\":\"" SECRET_K "\"}", NULL };
	char *jwks_text = test_jose_jwks(parts), *jwks_file, *pem, *pem_file;
	char *with_space = malloc(strlen(jwks_text) + 4), error_buf[256];
	struct moa2_jwks *jwks;
	const char *error;
	size_t skipped = 0;

	sprintf(with_space, " \n%s", jwks_text);
	jwks_file = write_temp(with_space);
	ck_assert_int_eq(moa2_jwks_load_file(jwks_file, &jwks, &skipped, NULL, NULL,
					     error_buf, sizeof(error_buf), &error), 0);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 1);
	ck_assert_uint_eq(skipped, 1);
	moa2_jwks_free(&jwks);

	pem = test_jose_public_pem(key_rsa);
	pem_file = write_temp(pem);
	ck_assert_int_eq(moa2_jwks_load_file(pem_file, &jwks, &skipped, NULL, NULL,
					     error_buf, sizeof(error_buf), &error), 0);
	ck_assert_uint_eq(moa2_jwks_count(jwks), 1);
	ck_assert_uint_eq(skipped, 0);
	moa2_jwks_free(&jwks);

	/* a local JWKS without a single usable key is refused */
	unlink(jwks_file);
	free(jwks_file);
	jwks_file = write_temp("{\"keys\":[{\"kty\":\"oct\",\"k\":\"" SECRET_K "\"}]}");
	ck_assert_int_eq(moa2_jwks_load_file(jwks_file, &jwks, &skipped, NULL, NULL,
					     error_buf, sizeof(error_buf), &error), -1);
	ck_assert(jwks == NULL);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_msg(strstr(error, jwks_file) != NULL && strstr(error, "no usable key") != NULL &&
		      strstr(error, "oct") != NULL, "%s", error);

	ck_assert_int_eq(moa2_jwks_load_file("/nonexistent/keys.pem", &jwks, NULL,
					     NULL, NULL, error_buf, sizeof(error_buf),
					     &error), -1);
	ck_assert(jwks == NULL);
	ck_assert_msg(strstr(error, "/nonexistent/keys.pem") != NULL, "%s", error);
	ck_assert_int_eq(moa2_jwks_load_file("/tmp", &jwks, NULL, NULL, NULL,
					     error_buf, sizeof(error_buf), &error), -1);

	unlink(jwks_file);
	unlink(pem_file);
	free(jwks_file);
	free(pem_file);
	free(pem);
	free(with_space);
	free(jwks_text);
	free(jwk);
}
END_TEST

/* ------------------------------------------------------------ small APIs */

START_TEST(test_alg_names)
{
	enum moa2_jose_alg alg;
	uint32_t mask;
	char bad[16];

	for (unsigned int i = 0; i < MOA2_JOSE_ALG_COUNT; i++) {
		ck_assert_int_eq(moa2_jose_alg_from_name(moa2_jose_alg_name(i), &alg), 0);
		ck_assert_uint_eq(alg, i);
	}
	ck_assert_int_eq(moa2_jose_alg_from_name("none", &alg), -1);
	ck_assert_int_eq(moa2_jose_alg_from_name("rs256", &alg), -1);
	ck_assert_int_eq(moa2_jose_alg_from_name("EDDSA", &alg), -1);
	ck_assert_int_eq(moa2_jose_alg_from_name("", &alg), -1);
	ck_assert_str_eq(moa2_jose_alg_name(MOA2_JOSE_ALG_COUNT), "unknown");
	ck_assert(moa2_jose_alg_is_hmac(MOA2_JOSE_ALG_HS384));
	ck_assert(!moa2_jose_alg_is_hmac(MOA2_JOSE_ALG_PS384));

	ck_assert_int_eq(moa2_jose_alg_mask_parse("RS256, ES256 EdDSA", &mask, bad, sizeof(bad)), 0);
	ck_assert_uint_eq(mask, BIT(RS256) | BIT(ES256) | BIT(EDDSA));
	ck_assert_int_eq(moa2_jose_alg_mask_parse("RS256,none", &mask, bad, sizeof(bad)), -1);
	ck_assert_str_eq(bad, "none");
	ck_assert_int_eq(moa2_jose_alg_mask_parse("RS256,AVERYLONGALGORITHMNAME", &mask, bad, sizeof(bad)), -1);
	ck_assert_uint_eq(strlen(bad), sizeof(bad) - 1);
	ck_assert_uint_eq(MOA2_JOSE_ALGS_ASYMMETRIC & MOA2_JOSE_ALGS_HMAC, 0);
}
END_TEST

START_TEST(test_reason_names)
{
	static const char *const stable[MOA2_VERIFY_REASON_COUNT] = {
		"ok", "malformed", "alg_not_allowed", "bad_signature",
		"unknown_key", "key_type_mismatch", "unsupported_crit",
		"expired", "not_yet_valid", "issued_in_future", "wrong_issuer",
		"wrong_audience", "insufficient_scope", "user_mismatch",
		"inactive", "wrong_type", "missing_claim", "claim_mismatch",
		"no_identity", "too_large", "unavailable", "bad_identity",
	};
	enum moa2_verify_reason reason;

	for (unsigned int i = 0; i < MOA2_VERIFY_REASON_COUNT; i++) {
		const char *sentence = moa2_verify_reason_sentence(i);

		ck_assert_str_eq(moa2_verify_reason_name(i), stable[i]);
		ck_assert_int_eq(moa2_verify_reason_from_name(stable[i], &reason), 0);
		ck_assert_uint_eq(reason, i);
		ck_assert(strlen(sentence) > 10);
		ck_assert(sentence[strlen(sentence) - 1] == '.');
		for (unsigned int j = 0; j < i; j++)
			ck_assert_str_ne(moa2_verify_reason_sentence(j), sentence);
	}
	ck_assert_str_eq(moa2_verify_reason_name(MOA2_VERIFY_REASON_COUNT), "unknown");
	ck_assert_str_eq(moa2_verify_reason_name((enum moa2_verify_reason)-1), "unknown");
	ck_assert(moa2_verify_reason_sentence(MOA2_VERIFY_REASON_COUNT) != NULL);
	ck_assert_int_eq(moa2_verify_reason_from_name("Expired", &reason), -1);
}
END_TEST

/* Accessors of a parsed token; the token buffer need not outlive it. */
START_TEST(test_parse_accessors)
{
	char *token = sign("ES256", key_ec256,
			   "{\"alg\":\"ES256\",\"kid\":\"ec256\",\"typ\":\"at+jwt\",\"cty\":\"x\"}");
	struct moa2_jws *jws;
	const char *error, *input, *cty;
	size_t len, sig_len;
	const unsigned char *sig;

	ck_assert_reason(moa2_jws_parse(token, strlen(token), JWT, &jws, &error),
			 MOA2_VERIFY_OK, "parse");
	memset(token, 'x', strlen(token));
	ck_assert_int_eq(moa2_jws_alg(jws), MOA2_JOSE_ALG_ES256);
	ck_assert_str_eq(moa2_jws_kid(jws), "ec256");
	ck_assert_str_eq(moa2_jws_typ(jws), "at+jwt");
	ck_assert_int_eq(moa2_json_get_string(moa2_jws_header(jws), "cty", &cty), 1);
	ck_assert_str_eq(cty, "x");
	input = moa2_jws_signing_input(jws, &len);
	ck_assert(len > 10 && input[0] == 'e' && memchr(input, '.', len) != NULL);
	sig = moa2_jws_signature(jws, &sig_len);
	ck_assert(sig != NULL);
	ck_assert_uint_eq(sig_len, 64);
	ck_assert(moa2_jws_payload(jws) != NULL);
	ck_assert_reason(moa2_jws_verify(jws, real_set, ASYM, NULL, &error),
			 MOA2_VERIFY_OK, "verify after the token buffer changed");
	ck_assert_reason(moa2_jws_verify_with_key(jws, moa2_jwks_find_kid(real_set, "rsa1")),
			 MOA2_VERIFY_KEY_TYPE_MISMATCH, "with RSA key");
	ck_assert_reason(moa2_jws_verify_with_key(jws, moa2_jwks_find_kid(real_set, "ec256")),
			 MOA2_VERIFY_OK, "with its key");
	moa2_jws_free(&jws);
	ck_assert(jws == NULL);
	moa2_jws_free(&jws);
	free(token);
}
END_TEST

static Suite *
jose_suite(void)
{
	Suite *s = suite_create("jose");
	TCase *tc;

	tc = tcase_create("rfc-vectors");
	tcase_add_loop_test(tc, test_rfc_vector, 0,
			    sizeof(rfc_vectors) / sizeof(rfc_vectors[0]));
	tcase_add_test(tc, test_rfc7515_a1_claims);
	tcase_add_test(tc, test_rfc7515_a5_none);
	tcase_add_test(tc, test_rfc8037_keys);
	tcase_add_test(tc, test_rfc7520_oct_in_jwks);
	suite_add_tcase(s, tc);

	tc = tcase_create("negative");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_negative_table, 0,
			    sizeof(neg_cases) / sizeof(neg_cases[0]));
	tcase_add_test(tc, test_kidless_try_bound);
	tcase_add_test(tc, test_select);
	tcase_add_test(tc, test_parse_accessors);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_jwk_table, 0,
			    sizeof(jwk_cases) / sizeof(jwk_cases[0]));
	tcase_add_test(tc, test_jwk_accessors);
	tcase_add_test(tc, test_secret_keys);
	tcase_add_test(tc, test_jwks_skips);
	tcase_add_loop_test(tc, test_jwks_not_a_jwks, 0,
			    sizeof(not_jwks) / sizeof(not_jwks[0]));
	tcase_add_test(tc, test_jwks_empty_and_cap);
	tcase_add_test(tc, test_pem_keys);
	tcase_add_test(tc, test_pem_refused);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_alg_names);
	tcase_add_test(tc, test_reason_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int ret;

	generate_keys();
	ret = tc_run_suite(jose_suite());
	free_keys();
	return ret;
}
