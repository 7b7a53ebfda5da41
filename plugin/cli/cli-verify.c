/* SPDX-License-Identifier: MIT */
/* mail-oauth2 verify / discover: the verification engine from the command
   line, the first thing an admin runs against a new config.
   Failure behaviour: exit 0 accepted, 1 rejected, 2 temporary failure
   (provider unreachable), 3 config error, 64 usage error. The token is
   read from standard input and never printed; results name it by its
   fingerprint. */

#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail-oauth2/log.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"
#include "cli.h"

#define CLI_EXIT_TEMPFAIL 2
#define CLI_EXIT_CONFIG 3
/* --each-line: many tokens, one per line */
#define CLI_VERIFY_MAX_INPUT (64u * 1024 * 1024)

const char cli_help_verify[] =
	"Usage: " CLI_PROGRAM " verify -c CONF [--user USER] [--each-line] [-v]\n"
	"\n"
	"Reads one access token from standard input and verifies it as the mail\n"
	"server would, with the providers of CONF. Prints\n"
	"  accepted user=IDENTITY provider=NAME   and the claims it checked, or\n"
	"  rejected reason=CODE                   and what failed and what was\n"
	"                                         expected, or\n"
	"  tempfail reason=unavailable            when the provider or its keys\n"
	"                                         cannot be reached.\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF  the verifier config (e.g. /etc/mail-oauth2/verify.conf)\n"
	"  -u, --user USER    the user a client asserts (XOAUTH2 user=): the token's\n"
	"                     identity must match it\n"
	"      --each-line    verify every line of standard input as a token, one\n"
	"                     result line each, with one verifier (caches shared)\n"
	"      --stats        print the number of key-set fetches at the end\n"
	"  -v, --verbose      log debug messages on stderr\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 accepted, 1 rejected, 2 temporary failure, 3 config error,\n"
	"64 usage error. With --each-line: the worst of the results.\n";

const char cli_help_discover[] =
	"Usage: " CLI_PROGRAM " discover -c CONF [-v]\n"
	"\n"
	"Fetches the discovery document and key set of every provider in CONF now\n"
	"(whatever the caches hold) and prints issuer, endpoints, key ids and\n"
	"algorithms; a fetch that fails is reported even when a cached copy exists.\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF  the verifier config\n"
	"  -v, --verbose      log debug messages on stderr\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 every provider answered, 2 a provider failed, 3 config\n"
	"error, 64 usage error.\n";

static void
cli_log(void *context, enum moa2_log_level level, const char *message)
{
	fprintf(stderr, CLI_PROGRAM ": %s: %s\n", moa2_log_level_name(level), message);
}

struct cli_verify_opts {
	const char *config_path, *user;
	bool each_line, stats, verbose;
};

static int
cli_verifier_open(const struct cli_verify_opts *opts,
		  struct moa2_verify_config **config_r,
		  struct moa2_verifier **verifier_r)
{
	struct moa2_logger logger = { cli_log, NULL, opts->verbose, NULL };
	char *error;

	if (moa2_verify_config_load(opts->config_path, config_r, &error) < 0) {
		fprintf(stderr, "config error: %s\n", error);
		free(error);
		return -1;
	}
	if (moa2_verifier_create(*config_r, &logger, verifier_r, &error) < 0) {
		fprintf(stderr, "config error: %s\n", error);
		free(error);
		moa2_verify_config_free(config_r);
		return -1;
	}
	moa2_verifier_set_explain(*verifier_r, true);
	return 0;
}

