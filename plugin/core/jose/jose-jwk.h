/* SPDX-License-Identifier: MIT */
#ifndef MOA2_JOSE_JWK_H
#define MOA2_JOSE_JWK_H

/* JSON Web Keys (RFC 7517/7518/8037) and key sets for JWS verification.
   Its files (jose-jwk-private.h lists them) are the only code of the
   project that builds OpenSSL keys from key material (JWK members or PEM).
   Keys are imported once, when a set is loaded; verification never
   imports a key.

   Failure behaviour: a key that cannot be used for verification is never
   half-built. moa2_jwks_parse() skips (and reports) unusable keys but fails
   on a document that is not a JWKS. A fetched JWKS never yields an HMAC
   (kty "oct") key: shared secrets only come from moa2_jwk_from_secret(). */

#include "mail-oauth2/common.h"
#include "support/json.h"
#include "mail-oauth2/verify-reason.h"

#include <openssl/evp.h>

/* Signature algorithms (RFC 7518 §3, RFC 8037 §3.1). */
enum moa2_jose_alg {
	MOA2_JOSE_ALG_RS256 = 0,
	MOA2_JOSE_ALG_RS384,
	MOA2_JOSE_ALG_RS512,
	MOA2_JOSE_ALG_PS256,
	MOA2_JOSE_ALG_PS384,
	MOA2_JOSE_ALG_PS512,
	MOA2_JOSE_ALG_ES256,
	MOA2_JOSE_ALG_ES384,
	MOA2_JOSE_ALG_ES512,
	MOA2_JOSE_ALG_EDDSA,
	MOA2_JOSE_ALG_HS256,
	MOA2_JOSE_ALG_HS384,
	MOA2_JOSE_ALG_HS512,

	MOA2_JOSE_ALG_COUNT
};

/* Allow-lists are bit masks of algorithms. */
#define MOA2_JOSE_ALG_BIT(alg) (1U << (alg))
#define MOA2_JOSE_ALGS_ALL ((1U << MOA2_JOSE_ALG_COUNT) - 1)
#define MOA2_JOSE_ALGS_HMAC \
	(MOA2_JOSE_ALG_BIT(MOA2_JOSE_ALG_HS256) | \
	 MOA2_JOSE_ALG_BIT(MOA2_JOSE_ALG_HS384) | \
	 MOA2_JOSE_ALG_BIT(MOA2_JOSE_ALG_HS512))
/* The default allow-list: every asymmetric algorithm, no HMAC. */
#define MOA2_JOSE_ALGS_ASYMMETRIC (MOA2_JOSE_ALGS_ALL & ~MOA2_JOSE_ALGS_HMAC)

/* "RS256" etc. Returns 0, or -1 for a name that is not a supported
   signature algorithm ("none" included). Case-sensitive, as in JOSE. */
int moa2_jose_alg_from_name(const char *name, enum moa2_jose_alg *alg_r);
/* Never NULL ("unknown" outside the enum). */
const char *moa2_jose_alg_name(enum moa2_jose_alg alg);
enum moa2_jose_alg_family {
	MOA2_JOSE_FAMILY_RSA_PKCS1,	/* RS* */
	MOA2_JOSE_FAMILY_RSA_PSS,	/* PS* */
	MOA2_JOSE_FAMILY_ECDSA,		/* ES* */
	MOA2_JOSE_FAMILY_EDDSA,		/* EdDSA */
	MOA2_JOSE_FAMILY_HMAC,		/* HS* */
};
/* alg must be a valid enum value (< MOA2_JOSE_ALG_COUNT). */
enum moa2_jose_alg_family moa2_jose_alg_family(enum moa2_jose_alg alg);
bool moa2_jose_alg_is_hmac(enum moa2_jose_alg alg);
/* OpenSSL digest name ("SHA256"), NULL for EdDSA; its size in size_r
   (0 for EdDSA). */
const char *moa2_jose_alg_digest(enum moa2_jose_alg alg, size_t *size_r);
/* Parses a comma/space separated list ("RS256, ES256") into a mask.
   Returns 0, or -1 with the offending name copied (truncated) into bad_r. */
int moa2_jose_alg_mask_parse(const char *list, uint32_t *mask_r,
			     char *bad_r, size_t bad_size);

enum moa2_jwk_kty {
	MOA2_JWK_KTY_RSA,
	MOA2_JWK_KTY_EC,
	MOA2_JWK_KTY_OKP,
	MOA2_JWK_KTY_OCT,
};

