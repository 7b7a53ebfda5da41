/* SPDX-License-Identifier: MIT */
/* mail-oauth2 token test-smtp: the relay dialogue the Postfix plugin has,
   by hand: connect, EHLO, STARTTLS (certificate and host name verified),
   EHLO, AUTH XOAUTH2 or OAUTHBEARER with the account's token, and every
   reply of the server printed. OpenSSL directly, no libcurl.
   Failure behaviour: exit 0 when the server accepted (235), 1 otherwise.
   The token is never printed: the AUTH line is shown redacted with the
   token's fingerprint. A relay that rejects the token gets it dropped from
   the store, as the plugin does. Data the server sends after its STARTTLS
   answer is refused (command injection). */

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mail-oauth2/sasl-codec.h"
#include "cli-token.h"

#define SMTP_TIMEOUT_S 30
#define SMTP_MAX_LINE 4096
#define SMTP_MAX_COMMAND 512 /* RFC 5321 §4.5.3.1.4, as Postfix applies it */

const char cli_token_help_test_smtp[] =
	"Usage: " CLI_PROGRAM " token test-smtp [-c CONF] [--account NAME] [--user USER]\n"
	"         [--mech xoauth2|oauthbearer] [--tls] [--ca-file FILE] [--helo NAME]\n"
	"         HOST:PORT\n"
	"\n"
	"Connects to the relay HOST:PORT, says EHLO, upgrades with STARTTLS (or\n"
	"--tls: TLS from the start, port 465), verifies the certificate and the\n"
	"host name, says EHLO again and authenticates with the account's access\n"
	"token (refreshed first if needed), printing every server reply. The\n"
	"token is never printed; a rejected token is dropped from the store.\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF   the token client config\n"
	"  -a, --account NAME  the account (default: the only one)\n"
	"  -u, --user USER     the mailbox for user= (default: the account's user)\n"
	"  -m, --mech MECH     xoauth2 (default) or oauthbearer\n"
	"      --tls           implicit TLS instead of STARTTLS\n"
	"      --ca-file FILE  CA bundle for the relay's certificate (default: the\n"
	"                      config's ca_file, else the system store)\n"
	"      --helo NAME     the EHLO name (default: this host's name)\n"
	"  -v, --verbose       log debug messages on stderr\n"
	"  -h, --help          show this help\n"
	"\n"
	"Exit status: 0 authenticated (235), 1 failure, 3 config error, 64 usage.\n";

struct smtp {
	BIO *bio;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[SMTP_MAX_LINE * 2];
	size_t buf_len;
	char caps[4096]; /* EHLO keywords, one per line */
};

struct smtp_opts {
	const char *config, *account, *user, *ca_file, *helo;
	enum moa2_sasl_mech mech;
	bool implicit_tls;
	char host[256];
	char port[8];
};

static void
print_ssl_errors(const char *what)
{
	unsigned long err = ERR_get_error();
	char text[256] = "unknown error";

	if (err != 0)
		ERR_error_string_n(err, text, sizeof(text));
	fprintf(stderr, "%s token test-smtp: %s: %s\n", CLI_PROGRAM, what, text);
	ERR_clear_error();
}

static int
smtp_io_read(struct smtp *s, char *buf, size_t size)
{
	if (s->ssl != NULL)
		return SSL_read(s->ssl, buf, (int)size);
	return BIO_read(s->bio, buf, (int)size);
}

