/* SPDX-License-Identifier: MIT */
/* Test-side JWS signer: keys with EVP_PKEY_Q_keygen, signatures with
   EVP_DigestSign / EVP_Q_mac. */
#include "config.h"
#include "test-jose-sign.h"
#include "support/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

struct sign_alg {
	const char *name;
	const char *md;		/* NULL for EdDSA */
	char kind;		/* 'R' RSA PKCS#1, 'P' PSS, 'E' ECDSA, 'D' EdDSA, 'H' HMAC */
	size_t coord_len;	/* ECDSA */
};

static const struct sign_alg sign_algs[] = {
	{ "RS256", "SHA256", 'R', 0 }, { "RS384", "SHA384", 'R', 0 },
	{ "RS512", "SHA512", 'R', 0 }, { "PS256", "SHA256", 'P', 0 },
	{ "PS384", "SHA384", 'P', 0 }, { "PS512", "SHA512", 'P', 0 },
	{ "ES256", "SHA256", 'E', 32 }, { "ES384", "SHA384", 'E', 48 },
	{ "ES512", "SHA512", 'E', 66 }, { "EdDSA", NULL, 'D', 0 },
	{ "HS256", "SHA256", 'H', 0 }, { "HS384", "SHA384", 'H', 0 },
	{ "HS512", "SHA512", 'H', 0 },
};

static const struct sign_alg *
find_alg(const char *name)
{
	for (size_t i = 0; i < sizeof(sign_algs) / sizeof(sign_algs[0]); i++) {
		if (strcmp(sign_algs[i].name, name) == 0)
			return &sign_algs[i];
	}
	return NULL;
}

EVP_PKEY *
test_jose_keygen_rsa(unsigned int bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

EVP_PKEY *
test_jose_keygen_ec(const char *crv)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", crv);
}

EVP_PKEY *
test_jose_keygen_ed25519(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

static char *
bn_param_b64url(EVP_PKEY *pkey, const char *param, size_t pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[2048];
	int len;
	char *out = NULL;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return NULL;
	len = pad == 0 ? BN_bn2bin(bn, buf) : BN_bn2binpad(bn, buf, (int)pad);
	if (len > 0)
		out = moa2_base64url_encode(buf, (size_t)len);
	BN_free(bn);
	return out;
}

static char *
jwk_members(EVP_PKEY *pkey)
{
	char *a = NULL, *b = NULL, *out = NULL;
	size_t size;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		a = bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
		if (a == NULL || b == NULL)
			goto out;
		size = strlen(a) + strlen(b) + 64;
		out = malloc(size);
		snprintf(out, size, "\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", a, b);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[32];
		const char *crv;
		size_t coord;

		EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					       group, sizeof(group), NULL);
		crv = strcmp(group, "prime256v1") == 0 ? "P-256" :
			strcmp(group, "secp384r1") == 0 ? "P-384" : "P-521";
		coord = crv[2] == '2' ? 32 : crv[2] == '3' ? 48 : 66;
		a = bn_param_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_X, coord);
		b = bn_param_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, coord);
		if (a == NULL || b == NULL)
			goto out;
		size = strlen(a) + strlen(b) + 64;
		out = malloc(size);
		snprintf(out, size, "\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"",
			 crv, a, b);
	} else {
		unsigned char raw[32];
		size_t raw_len = sizeof(raw);

		if (EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len) != 1 ||
		    (a = moa2_base64url_encode(raw, raw_len)) == NULL)
			goto out;
		size = strlen(a) + 64;
		out = malloc(size);
		snprintf(out, size, "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", a);
	}
out:
	free(a);
	free(b);
	return out;
}

char *
test_jose_public_jwk(EVP_PKEY *pkey, const char *kid, const char *alg)
{
	char *members = jwk_members(pkey), *out;
	size_t size;

	if (members == NULL)
		return NULL;
	size = strlen(members) + (kid != NULL ? strlen(kid) : 0) +
		(alg != NULL ? strlen(alg) : 0) + 32;
	out = malloc(size);
	snprintf(out, size, "{%s%s%s%s%s%s%s}", members,
		 kid != NULL ? ",\"kid\":\"" : "", kid != NULL ? kid : "",
		 kid != NULL ? "\"" : "",
		 alg != NULL ? ",\"alg\":\"" : "", alg != NULL ? alg : "",
		 alg != NULL ? "\"" : "");
	free(members);
	return out;
}

char *
test_jose_jwks(const char *const *jwks)
{
	size_t size = 16, pos;
	char *out;

	for (size_t i = 0; jwks[i] != NULL; i++)
		size += strlen(jwks[i]) + 1;
	out = malloc(size);
	pos = (size_t)snprintf(out, size, "{\"keys\":[");
	for (size_t i = 0; jwks[i] != NULL; i++)
		pos += (size_t)snprintf(out + pos, size - pos, "%s%s",
					i > 0 ? "," : "", jwks[i]);
	snprintf(out + pos, size - pos, "]}");
	return out;
}

