/* SPDX-License-Identifier: MIT */
/* mail-oauth2 token authorize | show | refresh | access | check |
   test-smtp: obtain the first tokens of an account (device authorization
   grant, RFC 8628, or authorization code with PKCE and a loopback
   redirect, RFC 8252), show a store's state, refresh on demand, print a
   valid access token for a program that takes a password command, check
   the stores for monitoring (cli-token-check.c), and test a relay
   (cli-token-smtp.c); the authorization flows are in
   cli-token-authorize.c.
   Failure behaviour: exit 0 success, 1 failure (with one line saying what
   to do), 3 config error, 64 usage error. Tokens, refresh tokens and
   secrets are never printed (fingerprints only), except by `access`: the
   access token alone on stdout, never to a terminal unless --force. */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail-oauth2/log.h"
#include "cli-token.h"

#define CLI_EXIT_CONFIG 3

const char cli_help_token[] =
	"Usage: " CLI_PROGRAM " token authorize [-c CONF] [--browser | --code] ACCOUNT\n"
	"       " CLI_PROGRAM " token show [-c CONF] [ACCOUNT...]\n"
	"       " CLI_PROGRAM " token refresh [-c CONF] ACCOUNT\n"
	"       " CLI_PROGRAM " token access [-c CONF] [--force] ACCOUNT\n"
	"       " CLI_PROGRAM " token check [-c CONF] [-w DURATION] [--json] [ACCOUNT...]\n"
	"       " CLI_PROGRAM " token test-smtp [-c CONF] [--account NAME] HOST:PORT\n"
	"\n"
	"Manages the tokens the Postfix relay plugin sends (XOAUTH2, OAUTHBEARER).\n"
	"CONF is the token client config (default: $" CLI_TOKEN_CONF_ENV ", else\n"
	CLI_TOKEN_DEFAULT_CONF "); ACCOUNT names one of its [account NAME] sections.\n"
	"\n"
	"  authorize   obtains the first tokens of a delegated account and writes\n"
	"              its token store. Default: the device authorization grant\n"
	"              (RFC 8628): prints a URL and a code to enter on any device.\n"
	"              --browser: authorization code with PKCE and a redirect to\n"
	"              http://127.0.0.1:PORT/callback (RFC 8252), for a browser on\n"
	"              this machine; --code: the same, but you paste the address\n"
	"              the browser ends up at (a browser elsewhere).\n"
	"  show        prints each account's state: store, access token expiry,\n"
	"              refresh token, scopes (fingerprints, never tokens).\n"
	"  refresh     gets a new access token now (and stores a rotated refresh\n"
	"              token), as the plugin would.\n"
	"  access      prints a valid access token (refreshed under the store's lock\n"
	"              when needed) on stdout and nothing else, for a password\n"
	"              command (msmtp passwordeval, getmail6 password_command, ...);\n"
	"              refuses a terminal unless --force.\n"
	"  check       one status line for a monitoring system (Nagios plugin\n"
	"              exit codes 0-3); see '" CLI_PROGRAM " token check --help'.\n"
	"  test-smtp   connects to a relay, STARTTLS, AUTH with the stored token\n"
	"              (refreshed if needed) and prints the server's replies;\n"
	"              see '" CLI_PROGRAM " token test-smtp --help'.\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF  the token client config\n"
	"      --browser      authorize: authorization code flow, loopback redirect\n"
	"      --code         authorize: authorization code flow, paste the result\n"
	"      --force        access: print the token to a terminal too\n"
	"  -v, --verbose      log debug messages on stderr\n"
	"  -h, --help         show this help\n"
	"\n"
	"Run it as the user the mail system runs as, or as root (a new store gets\n"
	"the owner of its directory).\n"
	"Exit status: 0 success, 1 failure, 3 config error, 64 usage error.\n";

static void
cli_token_log(void *context, enum moa2_log_level level, const char *message)
{
	const struct cli_token_ctx *ctx = context;

	/* what info says is printed on stdout already */
	if ((level < MOA2_LOG_WARNING || ctx->quiet) && !ctx->verbose)
		return;
	fprintf(stderr, CLI_PROGRAM ": %s: %s\n", moa2_log_level_name(level), message);
}

