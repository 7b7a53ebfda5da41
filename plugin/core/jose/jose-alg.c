/* SPDX-License-Identifier: MIT */
/* The JOSE signature algorithms (RFC 7518 §3, RFC 8037 §3.1): their names,
   families and digests, allow-list masks, and which keys fit each.

   Failure behaviour: fails closed. A name that is not a supported
   signature algorithm ("none" included; case-sensitive, as in JOSE) is
   refused, and so is an allow-list that holds one; a key fits an
   algorithm only when its type, curve, own alg and (HMAC) secret length
   all do. */
#include "config.h"
#include "jose/jose-jwk-private.h"

#include <string.h>

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

/* ------------------------------------------------------------ keys */

/* The key type and curve an algorithm needs, without the key's own alg. */
bool
moa2_jose_alg_fits_key(enum moa2_jwk_kty kty, enum moa2_jwk_crv crv,
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
	if (!moa2_jose_alg_fits_key(jwk->kty, jwk->crv, alg))
		return false;
	if (jwk->has_alg && jwk->alg != alg)
		return false;
	/* RFC 7518 §3.2: an HMAC key at least as long as the hash */
	if (jwk->kty == MOA2_JWK_KTY_OCT &&
	    jwk->secret_len < alg_infos[alg].digest_size)
		return false;
	return true;
}
