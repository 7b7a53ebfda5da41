/* SPDX-License-Identifier: MIT */
/* The token store and the refresh logic around it: JSON form, the refresh
   margin, one refresh for 16 parallel processes, kill -9 during writes,
   corrupt stores, mode and owner, an unwritable store, dropping a rejected
   token, a lock that is held too long. */

#include "test-token-common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PARALLEL 16
#define KILL_ROUNDS 150

static time_t fake_now;

static time_t
fake_clock(void *context)
{
	(void)context;
	return fake_now;
}

static const char *
store_path(const char *dir, const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static char *
account_config(const char *dir, const char *grant, const char *extra)
{
	char *text = malloc(4096);

	ck_assert_ptr_nonnull(text);
	snprintf(text, 4096,
		 "token_dir = %s\n"
		 "[account acct]\n"
		 "provider = generic\n"
		 "token_endpoint = %s\n"
		 "grant = %s\n"
		 "client_id = relay\n"
		 "client_secret = s3cret\n"
		 "%s", dir, tt_url("/token"), grant, extra != NULL ? extra : "");
	return text;
}

/* --------------------------------------------------------------- state */

START_TEST(test_state_json_roundtrip)
{
	struct moa2_token_state in = { 0 }, out;
	const char *error = NULL;
	size_t len;
	char *json;

	moa2_token_state_set(&in.account, "m365");
	moa2_token_state_set(&in.token_type, "Bearer");
	moa2_token_state_set(&in.access_token, "eyJ.a-b_c~d+e/f=");
	in.expires_at = 1700003600;
	moa2_token_state_set(&in.scope, "a \"quoted\" \\ scope\n\x01");
	moa2_token_state_set(&in.refresh_token, "rt-1");
	in.refresh_token_at = 1700000000;
	in.updated_at = 1700000001;
	json = moa2_token_state_to_json(&in, &len);
	ck_assert_uint_eq(strlen(json), len);
	ck_assert_int_eq(moa2_token_state_from_json(json, len, &out, &error), 0);
	ck_assert_str_eq(out.account, "m365");
	ck_assert_str_eq(out.access_token, in.access_token);
	ck_assert_str_eq(out.scope, in.scope);
	ck_assert_str_eq(out.refresh_token, "rt-1");
	ck_assert_int_eq(out.expires_at, 1700003600);
	ck_assert_int_eq(out.refresh_token_at, 1700000000);
	ck_assert_int_eq(out.updated_at, 1700000001);
	moa2_token_state_clear(&out);
	moa2_secret_free(json, len + 1);

	/* no access token: no expires_at either */
	moa2_secret_str_free(&in.access_token);
	json = moa2_token_state_to_json(&in, &len);
	ck_assert_ptr_null(strstr(json, "expires_at"));
	ck_assert_int_eq(moa2_token_state_from_json(json, len, &out, &error), 0);
	ck_assert_ptr_null(out.access_token);
	moa2_token_state_clear(&out);
	moa2_secret_free(json, len + 1);
	moa2_token_state_clear(&in);

	ck_assert_int_eq(moa2_token_state_from_json("{\"access_token\":\"x\"}", 20,
						    &out, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "version"));
	ck_assert_int_eq(moa2_token_state_from_json("{\"version\":1,\"access_token\":5}",
						    30, &out, &error), -1);
	ck_assert_int_eq(moa2_token_state_from_json("{\"version\":1,\"expires_at\":\"5\"}",
						    30, &out, &error), -1);
	ck_assert_int_eq(moa2_token_state_from_json("[1]", 3, &out, &error), -1);
	ck_assert_int_eq(moa2_token_state_from_json("{\"version\":1,\"refresh_token\":null}",
						    34, &out, &error), 0);
	ck_assert_ptr_null(out.refresh_token);
	moa2_token_state_clear(&out);
}
END_TEST

START_TEST(test_margin)
{
	static const struct {
		const char *token;
		int64_t expires_in; /* relative to now; INT64_MIN: expires_at 0 */
		unsigned int margin;
		bool refresh;
	} cases[] = {
		{ NULL, 3600, 300, true },
		{ "t", INT64_MIN, 300, true },
		{ "t", 301, 300, false },
		{ "t", 300, 300, true },
		{ "t", 299, 300, true },
		{ "t", 1, 0, false },
		{ "t", 0, 0, true },
		{ "t", -5, 0, true },
		{ "t", 3600, 3599, false },
		{ "t", 3600, 3600, true },
	};
	const time_t now = 1700000000;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_token_state state = { 0 };

		state.access_token = (char *)cases[i].token;
		state.expires_at = cases[i].expires_in == INT64_MIN ? 0 :
			(int64_t)now + cases[i].expires_in;
		ck_assert_msg(moa2_token_needs_refresh(&state, now, cases[i].margin) ==
			      cases[i].refresh, "case %u", i);
	}
}
END_TEST

