/* SPDX-License-Identifier: MIT */
/* The health of an account's tokens for monitoring (see token-check.h):
   the rules that turn a token store into a Nagios status, and the status
   line and JSON that report them. Failure behaviour: every account ends in
   a status: what cannot be read is UNKNOWN with the reason; the store is
   only read (no lock, no request); sentences reuse the token client's
   messages, so the check says what the mail log says. No token or secret
   is ever part of a result. */

#include "config.h"
#include "mail-oauth2/token-check.h"
#include "token/token-client-internal.h"

#include "support/buf.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- statuses */

static int
severity(enum moa2_check_status status)
{
	static const int rank[] = { 0, 2, 3, 1 }; /* OK, WARNING, CRITICAL, UNKNOWN */

	return rank[status];
}

enum moa2_check_status
moa2_check_worst(enum moa2_check_status a, enum moa2_check_status b)
{
	return severity(a) >= severity(b) ? a : b;
}

const char *
moa2_check_status_name(enum moa2_check_status status)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

	return names[status];
}

void
moa2_check_identity(char *buf, size_t size)
{
	uid_t uid = geteuid();
	struct passwd pw, *found = NULL;
	char pwbuf[1024];

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL)
		snprintf(buf, size, "%s (uid %u)", found->pw_name, (unsigned int)uid);
	else
		snprintf(buf, size, "uid %u", (unsigned int)uid);
}

/* ------------------------------------------------------------- findings */

static void
add(struct moa2_check_result *r, enum moa2_check_status status, const char *code,
    const char *fmt, ...) MOA2_ATTR_FORMAT(4, 5);

static void
add(struct moa2_check_result *r, enum moa2_check_status status, const char *code,
    const char *fmt, ...)
{
	struct moa2_check_finding *f;
	va_list args;

	if (r->findings_count == MOA2_CHECK_MAX_FINDINGS)
		return;
	f = &r->findings[r->findings_count++];
	f->status = status;
	f->code = code;
	va_start(args, fmt);
	f->text = moa2_strdup_vprintf(fmt, args);
	va_end(args);
	/* '|' starts the performance data of a status line */
	for (char *c = f->text; *c != '\0'; c++) {
		if (*c == '|' || *c == '\n' || *c == '\r')
			*c = '/';
	}
	r->status = moa2_check_worst(r->status, status);
}

/* A token client message without its "account NAME: " head (the status
   line names the account once). */
static const char *
without_account(const char *message, const char *account)
{
	size_t len = strlen(account);

	if (strncmp(message, "account ", 8) == 0 && strncmp(message + 8, account, len) == 0 &&
	    strncmp(message + 8 + len, ": ", 2) == 0)
		return message + 10 + len;
	return message;
}

static void
check_last_request(struct moa2_token_client *client, struct moa2_account_rt *rt,
		   const struct moa2_token_state *state, struct moa2_check_result *r)
{
	const struct moa2_token_outcome *last = &state->last;
	const char *error = last->error != NULL ? last->error : "";
	struct moa2_token_reply reply;
	char when[32], left[32], *sentence;

	if (last->at <= 0 || last->ok)
		return;
	/* the sentence of the mail log's line for this failure */
	memset(&reply, 0, sizeof(reply));
	reply.http_status = last->http_status;
	reply.status = last->http_status == 0 || strcmp(error, "invalid_response") == 0 ||
		strcmp(error, "http_error") == 0 ? MOA2_TOKEN_REPLY_FAILED :
		MOA2_TOKEN_REPLY_OAUTH_ERROR;
	if (reply.status == MOA2_TOKEN_REPLY_OAUTH_ERROR)
		snprintf(reply.error, sizeof(reply.error), "%s", error);
	snprintf(reply.description, sizeof(reply.description), "%s",
		 last->description != NULL ? last->description : "");
	sentence = moa2_token_grant_error(client, rt, &reply);
	moa2_token_format_utc(last->at, when, sizeof(when));
	if (!last->temporary) {
		add(r, MOA2_CHECK_CRITICAL, "request_refused", "%s (last token request %s)",
		    without_account(sentence, rt->cfg->name), when);
	} else if (state->access_token != NULL && state->expires_at > r->now) {
		moa2_token_format_duration(state->expires_at - r->now, left, sizeof(left));
		add(r, MOA2_CHECK_WARNING, "request_failed", "%s (last token request %s; the "
		    "access token is still valid for %s)",
		    without_account(sentence, rt->cfg->name), when, left);
	} else {
		add(r, MOA2_CHECK_WARNING, "request_failed", "%s (last token request %s; no "
		    "valid access token: mail through this account is deferred)",
		    without_account(sentence, rt->cfg->name), when);
	}
	free(sentence);
}

