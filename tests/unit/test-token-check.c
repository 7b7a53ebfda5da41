/* SPDX-License-Identifier: MIT */
/* What the admin sees of the token client: the one info line per token
   request, the outcome of every request in the store (old stores still
   load), the refresh token's expiry from refresh_token_expires_in, and the
   rules, status line and JSON of `mail-oauth2 token check` (token-check.h)
   for every state a store can be in, also as a user who cannot read or
   replace it. */

#include "test-token-common.h"

#include "mail-oauth2/token-check.h"
#include "support/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOW ((int64_t)1800000000)

static const struct moa2_check_settings defaults = {
	MOA2_CHECK_WARNING_DEFAULT, MOA2_CHECK_CRITICAL_DEFAULT
};

static bool server_up;

/* the token endpoint of the fault server when it runs, else one that is
   never asked (the check contacts nobody) */
static char *
account_config(const char *dir, const char *grant)
{
	char *text = malloc(4096);

	ck_assert_ptr_nonnull(text);
	snprintf(text, 4096, "token_dir = %s\n[account acct]\nprovider = generic\n"
		 "token_endpoint = %s\ngrant = %s\nclient_id = relay\n"
		 "client_secret = s3cret-relay\n", dir,
		 server_up ? tt_url("/token") : "https://idp.invalid/token", grant);
	return text;
}

static void
server_start(void)
{
	tt_server_start(NULL);
	server_up = true;
}

static void
server_stop(void)
{
	tt_server_stop();
	server_up = false;
}

static const char *
path_in(const char *dir, const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* the number of lines of text that contain needle */
static unsigned int
lines_with(const char *text, const char *needle)
{
	unsigned int n = 0;

	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		char *copy = strndup(line, len);

		ck_assert_ptr_nonnull(copy);
		n += strstr(copy, needle) != NULL;
		free(copy);
		line += len + (end != NULL);
	}
	return n;
}

/* ---------------------------------------------------------------- store */

