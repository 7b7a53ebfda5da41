/* SPDX-License-Identifier: MIT */
/* mail-oauth2: the admin tool. Dispatches to a subcommand from the table
   below and holds the helpers the subcommands share (usage errors, reading
   secrets from standard input, writing them without stdio copies).
   Failure behaviour: usage errors exit 64 (EX_USAGE) with one line on
   stderr; everything else is the subcommand's to report. */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int cli_cmd_help(const struct cli_command *cmd, int argc, char *argv[]);

static const char cli_help_help[] =
	"Usage: " CLI_PROGRAM " help [COMMAND]\n"
	"\n"
	"Shows the list of commands, or the help of COMMAND (the same text as\n"
	"'" CLI_PROGRAM " COMMAND --help').\n";

/* One row per subcommand; keep the order of `mail-oauth2 --help`. */
static const struct cli_command cli_commands[] = {
	{ "encode", "build the base64 SASL initial response for a token",
	  cli_cmd_encode, cli_help_encode },
	{ "decode", "check a base64 SASL response and show its fields",
	  cli_cmd_decode, cli_help_decode },
	{ "verify", "verify an access token with the providers of a config",
	  cli_cmd_verify, cli_help_verify },
	{ "discover", "fetch and show each provider's endpoints and keys",
	  cli_cmd_discover, cli_help_discover },
	{ "options", "list every option of the config files",
	  cli_cmd_options, cli_help_options },
	{ "token", "obtain, show, refresh and test the relay's OAuth tokens",
	  cli_cmd_token, cli_help_token },
	{ "help", "show the help of a command",
	  cli_cmd_help, cli_help_help },
};

#define CLI_N_COMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static const struct cli_command *
cli_command_find(const char *name)
{
	for (size_t i = 0; i < CLI_N_COMMANDS; i++) {
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	}
	return NULL;
}

static void
cli_print_main_help(FILE *out)
{
	fprintf(out,
		"Usage: %s COMMAND [OPTION]...\n"
		"       %s --help | --version\n"
		"\n"
		"Admin tool of mail-oauth2: OAuth 2.0 bearer-token SASL (XOAUTH2,\n"
		"OAUTHBEARER) for Dovecot and Postfix.\n"
		"\n"
		"Commands:\n", CLI_PROGRAM, CLI_PROGRAM);
	for (size_t i = 0; i < CLI_N_COMMANDS; i++) {
		fprintf(out, "  %-10s %s\n", cli_commands[i].name,
			cli_commands[i].summary);
	}
	fprintf(out,
		"\n"
		"Run '%s COMMAND --help' for the options of a command.\n"
		"Exit status: 0 success, 1 failure or invalid input, 64 usage error.\n"
		"See mail-oauth2(1).\n", CLI_PROGRAM);
}

/* Usage error outside any subcommand. */
static int
cli_main_usage_error(const char *what, const char *name)
{
	fprintf(stderr, "%s: %s '%s' (try '%s --help')\n",
		CLI_PROGRAM, what, name, CLI_PROGRAM);
	return CLI_EXIT_USAGE;
}

static int
cli_cmd_help(const struct cli_command *cmd, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cli_command *topic;
	int opt;

	opterr = 0;
	if ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1)
		return cli_getopt_help_or_error(cmd, opt, argv);
	if (optind == argc) {
		cli_print_main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (argc - optind > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'",
				       argv[optind + 1]);
	topic = cli_command_find(argv[optind]);
	if (topic == NULL)
		return cli_main_usage_error("unknown command", argv[optind]);
	cli_print_help(topic, stdout);
	return CLI_EXIT_OK;
}

void
cli_print_help(const struct cli_command *cmd, FILE *out)
{
	fputs(cmd->help, out);
}

int
cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "%s %s: ", CLI_PROGRAM, cmd->name);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, " (try '%s %s --help')\n", CLI_PROGRAM, cmd->name);
	return CLI_EXIT_USAGE;
}

/* Names the option getopt_long() stumbled on: argv[optind - 1] when it is
   a long option, else the short option in optopt. */