static void
check_refresh_expiry(const struct moa2_token_config *config,
		     const struct moa2_token_account *a, const struct moa2_token_state *state,
		     const struct moa2_check_settings *settings, struct moa2_check_result *r)
{
	int64_t left = state->refresh_token_expires_at - r->now;
	char when[32], delta[32];

	if (state->refresh_token == NULL || state->refresh_token_expires_at <= 0)
		return;
	moa2_token_format_utc(state->refresh_token_expires_at, when, sizeof(when));
	moa2_token_format_duration(left, delta, sizeof(delta));
	if (left <= 0)
		add(r, MOA2_CHECK_CRITICAL, "refresh_token_expired", "the refresh token expired "
		    "at %s: run `mail-oauth2 token authorize -c %s %s` to authorize again",
		    when, config->file, a->name);
	else if (left <= settings->critical || left <= settings->warning)
		add(r, left <= settings->critical ? MOA2_CHECK_CRITICAL : MOA2_CHECK_WARNING,
		    "refresh_token_expiring", "the refresh token expires in %s, at %s: run "
		    "`mail-oauth2 token authorize -c %s %s` before then", delta, when,
		    config->file, a->name);
}

static void
check_writable(struct moa2_account_rt *rt, struct moa2_check_result *r)
{
	char who[128], *error = NULL;

	r->store_writable = moa2_token_store_check_writable(rt->store, &error) == 0;
	if (r->store_writable)
		return;
	moa2_check_identity(who, sizeof(who));
	add(r, MOA2_CHECK_WARNING, "store_not_writable", "%s (checked as %s): tokens "
	    "obtained as this user cannot be stored; the store's directory must be "
	    "writable by the user the mail system runs as", error, who);
	free(error);
}

static void
check_ok(const struct moa2_token_state *state, struct moa2_check_result *r)
{
	char delta[32], rt_delta[64] = "";

	if (state->refresh_token != NULL && state->refresh_token_expires_at > 0) {
		char d[32];

		moa2_token_format_duration(state->refresh_token_expires_at - r->now, d, sizeof(d));
		snprintf(rt_delta, sizeof(rt_delta), "; refresh token valid for %s", d);
	}
	if (state->access_token == NULL) {
		add(r, MOA2_CHECK_OK, "ok", "no access token (the next use fetches one)%s",
		    rt_delta);
		return;
	}
	moa2_token_format_duration(state->expires_at - r->now, delta, sizeof(delta));
	if (state->expires_at > r->now)
		add(r, MOA2_CHECK_OK, "ok", "access token valid for %s%s", delta, rt_delta);
	else
		add(r, MOA2_CHECK_OK, "ok", "access token expired %s ago (the next use "
		    "refreshes it)%s", delta, rt_delta);
}

/* The rules for a store that was read. */
static void
check_state(struct moa2_token_client *client, struct moa2_account_rt *rt,
	    const struct moa2_token_state *state,
	    const struct moa2_check_settings *settings, struct moa2_check_result *r)
{
	const struct moa2_token_account *a = rt->cfg;

	r->store_read = true;
	r->access_token = state->access_token != NULL;
	r->access_token_expires_at = state->expires_at;
	r->refresh_token = state->refresh_token != NULL;
	r->refresh_token_expires_at = state->refresh_token_expires_at;
	moa2_token_outcome_copy(&r->last, &state->last);
	r->last_ok_at = state->last_ok_at;
	if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN && state->refresh_token == NULL)
		add(r, MOA2_CHECK_CRITICAL, "no_refresh_token", "the token store holds no "
		    "refresh token: run `mail-oauth2 token authorize -c %s %s`; mail through "
		    "this account is deferred until then", client->config->file, a->name);
	check_last_request(client, rt, state, r);
	check_refresh_expiry(client->config, a, state, settings, r);
	check_writable(rt, r);
	if (r->findings_count == 0)
		check_ok(state, r);
}

