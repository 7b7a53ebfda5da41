/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_IDENTITY_H
#define MOA2_VERIFY_IDENTITY_H

/* Which user a token stands for: the first configured claim that holds a
   usable string, normalised as configured. One rule, moa2_identity_normalize(),
   makes both the token's identity (what the host gets) and a user the client
   asserted (XOAUTH2 user=, OAUTHBEARER a=); the asserted user must then
   equal the identity, ASCII case aside (a host may have case-folded it
   already): user= alone is never trusted, and the host always gets the
   token's identity, never the client's spelling of it. So a token gives one
   user whatever the mechanism, with or without an authzid.

   A name that could leave a directory reaches no host: '/', '\', a "." or
   ".." segment (between '/', '\' and '@'), whitespace, control characters
   and NUL are refused (bad_identity); username_allow may allow the space,
   '/' and '\' again, never the rest. Nothing is trimmed silently. */

#include "mail-oauth2/common.h"
#include "support/json.h"

#define MOA2_IDENTITY_MAX_LEN 512

/* username_allow words */
#define MOA2_IDENTITY_ALLOW_SPACE     0x01
#define MOA2_IDENTITY_ALLOW_SLASH     0x02
#define MOA2_IDENTITY_ALLOW_BACKSLASH 0x04

struct moa2_identity_rules {
	const char *const *claims;       /* NULL-terminated claim names */
	bool lowercase;                  /* ASCII letters only */
	const char *domain_append;       /* "@DOMAIN" added when there is no '@' */
	const char *const *domain_strip; /* NULL-terminated; "@DOMAIN" removed */
	unsigned int allow;              /* MOA2_IDENTITY_ALLOW_* */
};

enum moa2_identity_status {
	MOA2_IDENTITY_OK = 0,
	MOA2_IDENTITY_ABSENT,     /* no listed claim, or an empty name: no_identity */
	MOA2_IDENTITY_NOT_STRING, /* the first claim present is not a string: no_identity */
	MOA2_IDENTITY_BAD,        /* a name no host may get: bad_identity */
};

/* Normalises a user name: strip a listed domain, append the domain when
   there is no '@', lowercase; then checks it. Returns MOA2_IDENTITY_OK
   with a malloc()ed string; MOA2_IDENTITY_ABSENT for an empty name;
   MOA2_IDENTITY_BAD (why_r: a static phrase) when it is too long, not
   UTF-8, or holds a character or segment refused above. */
enum moa2_identity_status
moa2_identity_normalize(const char *name, size_t len,
			const struct moa2_identity_rules *rules,
			char **identity_r, const char **why_r);

/* Finds the identity in claims: the first listed claim present decides.
   Returns as moa2_identity_normalize(), claim_r naming the claim (NULL when
   none is present: MOA2_IDENTITY_ABSENT). */
enum moa2_identity_status
moa2_identity_from_claims(const struct moa2_json *claims,
			  const struct moa2_identity_rules *rules,
			  char **identity_r, const char **claim_r,
			  const char **why_r);

/* Whether the asserted user, normalised, equals the identity (ASCII case
   aside). MOA2_IDENTITY_OK: equal; MOA2_IDENTITY_BAD: the asserted name
   itself is refused (why_r); anything else: not equal. */
enum moa2_identity_status
moa2_identity_matches(const char *asserted, const char *identity,
		      const struct moa2_identity_rules *rules, bool *equal_r,
		      const char **why_r);

/* Parses username_allow words (space, slash, backslash) into flags.
   Returns 0, or -1 with the unknown word in bad_r. */
int moa2_identity_allow_parse(const char *const *words, unsigned int count,
			      unsigned int *allow_r, const char **bad_r);

#endif
