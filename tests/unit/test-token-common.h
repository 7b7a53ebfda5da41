/* SPDX-License-Identifier: MIT */
#ifndef TEST_TOKEN_COMMON_H
#define TEST_TOKEN_COMMON_H

/* Fixtures shared by the token client tests: a temp dir with a throwaway
   CA, the fault-injecting HTTPS server as token endpoint, configs built
   from text, a log capture and the server's request counters. */

#include "test-common.h"

#include "mail-oauth2/log.h"
#include "token/token-client-private.h"
#include "mail-oauth2/token-config.h"
#include "mail-oauth2/token-store.h"

extern char tt_dir[];     /* the suite's temp dir */
extern char tt_ca_file[]; /* its CA (make-ca.sh) */

/* Creates the temp dir and the CA; tt_env_cleanup removes them. Call from
   main() before running the suite. */
void tt_env_init(const char *name);
void tt_env_cleanup(void);
/* rm -rf path. */
void tt_remove_tree(const char *path);

/* A fresh directory under tt_dir (for a store); returns a static buffer
   that stays valid until the next call. */
const char *tt_new_dir(void);
/* The same under base. */
const char *tt_new_dir_under(const char *base);

/* Starts the fault server (TLS, tt_ca_file) with the routes; its document
   root is tt_dir/root. */
void tt_server_start(const char *const *routes);
void tt_server_stop(void);
/* "https://127.0.0.1:PORT" + path, into a static buffer. */
const char *tt_url(const char *path);
/* Sets a runtime route through /_control: mode (static, echo, status,
   down...), the status and body of mode status, a delay before answering.
   Fails the test unless the server accepts it. */
void tt_route(const char *path, const char *mode, int status, const char *body,
	      unsigned int delay_ms);
/* A token endpoint at path answering json with status 200. */
void tt_token_route(const char *path, const char *json, unsigned int delay_ms);
/* Requests to path counted by the server (excludes control calls). */
unsigned int tt_count(const char *path);
/* Zeroes the counters. */
void tt_reset_stats(void);

/* Writes a file (mode applied with chmod). */
void tt_write_file(const char *path, const char *content, unsigned int mode);
/* Reads a whole file into a malloc()ed string, NULL when absent. */
char *tt_read_file(const char *path);

/* Loads a config from text; fails the test with the error if it does not
   load. The global line "ca_file = tt_ca_file" is prepended. */
struct moa2_token_config *tt_config(const char *text);
/* The error of a config that must not load (malloc()ed). */
char *tt_config_error(const char *text);

/* A logger that keeps every message (one line each) for assertions. */
struct tt_log {
	struct moa2_logger logger;
	char text[16384];
};
void tt_log_init(struct tt_log *log);

/* Creates a client or fails the test. */
struct moa2_token_client *tt_client(const struct moa2_token_config *config,
				    struct tt_log *log);

/* A store state with the given tokens and expiry, written to path. */
void tt_store_write(const char *path, const char *access_token,
		    int64_t expires_at, const char *refresh_token);
/* Reads the store at path (must parse). */
void tt_store_read(const char *path, struct moa2_token_state *state_r);

/* Token endpoint answer as JSON text (static buffer). */
const char *tt_token_json(const char *access_token, unsigned int expires_in,
			  const char *refresh_token);

struct moa2_json;

/* The raw responses a client saw (moa2_token_client_set_response_hook
   with tt_capture_response): the last one's body, and how many. */
struct tt_captured {
	char body[16384];
	unsigned int count;
};
void tt_capture_response(void *context, const struct moa2_http_response *resp);
/* The echo route's answer in c (a POST of a form, else the test fails),
   parsed; its form member key and its header name (borrowed, NULL when
   absent). */
struct moa2_json *tt_echo_parse(const struct tt_captured *c);
const char *tt_echo_form(const struct moa2_json *doc, const char *key);
const char *tt_echo_header(const struct moa2_json *doc, const char *name);

#endif