/* A store that is missing or cannot be read or parsed. */
static void
check_unread(struct moa2_token_client *client, struct moa2_account_rt *rt,
	     enum moa2_store_read read, const char *error, struct moa2_check_result *r)
{
	const struct moa2_token_account *a = rt->cfg;
	bool delegated = a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN;
	char who[128];

	moa2_check_identity(who, sizeof(who));
	switch (read) {
	case MOA2_STORE_READ_MISSING:
		if (delegated)
			add(r, MOA2_CHECK_CRITICAL, "not_authorized", "not authorized yet (no "
			    "token store %s): run `mail-oauth2 token authorize -c %s %s`; mail "
			    "through this account is deferred until then", a->token_file,
			    client->config->file, a->name);
		else
			add(r, MOA2_CHECK_OK, "ok", "no token yet (the first use fetches one)");
		if (delegated || rt->store == NULL)
			return;
		check_writable(rt, r);
		return;
	case MOA2_STORE_READ_CORRUPT:
		if (delegated)
			add(r, MOA2_CHECK_CRITICAL, "store_corrupt", "%s; run `mail-oauth2 "
			    "token authorize -c %s %s` to start over",
			    without_account(error, a->name), client->config->file, a->name);
		else
			add(r, MOA2_CHECK_WARNING, "store_corrupt", "%s; the next token "
			    "request replaces it", without_account(error, a->name));
		return;
	default:
		/* the client's message on a directory it may not open has a hint */
		add(r, MOA2_CHECK_UNKNOWN, "store_unreadable", "%s (checked as %s%s)",
		    without_account(error, a->name), who, strstr(error, "or as root") != NULL ?
		    "" : ": run the check as the user that owns the store, or as root");
		return;
	}
}

enum moa2_check_status
moa2_token_check(struct moa2_token_client *client, const char *account,
		 const struct moa2_check_settings *settings, time_t now,
		 struct moa2_check_result *result_r)
{
	struct moa2_account_rt *rt = moa2_token_account_find(client, account);
	struct moa2_token_state state;
	enum moa2_store_read read;
	char *error = NULL;

	memset(result_r, 0, sizeof(*result_r));
	result_r->account = moa2_strdup(account);
	result_r->store_writable = -1;
	result_r->now = (int64_t)now;
	if (rt == NULL) {
		add(result_r, MOA2_CHECK_UNKNOWN, "unknown_account", "no [account %s] in %s",
		    account, client->config->file);
		return result_r->status;
	}
	result_r->grant = moa2_token_grant_name(rt->cfg->grant);
	result_r->store = moa2_strdup(rt->cfg->token_file);
	if (rt->open_error != NULL) {
		check_unread(client, rt, MOA2_STORE_READ_ERROR, rt->open_error, result_r);
		return result_r->status;
	}
	read = moa2_token_store_read(rt->store, &state, &error);
	if (read == MOA2_STORE_READ_OK)
		check_state(client, rt, &state, settings, result_r);
	else
		check_unread(client, rt, read, error, result_r);
	free(error);
	moa2_token_state_clear(&state);
	return result_r->status;
}

void
moa2_check_result_clear(struct moa2_check_result *result)
{
	for (unsigned int i = 0; i < result->findings_count; i++)
		free(result->findings[i].text);
	free(result->account);
	free(result->store);
	moa2_token_outcome_clear(&result->last);
	memset(result, 0, sizeof(*result));
}

/* --------------------------------------------------------------- output */

static enum moa2_check_status
worst_of(const struct moa2_check_result *results, unsigned int count)
{
	enum moa2_check_status worst = MOA2_CHECK_OK;

	for (unsigned int i = 0; i < count; i++)
		worst = moa2_check_worst(worst, results[i].status);
	return count == 0 ? MOA2_CHECK_UNKNOWN : worst;
}

