/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_STRATEGY_H
#define MOA2_VERIFY_STRATEGY_H

/* The verification strategies the router (verifier.c) hands a token to.
   Each returns with result decided: accepted, rejected or tempfail. */

#include "verify/verify-engine.h"

struct moa2_jws;

/* A parsed JWT routed to p (mode jwt or auto): signature, typ, claims
   (verify-jwt.c). */
void moa2_verify_jwt(struct moa2_provider *p, const struct moa2_jws *jws,
		     const char *asserted_user, struct moa2_verify_result *result);
/* A token routed to p's opaque verifier (introspection, userinfo,
   tokeninfo; a JWT too when p is in one of these modes): ask p, and only
   p, with the result cache (verify-opaque.c). */
void moa2_verify_opaque(struct moa2_provider *p, const char *token, size_t len,
			const char *asserted_user, struct moa2_verify_result *result);

#endif
