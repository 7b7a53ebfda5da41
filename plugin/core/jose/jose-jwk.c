/* SPDX-License-Identifier: MIT */
/* JWK / JWKS / PEM public keys: the only place that builds OpenSSL keys
   from key material. Failure behaviour: every import either yields a
   complete, validated public key or nothing; JWKS documents skip unusable
   keys (reported to the caller) and never produce an HMAC key. */
#include "config.h"
#include "jose/jose-jwk.h"
#include "support/base64.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Longest kid / use we keep; longer ones make the key unusable. */
#define JWK_STRING_MAX_LEN 1024
/* Largest decoded member: an RSA modulus of MOA2_JWK_RSA_MAX_BITS. */
#define JWK_MEMBER_MAX_LEN (MOA2_JWK_RSA_MAX_BITS / 8)
/* RSA public exponents longer than this are refused. */
#define JWK_RSA_E_MAX_LEN 8

struct moa2_jwk {
	int refcount;
	enum moa2_jwk_kty kty;
	enum moa2_jwk_crv crv;
	bool has_alg;
	bool has_key_ops;
	enum moa2_jose_alg alg;
	unsigned int key_ops;
	unsigned int bits;
	char *kid;
	char *use;
	EVP_PKEY *pkey;
	unsigned char *secret;
	size_t secret_len;
	/* moa2_jwk_verify_template() */
	enum moa2_jose_alg verify_alg;
	EVP_MD_CTX *verify_ctx;
};

struct moa2_jwks {
	struct moa2_jwk **keys;
	size_t count;
	size_t alloc;
};

/* ------------------------------------------------------------ algorithms */

struct alg_info {
	const char *name;
	enum moa2_jose_alg_family family;
	const char *digest;
	size_t digest_size;
	enum moa2_jwk_crv crv;		/* ES* and EdDSA only */
};

static const struct alg_info alg_infos[MOA2_JOSE_ALG_COUNT] = {
	[MOA2_JOSE_ALG_RS256] = { "RS256", MOA2_JOSE_FAMILY_RSA_PKCS1, "SHA256", 32, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_RS384] = { "RS384", MOA2_JOSE_FAMILY_RSA_PKCS1, "SHA384", 48, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_RS512] = { "RS512", MOA2_JOSE_FAMILY_RSA_PKCS1, "SHA512", 64, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_PS256] = { "PS256", MOA2_JOSE_FAMILY_RSA_PSS, "SHA256", 32, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_PS384] = { "PS384", MOA2_JOSE_FAMILY_RSA_PSS, "SHA384", 48, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_PS512] = { "PS512", MOA2_JOSE_FAMILY_RSA_PSS, "SHA512", 64, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_ES256] = { "ES256", MOA2_JOSE_FAMILY_ECDSA, "SHA256", 32, MOA2_JWK_CRV_P256 },
	[MOA2_JOSE_ALG_ES384] = { "ES384", MOA2_JOSE_FAMILY_ECDSA, "SHA384", 48, MOA2_JWK_CRV_P384 },
	[MOA2_JOSE_ALG_ES512] = { "ES512", MOA2_JOSE_FAMILY_ECDSA, "SHA512", 64, MOA2_JWK_CRV_P521 },
	[MOA2_JOSE_ALG_EDDSA] = { "EdDSA", MOA2_JOSE_FAMILY_EDDSA, NULL, 0, MOA2_JWK_CRV_ED25519 },
	[MOA2_JOSE_ALG_HS256] = { "HS256", MOA2_JOSE_FAMILY_HMAC, "SHA256", 32, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_HS384] = { "HS384", MOA2_JOSE_FAMILY_HMAC, "SHA384", 48, MOA2_JWK_CRV_NONE },
	[MOA2_JOSE_ALG_HS512] = { "HS512", MOA2_JOSE_FAMILY_HMAC, "SHA512", 64, MOA2_JWK_CRV_NONE },
};

int
moa2_jose_alg_from_name(const char *name, enum moa2_jose_alg *alg_r)
{
	for (unsigned int i = 0; i < MOA2_JOSE_ALG_COUNT; i++) {
		if (strcmp(alg_infos[i].name, name) == 0) {
			*alg_r = (enum moa2_jose_alg)i;
			return 0;
		}
	}
	return -1;
}