/* The freshness rule (issue 12): lifetime x age -> fresh / due /
   unusable, with the default margin unless a case sets one. */
START_TEST(test_freshness_table)
{
	static const struct {
		int64_t lifetime;   /* 0: unknown (a store without access_token_at) */
		int64_t age;        /* seconds since the token was obtained */
		unsigned int margin;
		enum moa2_token_freshness expect;
	} cases[] = {
		/* 60 s (margin 15 s): reused for 45 s, never sent in its last 10 */
		{ 60, 0, 300, MOA2_TOKEN_FRESH },
		{ 60, 44, 300, MOA2_TOKEN_FRESH },
		{ 60, 45, 300, MOA2_TOKEN_DUE },
		{ 60, 49, 300, MOA2_TOKEN_DUE },
		{ 60, 50, 300, MOA2_TOKEN_UNUSABLE },
		{ 60, 61, 300, MOA2_TOKEN_UNUSABLE },
		/* 300 s, Keycloak's default (margin 75 s) */
		{ 300, 1, 300, MOA2_TOKEN_FRESH },
		{ 300, 224, 300, MOA2_TOKEN_FRESH },
		{ 300, 225, 300, MOA2_TOKEN_DUE },
		{ 300, 289, 300, MOA2_TOKEN_DUE },
		{ 300, 290, 300, MOA2_TOKEN_UNUSABLE },
		/* 1 h: the configured margin, as before */
		{ 3600, 3299, 300, MOA2_TOKEN_FRESH },
		{ 3600, 3300, 300, MOA2_TOKEN_DUE },
		{ 3600, 3590, 300, MOA2_TOKEN_UNUSABLE },
		/* 20 s: the margin never goes below 10 s */
		{ 20, 9, 300, MOA2_TOKEN_FRESH },
		{ 20, 10, 300, MOA2_TOKEN_UNUSABLE },
		/* a smaller configured margin wins */
		{ 60, 50, 5, MOA2_TOKEN_FRESH },
		{ 60, 55, 5, MOA2_TOKEN_UNUSABLE },
		{ 300, 260, 30, MOA2_TOKEN_FRESH },
		{ 300, 270, 30, MOA2_TOKEN_DUE },
		/* lifetime unknown: the configured margin */
		{ 0, 0, 300, MOA2_TOKEN_DUE },     /* expires in 200 s */
		{ 0, 0, 100, MOA2_TOKEN_FRESH },
	};
	const time_t now = 1700000000;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_token_state state = { 0 };
		enum moa2_token_freshness got;

		state.access_token = (char *)"t";
		if (cases[i].lifetime == 0) {
			state.expires_at = (int64_t)now + 200;
		} else {
			state.access_token_at = (int64_t)now - cases[i].age;
			state.expires_at = state.access_token_at + cases[i].lifetime;
		}
		got = moa2_token_freshness(&state, now, cases[i].margin);
		ck_assert_msg(got == cases[i].expect, "case %u (lifetime %lld, age %lld, "
			      "margin %u): %d, expected %d", i, (long long)cases[i].lifetime,
			      (long long)cases[i].age, cases[i].margin, got, cases[i].expect);
		ck_assert(moa2_token_needs_refresh(&state, now, cases[i].margin) ==
			  (cases[i].expect != MOA2_TOKEN_FRESH));
	}
}
END_TEST

