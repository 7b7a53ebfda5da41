/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_CLIENT_H
#define MOA2_TOKEN_CLIENT_H

/* The outbound token client: gives the SASL client plugin (and the CLI) a
   valid access token for an account, refreshing it when it expires within
   the account's refresh_margin, adapted to the token's lifetime (the
   freshness rule of token-store.h).

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

#include "mail-oauth2/log.h"
#include "mail-oauth2/token-config.h"
#include "mail-oauth2/token-store.h"

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

/* Reads the account's store (see moa2_token_store_read), for `mail-oauth2
   token show`. */
enum moa2_store_read
moa2_token_client_read(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       struct moa2_token_state *state_r, char **error_r);

#endif
