/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_CLIENT_INTERNAL_H
#define MOA2_TOKEN_CLIENT_INTERNAL_H

/* The token client's state, shared by its files (by role):

     token-client.c     set-up, accounts, endpoints (discovery), the store
                        for the CLI
     token-request.c    token endpoint requests, replies, the grants
     token-get.c        a valid access token: the store, the lock, the
                        freshness rule (token-store.h), fallbacks
     token-authorize.c  the first authorization (device, code + PKCE)
     token-check.c      the health of an account's store, for monitoring

   They call downwards in that list's reverse order: check, authorize and
   get use requests, requests use the client; nothing calls back up. */

#include "token/token-client-private.h"

struct moa2_oidc_discovery;

/* Per-account runtime state of this process. */
struct moa2_account_rt {
	const struct moa2_token_account *cfg;
	struct moa2_token_store *store;
	char *open_error;
	/* tokens this process obtained but could not write to the store */
	struct moa2_token_state mem;
	/* the stored refresh token that mem's refresh token superseded */
	char *mem_replaces;
	/* endpoints from discovery, when the config leaves one open */
	struct moa2_oidc_discovery *discovery;
	char token_host[256];  /* of the last token request, for messages */
};

struct moa2_token_client {
	const struct moa2_token_config *config;
	struct moa2_logger logger;
	struct moa2_http_client *http;
	char *ca_source;
	struct moa2_account_rt *accounts;
	unsigned int accounts_count;
	time_t (*now)(void *context);
	void *now_context;
	unsigned int requests;
	moa2_token_response_hook_t *hook;
	void *hook_context;
};

static inline time_t
moa2_token_client_now(const struct moa2_token_client *client)
{
	return client->now(client->now_context);
}

/* Constant-time comparison of two secrets; false when either is NULL. */
bool moa2_token_secret_equal(const char *a, const char *b);
/* The host of a URL, for messages (never the path or query). */
void moa2_token_url_host(const char *url, char *buf, size_t size);

/* Times and durations in messages: "2025-12-03T07:39:32Z" ("unknown"
   for 0), "45 s", "52 min", "5 h", "12 days". */
void moa2_token_format_utc(int64_t when, char *buf, size_t size);
void moa2_token_format_duration(int64_t seconds, char *buf, size_t size);

/* The account by name, or by its config (NULL: not this client's). */
struct moa2_account_rt *moa2_token_account_find(struct moa2_token_client *client,
					   const char *name);
struct moa2_account_rt *moa2_token_account_rt(struct moa2_token_client *client,
					 const struct moa2_token_account *account);

/* The account's endpoints (all: also those of the authorization flows,
   else the token endpoint only), from the config or discovery. Returns 0,
   or -1 with a malloc()ed message. */
int moa2_token_account_endpoints(struct moa2_token_client *client,
				 struct moa2_account_rt *rt, bool all, struct moa2_token_endpoints *ep,
				 char **error_r);

/* The request of the account's configured grant (refresh_token: the one
   to use), and the one sentence for the admin about a failed one. */
void moa2_token_grant_request(struct moa2_token_client *client,
			      struct moa2_account_rt *rt, const char *refresh_token, struct moa2_token_reply *reply);
char *moa2_token_grant_error(const struct moa2_token_client *client,
			     const struct moa2_account_rt *rt,
			     const struct moa2_token_reply *reply);

#endif