/* A burst of 50 uses under the default settings within two thirds of a
   token's life, with 60 s and 300 s tokens: one token request per
   lifetime (the old store's token, of unknown lifetime, is refreshed
   first; the new one carries its lifetime). Then, three quarters into the
   new token's life, one more. */
START_TEST(test_short_lifetime_burst)
{
	static const int64_t lifetimes[] = { 60, 300 };

	tt_server_start(NULL);
	for (unsigned int l = 0; l < 2; l++) {
		const int64_t life = lifetimes[l];
		const char *dir = tt_new_dir(), *path = store_path(dir, "acct.json");
		struct moa2_token_config *config;
		struct moa2_token_client *client;
		struct moa2_token_state state;
		struct moa2_token token;
		char *text, *error = NULL;
		time_t start;

		tt_token_route("/token", tt_token_json("at-new", (unsigned int)life, "rt-2"), 0);
		tt_reset_stats();
		start = fake_now = time(NULL);
		tt_store_write(path, "at-old", fake_now + life - 5, "rt-1");
		text = account_config(dir, "refresh_token", NULL);
		config = tt_config(text);
		free(text);
		client = tt_client(config, NULL);
		moa2_token_client_set_clock(client, fake_clock, NULL);
		for (int64_t i = 0; i < 50; i++) {
			fake_now = start + (time_t)(i * life * 2 / (3 * 50));
			ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
			ck_assert_str_eq(token.access_token, "at-new");
			ck_assert_int_gt(token.expires_at, (int64_t)fake_now + MOA2_TOKEN_MIN_REMAINING);
			moa2_token_clear(&token);
		}
		ck_assert_msg(tt_count("/token") == 1, "%lld s tokens: %u token requests "
			      "for 50 uses", (long long)life, tt_count("/token"));
		tt_store_read(path, &state);
		ck_assert_int_eq(state.access_token_at, start);
		ck_assert_int_eq(state.expires_at - state.access_token_at, life);
		moa2_token_state_clear(&state);
		fake_now = start + (time_t)(life * 3 / 4);
		ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
		ck_assert(token.refreshed);
		moa2_token_clear(&token);
		ck_assert_uint_eq(tt_count("/token"), 2);
		moa2_token_client_destroy(&client);
		moa2_token_config_free(&config);
	}
	tt_server_stop();
}
END_TEST

/* The margin through the client: a token valid for 200 s is refreshed with
   a 5 min margin and kept with a 100 s one. */