const char *
moa2_jose_alg_name(enum moa2_jose_alg alg)
{
	if ((unsigned int)alg >= MOA2_JOSE_ALG_COUNT)
		return "unknown";
	return alg_infos[alg].name;
}

enum moa2_jose_alg_family
moa2_jose_alg_family(enum moa2_jose_alg alg)
{
	return alg_infos[alg].family;
}

bool
moa2_jose_alg_is_hmac(enum moa2_jose_alg alg)
{
	return (unsigned int)alg < MOA2_JOSE_ALG_COUNT &&
		alg_infos[alg].family == MOA2_JOSE_FAMILY_HMAC;
}

const char *
moa2_jose_alg_digest(enum moa2_jose_alg alg, size_t *size_r)
{
	*size_r = alg_infos[alg].digest_size;
	return alg_infos[alg].digest;
}

int
moa2_jose_alg_mask_parse(const char *list, uint32_t *mask_r,
			 char *bad_r, size_t bad_size)
{
	uint32_t mask = 0;
	const char *p = list;

	while (*p != '\0') {
		char name[16];
		size_t len = strcspn(p, ", \t");
		enum moa2_jose_alg alg;

		if (len == 0) {
			p++;
			continue;
		}
		if (len >= sizeof(name) ||
		    (memcpy(name, p, len), name[len] = '\0',
		     moa2_jose_alg_from_name(name, &alg) < 0)) {
			if (bad_size > 0) {
				size_t n = len < bad_size - 1 ? len : bad_size - 1;

				memcpy(bad_r, p, n);
				bad_r[n] = '\0';
			}
			return -1;
		}
		mask |= MOA2_JOSE_ALG_BIT(alg);
		p += len;
	}
	*mask_r = mask;
	return 0;
}

/* ------------------------------------------------------------ key basics */

static const char *const kty_names[] = {
	[MOA2_JWK_KTY_RSA] = "RSA",
	[MOA2_JWK_KTY_EC] = "EC",
	[MOA2_JWK_KTY_OKP] = "OKP",
	[MOA2_JWK_KTY_OCT] = "oct",
};

struct crv_info {
	const char *jwk_name;
	const char *ossl_group;	/* as OpenSSL names the group */
	size_t coord_len;	/* bytes of one coordinate / the public key */
	unsigned int bits;
};

static const struct crv_info crv_infos[] = {
	[MOA2_JWK_CRV_NONE] = { "", NULL, 0, 0 },
	[MOA2_JWK_CRV_P256] = { "P-256", "prime256v1", 32, 256 },
	[MOA2_JWK_CRV_P384] = { "P-384", "secp384r1", 48, 384 },
	[MOA2_JWK_CRV_P521] = { "P-521", "secp521r1", 66, 521 },
	[MOA2_JWK_CRV_ED25519] = { "Ed25519", NULL, 32, 256 },
};

const char *
moa2_jwk_kty_name(enum moa2_jwk_kty kty)
{
	return kty_names[kty];
}

const char *
moa2_jwk_crv_name(enum moa2_jwk_crv crv)
{
	return crv_infos[crv].jwk_name;
}

static struct moa2_jwk *
jwk_alloc(enum moa2_jwk_kty kty, enum moa2_jwk_crv crv)
{
	struct moa2_jwk *jwk = calloc(1, sizeof(*jwk));

	if (jwk == NULL)
		return NULL;
	jwk->refcount = 1;
	jwk->kty = kty;
	jwk->crv = crv;
	return jwk;
}

struct moa2_jwk *
moa2_jwk_ref(struct moa2_jwk *jwk)
{
	jwk->refcount++;
	return jwk;
}

void
moa2_jwk_unref(struct moa2_jwk **_jwk)
{
	struct moa2_jwk *jwk = *_jwk;

	if (jwk == NULL)
		return;
	*_jwk = NULL;
	if (--jwk->refcount > 0)
		return;
	EVP_MD_CTX_free(jwk->verify_ctx);
	EVP_PKEY_free(jwk->pkey);
	moa2_secret_free(jwk->secret, jwk->secret_len);
	free(jwk->kid);
	free(jwk->use);
	free(jwk);
}

const char *
moa2_jwk_kid(const struct moa2_jwk *jwk)
{
	return jwk->kid;
}

