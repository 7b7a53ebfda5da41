/* SPDX-License-Identifier: MIT */
/* The key material of each JWK key type (RFC 7517/7518/8037): the OpenSSL
   public key of an RSA (n, e), EC (x, y on P-256/384/521) or OKP (Ed25519
   x) key, the secret of an oct key (k) or of the configuration
   (moa2_jwk_from_secret()). Keys are imported once, when a set is loaded.

   Failure behaviour: every import either yields a complete, validated
   public key or fails (-1, a static sentence): a member that is missing,
   not base64url, empty or too long; an RSA key outside 2048..16384 bits or
   with an exponent that is not odd and >= 3; an EC point not on its curve;
   an HMAC secret shorter than 32 bytes. Secrets are wiped when freed. */
#include "config.h"
#include "jose/jose-jwk-private.h"
#include "support/base64.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>

/* Largest decoded member: an RSA modulus of MOA2_JWK_RSA_MAX_BITS. */
#define JWK_MEMBER_MAX_LEN (MOA2_JWK_RSA_MAX_BITS / 8)
/* RSA public exponents longer than this are refused. */
#define JWK_RSA_E_MAX_LEN 8

/* ------------------------------------------------------------ members */

/* Decodes a base64url string member into buf. Returns 0, or -1 with
   error_r (absent, not a string, too long, bad base64url, empty). */