START_TEST(test_margin_client)
{
	const char *dir = tt_new_dir(), *path = store_path(dir, "acct.json");
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token token;
	char *text, *error = NULL;

	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-new", 3600, NULL), 0);
	fake_now = time(NULL);
	tt_store_write(path, "at-old", fake_now + 200, "rt-1");

	text = account_config(dir, "refresh_token", "refresh_margin = 100s\n");
	config = tt_config(text);
	free(text);
	client = tt_client(config, NULL);
	moa2_token_client_set_clock(client, fake_clock, NULL);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-old");
	ck_assert(!token.refreshed);
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/token"), 0);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);

	text = account_config(dir, "refresh_token", NULL); /* default margin 5m */
	config = tt_config(text);
	free(text);
	ck_assert_uint_eq(config->accounts[0].refresh_margin, 300);
	client = tt_client(config, NULL);
	moa2_token_client_set_clock(client, fake_clock, NULL);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-new");
	ck_assert(token.refreshed);
	ck_assert_int_eq(token.expires_at, fake_now + 3600);
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/token"), 1);
	/* the next call is served from the store */
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-new");
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/token"), 1);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

/* ---------------------------------------------------------- concurrency */

static void
child_get(const char *config_text, int start_fd, int result_fd)
{
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token token;
	char buf[64], *error = NULL;
	int status = 1;

	/* everyone starts at once, when the parent closes the pipe */
	if (read(start_fd, buf, 1) != 0)
		_exit(3);
	if (moa2_token_config_load_string("c.conf", config_text, strlen(config_text),
					  &config, &error) < 0)
		_exit(4);
	if (moa2_token_client_create(config, NULL, &client, &error) < 0)
		_exit(5);
	if (moa2_token_get(client, "acct", 0, &token, &error) == 0) {
		snprintf(buf, sizeof(buf), "%s\n", token.access_token);
		status = write(result_fd, buf, strlen(buf)) == (ssize_t)strlen(buf) ? 0 : 6;
		moa2_token_clear(&token);
	}
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	_exit(status);
}

START_TEST(test_parallel_one_request)
{
	const char *dir = tt_new_dir(), *path = store_path(dir, "acct.json");
	struct moa2_token_state state;
	int start[2], result[2], status;
	pid_t pids[PARALLEL];
	char *text, *full, buf[4096];
	size_t got = 0;
	ssize_t n;

	tt_server_start(NULL);
	/* a realistic latency, so that the processes really race */
	tt_token_route("/token", tt_token_json("at-new", 3600, "rt-2"), 300);
	tt_store_write(path, "at-old", time(NULL) - 10, "rt-1");
	text = account_config(dir, "refresh_token", NULL);
	full = malloc(strlen(text) + PATH_MAX + 32);
	ck_assert_ptr_nonnull(full);
	sprintf(full, "ca_file = %s\n%s", tt_ca_file, text);
	free(text);
	ck_assert_int_eq(pipe(start), 0);
	ck_assert_int_eq(pipe(result), 0);
	for (unsigned int i = 0; i < PARALLEL; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(start[1]);
			close(result[0]);
			child_get(full, start[0], result[1]);
		}
	}
	close(start[0]);
	close(result[1]);
	close(start[1]); /* go */
	while ((n = read(result[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(result[0]);
	for (unsigned int i = 0; i < PARALLEL; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "child %u: status %d", i, status);
	}
	free(full);
	/* every process got the new token, from one request */
	for (unsigned int i = 0; i < PARALLEL; i++) {
		char *line = i == 0 ? strtok(buf, "\n") : strtok(NULL, "\n");

		ck_assert_ptr_nonnull(line);
		ck_assert_str_eq(line, "at-new");
	}
	ck_assert_uint_eq(tt_count("/token"), 1);
	/* the rotated refresh token survived */
	tt_store_read(path, &state);
	ck_assert_str_eq(state.refresh_token, "rt-2");
	ck_assert_str_eq(state.access_token, "at-new");
	moa2_token_state_clear(&state);
	tt_server_stop();
}
END_TEST

/* ---------------------------------------------------------------- kill -9 */

static void
writer_loop(const char *path, int ready_fd)
{
	struct moa2_token_store *store;
	struct moa2_token_state state = { 0 };
	char *error = NULL, *big = malloc(40001);

	if (big == NULL || moa2_token_store_open(path, &store, &error) < 0)
		_exit(2);
	for (unsigned long i = 0;; i++) {
		size_t len = 1000 + (i * 7919) % 39000;

		memset(big, 'a' + (int)(i % 26), len);
		big[len] = '\0';
		moa2_token_state_set(&state.access_token, big);
		moa2_token_state_set(&state.refresh_token, "rt");
		state.expires_at = (int64_t)i + 1;
		if (moa2_token_store_write(store, &state, &error) < 0)
			_exit(3);
		if (i == 0 && (write(ready_fd, "r", 1) != 1 || close(ready_fd) < 0))
			_exit(4);
	}
}

START_TEST(test_kill9_never_corrupt)
{
	const char *dir = tt_new_dir(), *path;
	char path_copy[PATH_MAX];
	unsigned int round, longest = 0;

	path = store_path(dir, "acct.json");
	snprintf(path_copy, sizeof(path_copy), "%s", path);
	tt_store_write(path_copy, "initial", 1, "rt");
	tc_seed_init();
	for (round = 0; round < KILL_ROUNDS; round++) {
		struct moa2_token_store *store;
		struct moa2_token_state state;
		char *error = NULL, ready;
		int status, ready_pipe[2];
		pid_t pid;

		ck_assert_int_eq(pipe(ready_pipe), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(ready_pipe[0]);
			writer_loop(path_copy, ready_pipe[1]);
		}
		close(ready_pipe[1]);
		/* kill it somewhere in its stream of writes, not before it began */
		ck_assert_int_eq(read(ready_pipe[0], &ready, 1), 1);
		close(ready_pipe[0]);
		tc_sleep_ms((unsigned int)tc_rand_below(10));
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status), "the writer stopped by itself: %d", status);
		ck_assert_int_eq(moa2_token_store_open(path_copy, &store, &error), 0);
		ck_assert_msg(moa2_token_store_read(store, &state, &error) == MOA2_STORE_READ_OK,
			      "round %u: %s", round, error != NULL ? error : "missing");
		ck_assert_ptr_nonnull(state.access_token);
		if (state.expires_at > (int64_t)longest)
			longest = (unsigned int)state.expires_at;
		moa2_token_state_clear(&state);
		moa2_token_store_close(&store);
	}
	/* the writer did get through many writes: the kills hit real work */
	ck_assert_uint_gt(longest, 1);
	ck_assert_msg(access(store_path(dir, "acct.json.corrupt"), F_OK) < 0,
		      "a .corrupt copy appeared");
}
END_TEST

/* ---------------------------------------------------------------- corrupt */

START_TEST(test_corrupt_store_kept)
{
	const char *dir = tt_new_dir();
	char path[PATH_MAX], corrupt[PATH_MAX], *text, *error = NULL, *data;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token token;
	struct moa2_token_state state;
	struct tt_log log;

	snprintf(path, sizeof(path), "%s/acct.json", dir);
	snprintf(corrupt, sizeof(corrupt), "%s/acct.json.corrupt", dir);
	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-cc", 600, NULL), 0);
	tt_write_file(path, "{\"version\":1,\"refresh_tok", 0600);

	/* refresh_token grant: nothing to refresh with: a clear error, the
	   store left alone, a copy kept */
	text = account_config(dir, "refresh_token", NULL);
	config = tt_config(text);
	free(text);
	client = tt_client(config, NULL);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), -1);
	ck_assert_msg(strstr(error, "corrupt") != NULL &&
		      strstr(error, "acct.json.corrupt") != NULL &&
		      strstr(error, "mail-oauth2 token authorize -c test.conf acct") != NULL,
		      "%s", error);
	free(error);
	data = tt_read_file(path);
	ck_assert_str_eq(data, "{\"version\":1,\"refresh_tok");
	free(data);
	data = tt_read_file(corrupt);
	ck_assert_ptr_nonnull(data);
	ck_assert_str_eq(data, "{\"version\":1,\"refresh_tok");
	free(data);
	ck_assert_uint_eq(tt_count("/token"), 0);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);

	/* client_credentials: a new token replaces it; the copy stays */
	text = account_config(dir, "client_credentials", NULL);
	config = tt_config(text);
	free(text);
	tt_log_init(&log);
	client = tt_client(config, &log);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-cc");
	moa2_token_clear(&token);
	ck_assert_ptr_nonnull(strstr(log.text, "warning: account acct: token store"));
	tt_store_read(path, &state);
	ck_assert_str_eq(state.access_token, "at-cc");
	moa2_token_state_clear(&state);
	data = tt_read_file(corrupt);
	ck_assert_str_eq(data, "{\"version\":1,\"refresh_tok");
	free(data);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