static int
cli_parse_opts(const struct cli_command *cmd, int argc, char *argv[],
	       struct cli_verify_opts *opts)
{
	static const struct option verify_longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "each-line", no_argument, NULL, 'E' },
		{ "stats", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	/* discover takes the common options only: the same table, cut short */
	static const struct option discover_longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool verify = strcmp(cmd->name, "verify") == 0;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, verify ? ":c:u:vh" : ":c:vh",
				  verify ? verify_longopts : discover_longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': opts->config_path = optarg; break;
		case 'v': opts->verbose = true; break;
		case 'h': cli_print_help(cmd, stdout); exit(CLI_EXIT_OK);
		case 'u': opts->user = optarg; break;
		case 'E': opts->each_line = true; break;
		case 'S': opts->stats = true; break;
		default: return cli_getopt_error(cmd, opt, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (opts->config_path == NULL)
		return cli_usage_error(cmd, "-c CONF is required");
	return CLI_EXIT_OK;
}

static int
cli_exit_of(enum moa2_verify_outcome outcome)
{
	return outcome == MOA2_OUTCOME_ACCEPTED ? CLI_EXIT_OK :
		outcome == MOA2_OUTCOME_REJECTED ? CLI_EXIT_FAIL : CLI_EXIT_TEMPFAIL;
}

static void
cli_print_result(const struct moa2_verify_result *r, bool brief)
{
	switch (r->outcome) {
	case MOA2_OUTCOME_ACCEPTED:
		printf("accepted user=%s provider=%s token=sha256:%s\n", r->identity,
		       r->provider, r->fingerprint);
		break;
	case MOA2_OUTCOME_REJECTED:
	case MOA2_OUTCOME_TEMPFAIL:
		printf("%s reason=%s%s%s token=sha256:%s\n", moa2_verify_outcome_name(r->outcome),
		       moa2_verify_reason_name(r->reason), r->provider != NULL ? " provider=" : "",
		       r->provider != NULL ? r->provider : "", r->fingerprint);
		break;
	}
	if (brief)
		return;
	if (r->outcome != MOA2_OUTCOME_ACCEPTED) {
		printf("  %s\n  %s\n", r->detail, moa2_verify_reason_sentence(r->reason));
		return;
	}
	for (const char *line = r->checks; *line != '\0'; ) {
		size_t n = strcspn(line, "\n");

		printf("  %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	for (unsigned int i = 0; i < r->claims_count; i++)
		printf("  export: %s=%s\n", r->claims[i].name, r->claims[i].value);
}

/* Verifies every line; the exit status is the worst outcome. */
static int
cli_verify_lines(struct moa2_verifier *verifier, const struct cli_verify_opts *opts,
		 char *data)
{
	int worst = CLI_EXIT_OK;

	for (char *line = data, *next; *line != '\0'; line = next) {
		struct moa2_verify_result result;
		size_t len = strcspn(line, "\r\n");
		int status;

		next = line + len + strspn(line + len, "\r\n");
		if (len == 0)
			continue;
		moa2_verify_token(verifier, line, len, opts->user, &result);
		cli_print_result(&result, true);
		status = cli_exit_of(result.outcome);
		if (status == CLI_EXIT_TEMPFAIL || (status == CLI_EXIT_FAIL && worst == CLI_EXIT_OK))
			worst = status;
		moa2_verify_result_clear(&result);
	}
	return worst;
}

int
cli_cmd_verify(const struct cli_command *cmd, int argc, char *argv[])
{
	struct cli_verify_opts opts = { 0 };
	struct moa2_verify_config *config;
	struct moa2_verifier *verifier;
	struct moa2_verify_result result;
	struct cli_input input;
	int status;

	if ((status = cli_parse_opts(cmd, argc, argv, &opts)) != CLI_EXIT_OK)
		return status;
	if (cli_verifier_open(&opts, &config, &verifier) < 0)
		return CLI_EXIT_CONFIG;
	switch (cli_input_read(STDIN_FILENO, opts.each_line ? CLI_VERIFY_MAX_INPUT :
			       MOA2_VERIFY_MAX_TOKEN + 2, "token: ", &input)) {
	case CLI_READ_OK:
		break;
	case CLI_READ_TOO_LONG:
		printf("rejected reason=too_large\n  the token is longer than %d bytes\n",
		       MOA2_VERIFY_MAX_TOKEN);
		status = CLI_EXIT_FAIL;
		goto out;
	case CLI_READ_ERROR:
		perror(CLI_PROGRAM ": reading standard input");
		status = CLI_EXIT_FAIL;
		goto out;
	}
	if (opts.each_line) {
		status = cli_verify_lines(verifier, &opts, input.data);
	} else {
		cli_input_strip_newline(&input);
		moa2_verify_token(verifier, input.data, input.len, opts.user, &result);
		cli_print_result(&result, false);
		status = cli_exit_of(result.outcome);
		moa2_verify_result_clear(&result);
	}
	if (opts.stats)
		fprintf(stderr, "jwks_fetches=%u\n", moa2_verifier_jwks_fetch_count(verifier));
out:
	cli_input_clear(&input);
	/* the results are out before a background key refresh still running
	   is waited for (bounded by http_timeout) */
	fflush(stdout);
	moa2_verifier_destroy(&verifier);
	moa2_verify_config_free(&config);
	return status;
}

static void
cli_report(void *context, const char *provider, bool ok, const char *text)
{
	printf("[provider %s] %s\n%s\n", provider, ok ? "ok" : "FAILED", text);
}

int
cli_cmd_discover(const struct cli_command *cmd, int argc, char *argv[])
{
	struct cli_verify_opts opts = { 0 };
	struct moa2_verify_config *config;
	struct moa2_verifier *verifier;
	int status;

	if ((status = cli_parse_opts(cmd, argc, argv, &opts)) != CLI_EXIT_OK)
		return status;
	if (cli_verifier_open(&opts, &config, &verifier) < 0)
		return CLI_EXIT_CONFIG;
	status = moa2_verifier_discover(verifier, cli_report, NULL) < 0 ?
		CLI_EXIT_TEMPFAIL : CLI_EXIT_OK;
	moa2_verifier_destroy(&verifier);
	moa2_verify_config_free(&config);
	return status;
}