static void
line_account(struct moa2_buf *buf, const struct moa2_check_result *r, bool brief)
{
	moa2_buf_printf(buf, "%s: ", r->account);
	if (brief) {
		moa2_buf_append_str(buf, "OK");
		return;
	}
	for (unsigned int i = 0; i < r->findings_count; i++)
		moa2_buf_printf(buf, "%s%s", i == 0 ? "" : "; ", r->findings[i].text);
}

static void
line_perfdata(struct moa2_buf *buf, const struct moa2_check_result *results,
	      unsigned int count, const struct moa2_check_settings *settings)
{
	bool any = false;

	for (unsigned int i = 0; i < count; i++) {
		const struct moa2_check_result *r = &results[i];

		if (r->store_read && r->access_token) {
			moa2_buf_printf(buf, "%s%s_access_token=%llds", any ? " " : " | ",
					r->account,
					(long long)(r->access_token_expires_at - r->now));
			any = true;
		}
		if (r->store_read && r->refresh_token && r->refresh_token_expires_at > 0) {
			moa2_buf_printf(buf, "%s%s_refresh_token=%llds;%lld;%lld",
					any ? " " : " | ", r->account,
					(long long)(r->refresh_token_expires_at - r->now),
					(long long)settings->warning, (long long)settings->critical);
			any = true;
		}
	}
}

char *
moa2_check_line(const struct moa2_check_result *results, unsigned int count,
		const struct moa2_check_settings *settings)
{
	static const enum moa2_check_status order[] = {
		MOA2_CHECK_CRITICAL, MOA2_CHECK_WARNING, MOA2_CHECK_UNKNOWN, MOA2_CHECK_OK
	};
	enum moa2_check_status worst = worst_of(results, count);
	struct moa2_buf buf;
	bool first = true;

	moa2_buf_init(&buf);
	moa2_buf_printf(&buf, "TOKEN %s - ", moa2_check_status_name(worst));
	if (count == 0)
		moa2_buf_append_str(&buf, "no account to check");
	/* the problems first, worst first; OK accounts in brief then */
	for (unsigned int o = 0; o < 4; o++) {
		for (unsigned int i = 0; i < count; i++) {
			if (results[i].status != order[o])
				continue;
			moa2_buf_append_str(&buf, first ? "" : " / ");
			line_account(&buf, &results[i],
				     order[o] == MOA2_CHECK_OK && worst != MOA2_CHECK_OK);
			first = false;
		}
	}
	line_perfdata(&buf, results, count, settings);
	return moa2_buf_steal(&buf, NULL);
}

static void
json_key(struct moa2_buf *buf, bool *first, const char *key)
{
	moa2_buf_append_str(buf, *first ? "" : ",");
	moa2_buf_json_string(buf, key);
	moa2_buf_append_str(buf, ":");
	*first = false;
}

static void
json_bool(struct moa2_buf *buf, bool *first, const char *key, bool value)
{
	json_key(buf, first, key);
	moa2_buf_append_str(buf, value ? "true" : "false");
}

/* a time, or null when unknown */
static void
json_time(struct moa2_buf *buf, bool *first, const char *key, bool known, int64_t value)
{
	json_key(buf, first, key);
	if (known)
		moa2_buf_printf(buf, "%lld", (long long)value);
	else
		moa2_buf_append_str(buf, "null");
}

static void
json_last_request(struct moa2_buf *buf, bool *first, const struct moa2_check_result *r)
{
	const struct moa2_token_outcome *o = &r->last;
	bool inner = true;

	json_key(buf, first, "last_request");
	if (o->at <= 0) {
		moa2_buf_append_str(buf, "null");
		return;
	}
	moa2_buf_append_str(buf, "{");
	moa2_buf_json_member_int(buf, &inner, "at", o->at);
	json_bool(buf, &inner, "ok", o->ok);
	if (!o->ok) {
		json_bool(buf, &inner, "temporary", o->temporary);
		moa2_buf_json_member_str(buf, &inner, "error", o->error);
		moa2_buf_json_member_int(buf, &inner, "http_status", o->http_status);
		moa2_buf_json_member_str(buf, &inner, "description", o->description);
	}
	moa2_buf_json_member_int(buf, &inner, "duration_ms", o->duration_ms);
	moa2_buf_append_str(buf, "}");
}