/* ---------------------------------------------------------- mode, owner */

START_TEST(test_mode_and_owner_kept)
{
	const char *dir = tt_new_dir();
	char path[PATH_MAX], path2[PATH_MAX], *text, *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token token;
	struct stat st;
	uid_t uid = geteuid() == 0 ? 65534 : geteuid();
	gid_t gid = geteuid() == 0 ? 65534 : getegid();

	snprintf(path, sizeof(path), "%s/acct.json", dir);
	snprintf(path2, sizeof(path2), "%s/acct.json.tmp", dir);
	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-new", 600, "rt-2"), 0);
	tt_store_write(path, "at-old", 1, "rt-1");
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(chown(path, uid, gid), 0);

	text = account_config(dir, "refresh_token", NULL);
	config = tt_config(text);
	free(text);
	client = tt_client(config, NULL);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert(token.refreshed);
	moa2_token_clear(&token);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_uint_eq(st.st_uid, uid);
	ck_assert_uint_eq(st.st_gid, gid);
	ck_assert_int_eq(access(path2, F_OK), -1);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);

	/* a new store is created 0600 */
	ck_assert_int_eq(unlink(path), 0);
	text = account_config(dir, "client_credentials", NULL);
	config = tt_config(text);
	free(text);
	client = tt_client(config, NULL);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	moa2_token_clear(&token);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