static int
smtp_write(struct smtp *s, const char *data, size_t len)
{
	while (len > 0) {
		int n = s->ssl != NULL ? SSL_write(s->ssl, data, (int)len) :
			BIO_write(s->bio, data, (int)len);

		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line without CRLF. Returns 0, or -1 on EOF/error/too long. */
static int
smtp_read_line(struct smtp *s, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(s->buf, '\n', s->buf_len);
		int n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - s->buf);

			if (len >= size)
				return -1;
			memcpy(line, s->buf, len);
			line[len] = '\0';
			if (len > 0 && line[len - 1] == '\r')
				line[len - 1] = '\0';
			s->buf_len -= len + 1;
			memmove(s->buf, nl + 1, s->buf_len);
			return 0;
		}
		if (s->buf_len >= sizeof(s->buf) - 1)
			return -1;
		n = smtp_io_read(s, s->buf + s->buf_len, sizeof(s->buf) - 1 - s->buf_len);
		if (n <= 0)
			return -1;
		s->buf_len += (size_t)n;
	}
}

/* Reads a (multi-line) reply, printing it. Returns the code, or -1. With
   ehlo, collects the keywords. last_r receives the text of the last line. */
static int
smtp_reply(struct smtp *s, bool ehlo, char *last_r, size_t last_size)
{
	char line[SMTP_MAX_LINE];
	int code = -1;

	if (ehlo)
		s->caps[0] = '\0';
	for (;;) {
		if (smtp_read_line(s, line, sizeof(line)) < 0) {
			fprintf(stderr, "%s token test-smtp: the server closed the connection "
				"or sent an invalid line\n", CLI_PROGRAM);
			return -1;
		}
		printf("S: %s\n", line);
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-')) {
			fprintf(stderr, "%s token test-smtp: not an SMTP reply\n", CLI_PROGRAM);
			return -1;
		}
		code = atoi(line);
		if (ehlo && line[3] != '\0' &&
		    strlen(s->caps) + strlen(line + 4) + 2 < sizeof(s->caps)) {
			strcat(s->caps, line + 4);
			strcat(s->caps, "\n");
		}
		if (line[3] != '-') {
			if (last_r != NULL)
				snprintf(last_r, last_size, "%s", line[3] != '\0' ? line + 4 : "");
			return code;
		}
	}
}

static int MOA2_ATTR_FORMAT(2, 3)
smtp_cmd(struct smtp *s, const char *fmt, ...)
{
	char line[SMTP_MAX_LINE];
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(line, sizeof(line) - 2, fmt, args);
	va_end(args);
	if (len < 0 || (size_t)len >= sizeof(line) - 2)
		return -1;
	printf("C: %s\n", line);
	memcpy(line + len, "\r\n", 3);
	return smtp_write(s, line, (size_t)len + 2);
}

/* A secret line: shown as described, sent as is. */
static int
smtp_cmd_secret(struct smtp *s, const char *shown, const char *line)
{
	int ret;
	size_t len = strlen(line);
	char *buf = malloc(len + 3);

	if (buf == NULL)
		return -1;
	printf("C: %s\n", shown);
	memcpy(buf, line, len);
	memcpy(buf + len, "\r\n", 3);
	ret = smtp_write(s, buf, len + 2);
	moa2_secret_free(buf, len + 3);
	return ret;
}

static bool
smtp_has_cap(const struct smtp *s, const char *word)
{
	size_t len = strlen(word);

	for (const char *line = s->caps; *line != '\0'; line = strchr(line, '\n') + 1) {
		const char *p = line;

		/* "AUTH PLAIN XOAUTH2": every word counts, case-insensitively */
		while (*p != '\n' && *p != '\0') {
			size_t wlen = strcspn(p, " \n");

			if (wlen == len && strncasecmp(p, word, len) == 0)
				return true;
			p += wlen;
			p += strspn(p, " ");
		}
	}
	return false;
}

/* -------------------------------------------------------------------- TLS */

