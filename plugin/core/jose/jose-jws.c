/* SPDX-License-Identifier: MIT */
/* Compact JWS parsing and signature verification (RFC 7515, 7518, 8037,
   8725). Failure behaviour: fails closed; every path returns one enum
   moa2_verify_reason and only MOA2_VERIFY_OK accepts. Keys come from the
   caller's set only, never from the token. */
#include "config.h"
#include "jose/jose-jws.h"
#include "support/base64.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

struct moa2_jws {
	enum moa2_jose_alg alg;
	const char *kid;		/* borrowed from header */
	const char *typ;		/* borrowed from header */
	struct moa2_json *header;
	struct moa2_json *payload;	/* with MOA2_JWS_FLAG_JWT only */
	const char *signing_input;	/* points into buf */
	size_t signing_input_len;
	const unsigned char *payload_raw;	/* points into buf */
	size_t payload_len;
	const unsigned char *sig;	/* points into buf */
	size_t sig_len;
	/* signing input copy, then decoded payload + NUL, then signature */
	unsigned char buf[];
};

/* ------------------------------------------------------------ crypto cache */

/* Digests, the HMAC method and the ECDSA group orders are fetched once per
   process rather than implicitly at every verification. */
static CRYPTO_ONCE crypto_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *cached_mds[MOA2_JOSE_ALG_COUNT];
static EVP_MAC *cached_hmac;
/* big-endian group order of P-256/384/521, padded to the coordinate size */
static unsigned char ec_orders[3][66];
static bool crypto_ready;

static const struct {
	int nid;
	size_t coord_len;
} ec_curves[3] = {
	{ NID_X9_62_prime256v1, 32 },
	{ NID_secp384r1, 48 },
	{ NID_secp521r1, 66 },
};

static bool
load_ec_order(size_t idx)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(ec_curves[idx].nid);
	bool ok = group != NULL &&
		BN_bn2binpad(EC_GROUP_get0_order(group), ec_orders[idx],
			     (int)ec_curves[idx].coord_len) > 0;

	EC_GROUP_free(group);
	return ok;
}