const struct moa2_token_account *
cli_token_account(struct cli_token_ctx *ctx, const char *name)
{
	const struct moa2_token_account *account;

	if (name == NULL) {
		if (ctx->config->accounts_count == 1)
			return &ctx->config->accounts[0];
		fprintf(stderr, "%s token: %s has %u accounts: name one (--account NAME)\n",
			CLI_PROGRAM, ctx->config->file, ctx->config->accounts_count);
		return NULL;
	}
	account = moa2_token_config_find(ctx->config, name);
	if (account == NULL)
		fprintf(stderr, "%s token: no [account %s] in %s\n", CLI_PROGRAM, name,
			ctx->config->file);
	return account;
}

int
cli_token_load_quiet(struct cli_token_ctx *ctx, const char *path, char **error_r)
{
	struct moa2_logger logger = { cli_token_log, ctx, ctx->verbose, NULL };

	if (path == NULL)
		path = getenv(CLI_TOKEN_CONF_ENV);
	if (path == NULL || *path == '\0')
		path = CLI_TOKEN_DEFAULT_CONF;
	if ((ctx->without_secrets ?
	     moa2_token_config_load_without_secrets(path, &ctx->config, error_r) :
	     moa2_token_config_load(path, &ctx->config, error_r)) < 0)
		return -1;
	if (moa2_token_client_create(ctx->config, &logger, &ctx->client, error_r) < 0) {
		moa2_token_config_free(&ctx->config);
		return -1;
	}
	return 0;
}

int
cli_token_load(struct cli_token_ctx *ctx, const char *path)
{
	char *error = NULL;

	if (cli_token_load_quiet(ctx, path, &error) == 0)
		return 0;
	fprintf(stderr, "config error: %s\n", error);
	free(error);
	return -1;
}

void
cli_token_unload(struct cli_token_ctx *ctx)
{
	moa2_token_client_destroy(&ctx->client);
	moa2_token_config_free(&ctx->config);
}

static void
format_time(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (when <= 0 || localtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "unknown");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

void
cli_token_format_delta(int64_t seconds, char *buf, size_t size)
{
	int64_t abs_s = seconds < 0 ? -seconds : seconds;

	if (abs_s < 120)
		snprintf(buf, size, "%lld s", (long long)abs_s);
	else if (abs_s < 7200)
		snprintf(buf, size, "%lld min", (long long)(abs_s / 60));
	else if (abs_s < 172800)
		snprintf(buf, size, "%lld h", (long long)(abs_s / 3600));
	else
		snprintf(buf, size, "%lld days", (long long)(abs_s / 86400));
}

/* ------------------------------------------------------------- commands */

void
cli_token_show_store_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		printf("  store:          %s (%s)\n", path, strerror(errno));
		return;
	}
	printf("  store:          %s (mode %04o, uid %u, gid %u)%s\n", path,
	       (unsigned int)(st.st_mode & 07777), (unsigned int)st.st_uid,
	       (unsigned int)st.st_gid, (st.st_mode & 077) != 0 ?
	       " - warning: readable by others than its owner" : "");
}

static void
show_last_request(const struct moa2_token_outcome *last)
{
	char when[64];

	if (last->at <= 0)
		return;
	format_time(last->at, when, sizeof(when));
	if (last->ok) {
		printf("  last request:   %s, OK (%u ms)\n", when, last->duration_ms);
		return;
	}
	printf("  last request:   %s, FAILED: %s", when,
	       last->error != NULL ? last->error : "unknown");
	if (last->http_status != 0)
		printf(" (HTTP %ld)", last->http_status);
	if (last->description != NULL)
		printf(": %s", last->description);
	printf("%s\n", last->temporary ? " - retried with the next use" :
	       " - see 'token check'");
}

