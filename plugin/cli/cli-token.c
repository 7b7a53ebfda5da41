/* mail-oauth2 token authorize | show | refresh | test-smtp: obtain the
   first tokens of an account (device authorization grant, RFC 8628, or
   authorization code with PKCE and a loopback redirect, RFC 8252), show a
   store's state, refresh on demand, and test a relay.
   Failure behaviour: exit 0 success, 1 failure (with one line saying what
   to do), 3 config error, 64 usage error. Tokens, refresh tokens and
   secrets are never printed: fingerprints only. */

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "support/base64.h"
#include "support/http-client.h"
#include "support/json.h"
#include "mail-oauth2/log.h"
#include "cli-token.h"

#define CLI_EXIT_CONFIG 3
#define DEVICE_DEFAULT_INTERVAL 5
#define DEVICE_SLOW_DOWN 5
#define DEVICE_MAX_FAILURES 3
#define LOOPBACK_TIMEOUT_S 600
#define CALLBACK_MAX_REQUEST 8192

const char cli_help_token[] =
	"Usage: " CLI_PROGRAM " token authorize [-c CONF] [--browser | --code] ACCOUNT\n"
	"       " CLI_PROGRAM " token show [-c CONF] [ACCOUNT...]\n"
	"       " CLI_PROGRAM " token refresh [-c CONF] ACCOUNT\n"
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
	"  test-smtp   connects to a relay, STARTTLS, AUTH with the stored token\n"
	"              (refreshed if needed) and prints the server's replies;\n"
	"              see '" CLI_PROGRAM " token test-smtp --help'.\n"
	"\n"
	"Options:\n"
	"  -c, --config CONF  the token client config\n"
	"      --browser      authorize: authorization code flow, loopback redirect\n"
	"      --code         authorize: authorization code flow, paste the result\n"
	"  -v, --verbose      log debug messages on stderr\n"
	"  -h, --help         show this help\n"
	"\n"
	"Run it as the user the mail system runs as, or as root (a new store gets\n"
	"the owner of its directory).\n"
	"Exit status: 0 success, 1 failure, 3 config error, 64 usage error.\n";