static void
crypto_init(void)
{
	for (unsigned int i = 0; i < MOA2_JOSE_ALG_COUNT; i++) {
		size_t size;
		const char *name = moa2_jose_alg_digest((enum moa2_jose_alg)i, &size);

		if (name == NULL)
			continue;
		if ((cached_mds[i] = EVP_MD_fetch(NULL, name, NULL)) == NULL)
			return;
	}
	if ((cached_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL)
		return;
	for (size_t i = 0; i < 3; i++) {
		if (!load_ec_order(i))
			return;
	}
	crypto_ready = true;
}

static bool
crypto_cache_ready(void)
{
	return CRYPTO_THREAD_run_once(&crypto_once, crypto_init) == 1 &&
		crypto_ready;
}

/* ------------------------------------------------------------ parsing */

/* crit names this implementation understands: none (b64 etc. are not
   supported), so every crit list is refused. Kept as a table so that
   support can be added in one place. */
static const char *const understood_crit[] = { NULL };

static enum moa2_verify_reason
check_crit(const struct moa2_json *header, const char **error_r)
{
	const struct moa2_json *crit;
	size_t count;

	if (moa2_json_get(header, "crit", &crit) == 0)
		return MOA2_VERIFY_OK;
	count = moa2_json_array_len(crit);
	if (!moa2_json_is_array(crit) || count == 0) {
		*error_r = "crit is not a non-empty array";
		return MOA2_VERIFY_MALFORMED;
	}
	for (size_t i = 0; i < count; i++) {
		const char *name = moa2_json_string(moa2_json_array_get(crit, i));
		bool understood = false;

		if (name == NULL) {
			*error_r = "crit holds a value that is not a string";
			return MOA2_VERIFY_MALFORMED;
		}
		for (size_t j = 0; understood_crit[j] != NULL; j++)
			understood = understood || strcmp(understood_crit[j], name) == 0;
		if (!understood) {
			*error_r = "the header has a critical parameter this server does not understand";
			return MOA2_VERIFY_UNSUPPORTED_CRIT;
		}
	}
	return MOA2_VERIFY_OK;
}

/* An optional string header member (*value_r NULL if absent); a member
   that is not a string is malformed. */
static enum moa2_verify_reason
header_string(const struct moa2_json *header, const char *name,
	      const char **value_r, const char **error_r)
{
	if (moa2_json_get_string(header, name, value_r) < 0) {
		*error_r = "kid or typ in the header is not a string";
		return MOA2_VERIFY_MALFORMED;
	}
	return MOA2_VERIFY_OK;
}

static enum moa2_verify_reason
parse_header(struct moa2_jws *jws, const unsigned char *data, size_t len,
	     const char **error_r)
{
	const char *alg_name, *json_error;
	enum moa2_verify_reason reason;
	int ret;

	if (moa2_json_parse((const char *)data, len, &jws->header, &json_error) < 0 ||
	    !moa2_json_is_object(jws->header)) {
		*error_r = "the header is not a JSON object";
		return MOA2_VERIFY_MALFORMED;
	}
	/* two readers must never see two different headers */
	if (moa2_json_has_duplicate_names(jws->header)) {
		*error_r = "the header has a duplicate member name";
		return MOA2_VERIFY_MALFORMED;
	}
	ret = moa2_json_get_string(jws->header, "alg", &alg_name);
	if (ret <= 0) {
		*error_r = "the header has no string alg";
		return MOA2_VERIFY_MALFORMED;
	}
	/* "none" and anything unknown end here */
	if (moa2_jose_alg_from_name(alg_name, &jws->alg) < 0) {
		*error_r = "the token's alg is not a supported signature algorithm";
		return MOA2_VERIFY_ALG_NOT_ALLOWED;
	}
	if ((reason = header_string(jws->header, "kid", &jws->kid, error_r)) != MOA2_VERIFY_OK ||
	    (reason = header_string(jws->header, "typ", &jws->typ, error_r)) != MOA2_VERIFY_OK)
		return reason;
	/* jku, x5u, jwk, x5c are deliberately never read */
	return check_crit(jws->header, error_r);
}

static enum moa2_verify_reason
parse_payload_json(struct moa2_jws *jws, const char **error_r)
{
	const char *json_error;

	if (jws->payload_len == 0 ||
	    moa2_json_parse((const char *)jws->payload_raw, jws->payload_len,
			    &jws->payload, &json_error) < 0 ||
	    !moa2_json_is_object(jws->payload)) {
		*error_r = "the payload is not a JSON object";
		return MOA2_VERIFY_MALFORMED;
	}
	if (moa2_json_has_duplicate_names(jws->payload)) {
		*error_r = "the claims have a duplicate member name";
		return MOA2_VERIFY_MALFORMED;
	}
	return MOA2_VERIFY_OK;
}

/* Decodes the three parts into jws->buf. The header is decoded into the
   space that the signature takes afterwards (it is parsed in between). */
static enum moa2_verify_reason
decode_parts(struct moa2_jws *jws, const char *token, const char *dot1,
	     const char *dot2, const char *end, const char **error_r)
{
	unsigned char *out = jws->buf + jws->signing_input_len;
	size_t out_size = (size_t)(end - token) + 1, header_len;
	enum moa2_verify_reason reason;

	/* decoded payload first, NUL-terminated */
	if (moa2_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), out,
				  out_size, &jws->payload_len) < 0) {
		*error_r = "the payload is not valid base64url";
		return MOA2_VERIFY_MALFORMED;
	}
	jws->payload_raw = out;
	out[jws->payload_len] = '\0';
	out += jws->payload_len + 1;
	out_size -= jws->payload_len + 1;

	if (moa2_base64url_decode(token, (size_t)(dot1 - token), out, out_size,
				  &header_len) < 0 || header_len == 0) {
		*error_r = "the header is not valid base64url";
		return MOA2_VERIFY_MALFORMED;
	}
	if ((reason = parse_header(jws, out, header_len, error_r)) != MOA2_VERIFY_OK)
		return reason;

	if (moa2_base64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), out,
				  out_size, &jws->sig_len) < 0 ||
	    jws->sig_len == 0) {
		*error_r = "the signature is missing or not valid base64url";
		return MOA2_VERIFY_MALFORMED;
	}
	jws->sig = out;
	return MOA2_VERIFY_OK;
}