enum moa2_jwk_kty
moa2_jwk_kty(const struct moa2_jwk *jwk)
{
	return jwk->kty;
}

enum moa2_jwk_crv
moa2_jwk_crv(const struct moa2_jwk *jwk)
{
	return jwk->crv;
}

bool
moa2_jwk_alg(const struct moa2_jwk *jwk, enum moa2_jose_alg *alg_r)
{
	if (jwk->has_alg)
		*alg_r = jwk->alg;
	return jwk->has_alg;
}

const char *
moa2_jwk_use(const struct moa2_jwk *jwk)
{
	return jwk->use;
}

bool
moa2_jwk_key_ops(const struct moa2_jwk *jwk, unsigned int *ops_r)
{
	*ops_r = jwk->key_ops;
	return jwk->has_key_ops;
}

unsigned int
moa2_jwk_bits(const struct moa2_jwk *jwk)
{
	return jwk->bits;
}

EVP_PKEY *
moa2_jwk_pkey(const struct moa2_jwk *jwk)
{
	return jwk->pkey;
}

EVP_MD_CTX *
moa2_jwk_verify_template(const struct moa2_jwk *jwk, enum moa2_jose_alg alg)
{
	return jwk->verify_ctx != NULL && jwk->verify_alg == alg ?
		jwk->verify_ctx : NULL;
}

void
moa2_jwk_set_verify_template(const struct moa2_jwk *_jwk,
			     enum moa2_jose_alg alg, EVP_MD_CTX *ctx)
{
	/* a cache, not the key: see jose-jwk.h */
	struct moa2_jwk *jwk = (struct moa2_jwk *)_jwk;

	EVP_MD_CTX_free(jwk->verify_ctx);
	jwk->verify_ctx = ctx;
	jwk->verify_alg = alg;
}

const unsigned char *
moa2_jwk_secret(const struct moa2_jwk *jwk, size_t *len_r)
{
	*len_r = jwk->secret_len;
	return jwk->secret;
}

/* The key type and curve an algorithm needs, without the key's own alg. */
static bool
kty_crv_fit_alg(enum moa2_jwk_kty kty, enum moa2_jwk_crv crv,
		enum moa2_jose_alg alg)
{
	const struct alg_info *info = &alg_infos[alg];

	switch (info->family) {
	case MOA2_JOSE_FAMILY_RSA_PKCS1:
	case MOA2_JOSE_FAMILY_RSA_PSS:
		return kty == MOA2_JWK_KTY_RSA;
	case MOA2_JOSE_FAMILY_ECDSA:
		return kty == MOA2_JWK_KTY_EC && crv == info->crv;
	case MOA2_JOSE_FAMILY_EDDSA:
		return kty == MOA2_JWK_KTY_OKP && crv == MOA2_JWK_CRV_ED25519;
	case MOA2_JOSE_FAMILY_HMAC:
		return kty == MOA2_JWK_KTY_OCT;
	}
	return false;
}

bool
moa2_jwk_fits_alg(const struct moa2_jwk *jwk, enum moa2_jose_alg alg)
{
	if ((unsigned int)alg >= MOA2_JOSE_ALG_COUNT)
		return false;
	if (!kty_crv_fit_alg(jwk->kty, jwk->crv, alg))
		return false;
	if (jwk->has_alg && jwk->alg != alg)
		return false;
	/* RFC 7518 §3.2: an HMAC key at least as long as the hash */
	if (jwk->kty == MOA2_JWK_KTY_OCT &&
	    jwk->secret_len < alg_infos[alg].digest_size)
		return false;
	return true;
}

/* ------------------------------------------------------------ JWK members */

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

/* An optional string member, copied. Returns 0 (absent: *value_r NULL) or
   -1 with error_r. */
