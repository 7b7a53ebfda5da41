/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFIER_H
#define MOA2_VERIFIER_H

/* The token verification engine. Every verification ends in exactly one of
   three outcomes, mapped the same way by every host:

     accepted   identity, provider, expiry, exported claims
     rejected   a reason code (verify-reason.h) and a sentence for the admin
     tempfail   the provider or its keys could not be reached

   A provider outage never looks like a wrong password, and a rejected
   token is never retried as if it were an outage. Tokens are never logged
   or stored; logs and results carry their fingerprint.

   Not thread-safe: one verifier per process or thread. */

#include "mail-oauth2/common.h"
#include "mail-oauth2/log.h"
#include "mail-oauth2/verify-reason.h"
#include <time.h>

struct moa2_verify_config;
struct moa2_verifier;

/* Bytes: a longer token is refused (too_large) before anything is parsed. */
#define MOA2_VERIFY_MAX_TOKEN 16384

enum moa2_verify_outcome {
	MOA2_OUTCOME_ACCEPTED,
	MOA2_OUTCOME_REJECTED,
	MOA2_OUTCOME_TEMPFAIL,
};

struct moa2_verify_claim {
	char *name;
	char *value; /* strings as is, numbers/booleans as text, arrays joined by ' ' */
};

struct moa2_verify_result {
	enum moa2_verify_outcome outcome;
	enum moa2_verify_reason reason;    /* MOA2_VERIFY_OK when accepted */
	char detail[512];                  /* what failed and what was expected */
	/* the token's fingerprint: always set for a rejection or a temporary
	   failure, for an acceptance only with debug logging or explain on
	   (it costs a SHA-256 of the token, as much as the rest of the
	   engine's own work) */
	char fingerprint[MOA2_FINGERPRINT_LEN + 1];
	char *identity;                    /* accepted: the normalised user */
	/* the identity the token names, read (normalised) also when the
	   token was rejected, NULL when none could be read: for log lines
	   only (a rejected token's claims may be forged), never a user */
	char *claimed_identity;
	/* with host binding (moa2_verifier_set_host_binding): the user the
	   client asserted, normalised by the provider's rules, for
	   moa2_verify_result_bind_host(); NULL when none was asserted */
	char *asserted_identity;
	/* how long moa2_verify_token() took, in microseconds */
	unsigned long long duration_usecs;
	const char *provider;              /* the provider that judged, or NULL */
	time_t expires_at;                 /* the token's exp, 0 when unknown */
	bool from_cache;                   /* an opaque-token result cache hit */

	/* For the failure challenge: the provider's required scopes and
	   discovery URL (NULL when unknown). Valid while the verifier lives. */
	const char *scope;
	const char *openid_configuration;

	struct moa2_verify_claim *claims;  /* claims_export of the provider */
	unsigned int claims_count;
	bool explain;                      /* set by the verifier: fill checks */
	char checks[1024];                 /* one line per check made, with explain */
};

/* Creates a verifier for a loaded config (which must outlive it).
   Nothing is fetched yet: providers are contacted on first use. Returns 0,
   or -1 with a malloc()ed message in error_r. */
int moa2_verifier_create(const struct moa2_verify_config *config,
			 const struct moa2_logger *logger,
			 struct moa2_verifier **verifier_r, char **error_r);
void moa2_verifier_destroy(struct moa2_verifier **verifier);

/* Fill result.checks with one line per check made (for the CLI; off by
   default: formatting them is not free). */
void moa2_verifier_set_explain(struct moa2_verifier *verifier, bool explain);

/* Host binding, for hosts with user name rules of their own (Dovecot's
   auth_username_chars, auth_username_format, auth_username_translation):
   the verifier normalises the asserted user into result->asserted_identity
   instead of comparing it with the identity, and the host then applies its
   rules to both and calls moa2_verify_result_bind_host(), so the user
   binding compares the names the host will use and the identity becomes
   the host's user by the host's own path. Off by default. */
void moa2_verifier_set_host_binding(struct moa2_verifier *verifier,
				    bool host_binding);
/* The user binding of an accepted result after the host's rules:
   host_identity is result->identity as the host's rules made it, or NULL
   when the host refused it (host_error says why); host_asserted is
   result->asserted_identity as the host's rules made it (NULL when there
   is none, or the host refused it). The result becomes a rejection:
   no_identity when the host refused the identity, user_mismatch when the
   asserted user was refused or differs; else its identity becomes
   host_identity. No-op unless the result is accepted. */
void moa2_verify_result_bind_host(struct moa2_verify_result *result,
				  const char *host_identity,
				  const char *host_asserted,
				  const char *host_error);

/* The clock, for tests (default: time()). */
void moa2_verifier_set_clock(struct moa2_verifier *verifier,
			     time_t (*now)(void *context), void *context);

/* Verifies a bearer token. asserted_user is what the client claimed
   (XOAUTH2 user=, OAUTHBEARER a=) or NULL. Always fills result_r; release
   it with moa2_verify_result_clear(). */
void moa2_verify_token(struct moa2_verifier *verifier, const char *token,
		       size_t token_len, const char *asserted_user,
		       struct moa2_verify_result *result_r);
void moa2_verify_result_clear(struct moa2_verify_result *result);
const char *moa2_verify_outcome_name(enum moa2_verify_outcome outcome);

/* For `mail-oauth2 discover`: fetches discovery and keys of every
   provider now and calls report once per provider with a text block
   (issuer, endpoints, key ids and algorithms, or what failed). Returns 0
   when every provider answered, -1 otherwise. */
typedef void moa2_verifier_report_t(void *context, const char *provider,
				    bool ok, const char *text);
int moa2_verifier_discover(struct moa2_verifier *verifier,
			   moa2_verifier_report_t *report, void *context);

/* HTTP fetches of key sets so far, over all providers (tests, benchmarks). */
unsigned int moa2_verifier_jwks_fetch_count(const struct moa2_verifier *verifier);

#endif