enum moa2_verify_reason
moa2_jws_parse(const char *token, size_t len, unsigned int flags,
	       struct moa2_jws **jws_r, const char **error_r)
{
	const char *end = token + len, *dot1, *dot2;
	struct moa2_jws *jws;
	enum moa2_verify_reason reason;

	*jws_r = NULL;
	if (len > MOA2_JWS_MAX_LEN) {
		*error_r = "the token is larger than 16 KiB";
		return MOA2_VERIFY_TOO_LARGE;
	}
	/* exactly two dots: one is not a JWS, four is a JWE */
	dot1 = memchr(token, '.', len);
	dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL) {
		*error_r = "the token does not have exactly three dot-separated parts";
		return MOA2_VERIFY_MALFORMED;
	}
	/* signing input copy + decoded parts; base64url only shrinks */
	jws = malloc(sizeof(*jws) + 2 * len + 2);
	if (jws == NULL) {
		*error_r = "out of memory";
		return MOA2_VERIFY_MALFORMED;
	}
	/* the buffer is written before it is read: clear only the fields */
	memset(jws, 0, sizeof(*jws));
	jws->signing_input_len = (size_t)(dot2 - token);
	memcpy(jws->buf, token, jws->signing_input_len);
	jws->signing_input = (const char *)jws->buf;

	reason = decode_parts(jws, token, dot1, dot2, end, error_r);
	if (reason == MOA2_VERIFY_OK && (flags & MOA2_JWS_FLAG_JWT) != 0)
		reason = parse_payload_json(jws, error_r);
	if (reason != MOA2_VERIFY_OK) {
		moa2_jws_free(&jws);
		return reason;
	}
	*jws_r = jws;
	return MOA2_VERIFY_OK;
}

void
moa2_jws_free(struct moa2_jws **_jws)
{
	struct moa2_jws *jws = *_jws;

	if (jws == NULL)
		return;
	*_jws = NULL;
	moa2_json_free(&jws->header);
	moa2_json_free(&jws->payload);
	free(jws);
}

enum moa2_jose_alg
moa2_jws_alg(const struct moa2_jws *jws)
{
	return jws->alg;
}

const char *
moa2_jws_kid(const struct moa2_jws *jws)
{
	return jws->kid;
}

const char *
moa2_jws_typ(const struct moa2_jws *jws)
{
	return jws->typ;
}

const struct moa2_json *
moa2_jws_header(const struct moa2_jws *jws)
{
	return jws->header;
}

const struct moa2_json *
moa2_jws_payload(const struct moa2_jws *jws)
{
	return jws->payload;
}

const unsigned char *
moa2_jws_payload_raw(const struct moa2_jws *jws, size_t *len_r)
{
	*len_r = jws->payload_len;
	return jws->payload_raw;
}

const unsigned char *
moa2_jws_signature(const struct moa2_jws *jws, size_t *len_r)
{
	*len_r = jws->sig_len;
	return jws->sig;
}

const char *
moa2_jws_signing_input(const struct moa2_jws *jws, size_t *len_r)
{
	*len_r = jws->signing_input_len;
	return jws->signing_input;
}

/* ------------------------------------------------------------ signatures */

/* The key's EVP_DigestVerifyInit-ed context for the token's alg, made on
   first use: with the cached digest; PSS: MGF1 with the same hash, salt
   length = hash length. NULL on failure. */