static void
show_state(const struct moa2_token_state *state)
{
	char fp[MOA2_FINGERPRINT_LEN + 1], when[64], delta[32];
	int64_t now = (int64_t)time(NULL);

	if (state->access_token == NULL) {
		printf("  access token:   none (the next use fetches one)\n");
	} else {
		moa2_token_fingerprint(state->access_token, strlen(state->access_token), fp);
		format_time(state->expires_at, when, sizeof(when));
		cli_token_format_delta(state->expires_at - now, delta, sizeof(delta));
		printf("  access token:   %s, %s %s (%s%s)\n", fp,
		       state->expires_at > now ? "expires" : "EXPIRED", when,
		       state->expires_at > now ? "in " : "", delta);
	}
	if (state->refresh_token == NULL) {
		printf("  refresh token:  none\n");
	} else {
		moa2_token_fingerprint(state->refresh_token, strlen(state->refresh_token), fp);
		format_time(state->refresh_token_at, when, sizeof(when));
		printf("  refresh token:  %s, obtained %s", fp, when);
		if (state->refresh_token_expires_at > 0) {
			format_time(state->refresh_token_expires_at, when, sizeof(when));
			printf(", %s %s", state->refresh_token_expires_at > now ? "expires" :
			       "EXPIRED", when);
		}
		printf("\n");
	}
	printf("  scope:          %s\n", state->scope != NULL ? state->scope : "(not reported)");
	show_last_request(&state->last);
	format_time(state->updated_at, when, sizeof(when));
	printf("  updated:        %s\n", when);
}

static int
show_account(struct cli_token_ctx *ctx, const struct moa2_token_account *account)
{
	struct moa2_token_state state;
	char *error = NULL;
	int ret = CLI_EXIT_OK;

	printf("account %s (%s, grant %s, client %s)\n", account->name,
	       moa2_token_provider_name(account->provider),
	       moa2_token_grant_name(account->grant), account->client_id);
	printf("  token endpoint: %s\n", account->token_endpoint != NULL ?
	       account->token_endpoint : account->discovery_url != NULL ?
	       "(from discovery)" : "(none)");
	cli_token_show_store_file(account->token_file);
	switch (moa2_token_client_read(ctx->client, account, &state, &error)) {
	case MOA2_STORE_READ_OK:
		show_state(&state);
		if (account->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN &&
		    state.refresh_token == NULL) {
			printf("  -> no refresh token: run '%s token authorize -c %s %s'\n",
			       CLI_PROGRAM, ctx->config->file, account->name);
			ret = CLI_EXIT_FAIL;
		}
		moa2_token_state_clear(&state);
		break;
	case MOA2_STORE_READ_MISSING:
		if (account->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN) {
			printf("  -> not authorized yet: run '%s token authorize -c %s %s'\n",
			       CLI_PROGRAM, ctx->config->file, account->name);
			ret = CLI_EXIT_FAIL;
		} else {
			printf("  -> no token yet (the first use fetches one)\n");
		}
		break;
	default:
		printf("  -> %s\n", error);
		free(error);
		ret = CLI_EXIT_FAIL;
		break;
	}
	return ret;
}

static int
cmd_show(struct cli_token_ctx *ctx, int argc, char *argv[])
{
	int ret = CLI_EXIT_OK;

	if (argc == 0) {
		for (unsigned int i = 0; i < ctx->config->accounts_count; i++) {
			if (show_account(ctx, &ctx->config->accounts[i]) != CLI_EXIT_OK)
				ret = CLI_EXIT_FAIL;
		}
		if (ctx->config->accounts_count == 0)
			printf("no [account NAME] in %s\n", ctx->config->file);
		return ret;
	}
	for (int i = 0; i < argc; i++) {
		const struct moa2_token_account *account = cli_token_account(ctx, argv[i]);

		if (account == NULL || show_account(ctx, account) != CLI_EXIT_OK)
			ret = CLI_EXIT_FAIL;
	}
	return ret;
}

static int
cmd_refresh(struct cli_token_ctx *ctx, const char *name)
{
	const struct moa2_token_account *account = cli_token_account(ctx, name);
	struct moa2_token token;
	char delta[32], *error = NULL;

	if (account == NULL)
		return CLI_EXIT_FAIL;
	if (moa2_token_get(ctx->client, account->name, MOA2_TOKEN_FORCE_REFRESH, &token,
			   &error) < 0) {
		fprintf(stderr, "%s token: %s\n", CLI_PROGRAM, error);
		free(error);
		return CLI_EXIT_FAIL;
	}
	cli_token_format_delta(token.expires_at - (int64_t)time(NULL), delta, sizeof(delta));
	printf("account %s: new access token %s, valid for %s\n", account->name,
	       token.fingerprint, delta);
	moa2_token_clear(&token);
	return CLI_EXIT_OK;
}

/* A valid access token on stdout for a password command: nothing else on
   stdout, the reason on stderr when none can be had. */
