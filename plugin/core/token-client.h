#ifndef MOA2_TOKEN_CLIENT_H
#define MOA2_TOKEN_CLIENT_H

/* The outbound token client: gives the SASL client plugin (and the CLI) a
   valid access token for an account, refreshing it when it expires within
   the account's refresh_margin.

   Concurrency: N processes (Postfix smtp) that find the same expired token
   make ONE token request: a process takes the store's exclusive lock,
   re-reads the store, and refreshes only if nobody did meanwhile. A rotated
   refresh token is written to the store before the new access token is
   used; if the write fails the new access token is used anyway (with a
   warning) and the new refresh token is kept in memory for this process's
   next refresh.

   Failure behaviour: every failure is temporary for mail (the host defers,
   never bounces) and comes with one sentence for the admin that says what
   to do ("... run `mail-oauth2 token authorize -c CONF ACCOUNT` ..."). A
   refresh that fails while the current token is still valid (inside the
   margin) keeps using it, with a warning. Tokens, refresh tokens, client
   secrets and assertions never appear in a message; tokens are named by
   their fingerprint. Not thread-safe: one client per process or thread. */

#include "moa2-log.h"
#include "http-client.h"
#include "token-config.h"
#include "token-store.h"

#include <time.h>

struct moa2_token_client;

/* Creates the client: reads the CA bundle into memory (config ca_file, or
   the system bundle), opens each account's store directory and the HTTP
   client. All file system access that a chroot would break happens here.
   An account whose store directory cannot be opened does not fail the
   creation: its error is logged now and returned by moa2_token_get().
   Returns 0, or -1 with a malloc()ed message in error_r. */
int moa2_token_client_create(const struct moa2_token_config *config,
			     const struct moa2_logger *logger,
			     struct moa2_token_client **client_r, char **error_r);
void moa2_token_client_destroy(struct moa2_token_client **client);

/* The clock, for tests (default: time()). */
void moa2_token_client_set_clock(struct moa2_token_client *client,
				 time_t (*now)(void *context), void *context);

/* Where the CA bundle came from ("/etc/ssl/certs/ca-certificates.crt"). */
const char *moa2_token_client_ca_source(const struct moa2_token_client *client);

/* moa2_token_get() flags */
#define MOA2_TOKEN_FORCE_REFRESH 0x1 /* refresh even if the token is fresh */

struct moa2_token {
	char *access_token;   /* secret: moa2_token_clear wipes it */
	int64_t expires_at;
	char fingerprint[MOA2_FINGERPRINT_LEN + 1];
	bool refreshed;       /* obtained from the provider by this call */
};
void moa2_token_clear(struct moa2_token *token);

/* Returns 0 with a valid access token for the account (by name), or -1
   with a malloc()ed message for the admin in error_r. */
int moa2_token_get(struct moa2_token_client *client, const char *account,
		   unsigned int flags, struct moa2_token *token_r,
		   char **error_r);

/* The relay rejected access_token: drop it from the store (only if it is
   still the stored one: another process may have refreshed already), so
   that the next moa2_token_get() fetches a new one. Returns 0, or -1 with
   a malloc()ed message. */
int moa2_token_invalidate(struct moa2_token_client *client, const char *account,
			  const char *access_token, char **error_r);

/* ------------------------------------------------------------ for the CLI */

/* The account's endpoints, from the config or from discovery (fetched on
   first use and kept). The strings live as long as the client. NULL
   members: not known. Returns 0, or -1 with a malloc()ed message. */
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

/* Sends a token request with the given grant fields (grant_type etc.) plus
   client authentication, scope and resource, and parses the reply. */
void moa2_token_client_request(struct moa2_token_client *client,
			       const struct moa2_token_account *account,
			       const struct moa2_http_form_field *fields,
			       size_t count, struct moa2_token_reply *reply_r);

/* Reads the account's store (see moa2_token_store_read). */
enum moa2_store_read
moa2_token_client_read(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       struct moa2_token_state *state_r, char **error_r);

/* Writes tokens obtained by the CLI into the account's store, under the
   lock. Returns 0, or -1 with a malloc()ed message. */
int moa2_token_client_save(struct moa2_token_client *client,
			   const struct moa2_token_account *account,
			   const struct moa2_token_state *state, char **error_r);

/* Tests only: called with every raw token endpoint response (an echo
   server's answer shows the request that was sent). */
typedef void moa2_token_response_hook_t(void *context,
					const struct moa2_http_response *resp);
void moa2_token_client_set_response_hook(struct moa2_token_client *client,
					 moa2_token_response_hook_t *hook,
					 void *context);

/* Token endpoint requests made by this client so far (tests, benchmarks). */
unsigned int moa2_token_client_request_count(const struct moa2_token_client *client);

#endif
