/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_ASSERTION_H
#define MOA2_TOKEN_ASSERTION_H

/* RFC 7523 §2.1 JWT bearer assertions (Google service accounts with
   domain-wide delegation and any provider that implements the grant),
   signed RS256 with a private key read from a PEM file or from a Google
   service-account JSON key file.

   Failure behaviour: a key that is unreadable, readable by group or
   others, not RSA, or under 2048 bits is refused at load time. Signing
   failures return -1 with a reason; the key never appears in a message. */

#include "mail-oauth2/common.h"

#define MOA2_ASSERTION_MIN_RSA_BITS 2048
#define MOA2_ASSERTION_MAX_FILE ((size_t)64 * 1024)

struct moa2_assertion_key;

/* Loads a PEM private key (PKCS#8 or traditional RSA), or a Google
   service-account JSON key file ("type": "service_account", with
   private_key, client_email, private_key_id). Returns 0, or -1 with a
   malloc()ed message in error_r. */
int moa2_assertion_key_load(const char *path, struct moa2_assertion_key **key_r,
			    char **error_r);
/* The same from memory (name is used in messages). */
int moa2_assertion_key_load_mem(const char *name, const char *data, size_t len,
				struct moa2_assertion_key **key_r,
				char **error_r);
void moa2_assertion_key_free(struct moa2_assertion_key **key);

/* From a service-account JSON file: its client_email, private_key_id and
   token_uri; NULL for a PEM file. */
const char *moa2_assertion_key_client_email(const struct moa2_assertion_key *key);
const char *moa2_assertion_key_id(const struct moa2_assertion_key *key);
const char *moa2_assertion_key_token_uri(const struct moa2_assertion_key *key);

struct moa2_assertion_claims {
	const char *issuer;   /* iss, required */
	const char *subject;  /* sub, NULL: omitted */
	const char *audience; /* aud, required (the token endpoint) */
	const char *scope;    /* scope claim (Google), NULL: omitted */
	const char *key_id;   /* kid header, NULL: omitted */
	int64_t issued_at;    /* iat; exp = iat + lifetime */
	unsigned int lifetime;
};

/* Builds and signs the JWT. Returns 0 with a malloc()ed compact JWS in
   jwt_r (a credential: release with moa2_secret_str_free), or -1 with a
   static reason in error_r. */
int moa2_assertion_sign(const struct moa2_assertion_key *key,
			const struct moa2_assertion_claims *claims,
			char **jwt_r, const char **error_r);

#endif
