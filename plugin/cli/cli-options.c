/* SPDX-License-Identifier: MIT */
/* mail-oauth2 options: every option of the verifier and token-client
   config files, from the schemas the parsers use (the single source of
   truth), so the documentation can be checked against the code. */

#include "config.h"

#include <string.h>

#include "mail-oauth2/options.h"
#include "mail-oauth2/token-config.h"
#include "mail-oauth2/verify-config.h"
#include "cli.h"

const char cli_help_options[] =
	"Usage: " CLI_PROGRAM " options [verify|client]\n"
	"\n"
	"Lists every option of the verifier config (verify.conf) and of the\n"
	"token-client config (client.conf): section, key, type, default and a\n"
	"one-line description, one option per line, tab-separated.\n"
	"\n"
	"Exit status: 0, or 64 usage error.\n";

static void
cli_print_option(void *context, const struct moa2_option_doc *doc)
{
	const char *file = context;

	printf("%s\t%s%s%s\t%s\t%s\t%s\t%s\n", file,
	       doc->section != NULL ? "[" : "", doc->section != NULL ? doc->section : "global",
	       doc->section != NULL ? "]" : "", doc->key, doc->type,
	       doc->default_text != NULL ? doc->default_text : "(none)", doc->description);
}

static void
cli_print_schema(const char *file, const struct moa2_config_schema *schema)
{
	moa2_options_describe(schema, cli_print_option, (void *)file);
}

int
cli_cmd_options(const struct cli_command *cmd, int argc, char *argv[])
{
	const char *which = argc > 1 ? argv[1] : NULL;

	if (argc > 2 || (which != NULL && strcmp(which, "--help") == 0) ||
	    (which != NULL && strcmp(which, "-h") == 0)) {
		if (argc == 2) {
			cli_print_help(cmd, stdout);
			return CLI_EXIT_OK;
		}
		return cli_usage_error(cmd, "too many arguments");
	}
	if (which != NULL && strcmp(which, "verify") != 0 && strcmp(which, "client") != 0)
		return cli_usage_error(cmd, "unknown config '%s' (verify or client)", which);
	if (which == NULL || strcmp(which, "verify") == 0)
		cli_print_schema("verify.conf", moa2_verify_config_schema());
	if (which == NULL || strcmp(which, "client") == 0)
		cli_print_schema("client.conf", moa2_token_config_schema());
	return CLI_EXIT_OK;
}
