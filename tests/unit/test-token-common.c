/* SPDX-License-Identifier: MIT */
/* Fixtures of the token client tests (see test-token-common.h). */

#include "test-token-common.h"

#include "support/http-client.h"
#include "support/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TEST_SUPPORT_DIR
#define TEST_SUPPORT_DIR TEST_DATA_DIR "/../integration/lib"
#endif
#define MAKE_CA TEST_SUPPORT_DIR "/make-ca.sh"

char tt_dir[1024];
char tt_ca_file[PATH_MAX];
static char tls_dir[1100];
static char root_dir[1100];
static unsigned int dir_serial;
static struct tc_fault_server server;

void
tt_env_init(const char *name)
{
	const char *base = getenv("TMPDIR");
	char cmd[PATH_MAX * 2];

	snprintf(tt_dir, sizeof(tt_dir), "%s/%s.XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp", name);
	if (mkdtemp(tt_dir) == NULL) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
	snprintf(tls_dir, sizeof(tls_dir), "%s/ca", tt_dir);
	snprintf(tt_ca_file, sizeof(tt_ca_file), "%s/ca.pem", tls_dir);
	snprintf(root_dir, sizeof(root_dir), "%s/root", tt_dir);
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", MAKE_CA, tls_dir);
	if (system(cmd) != 0 || mkdir(root_dir, 0700) < 0) {
		fprintf(stderr, "%s: cannot create the fixtures in %s\n", name, tt_dir);
		exit(EXIT_FAILURE);
	}
}

void
tt_remove_tree(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

void
tt_env_cleanup(void)
{
	tt_remove_tree(tt_dir);
}

const char *
tt_new_dir_under(const char *base)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/d%ld-%u", base, (long)getpid(), dir_serial++);
	ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
	return path;
}

const char *
tt_new_dir(void)
{
	return tt_new_dir_under(tt_dir);
}

void
tt_server_start(const char *const *routes)
{
	tc_fault_server_start(&server, tt_dir, root_dir, tls_dir, routes);
}

void
tt_server_stop(void)
{
	tc_fault_server_stop(&server);
}

const char *
tt_url(const char *path)
{
	static char url[512];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", server.port, path);
	return url;
}

static struct moa2_http_client *
plain_http(void)
{
	struct moa2_http_settings settings = { .ca_file = tt_ca_file };
	struct moa2_http_client *http;
	const char *error;

	ck_assert_msg(moa2_http_client_create(&settings, &http, &error) == 0,
		      "http client: %s", error);
	return http;
}

void
tt_route(const char *path, const char *mode, int status, const char *body,
	 unsigned int delay_ms)
{
	struct moa2_http_client *http = plain_http();
	struct moa2_http_response resp;
	const char *error;
	char *enc_body = moa2_url_encode(body != NULL ? body : "");
	char *enc_path = moa2_url_encode(path);
	char url[8192];
	int len;

	ck_assert_ptr_nonnull(enc_body);
	ck_assert_ptr_nonnull(enc_path);
	len = snprintf(url, sizeof(url), "%s?path=%s&mode=%s&status=%d&delay=%u.%03u%s%s",
		       tt_url("/_control"), enc_path, mode, status, delay_ms / 1000,
		       delay_ms % 1000, body != NULL ? "&body=" : "",
		       body != NULL ? enc_body : "");
	ck_assert_int_lt(len, (int)sizeof(url));
	ck_assert_msg(moa2_http_get(http, url, NULL, &resp, &error) == 0,
		      "/_control: %s", error);
	ck_assert_msg(resp.status == 200, "/_control: %s", resp.body);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&http);
	free(enc_body);
	free(enc_path);
}

void
tt_token_route(const char *path, const char *json, unsigned int delay_ms)
{
	tt_route(path, "status", 200, json, delay_ms);
}

unsigned int
tt_count(const char *path)
{
	struct moa2_http_client *http = plain_http();
	struct moa2_http_response resp;
	struct moa2_json *doc;
	const char *error;
	int64_t count = 0;

	ck_assert_msg(moa2_http_get(http, tt_url("/_stats"), NULL, &resp, &error) == 0,
		      "/_stats: %s", error);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(moa2_json_parse(resp.body, resp.body_len, &doc, &error), 0);
	ck_assert_int_ge(moa2_json_get_int64(doc, path, &count), 0);
	moa2_json_free(&doc);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&http);
	return (unsigned int)count;
}

void
tt_reset_stats(void)
{
	struct moa2_http_client *http = plain_http();
	struct moa2_http_response resp;
	const char *error;

	ck_assert_int_eq(moa2_http_get(http, tt_url("/_control?reset_stats=1"), NULL,
				       &resp, &error), 0);
	ck_assert_int_eq(resp.status, 200);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&http);
}

