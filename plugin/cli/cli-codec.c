/* SPDX-License-Identifier: MIT */
/* mail-oauth2 encode / decode: the SASL codec from the command line.
   Tokens come on standard input only (never argv: it shows in ps and shell
   history), every buffer that held one is wiped, and decode names a token
   by its fingerprint unless --show-token asks for the token itself.
   Failure behaviour: invalid input exits 1 (encode: "error: CODE: ..." on
   stderr; decode: "invalid: CODE: ..." on stdout), usage errors exit 64. */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail-oauth2/sasl-codec.h"
#include "cli.h"

/* A token, a "\r\n" after it. */
#define CLI_ENCODE_MAX_INPUT (MOA2_SASL_MAX_TOKEN + 2)
#define CLI_DECODE_MAX_INPUT (MOA2_SASL_MAX_RESPONSE_BASE64 + 2)

const char cli_help_encode[] =
	"Usage: " CLI_PROGRAM " encode xoauth2 --user USER < TOKEN_FILE\n"
	"       " CLI_PROGRAM " encode oauthbearer [--user AUTHZID] [--host HOST]"
	" [--port PORT] < TOKEN_FILE\n"
	"\n"
	"Reads an access token from standard input (a single line; one trailing\n"
	"newline is removed) and prints the base64 initial client response of\n"
	"the mechanism, as a client sends it after AUTHENTICATE (IMAP) or AUTH\n"
	"(SMTP).\n"
	"\n"
	"Options:\n"
	"  -u, --user USER   XOAUTH2: the user (required).\n"
	"                    OAUTHBEARER: the authzid (optional; without it the\n"
	"                    server takes the identity from the token)\n"
	"  -H, --host HOST   OAUTHBEARER: the host= field (the server's name)\n"
	"  -p, --port PORT   OAUTHBEARER: the port= field (1-65535)\n"
	"  -h, --help        show this help\n"
	"\n"
	"Exit status: 0 printed, 1 invalid input (\"error: CODE: ...\" on\n"
	"stderr), 64 usage error.\n";

const char cli_help_decode[] =
	"Usage: " CLI_PROGRAM " decode [--mech xoauth2|oauthbearer] [--show-token]\n"
	"                         [--allow-double-base64] < RESPONSE_FILE\n"
	"\n"
	"Reads one base64 client response (XOAUTH2 or OAUTHBEARER) from standard\n"
	"input, checks it as the server does and prints the mechanism and the\n"
	"fields. The token is shown only as its fingerprint, sha256: and the\n"
	"first 8 hex digits of its SHA-256, as the server logs name it.\n"
	"\n"
	"Options:\n"
	"  -m, --mech MECH          accept only MECH (xoauth2 or oauthbearer);\n"
	"                           default: recognise either\n"
	"      --show-token         print the token itself instead of its\n"
	"                           fingerprint\n"
	"      --allow-double-base64\n"
	"                           accept a response that was base64-encoded\n"
	"                           twice (refused with double_base64 otherwise)\n"
	"  -h, --help               show this help\n"
	"\n"
	"Exit status: 0 valid, 1 invalid (\"invalid: CODE: ...\" on stdout),\n"
	"64 usage error.\n";

static int
cli_parse_mech(const char *name, enum moa2_sasl_mech *mech_r)
{
	if (strcasecmp(name, "xoauth2") == 0)
		*mech_r = MOA2_MECH_XOAUTH2;
	else if (strcasecmp(name, "oauthbearer") == 0)
		*mech_r = MOA2_MECH_OAUTHBEARER;
	else
		return -1;
	return 0;
}