enum moa2_jwk_crv {
	MOA2_JWK_CRV_NONE,	/* RSA, oct */
	MOA2_JWK_CRV_P256,
	MOA2_JWK_CRV_P384,
	MOA2_JWK_CRV_P521,
	MOA2_JWK_CRV_ED25519,
};

#define MOA2_JWK_RSA_MIN_BITS 2048
#define MOA2_JWK_RSA_MAX_BITS 16384
/* A configured HMAC secret shorter than this is refused (RFC 7518 §3.2
   asks for at least the hash size; HS384/HS512 check their own size). */
#define MOA2_JWK_SECRET_MIN_LEN 32
/* Keys beyond this many in one JWKS are skipped. */
#define MOA2_JWKS_MAX_KEYS 128
/* Local key files (JWKS or PEM) larger than this are refused. */
#define MOA2_JWKS_FILE_MAX_SIZE (1024 * 1024)

struct moa2_jwk;

/* moa2_jwk_from_json() flag: accept kty "oct" (a secret that the
   configuration provides). Never set for a fetched document. */
#define MOA2_JWK_FLAG_ALLOW_OCT 0x01

/* Builds a verification key from one JWK object. Private members (d, p,
   ...) are ignored: only the public key is imported. Returns 0, or -1 with
   a static sentence in error_r (unsupported kty/crv, use is not "sig",
   key_ops without "verify", alg unknown or not fitting the key, RSA key
   too small, point not on the curve, bad member...). */
int moa2_jwk_from_json(const struct moa2_json *jwk_json, unsigned int flags,
		       struct moa2_jwk **jwk_r, const char **error_r);
/* Builds an HMAC key from a configured shared secret (copied; the copy is
   wiped when the key is freed). kid may be NULL. alg is the only algorithm
   the key may be used with, or MOA2_JOSE_ALG_COUNT for any HS*.
   Returns 0, or -1 (secret shorter than MOA2_JWK_SECRET_MIN_LEN, alg not
   HS*, ENOMEM). */
int moa2_jwk_from_secret(const void *secret, size_t len, const char *kid,
			 enum moa2_jose_alg alg, struct moa2_jwk **jwk_r,
			 const char **error_r);

/* Reference counting (not thread-safe on the same key). unref NULLs the
   pointer and frees on the last reference; NULL-safe. */
struct moa2_jwk *moa2_jwk_ref(struct moa2_jwk *jwk);
void moa2_jwk_unref(struct moa2_jwk **jwk);

const char *moa2_jwk_kid(const struct moa2_jwk *jwk);	/* NULL if none */
enum moa2_jwk_kty moa2_jwk_kty(const struct moa2_jwk *jwk);
enum moa2_jwk_crv moa2_jwk_crv(const struct moa2_jwk *jwk);
const char *moa2_jwk_kty_name(enum moa2_jwk_kty kty);
const char *moa2_jwk_crv_name(enum moa2_jwk_crv crv);	/* "" for none */
/* The key's own "alg" (or the one inferred for a PEM EC/Ed25519 key).
   Returns true and sets alg_r if the key is bound to one algorithm. */
bool moa2_jwk_alg(const struct moa2_jwk *jwk, enum moa2_jose_alg *alg_r);
const char *moa2_jwk_use(const struct moa2_jwk *jwk);	/* NULL if absent */
/* key_ops (RFC 7517 §4.3) as a mask of MOA2_JWK_OP_*; false if absent. */
#define MOA2_JWK_OP_SIGN	0x01
#define MOA2_JWK_OP_VERIFY	0x02
#define MOA2_JWK_OP_OTHER	0x80	/* encrypt, wrapKey, ... */
bool moa2_jwk_key_ops(const struct moa2_jwk *jwk, unsigned int *ops_r);
/* Key size in bits (RSA modulus, EC field, 256 for Ed25519, 8*len of a
   secret). */
unsigned int moa2_jwk_bits(const struct moa2_jwk *jwk);
/* The imported public key (NULL for an HMAC secret); owned by the key. */
EVP_PKEY *moa2_jwk_pkey(const struct moa2_jwk *jwk);
/* The key's verification context for alg: EVP_DigestVerifyInit done once
   (it costs as much as 1/6 of an RS256 check), copied for each signature
   (jose-jws.c). NULL until set; set replaces (and frees) a context of
   another alg. Owned by the key. Mutates the key although it is const:
   like its refcount, a key is used by one thread at a time. */
