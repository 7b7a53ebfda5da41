/* SPDX-License-Identifier: MIT */
/* A valid access token for an account (moa2_token_get) and dropping a
   rejected one (moa2_token_invalidate). Failure behaviour: every failure
   is a temporary one with a sentence for the admin; a refresh that fails
   while the current token is still usable (token-store.h) keeps using it;
   the store is only written under its lock, and tokens whose write failed
   are kept in this process's memory. The outcome of every token request
   is written to the store (a failed write of a failure's outcome is no
   further failure). A successful request is logged at info, once. */

#include "config.h"
#include "token/token-client-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------- get */

static void
token_from_state(struct moa2_token *token, const struct moa2_token_state *state,
		 bool refreshed)
{
	memset(token, 0, sizeof(*token));
	token->access_token = moa2_strdup(state->access_token);
	token->expires_at = state->expires_at;
	token->refreshed = refreshed;
	moa2_token_fingerprint(state->access_token, strlen(state->access_token),
			       token->fingerprint);
}

/* The tokens this process holds in memory (their store write failed)
   replace the store's while the store still has what they superseded, or
   when the store could not be read at all. */
static void
merge_mem(struct moa2_account_rt *rt, struct moa2_token_state *state, bool from_store)
{
	bool use;

	if (rt->mem.access_token == NULL && rt->mem.refresh_token == NULL)
		return;
	if (!from_store)
		use = true;
	else if (rt->mem_replaces != NULL)
		use = moa2_token_secret_equal(state->refresh_token, rt->mem_replaces) ||
			(state->refresh_token == NULL && rt->mem_replaces[0] == '\0');
	else
		use = rt->mem.expires_at > state->expires_at;
	if (use) {
		moa2_token_state_clear(state);
		moa2_token_state_copy(state, &rt->mem);
	} else if (rt->mem_replaces != NULL) {
		/* somebody wrote a newer store: ours is history */
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
	}
}

/* Reads the store into state. Returns 0 (state may be empty: missing or
   corrupt store), or -1 with error_r when the store cannot be used. */
static int
read_state(struct moa2_token_client *client, struct moa2_account_rt *rt,
	   struct moa2_token_state *state, char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	enum moa2_store_read result;
	char *error = NULL;

	switch ((result = moa2_token_store_read(rt->store, state, &error))) {
	case MOA2_STORE_READ_OK:
		break;
	case MOA2_STORE_READ_MISSING:
		if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN &&
		    rt->mem.refresh_token == NULL) {
			*error_r = moa2_strdup_printf("account %s: no token store %s yet: run "
						      "`mail-oauth2 token authorize -c %s %s` "
						      "once to authorize this account", a->name,
						      a->token_file, client->config->file, a->name);
			return -1;
		}
		break;
	case MOA2_STORE_READ_CORRUPT:
		if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN &&
		    rt->mem.refresh_token == NULL) {
			*error_r = moa2_strdup_printf("account %s: %s; run `mail-oauth2 token "
						      "authorize -c %s %s` to start over", a->name,
						      error, client->config->file, a->name);
			free(error);
			return -1;
		}
		/* a new token replaces it; the copy is kept */
		moa2_log(&client->logger, MOA2_LOG_WARNING, "account %s: %s", a->name, error);
		free(error);
		break;
	default:
		if (rt->mem.access_token == NULL) {
			*error_r = moa2_strdup_printf("account %s: %s", a->name, error);
			free(error);
			return -1;
		}
		moa2_log(&client->logger, MOA2_LOG_WARNING, "account %s: %s; using the "
			 "tokens held in memory", a->name, error);
		free(error);
		break;
	}
	merge_mem(rt, state, result == MOA2_STORE_READ_OK);
	return 0;
}

