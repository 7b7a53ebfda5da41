/* SPDX-License-Identifier: MIT */
#ifndef CLI_H
#define CLI_H

/* The mail-oauth2 admin tool. cli-main.c holds the table of subcommands and
   the helpers they share; each subcommand lives in its own cli-*.c file and
   is declared below. Adding a subcommand = one file, its two declarations
   here, one row in the table of cli-main.c. */

#include <stdio.h>
#include <sysexits.h>

#include "mail-oauth2/common.h"

#define CLI_PROGRAM "mail-oauth2"

/* Exit statuses shared by every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1          /* invalid input, or the check failed */
#define CLI_EXIT_USAGE EX_USAGE  /* 64: bad command line */

struct cli_command {
	const char *name;
	const char *summary; /* one line, for `mail-oauth2 --help` */
	/* argv[0] is the command name; returns a CLI_EXIT_* status. */
	int (*run)(const struct cli_command *cmd, int argc, char *argv[]);
	const char *help;    /* full text of `mail-oauth2 CMD --help` */
};

/* ------------------------------------------------------------ subcommands */

/* cli-codec.c */
int cli_cmd_encode(const struct cli_command *cmd, int argc, char *argv[]);
extern const char cli_help_encode[];
int cli_cmd_decode(const struct cli_command *cmd, int argc, char *argv[]);
extern const char cli_help_decode[];

/* cli-verify.c */
int cli_cmd_verify(const struct cli_command *cmd, int argc, char *argv[]);
extern const char cli_help_verify[];
int cli_cmd_discover(const struct cli_command *cmd, int argc, char *argv[]);
extern const char cli_help_discover[];

/* cli-options.c */
int cli_cmd_options(const struct cli_command *cmd, int argc, char *argv[]);
extern const char cli_help_options[];

/* cli-token.c (and cli-token-smtp.c) */
int cli_cmd_token(const struct cli_command *cmd, int argc, char *argv[]);
extern const char cli_help_token[];

/* ------------------------------------------------- helpers (cli-main.c) */

/* Prints the help text of cmd to out. */
void cli_print_help(const struct cli_command *cmd, FILE *out);

/* Prints "mail-oauth2 CMD: MESSAGE (try 'mail-oauth2 CMD --help')" on
   stderr, one line, and returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);

/* Reports what getopt_long() returned as '?' or ':' (call it with opterr = 0
   and an optstring starting with ':'); returns CLI_EXIT_USAGE. */
int cli_getopt_error(const struct cli_command *cmd, int opt, char *argv[]);
/* The default case of a subcommand's getopt_long() loop: 'h' (-h, --help)
   prints the help of cmd and returns CLI_EXIT_OK; anything else is
   cli_getopt_error(). */
int cli_getopt_help_or_error(const struct cli_command *cmd, int opt,
			     char *argv[]);

/* Standard input, read whole with read(2) (no stdio buffer keeps a copy).
   The buffer may hold a secret: release it with cli_input_clear(). */
struct cli_input {
	char *data;  /* NUL-terminated */
	size_t len;
	size_t size; /* allocated */
};

enum cli_read_status {
	CLI_READ_OK = 0,
	CLI_READ_TOO_LONG, /* more than max_len bytes */
	CLI_READ_ERROR,    /* read(2) failed or ENOMEM; errno is set */
};

/* Reads fd to EOF, at most max_len bytes. On CLI_READ_TOO_LONG input_r
   still has to be cleared. prompt (may be NULL) is shown on stderr when fd
   is a terminal. */
enum cli_read_status
cli_input_read(int fd, size_t max_len, const char *prompt,
	       struct cli_input *input_r);
/* Removes one trailing "\n" or "\r\n". */
void cli_input_strip_newline(struct cli_input *input);
/* Wipes and frees the buffer; safe on a zeroed struct. */
void cli_input_clear(struct cli_input *input);

/* Writes prefix, then the secret and a newline straight to fd 1 with
   write(2), so that no stdio buffer keeps the secret. Returns 0, or -1 on a
   write error. */
int cli_write_secret_line(const char *prefix, const char *secret, size_t len);

#endif
