/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_CLAIMS_H
#define MOA2_VERIFY_CLAIMS_H

/* The claims policy shared by the JWT and opaque-token strategies. */

#include "verify/verify-engine.h"

struct moa2_json;

#define CLAIMS_EXP_REQUIRED 0x01 /* JWT: exp must be present */
#define CLAIMS_ISS_REQUIRED 0x02 /* JWT: iss must be present */
#define CLAIMS_NO_AUDIENCE  0x04 /* userinfo: no audience to check */
#define CLAIMS_AZP_AUDIENCE 0x08 /* tokeninfo: azp counts as audience */

/* Checks claims against the provider's policy; on success sets the
   identity, expiry and exported claims of result. Returns 0 or -1 (result
   rejected). */
int moa2_verify_claims(const struct moa2_provider *p, const struct moa2_json *claims,
		       unsigned int flags, const char *asserted_user,
		       struct moa2_verify_result *result);

/* User binding (see verify-identity.h): 0 when no user was asserted or it
   equals identity; -1 with result rejected (user_mismatch, bad_identity).
   With host binding the asserted user is only normalised into
   result->asserted_identity (the host compares after its own rules). */
int moa2_verify_bind_user(const struct moa2_provider *p, const char *asserted_user,
			  const char *identity, struct moa2_verify_result *result);
/* Sets result->claimed_identity from claims (unverified: for log lines),
   unless it is set already or no identity can be read. */
void moa2_verify_read_identity(const struct moa2_provider *p,
			       const struct moa2_json *claims,
			       struct moa2_verify_result *result);

#endif