START_TEST(test_outcome_roundtrip)
{
	struct moa2_token_state in = { 0 }, out;
	const char *error = NULL;
	size_t len;
	char *json;

	moa2_token_state_set(&in.account, "m365");
	moa2_token_state_set(&in.access_token, "at-1");
	in.expires_at = NOW + 600;
	moa2_token_state_set(&in.refresh_token, "rt-1");
	in.refresh_token_at = NOW - 10;
	in.refresh_token_expires_at = NOW + 86400;
	in.last.at = NOW;
	in.last.ok = false;
	in.last.temporary = true;
	in.last.http_status = 503;
	in.last.error = strdup("temporarily_unavailable");
	in.last.description = strdup("down \"for\" maintenance");
	in.last.duration_ms = 312;
	in.last_ok_at = NOW - 3600;
	json = moa2_token_state_to_json(&in, &len);
	ck_assert_ptr_null(strstr(json, "at-1\",\"last"));
	ck_assert_int_eq(moa2_token_state_from_json(json, len, &out, &error), 0);
	ck_assert_int_eq(out.refresh_token_expires_at, NOW + 86400);
	ck_assert_int_eq(out.last.at, NOW);
	ck_assert(!out.last.ok);
	ck_assert(out.last.temporary);
	ck_assert_int_eq(out.last.http_status, 503);
	ck_assert_str_eq(out.last.error, "temporarily_unavailable");
	ck_assert_str_eq(out.last.description, "down \"for\" maintenance");
	ck_assert_uint_eq(out.last.duration_ms, 312);
	ck_assert_int_eq(out.last_ok_at, NOW - 3600);
	moa2_token_state_clear(&out);
	moa2_secret_free(json, len + 1);

	/* a success keeps only at, ok and the duration */
	moa2_token_outcome_clear(&in.last);
	in.last.at = NOW;
	in.last.ok = true;
	json = moa2_token_state_to_json(&in, &len);
	ck_assert_ptr_nonnull(strstr(json, "\"last_request\":{\"at\":1800000000,\"ok\":true,"
				     "\"duration_ms\":0}"));
	moa2_secret_free(json, len + 1);
	moa2_token_state_clear(&in);

	/* a store of an older version: no outcome, no expiry, still loads */
	static const char old[] = "{\"version\":1,\"account\":\"m365\",\"access_token\":"
		"\"x\",\"expires_at\":5,\"refresh_token\":\"r\",\"refresh_token_at\":1,"
		"\"updated_at\":1}";
	ck_assert_int_eq(moa2_token_state_from_json(old, sizeof(old) - 1, &out, &error), 0);
	ck_assert_int_eq(out.last.at, 0);
	ck_assert_ptr_null(out.last.error);
	ck_assert_int_eq(out.refresh_token_expires_at, 0);
	moa2_token_state_clear(&out);

	/* a broken outcome is a broken store */
	static const char *const bad[] = {
		"{\"version\":1,\"last_request\":5}",
		"{\"version\":1,\"last_request\":{\"at\":1,\"ok\":\"yes\"}}",
		"{\"version\":1,\"last_request\":{\"at\":1,\"error\":7}}",
		"{\"version\":1,\"last_request\":{\"at\":1,\"http_status\":-4}}",
		"{\"version\":1,\"refresh_token_expires_at\":\"soon\"}",
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(moa2_token_state_from_json(bad[i], strlen(bad[i]), &out,
							 &error) == -1, "%s", bad[i]);
}
END_TEST

/* --------------------------------------------------------- the requests */

/* One info line per token request: account, grant, new expiry, rotated or
   kept, duration; the outcome and the refresh token's expiry stored. */
START_TEST(test_request_line_and_outcome)
{
	const char *dir = tt_new_dir();
	char *text, *error = NULL, expect[256];
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token_state state;
	struct moa2_token token;
	struct tt_log log;
	time_t before = time(NULL);
	int64_t expires;

	server_start();
	text = account_config(dir, "refresh_token");
	config = tt_config(text);
	free(text);
	tt_route("/token", "status", 200, "{\"access_token\":\"at-2\",\"token_type\":"
		 "\"Bearer\",\"expires_in\":600,\"refresh_token\":\"rt-2-secret\","
		 "\"refresh_token_expires_in\":7776000}", 150);
	tt_store_write(config->accounts[0].token_file, "at-1", time(NULL) - 5, "rt-1-secret");
	tt_log_init(&log);
	client = tt_client(config, &log);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	snprintf(expect, sizeof(expect), "info: account acct: token request (grant "
		 "refresh_token) to %s took ", tt_url("") + 8);
	ck_assert_msg(lines_with(log.text, expect) == 1, "%s", log.text);
	snprintf(expect, sizeof(expect), "ms: access token sha256:%s valid for 600 s, until ",
		 token.fingerprint);
	ck_assert_msg(lines_with(log.text, expect) == 1, "%s", log.text);
	ck_assert_msg(lines_with(log.text, "; refresh token rotated, valid until 20") == 1,
		      "%s", log.text);
	ck_assert_uint_eq(lines_with(log.text, "info: "), 1);
	ck_assert_ptr_null(strstr(log.text, "at-2"));
	ck_assert_ptr_null(strstr(log.text, "rt-2-secret"));
	ck_assert_ptr_null(strstr(log.text, "s3cret-relay"));
	moa2_token_clear(&token);

	tt_store_read(config->accounts[0].token_file, &state);
	ck_assert(state.last.ok);
	ck_assert_int_ge(state.last.at, before);
	ck_assert_uint_ge(state.last.duration_ms, 150);
	ck_assert_int_eq(state.last_ok_at, state.last.at);
	ck_assert_int_eq(state.refresh_token_expires_at, state.last.at + 7776000);
	moa2_token_state_clear(&state);

	/* the provider keeps the refresh token: "kept", its expiry stays */
	moa2_token_client_destroy(&client);
	tt_route("/token", "status", 200, tt_token_json("at-3", 600, NULL), 0);
	tt_log_init(&log);
	client = tt_client(config, &log);
	ck_assert_int_eq(moa2_token_get(client, "acct", MOA2_TOKEN_FORCE_REFRESH, &token,
					&error), 0);
	moa2_token_clear(&token);
	ck_assert_msg(lines_with(log.text, "; refresh token kept, valid until 20") == 1,
		      "%s", log.text);
	tt_store_read(config->accounts[0].token_file, &state);
	ck_assert_str_eq(state.refresh_token, "rt-2-secret");
	ck_assert_int_ne(state.refresh_token_expires_at, 0);
	expires = state.refresh_token_expires_at;
	moa2_token_state_clear(&state);

	/* ... also when the provider sends the same refresh token again */
	moa2_token_client_destroy(&client);
	tt_route("/token", "status", 200, tt_token_json("at-3b", 600, "rt-2-secret"), 0);
	tt_log_init(&log);
	client = tt_client(config, &log);
	ck_assert_int_eq(moa2_token_get(client, "acct", MOA2_TOKEN_FORCE_REFRESH, &token,
					&error), 0);
	moa2_token_clear(&token);
	ck_assert_msg(lines_with(log.text, "; refresh token kept, valid until 20") == 1,
		      "%s", log.text);
	tt_store_read(config->accounts[0].token_file, &state);
	ck_assert_int_eq(state.refresh_token_expires_at, expires);
	moa2_token_state_clear(&state);

	/* client_credentials: no word about refresh tokens; the expiry as
	   a string (older Azure AD) */
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	text = account_config(tt_new_dir(), "client_credentials");
	config = tt_config(text);
	free(text);
	tt_route("/token", "status", 200, "{\"access_token\":\"at-4\",\"expires_in\":\"3599\"}", 0);
	tt_log_init(&log);
	client = tt_client(config, &log);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	moa2_token_clear(&token);
	ck_assert_msg(lines_with(log.text, "(grant client_credentials)") == 1 &&
		      lines_with(log.text, "valid for 3599 s, until 20") == 1 &&
		      strstr(log.text, "refresh token") == NULL, "%s", log.text);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	server_stop();
}
END_TEST

/* A failed request: its outcome in the store, the tokens untouched; a
   provider's description that repeats a secret is withheld. */
START_TEST(test_failure_outcomes)
{
	static const struct {
		const char *mode;
		int status;
		const char *body;
		const char *error;
		long http_status;
		bool temporary;
	} cases[] = {
		{ "status", 400, "{\"error\":\"invalid_grant\",\"error_description\":"
		  "\"revoked\"}", "invalid_grant", 400, false },
		{ "status", 401, "{\"error\":\"invalid_client\"}", "invalid_client", 401, false },
		{ "status", 503, "busy", "http_error", 503, true },
		{ "status", 503, "{\"error\":\"temporarily_unavailable\"}",
		  "temporarily_unavailable", 503, true },
		{ "status", 429, "{\"error\":\"slow\"}", "slow", 429, true },
		{ "status", 404, "<html>", "http_error", 404, false },
		{ "status", 200, "{\"access_token\":\"has space\"}", "invalid_response", 200, false },
		{ "down", 200, NULL, "no_response", 0, true },
	};
	const char *dir = tt_new_dir(), *file;
	char *text, *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token_state state;
	struct moa2_token token;

	server_start();
	text = account_config(dir, "refresh_token");
	config = tt_config(text);
	free(text);
	client = tt_client(config, NULL);
	file = config->accounts[0].token_file;
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tt_route("/token", cases[i].mode, cases[i].status, cases[i].body, 0);
		tt_store_write(file, "at-1", time(NULL) - 5, "rt-1-secret");
		ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), -1);
		free(error);
		tt_store_read(file, &state);
		ck_assert_msg(state.last.at > 0 && !state.last.ok, "case %u", i);
		ck_assert_msg(strcmp(state.last.error, cases[i].error) == 0, "case %u: %s", i,
			      state.last.error);
		ck_assert_int_eq(state.last.http_status, cases[i].http_status);
		ck_assert_msg(state.last.temporary == cases[i].temporary, "case %u", i);
		ck_assert_str_eq(state.refresh_token, "rt-1-secret");
		ck_assert_str_eq(state.access_token, "at-1");
		moa2_token_state_clear(&state);
	}

	/* the description repeats the refresh token: withheld everywhere */
	tt_route("/token", "status", 400, "{\"error\":\"invalid_grant\",\"error_description\":"
		 "\"refresh token rt-1-secret is revoked\"}", 0);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), -1);
	ck_assert_ptr_null(strstr(error, "rt-1-secret"));
	ck_assert_ptr_nonnull(strstr(error, "withheld"));
	free(error);
	tt_store_read(file, &state);
	ck_assert_ptr_null(strstr(state.last.description, "rt-1-secret"));
	moa2_token_state_clear(&state);

	/* a success replaces the failure */
	tt_route("/token", "status", 200, tt_token_json("at-2", 600, "rt-2"), 0);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	moa2_token_clear(&token);
	tt_store_read(file, &state);
	ck_assert(state.last.ok);
	ck_assert_ptr_null(state.last.error);
	moa2_token_state_clear(&state);

	/* a fresh authorization (the CLI's flows) replaces a failure too */
	tt_route("/token", "status", 400, "{\"error\":\"invalid_grant\"}", 0);
	ck_assert_int_eq(moa2_token_get(client, "acct", MOA2_TOKEN_FORCE_REFRESH, &token,
					&error), -1);
	free(error);
	memset(&state, 0, sizeof(state));
	moa2_token_state_set(&state.access_token, "at-9");
	state.expires_at = time(NULL) + 600;
	moa2_token_state_set(&state.refresh_token, "rt-9");
	state.updated_at = time(NULL);
	ck_assert_int_eq(moa2_token_client_save(client, &config->accounts[0], &state, &error), 0);
	moa2_token_state_clear(&state);
	tt_store_read(file, &state);
	ck_assert(state.last.ok);
	moa2_token_state_clear(&state);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	server_stop();
}
END_TEST

