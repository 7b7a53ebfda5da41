/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_IDENTITY_H
#define MOA2_VERIFY_IDENTITY_H

/* Which user a token stands for: the first configured claim that holds a
   usable string, normalised as configured. A user the client asserted
   (XOAUTH2 user=, OAUTHBEARER a=) is normalised the same way and must then
   be equal, byte for byte: user= alone is never trusted. */

#include "mail-oauth2/common.h"
#include "support/json.h"

#define MOA2_IDENTITY_MAX_LEN 512

struct moa2_identity_rules {
	const char *const *claims;       /* NULL-terminated claim names */
	bool lowercase;                  /* ASCII letters only */
	const char *domain_append;       /* "@DOMAIN" added when there is no '@' */
	const char *const *domain_strip; /* NULL-terminated; "@DOMAIN" removed */
};

/* Normalises a user name: strip a listed domain, append the domain when
   there is no '@', lowercase. Returns 0 with a malloc()ed string, or -1
   when the name is empty, too long, not UTF-8 or holds control chars. */
int moa2_identity_normalize(const char *name,
			    const struct moa2_identity_rules *rules,
			    char **identity_r);

/* Finds the identity in claims: the first listed claim present decides.
   Returns 0 with the normalised identity and the claim it came from, or -1
   when no listed claim is present (claim_r NULL) or the first present one
   is not a usable name (claim_r names it). */
int moa2_identity_from_claims(const struct moa2_json *claims,
			      const struct moa2_identity_rules *rules,
			      char **identity_r, const char **claim_r);

/* True if the asserted user, normalised, equals the identity. */
bool moa2_identity_matches(const char *asserted, const char *identity,
			   const struct moa2_identity_rules *rules);

#endif