static int
cmd_access(struct cli_token_ctx *ctx, const char *name, bool force)
{
	const struct moa2_token_account *account;
	struct moa2_token token;
	char *error = NULL;
	int ret;

	if (!force && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "%s token access: standard output is a terminal: the "
			"access token is a secret, printed for programs (msmtp "
			"passwordeval, getmail6 password_command, ...); --force prints "
			"it anyway\n", CLI_PROGRAM);
		return CLI_EXIT_FAIL;
	}
	account = cli_token_account(ctx, name);
	if (account == NULL)
		return CLI_EXIT_FAIL;
	if (moa2_token_get(ctx->client, account->name, 0, &token, &error) < 0) {
		fprintf(stderr, "%s token: %s\n", CLI_PROGRAM, error);
		free(error);
		return CLI_EXIT_FAIL;
	}
	ret = cli_write_secret_line("", token.access_token, strlen(token.access_token));
	moa2_token_clear(&token);
	if (ret < 0) {
		fprintf(stderr, "%s token access: cannot write the token: %s\n",
			CLI_PROGRAM, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

enum token_sub {
	SUB_AUTHORIZE, SUB_SHOW, SUB_REFRESH, SUB_ACCESS, SUB_CHECK, SUB_TEST_SMTP
};

static int
parse_sub(const char *name, enum token_sub *sub_r)
{
	static const char *const names[] = {
		"authorize", "show", "refresh", "access", "check", "test-smtp"
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*sub_r = (enum token_sub)i;
			return 0;
		}
	}
	return -1;
}

static int
run_sub(struct cli_token_ctx *ctx, enum token_sub sub, int mode, bool force,
	int argc, char *argv[])
{
	switch (sub) {
	case SUB_AUTHORIZE:
		if (argc != 1)
			return cli_usage_error(ctx->cmd, "authorize needs exactly one ACCOUNT");
		return cli_token_authorize(ctx, argv[0], mode);
	case SUB_SHOW:
		return cmd_show(ctx, argc, argv);
	case SUB_REFRESH:
		if (argc != 1)
			return cli_usage_error(ctx->cmd, "refresh needs exactly one ACCOUNT");
		return cmd_refresh(ctx, argv[0]);
	case SUB_ACCESS:
		if (argc != 1)
			return cli_usage_error(ctx->cmd, "access needs exactly one ACCOUNT");
		return cmd_access(ctx, argv[0], force);
	case SUB_CHECK:
	case SUB_TEST_SMTP:
		break;
	}
	return CLI_EXIT_USAGE;
}

int
cli_cmd_token(const struct cli_command *cmd, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "browser", no_argument, NULL, 'B' },
		{ "code", no_argument, NULL, 'C' },
		{ "force", no_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_token_ctx ctx = { .cmd = cmd };
	const char *config_path = NULL;
	enum token_sub sub;
	bool force = false;
	int opt, mode = 0, ret;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_help(cmd, stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2)
		return cli_usage_error(cmd, "no subcommand (expected authorize, show, "
				       "refresh, access, check or test-smtp)");
	if (parse_sub(argv[1], &sub) < 0)
		return cli_usage_error(cmd, "unknown subcommand '%s' (expected authorize, "
				       "show, refresh, access, check or test-smtp)", argv[1]);
	argc--;
	argv++;
	/* their own options; they load the config themselves */
	if (sub == SUB_TEST_SMTP)
		return cli_token_test_smtp(&ctx, argc, argv);
	if (sub == SUB_CHECK)
		return cli_token_check(&ctx, argc, argv);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'B':
		case 'C':
			if (sub != SUB_AUTHORIZE)
				return cli_usage_error(cmd, "--browser and --code are "
						       "options of authorize");
			if (mode != 0)
				return cli_usage_error(cmd, "--browser and --code exclude "
						       "each other");
			mode = opt == 'B' ? 1 : 2;
			break;
		case 'F':
			if (sub != SUB_ACCESS)
				return cli_usage_error(cmd, "--force is an option of access");
			force = true;
			break;
		case 'v':
			ctx.verbose = true;
			break;
		default:
			return cli_getopt_help_or_error(cmd, opt, argv);
		}
	}
	if (cli_token_load(&ctx, config_path) < 0)
		return CLI_EXIT_CONFIG;
	ret = run_sub(&ctx, sub, mode, force, argc - optind, argv + optind);
	cli_token_unload(&ctx);
	return ret;
}