/* ------------------------------------------------------------ the rules */

struct check_case {
	const char *name;
	const char *grant;
	const char *store;   /* JSON, NULL: no store */
	int64_t t1, t2;      /* NOW + these replace @1 and @2 in store */
	int64_t warning, critical;
	enum moa2_check_status status;
	const char *code;    /* of the first finding */
	const char *text;    /* a part of the first finding */
};

static const struct check_case check_cases[] = {
	{ "not authorized", "refresh_token", NULL, 0, 0, 0, 0,
	  MOA2_CHECK_CRITICAL, "not_authorized",
	  "not authorized yet (no token store " },
	{ "client_credentials, no token yet", "client_credentials", NULL, 0, 0, 0, 0,
	  MOA2_CHECK_OK, "ok", "no token yet" },
	{ "fresh", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"last_request\":{\"at\":@2,\"ok\":true}}", 3120, -60, 0, 0,
	  MOA2_CHECK_OK, "ok", "access token valid for 52 min" },
	{ "expired token, nothing failed", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"updated_at\":@2}", -7200, 0, 0, 0,
	  MOA2_CHECK_OK, "ok", "access token expired 2 h ago (the next use refreshes it)" },
	{ "no refresh token", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"updated_at\":@2}",
	  600, 0, 0, 0, MOA2_CHECK_CRITICAL, "no_refresh_token",
	  "holds no refresh token: run `mail-oauth2 token authorize -c test.conf acct`" },
	{ "revoked refresh token", "refresh_token",
	  "{\"version\":1,\"refresh_token\":\"r\",\"expires_at\":@1,\"last_request\":"
	  "{\"at\":@2,\"ok\":false,\"temporary\":false,\"error\":\"invalid_grant\","
	  "\"http_status\":400,\"description\":\"grant request is invalid\"}}", 0, -300, 0, 0,
	  MOA2_CHECK_CRITICAL, "request_refused",
	  "the refresh token was rejected (invalid_grant: grant request is invalid): run "
	  "`mail-oauth2 token authorize -c test.conf acct` to authorize again; mail stays "
	  "queued until then (last token request 2027-01-15T07:55:00Z)" },
	{ "client refused", "client_credentials",
	  "{\"version\":1,\"expires_at\":@1,\"last_request\":{\"at\":@2,\"ok\":false,"
	  "\"error\":\"invalid_client\",\"http_status\":401}}", 0, -5, 0, 0,
	  MOA2_CHECK_CRITICAL, "request_refused",
	  "the provider rejected the client (invalid_client): check client_id" },
	{ "provider down, token still valid", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"last_request\":{\"at\":@2,\"ok\":false,\"temporary\":true,\"error\":"
	  "\"temporarily_unavailable\",\"http_status\":503}}", 240, -5, 0, 0,
	  MOA2_CHECK_WARNING, "request_failed",
	  "the token endpoint is unavailable (HTTP 503, temporarily_unavailable); mail stays "
	  "queued and is retried (last token request 2027-01-15T07:59:55Z; the access token "
	  "is still valid for 4 min)" },
	{ "provider unreachable, token expired", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"last_request\":{\"at\":@2,\"ok\":false,\"temporary\":true,\"error\":"
	  "\"no_response\",\"description\":\"cannot reach idp:443: timeout\"}}", -10, -5, 0, 0,
	  MOA2_CHECK_WARNING, "request_failed",
	  "token request failed: cannot reach idp:443: timeout; mail stays queued and is "
	  "retried (last token request 2027-01-15T07:59:55Z; no valid access token: mail "
	  "through this account is deferred)" },
	{ "refresh token expires in 3 days", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"refresh_token_expires_at\":@2}", 600, 3 * 86400, 0, 0,
	  MOA2_CHECK_WARNING, "refresh_token_expiring",
	  "the refresh token expires in 3 days, at 2027-01-18T08:00:00Z: run `mail-oauth2 "
	  "token authorize -c test.conf acct` before then" },
	{ "... within --critical 4d", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"refresh_token_expires_at\":@2}", 600, 3 * 86400, 7 * 86400, 4 * 86400,
	  MOA2_CHECK_CRITICAL, "refresh_token_expiring", "expires in 3 days" },
	{ "... outside --warning 2d", "refresh_token",
	  "{\"version\":1,\"access_token\":\"a\",\"expires_at\":@1,\"refresh_token\":\"r\","
	  "\"refresh_token_expires_at\":@2}", 600, 3 * 86400, 2 * 86400, 0,
	  MOA2_CHECK_OK, "ok", "access token valid for 10 min; refresh token valid for 3 days" },
	{ "refresh token expired", "refresh_token",
	  "{\"version\":1,\"refresh_token\":\"r\",\"refresh_token_expires_at\":@1,"
	  "\"updated_at\":@2}", -1, 0, 0, 0, MOA2_CHECK_CRITICAL, "refresh_token_expired",
	  "the refresh token expired at 2027-01-15T07:59:59Z: run `mail-oauth2 token "
	  "authorize -c test.conf acct` to authorize again" },
	{ "corrupt store", "refresh_token", "{\"version\":1,@1@2", 0, 0, 0, 0,
	  MOA2_CHECK_CRITICAL, "store_corrupt",
	  " is corrupt (" },
	{ "corrupt store, client_credentials", "client_credentials", "[@1,@2]", 0, 0, 0, 0,
	  MOA2_CHECK_WARNING, "store_corrupt", "the next token request replaces it" },
};

