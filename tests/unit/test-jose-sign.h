/* SPDX-License-Identifier: MIT */
#ifndef TEST_JOSE_SIGN_H
#define TEST_JOSE_SIGN_H

/* A tiny test-side JWS signer, independent of the core's verifier (its own
   algorithm table, OpenSSL EVP_DigestSign / EVP_Q_mac). Used by the JOSE
   unit tests, later verifier tests and the benchmark. Every function
   returns malloc()ed memory (free()) or a new EVP_PKEY (EVP_PKEY_free()),
   and NULL on failure. */

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>

EVP_PKEY *test_jose_keygen_rsa(unsigned int bits);
/* crv: "P-256", "P-384" or "P-521" */
EVP_PKEY *test_jose_keygen_ec(const char *crv);
EVP_PKEY *test_jose_keygen_ed25519(void);

/* The public JWK of pkey as a JSON object; kid and alg may be NULL. */
char *test_jose_public_jwk(EVP_PKEY *pkey, const char *kid, const char *alg);
/* {"keys":[jwk, ...]} from a NULL-terminated list of JWK objects. */
char *test_jose_jwks(const char *const *jwks);
/* The SubjectPublicKeyInfo PEM of pkey. */
char *test_jose_public_pem(EVP_PKEY *pkey);

/* The raw JWS signature of data: RS*, PS* (salt = hash length), ES*
   (R||S, or DER when der is true), EdDSA with pkey; HS* with secret. */
int test_jose_raw_sign(const char *alg, EVP_PKEY *pkey,
		       const void *secret, size_t secret_len, bool der,
		       const void *data, size_t len,
		       unsigned char **sig_r, size_t *sig_len_r);

/* Assembles BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(sig)
   from the exact bytes given. */
char *test_jose_compact(const char *header_json, const void *payload,
			size_t payload_len, const void *sig, size_t sig_len);

/* Signs header_json + payload with alg and returns the compact token.
   The header is used verbatim (it should carry the same alg). */
char *test_jose_sign(const char *alg, EVP_PKEY *pkey, const char *header_json,
		     const char *payload);
char *test_jose_sign_hmac(const char *alg, const void *secret, size_t len,
			  const char *header_json, const char *payload);
/* ES* with a DER-encoded signature instead of R||S (a negative case). */
char *test_jose_sign_der(const char *alg, EVP_PKEY *pkey,
			 const char *header_json, const char *payload);

#endif