static bool
host_is_ip(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static int
smtp_tls_start(struct smtp *s, const struct smtp_opts *o, const char *ca_file)
{
	const char *version;
	long verify;

	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL) {
		print_ssl_errors("TLS");
		return -1;
	}
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if ((ca_file != NULL ? SSL_CTX_load_verify_file(s->ctx, ca_file) :
	     SSL_CTX_set_default_verify_paths(s->ctx)) != 1) {
		print_ssl_errors(ca_file != NULL ? ca_file : "the system CA store");
		return -1;
	}
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL)
		return -1;
	if (host_is_ip(o->host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), o->host);
	} else {
		SSL_set_tlsext_host_name(s->ssl, o->host);
		SSL_set1_host(s->ssl, o->host);
	}
	/* the SSL object reads and writes through the socket BIO from now on */
	BIO_up_ref(s->bio);
	SSL_set_bio(s->ssl, s->bio, s->bio);
	if (SSL_connect(s->ssl) != 1) {
		verify = SSL_get_verify_result(s->ssl);
		if (verify != X509_V_OK)
			fprintf(stderr, "%s token test-smtp: the certificate of %s does not "
				"verify: %s\n", CLI_PROGRAM, o->host,
				X509_verify_cert_error_string(verify));
		else
			print_ssl_errors("TLS handshake");
		return -1;
	}
	version = SSL_get_version(s->ssl);
	printf("TLS: %s, %s, certificate verified for %s\n", version,
	       SSL_get_cipher_name(s->ssl), o->host);
	return 0;
}

/* ------------------------------------------------------------------- AUTH */

static int
smtp_auth(struct smtp *s, struct cli_token_ctx *ctx, const struct smtp_opts *o,
	  const struct moa2_token_account *account, const char *user,
	  const struct moa2_token *token)
{
	struct moa2_sasl_client_params params = {
		.user = user, .host = o->host, .port = (unsigned int)atoi(o->port),
		.token = token->access_token,
	};
	const char *mech = moa2_sasl_mech_name(o->mech);
	enum moa2_sasl_error err;
	char *b64, *line, shown[256], last[SMTP_MAX_LINE], *error = NULL;
	size_t line_len;
	int code;

	if (moa2_sasl_build_base64(o->mech, &params, &b64, &err) < 0) {
		fprintf(stderr, "%s token test-smtp: cannot build the %s response: %s\n",
			CLI_PROGRAM, mech, moa2_sasl_error_sentence(err));
		return -1;
	}
	snprintf(shown, sizeof(shown), "AUTH %s [initial response: %s%s, token %s, "
		 "%zu base64 characters]", mech, user != NULL ? "user=" : "no user",
		 user != NULL ? user : "", token->fingerprint, strlen(b64));
	line_len = strlen(b64) + strlen(mech) + 8;
	line = malloc(line_len);
	if (line == NULL) {
		moa2_secret_str_free(&b64);
		return -1;
	}
	if (line_len <= SMTP_MAX_COMMAND) {
		/* line_len fits by construction; the check is for gcc >= 14,
		   whose -Wformat-truncation cannot see that */
		if (snprintf(line, line_len, "AUTH %s %s", mech, b64) >= (int)line_len)
			code = -1;
		else
			code = smtp_cmd_secret(s, shown, line) < 0 ? -1 :
				smtp_reply(s, false, last, sizeof(last));
	} else {
		/* too long for one command line: wait for the empty challenge */
		code = smtp_cmd(s, "AUTH %s", mech) < 0 ? -1 : smtp_reply(s, false, last, sizeof(last));
		snprintf(shown, sizeof(shown), "[initial response: %s%s, token %s, %zu "
			 "base64 characters]", user != NULL ? "user=" : "no user",
			 user != NULL ? user : "", token->fingerprint, strlen(b64));
		if (code == 334)
			code = smtp_cmd_secret(s, shown, b64) < 0 ? -1 :
				smtp_reply(s, false, last, sizeof(last));
	}
	moa2_secret_free(line, line_len);
	moa2_secret_str_free(&b64);
	if (code == 334) {
		/* a failure challenge: show it, acknowledge it, read the verdict */
		struct moa2_sasl_challenge challenge;
		char *json = NULL;

		(void)moa2_sasl_challenge_parse_base64(last, strlen(last), &challenge, &json,
						       &err);
		if (json != NULL)
			printf("   (decoded challenge: %s)\n", json);
		free(json);
		moa2_sasl_challenge_clear(&challenge);
		code = smtp_cmd(s, "%s", o->mech == MOA2_MECH_OAUTHBEARER ? "AQ==" : "") < 0 ?
			-1 : smtp_reply(s, false, last, sizeof(last));
		if (moa2_token_invalidate(ctx->client, account->name, token->access_token,
					  &error) < 0) {
			fprintf(stderr, "%s token test-smtp: %s\n", CLI_PROGRAM, error);
			free(error);
		} else {
			printf("The relay rejected token %s: dropped it from the store; the "
			       "next use fetches a new one.\n", token->fingerprint);
		}
	}
	return code;
}