/* tpl with @1 and @2 replaced by the times */
static void
store_text(char *buf, size_t size, const char *tpl, int64_t t1, int64_t t2)
{
	size_t n = 0;

	for (const char *c = tpl; *c != '\0' && n + 24 < size; c++) {
		if (c[0] == '@' && (c[1] == '1' || c[1] == '2')) {
			n += (size_t)snprintf(buf + n, size - n, "%lld",
					      (long long)(c[1] == '1' ? t1 : t2));
			c++;
		} else {
			buf[n++] = *c;
		}
	}
	buf[n] = '\0';
}

START_TEST(test_check_rules)
{
	const struct check_case *c = &check_cases[_i];
	const char *dir = tt_new_dir();
	char *text = account_config(dir, c->grant), json[2048];
	struct moa2_token_config *config = tt_config(text);
	struct moa2_token_client *client = tt_client(config, NULL);
	struct moa2_check_settings settings = defaults;
	struct moa2_check_result r;

	free(text);
	if (c->warning > 0 || c->critical > 0) {
		settings.warning = c->warning;
		settings.critical = c->critical;
	}
	if (c->store != NULL) {
		store_text(json, sizeof(json), c->store, NOW + c->t1, NOW + c->t2);
		tt_write_file(path_in(dir, "acct.json"), json, 0600);
	}
	ck_assert_int_eq(moa2_token_check(client, "acct", &settings, (time_t)NOW, &r),
			 c->status);
	ck_assert_int_eq(r.status, c->status);
	ck_assert_uint_ge(r.findings_count, 1);
	ck_assert_msg(strcmp(r.findings[0].code, c->code) == 0, "%s: code %s", c->name,
		      r.findings[0].code);
	ck_assert_msg(strstr(r.findings[0].text, c->text) != NULL, "%s: %s", c->name,
		      r.findings[0].text);
	ck_assert_ptr_null(strstr(r.findings[0].text, "account acct:"));
	ck_assert_str_eq(r.grant, c->grant);
	moa2_check_result_clear(&r);

	/* the check wrote nothing but the .corrupt copy */
	if (c->store == NULL)
		ck_assert_int_eq(access(path_in(dir, "acct.json"), F_OK), -1);
	ck_assert_int_eq(access(path_in(dir, "acct.json.lock"), F_OK), -1);

	ck_assert_int_eq(moa2_token_check(client, "nope", &settings, (time_t)NOW, &r),
			 MOA2_CHECK_UNKNOWN);
	ck_assert_str_eq(r.findings[0].code, "unknown_account");
	ck_assert_str_eq(r.findings[0].text, "no [account nope] in test.conf");
	moa2_check_result_clear(&r);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
}
END_TEST

