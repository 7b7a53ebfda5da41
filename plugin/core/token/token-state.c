/* SPDX-License-Identifier: MIT */
/* The token store's content (see token-store.h): the state, its JSON
   form, and the freshness rule of a stored access token. Failure
   behaviour: a store text that does not parse is refused with a static
   reason (the store keeps a copy of it); nothing here touches a file. */

#include "config.h"
#include "mail-oauth2/token-store.h"

#include "support/buf.h"
#include "support/json.h"

#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- state */

void
moa2_token_state_set(char **field, const char *value)
{
	char *copy = moa2_strdup(value);

	moa2_secret_str_free(field);
	*field = copy;
}

void
moa2_token_outcome_clear(struct moa2_token_outcome *outcome)
{
	free(outcome->error);
	free(outcome->description);
	memset(outcome, 0, sizeof(*outcome));
}

void
moa2_token_outcome_copy(struct moa2_token_outcome *dest,
			const struct moa2_token_outcome *src)
{
	*dest = *src;
	dest->error = moa2_strdup(src->error);
	dest->description = moa2_strdup(src->description);
}

void
moa2_token_state_clear(struct moa2_token_state *state)
{
	moa2_secret_str_free(&state->account);
	moa2_secret_str_free(&state->token_type);
	moa2_secret_str_free(&state->access_token);
	moa2_secret_str_free(&state->scope);
	moa2_secret_str_free(&state->refresh_token);
	moa2_token_outcome_clear(&state->last);
	memset(state, 0, sizeof(*state));
}

void
moa2_token_state_copy(struct moa2_token_state *dest,
		      const struct moa2_token_state *src)
{
	memset(dest, 0, sizeof(*dest));
	dest->account = moa2_strdup(src->account);
	dest->token_type = moa2_strdup(src->token_type);
	dest->access_token = moa2_strdup(src->access_token);
	dest->expires_at = src->expires_at;
	dest->access_token_at = src->access_token_at;
	dest->scope = moa2_strdup(src->scope);
	dest->refresh_token = moa2_strdup(src->refresh_token);
	dest->refresh_token_at = src->refresh_token_at;
	dest->refresh_token_expires_at = src->refresh_token_expires_at;
	moa2_token_outcome_copy(&dest->last, &src->last);
	dest->last_ok_at = src->last_ok_at;
	dest->updated_at = src->updated_at;
}

unsigned int
moa2_token_margin(const struct moa2_token_state *state, unsigned int refresh_margin)
{
	int64_t lifetime = state->expires_at - state->access_token_at;
	int64_t share;

	if (state->access_token_at <= 0 || lifetime <= 0)
		return refresh_margin; /* a store from before access_token_at */
	share = lifetime / MOA2_TOKEN_MARGIN_SHARE;
	if (share < MOA2_TOKEN_MIN_REMAINING)
		share = MOA2_TOKEN_MIN_REMAINING;
	return share < (int64_t)refresh_margin ? (unsigned int)share : refresh_margin;
}

enum moa2_token_freshness
moa2_token_freshness(const struct moa2_token_state *state, time_t now,
		     unsigned int refresh_margin)
{
	int64_t left;

	if (state->access_token == NULL || state->expires_at <= 0)
		return MOA2_TOKEN_UNUSABLE;
	left = state->expires_at - (int64_t)now;
	if (left > (int64_t)moa2_token_margin(state, refresh_margin))
		return MOA2_TOKEN_FRESH;
	return left > MOA2_TOKEN_MIN_REMAINING ? MOA2_TOKEN_DUE : MOA2_TOKEN_UNUSABLE;
}

bool
moa2_token_needs_refresh(const struct moa2_token_state *state, time_t now,
			 unsigned int margin)
{
	return moa2_token_freshness(state, now, margin) != MOA2_TOKEN_FRESH;
}

static void
json_member_bool(struct moa2_buf *buf, bool *first, const char *key, bool value)
{
	moa2_buf_append_str(buf, *first ? "" : ",");
	moa2_buf_json_string(buf, key);
	moa2_buf_append_str(buf, value ? ":true" : ":false");
	*first = false;
}

static void
outcome_to_json(struct moa2_buf *buf, bool *first, const struct moa2_token_outcome *o)
{
	bool inner = true;

	if (o->at <= 0)
		return;
	moa2_buf_append_str(buf, *first ? "" : ",");
	moa2_buf_append_str(buf, "\"last_request\":{");
	moa2_buf_json_member_int(buf, &inner, "at", o->at);
	json_member_bool(buf, &inner, "ok", o->ok);
	if (!o->ok) {
		json_member_bool(buf, &inner, "temporary", o->temporary);
		moa2_buf_json_member_str(buf, &inner, "error", o->error);
		moa2_buf_json_member_int(buf, &inner, "http_status", o->http_status);
		moa2_buf_json_member_str(buf, &inner, "description", o->description);
	}
	moa2_buf_json_member_int(buf, &inner, "duration_ms", o->duration_ms);
	moa2_buf_append_str(buf, "}");
	*first = false;
}