/* Stores the grant's result; on a failed write keeps it in memory. */
static void
save_new_state(struct moa2_token_client *client, struct moa2_account_rt *rt,
	       const struct moa2_token_state *old, struct moa2_token_state *new_state)
{
	const struct moa2_token_account *a = rt->cfg;
	bool rotated;
	char *error = NULL;

	moa2_token_state_set(&new_state->account, a->name);
	if (new_state->refresh_token == NULL && old->refresh_token != NULL) {
		new_state->refresh_token = moa2_strdup(old->refresh_token);
		new_state->refresh_token_at = old->refresh_token_at;
		new_state->refresh_token_expires_at = old->refresh_token_expires_at;
	} else if (new_state->refresh_token_expires_at == 0 &&
		   moa2_token_secret_equal(new_state->refresh_token, old->refresh_token)) {
		/* the same refresh token sent again: what was known of it stays */
		new_state->refresh_token_at = old->refresh_token_at;
		new_state->refresh_token_expires_at = old->refresh_token_expires_at;
	}
	rotated = new_state->refresh_token != NULL &&
		!moa2_token_secret_equal(new_state->refresh_token, old->refresh_token);
	if (moa2_token_store_write(rt->store, new_state, &error) == 0) {
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
		return;
	}
	moa2_log(&client->logger, MOA2_LOG_WARNING, "account %s: %s; the new access "
		 "token is used anyway%s", a->name, error, rotated ?
		 " and the new refresh token is kept in this process's memory only: "
		 "other processes still use the old one, which a provider that "
		 "rotates refresh tokens will refuse - make the store writable" : "");
	free(error);
	if (rotated && rt->mem_replaces == NULL)
		rt->mem_replaces = moa2_strdup(old->refresh_token != NULL ?
					       old->refresh_token : "");
	moa2_token_state_clear(&rt->mem);
	moa2_token_state_copy(&rt->mem, new_state);
}

/* A failed request's outcome goes into the store (with the tokens as they
   are), for `mail-oauth2 token check`; a store that cannot be written
   keeps the old outcome: the failure itself has its message already. */
static void
save_failure(struct moa2_token_client *client, struct moa2_account_rt *rt,
	     const struct moa2_token_state *state, const struct moa2_token_outcome *outcome)
{
	struct moa2_token_state copy;
	char *error = NULL;

	moa2_token_state_copy(&copy, state);
	moa2_token_state_set(&copy.account, rt->cfg->name);
	moa2_token_outcome_clear(&copy.last);
	moa2_token_outcome_copy(&copy.last, outcome);
	copy.updated_at = outcome->at;
	if (moa2_token_store_write(rt->store, &copy, &error) == 0) {
		/* what memory held (merged into state) is in the store now */
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
	} else {
		moa2_log(&client->logger, MOA2_LOG_DEBUG, "account %s: the outcome of "
			 "the token request is not recorded: %s", rt->cfg->name, error);
		free(error);
	}
	moa2_token_state_clear(&copy);
}

/* The one info line of a successful token request: account, grant, the
   new expiry, whether the refresh token was rotated, the duration. */
static void
log_request(struct moa2_token_client *client, const struct moa2_account_rt *rt,
	    const struct moa2_token_state *old, const struct moa2_token_state *new_state,
	    const struct moa2_token *token)
{
	const struct moa2_token_account *a = rt->cfg;
	char until[32], rt_until[32], refresh[96] = "";

	moa2_token_format_utc(new_state->expires_at, until, sizeof(until));
	if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN || new_state->refresh_token != NULL) {
		moa2_token_format_utc(new_state->refresh_token_expires_at, rt_until, sizeof(rt_until));
		snprintf(refresh, sizeof(refresh), "; refresh token %s%s%s",
			 old->refresh_token == NULL ? "received" :
			 !moa2_token_secret_equal(new_state->refresh_token, old->refresh_token) ?
			 "rotated" : "kept",
			 new_state->refresh_token_expires_at > 0 ? ", valid until " : "",
			 new_state->refresh_token_expires_at > 0 ? rt_until : "");
	}
	moa2_log(&client->logger, MOA2_LOG_INFO, "account %s: token request (grant %s) "
		 "to %s took %u ms: access token sha256:%s valid for %lld s, until %s%s",
		 a->name, moa2_token_grant_name(a->grant), rt->token_host,
		 new_state->last.duration_ms, token->fingerprint,
		 (long long)(new_state->expires_at - new_state->last.at), until, refresh);
}