/* ----------------------------------------------------- unwritable store */

struct captured {
	char body[4096];
};

static void
capture_response(void *context, const struct moa2_http_response *resp)
{
	struct captured *c = context;

	snprintf(c->body, sizeof(c->body), "%s", resp->body);
}

START_TEST(test_unwritable_store)
{
	const char *dir = tt_new_dir();
	char path[PATH_MAX], blocker[PATH_MAX], *text, *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token_state state;
	struct moa2_token token;
	struct captured captured = { "" };
	struct tt_log log;

	snprintf(path, sizeof(path), "%s/acct.json", dir);
	snprintf(blocker, sizeof(blocker), "%s/acct.json.tmp", dir);
	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-2", 3600, "rt-2"), 0);
	tt_store_write(path, "at-1", time(NULL) - 1, "rt-1");
	/* the temp file cannot be created (even by root) */
	ck_assert_int_eq(mkdir(blocker, 0700), 0);

	text = account_config(dir, "refresh_token", NULL);
	config = tt_config(text);
	free(text);
	tt_log_init(&log);
	client = tt_client(config, &log);
	moa2_token_client_set_response_hook(client, capture_response, &captured);
	/* mail still goes out with the fresh token, and the admin is warned */
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-2");
	moa2_token_clear(&token);
	ck_assert_msg(strstr(log.text, "warning: account acct: token store") != NULL &&
		      strstr(log.text, "memory") != NULL, "%s", log.text);
	ck_assert_ptr_null(strstr(log.text, "rt-2"));
	ck_assert_ptr_null(strstr(log.text, "at-2"));
	tt_store_read(path, &state);
	ck_assert_str_eq(state.refresh_token, "rt-1");
	moa2_token_state_clear(&state);

	/* the in-memory token is used, no new request */
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-2");
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/token"), 1);

	/* the next refresh of this process uses the rotated refresh token */
	tt_route("/token", "echo", 200, NULL, 0);
	ck_assert_int_eq(moa2_token_get(client, "acct", MOA2_TOKEN_FORCE_REFRESH,
					&token, &error), -1);
	free(error);
	ck_assert_msg(strstr(captured.body, "\"refresh_token\": \"rt-2\"") != NULL,
		      "%s", captured.body);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	ck_assert_int_eq(rmdir(blocker), 0);
	tt_server_stop();
}
END_TEST