START_TEST(test_worst)
{
	ck_assert_int_eq(moa2_check_worst(MOA2_CHECK_OK, MOA2_CHECK_UNKNOWN), MOA2_CHECK_UNKNOWN);
	ck_assert_int_eq(moa2_check_worst(MOA2_CHECK_UNKNOWN, MOA2_CHECK_WARNING),
			 MOA2_CHECK_WARNING);
	ck_assert_int_eq(moa2_check_worst(MOA2_CHECK_CRITICAL, MOA2_CHECK_UNKNOWN),
			 MOA2_CHECK_CRITICAL);
	ck_assert_int_eq(moa2_check_worst(MOA2_CHECK_WARNING, MOA2_CHECK_OK), MOA2_CHECK_WARNING);
	ck_assert_str_eq(moa2_check_status_name(MOA2_CHECK_UNKNOWN), "UNKNOWN");
}
END_TEST

/* --------------------------------------------------- as another user */

/* In a child as uid 65534 when we are root (else as ourselves): the
   status and the first finding's code and text, through a pipe. */
static void
check_as_other(const char *conf_text, char *out, size_t size)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct moa2_token_config *config;
		struct moa2_token_client *client;
		struct moa2_check_result r;
		char *error = NULL, line[2048];
		int len;

		close(fds[0]);
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(90);
		if (moa2_token_config_load_string("test.conf", conf_text, strlen(conf_text),
						  &config, &error) < 0 ||
		    moa2_token_client_create(config, NULL, &client, &error) < 0)
			_exit(91);
		moa2_token_check(client, "acct", &defaults, (time_t)NOW, &r);
		len = snprintf(line, sizeof(line), "%s %s %s", moa2_check_status_name(r.status),
			       r.findings[0].code, r.findings[0].text);
		if (write(fds[1], line, (size_t)len) != len)
			_exit(92);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
}