static int
cli_parse_port(const char *str, unsigned int *port_r)
{
	unsigned long port;
	char *end;

	if (str[0] < '0' || str[0] > '9')
		return -1;
	errno = 0;
	port = strtoul(str, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return -1;
	*port_r = (unsigned int)port;
	return 0;
}

/* ------------------------------------------------------------------ encode */

static int
cli_encode_error(enum moa2_sasl_error error, const char *sentence)
{
	fprintf(stderr, "error: %s: %s\n", moa2_sasl_error_name(error),
		sentence != NULL ? sentence : moa2_sasl_error_sentence(error));
	return CLI_EXIT_FAIL;
}

/* Reads the token: one line on stdin. Returns 0, or an exit status. */
static int
cli_encode_read_token(struct cli_input *input)
{
	enum cli_read_status status;

	status = cli_input_read(STDIN_FILENO, CLI_ENCODE_MAX_INPUT,
				"Reading the access token from standard input "
				"(end with Enter, then Ctrl-D):", input);
	if (status == CLI_READ_ERROR) {
		fprintf(stderr, "%s encode: reading standard input: %s\n",
			CLI_PROGRAM, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (status == CLI_READ_TOO_LONG) {
		fprintf(stderr, "error: %s: standard input is over %d bytes; "
			"a token longer than %d bytes is refused\n",
			moa2_sasl_error_name(MOA2_SASL_ERR_TOO_LONG),
			CLI_ENCODE_MAX_INPUT, MOA2_SASL_MAX_TOKEN);
		return CLI_EXIT_FAIL;
	}
	cli_input_strip_newline(input);
	if (input->len == 0) {
		return cli_encode_error(MOA2_SASL_ERR_TOKEN_EMPTY,
			"standard input is empty; write the access token on it");
	}
	if (memchr(input->data, '\0', input->len) != NULL) {
		return cli_encode_error(MOA2_SASL_ERR_NUL,
			"standard input holds a NUL byte; the token must be text");
	}
	if (strpbrk(input->data, "\r\n") != NULL) {
		return cli_encode_error(MOA2_SASL_ERR_CRLF,
			"standard input holds more than one line; "
			"give the token alone on a single line");
	}
	return 0;
}

static int
cli_encode_print(enum moa2_sasl_mech mech,
		 const struct moa2_sasl_client_params *params)
{
	enum moa2_sasl_error error;
	char *b64;
	int ret;

	if (moa2_sasl_build_base64(mech, params, &b64, &error) < 0)
		return cli_encode_error(error, NULL);
	ret = cli_write_secret_line("", b64, strlen(b64));
	moa2_secret_str_free(&b64);
	if (ret < 0) {
		fprintf(stderr, "%s encode: writing standard output: %s\n",
			CLI_PROGRAM, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int
cli_cmd_encode(const struct cli_command *cmd, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct moa2_sasl_client_params params = { 0 };
	enum moa2_sasl_mech mech;
	struct cli_input input;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":u:H:p:h", options,
				  NULL)) != -1) {
		switch (opt) {
		case 'u':
			params.user = optarg;
			break;
		case 'H':
			params.host = optarg;
			break;
		case 'p':
			if (cli_parse_port(optarg, &params.port) < 0) {
				return cli_usage_error(cmd,
					"invalid port '%s', expected 1-65535", optarg);
			}
			break;
		default:
			return cli_getopt_help_or_error(cmd, opt, argv);
		}
	}
	if (optind == argc)
		return cli_usage_error(cmd, "missing the mechanism, "
				       "xoauth2 or oauthbearer");
	if (cli_parse_mech(argv[optind], &mech) < 0) {
		return cli_usage_error(cmd, "unknown mechanism '%s', "
				       "expected xoauth2 or oauthbearer", argv[optind]);
	}
	if (argc - optind > 1) {
		return cli_usage_error(cmd, "unexpected argument '%s'; "
				       "the token is read from standard input",
				       argv[optind + 1]);
	}
	if (mech == MOA2_MECH_XOAUTH2 && params.user == NULL)
		return cli_usage_error(cmd, "xoauth2 needs --user");
	if (mech == MOA2_MECH_XOAUTH2 &&
	    (params.host != NULL || params.port != 0)) {
		return cli_usage_error(cmd, "--host and --port are for "
				       "oauthbearer only");
	}

	ret = cli_encode_read_token(&input);
	if (ret == 0) {
		params.token = input.data;
		ret = cli_encode_print(mech, &params);
	}
	cli_input_clear(&input);
	return ret;
}

/* ------------------------------------------------------------------ decode */

static int
cli_decode_invalid(enum moa2_sasl_error error)
{
	printf("invalid: %s: %s\n", moa2_sasl_error_name(error),
	       moa2_sasl_error_sentence(error));
	return CLI_EXIT_FAIL;
}

static const char *
cli_or_none(const char *value)
{
	return value != NULL ? value : "(none)";
}

static int
cli_decode_print(const struct moa2_sasl_response *resp, bool show_token)
{
	char fingerprint[MOA2_FINGERPRINT_LEN + 1];

	printf("mechanism: %s\n", moa2_sasl_mech_name(resp->mech));
	if (resp->double_base64)
		printf("encoding: double base64 (accepted by --allow-double-base64)\n");
	if (resp->mech == MOA2_MECH_XOAUTH2) {
		printf("user: %s\n", cli_or_none(resp->user));
	} else {
		printf("authzid: %s\n", cli_or_none(resp->authzid));
		printf("host: %s\n", cli_or_none(resp->host));
		printf("port: %s\n", cli_or_none(resp->port));
	}
	if (show_token) {
		if (cli_write_secret_line("token: ", resp->token,
					  resp->token_len) < 0) {
			fprintf(stderr, "%s decode: writing standard output: %s\n",
				CLI_PROGRAM, strerror(errno));
			return CLI_EXIT_FAIL;
		}
	} else {
		moa2_token_fingerprint(resp->token, resp->token_len,
				       fingerprint);
		printf("token: sha256:%s (%zu byte%s)\n", fingerprint,
		       resp->token_len, resp->token_len == 1 ? "" : "s");
	}
	return CLI_EXIT_OK;
}

static int
cli_decode_input(enum moa2_sasl_mech mech, unsigned int flags, bool show_token)
{
	struct moa2_sasl_response resp;
	enum moa2_sasl_error error;
	enum cli_read_status status;
	struct cli_input input;
	int ret;

	status = cli_input_read(STDIN_FILENO, CLI_DECODE_MAX_INPUT,
				"Reading the base64 response from standard input "
				"(end with Enter, then Ctrl-D):", &input);
	if (status == CLI_READ_ERROR) {
		fprintf(stderr, "%s decode: reading standard input: %s\n",
			CLI_PROGRAM, strerror(errno));
		ret = CLI_EXIT_FAIL;
	} else if (status == CLI_READ_TOO_LONG) {
		ret = cli_decode_invalid(MOA2_SASL_ERR_TOO_LONG);
	} else {
		cli_input_strip_newline(&input);
		if (moa2_sasl_parse_base64(mech, input.data, input.len, flags,
					   &resp, &error) < 0) {
			ret = cli_decode_invalid(error);
		} else {
			ret = cli_decode_print(&resp, show_token);
			moa2_sasl_response_clear(&resp);
		}
	}
	cli_input_clear(&input);
	return ret;
}

int
cli_cmd_decode(const struct cli_command *cmd, int argc, char *argv[])
{
	enum { OPT_SHOW_TOKEN = 256, OPT_ALLOW_DOUBLE_BASE64 };
	static const struct option options[] = {
		{ "mech", required_argument, NULL, 'm' },
		{ "show-token", no_argument, NULL, OPT_SHOW_TOKEN },
		{ "allow-double-base64", no_argument, NULL, OPT_ALLOW_DOUBLE_BASE64 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	enum moa2_sasl_mech mech = MOA2_MECH_UNKNOWN;
	unsigned int flags = 0;
	bool show_token = false;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":m:h", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (cli_parse_mech(optarg, &mech) < 0) {
				return cli_usage_error(cmd, "unknown mechanism '%s', "
						       "expected xoauth2 or oauthbearer",
						       optarg);
			}
			break;
		case OPT_SHOW_TOKEN:
			show_token = true;
			break;
		case OPT_ALLOW_DOUBLE_BASE64:
			flags |= MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64;
			break;
		default:
			return cli_getopt_help_or_error(cmd, opt, argv);
		}
	}
	if (optind < argc) {
		return cli_usage_error(cmd, "unexpected argument '%s'; "
				       "the response is read from standard input",
				       argv[optind]);
	}
	return cli_decode_input(mech, flags, show_token);
}
