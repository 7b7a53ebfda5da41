/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_CLIENT_PRIVATE_H
#define MOA2_TOKEN_CLIENT_PRIVATE_H

/* The token client's lower layer: endpoints, raw token requests and the
   store, for the authorization flows (token-authorize.c) and the tests.
   Private to the core: the CLI uses token-authorize.h. */

#include "mail-oauth2/token-client.h"
#include "support/http-client.h"

/* The account's endpoints, from the config or from discovery (fetched on
   first use, kept with the policy of oidc-discovery.h). The strings stay
   valid until the next call for this account. NULL members: not known.
   Returns 0, or -1 with a malloc()ed message. */
struct moa2_token_endpoints {
	const char *token;
	const char *device_authorization;
	const char *authorization;
};
int moa2_token_client_endpoints(struct moa2_token_client *client,
				const struct moa2_token_account *account,
				struct moa2_token_endpoints *endpoints_r,
				char **error_r);

/* POSTs fields to url with the account's client authentication (client_id,
   and client_secret per client_auth) and, when with_scope, its scope and
   resource. resp_r as moa2_http_post_form(). Returns 0 when an HTTP
   response arrived, -1 with a malloc()ed message otherwise. */
int moa2_token_client_post(struct moa2_token_client *client,
			   const struct moa2_token_account *account,
			   const char *url,
			   const struct moa2_http_form_field *fields,
			   size_t count, bool with_scope,
			   struct moa2_http_response *resp_r, char **error_r);

/* A token endpoint reply. */
enum moa2_token_reply_status {
	MOA2_TOKEN_REPLY_OK,          /* state holds the tokens */
	MOA2_TOKEN_REPLY_OAUTH_ERROR, /* error (and description) from the provider */
	MOA2_TOKEN_REPLY_FAILED,      /* no usable answer: message says why */
};
struct moa2_token_reply {
	enum moa2_token_reply_status status;
	struct moa2_token_state state; /* OK: access_token, expires_at, ... */
	char error[64];               /* OAUTH_ERROR: "invalid_grant" */
	char description[256];        /* printable text, may be empty */
	long http_status;
};
void moa2_token_reply_clear(struct moa2_token_reply *reply);

/* Parses a token endpoint response received at now. Never fails: the
   outcome is in reply_r->status (FAILED with a reason in description). */
void moa2_token_parse_reply(const struct moa2_http_response *resp, time_t now,
			    struct moa2_token_reply *reply_r);

/* The outcome of a reply for the store (no secret in it): the error
   code, whether it is temporary (no answer, 5xx, 429,
   temporarily_unavailable, server_error), the HTTP status. */
void moa2_token_reply_outcome(const struct moa2_token_reply *reply, int64_t at,
			      unsigned int duration_ms,
			      struct moa2_token_outcome *outcome_r);

/* Sends a token request with the given grant fields (grant_type etc.) plus
   client authentication, scope and resource, and parses the reply. */
void moa2_token_client_request(struct moa2_token_client *client,
			       const struct moa2_token_account *account,
			       const struct moa2_http_form_field *fields,
			       size_t count, struct moa2_token_reply *reply_r);

/* Writes tokens obtained by an authorization flow (token-authorize.c)
   into the account's store, under the lock. Returns 0, or -1 with a
   malloc()ed message. */
int moa2_token_client_save(struct moa2_token_client *client,
			   const struct moa2_token_account *account,
			   const struct moa2_token_state *state, char **error_r);

/* Tests only: called with every raw response to moa2_token_client_post()
   (token and device authorization endpoints; an echo server's answer
   shows the request that was sent). */
typedef void moa2_token_response_hook_t(void *context,
					const struct moa2_http_response *resp);
void moa2_token_client_set_response_hook(struct moa2_token_client *client,
					 moa2_token_response_hook_t *hook,
					 void *context);

/* Token endpoint requests made by this client so far (tests, benchmarks). */
unsigned int moa2_token_client_request_count(const struct moa2_token_client *client);

#endif