static void
json_account(struct moa2_buf *buf, const struct moa2_check_result *r)
{
	bool first = true, read = r->store_read;

	moa2_buf_append_str(buf, "{");
	moa2_buf_json_member_str(buf, &first, "account", r->account);
	moa2_buf_json_member_str(buf, &first, "status", moa2_check_status_name(r->status));
	moa2_buf_json_member_str(buf, &first, "grant", r->grant);
	moa2_buf_json_member_str(buf, &first, "store", r->store);
	json_bool(buf, &first, "store_read", read);
	json_key(buf, &first, "store_writable");
	moa2_buf_append_str(buf, r->store_writable < 0 ? "null" :
			    r->store_writable ? "true" : "false");
	json_time(buf, &first, "access_token_expires_at", read && r->access_token,
		  r->access_token_expires_at);
	json_bool(buf, &first, "refresh_token", read && r->refresh_token);
	json_time(buf, &first, "refresh_token_expires_at",
		  read && r->refresh_token && r->refresh_token_expires_at > 0,
		  r->refresh_token_expires_at);
	json_last_request(buf, &first, r);
	json_time(buf, &first, "last_ok_at", read && r->last_ok_at > 0, r->last_ok_at);
	json_key(buf, &first, "findings");
	moa2_buf_append_str(buf, "[");
	for (unsigned int i = 0; i < r->findings_count; i++) {
		bool inner = true;

		moa2_buf_append_str(buf, i == 0 ? "{" : ",{");
		moa2_buf_json_member_str(buf, &inner, "status",
					 moa2_check_status_name(r->findings[i].status));
		moa2_buf_json_member_str(buf, &inner, "code", r->findings[i].code);
		moa2_buf_json_member_str(buf, &inner, "text", r->findings[i].text);
		moa2_buf_append_str(buf, "}");
	}
	moa2_buf_append_str(buf, "]}");
}

/* The head every JSON answer starts with: status, exit code, who ran it. */
static void
json_head(struct moa2_buf *buf, bool *first, enum moa2_check_status status)
{
	char who[128];

	moa2_check_identity(who, sizeof(who));
	moa2_buf_append_str(buf, "{");
	moa2_buf_json_member_str(buf, first, "status", moa2_check_status_name(status));
	moa2_buf_json_member_int(buf, first, "exit_code", (int64_t)status);
	moa2_buf_json_member_str(buf, first, "checked_as", who);
	moa2_buf_json_member_int(buf, first, "uid", (int64_t)geteuid());
}

char *
moa2_check_json(const struct moa2_check_result *results, unsigned int count,
		const struct moa2_check_settings *settings, const char *config_file)
{
	struct moa2_buf buf;
	bool first = true;

	moa2_buf_init(&buf);
	json_head(&buf, &first, worst_of(results, count));
	moa2_buf_json_member_str(&buf, &first, "config", config_file);
	moa2_buf_json_member_int(&buf, &first, "checked_at",
				 count > 0 ? results[0].now : (int64_t)time(NULL));
	moa2_buf_json_member_int(&buf, &first, "warning_seconds", settings->warning);
	moa2_buf_json_member_int(&buf, &first, "critical_seconds", settings->critical);
	json_key(&buf, &first, "accounts");
	moa2_buf_append_str(&buf, "[");
	for (unsigned int i = 0; i < count; i++) {
		moa2_buf_append_str(&buf, i == 0 ? "" : ",");
		json_account(&buf, &results[i]);
	}
	moa2_buf_append_str(&buf, "]}");
	return moa2_buf_steal(&buf, NULL);
}

char *
moa2_check_error_line(const char *message)
{
	return moa2_strdup_printf("TOKEN UNKNOWN - %s", message);
}

char *
moa2_check_error_json(const char *message)
{
	struct moa2_buf buf;
	bool first = true;

	moa2_buf_init(&buf);
	json_head(&buf, &first, MOA2_CHECK_UNKNOWN);
	moa2_buf_json_member_str(&buf, &first, "error", message);
	moa2_buf_append_str(&buf, "}");
	return moa2_buf_steal(&buf, NULL);
}
