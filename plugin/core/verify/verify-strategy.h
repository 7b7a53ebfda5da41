/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_STRATEGY_H
#define MOA2_VERIFY_STRATEGY_H

/* The verification strategies the router (verifier.c) hands a token to.
   Each returns with result decided: accepted, rejected or tempfail. */

#include "verify/verify-engine.h"

/* A compact JWS: route by iss, signature, typ, claims (verify-jwt.c). */
void moa2_verify_jwt(struct moa2_verifier *v, const char *token, size_t len,
		     const char *asserted_user, struct moa2_verify_result *result);
/* Anything else: ask the provider, with the result cache (verify-opaque.c). */
void moa2_verify_opaque(struct moa2_verifier *v, const char *token, size_t len,
			const char *asserted_user, struct moa2_verify_result *result);

#endif