START_TEST(test_check_as_another_user)
{
	char *text, out[2048], who[64], base[] = "/tmp/test-token-check-other.XXXXXX";
	const char *dir;
	unsigned int uid = geteuid() == 0 ? 65534 : (unsigned int)geteuid();

	/* under /tmp, not TMPDIR: the other user must reach the directory,
	   and TMPDIR may lie inside a directory only its owner may enter */
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chmod(base, 0711), 0);
	snprintf(who, sizeof(who), "uid %u", uid);

	/* the directory cannot be opened: UNKNOWN, and who checked */
	dir = tt_new_dir_under(base);
	text = account_config(dir, "refresh_token");
	tt_store_write(path_in(dir, "acct.json"), "at-1", NOW + 600, "rt-1");
	ck_assert_int_eq(chmod(dir, 0000), 0);
	check_as_other(text, out, sizeof(out));
	ck_assert_msg(strncmp(out, "UNKNOWN store_unreadable ", 25) == 0 &&
		      strstr(out, who) != NULL && strstr(out, "as root") != NULL, "%s", out);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	free(text);

	/* readable, but neither the directory nor the store may be replaced */
	dir = tt_new_dir_under(base);
	text = account_config(dir, "refresh_token");
	tt_store_write(path_in(dir, "acct.json"), "at-1", NOW + 600, "rt-1");
	ck_assert_int_eq(chmod(path_in(dir, "acct.json"), 0444), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0);
	check_as_other(text, out, sizeof(out));
	ck_assert_msg(strncmp(out, "WARNING store_not_writable ", 27) == 0 &&
		      strstr(out, "is not writable by uid") != NULL &&
		      strstr(out, who) != NULL, "%s", out);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	free(text);

	/* a writable directory, but another user's store (only root can
	   replace it keeping its owner) */
	if (geteuid() == 0) {
		dir = tt_new_dir_under(base);
		text = account_config(dir, "refresh_token");
		tt_store_write(path_in(dir, "acct.json"), "at-1", NOW + 600, "rt-1");
		ck_assert_int_eq(chmod(path_in(dir, "acct.json"), 0644), 0);
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
		check_as_other(text, out, sizeof(out));
		ck_assert_msg(strncmp(out, "WARNING store_not_writable ", 27) == 0 &&
			      strstr(out, "is owned by uid 0: uid 65534 cannot replace it") != NULL,
			      "%s", out);
		free(text);
	}
	tt_remove_tree(base);
}
END_TEST

/* The check loads the config without its secrets: a secret file it may
   not read (or a missing assertion key) does not stop it, and a client of
   such a config makes no token request. */