static EVP_MD_CTX *
verify_template(const struct moa2_jws *jws, const struct moa2_jwk *key)
{
	enum moa2_jose_alg_family family = moa2_jose_alg_family(jws->alg);
	const EVP_MD *md = cached_mds[jws->alg];
	EVP_MD_CTX *ctx = moa2_jwk_verify_template(key, jws->alg);
	EVP_PKEY_CTX *pctx = NULL;

	if (ctx != NULL)
		return ctx;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, moa2_jwk_pkey(key)) != 1 ||
	    (family == MOA2_JOSE_FAMILY_RSA_PSS &&
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0 ||
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	moa2_jwk_set_verify_template(key, jws->alg, ctx);
	return ctx;
}

/* EVP_DigestVerify on a copy of the key's template: copying costs a tenth
   of EVP_DigestVerifyInit (which sets up a key context each time). */
static bool
evp_verify(const struct moa2_jws *jws, const struct moa2_jwk *key,
	   const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *tmpl = verify_template(jws, key);
	EVP_MD_CTX *ctx;
	bool ok;

	if (tmpl == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_MD_CTX_copy_ex(ctx, tmpl) == 1;
	/* one-shot use: let Final work on the context instead of a copy */
	EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
	ok = ok && EVP_DigestVerify(ctx, sig, sig_len,
				    (const unsigned char *)jws->signing_input,
				    jws->signing_input_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool
is_zero(const unsigned char *p, size_t len)
{
	unsigned char acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

/* JWS ECDSA signatures are R||S, each exactly the coordinate size
   (RFC 7518 §3.4); OpenSSL wants DER. r and s must be in [1, n-1]. */
static bool
ecdsa_verify(const struct moa2_jws *jws, const struct moa2_jwk *key)
{
	size_t curve = jws->alg - MOA2_JOSE_ALG_ES256;
	size_t half = ec_curves[curve].coord_len;
	const unsigned char *r_bytes = jws->sig, *s_bytes = jws->sig + half;
	const unsigned char *order = ec_orders[curve];
	unsigned char der[2 * (66 + 4) + 8], *p = der;
	ECDSA_SIG *ecsig;
	BIGNUM *r, *s;
	int der_len;

	if (jws->sig_len != 2 * half)
		return false;
	/* equal-length big-endian: memcmp orders them as numbers */
	if (is_zero(r_bytes, half) || is_zero(s_bytes, half) ||
	    memcmp(r_bytes, order, half) >= 0 || memcmp(s_bytes, order, half) >= 0)
		return false;
	ecsig = ECDSA_SIG_new();
	r = BN_bin2bn(r_bytes, (int)half, NULL);
	s = BN_bin2bn(s_bytes, (int)half, NULL);
	if (ecsig == NULL || r == NULL || s == NULL ||
	    ECDSA_SIG_set0(ecsig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(ecsig);
		return false;
	}
	der_len = i2d_ECDSA_SIG(ecsig, NULL);
	if (der_len <= 0 || (size_t)der_len > sizeof(der) ||
	    i2d_ECDSA_SIG(ecsig, &p) != der_len) {
		ECDSA_SIG_free(ecsig);
		return false;
	}
	ECDSA_SIG_free(ecsig);
	return evp_verify(jws, key, der, (size_t)der_len);
}

static bool
hmac_verify(const struct moa2_jws *jws, const struct moa2_jwk *key)
{
	size_t digest_size, secret_len, mac_len = 0;
	const char *digest = moa2_jose_alg_digest(jws->alg, &digest_size);
	const unsigned char *secret = moa2_jwk_secret(key, &secret_len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	bool ok = false;

	if (jws->sig_len != digest_size)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_MAC_CTX_new(cached_hmac);
	if (ctx != NULL &&
	    EVP_MAC_init(ctx, secret, secret_len, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)jws->signing_input,
			   jws->signing_input_len) == 1 &&
	    EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) == 1 &&
	    mac_len == digest_size)
		ok = CRYPTO_memcmp(mac, jws->sig, digest_size) == 0;
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

static bool
signature_verifies(const struct moa2_jws *jws, const struct moa2_jwk *key)
{
	EVP_PKEY *pkey = moa2_jwk_pkey(key);

	switch (moa2_jose_alg_family(jws->alg)) {
	case MOA2_JOSE_FAMILY_RSA_PKCS1:
	case MOA2_JOSE_FAMILY_RSA_PSS:
		/* exactly the modulus size, no leading-zero games */
		return jws->sig_len == (size_t)EVP_PKEY_get_size(pkey) &&
			evp_verify(jws, key, jws->sig, jws->sig_len);
	case MOA2_JOSE_FAMILY_ECDSA:
		return ecdsa_verify(jws, key);
	case MOA2_JOSE_FAMILY_EDDSA:
		return jws->sig_len == 64 &&
			evp_verify(jws, key, jws->sig, jws->sig_len);
	case MOA2_JOSE_FAMILY_HMAC:
		return hmac_verify(jws, key);
	}
	return false;
}

enum moa2_verify_reason
moa2_jws_verify_with_key(const struct moa2_jws *jws,
			 const struct moa2_jwk *key)
{
	bool ok;

	if (!moa2_jwk_fits_alg(key, jws->alg))
		return MOA2_VERIFY_KEY_TYPE_MISMATCH;
	if (!crypto_cache_ready())
		return MOA2_VERIFY_BAD_SIGNATURE;
	ok = signature_verifies(jws, key);
	if (!ok)
		ERR_clear_error();
	return ok ? MOA2_VERIFY_OK : MOA2_VERIFY_BAD_SIGNATURE;
}

enum moa2_verify_reason
moa2_jws_verify(const struct moa2_jws *jws, const struct moa2_jwks *keys,
		uint32_t allowed_algs, const struct moa2_jwk **key_r,
		const char **error_r)
{
	const struct moa2_jwk *candidates[MOA2_JWS_MAX_KEY_TRIES];
	enum moa2_verify_reason reason;
	size_t count;

	if (key_r != NULL)
		*key_r = NULL;
	if ((allowed_algs & MOA2_JOSE_ALG_BIT(jws->alg)) == 0) {
		*error_r = "the token's alg is not in the configured allow-list";
		return MOA2_VERIFY_ALG_NOT_ALLOWED;
	}
	reason = moa2_jwks_select(keys, jws->kid, jws->alg, candidates,
				  MOA2_JWS_MAX_KEY_TRIES, &count);
	if (reason != MOA2_VERIFY_OK) {
		*error_r = reason == MOA2_VERIFY_UNKNOWN_KEY ?
			(jws->kid != NULL ? "no key with the token's kid" :
			 "the key set is empty") :
			"no key of the set fits the token's alg";
		return reason;
	}
	for (size_t i = 0; i < count; i++) {
		if (moa2_jws_verify_with_key(jws, candidates[i]) == MOA2_VERIFY_OK) {
			if (key_r != NULL)
				*key_r = candidates[i];
			return MOA2_VERIFY_OK;
		}
	}
	*error_r = "the signature does not verify";
	return MOA2_VERIFY_BAD_SIGNATURE;
}

enum moa2_verify_reason
moa2_jws_verify_compact(const char *token, size_t len, unsigned int flags,
			const struct moa2_jwks *keys, uint32_t allowed_algs,
			struct moa2_jws **jws_r, const char **error_r)
{
	struct moa2_jws *jws;
	enum moa2_verify_reason reason;

	if (jws_r != NULL)
		*jws_r = NULL;
	reason = moa2_jws_parse(token, len, flags, &jws, error_r);
	if (reason != MOA2_VERIFY_OK)
		return reason;
	reason = moa2_jws_verify(jws, keys, allowed_algs, NULL, error_r);
	if (reason == MOA2_VERIFY_OK && jws_r != NULL)
		*jws_r = jws;
	else
		moa2_jws_free(&jws);
	return reason;
}