static int
jwk_member_bytes(const struct moa2_json *jwk_json, const char *name,
		 unsigned char *buf, size_t size, size_t *len_r,
		 const char **error_r)
{
	const char *value;
	size_t value_len;
	int ret = moa2_json_get_string(jwk_json, name, &value);

	if (ret <= 0) {
		*error_r = ret == 0 ? "a required key member is missing" :
			"a key member is not a string";
		return -1;
	}
	value_len = strlen(value);
	if (moa2_base64_decoded_max(value_len) > size) {
		*error_r = "a key member is too long";
		return -1;
	}
	if (moa2_base64url_decode(value, value_len, buf, size, len_r) < 0) {
		*error_r = "a key member is not valid base64url";
		return -1;
	}
	if (*len_r == 0) {
		*error_r = "a key member is empty";
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ imports */

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (params == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* Full public-key validation (EC: on the curve, right order). Run once
   per key at load time. */
bool
moa2_jwk_pkey_public_check(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

int
moa2_jwk_rsa_check_bits(EVP_PKEY *pkey, unsigned int *bits_r,
			const char **error_r)
{
	int bits = EVP_PKEY_get_bits(pkey);

	if (bits < MOA2_JWK_RSA_MIN_BITS) {
		*error_r = "RSA key smaller than 2048 bits";
		return -1;
	}
	if (bits > MOA2_JWK_RSA_MAX_BITS) {
		*error_r = "RSA key larger than 16384 bits";
		return -1;
	}
	*bits_r = (unsigned int)bits;
	return 0;
}

int
moa2_jwk_import_rsa(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		    const char **error_r)
{
	unsigned char n_buf[JWK_MEMBER_MAX_LEN + 3], e_buf[JWK_RSA_E_MAX_LEN + 3];
	size_t n_len, e_len;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;

	if (jwk_member_bytes(jwk_json, "n", n_buf, sizeof(n_buf), &n_len,
			     error_r) < 0 ||
	    jwk_member_bytes(jwk_json, "e", e_buf, sizeof(e_buf), &e_len,
			     error_r) < 0)
		return -1;
	if (e_len > JWK_RSA_E_MAX_LEN) {
		*error_r = "RSA public exponent too long";
		return -1;
	}
	n = BN_bin2bn(n_buf, (int)n_len, NULL);
	e = BN_bin2bn(e_buf, (int)e_len, NULL);
	if (e != NULL && (!BN_is_odd(e) || BN_num_bits(e) < 2)) {
		*error_r = "RSA public exponent is not an odd number >= 3";
		BN_free(n);
		BN_free(e);
		return -1;
	}
	bld = OSSL_PARAM_BLD_new();
	if (n == NULL || e == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (jwk->pkey = pkey_fromdata("RSA", bld)) == NULL)
		*error_r = "RSA key rejected by OpenSSL";
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	if (jwk->pkey == NULL)
		return -1;
	return moa2_jwk_rsa_check_bits(jwk->pkey, &jwk->bits, error_r);
}

int
moa2_jwk_import_ec(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		   const char **error_r)
{
	const struct moa2_jwk_crv_info *crv = &moa2_jwk_crv_infos[jwk->crv];
	/* uncompressed point: 0x04 || x || y, each coordinate full size */
	unsigned char point[1 + 2 * 66], coord[66 + 3];
	size_t len;
	OSSL_PARAM_BLD *bld;

	point[0] = 0x04;
	if (jwk_member_bytes(jwk_json, "x", coord, sizeof(coord), &len,
			     error_r) < 0)
		return -1;
	if (len != crv->coord_len) {
		*error_r = "EC coordinate length does not match the curve";
		return -1;
	}
	memcpy(point + 1, coord, len);
	if (jwk_member_bytes(jwk_json, "y", coord, sizeof(coord), &len,
			     error_r) < 0)
		return -1;
	if (len != crv->coord_len) {
		*error_r = "EC coordinate length does not match the curve";
		return -1;
	}
	memcpy(point + 1 + len, coord, len);

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     crv->ossl_group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
					      point, 1 + 2 * crv->coord_len))
		jwk->pkey = NULL;
	else
		jwk->pkey = pkey_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (jwk->pkey == NULL || !moa2_jwk_pkey_public_check(jwk->pkey)) {
		*error_r = "EC point is not on the curve";
		return -1;
	}
	jwk->bits = crv->bits;
	return 0;
}

int
moa2_jwk_import_okp(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		    const char **error_r)
{
	unsigned char x[32 + 3];
	size_t len;
	OSSL_PARAM_BLD *bld;

	if (jwk_member_bytes(jwk_json, "x", x, sizeof(x), &len, error_r) < 0)
		return -1;
	if (len != 32) {
		*error_r = "Ed25519 public key is not 32 bytes";
		return -1;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld != NULL &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, len))
		jwk->pkey = pkey_fromdata("ED25519", bld);
	OSSL_PARAM_BLD_free(bld);
	if (jwk->pkey == NULL) {
		*error_r = "Ed25519 key rejected by OpenSSL";
		return -1;
	}
	jwk->bits = 256;
	return 0;
}

static int
jwk_set_secret(struct moa2_jwk *jwk, const void *secret, size_t len,
	       const char **error_r)
{
	if (len < MOA2_JWK_SECRET_MIN_LEN) {
		*error_r = "HMAC secret shorter than 32 bytes";
		return -1;
	}
	jwk->secret = malloc(len);
	if (jwk->secret == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	memcpy(jwk->secret, secret, len);
	jwk->secret_len = len;
	jwk->bits = len > UINT32_MAX / 8 ? UINT32_MAX : (unsigned int)len * 8;
	return 0;
}

int
moa2_jwk_import_oct(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		    const char **error_r)
{
	unsigned char k[1024 + 3];
	size_t len;
	int ret;

	if (jwk_member_bytes(jwk_json, "k", k, sizeof(k), &len, error_r) < 0)
		ret = -1;
	else
		ret = jwk_set_secret(jwk, k, len, error_r);
	OPENSSL_cleanse(k, sizeof(k));
	return ret;
}

int
moa2_jwk_from_secret(const void *secret, size_t len, const char *kid,
		     enum moa2_jose_alg alg, struct moa2_jwk **jwk_r,
		     const char **error_r)
{
	struct moa2_jwk *jwk;

	*jwk_r = NULL;
	if (alg != MOA2_JOSE_ALG_COUNT && !moa2_jose_alg_is_hmac(alg)) {
		*error_r = "a shared secret can only be used with HS256/HS384/HS512";
		return -1;
	}
	if ((jwk = moa2_jwk_alloc(MOA2_JWK_KTY_OCT, MOA2_JWK_CRV_NONE)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	if (alg != MOA2_JOSE_ALG_COUNT) {
		jwk->has_alg = true;
		jwk->alg = alg;
	}
	if (kid != NULL && (jwk->kid = strdup(kid)) == NULL) {
		*error_r = "out of memory";
		moa2_jwk_unref(&jwk);
		return -1;
	}
	if (jwk_set_secret(jwk, secret, len, error_r) < 0) {
		moa2_jwk_unref(&jwk);
		return -1;
	}
	*jwk_r = jwk;
	return 0;
}