static unsigned int
elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - start->tv_sec) * 1000 +
		(now.tv_nsec - start->tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX : (unsigned int)ms;
}

/* Runs the grant under the lock and saves the result, and the outcome. */
static int
refresh_locked(struct moa2_token_client *client, struct moa2_account_rt *rt,
	       struct moa2_token_state *state, struct moa2_token *token_r,
	       char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	struct moa2_token_outcome outcome;
	struct moa2_token_reply reply;
	struct timespec start;
	int64_t now;

	if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN && state->refresh_token == NULL) {
		*error_r = moa2_strdup_printf("account %s: the token store %s holds no refresh "
					      "token: run `mail-oauth2 token authorize -c %s %s`",
					      a->name, a->token_file, client->config->file, a->name);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	moa2_token_grant_request(client, rt, state->refresh_token, &reply);
	now = (int64_t)moa2_token_client_now(client);
	moa2_token_reply_outcome(&reply, now, elapsed_ms(&start), &outcome);
	if (reply.status != MOA2_TOKEN_REPLY_OK) {
		*error_r = moa2_token_grant_error(client, rt, &reply);
		save_failure(client, rt, state, &outcome);
		moa2_token_outcome_clear(&outcome);
		moa2_token_reply_clear(&reply);
		return -1;
	}
	moa2_token_outcome_clear(&reply.state.last);
	reply.state.last = outcome; /* moved */
	reply.state.last_ok_at = now;
	save_new_state(client, rt, state, &reply.state);
	token_from_state(token_r, &reply.state, true);
	log_request(client, rt, state, &reply.state, token_r);
	moa2_token_reply_clear(&reply);
	return 0;
}

/* A failed refresh while the current token is still valid: keep using it. */
static int
fallback_current(struct moa2_token_client *client, const struct moa2_account_rt *rt,
		 const struct moa2_token_state *state, struct moa2_token *token_r,
		 char **error_r)
{
	time_t now = moa2_token_client_now(client);

	if (moa2_token_freshness(state, now, rt->cfg->refresh_margin) == MOA2_TOKEN_UNUSABLE)
		return -1;
	moa2_log(&client->logger, MOA2_LOG_WARNING, "%s; the current access token "
		 "is still valid for %lld s and is used meanwhile", *error_r,
		 (long long)(state->expires_at - (int64_t)now));
	free(*error_r);
	*error_r = NULL;
	token_from_state(token_r, state, false);
	return 0;
}

static int
get_locked(struct moa2_token_client *client, struct moa2_account_rt *rt,
	   unsigned int flags, struct moa2_token *token_r, char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	struct moa2_token_state state;
	int ret;

	/* another process may have refreshed while we waited for the lock */
	if (read_state(client, rt, &state, error_r) < 0)
		return -1;
	if ((flags & MOA2_TOKEN_FORCE_REFRESH) == 0 &&
	    !moa2_token_needs_refresh(&state, moa2_token_client_now(client),
				      a->refresh_margin)) {
		moa2_log(&client->logger, MOA2_LOG_DEBUG, "account %s: refreshed by "
			 "another process meanwhile", a->name);
		token_from_state(token_r, &state, false);
		moa2_token_state_clear(&state);
		return 0;
	}
	ret = refresh_locked(client, rt, &state, token_r, error_r);
	if (ret < 0 && (flags & MOA2_TOKEN_FORCE_REFRESH) == 0)
		ret = fallback_current(client, rt, &state, token_r, error_r);
	moa2_token_state_clear(&state);
	return ret;
}