char *
moa2_token_state_to_json(const struct moa2_token_state *state, size_t *len_r)
{
	struct moa2_buf buf;
	bool first = true;

	moa2_buf_init(&buf);
	moa2_buf_append_str(&buf, "{");
	moa2_buf_json_member_int(&buf, &first, "version", MOA2_TOKEN_STORE_VERSION);
	moa2_buf_json_member_str(&buf, &first, "account", state->account);
	moa2_buf_json_member_str(&buf, &first, "token_type", state->token_type);
	moa2_buf_json_member_str(&buf, &first, "access_token", state->access_token);
	if (state->access_token != NULL)
		moa2_buf_json_member_int(&buf, &first, "expires_at", state->expires_at);
	if (state->access_token != NULL && state->access_token_at > 0)
		moa2_buf_json_member_int(&buf, &first, "access_token_at",
					 state->access_token_at);
	moa2_buf_json_member_str(&buf, &first, "scope", state->scope);
	moa2_buf_json_member_str(&buf, &first, "refresh_token", state->refresh_token);
	if (state->refresh_token != NULL)
		moa2_buf_json_member_int(&buf, &first, "refresh_token_at",
					 state->refresh_token_at);
	if (state->refresh_token != NULL && state->refresh_token_expires_at > 0)
		moa2_buf_json_member_int(&buf, &first, "refresh_token_expires_at",
					 state->refresh_token_expires_at);
	outcome_to_json(&buf, &first, &state->last);
	if (state->last_ok_at > 0)
		moa2_buf_json_member_int(&buf, &first, "last_ok_at", state->last_ok_at);
	moa2_buf_json_member_int(&buf, &first, "updated_at", state->updated_at);
	moa2_buf_append_str(&buf, "}\n");
	return moa2_buf_steal(&buf, len_r);
}

/* 1 and a copy, 0 absent (or null), -1 another type */
static int
json_copy_string(const struct moa2_json *doc, const char *key, char **value_r)
{
	const struct moa2_json *value;
	const char *str;
	int ret = moa2_json_get_string(doc, key, &str);

	if (ret > 0) {
		*value_r = moa2_strdup(str);
		return 1;
	}
	if (ret < 0 && moa2_json_get(doc, key, &value) > 0 &&
	    moa2_json_scalar_text(value) == NULL && !moa2_json_is_object(value) &&
	    !moa2_json_is_array(value))
		return 0; /* null */
	return ret;
}

static int
json_get_time(const struct moa2_json *doc, const char *key, int64_t *value_r)
{
	int ret = moa2_json_get_int64(doc, key, value_r);

	if (ret == 0)
		*value_r = 0;
	return ret < 0 ? -1 : 0;
}

static int
json_get_flag(const struct moa2_json *doc, const char *key, bool *value_r)
{
	int ret = moa2_json_get_bool(doc, key, value_r);

	if (ret == 0)
		*value_r = false;
	return ret < 0 ? -1 : 0;
}

/* The last_request object; absent in older stores. 0, or -1 with a
   static reason. */
static int
outcome_from_json(const struct moa2_json *doc, struct moa2_token_outcome *o,
		  const char **error_r)
{
	const struct moa2_json *obj;
	int64_t status = 0, duration = 0;

	if (moa2_json_get(doc, "last_request", &obj) <= 0)
		return 0;
	if (!moa2_json_is_object(obj)) {
		*error_r = "last_request is not an object";
		return -1;
	}
	if (json_get_time(obj, "at", &o->at) < 0 ||
	    json_get_time(obj, "http_status", &status) < 0 ||
	    json_get_time(obj, "duration_ms", &duration) < 0 ||
	    json_get_flag(obj, "ok", &o->ok) < 0 ||
	    json_get_flag(obj, "temporary", &o->temporary) < 0 ||
	    json_copy_string(obj, "error", &o->error) < 0 ||
	    json_copy_string(obj, "description", &o->description) < 0 ||
	    status < 0 || status > 999 || duration < 0 || duration > UINT32_MAX) {
		*error_r = "a field of last_request has the wrong type or range";
		return -1;
	}
	o->http_status = (long)status;
	o->duration_ms = (unsigned int)duration;
	return 0;
}

int
moa2_token_state_from_json(const char *data, size_t len,
			   struct moa2_token_state *state_r,
			   const char **error_r)
{
	struct moa2_token_state state;
	struct moa2_json *doc;
	int64_t version = 0;

	memset(state_r, 0, sizeof(*state_r));
	memset(&state, 0, sizeof(state));
	if (moa2_json_parse(data, len, &doc, error_r) < 0)
		return -1;
	if (!moa2_json_is_object(doc)) {
		*error_r = "not a JSON object";
	} else if (moa2_json_get_int64(doc, "version", &version) <= 0 ||
		   version != MOA2_TOKEN_STORE_VERSION) {
		*error_r = "no \"version\": 1 (not a mail-oauth2 token store, or a newer one)";
	} else if (json_copy_string(doc, "account", &state.account) < 0 ||
		   json_copy_string(doc, "token_type", &state.token_type) < 0 ||
		   json_copy_string(doc, "access_token", &state.access_token) < 0 ||
		   json_copy_string(doc, "scope", &state.scope) < 0 ||
		   json_copy_string(doc, "refresh_token", &state.refresh_token) < 0) {
		*error_r = "a token field is not a string";
	} else if (json_get_time(doc, "expires_at", &state.expires_at) < 0 ||
		   json_get_time(doc, "access_token_at", &state.access_token_at) < 0 ||
		   json_get_time(doc, "refresh_token_at", &state.refresh_token_at) < 0 ||
		   json_get_time(doc, "refresh_token_expires_at",
				 &state.refresh_token_expires_at) < 0 ||
		   json_get_time(doc, "last_ok_at", &state.last_ok_at) < 0 ||
		   json_get_time(doc, "updated_at", &state.updated_at) < 0) {
		*error_r = "a time field is not an integer";
	} else if (outcome_from_json(doc, &state.last, error_r) < 0) {
		/* error_r is set */
	} else {
		moa2_json_free(&doc);
		*state_r = state;
		return 0;
	}
	moa2_json_free(&doc);
	moa2_token_state_clear(&state);
	return -1;
}
