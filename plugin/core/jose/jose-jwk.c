/* SPDX-License-Identifier: MIT */
/* JSON Web Keys (jose-jwk.h): the key object, its references and
   accessors, and a key from one JWK object: the members every key type
   shares (kid, use, key_ops, alg), its kty and crv, then the key material
   (jose-jwk-import.c; the other files: jose-jwk-private.h).

   Failure behaviour: every import either yields a complete, validated
   public key or nothing (-1, a static sentence); the cheap checks of the
   members come before the costly import. A fetched JWK never yields an
   HMAC key: kty "oct" needs MOA2_JWK_FLAG_ALLOW_OCT. */
#include "config.h"
#include "jose/jose-jwk-private.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

/* Longest kid / use we keep; longer ones make the key unusable. */
#define JWK_STRING_MAX_LEN 1024

/* ------------------------------------------------------------ key basics */

static const char *const kty_names[] = {
	[MOA2_JWK_KTY_RSA] = "RSA",
	[MOA2_JWK_KTY_EC] = "EC",
	[MOA2_JWK_KTY_OKP] = "OKP",
	[MOA2_JWK_KTY_OCT] = "oct",
};

const struct moa2_jwk_crv_info moa2_jwk_crv_infos[] = {
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
	return moa2_jwk_crv_infos[crv].jwk_name;
}

struct moa2_jwk *
moa2_jwk_alloc(enum moa2_jwk_kty kty, enum moa2_jwk_crv crv)
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

/* ------------------------------------------------------------ JWK members */

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
		if (!moa2_jose_alg_fits_key(jwk->kty, jwk->crv, jwk->alg)) {
			*error_r = "alg does not fit the key type or curve";
			return -1;
		}
		jwk->has_alg = true;
	}
	return 0;
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

		if (strcmp(moa2_jwk_crv_infos[i].jwk_name, crv) == 0 &&
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
	if ((jwk = moa2_jwk_alloc(kty, crv)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	/* cheap checks before the (costly) import */
	ret = jwk_parse_common(jwk_json, jwk, error_r);
	if (ret == 0) {
		switch (kty) {
		case MOA2_JWK_KTY_RSA:
			ret = moa2_jwk_import_rsa(jwk_json, jwk, error_r);
			break;
		case MOA2_JWK_KTY_EC:
			ret = moa2_jwk_import_ec(jwk_json, jwk, error_r);
			break;
		case MOA2_JWK_KTY_OKP:
			ret = moa2_jwk_import_okp(jwk_json, jwk, error_r);
			break;
		case MOA2_JWK_KTY_OCT:
			ret = moa2_jwk_import_oct(jwk_json, jwk, error_r);
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