/* ------------------------------------------------------------- dialogue */

static int
smtp_connect(struct smtp *s, const struct smtp_opts *o)
{
	struct timeval tv = { SMTP_TIMEOUT_S, 0 };
	char target[300];
	int fd;

	snprintf(target, sizeof(target), strchr(o->host, ':') != NULL ? "[%s]:%s" : "%s:%s",
		 o->host, o->port);
	s->bio = BIO_new_connect(target);
	if (s->bio == NULL || BIO_do_connect(s->bio) <= 0) {
		print_ssl_errors(target);
		return -1;
	}
	if (BIO_get_fd(s->bio, &fd) >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	printf("connected to %s\n", target);
	return 0;
}

static int
smtp_ehlo(struct smtp *s, const char *helo)
{
	if (smtp_cmd(s, "EHLO %s", helo) < 0)
		return -1;
	return smtp_reply(s, true, NULL, 0) == 250 ? 0 : -1;
}

static int
smtp_session(struct smtp *s, struct cli_token_ctx *ctx, const struct smtp_opts *o,
	     const struct moa2_token_account *account, const char *user,
	     const struct moa2_token *token, const char *ca_file)
{
	const char *mech = moa2_sasl_mech_name(o->mech);
	int code;

	if (smtp_connect(s, o) < 0)
		return -1;
	if (o->implicit_tls && smtp_tls_start(s, o, ca_file) < 0)
		return -1;
	if (smtp_reply(s, false, NULL, 0) != 220 || smtp_ehlo(s, o->helo) < 0)
		return -1;
	if (!o->implicit_tls) {
		if (!smtp_has_cap(s, "STARTTLS")) {
			fprintf(stderr, "%s token test-smtp: the server offers no STARTTLS: "
				"not sending a token in clear text\n", CLI_PROGRAM);
			return -1;
		}
		if (smtp_cmd(s, "STARTTLS") < 0 || smtp_reply(s, false, NULL, 0) != 220)
			return -1;
		if (s->buf_len > 0) {
			fprintf(stderr, "%s token test-smtp: the server sent data after its "
				"STARTTLS answer (command injection?): stopping\n", CLI_PROGRAM);
			return -1;
		}
		if (smtp_tls_start(s, o, ca_file) < 0 || smtp_ehlo(s, o->helo) < 0)
			return -1;
	}
	if (!smtp_has_cap(s, mech))
		printf("note: the server does not announce AUTH %s; trying anyway\n", mech);
	code = smtp_auth(s, ctx, o, account, user, token);
	(void)smtp_cmd(s, "QUIT");
	(void)smtp_reply(s, false, NULL, 0);
	return code;
}

static void
smtp_close(struct smtp *s)
{
	SSL_free(s->ssl);
	BIO_free_all(s->bio);
	SSL_CTX_free(s->ctx);
	OPENSSL_cleanse(s->buf, sizeof(s->buf));
}

static int
parse_target(const char *arg, struct smtp_opts *o)
{
	const char *colon = strrchr(arg, ':'), *host = arg;
	size_t host_len;

	if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || strlen(colon + 1) > 5 || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535)
		return -1;
	host_len = (size_t)(colon - arg);
	if (host_len >= 2 && arg[0] == '[' && arg[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof(o->host))
		return -1;
	memcpy(o->host, host, host_len);
	o->host[host_len] = '\0';
	snprintf(o->port, sizeof(o->port), "%s", colon + 1);
	return 0;
}

static int
parse_opts(struct cli_token_ctx *ctx, int argc, char *argv[], struct smtp_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "account", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "mech", required_argument, NULL, 'm' },
		{ "tls", no_argument, NULL, 'T' },
		{ "ca-file", required_argument, NULL, 'F' },
		{ "helo", required_argument, NULL, 'H' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:a:u:m:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->config = optarg; break;
		case 'a': o->account = optarg; break;
		case 'u': o->user = optarg; break;
		case 'F': o->ca_file = optarg; break;
		case 'H': o->helo = optarg; break;
		case 'T': o->implicit_tls = true; break;
		case 'v': ctx->verbose = true; break;
		case 'm':
			if (strcasecmp(optarg, "xoauth2") == 0)
				o->mech = MOA2_MECH_XOAUTH2;
			else if (strcasecmp(optarg, "oauthbearer") == 0)
				o->mech = MOA2_MECH_OAUTHBEARER;
			else
				return cli_usage_error(ctx->cmd, "--mech %s: expected xoauth2 "
						       "or oauthbearer", optarg);
			break;
		case 'h':
			fputs(cli_token_help_test_smtp, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(ctx->cmd, opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(ctx->cmd, "test-smtp needs exactly one HOST:PORT");
	if (parse_target(argv[optind], o) < 0)
		return cli_usage_error(ctx->cmd, "'%s': expected HOST:PORT", argv[optind]);
	return -1;
}

int
cli_token_test_smtp(struct cli_token_ctx *ctx, int argc, char *argv[])
{
	struct smtp_opts o = { .mech = MOA2_MECH_XOAUTH2 };
	const struct moa2_token_account *account;
	struct smtp s;
	struct moa2_token token;
	char hostname[256], *error = NULL;
	const char *user;
	int ret, code;

	if ((ret = parse_opts(ctx, argc, argv, &o)) >= 0)
		return ret;
	if (cli_token_load(ctx, o.config) < 0)
		return 3;
	ret = CLI_EXIT_FAIL;
	account = cli_token_account(ctx, o.account);
	if (account == NULL)
		goto out;
	user = o.user != NULL ? o.user : account->user;
	if (user == NULL && o.mech == MOA2_MECH_XOAUTH2) {
		fprintf(stderr, "%s token test-smtp: XOAUTH2 needs the mailbox: give "
			"--user USER (or set user in [account %s])\n", CLI_PROGRAM,
			account->name);
		goto out;
	}
	if (o.helo == NULL) {
		if (gethostname(hostname, sizeof(hostname)) < 0 || hostname[0] == '\0')
			snprintf(hostname, sizeof(hostname), "localhost");
		hostname[sizeof(hostname) - 1] = '\0';
		o.helo = hostname;
	}
	if (moa2_token_get(ctx->client, account->name, 0, &token, &error) < 0) {
		fprintf(stderr, "%s token test-smtp: %s\n", CLI_PROGRAM, error);
		free(error);
		goto out;
	}
	printf("account %s: access token %s%s\n", account->name, token.fingerprint,
	       token.refreshed ? " (just obtained)" : " (from the store)");
	memset(&s, 0, sizeof(s));
	code = smtp_session(&s, ctx, &o, account, user, &token,
			    o.ca_file != NULL ? o.ca_file : ctx->config->ca_file);
	smtp_close(&s);
	moa2_token_clear(&token);
	if (code == 235) {
		printf("result: authenticated as %s with %s\n", user != NULL ? user :
		       "the token's identity", moa2_sasl_mech_name(o.mech));
		ret = CLI_EXIT_OK;
	} else {
		printf("result: not authenticated\n");
	}
out:
	cli_token_unload(ctx);
	return ret;
}