static int
jwk_member_string(const struct moa2_json *jwk_json, const char *name,
		  char **value_r, const char **error_r)
{
	const char *value;
	int ret = moa2_json_get_string(jwk_json, name, &value);

	*value_r = NULL;
	if (ret == 0)
		return 0;
	if (ret < 0 || strlen(value) > JWK_STRING_MAX_LEN) {
		*error_r = "kid or use is not a string of reasonable length";
		return -1;
	}
	*value_r = strdup(value);
	if (*value_r == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

static int
jwk_parse_key_ops(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		  const char **error_r)
{
	const struct moa2_json *ops;
	size_t count;

	if (moa2_json_get(jwk_json, "key_ops", &ops) == 0)
		return 0;
	if (!moa2_json_is_array(ops)) {
		*error_r = "key_ops is not an array";
		return -1;
	}
	count = moa2_json_array_len(ops);
	for (size_t i = 0; i < count; i++) {
		const char *op = moa2_json_string(moa2_json_array_get(ops, i));

		if (op == NULL) {
			*error_r = "key_ops holds a value that is not a string";
			return -1;
		}
		if (strcmp(op, "verify") == 0)
			jwk->key_ops |= MOA2_JWK_OP_VERIFY;
		else if (strcmp(op, "sign") == 0)
			jwk->key_ops |= MOA2_JWK_OP_SIGN;
		else
			jwk->key_ops |= MOA2_JWK_OP_OTHER;
	}
	jwk->has_key_ops = true;
	if ((jwk->key_ops & MOA2_JWK_OP_VERIFY) == 0) {
		*error_r = "key_ops does not allow verify";
		return -1;
	}
	return 0;
}

/* kid, use, key_ops and alg: the members every kty shares. */
static int
jwk_parse_common(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		 const char **error_r)
{
	const char *alg_name;
	int ret;

	if (jwk_member_string(jwk_json, "kid", &jwk->kid, error_r) < 0 ||
	    jwk_member_string(jwk_json, "use", &jwk->use, error_r) < 0)
		return -1;
	if (jwk->use != NULL && strcmp(jwk->use, "sig") != 0) {
		*error_r = "use is not \"sig\" (an encryption key)";
		return -1;
	}
	if (jwk_parse_key_ops(jwk_json, jwk, error_r) < 0)
		return -1;
	ret = moa2_json_get_string(jwk_json, "alg", &alg_name);
	if (ret < 0) {
		*error_r = "alg is not a string";
		return -1;
	}
	if (ret > 0) {
		if (moa2_jose_alg_from_name(alg_name, &jwk->alg) < 0) {
			*error_r = "alg is not a supported signature algorithm";
			return -1;
		}
		if (!kty_crv_fit_alg(jwk->kty, jwk->crv, jwk->alg)) {
			*error_r = "alg does not fit the key type or curve";
			return -1;
		}
		jwk->has_alg = true;
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
static bool
pkey_public_check(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int
rsa_check_bits(EVP_PKEY *pkey, unsigned int *bits_r, const char **error_r)
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

static int
jwk_import_rsa(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
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
	return rsa_check_bits(jwk->pkey, &jwk->bits, error_r);
}

static int
jwk_parse_crv(const struct moa2_json *jwk_json, enum moa2_jwk_kty kty,
	      enum moa2_jwk_crv *crv_r, const char **error_r)
{
	const char *crv;

	if (moa2_json_get_string(jwk_json, "crv", &crv) <= 0) {
		*error_r = "crv is missing or not a string";
		return -1;
	}
	for (unsigned int i = MOA2_JWK_CRV_P256; i <= MOA2_JWK_CRV_ED25519; i++) {
		bool is_okp = i == MOA2_JWK_CRV_ED25519;

		if (strcmp(crv_infos[i].jwk_name, crv) == 0 &&
		    is_okp == (kty == MOA2_JWK_KTY_OKP)) {
			*crv_r = (enum moa2_jwk_crv)i;
			return 0;
		}
	}
	*error_r = kty == MOA2_JWK_KTY_OKP ?
		"unsupported OKP curve (only Ed25519)" :
		"unsupported EC curve (only P-256, P-384, P-521)";
	return -1;
}

static int
jwk_import_ec(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
	      const char **error_r)
{
	const struct crv_info *crv = &crv_infos[jwk->crv];
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
	if (jwk->pkey == NULL || !pkey_public_check(jwk->pkey)) {
		*error_r = "EC point is not on the curve";
		return -1;
	}
	jwk->bits = crv->bits;
	return 0;
}

static int
jwk_import_okp(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
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

static int
jwk_import_oct(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
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

static int
jwk_parse_kty(const struct moa2_json *jwk_json, unsigned int flags,
	      enum moa2_jwk_kty *kty_r, enum moa2_jwk_crv *crv_r,
	      const char **error_r)
{
	const char *kty;

	*crv_r = MOA2_JWK_CRV_NONE;
	if (moa2_json_get_string(jwk_json, "kty", &kty) <= 0) {
		*error_r = "kty is missing or not a string";
		return -1;
	}
	if (strcmp(kty, "RSA") == 0) {
		*kty_r = MOA2_JWK_KTY_RSA;
		return 0;
	}
	if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) {
		*kty_r = kty[0] == 'E' ? MOA2_JWK_KTY_EC : MOA2_JWK_KTY_OKP;
		return jwk_parse_crv(jwk_json, *kty_r, crv_r, error_r);
	}
	if (strcmp(kty, "oct") == 0) {
		if ((flags & MOA2_JWK_FLAG_ALLOW_OCT) == 0) {
			*error_r = "symmetric key (kty oct): HMAC keys are only taken from the configuration";
			return -1;
		}
		*kty_r = MOA2_JWK_KTY_OCT;
		return 0;
	}
	*error_r = "unsupported kty";
	return -1;
}

int
moa2_jwk_from_json(const struct moa2_json *jwk_json, unsigned int flags,
		   struct moa2_jwk **jwk_r, const char **error_r)
{
	enum moa2_jwk_kty kty;
	enum moa2_jwk_crv crv;
	struct moa2_jwk *jwk;
	int ret;

	*jwk_r = NULL;
	if (!moa2_json_is_object(jwk_json)) {
		*error_r = "the key is not a JSON object";
		return -1;
	}
	if (jwk_parse_kty(jwk_json, flags, &kty, &crv, error_r) < 0)
		return -1;
	if ((jwk = jwk_alloc(kty, crv)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	/* cheap checks before the (costly) import */
	ret = jwk_parse_common(jwk_json, jwk, error_r);
	if (ret == 0) {
		switch (kty) {
		case MOA2_JWK_KTY_RSA:
			ret = jwk_import_rsa(jwk_json, jwk, error_r);
			break;
		case MOA2_JWK_KTY_EC:
			ret = jwk_import_ec(jwk_json, jwk, error_r);
			break;
		case MOA2_JWK_KTY_OKP:
			ret = jwk_import_okp(jwk_json, jwk, error_r);
			break;
		case MOA2_JWK_KTY_OCT:
			ret = jwk_import_oct(jwk_json, jwk, error_r);
			break;
		}
	}
	if (ret < 0) {
		ERR_clear_error();
		moa2_jwk_unref(&jwk);
		return -1;
	}
	*jwk_r = jwk;
	return 0;
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
	if ((jwk = jwk_alloc(MOA2_JWK_KTY_OCT, MOA2_JWK_CRV_NONE)) == NULL) {
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

/* ------------------------------------------------------------ key sets */

struct moa2_jwks *
moa2_jwks_new(void)
{
	return calloc(1, sizeof(struct moa2_jwks));
}

void
moa2_jwks_free(struct moa2_jwks **_jwks)
{
	struct moa2_jwks *jwks = *_jwks;

	if (jwks == NULL)
		return;
	*_jwks = NULL;
	for (size_t i = 0; i < jwks->count; i++)
		moa2_jwk_unref(&jwks->keys[i]);
	free(jwks->keys);
	free(jwks);
}

int
moa2_jwks_add(struct moa2_jwks *jwks, struct moa2_jwk *jwk)
{
	if (jwks->count >= MOA2_JWKS_MAX_KEYS)
		return -1;
	if (jwks->count == jwks->alloc) {
		size_t alloc = jwks->alloc == 0 ? 4 : jwks->alloc * 2;
		struct moa2_jwk **keys =
			realloc(jwks->keys, alloc * sizeof(*keys));

		if (keys == NULL)
			return -1;
		jwks->keys = keys;
		jwks->alloc = alloc;
	}
	jwks->keys[jwks->count++] = moa2_jwk_ref(jwk);
	return 0;
}

size_t
moa2_jwks_count(const struct moa2_jwks *jwks)
{
	return jwks->count;
}

struct moa2_jwk *
moa2_jwks_get(const struct moa2_jwks *jwks, size_t idx)
{
	return idx < jwks->count ? jwks->keys[idx] : NULL;
}

struct moa2_jwk *
moa2_jwks_find_kid(const struct moa2_jwks *jwks, const char *kid)
{
	for (size_t i = 0; i < jwks->count; i++) {
		if (jwks->keys[i]->kid != NULL &&
		    strcmp(jwks->keys[i]->kid, kid) == 0)
			return jwks->keys[i];
	}
	return NULL;
}

enum moa2_verify_reason
moa2_jwks_select(const struct moa2_jwks *jwks, const char *kid,
		 enum moa2_jose_alg alg, const struct moa2_jwk **keys_r,
		 size_t max_keys, size_t *count_r)
{
	size_t candidates = 0, count = 0;
	bool any_kid = kid == NULL;

	/* a kid selects the keys carrying it; keys without a kid (PEM files)
	   are candidates for any kid, but only when no key carries it */
	if (kid != NULL && moa2_jwks_find_kid(jwks, kid) == NULL)
		any_kid = true;
	for (size_t i = 0; i < jwks->count && count < max_keys; i++) {
		const struct moa2_jwk *jwk = jwks->keys[i];

		if (!any_kid && (jwk->kid == NULL || strcmp(jwk->kid, kid) != 0))
			continue;
		if (any_kid && kid != NULL && jwk->kid != NULL)
			continue;
		candidates++;
		if (moa2_jwk_fits_alg(jwk, alg))
			keys_r[count++] = jwk;
	}
	*count_r = count;
	if (count > 0)
		return MOA2_VERIFY_OK;
	return candidates == 0 ? MOA2_VERIFY_UNKNOWN_KEY :
		MOA2_VERIFY_KEY_TYPE_MISMATCH;
}

/* ------------------------------------------------------------ JWKS */

static void
jwks_skip(size_t *skipped, moa2_jwks_skip_callback_t *skip_cb,
	  void *context, size_t idx, const struct moa2_json *key_json,
	  const char *reason)
{
	const char *kid = NULL;

	(*skipped)++;
	if (skip_cb == NULL)
		return;
	if (moa2_json_is_object(key_json) &&
	    moa2_json_get_string(key_json, "kid", &kid) <= 0)
		kid = NULL;
	skip_cb(context, idx, kid, reason);
}

int
moa2_jwks_parse_json(const struct moa2_json *doc, struct moa2_jwks **jwks_r,
		     size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		     void *context, const char **error_r)
{
	const struct moa2_json *keys;
	struct moa2_jwks *jwks;
	size_t count, skipped = 0;

	*jwks_r = NULL;
	if (!moa2_json_is_object(doc) || moa2_json_get(doc, "keys", &keys) == 0 ||
	    !moa2_json_is_array(keys)) {
		*error_r = "not a JWKS: no \"keys\" array";
		return -1;
	}
	if ((jwks = moa2_jwks_new()) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	count = moa2_json_array_len(keys);
	for (size_t i = 0; i < count; i++) {
		const struct moa2_json *key_json = moa2_json_array_get(keys, i);
		struct moa2_jwk *jwk;
		const char *reason;

		if (jwks->count >= MOA2_JWKS_MAX_KEYS) {
			jwks_skip(&skipped, skip_cb, context, i, key_json,
				  "too many keys in the JWKS");
			continue;
		}
		/* flags 0: a fetched document never yields an HMAC key */
		if (moa2_jwk_from_json(key_json, 0, &jwk, &reason) < 0) {
			jwks_skip(&skipped, skip_cb, context, i, key_json, reason);
			continue;
		}
		if (moa2_jwks_add(jwks, jwk) < 0) {
			moa2_jwk_unref(&jwk);
			moa2_jwks_free(&jwks);
			*error_r = "out of memory";
			return -1;
		}
		moa2_jwk_unref(&jwk);
	}
	if (skipped_r != NULL)
		*skipped_r = skipped;
	*jwks_r = jwks;
	return 0;
}

int
moa2_jwks_parse(const char *data, size_t len, struct moa2_jwks **jwks_r,
		size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		void *context, const char **error_r)
{
	struct moa2_json *doc;
	int ret;

	*jwks_r = NULL;
	if (moa2_json_parse(data, len, &doc, error_r) < 0)
		return -1;
	ret = moa2_jwks_parse_json(doc, jwks_r, skipped_r, skip_cb, context,
				   error_r);
	moa2_json_free(&doc);
	return ret;
}

/* ------------------------------------------------------------ PEM */

/* Classifies an imported public key and checks it is usable. */
static int
pem_key_to_jwk(EVP_PKEY *pkey, struct moa2_jwk **jwk_r, const char **error_r)
{
	enum moa2_jwk_kty kty;
	enum moa2_jwk_crv crv = MOA2_JWK_CRV_NONE;
	struct moa2_jwk *jwk;
	unsigned int bits = 0;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		kty = MOA2_JWK_KTY_RSA;
		if (rsa_check_bits(pkey, &bits, error_r) < 0)
			return -1;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64];

		kty = MOA2_JWK_KTY_EC;
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
						   group, sizeof(group), NULL) != 1)
			group[0] = '\0';
		for (unsigned int i = MOA2_JWK_CRV_P256; i <= MOA2_JWK_CRV_P521; i++) {
			if (strcmp(crv_infos[i].ossl_group, group) == 0)
				crv = (enum moa2_jwk_crv)i;
		}
		if (crv == MOA2_JWK_CRV_NONE) {
			*error_r = "unsupported EC curve (only P-256, P-384, P-521)";
			return -1;
		}
		if (!pkey_public_check(pkey)) {
			*error_r = "EC point is not on the curve";
			return -1;
		}
		bits = crv_infos[crv].bits;
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		kty = MOA2_JWK_KTY_OKP;
		crv = MOA2_JWK_CRV_ED25519;
		bits = 256;
	} else {
		*error_r = "unsupported key type (only RSA, EC P-256/384/521, Ed25519)";
		return -1;
	}
	if ((jwk = jwk_alloc(kty, crv)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	/* the curve implies the algorithm; an RSA key serves RS* and PS* */
	if (kty != MOA2_JWK_KTY_RSA) {
		jwk->has_alg = true;
		jwk->alg = crv == MOA2_JWK_CRV_ED25519 ? MOA2_JOSE_ALG_EDDSA :
			crv == MOA2_JWK_CRV_P256 ? MOA2_JOSE_ALG_ES256 :
			crv == MOA2_JWK_CRV_P384 ? MOA2_JOSE_ALG_ES384 :
			MOA2_JOSE_ALG_ES512;
	}
	jwk->bits = bits;
	if (EVP_PKEY_up_ref(pkey) != 1) {
		moa2_jwk_unref(&jwk);
		*error_r = "out of memory";
		return -1;
	}
	jwk->pkey = pkey;
	*jwk_r = jwk;
	return 0;
}

/* Decodes one PEM block's DER into a public key. */
static EVP_PKEY *
pem_block_to_pkey(const char *name, const unsigned char *der, long der_len,
		  const char **error_r)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = NULL;

	if (strcmp(name, PEM_STRING_PUBLIC) == 0) {
		pkey = d2i_PUBKEY(NULL, &p, der_len);
	} else if (strcmp(name, PEM_STRING_RSA_PUBLIC) == 0) {
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, der_len);
	} else if (strcmp(name, PEM_STRING_X509) == 0) {
		X509 *cert = d2i_X509(NULL, &p, der_len);

		if (cert != NULL)
			pkey = X509_get_pubkey(cert);
		X509_free(cert);
	} else if (strstr(name, "PRIVATE KEY") != NULL) {
		*error_r = "the file holds a private key; give the public key";
		return NULL;
	} else {
		*error_r = "unsupported PEM block (expected PUBLIC KEY or CERTIFICATE)";
		return NULL;
	}
	if (pkey == NULL || p != der + der_len) {
		EVP_PKEY_free(pkey);
		*error_r = "invalid PEM key data";
		return NULL;
	}
	return pkey;
}

static int
pem_add_block(struct moa2_jwks *jwks, const char *name,
	      const unsigned char *der, long der_len, const char **error_r)
{
	EVP_PKEY *pkey = pem_block_to_pkey(name, der, der_len, error_r);
	struct moa2_jwk *jwk;
	int ret;

	if (pkey == NULL)
		return -1;
	ret = pem_key_to_jwk(pkey, &jwk, error_r);
	EVP_PKEY_free(pkey);
	if (ret < 0)
		return -1;
	if (moa2_jwks_add(jwks, jwk) < 0) {
		*error_r = "too many keys";
		ret = -1;
	}
	moa2_jwk_unref(&jwk);
	return ret;
}

int
moa2_jwks_parse_pem(const char *data, size_t len, struct moa2_jwks **jwks_r,
		    const char **error_r)
{
	struct moa2_jwks *jwks;
	BIO *bio;
	int ret = 0;

	*jwks_r = NULL;
	if (len > MOA2_JWKS_FILE_MAX_SIZE) {
		*error_r = "PEM data too large";
		return -1;
	}
	ERR_clear_error();
	if ((jwks = moa2_jwks_new()) == NULL ||
	    (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		moa2_jwks_free(&jwks);
		*error_r = "out of memory";
		return -1;
	}
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long der_len = 0;

		if (PEM_read_bio(bio, &name, &header, &der, &der_len) != 1) {
			/* the end, or garbage that has no BEGIN line */
			unsigned long err = ERR_peek_last_error();

			if (ERR_GET_LIB(err) != ERR_LIB_PEM ||
			    ERR_GET_REASON(err) != PEM_R_NO_START_LINE) {
				*error_r = "invalid PEM data";
				ret = -1;
			}
			break;
		}
		ret = pem_add_block(jwks, name, der, der_len, error_r);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (ret < 0)
			break;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (ret == 0 && jwks->count == 0) {
		*error_r = "no public key in the PEM data";
		ret = -1;
	}
	if (ret < 0) {
		moa2_jwks_free(&jwks);
		return -1;
	}
	*jwks_r = jwks;
	return 0;
}

/* ------------------------------------------------------------ files */

static int
read_small_file(const char *path, char **data_r, size_t *len_r,
		const char **what_r)
{
	struct stat st;
	char *data;
	size_t done = 0;
	int read_ret, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*what_r = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > MOA2_JWKS_FILE_MAX_SIZE) {
		*what_r = "not a regular file of at most 1 MiB";
		close(fd);
		return -1;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		*what_r = "out of memory";
		close(fd);
		return -1;
	}
	read_ret = moa2_read_all(fd, data, (size_t)st.st_size, &done);
	close(fd);
	if (read_ret < 0 || done != (size_t)st.st_size) {
		*what_r = "short read";
		free(data);
		return -1;
	}
	data[done] = '\0';
	*data_r = data;
	*len_r = done;
	return 0;
}

/* Forwards skip reports and keeps the first reason for an error message. */
struct load_skip_context {
	moa2_jwks_skip_callback_t *skip_cb;
	void *context;
	const char *first_reason;
};

static void
load_file_skip(void *context, size_t index, const char *kid, const char *reason)
{
	struct load_skip_context *ctx = context;

	if (ctx->first_reason == NULL)
		ctx->first_reason = reason;
	if (ctx->skip_cb != NULL)
		ctx->skip_cb(ctx->context, index, kid, reason);
}

int
moa2_jwks_load_file(const char *path, struct moa2_jwks **jwks_r,
		    size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		    void *context, char *error_buf, size_t error_size,
		    const char **error_r)
{
	struct load_skip_context skip_ctx = { skip_cb, context, NULL };
	const char *what, *p;
	char *data;
	size_t len;
	int ret;

	*jwks_r = NULL;
	if (skipped_r != NULL)
		*skipped_r = 0;
	if (read_small_file(path, &data, &len, &what) < 0) {
		snprintf(error_buf, error_size, "%s: %s", path, what);
		*error_r = error_buf;
		return -1;
	}
	p = data + strspn(data, " \t\r\n");
	if (*p == '{') {
		ret = moa2_jwks_parse(data, len, jwks_r, skipped_r,
				      load_file_skip, &skip_ctx, &what);
		/* a local file is the administrator's choice: one without a
		   single usable key is a configuration error */
		if (ret == 0 && moa2_jwks_count(*jwks_r) == 0) {
			moa2_jwks_free(jwks_r);
			snprintf(error_buf, error_size,
				 "%s: no usable key in the JWKS%s%s", path,
				 skip_ctx.first_reason != NULL ? "; first key skipped: " : "",
				 skip_ctx.first_reason != NULL ? skip_ctx.first_reason : "");
			*error_r = error_buf;
			free(data);
			return -1;
		}
	} else {
		ret = moa2_jwks_parse_pem(data, len, jwks_r, &what);
	}
	free(data);
	if (ret < 0) {
		snprintf(error_buf, error_size, "%s: %s", path, what);
		*error_r = error_buf;
	}
	return ret;
}