void
tt_write_file(const char *path, const char *content, unsigned int mode)
{
	FILE *fp = fopen(path, "w");

	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(content, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

char *
tt_read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *data;
	size_t len;

	if (fp == NULL)
		return NULL;
	data = malloc(1024 * 1024);
	ck_assert_ptr_nonnull(data);
	len = fread(data, 1, 1024 * 1024 - 1, fp);
	data[len] = '\0';
	fclose(fp);
	return data;
}

static char *
config_text(const char *text)
{
	size_t len = strlen(text) + strlen(tt_ca_file) + 64;
	char *full = malloc(len);

	ck_assert_ptr_nonnull(full);
	snprintf(full, len, "ca_file = %s\n%s", tt_ca_file, text);
	return full;
}

struct moa2_token_config *
tt_config(const char *text)
{
	struct moa2_token_config *config;
	char *full = config_text(text), *error = NULL;

	if (moa2_token_config_load_string("test.conf", full, strlen(full), &config,
					  &error) < 0)
		ck_abort_msg("config does not load: %s\n%s", error, full);
	free(full);
	return config;
}

char *
tt_config_error(const char *text)
{
	struct moa2_token_config *config;
	char *full = config_text(text), *error = NULL;

	ck_assert_msg(moa2_token_config_load_string("test.conf", full, strlen(full),
						    &config, &error) < 0,
		      "config loads but should not:\n%s", full);
	free(full);
	ck_assert_ptr_nonnull(error);
	return error;
}

static void
log_capture(void *context, enum moa2_log_level level, const char *message)
{
	struct tt_log *log = context;
	size_t len = strlen(log->text);

	snprintf(log->text + len, sizeof(log->text) - len, "%s: %s\n",
		 moa2_log_level_name(level), message);
}

void
tt_log_init(struct tt_log *log)
{
	memset(log, 0, sizeof(*log));
	log->logger.func = log_capture;
	log->logger.context = log;
	log->logger.debug = true;
}

struct moa2_token_client *
tt_client(const struct moa2_token_config *config, struct tt_log *log)
{
	struct moa2_token_client *client;
	char *error = NULL;

	if (moa2_token_client_create(config, log == NULL ? NULL : &log->logger,
				     &client, &error) < 0)
		ck_abort_msg("client: %s", error);
	return client;
}

void
tt_store_write(const char *path, const char *access_token, int64_t expires_at,
	       const char *refresh_token)
{
	struct moa2_token_store *store;
	struct moa2_token_state state = { 0 };
	char *error = NULL;

	moa2_token_state_set(&state.account, "test");
	moa2_token_state_set(&state.token_type, "Bearer");
	moa2_token_state_set(&state.access_token, access_token);
	state.expires_at = expires_at;
	moa2_token_state_set(&state.refresh_token, refresh_token);
	state.refresh_token_at = expires_at - 3600;
	state.updated_at = expires_at - 3600;
	if (moa2_token_store_open(path, &store, &error) < 0 ||
	    moa2_token_store_write(store, &state, &error) < 0)
		ck_abort_msg("store %s: %s", path, error);
	moa2_token_store_close(&store);
	moa2_token_state_clear(&state);
}

void
tt_store_read(const char *path, struct moa2_token_state *state_r)
{
	struct moa2_token_store *store;
	char *error = NULL;

	if (moa2_token_store_open(path, &store, &error) < 0)
		ck_abort_msg("store %s: %s", path, error);
	if (moa2_token_store_read(store, state_r, &error) != MOA2_STORE_READ_OK)
		ck_abort_msg("store %s does not read back: %s", path,
			     error != NULL ? error : "missing");
	moa2_token_store_close(&store);
}

const char *
tt_token_json(const char *access_token, unsigned int expires_in,
	      const char *refresh_token)
{
	static char json[1024];

	if (refresh_token != NULL)
		snprintf(json, sizeof(json), "{\"access_token\":\"%s\",\"token_type\":"
			 "\"Bearer\",\"expires_in\":%u,\"refresh_token\":\"%s\"}",
			 access_token, expires_in, refresh_token);
	else
		snprintf(json, sizeof(json), "{\"access_token\":\"%s\",\"token_type\":"
			 "\"Bearer\",\"expires_in\":%u}", access_token, expires_in);
	return json;
}

/* ------------------------------------------------------------ echoes */

void
tt_capture_response(void *context, const struct moa2_http_response *resp)
{
	struct tt_captured *c = context;

	snprintf(c->body, sizeof(c->body), "%s", resp->body);
	c->count++;
}

/* The echoed request: the form member key, or NULL. Borrowed from doc. */
const char *
tt_echo_form(const struct moa2_json *doc, const char *key)
{
	const struct moa2_json *form;
	const char *value = NULL;

	ck_assert_int_eq(moa2_json_get(doc, "form", &form), 1);
	if (moa2_json_get_string(form, key, &value) <= 0)
		return NULL;
	return value;
}

const char *
tt_echo_header(const struct moa2_json *doc, const char *name)
{
	const struct moa2_json *headers;
	const char *value = NULL;

	ck_assert_int_eq(moa2_json_get(doc, "headers", &headers), 1);
	if (moa2_json_get_string(headers, name, &value) <= 0)
		return NULL;
	return value;
}

struct moa2_json *
tt_echo_parse(const struct tt_captured *c)
{
	struct moa2_json *doc;
	const char *error, *method;

	ck_assert_msg(moa2_json_parse(c->body, strlen(c->body), &doc, &error) == 0,
		      "echo: %s: %s", error, c->body);
	ck_assert_int_eq(moa2_json_get_string(doc, "method", &method), 1);
	ck_assert_str_eq(method, "POST");
	ck_assert_str_eq(tt_echo_header(doc, "content-type"),
			 "application/x-www-form-urlencoded");
	return doc;
}