START_TEST(test_config_without_secrets)
{
	const char *dir = tt_new_dir();
	char text[2048], conf[PATH_MAX], *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_check_result r;
	struct moa2_token token;

	snprintf(conf, sizeof(conf), "%s/client.conf", dir);
	snprintf(text, sizeof(text), "ca_file = %s\ntoken_dir = %s\n"
		 "[account acct]\nprovider = generic\ntoken_endpoint = https://idp.invalid/t\n"
		 "client_id = relay\nclient_secret_file = %s/absent.secret\n"
		 "[account sa]\nprovider = google\ngrant = jwt_bearer\n"
		 "assertion_key_file = %s/absent.json\nassertion_subject = relay@example.com\n",
		 tt_ca_file, dir, dir, dir);
	tt_write_file(conf, text, 0644);
	ck_assert_int_eq(moa2_token_config_load(conf, &config, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "absent.secret"));
	free(error);
	ck_assert_int_eq(moa2_token_config_load_without_secrets(conf, &config, &error), 0);
	ck_assert(config->without_secrets);
	ck_assert_int_eq(config->accounts[0].client_auth, MOA2_TOKEN_AUTH_POST);
	ck_assert_str_eq(config->accounts[0].client_secret, "");
	client = tt_client(config, NULL);
	tt_store_write(path_in(dir, "acct.json"), "at-1", NOW + 600, "rt-1");
	ck_assert_int_eq(moa2_token_check(client, "acct", &defaults, (time_t)NOW, &r),
			 MOA2_CHECK_OK);
	moa2_check_result_clear(&r);
	ck_assert_int_eq(moa2_token_check(client, "sa", &defaults, (time_t)NOW, &r),
			 MOA2_CHECK_OK);
	moa2_check_result_clear(&r);
	ck_assert_int_eq(moa2_token_get(client, "acct", MOA2_TOKEN_FORCE_REFRESH, &token,
					&error), -1);
	ck_assert_ptr_nonnull(strstr(error, "loaded without its secrets"));
	free(error);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
}
END_TEST

/* ------------------------------------------------------------- outputs */

static void
three_results(struct moa2_check_result r[3])
{
	const char *dir = tt_new_dir();
	char text[2048], json[512];
	struct moa2_token_config *config;
	struct moa2_token_client *client;

	snprintf(text, sizeof(text), "token_dir = %s\n"
		 "[account alpha]\nprovider = generic\ntoken_endpoint = %s\nclient_id = c\n"
		 "[account beta]\nprovider = generic\ntoken_endpoint = %s\nclient_id = c\n"
		 "[account gamma]\nprovider = generic\ntoken_endpoint = %s\nclient_id = c\n",
		 dir, "https://idp.invalid/token", "https://idp.invalid/token",
		 "https://idp.invalid/token");
	config = tt_config(text);
	client = tt_client(config, NULL);
	snprintf(json, sizeof(json), "{\"version\":1,\"access_token\":\"a\",\"expires_at\":%lld,"
		 "\"refresh_token\":\"r\",\"refresh_token_expires_at\":%lld}",
		 (long long)(NOW + 3000), (long long)(NOW + 864000));
	tt_write_file(path_in(dir, "alpha.json"), json, 0600);
	snprintf(json, sizeof(json), "{\"version\":1,\"refresh_token\":\"r\",\"last_request\":"
		 "{\"at\":%lld,\"ok\":false,\"error\":\"invalid_grant\",\"http_status\":400,"
		 "\"description\":\"a|b\"}}", (long long)(NOW - 60));
	tt_write_file(path_in(dir, "beta.json"), json, 0600);
	snprintf(json, sizeof(json), "{\"version\":1,\"access_token\":\"a\",\"expires_at\":%lld,"
		 "\"refresh_token\":\"r\"}", (long long)(NOW + 600));
	tt_write_file(path_in(dir, "gamma.json"), json, 0600);
	moa2_token_check(client, "alpha", &defaults, (time_t)NOW, &r[0]);
	moa2_token_check(client, "beta", &defaults, (time_t)NOW, &r[1]);
	moa2_token_check(client, "gamma", &defaults, (time_t)NOW, &r[2]);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
}

START_TEST(test_check_line)
{
	struct moa2_check_result r[3];
	char *line;
	static const char head[] = "TOKEN CRITICAL - beta: the refresh token was rejected "
		"(invalid_grant: a/b): run `mail-oauth2 token authorize -c test.conf beta`";

	three_results(r);
	line = moa2_check_line(r, 3, &defaults);
	ck_assert_msg(strncmp(line, head, sizeof(head) - 1) == 0, "%s", line);
	ck_assert_msg(strstr(line, " / alpha: OK / gamma: OK | alpha_access_token=3000s "
			     "alpha_refresh_token=864000s;604800;0 gamma_access_token=600s") != NULL,
		      "%s", line);
	ck_assert_ptr_null(strchr(strchr(line, '|') + 1, '|'));
	ck_assert_ptr_null(strchr(line, '\n'));
	free(line);

	/* all OK: each account's state */
	line = moa2_check_line(r, 1, &defaults);
	ck_assert_str_eq(line, "TOKEN OK - alpha: access token valid for 50 min; refresh "
			 "token valid for 10 days | alpha_access_token=3000s "
			 "alpha_refresh_token=864000s;604800;0");
	free(line);
	line = moa2_check_line(r, 0, &defaults);
	ck_assert_str_eq(line, "TOKEN UNKNOWN - no account to check");
	free(line);
	line = moa2_check_error_line("config error: x");
	ck_assert_str_eq(line, "TOKEN UNKNOWN - config error: x");
	free(line);
	for (unsigned int i = 0; i < 3; i++)
		moa2_check_result_clear(&r[i]);
}
END_TEST

