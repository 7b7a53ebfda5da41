#ifndef MOA2_VERIFIER_PRIVATE_H
#define MOA2_VERIFIER_PRIVATE_H

/* Shared by verifier.c (set-up, routing), verify-jwt.c, verify-opaque.c
   and verify-claims.c. */

#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"
#include "verify/verify-identity.h"
#include "jose/jose-jwk.h"
#include "support/json.h"

struct moa2_http_client;
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
	struct moa2_remote_doc *discovery;
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
};

/* Claims checks shared by JWT and opaque modes. */
#define CLAIMS_EXP_REQUIRED 0x01 /* JWT: exp must be present */
#define CLAIMS_ISS_REQUIRED 0x02 /* JWT: iss must be present */
#define CLAIMS_NO_AUDIENCE  0x04 /* userinfo: no audience to check */
#define CLAIMS_AZP_AUDIENCE 0x08 /* tokeninfo: azp counts as audience */

void moa2_result_reject(struct moa2_verify_result *result,
		   enum moa2_verify_reason reason, const char *fmt, ...)
	MOA2_ATTR_FORMAT(3, 4);
void moa2_result_tempfail(struct moa2_verify_result *result, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);
void moa2_result_check(struct moa2_verify_result *result, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);
/* Copies a claim from an untrusted token for a message: moa2_printable ASCII
   only, truncated. */
const char *moa2_printable(const char *str, char *buf, size_t size);

/* Checks claims against the provider's policy; on success sets the
   identity, expiry and exported claims of result. Returns 0 or -1 (result
   rejected). */
int moa2_verify_claims(const struct moa2_provider *p, const struct moa2_json *claims,
		  unsigned int flags, const char *asserted_user,
		  struct moa2_verify_result *result);

time_t moa2_verifier_now(const struct moa2_verifier *v);

/* The provider's key sets, fetching as needed. Returns 0, or -1 when no
   usable key set exists (a temporary failure). */
int moa2_provider_keys(struct moa2_provider *p, bool refresh,
		  const struct moa2_jwks **remote_r, const char **error_r);
/* Resolves endpoints from discovery when configured; refresh fetches now
   (subject to the retry interval). 0 or -1 (tempfail). */
int moa2_provider_discover(struct moa2_provider *p, bool refresh, const char **error_r);

void moa2_verify_jwt(struct moa2_verifier *v, const char *token, size_t len,
		const char *asserted_user, struct moa2_verify_result *result);
void moa2_verify_opaque(struct moa2_verifier *v, const char *token, size_t len,
		   const char *asserted_user, struct moa2_verify_result *result);

#endif
