/* SPDX-License-Identifier: MIT */
/* mail-oauth2 token authorize (cli-token.h): the first tokens of an
   account, by the device authorization grant (RFC 8628) or the
   authorization code with PKCE (RFC 8252) with a loopback redirect or a
   pasted address. The flows are the core's (token-authorize.h); this file
   prints, listens on 127.0.0.1 for the redirect, and reads the pasted
   address.
   Failure behaviour: CLI_EXIT_FAIL with one line on stderr saying what
   failed; never a token on the terminal (fingerprints only). */

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "mail-oauth2/token-authorize.h"
#include "cli-token.h"

#define LOOPBACK_TIMEOUT_S 600
#define CALLBACK_MAX_REQUEST 8192

/* --------------------------------------------------------- authorization */

static int
flow_failed(char *error)
{
	fprintf(stderr, "%s token: %s\n", CLI_PROGRAM, error);
	free(error);
	return CLI_EXIT_FAIL;
}

static int
authorized(const struct moa2_token_account *account,
	   const struct moa2_token_authorized *result)
{
	char delta[32];

	cli_token_format_delta(result->expires_at - (int64_t)time(NULL), delta, sizeof(delta));
	printf("account %s: authorized; access token %s valid for %s; tokens "
	       "stored in %s\n", account->name, result->fingerprint, delta,
	       account->token_file);
	if (!result->refresh_token) {
		printf("warning: the provider sent no refresh token (is offline_access "
		       "in scope?): relaying stops when the access token expires\n");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* The device authorization grant: show the code, wait for the user. */
static int
authorize_device(struct cli_token_ctx *ctx, const struct moa2_token_account *account)
{
	struct moa2_device_authorization da;
	struct moa2_token_authorized result;
	char *error = NULL;
	int ret;

	if (moa2_token_device_start(ctx->client, account, &da, &error) < 0)
		return flow_failed(error);
	printf("To authorize account %s, open %s\nand enter the code: %s\n",
	       account->name, da.verification_uri, da.user_code);
	if (da.verification_uri_complete != NULL)
		printf("(or open %s)\n", da.verification_uri_complete);
	printf("Waiting for the authorization (%lld min)...\n",
	       (long long)(da.expires_in / 60));
	fflush(stdout);
	ret = moa2_token_device_wait(ctx->client, account, &da, &result, &error);
	moa2_device_authorization_clear(&da);
	return ret < 0 ? flow_failed(error) : authorized(account, &result);
}

static int
loopback_listen(unsigned int *port_r)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0; /* RFC 8252 §7.3: any free port */
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 4) < 0 || getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port_r = ntohs(addr.sin_port);
	return fd;
}

static void
send_page(int fd, const char *status, const char *text)
{
	char page[1024];
	int len = snprintf(page, sizeof(page),
			   "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\n"
			   "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
			   "<!DOCTYPE html><html><body><p>%s</p></body></html>\n",
			   status, text);

	if (len > 0 && write(fd, page, (size_t)len) < 0)
		return;
}

/* Reads one HTTP request head; returns the request target (malloc()ed). */
static char *
read_request_target(int fd)
{
	char buf[CALLBACK_MAX_REQUEST + 1], *target = NULL;
	size_t got = 0;

	while (got < CALLBACK_MAX_REQUEST) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		n = read(fd, buf + got, CALLBACK_MAX_REQUEST - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
			break;
	}
	buf[got] = '\0';
	if (strncmp(buf, "GET ", 4) == 0) {
		size_t len = strcspn(buf + 4, " \r\n");

		target = strndup(buf + 4, len);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return target;
}

/* Waits for the browser's redirect to /callback: returns the connection
   (to answer once the code is exchanged) and its query (malloc()ed), or
   -1 after LOOPBACK_TIMEOUT_S. */
static int
loopback_wait(const char *account, int listen_fd, char **query_r)
{
	time_t deadline = time(NULL) + LOOPBACK_TIMEOUT_S;

	while (time(NULL) < deadline) {
		struct pollfd pfd = { listen_fd, POLLIN, 0 };
		char *target;
		int fd;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		target = read_request_target(fd);
		if (target != NULL && strncmp(target, "/callback?", 10) == 0) {
			*query_r = strdup(target + 10);
			OPENSSL_cleanse(target, strlen(target));
			free(target);
			if (*query_r != NULL)
				return fd;
		} else {
			send_page(fd, "404 Not Found", "Not found.");
			free(target);
		}
		close(fd);
	}
	fprintf(stderr, "%s token: account %s: no redirect arrived within %d min\n",
		CLI_PROGRAM, account, LOOPBACK_TIMEOUT_S / 60);
	return -1;
}

/* --code: the user pastes the address the browser ended up at. Returns its
   query (malloc()ed, may be empty), or NULL. */
static char *
pasted_query(const char *account)
{
	struct cli_input input;
	const char *query;
	char *copy;

	printf("Paste the address the browser ends up at (it may show an error page):\n");
	fflush(stdout);
	if (cli_input_read(STDIN_FILENO, CALLBACK_MAX_REQUEST, NULL, &input) != CLI_READ_OK) {
		cli_input_clear(&input);
		fprintf(stderr, "%s token: account %s: nothing read\n", CLI_PROGRAM, account);
		return NULL;
	}
	cli_input_strip_newline(&input);
	query = strchr(input.data, '?');
	copy = strdup(query != NULL ? query + 1 : "");
	cli_input_clear(&input);
	return copy;
}

/* The authorization code grant with PKCE: show the URL, take the redirect
   (loopback listener, or pasted), let the core exchange the code. */
static int
authorize_code(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
	       bool pasted)
{
	struct moa2_code_authorization ca;
	struct moa2_token_authorized result;
	unsigned int port = 1;
	char redirect[64], *query = NULL, *error = NULL;
	int listen_fd = -1, fd = -1, ret = CLI_EXIT_FAIL;

	if (!pasted && (listen_fd = loopback_listen(&port)) < 0) {
		fprintf(stderr, "%s token: cannot listen on 127.0.0.1: %s\n", CLI_PROGRAM,
			strerror(errno));
		return CLI_EXIT_FAIL;
	}
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/callback", port);
	if (moa2_token_code_start(ctx->client, account, redirect, &ca, &error) < 0) {
		if (listen_fd >= 0)
			close(listen_fd);
		return flow_failed(error);
	}
	printf("To authorize account %s, open this address in a browser%s:\n%s\n",
	       account->name, pasted ? "" : " on this machine", ca.url);
	fflush(stdout);
	if (pasted)
		query = pasted_query(account->name);
	else if ((fd = loopback_wait(account->name, listen_fd, &query)) < 0)
		query = NULL;
	if (query != NULL) {
		ret = moa2_token_code_finish(ctx->client, account, &ca, query, &result,
					     &error) < 0 ?
			flow_failed(error) : authorized(account, &result);
		moa2_secret_str_free(&query);
	}
	if (fd >= 0) {
		send_page(fd, "200 OK", ret == CLI_EXIT_OK ?
			  "mail-oauth2: authorization received. You can close this window." :
			  "mail-oauth2: authorization failed; see the terminal.");
		close(fd);
	}
	if (listen_fd >= 0)
		close(listen_fd);
	moa2_code_authorization_clear(&ca);
	return ret;
}

int
cli_token_authorize(struct cli_token_ctx *ctx, const char *name, int mode)
{
	const struct moa2_token_account *account = cli_token_account(ctx, name);

	if (account == NULL)
		return CLI_EXIT_FAIL;
	if (mode == 0)
		return authorize_device(ctx, account);
	return authorize_code(ctx, account, mode == 2);
}