char *
test_jose_public_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long len;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, pkey) == 1 &&
	    (len = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)len + 1)) != NULL) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(bio);
	return out;
}

/* DER ECDSA-Sig-Value -> R||S of the JOSE size. */
static int
der_to_raw(const unsigned char *der, size_t der_len, size_t coord,
	   unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;
	int ret = -1;

	if (sig == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, (int)coord) == (int)coord &&
	    BN_bn2binpad(s, out + coord, (int)coord) == (int)coord)
		ret = 0;
	ECDSA_SIG_free(sig);
	return ret;
}

static int
evp_sign(const struct sign_alg *alg, EVP_PKEY *pkey, const void *data,
	 size_t len, unsigned char **sig_r, size_t *sig_len_r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int ret = -1;

	if (ctx == NULL ||
	    EVP_DigestSignInit_ex(ctx, &pctx, alg->md, NULL, NULL, pkey, NULL) != 1)
		goto out;
	if (alg->kind == 'P' &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		goto out;
	if (EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1 ||
	    (sig = malloc(sig_len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1)
		goto out;
	*sig_r = sig;
	*sig_len_r = sig_len;
	sig = NULL;
	ret = 0;
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	return ret;
}

int
test_jose_raw_sign(const char *alg_name, EVP_PKEY *pkey,
		   const void *secret, size_t secret_len, bool der,
		   const void *data, size_t len,
		   unsigned char **sig_r, size_t *sig_len_r)
{
	const struct sign_alg *alg = find_alg(alg_name);
	unsigned char *sig, *raw;
	size_t sig_len;

	if (alg == NULL)
		return -1;
	if (alg->kind == 'H') {
		sig = malloc(EVP_MAX_MD_SIZE);
		if (EVP_Q_mac(NULL, "HMAC", NULL, alg->md, NULL, secret,
			      secret_len, data, len, sig, EVP_MAX_MD_SIZE,
			      &sig_len) == NULL) {
			free(sig);
			return -1;
		}
		*sig_r = sig;
		*sig_len_r = sig_len;
		return 0;
	}
	if (evp_sign(alg, pkey, data, len, &sig, &sig_len) < 0)
		return -1;
	if (alg->kind != 'E' || der) {
		*sig_r = sig;
		*sig_len_r = sig_len;
		return 0;
	}
	raw = malloc(2 * alg->coord_len);
	if (der_to_raw(sig, sig_len, alg->coord_len, raw) < 0) {
		free(raw);
		free(sig);
		return -1;
	}
	free(sig);
	*sig_r = raw;
	*sig_len_r = 2 * alg->coord_len;
	return 0;
}

char *
test_jose_compact(const char *header_json, const void *payload,
		  size_t payload_len, const void *sig, size_t sig_len)
{
	char *h = moa2_base64url_encode(header_json, strlen(header_json));
	char *p = moa2_base64url_encode(payload, payload_len);
	char *s = moa2_base64url_encode(sig, sig_len);
	char *out = NULL;
	size_t size;

	if (h != NULL && p != NULL && s != NULL) {
		size = strlen(h) + strlen(p) + strlen(s) + 3;
		out = malloc(size);
		snprintf(out, size, "%s.%s.%s", h, p, s);
	}
	free(h);
	free(p);
	free(s);
	return out;
}

static char *
sign_token(const char *alg, EVP_PKEY *pkey, const void *secret,
	   size_t secret_len, bool der, const char *header_json,
	   const char *payload)
{
	char *h = moa2_base64url_encode(header_json, strlen(header_json));
	char *p = moa2_base64url_encode(payload, strlen(payload));
	char *input = NULL, *out = NULL, *s = NULL;
	unsigned char *sig = NULL;
	size_t sig_len, size;

	if (h == NULL || p == NULL)
		goto out;
	size = strlen(h) + strlen(p) + 2;
	input = malloc(size);
	snprintf(input, size, "%s.%s", h, p);
	if (test_jose_raw_sign(alg, pkey, secret, secret_len, der, input,
			       strlen(input), &sig, &sig_len) < 0 ||
	    (s = moa2_base64url_encode(sig, sig_len)) == NULL)
		goto out;
	size = strlen(input) + strlen(s) + 2;
	out = malloc(size);
	snprintf(out, size, "%s.%s", input, s);
out:
	free(h);
	free(p);
	free(s);
	free(sig);
	free(input);
	return out;
}

char *
test_jose_sign(const char *alg, EVP_PKEY *pkey, const char *header_json,
	       const char *payload)
{
	return sign_token(alg, pkey, NULL, 0, false, header_json, payload);
}

char *
test_jose_sign_hmac(const char *alg, const void *secret, size_t len,
		    const char *header_json, const char *payload)
{
	return sign_token(alg, NULL, secret, len, false, header_json, payload);
}

char *
test_jose_sign_der(const char *alg, EVP_PKEY *pkey, const char *header_json,
		   const char *payload)
{
	return sign_token(alg, pkey, NULL, 0, true, header_json, payload);
}
