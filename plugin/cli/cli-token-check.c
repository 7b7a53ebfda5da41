/* SPDX-License-Identifier: MIT */
/* mail-oauth2 token check: the health of the accounts' tokens for a
   monitoring system, by the Nagios plugin conventions: one status line
   (TOKEN OK|WARNING|CRITICAL|UNKNOWN - ... | perfdata) on stdout, or a
   JSON document with --json, and the exit status 0/1/2/3. The rules, the
   line and the JSON are the core's (token-check.h); this file reads the
   command line. Nothing is sent to a provider.
   Failure behaviour: a usage or config error is UNKNOWN (exit 3) with its
   reason in the status line, as the plugin guidelines want; messages of
   the token client go to stderr only with --verbose (a monitoring system
   reads stdout). No token or secret is printed. */

#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail-oauth2/options.h"
#include "mail-oauth2/token-check.h"
#include "cli-token.h"

const char cli_token_help_check[] =
	"Usage: " CLI_PROGRAM " token check [-c CONF] [-w DURATION] [--critical DURATION]\n"
	"         [--json] [ACCOUNT...]\n"
	"\n"
	"Checks the token store of each ACCOUNT (default: every account) for a\n"
	"monitoring system (Nagios/Icinga plugin conventions), without contacting\n"
	"the provider, and prints one status line:\n"
	"  TOKEN CRITICAL - ACCOUNT: WHAT AND WHAT TO RUN / ACCOUNT: OK | PERFDATA\n"
	"CRITICAL: mail is deferred until an admin acts (the last token request was\n"
	"refused, e.g. invalid_grant: authorize again; not authorized; no refresh\n"
	"token; the refresh token expired or expires within --critical).\n"
	"WARNING: the refresh token expires within --warning; the store cannot be\n"
	"replaced by the user the check runs as; the last token request failed\n"
	"for a reason that passes (provider unreachable or unavailable).\n"
	"UNKNOWN: no such account, the store cannot be read, a config or usage\n"
	"error. OK otherwise. Run it as the user the mail system runs as (e.g.\n"
	"sudo -u postfix), which can read and replace the stores; no secret file\n"
	"of the config is read.\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF       the token client config\n"
	"  -w, --warning DURATION  warn this long before a known refresh-token\n"
	"                          expiry (default 7d; 30, 30s, 5m, 2h, 1d)\n"
	"      --critical DURATION CRITICAL this long before it (default 0: once\n"
	"                          it has expired)\n"
	"      --json              print a JSON document instead of the line\n"
	"  -v, --verbose           log the token client's messages on stderr\n"
	"  -h, --help              show this help\n"
	"\n"
	"Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n";

/* A check that cannot run: UNKNOWN with the reason, on stdout. */
static int MOA2_ATTR_FORMAT(2, 3)
check_unknown(bool json, const char *fmt, ...)
{
	char message[1024], *out;
	va_list args;

	va_start(args, fmt);
	vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	out = json ? moa2_check_error_json(message) : moa2_check_error_line(message);
	printf("%s\n", out);
	free(out);
	return MOA2_CHECK_UNKNOWN;
}

static int
parse_threshold(const char *text, int64_t *value_r)
{
	unsigned int seconds;

	if (moa2_options_parse_duration(text, &seconds) < 0)
		return -1;
	*value_r = seconds;
	return 0;
}

struct check_opts {
	const char *config;
	struct moa2_check_settings settings;
	bool json;
};

/* Returns -1 to go on, else the exit status. */
static int
parse_opts(struct cli_token_ctx *ctx, int argc, char *argv[], struct check_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "warning", required_argument, NULL, 'w' },
		{ "critical", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'J' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	/* --json is known before any error is reported */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		o->json = o->json || strcmp(argv[i], "--json") == 0;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:w:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->config = optarg; break;
		case 'J': o->json = true; break;
		case 'v': ctx->verbose = true; break;
		case 'w':
		case 'C':
			if (parse_threshold(optarg, opt == 'w' ? &o->settings.warning :
					    &o->settings.critical) < 0)
				return check_unknown(o->json, "usage: %s %s: not a duration "
						     "(30, 30s, 5m, 2h, 1d)",
						     opt == 'w' ? "--warning" : "--critical", optarg);
			break;
		case 'h':
			fputs(cli_token_help_check, stdout);
			return CLI_EXIT_OK;
		case ':':
			return check_unknown(o->json, "usage: option '%s' needs an argument",
					     argv[optind - 1]);
		default:
			return check_unknown(o->json, "usage: unknown option '%s' (try '%s "
					     "token check --help')", argv[optind - 1], CLI_PROGRAM);
		}
	}
	if (o->settings.critical > o->settings.warning)
		o->settings.warning = o->settings.critical;
	return -1;
}

int
cli_token_check(struct cli_token_ctx *ctx, int argc, char *argv[])
{
	struct check_opts o = {
		.settings = { MOA2_CHECK_WARNING_DEFAULT, MOA2_CHECK_CRITICAL_DEFAULT },
	};
	struct moa2_check_result *results;
	enum moa2_check_status worst = MOA2_CHECK_OK;
	unsigned int count;
	time_t now = time(NULL);
	char *out, *error = NULL;
	int ret;

	if ((ret = parse_opts(ctx, argc, argv, &o)) >= 0)
		return ret;
	ctx->quiet = !ctx->verbose;
	/* a monitoring user may read the config and the stores, not secrets */
	ctx->without_secrets = true;
	if (cli_token_load_quiet(ctx, o.config, &error) < 0) {
		ret = check_unknown(o.json, "config error: %s", error);
		free(error);
		return ret;
	}
	count = optind < argc ? (unsigned int)(argc - optind) : ctx->config->accounts_count;
	results = calloc(count + 1, sizeof(*results));
	if (results == NULL)
		abort();
	for (unsigned int i = 0; i < count; i++) {
		const char *name = optind < argc ? argv[optind + (int)i] :
			ctx->config->accounts[i].name;

		worst = moa2_check_worst(worst, moa2_token_check(ctx->client, name, &o.settings,
								 now, &results[i]));
	}
	out = o.json ? moa2_check_json(results, count, &o.settings, ctx->config->file) :
		moa2_check_line(results, count, &o.settings);
	printf("%s\n", out);
	free(out);
	for (unsigned int i = 0; i < count; i++)
		moa2_check_result_clear(&results[i]);
	free(results);
	cli_token_unload(ctx);
	return count == 0 ? MOA2_CHECK_UNKNOWN : (int)worst;
}