int
moa2_token_get(struct moa2_token_client *client, const char *account,
	       unsigned int flags, struct moa2_token *token_r, char **error_r)
{
	struct moa2_account_rt *rt = moa2_token_account_find(client, account);
	struct moa2_token_state state;
	char *error = NULL;
	int ret;

	memset(token_r, 0, sizeof(*token_r));
	if (rt == NULL) {
		*error_r = moa2_strdup_printf("no [account %s] in %s", account, client->config->file);
		return -1;
	}
	if (client->config->without_secrets) {
		*error_r = moa2_strdup_printf("account %s: %s was loaded without its secrets "
					      "(for token check): no token request",
					      account, client->config->file);
		return -1;
	}
	if (rt->open_error != NULL) {
		*error_r = moa2_strdup(rt->open_error);
		return -1;
	}
	/* the common case: a fresh token in the store, no lock needed */
	if (read_state(client, rt, &state, error_r) < 0)
		return -1;
	if ((flags & MOA2_TOKEN_FORCE_REFRESH) == 0 &&
	    !moa2_token_needs_refresh(&state, moa2_token_client_now(client),
				      rt->cfg->refresh_margin)) {
		token_from_state(token_r, &state, false);
		moa2_token_state_clear(&state);
		return 0;
	}
	switch (moa2_token_store_lock(rt->store, client->config->lock_timeout * 1000u,
				      &error)) {
	case MOA2_STORE_LOCK_FAILED:
		*error_r = moa2_strdup_printf("account %s: %s; mail stays queued and is "
					      "retried", rt->cfg->name, error);
		free(error);
		ret = fallback_current(client, rt, &state, token_r, error_r);
		moa2_token_state_clear(&state);
		return ret;
	case MOA2_STORE_LOCKED_DIR:
		moa2_log(&client->logger, MOA2_LOG_DEBUG, "account %s: the lock file "
			 "beside %s cannot be created: locking its directory",
			 rt->cfg->name, rt->cfg->token_file);
		break;
	case MOA2_STORE_LOCKED:
		break;
	}
	moa2_token_state_clear(&state);
	ret = get_locked(client, rt, flags, token_r, error_r);
	moa2_token_store_unlock(rt->store);
	return ret;
}

/* ------------------------------------------------------------ invalidate */

int
moa2_token_invalidate(struct moa2_token_client *client, const char *account,
		      const char *access_token, char **error_r)
{
	struct moa2_account_rt *rt = moa2_token_account_find(client, account);
	struct moa2_token_state state;
	char fp[MOA2_FINGERPRINT_LEN + 1], *error = NULL;
	int ret = 0;

	if (rt == NULL || rt->open_error != NULL) {
		*error_r = rt == NULL ? moa2_strdup_printf("no [account %s] in %s", account,
							   client->config->file) :
			moa2_strdup(rt->open_error);
		return -1;
	}
	moa2_token_fingerprint(access_token, strlen(access_token), fp);
	if (moa2_token_secret_equal(rt->mem.access_token, access_token)) {
		moa2_secret_str_free(&rt->mem.access_token);
		rt->mem.expires_at = 0;
		rt->mem.access_token_at = 0;
	}
	if (moa2_token_store_lock(rt->store, client->config->lock_timeout * 1000u,
				  &error) == MOA2_STORE_LOCK_FAILED) {
		*error_r = moa2_strdup_printf("account %s: cannot drop the rejected token %s: %s",
					      account, fp, error);
		free(error);
		return -1;
	}
	if (moa2_token_store_read(rt->store, &state, &error) == MOA2_STORE_READ_OK &&
	    moa2_token_secret_equal(state.access_token, access_token)) {
		moa2_secret_str_free(&state.access_token);
		state.expires_at = 0;
		state.access_token_at = 0;
		state.updated_at = (int64_t)moa2_token_client_now(client);
		if (moa2_token_store_write(rt->store, &state, &error) < 0) {
			*error_r = moa2_strdup_printf("account %s: cannot drop the rejected token "
						      "%s: %s", account, fp, error);
			ret = -1;
		} else {
			moa2_log(&client->logger, MOA2_LOG_INFO, "account %s: dropped the "
				 "rejected access token %s from the store", account, fp);
		}
	}
	free(error);
	moa2_token_state_clear(&state);
	moa2_token_store_unlock(rt->store);
	return ret;
}
