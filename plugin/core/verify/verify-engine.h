/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_ENGINE_H
#define MOA2_VERIFY_ENGINE_H

/* The verification engine's state, shared by its files. They call each
   other downwards only:

     verifier.c         set-up, routing of a token to a strategy
       verify-jwt.c     strategies (verify-strategy.h)
       verify-opaque.c
         verify-claims.c    the claims policy (verify-claims.h)
         verify-provider.c  a provider's keys and discovery (verify-provider.h)
         verify-result.c    the result (verify-result.h)
         verify-identity.c, result-cache.c

   This header holds data only (and the clock): no file below calls back
   into the router. */

#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"
#include "verify/verify-identity.h"

#include <stdint.h>

struct moa2_http_client;
struct moa2_jwks;
struct moa2_oidc_discovery;
struct moa2_remote_doc;
struct moa2_result_cache;

struct moa2_provider {
	struct moa2_verifier *verifier;
	const struct moa2_provider_config *cfg;
	unsigned int index;
	uint32_t alg_mask;
	struct moa2_identity_rules rules;
	char *scope;                  /* required scopes joined by ' ' */

	struct moa2_jwks *local_keys; /* jwks_file and/or hmac_secret */
	struct moa2_oidc_discovery *discovery;
	struct moa2_remote_doc *jwks_doc;
	struct moa2_jwks *jwks;       /* parsed from jwks_doc */
	struct moa2_jwks *jwks_next;  /* parsed by the validator, not yet swapped in */
	char *jwks_uri, *introspection_url, *userinfo_url;
};

struct moa2_verifier {
	const struct moa2_verify_config *cfg;
	struct moa2_logger logger;
	struct moa2_http_client *http;
	struct moa2_provider *providers;
	unsigned int providers_count;
	struct moa2_result_cache *results;
	time_t (*now)(void *context);
	void *now_context;
	bool explain;
	bool host_binding;
};

/* A monotonic clock in microseconds, for durations (0 if there is none). */
static inline unsigned long long
moa2_monotonic_usecs(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (unsigned long long)ts.tv_sec * 1000000ULL +
		(unsigned long long)ts.tv_nsec / 1000ULL;
}

static inline time_t
moa2_verifier_now(const struct moa2_verifier *v)
{
	return v->now(v->now_context);
}

#endif
