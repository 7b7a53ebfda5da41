/* SPDX-License-Identifier: MIT */
#ifndef MOA2_JOSE_JWK_PRIVATE_H
#define MOA2_JOSE_JWK_PRIVATE_H

/* The key object of jose-jwk.h, shared by the files that build keys and
   sets (by role):

     jose-alg.c         the algorithms: names, families, digests, masks,
                        and which keys fit an algorithm
     jose-jwk.c         the key: its members (kid, use, key_ops, alg, kty,
                        crv), moa2_jwk_from_json(), references, accessors
     jose-jwk-import.c  the key material of each key type: the OpenSSL key
                        of an RSA, EC or OKP JWK, the secret of an oct JWK
                        or of the configuration
     jose-pem.c         public keys from PEM (keys, certificates)
     jose-jwks.c        key sets: selection, JWKS documents, key files

   jose-jwk-import.c and jose-pem.c are the only files of the project that
   build OpenSSL keys from key material. Private to these files: the rest
   of the core uses jose-jwk.h.

   Failure behaviour: as jose-jwk.h. A key is either complete and
   validated or not built: the functions here that can fail return -1
   with a static sentence in error_r, and the caller frees the half-built
   key (moa2_jwk_unref()). */

#include "jose/jose-jwk.h"

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

/* The curves of EC and OKP keys, indexed by enum moa2_jwk_crv. */
struct moa2_jwk_crv_info {
	const char *jwk_name;
	const char *ossl_group;	/* as OpenSSL names the group */
	size_t coord_len;	/* bytes of one coordinate / the public key */
	unsigned int bits;
};
extern const struct moa2_jwk_crv_info moa2_jwk_crv_infos[];

/* jose-alg.c: the key type and curve an algorithm needs, without the key's
   own alg. */
bool moa2_jose_alg_fits_key(enum moa2_jwk_kty kty, enum moa2_jwk_crv crv,
			    enum moa2_jose_alg alg);

/* jose-jwk.c: a key of kty and crv with one reference and nothing else;
   NULL on ENOMEM. */
struct moa2_jwk *moa2_jwk_alloc(enum moa2_jwk_kty kty, enum moa2_jwk_crv crv);

/* jose-jwk-import.c: the public key of an RSA, EC (jwk->crv set) or OKP
   JWK, or the secret of an oct one, into jwk. Returns 0, or -1 with
   error_r. */
int moa2_jwk_import_rsa(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
			const char **error_r);
int moa2_jwk_import_ec(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
		       const char **error_r);
int moa2_jwk_import_okp(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
			const char **error_r);
int moa2_jwk_import_oct(const struct moa2_json *jwk_json, struct moa2_jwk *jwk,
			const char **error_r);
/* Full public-key validation (EC: on the curve, right order). */
bool moa2_jwk_pkey_public_check(EVP_PKEY *pkey);
/* An RSA key's size within MOA2_JWK_RSA_MIN_BITS..MOA2_JWK_RSA_MAX_BITS:
   0 with it in bits_r, or -1 with error_r. */
int moa2_jwk_rsa_check_bits(EVP_PKEY *pkey, unsigned int *bits_r,
			    const char **error_r);

#endif
