/* SPDX-License-Identifier: MIT */
#ifndef CLI_TOKEN_H
#define CLI_TOKEN_H

/* Shared between the `mail-oauth2 token` subcommands (cli-token.c), the
   authorization flows (cli-token-authorize.c), the health check
   (cli-token-check.c) and the SMTP test dialogue (cli-token-smtp.c). */

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "mail-oauth2/token-client.h"
#include "mail-oauth2/token-config.h"

#define CLI_TOKEN_DEFAULT_CONF "/etc/mail-oauth2/client.conf"
#define CLI_TOKEN_CONF_ENV "MAIL_OAUTH2_CONF"

/* What every token subcommand has loaded. */
struct cli_token_ctx {
	const struct cli_command *cmd;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	bool verbose;
	bool quiet;   /* no warnings on stderr either (token check) */
	bool without_secrets; /* load no secret file (token check) */
};

/* Loads the config at path (NULL: $MAIL_OAUTH2_CONF, else the default)
   and creates the token client; prints the error and returns -1. */
int cli_token_load(struct cli_token_ctx *ctx, const char *path);
/* The same, the error (malloc()ed) in error_r instead of on stderr. */
int cli_token_load_quiet(struct cli_token_ctx *ctx, const char *path,
			 char **error_r);
void cli_token_unload(struct cli_token_ctx *ctx);

/* `mail-oauth2 token test-smtp`: argv[0] is "test-smtp". */
int cli_token_test_smtp(struct cli_token_ctx *ctx, int argc, char *argv[]);
extern const char cli_token_help_test_smtp[];

/* `mail-oauth2 token check` (cli-token-check.c): argv[0] is "check";
   returns the Nagios exit status. */
int cli_token_check(struct cli_token_ctx *ctx, int argc, char *argv[]);
extern const char cli_token_help_check[];

/* `mail-oauth2 token authorize` (cli-token-authorize.c): mode 0 device
   flow, 1 code flow with a loopback redirect, 2 code flow, pasted. */
int cli_token_authorize(struct cli_token_ctx *ctx, const char *name, int mode);

/* "N s", "N min", "N h" or "N days" for a duration in seconds. */
void cli_token_format_delta(int64_t seconds, char *buf, size_t size);
/* Prints the store's line of `token show`: path, mode, owner, a warning
   when others may read it. */
void cli_token_show_store_file(const char *path);

/* The account named name, or the only one when name is NULL; prints the
   error and returns NULL otherwise. */
const struct moa2_token_account *
cli_token_account(struct cli_token_ctx *ctx, const char *name);

#endif