/* ------------------------------------------------------------- invalidate */

START_TEST(test_invalidate)
{
	const char *dir = tt_new_dir();
	char path[PATH_MAX], *text, *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token_state state;
	struct moa2_token token;

	snprintf(path, sizeof(path), "%s/acct.json", dir);
	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-2", 3600, NULL), 0);
	tt_store_write(path, "at-1", time(NULL) + 3000, "rt-1");
	text = account_config(dir, "refresh_token", NULL);
	config = tt_config(text);
	free(text);
	client = tt_client(config, NULL);

	/* another token than the stored one: nothing is dropped */
	ck_assert_int_eq(moa2_token_invalidate(client, "acct", "at-other", &error), 0);
	tt_store_read(path, &state);
	ck_assert_str_eq(state.access_token, "at-1");
	moa2_token_state_clear(&state);

	ck_assert_int_eq(moa2_token_invalidate(client, "acct", "at-1", &error), 0);
	tt_store_read(path, &state);
	ck_assert_ptr_null(state.access_token);
	ck_assert_str_eq(state.refresh_token, "rt-1");
	moa2_token_state_clear(&state);

	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-2");
	ck_assert(token.refreshed);
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/token"), 1);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

/* ------------------------------------------------------------- lock held */

START_TEST(test_lock_held_too_long)
{
	const char *dir = tt_new_dir();
	char path[PATH_MAX], *text, *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token_store *holder;
	struct moa2_token token;
	struct tt_log log;
	time_t started;

	snprintf(path, sizeof(path), "%s/acct.json", dir);
	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-2", 3600, NULL), 0);
	ck_assert_int_eq(moa2_token_store_open(path, &holder, &error), 0);
	ck_assert_int_eq(moa2_token_store_lock(holder, 0, &error), MOA2_STORE_LOCKED);

	text = account_config(dir, "refresh_token", NULL);
	{
		char *with = malloc(strlen(text) + 32);

		ck_assert_ptr_nonnull(with);
		sprintf(with, "lock_timeout = 1s\n%s", text);
		config = tt_config(with);
		free(with);
	}
	free(text);
	tt_log_init(&log);
	client = tt_client(config, &log);

	/* expired: nothing to fall back to: a temporary failure */
	tt_store_write(path, "at-1", time(NULL) - 1, "rt-1");
	started = time(NULL);
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), -1);
	ck_assert_int_le(time(NULL) - started, 3);
	ck_assert_msg(strstr(error, "still locked") != NULL &&
		      strstr(error, "retried") != NULL, "%s", error);
	free(error);

	/* inside the margin but valid: used, with a warning */
	tt_store_write(path, "at-1", time(NULL) + 120, "rt-1");
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-1");
	moa2_token_clear(&token);
	ck_assert_ptr_nonnull(strstr(log.text, "still valid"));
	ck_assert_uint_eq(tt_count("/token"), 0);

	moa2_token_store_close(&holder);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

static Suite *
token_store_suite(void)
{
	Suite *s = suite_create("token-store");
	TCase *tc = tcase_create("store");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_state_json_roundtrip);
	tcase_add_test(tc, test_margin);
	tcase_add_test(tc, test_margin_client);
	tcase_add_test(tc, test_freshness_table);
	tcase_add_test(tc, test_short_lifetime_burst);
	tcase_add_test(tc, test_parallel_one_request);
	tcase_add_test(tc, test_kill9_never_corrupt);
	tcase_add_test(tc, test_corrupt_store_kept);
	tcase_add_test(tc, test_mode_and_owner_kept);
	tcase_add_test(tc, test_unwritable_store);
	tcase_add_test(tc, test_invalidate);
	tcase_add_test(tc, test_lock_held_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int ret;

	tt_env_init("test-token-store");
	ret = tc_run_suite(token_store_suite());
	tt_env_cleanup();
	return ret;
}
