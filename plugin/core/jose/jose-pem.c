/* SPDX-License-Identifier: MIT */
/* Public keys from PEM data for local key files (see moa2_jwks_parse_pem()
   in jose-jwk.h): "PUBLIC KEY", "RSA PUBLIC KEY" and "CERTIFICATE" blocks.

   Failure behaviour: fails closed and never skips: a local file is the
   administrator's choice, so a private key, an unsupported block or key
   type, an unusable key (too small RSA, unsupported curve, a point not on
   it), DER with trailing bytes or no key at all fails the whole file (-1,
   a static sentence). OpenSSL's error queue is cleared. */
#include "config.h"
#include "jose/jose-jwk-private.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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
		if (moa2_jwk_rsa_check_bits(pkey, &bits, error_r) < 0)
			return -1;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64];

		kty = MOA2_JWK_KTY_EC;
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
						   group, sizeof(group), NULL) != 1)
			group[0] = '\0';
		for (unsigned int i = MOA2_JWK_CRV_P256; i <= MOA2_JWK_CRV_P521; i++) {
			if (strcmp(moa2_jwk_crv_infos[i].ossl_group, group) == 0)
				crv = (enum moa2_jwk_crv)i;
		}
		if (crv == MOA2_JWK_CRV_NONE) {
			*error_r = "unsupported EC curve (only P-256, P-384, P-521)";
			return -1;
		}
		if (!moa2_jwk_pkey_public_check(pkey)) {
			*error_r = "EC point is not on the curve";
			return -1;
		}
		bits = moa2_jwk_crv_infos[crv].bits;
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		kty = MOA2_JWK_KTY_OKP;
		crv = MOA2_JWK_CRV_ED25519;
		bits = 256;
	} else {
		*error_r = "unsupported key type (only RSA, EC P-256/384/521, Ed25519)";
		return -1;
	}
	if ((jwk = moa2_jwk_alloc(kty, crv)) == NULL) {
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
	if (ret == 0 && moa2_jwks_count(jwks) == 0) {
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