EVP_MD_CTX *moa2_jwk_verify_template(const struct moa2_jwk *jwk,
				     enum moa2_jose_alg alg);
void moa2_jwk_set_verify_template(const struct moa2_jwk *jwk,
				  enum moa2_jose_alg alg, EVP_MD_CTX *ctx);
/* The HMAC secret (NULL for other keys); owned by the key. */
const unsigned char *moa2_jwk_secret(const struct moa2_jwk *jwk,
				     size_t *len_r);
/* Whether this key may verify alg: kty, crv and the key's own alg must fit
   (RS* and PS* RSA, ES256/384/512 EC P-256/384/521, EdDSA OKP Ed25519, HS* oct
   with a secret at least as long as the hash). */
bool moa2_jwk_fits_alg(const struct moa2_jwk *jwk, enum moa2_jose_alg alg);

/* A key set. It holds one reference to each of its keys. */
struct moa2_jwks;

/* Reports a key of a document that was skipped: its position in "keys",
   its kid (NULL if none; valid during the call only) and a static reason. */
typedef void moa2_jwks_skip_callback_t(void *context, size_t index,
				       const char *kid, const char *reason);

struct moa2_jwks *moa2_jwks_new(void);
void moa2_jwks_free(struct moa2_jwks **jwks);
/* Adds a reference to jwk. Returns 0, or -1 if the set is full or ENOMEM. */
int moa2_jwks_add(struct moa2_jwks *jwks, struct moa2_jwk *jwk);
size_t moa2_jwks_count(const struct moa2_jwks *jwks);
/* Borrowed; NULL if idx is out of range. */
struct moa2_jwk *moa2_jwks_get(const struct moa2_jwks *jwks, size_t idx);

/* The first key carrying kid (borrowed), or NULL. */
struct moa2_jwk *moa2_jwks_find_kid(const struct moa2_jwks *jwks,
				    const char *kid);
/* Selects the keys that may verify a token with this alg and kid (kid
   NULL: the token has none). With a kid, the keys carrying it are the
   candidates, or if no key carries it, the keys that have no kid at all
   (PEM keys); without a kid, every key is. Writes up to max_keys candidates that
   fit alg (moa2_jwk_fits_alg) to keys_r, in set order, and their number to
   count_r. Returns MOA2_VERIFY_OK (count >= 1), MOA2_VERIFY_UNKNOWN_KEY
   (no candidate at all: the caller may refetch the set) or
   MOA2_VERIFY_KEY_TYPE_MISMATCH (candidates, none fitting alg). */
enum moa2_verify_reason
moa2_jwks_select(const struct moa2_jwks *jwks, const char *kid,
		 enum moa2_jose_alg alg, const struct moa2_jwk **keys_r,
		 size_t max_keys, size_t *count_r);

/* Parses a JWKS document ({"keys": [...]}). Unusable keys are skipped:
   skipped_r (may be NULL) counts them and skip_cb (may be NULL) is called
   for each. Returns 0 with a set (which may hold no key at all: callers
   check moa2_jwks_count()), or -1 with a static sentence in error_r if the
   data is not JSON or not a JWKS. Never yields an HMAC key. */
int moa2_jwks_parse(const char *data, size_t len, struct moa2_jwks **jwks_r,
		    size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		    void *context, const char **error_r);
int moa2_jwks_parse_json(const struct moa2_json *doc,
			 struct moa2_jwks **jwks_r, size_t *skipped_r,
			 moa2_jwks_skip_callback_t *skip_cb, void *context,
			 const char **error_r);
/* Loads public keys from PEM data: one or several "PUBLIC KEY",
   "RSA PUBLIC KEY" or "CERTIFICATE" blocks. The keys have no kid; EC and
   Ed25519 keys get the alg their curve implies, RSA keys no alg. Fails
   (-1, error_r) on a private key, on no key at all, or on a key that is
   unusable (too small RSA, unsupported curve): a local file is the
   administrator's choice, so nothing in it is skipped silently. */
int moa2_jwks_parse_pem(const char *data, size_t len,
			struct moa2_jwks **jwks_r, const char **error_r);
/* Reads a local key file: a JWKS if its first non-blank character is '{',
   PEM otherwise. Unusable keys of a JWKS are skipped and reported as in
   moa2_jwks_parse(), but a file without any usable key fails. On failure
   error_r points into error_buf (the message names the file). */
int moa2_jwks_load_file(const char *path, struct moa2_jwks **jwks_r,
			size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
			void *context, char *error_buf, size_t error_size,
			const char **error_r);

#endif