static void
cli_token_log(void *context, enum moa2_log_level level, const char *message)
{
	const bool *verbose = context;

	/* what info says is printed on stdout already */
	if (level < MOA2_LOG_WARNING && !*verbose)
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
cli_token_load(struct cli_token_ctx *ctx, const char *path)
{
	struct moa2_logger logger = { cli_token_log, &ctx->verbose, ctx->verbose };
	char *error = NULL;

	if (path == NULL)
		path = getenv(CLI_TOKEN_CONF_ENV);
	if (path == NULL || *path == '\0')
		path = CLI_TOKEN_DEFAULT_CONF;
	if (moa2_token_config_load(path, &ctx->config, &error) < 0) {
		fprintf(stderr, "config error: %s\n", error);
		free(error);
		return -1;
	}
	if (moa2_token_client_create(ctx->config, &logger, &ctx->client, &error) < 0) {
		fprintf(stderr, "config error: %s\n", error);
		free(error);
		moa2_token_config_free(&ctx->config);
		return -1;
	}
	return 0;
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

static void
format_delta(int64_t seconds, char *buf, size_t size)
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

/* ------------------------------------------------------------------ save */

static int
save_tokens(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
	    const struct moa2_token_state *state)
{
	char fp[MOA2_FINGERPRINT_LEN + 1], delta[32], *error = NULL;

	if (moa2_token_client_save(ctx->client, account, state, &error) < 0) {
		fprintf(stderr, "%s token: account %s: %s\n", CLI_PROGRAM, account->name,
			error);
		free(error);
		return CLI_EXIT_FAIL;
	}
	moa2_token_fingerprint(state->access_token, strlen(state->access_token), fp);
	format_delta(state->expires_at - (int64_t)time(NULL), delta, sizeof(delta));
	printf("account %s: authorized; access token %s valid for %s; tokens "
	       "stored in %s\n", account->name, fp, delta, account->token_file);
	if (state->refresh_token == NULL) {
		printf("warning: the provider sent no refresh token (is offline_access "
		       "in scope?): relaying stops when the access token expires\n");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------- device flow */

struct device_auth {
	char *device_code; /* secret */
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete;
	int64_t expires_in;
	int64_t interval;
};

static void
device_auth_clear(struct device_auth *da)
{
	moa2_secret_str_free(&da->device_code);
	free(da->user_code);
	free(da->verification_uri);
	free(da->verification_uri_complete);
	memset(da, 0, sizeof(*da));
}

static char *
json_strdup(const struct moa2_json *doc, const char *key)
{
	const char *value = NULL;

	if (moa2_json_get_string(doc, key, &value) <= 0)
		return NULL;
	return strdup(value);
}

static int
device_auth_parse(const struct moa2_http_response *resp, struct device_auth *da)
{
	struct moa2_json *doc;
	const char *reason;

	memset(da, 0, sizeof(*da));
	if (moa2_json_parse(resp->body, resp->body_len, &doc, &reason) < 0)
		return -1;
	da->device_code = json_strdup(doc, "device_code");
	da->user_code = json_strdup(doc, "user_code");
	da->verification_uri = json_strdup(doc, "verification_uri");
	if (da->verification_uri == NULL) /* Google's name for it */
		da->verification_uri = json_strdup(doc, "verification_url");
	da->verification_uri_complete = json_strdup(doc, "verification_uri_complete");
	if (moa2_json_get_int64(doc, "expires_in", &da->expires_in) <= 0)
		da->expires_in = 600;
	if (moa2_json_get_int64(doc, "interval", &da->interval) <= 0 || da->interval < 1)
		da->interval = DEVICE_DEFAULT_INTERVAL;
	moa2_json_free(&doc);
	return da->device_code != NULL && da->user_code != NULL &&
		da->verification_uri != NULL ? 0 : -1;
}

static int
device_start(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
	     const char *url, struct device_auth *da)
{
	struct moa2_http_response resp;
	char *error = NULL;
	int ret = -1;

	if (moa2_token_client_post(ctx->client, account, url, NULL, 0, true, &resp,
				   &error) < 0) {
		fprintf(stderr, "%s token: account %s: device authorization: %s\n",
			CLI_PROGRAM, account->name, error);
		free(error);
	} else if (resp.status != 200) {
		struct moa2_token_reply reply;

		moa2_token_parse_reply(&resp, time(NULL), &reply);
		fprintf(stderr, "%s token: account %s: the device authorization "
			"endpoint answered HTTP %ld %s%s%s\n", CLI_PROGRAM, account->name,
			resp.status, reply.error, reply.description[0] != '\0' ? ": " : "",
			reply.description);
		moa2_token_reply_clear(&reply);
	} else if (device_auth_parse(&resp, da) < 0) {
		fprintf(stderr, "%s token: account %s: the device authorization answer "
			"lacks device_code, user_code or verification_uri\n", CLI_PROGRAM,
			account->name);
		device_auth_clear(da);
	} else {
		ret = 0;
	}
	moa2_http_response_clear(&resp);
	return ret;
}

/* One poll of the token endpoint: 1 done (reply OK), 0 keep polling,
   -1 failed (printed). */
static int
device_poll_once(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
		 const char *token_url, struct device_auth *da,
		 struct moa2_token_reply *reply, unsigned int *failures)
{
	struct moa2_http_form_field fields[2] = {
		{ "grant_type", MOA2_TOKEN_GRANT_DEVICE_CODE_URN },
		{ "device_code", da->device_code },
	};
	struct moa2_http_response resp;
	char *error = NULL;

	/* RFC 8628 §3.4: no scope here, the grant has it */
	if (moa2_token_client_post(ctx->client, account, token_url, fields, 2, false,
				   &resp, &error) < 0) {
		moa2_http_response_clear(&resp);
		if (++*failures >= DEVICE_MAX_FAILURES) {
			fprintf(stderr, "%s token: account %s: %s\n", CLI_PROGRAM,
				account->name, error);
			free(error);
			return -1;
		}
		free(error);
		return 0;
	}
	moa2_token_parse_reply(&resp, time(NULL), reply);
	moa2_http_response_clear(&resp);
	*failures = 0;
	if (reply->status == MOA2_TOKEN_REPLY_OK)
		return 1;
	if (reply->status == MOA2_TOKEN_REPLY_OAUTH_ERROR &&
	    strcmp(reply->error, "authorization_pending") == 0) {
		moa2_token_reply_clear(reply);
		return 0;
	}
	if (reply->status == MOA2_TOKEN_REPLY_OAUTH_ERROR &&
	    strcmp(reply->error, "slow_down") == 0) {
		da->interval += DEVICE_SLOW_DOWN;
		moa2_token_reply_clear(reply);
		return 0;
	}
	if (reply->status == MOA2_TOKEN_REPLY_OAUTH_ERROR)
		fprintf(stderr, "%s token: account %s: authorization failed: %s%s%s\n",
			CLI_PROGRAM, account->name, reply->error,
			reply->description[0] != '\0' ? ": " : "", reply->description);
	else
		fprintf(stderr, "%s token: account %s: the token endpoint answered "
			"HTTP %ld: %s\n", CLI_PROGRAM, account->name, reply->http_status,
			reply->description);
	moa2_token_reply_clear(reply);
	return -1;
}

static int
authorize_device(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
		 const struct moa2_token_endpoints *ep)
{
	struct moa2_token_reply reply;
	struct device_auth da;
	unsigned int failures = 0;
	time_t deadline;
	int ret;

	if (ep->device_authorization == NULL) {
		fprintf(stderr, "%s token: account %s: no device authorization endpoint "
			"(set device_authorization_endpoint, or use --browser)\n",
			CLI_PROGRAM, account->name);
		return CLI_EXIT_FAIL;
	}
	if (device_start(ctx, account, ep->device_authorization, &da) < 0)
		return CLI_EXIT_FAIL;
	printf("To authorize account %s, open %s\nand enter the code: %s\n",
	       account->name, da.verification_uri, da.user_code);
	if (da.verification_uri_complete != NULL)
		printf("(or open %s)\n", da.verification_uri_complete);
	printf("Waiting for the authorization (%lld min)...\n",
	       (long long)(da.expires_in / 60));
	fflush(stdout);
	deadline = time(NULL) + (time_t)da.expires_in;
	for (;;) {
		sleep((unsigned int)da.interval);
		ret = device_poll_once(ctx, account, ep->token, &da, &reply, &failures);
		if (ret != 0)
			break;
		if (time(NULL) >= deadline) {
			fprintf(stderr, "%s token: account %s: the code expired before it "
				"was entered; run the command again\n", CLI_PROGRAM,
				account->name);
			ret = -1;
			break;
		}
	}
	device_auth_clear(&da);
	if (ret < 0)
		return CLI_EXIT_FAIL;
	ret = save_tokens(ctx, account, &reply.state);
	moa2_token_reply_clear(&reply);
	return ret;
}

/* ---------------------------------------------- authorization code + PKCE */

static char *
random_b64url(size_t bytes)
{
	unsigned char buf[64];
	char *out;

	if (bytes > sizeof(buf) || RAND_bytes(buf, (int)bytes) != 1)
		return NULL;
	out = moa2_base64url_encode(buf, bytes);
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

static char *
pkce_challenge(const char *verifier)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(verifier, strlen(verifier), digest, &len, EVP_sha256(), NULL) != 1)
		return NULL;
	return moa2_base64url_encode(digest, len);
}

/* Appends "&name=value" (URL-encoded) to url (a malloc()ed string). */
static int
url_add(char **url, const char *name, const char *value)
{
	char *enc = moa2_url_encode(value), *grown;
	size_t len;

	if (enc == NULL)
		return -1;
	len = strlen(*url) + strlen(name) + strlen(enc) + 3;
	grown = realloc(*url, len);
	if (grown == NULL) {
		free(enc);
		return -1;
	}
	snprintf(grown + strlen(grown), len - strlen(grown), "%c%s=%s",
		 strchr(grown, '?') != NULL ? '&' : '?', name, enc);
	free(enc);
	*url = grown;
	return 0;
}

struct pkce {
	char *verifier;   /* secret */
	char *state;
	char *redirect_uri;
};

static void
pkce_clear(struct pkce *p)
{
	moa2_secret_str_free(&p->verifier);
	free(p->state);
	free(p->redirect_uri);
	memset(p, 0, sizeof(*p));
}

static char *
authorization_url(const struct moa2_token_account *account, const char *endpoint,
		  const struct pkce *p)
{
	char *url = strdup(endpoint), *challenge = pkce_challenge(p->verifier);
	int ret = url == NULL || challenge == NULL ? -1 : 0;

	ret = ret < 0 ? -1 : url_add(&url, "response_type", "code");
	ret = ret < 0 ? -1 : url_add(&url, "client_id", account->client_id);
	ret = ret < 0 ? -1 : url_add(&url, "redirect_uri", p->redirect_uri);
	if (account->scope != NULL)
		ret = ret < 0 ? -1 : url_add(&url, "scope", account->scope);
	if (account->resource != NULL)
		ret = ret < 0 ? -1 : url_add(&url, "resource", account->resource);
	ret = ret < 0 ? -1 : url_add(&url, "state", p->state);
	ret = ret < 0 ? -1 : url_add(&url, "code_challenge", challenge);
	ret = ret < 0 ? -1 : url_add(&url, "code_challenge_method", "S256");
	if (account->provider == MOA2_TOKEN_PROVIDER_GOOGLE)
		ret = ret < 0 ? -1 : url_add(&url, "access_type", "offline");
	/* Google and OpenID Connect (Core §11: offline_access needs
	   prompt=consent) send a refresh token only with it; Microsoft does
	   without, and a forced consent would lock out users who may not
	   consent themselves */
	if (account->provider != MOA2_TOKEN_PROVIDER_MICROSOFT)
		ret = ret < 0 ? -1 : url_add(&url, "prompt", "consent");
	free(challenge);
	if (ret < 0) {
		free(url);
		return NULL;
	}
	return url;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The percent-decoded value of name in a query string (malloc()ed), or NULL. */
static char *
query_param(const char *query, const char *name)
{
	size_t name_len = strlen(name);

	while (query != NULL && *query != '\0') {
		size_t len = strcspn(query, "& #\r\n");

		if (len > name_len && strncmp(query, name, name_len) == 0 &&
		    query[name_len] == '=') {
			const char *v = query + name_len + 1, *end = query + len;
			char *out = malloc((size_t)(end - v) + 1), *o = out;

			if (out == NULL)
				return NULL;
			for (; v < end; v++) {
				int hi, lo;

				if (*v == '%' && end - v >= 3 &&
				    (hi = hex_digit(v[1])) >= 0 && (lo = hex_digit(v[2])) >= 0) {
					*o++ = (char)(hi * 16 + lo);
					v += 2;
				} else {
					*o++ = *v == '+' ? ' ' : *v;
				}
			}
			*o = '\0';
			return out;
		}
		query += len;
		if (*query != '&')
			break;
		query++;
	}
	return NULL;
}

/* The authorization response: code and state from a redirect URL. A bare
   code is refused: without the state it could be an attacker's (CSRF).
   Returns 0 with a malloc()ed code, or -1 (printed). */
static int
callback_result(const char *account, const char *query, const struct pkce *p,
		char **code_r)
{
	char *error = query_param(query, "error"), *state = query_param(query, "state");
	char *desc = query_param(query, "error_description");
	int ret = -1;

	*code_r = NULL;
	if (error != NULL) {
		fprintf(stderr, "%s token: account %s: authorization refused: %s%s%s\n",
			CLI_PROGRAM, account, error, desc != NULL ? ": " : "",
			desc != NULL ? desc : "");
	} else if (state == NULL || strlen(state) != strlen(p->state) ||
		   CRYPTO_memcmp(state, p->state, strlen(state)) != 0) {
		fprintf(stderr, "%s token: account %s: the redirect's state does not "
			"match this request (an old or forged redirect): try again\n",
			CLI_PROGRAM, account);
	} else if ((*code_r = query_param(query, "code")) == NULL) {
		fprintf(stderr, "%s token: account %s: the redirect has no code\n",
			CLI_PROGRAM, account);
	} else {
		ret = 0;
	}
	free(error);
	free(state);
	free(desc);
	return ret;
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

/* Waits for the browser's redirect to /callback. */
static int
loopback_wait(const char *account, int listen_fd, const struct pkce *p, char **code_r)
{
	time_t deadline = time(NULL) + LOOPBACK_TIMEOUT_S;

	while (time(NULL) < deadline) {
		struct pollfd pfd = { listen_fd, POLLIN, 0 };
		char *target;
		int fd, ret;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		target = read_request_target(fd);
		if (target == NULL || strncmp(target, "/callback?", 10) != 0) {
			send_page(fd, "404 Not Found", "Not found.");
			close(fd);
			free(target);
			continue;
		}
		ret = callback_result(account, target + 10, p, code_r);
		send_page(fd, "200 OK", ret == 0 ?
			  "mail-oauth2: authorization received. You can close this window." :
			  "mail-oauth2: authorization failed; see the terminal.");
		close(fd);
		OPENSSL_cleanse(target, strlen(target));
		free(target);
		return ret;
	}
	fprintf(stderr, "%s token: account %s: no redirect arrived within %d min\n",
		CLI_PROGRAM, account, LOOPBACK_TIMEOUT_S / 60);
	return -1;
}

/* --code: the user pastes the address the browser ended up at. */
static int
pasted_wait(const char *account, const struct pkce *p, char **code_r)
{
	struct cli_input input;
	const char *query;
	int ret;

	printf("Paste the address the browser ends up at (it may show an error page):\n");
	fflush(stdout);
	if (cli_input_read(STDIN_FILENO, CALLBACK_MAX_REQUEST, NULL, &input) != CLI_READ_OK) {
		cli_input_clear(&input);
		fprintf(stderr, "%s token: account %s: nothing read\n", CLI_PROGRAM, account);
		return -1;
	}
	cli_input_strip_newline(&input);
	query = strchr(input.data, '?');
	ret = callback_result(account, query != NULL ? query + 1 : "", p, code_r);
	cli_input_clear(&input);
	return ret;
}

static int
exchange_code(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
	      const char *token_url, const struct pkce *p, char *code)
{
	struct moa2_http_form_field fields[4] = {
		{ "grant_type", "authorization_code" },
		{ "code", code },
		{ "redirect_uri", p->redirect_uri },
		{ "code_verifier", p->verifier },
	};
	struct moa2_http_response resp;
	struct moa2_token_reply reply;
	char *error = NULL;
	int ret;

	ret = moa2_token_client_post(ctx->client, account, token_url, fields, 4, false,
				     &resp, &error);
	moa2_secret_str_free(&code);
	if (ret < 0) {
		fprintf(stderr, "%s token: account %s: %s\n", CLI_PROGRAM, account->name,
			error);
		free(error);
		moa2_http_response_clear(&resp);
		return CLI_EXIT_FAIL;
	}
	moa2_token_parse_reply(&resp, time(NULL), &reply);
	moa2_http_response_clear(&resp);
	if (reply.status != MOA2_TOKEN_REPLY_OK) {
		fprintf(stderr, "%s token: account %s: the code exchange failed: HTTP %ld "
			"%s%s%s\n", CLI_PROGRAM, account->name, reply.http_status,
			reply.error, reply.description[0] != '\0' ? ": " : "",
			reply.description);
		moa2_token_reply_clear(&reply);
		return CLI_EXIT_FAIL;
	}
	ret = save_tokens(ctx, account, &reply.state);
	moa2_token_reply_clear(&reply);
	return ret;
}

static int
authorize_code(struct cli_token_ctx *ctx, const struct moa2_token_account *account,
	       const struct moa2_token_endpoints *ep, bool pasted)
{
	struct pkce p = { NULL, NULL, NULL };
	unsigned int port = 1;
	char *url = NULL, *code = NULL, redirect[64];
	int listen_fd = -1, ret = CLI_EXIT_FAIL;

	if (ep->authorization == NULL) {
		fprintf(stderr, "%s token: account %s: no authorization endpoint (set "
			"authorization_endpoint)\n", CLI_PROGRAM, account->name);
		return CLI_EXIT_FAIL;
	}
	if (!pasted && (listen_fd = loopback_listen(&port)) < 0) {
		fprintf(stderr, "%s token: cannot listen on 127.0.0.1: %s\n", CLI_PROGRAM,
			strerror(errno));
		return CLI_EXIT_FAIL;
	}
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/callback", port);
	/* RFC 7636: 32 random bytes give a 43-character verifier */
	p.verifier = random_b64url(32);
	p.state = random_b64url(16);
	p.redirect_uri = strdup(redirect);
	if (p.verifier == NULL || p.state == NULL || p.redirect_uri == NULL ||
	    (url = authorization_url(account, ep->authorization, &p)) == NULL) {
		fprintf(stderr, "%s token: out of memory or no random bytes\n", CLI_PROGRAM);
		goto out;
	}
	printf("To authorize account %s, open this address in a browser%s:\n%s\n",
	       account->name, pasted ? "" : " on this machine", url);
	fflush(stdout);
	if ((pasted ? pasted_wait(account->name, &p, &code) :
	     loopback_wait(account->name, listen_fd, &p, &code)) == 0)
		ret = exchange_code(ctx, account, ep->token, &p, code);
out:
	if (listen_fd >= 0)
		close(listen_fd);
	free(url);
	pkce_clear(&p);
	return ret;
}

/* ------------------------------------------------------------- commands */

static int
cmd_authorize(struct cli_token_ctx *ctx, const char *name, int mode)
{
	const struct moa2_token_account *account = cli_token_account(ctx, name);
	struct moa2_token_endpoints ep;
	char *error = NULL;

	if (account == NULL)
		return CLI_EXIT_FAIL;
	if (account->grant != MOA2_TOKEN_GRANT_REFRESH_TOKEN) {
		fprintf(stderr, "%s token: account %s uses grant %s: nothing to "
			"authorize (try '%s token refresh')\n", CLI_PROGRAM, account->name,
			moa2_token_grant_name(account->grant), CLI_PROGRAM);
		return CLI_EXIT_FAIL;
	}
	if (moa2_token_client_endpoints(ctx->client, account, &ep, &error) < 0) {
		fprintf(stderr, "%s token: %s\n", CLI_PROGRAM, error);
		free(error);
		return CLI_EXIT_FAIL;
	}
	if (mode == 0)
		return authorize_device(ctx, account, &ep);
	return authorize_code(ctx, account, &ep, mode == 2);
}

static void
show_store_file(const char *path)
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
show_state(const struct moa2_token_state *state)
{
	char fp[MOA2_FINGERPRINT_LEN + 1], when[64], delta[32];
	int64_t now = (int64_t)time(NULL);

	if (state->access_token == NULL) {
		printf("  access token:   none (the next use fetches one)\n");
	} else {
		moa2_token_fingerprint(state->access_token, strlen(state->access_token), fp);
		format_time(state->expires_at, when, sizeof(when));
		format_delta(state->expires_at - now, delta, sizeof(delta));
		printf("  access token:   %s, %s %s (%s%s)\n", fp,
		       state->expires_at > now ? "expires" : "EXPIRED", when,
		       state->expires_at > now ? "in " : "", delta);
	}
	if (state->refresh_token == NULL) {
		printf("  refresh token:  none\n");
	} else {
		moa2_token_fingerprint(state->refresh_token, strlen(state->refresh_token), fp);
		format_time(state->refresh_token_at, when, sizeof(when));
		printf("  refresh token:  %s, obtained %s\n", fp, when);
	}
	printf("  scope:          %s\n", state->scope != NULL ? state->scope : "(not reported)");
	format_time(state->updated_at, when, sizeof(when));
	printf("  updated:        %s\n", when);
}

static int
show_account(struct cli_token_ctx *ctx, const struct moa2_token_account *account)
{
	struct moa2_token_state state;
	struct moa2_token_endpoints ep = { account->token_endpoint, NULL, NULL };
	char *error = NULL;
	int ret = CLI_EXIT_OK;

	printf("account %s (%s, grant %s, client %s)\n", account->name,
	       moa2_token_provider_name(account->provider),
	       moa2_token_grant_name(account->grant), account->client_id);
	printf("  token endpoint: %s\n", ep.token != NULL ? ep.token :
	       account->discovery_url != NULL ? "(from discovery)" : "(none)");
	show_store_file(account->token_file);
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
	format_delta(token.expires_at - (int64_t)time(NULL), delta, sizeof(delta));
	printf("account %s: new access token %s, valid for %s\n", account->name,
	       token.fingerprint, delta);
	moa2_token_clear(&token);
	return CLI_EXIT_OK;
}

enum token_sub { SUB_AUTHORIZE, SUB_SHOW, SUB_REFRESH, SUB_TEST_SMTP };

static int
parse_sub(const char *name, enum token_sub *sub_r)
{
	static const char *const names[] = { "authorize", "show", "refresh", "test-smtp" };

	for (unsigned int i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			*sub_r = (enum token_sub)i;
			return 0;
		}
	}
	return -1;
}

static int
run_sub(struct cli_token_ctx *ctx, enum token_sub sub, int mode, int argc,
	char *argv[])
{
	switch (sub) {
	case SUB_AUTHORIZE:
		if (argc != 1)
			return cli_usage_error(ctx->cmd, "authorize needs exactly one ACCOUNT");
		return cmd_authorize(ctx, argv[0], mode);
	case SUB_SHOW:
		return cmd_show(ctx, argc, argv);
	case SUB_REFRESH:
		if (argc != 1)
			return cli_usage_error(ctx->cmd, "refresh needs exactly one ACCOUNT");
		return cmd_refresh(ctx, argv[0]);
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_token_ctx ctx = { .cmd = cmd };
	const char *config_path = NULL;
	enum token_sub sub;
	int opt, mode = 0, ret;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_help(cmd, stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2)
		return cli_usage_error(cmd, "no subcommand (expected authorize, show, "
				       "refresh or test-smtp)");
	if (parse_sub(argv[1], &sub) < 0)
		return cli_usage_error(cmd, "unknown subcommand '%s' (expected authorize, "
				       "show, refresh or test-smtp)", argv[1]);
	argc--;
	argv++;
	if (sub == SUB_TEST_SMTP) {
		/* its own options; it loads the config itself */
		return cli_token_test_smtp(&ctx, argc, argv);
	}
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
		case 'v':
			ctx.verbose = true;
			break;
		default:
			return cli_getopt_help_or_error(cmd, opt, argv);
		}
	}
	if (cli_token_load(&ctx, config_path) < 0)
		return CLI_EXIT_CONFIG;
	ret = run_sub(&ctx, sub, mode, argc - optind, argv + optind);
	cli_token_unload(&ctx);
	return ret;
}