static const char *
cli_getopt_culprit(char *argv[], char short_buf[3], size_t *len_r)
{
	const char *arg = argv[optind - 1];

	if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
		*len_r = strcspn(arg, "=");
		return arg;
	}
	short_buf[0] = '-';
	short_buf[1] = (char)optopt;
	short_buf[2] = '\0';
	*len_r = 2;
	return short_buf;
}

int
cli_getopt_error(const struct cli_command *cmd, int opt, char *argv[])
{
	char short_buf[3];
	size_t len;
	const char *name = cli_getopt_culprit(argv, short_buf, &len);
	const char *what;

	if (opt == ':')
		what = "needs an argument";
	else if (name != short_buf && name[len] == '=')
		what = "takes no argument";
	else
		what = NULL;

	if (what != NULL)
		return cli_usage_error(cmd, "option '%.*s' %s", (int)len, name,
				       what);
	return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, name);
}

int
cli_getopt_help_or_error(const struct cli_command *cmd, int opt, char *argv[])
{
	if (opt != 'h')
		return cli_getopt_error(cmd, opt, argv);
	cli_print_help(cmd, stdout);
	return CLI_EXIT_OK;
}

enum cli_read_status
cli_input_read(int fd, size_t max_len, const char *prompt,
	       struct cli_input *input_r)
{
	memset(input_r, 0, sizeof(*input_r));
	/* one byte over the cap tells a too long input apart; one for NUL */
	input_r->size = max_len + 2;
	input_r->data = malloc(input_r->size);
	if (input_r->data == NULL)
		return CLI_READ_ERROR;

	if (prompt != NULL && isatty(fd))
		fprintf(stderr, "%s\n", prompt);
	while (input_r->len <= max_len) {
		ssize_t n = read(fd, input_r->data + input_r->len,
				 max_len + 1 - input_r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			input_r->data[input_r->len] = '\0';
			return CLI_READ_ERROR;
		}
		if (n == 0)
			break;
		input_r->len += (size_t)n;
	}
	input_r->data[input_r->len] = '\0';
	return input_r->len > max_len ? CLI_READ_TOO_LONG : CLI_READ_OK;
}

void
cli_input_strip_newline(struct cli_input *input)
{
	if (input->len > 0 && input->data[input->len - 1] == '\n') {
		input->data[--input->len] = '\0';
		if (input->len > 0 && input->data[input->len - 1] == '\r')
			input->data[--input->len] = '\0';
	}
}

void
cli_input_clear(struct cli_input *input)
{
	moa2_secret_free(input->data, input->size);
	memset(input, 0, sizeof(*input));
}

static int
cli_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cli_write_secret_line(const char *prefix, const char *secret, size_t len)
{
	if (fputs(prefix, stdout) == EOF || fflush(stdout) != 0)
		return -1;
	if (cli_write_all(STDOUT_FILENO, secret, len) < 0 ||
	    cli_write_all(STDOUT_FILENO, "\n", 1) < 0)
		return -1;
	return 0;
}

/* A failed write to stdout (full disk, closed pipe) must not exit 0. */
static int
cli_finish_stdout(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	fprintf(stderr, "%s: error writing to standard output: %s\n",
		CLI_PROGRAM, strerror(errno));
	return status == CLI_EXIT_OK ? CLI_EXIT_FAIL : status;
}

static int
cli_main(int argc, char *argv[])
{
	const struct cli_command *cmd;
	const char *arg;

	if (argc < 2) {
		fprintf(stderr, "%s: no command given (try '%s --help')\n",
			CLI_PROGRAM, CLI_PROGRAM);
		return CLI_EXIT_USAGE;
	}
	arg = argv[1];
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		cli_print_main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
		printf("%s %s\n", CLI_PROGRAM, PACKAGE_VERSION);
		return CLI_EXIT_OK;
	}
	if (arg[0] == '-')
		return cli_main_usage_error("unknown option", arg);
	cmd = cli_command_find(arg);
	if (cmd == NULL)
		return cli_main_usage_error("unknown command", arg);
	return cmd->run(cmd, argc - 1, argv + 1);
}

int
main(int argc, char *argv[])
{
	/* a closed stdout (`... | head`) is a write error we report, not a kill */
	signal(SIGPIPE, SIG_IGN);
	return cli_finish_stdout(cli_main(argc, argv));
}