START_TEST(test_check_json)
{
	struct moa2_check_result r[3];
	const struct moa2_json *accounts, *beta, *last, *finding;
	struct moa2_json *doc;
	const char *error, *str;
	int64_t num;
	bool flag;
	char *json;

	three_results(r);
	json = moa2_check_json(r, 3, &defaults, "test.conf");
	ck_assert_msg(moa2_json_parse(json, strlen(json), &doc, &error) == 0, "%s: %s",
		      error, json);
	ck_assert_int_eq(moa2_json_get_string(doc, "status", &str), 1);
	ck_assert_str_eq(str, "CRITICAL");
	ck_assert_int_eq(moa2_json_get_int64(doc, "exit_code", &num), 1);
	ck_assert_int_eq(num, 2);
	ck_assert_int_eq(moa2_json_get_int64(doc, "uid", &num), 1);
	ck_assert_int_eq(num, (int64_t)geteuid());
	ck_assert_int_eq(moa2_json_get_int64(doc, "warning_seconds", &num), 1);
	ck_assert_int_eq(num, 604800);
	ck_assert_int_eq(moa2_json_get(doc, "accounts", &accounts), 1);
	ck_assert_uint_eq(moa2_json_array_len(accounts), 3);
	beta = moa2_json_array_get(accounts, 1);
	ck_assert_int_eq(moa2_json_get_string(beta, "account", &str), 1);
	ck_assert_str_eq(str, "beta");
	ck_assert_int_eq(moa2_json_get_bool(beta, "store_writable", &flag), 1);
	ck_assert(flag);
	ck_assert_int_eq(moa2_json_get(beta, "access_token_expires_at", &last), 1);
	ck_assert_int_eq(moa2_json_type(last), MOA2_JSON_NULL);
	ck_assert_int_eq(moa2_json_get(beta, "last_request", &last), 1);
	ck_assert_int_eq(moa2_json_get_string(last, "error", &str), 1);
	ck_assert_str_eq(str, "invalid_grant");
	ck_assert_int_eq(moa2_json_get_string(last, "description", &str), 1);
	ck_assert_str_eq(str, "a|b");
	ck_assert_int_eq(moa2_json_get(beta, "findings", &finding), 1);
	finding = moa2_json_array_get(finding, 0);
	ck_assert_int_eq(moa2_json_get_string(finding, "code", &str), 1);
	ck_assert_str_eq(str, "request_refused");
	ck_assert_int_eq(moa2_json_get_int64(moa2_json_array_get(accounts, 0),
					     "refresh_token_expires_at", &num), 1);
	ck_assert_int_eq(num, NOW + 864000);
	moa2_json_free(&doc);
	free(json);

	json = moa2_check_error_json("usage: \"x\"");
	ck_assert_int_eq(moa2_json_parse(json, strlen(json), &doc, &error), 0);
	ck_assert_int_eq(moa2_json_get_int64(doc, "exit_code", &num), 1);
	ck_assert_int_eq(num, 3);
	ck_assert_int_eq(moa2_json_get_string(doc, "error", &str), 1);
	ck_assert_str_eq(str, "usage: \"x\"");
	moa2_json_free(&doc);
	free(json);
	for (unsigned int i = 0; i < 3; i++)
		moa2_check_result_clear(&r[i]);
}
END_TEST

int
main(void)
{
	Suite *suite = suite_create("token-check");
	TCase *tc = tcase_create("token-check");
	int ret;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_outcome_roundtrip);
	tcase_add_test(tc, test_request_line_and_outcome);
	tcase_add_test(tc, test_failure_outcomes);
	tcase_add_loop_test(tc, test_check_rules, 0,
			    (int)(sizeof(check_cases) / sizeof(check_cases[0])));
	tcase_add_test(tc, test_worst);
	tcase_add_test(tc, test_check_as_another_user);
	tcase_add_test(tc, test_config_without_secrets);
	tcase_add_test(tc, test_check_line);
	tcase_add_test(tc, test_check_json);
	suite_add_tcase(suite, tc);
	tt_env_init("test-token-check");
	ret = tc_run_suite(suite);
	tt_env_cleanup();
	return ret;
}
