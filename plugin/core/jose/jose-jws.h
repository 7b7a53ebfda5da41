/* SPDX-License-Identifier: MIT */
#ifndef MOA2_JOSE_JWS_H
#define MOA2_JOSE_JWS_H

/* Compact JWS (RFC 7515) parsing and signature verification, with the
   RFC 8725 rules: the caller's allow-list decides the algorithm, "none" is
   never accepted, the key must fit the algorithm (kty, crv, the key's own
   alg), keys are never taken from the token (jku, x5u, jwk, x5c are
   ignored), unknown crit parameters are refused, ECDSA signatures are raw
   R||S of the exact size.

   Failure behaviour: every function returns exactly one enum
   moa2_verify_reason; anything but MOA2_VERIFY_OK is a rejection. Claims
   (exp, aud, iss...) are the verifier's job, not this layer's. */

#include "mail-oauth2/common.h"
#include "support/json.h"
#include "jose/jose-jwk.h"
#include "mail-oauth2/verify-reason.h"

/* Tokens longer than this are refused before any decoding. */
#define MOA2_JWS_MAX_LEN 16384
/* Without a kid, at most this many keys fitting the alg are tried. */
#define MOA2_JWS_MAX_KEY_TRIES 8

/* moa2_jws_parse() flag: the payload must be a JSON object (a JWT); it is
   then parsed and available from moa2_jws_payload(). */
#define MOA2_JWS_FLAG_JWT 0x01

struct moa2_jws;

/* Parses a compact JWS: exactly two dots, strict base64url parts, a header
   that is a JSON object with a string "alg" naming a supported algorithm
   (else alg_not_allowed), optional string "kid"/"typ", no "crit" member
   this layer does not understand (unsupported_crit). Returns
   MOA2_VERIFY_OK and the token in jws_r, or malformed, too_large,
   alg_not_allowed or unsupported_crit with a static detail in error_r.
   The token is copied: it need not outlive the result. */
enum moa2_verify_reason
moa2_jws_parse(const char *token, size_t len, unsigned int flags,
	       struct moa2_jws **jws_r, const char **error_r);
void moa2_jws_free(struct moa2_jws **jws);

enum moa2_jose_alg moa2_jws_alg(const struct moa2_jws *jws);
const char *moa2_jws_kid(const struct moa2_jws *jws);	/* NULL if none */
const char *moa2_jws_typ(const struct moa2_jws *jws);	/* NULL if none */
/* The protected header (a JSON object); lives as long as jws. */
const struct moa2_json *moa2_jws_header(const struct moa2_jws *jws);
/* The payload as a JSON object, with MOA2_JWS_FLAG_JWT; NULL otherwise. */
const struct moa2_json *moa2_jws_payload(const struct moa2_jws *jws);
/* The decoded payload bytes (NUL-terminated for convenience; len_r
   excludes the NUL). */
const unsigned char *moa2_jws_payload_raw(const struct moa2_jws *jws,
					  size_t *len_r);
/* The decoded signature bytes. */
const unsigned char *moa2_jws_signature(const struct moa2_jws *jws,
					size_t *len_r);
/* The JWS signing input (ASCII "header.payload", not NUL-terminated). */
const char *moa2_jws_signing_input(const struct moa2_jws *jws, size_t *len_r);

/* Verifies the signature with one key: MOA2_VERIFY_OK,
   MOA2_VERIFY_KEY_TYPE_MISMATCH (the key does not fit the token's alg) or
   MOA2_VERIFY_BAD_SIGNATURE. No allow-list check: use moa2_jws_verify(). */
enum moa2_verify_reason
moa2_jws_verify_with_key(const struct moa2_jws *jws,
			 const struct moa2_jwk *key);

/* Verifies the token against a key set. allowed_algs is a mask of
   MOA2_JOSE_ALG_BIT(); an alg outside it is alg_not_allowed. With a kid,
   only keys carrying that kid are used (none: unknown_key, which the
   verifier may answer with a refetch); without, at most
   MOA2_JWS_MAX_KEY_TRIES keys that fit the alg are tried. Keys that do not
   fit the alg give key_type_mismatch. key_r (may be NULL) receives the
   key that verified. error_r gets a static detail on failure. */
enum moa2_verify_reason
moa2_jws_verify(const struct moa2_jws *jws, const struct moa2_jwks *keys,
		uint32_t allowed_algs, const struct moa2_jwk **key_r,
		const char **error_r);

/* moa2_jws_parse() then moa2_jws_verify(). On MOA2_VERIFY_OK, jws_r (if
   not NULL) receives the token, which the caller frees; on failure it is
   set to NULL. */
enum moa2_verify_reason
moa2_jws_verify_compact(const char *token, size_t len, unsigned int flags,
			const struct moa2_jwks *keys, uint32_t allowed_algs,
			struct moa2_jws **jws_r, const char **error_r);

#endif
