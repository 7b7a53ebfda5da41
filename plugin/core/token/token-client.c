/* SPDX-License-Identifier: MIT */
/* The outbound token client (see token-client.h): set-up, the accounts,
   their endpoints (configured, or from discovery), and the store for the
   CLI. Failure behaviour: an account whose store cannot be opened fails
   only its own requests, with the reason given at start; discovery that
   fails while a token endpoint is configured is a warning; secrets are
   wiped and never logged (fingerprints only). */

#include "config.h"
#include "token/token-client-internal.h"

#include "support/oidc-discovery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

static const char *const system_ca_files[] = {
	"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
	"/etc/ssl/ca-bundle.pem",               /* openSUSE */
	"/etc/ssl/cert.pem",                    /* Arch, BSDs */
	NULL
};

static time_t
default_clock(void *context)
{
	(void)context;
	return time(NULL);
}

void
moa2_token_client_set_clock(struct moa2_token_client *client,
			    time_t (*now)(void *context), void *context)
{
	client->now = now != NULL ? now : default_clock;
	client->now_context = context;
}

void
moa2_token_client_set_response_hook(struct moa2_token_client *client,
				    moa2_token_response_hook_t *hook, void *context)
{
	client->hook = hook;
	client->hook_context = context;
}

unsigned int
moa2_token_client_request_count(const struct moa2_token_client *client)
{
	return client->requests;
}

const char *
moa2_token_client_ca_source(const struct moa2_token_client *client)
{
	return client->ca_source;
}

bool
moa2_token_secret_equal(const char *a, const char *b)
{
	size_t len;

	if (a == NULL || b == NULL)
		return false;
	len = strlen(a);
	return len == strlen(b) && CRYPTO_memcmp(a, b, len) == 0;
}

void
moa2_token_url_host(const char *url, char *buf, size_t size)
{
	const char *start = strstr(url, "://");
	size_t len;

	start = start == NULL ? url : start + 3;
	len = strcspn(start, "/?#");
	snprintf(buf, size, "%.*s", (int)len, start);
}

void
moa2_token_format_utc(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (when <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "unknown");
}

void
moa2_token_format_duration(int64_t seconds, char *buf, size_t size)
{
	int64_t s = seconds < 0 ? -seconds : seconds;

	if (s < 120)
		snprintf(buf, size, "%lld s", (long long)s);
	else if (s < 7200)
		snprintf(buf, size, "%lld min", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, size, "%lld h", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lld days", (long long)(s / 86400));
}

/* ---------------------------------------------------------------- create */

static int
load_ca(struct moa2_token_client *client, void **blob_r, size_t *len_r,
	char **error_r)
{
	const char *path = client->config->ca_file, *reason;

	if (path != NULL) {
		if (moa2_http_load_ca_file(path, blob_r, len_r, &reason) < 0) {
			*error_r = moa2_strdup_printf("%s: ca_file %s: %s (it is read when the "
						      "plugin starts, before Postfix's smtp "
						      "chroots, so give the path outside the "
						      "chroot)", client->config->file, path, reason);
			return -1;
		}
		client->ca_source = moa2_strdup(path);
		return 0;
	}
	for (unsigned int i = 0; system_ca_files[i] != NULL; i++) {
		if (access(system_ca_files[i], R_OK) == 0 &&
		    moa2_http_load_ca_file(system_ca_files[i], blob_r, len_r, &reason) == 0) {
			client->ca_source = moa2_strdup(system_ca_files[i]);
			return 0;
		}
	}
	*error_r = moa2_strdup_printf("%s: no system CA bundle found (tried "
				      "/etc/ssl/certs/ca-certificates.crt and others); set "
				      "ca_file = PATH", client->config->file);
	return -1;
}

static void
accounts_open(struct moa2_token_client *client)
{
	const struct moa2_token_config *config = client->config;

	client->accounts = calloc(config->accounts_count + 1, sizeof(*client->accounts));
	if (client->accounts == NULL)
		abort();
	client->accounts_count = config->accounts_count;
	for (unsigned int i = 0; i < config->accounts_count; i++) {
		struct moa2_account_rt *rt = &client->accounts[i];
		char *error = NULL;

		rt->cfg = &config->accounts[i];
		if (moa2_token_store_open(rt->cfg->token_file, &rt->store, &error) < 0) {
			rt->open_error = errno == EACCES ?
				moa2_strdup_printf("account %s: %s (uid %u may not open it: "
						   "run this as the user the mail system "
						   "runs as, or as root)", rt->cfg->name, error,
						   (unsigned int)geteuid()) :
				moa2_strdup_printf("account %s: %s (create it, owned by "
						   "the user the mail system runs as, "
						   "e.g. install -d -o postfix -m 700 DIR)",
						   rt->cfg->name, error);
			free(error);
			moa2_log(&client->logger, MOA2_LOG_ERROR, "%s", rt->open_error);
		}
	}
}

int
moa2_token_client_create(const struct moa2_token_config *config,
			 const struct moa2_logger *logger,
			 struct moa2_token_client **client_r, char **error_r)
{
	struct moa2_token_client *client = calloc(1, sizeof(*client));
	struct moa2_http_settings http = {
		.connect_timeout_ms = config->http_connect_timeout,
		.total_timeout_ms = config->http_timeout,
		.allow_http_loopback = config->allow_http_loopback,
	};
	const char *reason;
	void *blob = NULL;
	size_t blob_len = 0;

	if (client == NULL)
		abort();
	*client_r = NULL;
	client->config = config;
	if (logger != NULL)
		client->logger = *logger;
	client->logger.debug = client->logger.debug || config->log_debug;
	client->now = default_clock;
	if (load_ca(client, &blob, &blob_len, error_r) < 0) {
		moa2_token_client_destroy(&client);
		return -1;
	}
	http.ca_blob = blob;
	http.ca_blob_len = blob_len;
	if (moa2_http_client_create(&http, &client->http, &reason) < 0) {
		*error_r = moa2_strdup_printf("%s: HTTP client: %s", config->file, reason);
		free(blob);
		moa2_token_client_destroy(&client);
		return -1;
	}
	free(blob);
	accounts_open(client);
	*client_r = client;
	return 0;
}

static void
account_rt_free(struct moa2_account_rt *rt)
{
	moa2_token_store_close(&rt->store);
	free(rt->open_error);
	moa2_token_state_clear(&rt->mem);
	moa2_secret_str_free(&rt->mem_replaces);
	moa2_oidc_discovery_destroy(&rt->discovery);
}

void
moa2_token_client_destroy(struct moa2_token_client **_client)
{
	struct moa2_token_client *client = *_client;

	if (client == NULL)
		return;
	*_client = NULL;
	for (unsigned int i = 0; i < client->accounts_count; i++)
		account_rt_free(&client->accounts[i]);
	free(client->accounts);
	moa2_http_client_destroy(&client->http);
	free(client->ca_source);
	free(client);
}

void
moa2_token_clear(struct moa2_token *token)
{
	moa2_secret_str_free(&token->access_token);
	memset(token, 0, sizeof(*token));
}

struct moa2_account_rt *
moa2_token_account_find(struct moa2_token_client *client, const char *name)
{
	for (unsigned int i = 0; i < client->accounts_count; i++) {
		if (strcmp(client->accounts[i].cfg->name, name) == 0)
			return &client->accounts[i];
	}
	return NULL;
}

struct moa2_account_rt *
moa2_token_account_rt(struct moa2_token_client *client,
		      const struct moa2_token_account *account)
{
	for (unsigned int i = 0; i < client->accounts_count; i++) {
		if (client->accounts[i].cfg == account)
			return &client->accounts[i];
	}
	return NULL;
}

/* ------------------------------------------------------------- discovery */

/* The account's discovery document (support/oidc-discovery.h), kept in
   memory with the default policy: the token client has no cache options
   and a chrooted smtp could not write a cache file. */
static struct moa2_oidc_discovery *
discovery_create(struct moa2_token_client *client, const struct moa2_account_rt *rt)
{
	char *owner = moa2_strdup_printf("account %s", rt->cfg->name);
	struct moa2_oidc_discovery_settings set = {
		.doc = {
			.url = rt->cfg->discovery_url, .owner = owner,
			.cache_min = MOA2_OIDC_DISCOVERY_CACHE_MIN,
			.cache_max = MOA2_OIDC_DISCOVERY_CACHE_MAX,
			.retry_interval = MOA2_OIDC_DISCOVERY_RETRY_INTERVAL,
			.stale_max = MOA2_OIDC_DISCOVERY_STALE_MAX,
		},
		.issuer = rt->cfg->issuer,
		.allow_http_loopback = client->config->allow_http_loopback,
	};
	struct moa2_oidc_discovery *d;

	d = moa2_oidc_discovery_create(&set, client->http, &client->logger);
	free(owner);
	return d;
}

static int
discover(struct moa2_token_client *client, struct moa2_account_rt *rt,
	 const struct moa2_oidc_endpoints **endpoints_r, char **error_r)
{
	const char *reason = NULL;
	char host[256];

	if (rt->discovery == NULL)
		rt->discovery = discovery_create(client, rt);
	if (moa2_oidc_discovery_get(rt->discovery, moa2_token_client_now(client), false,
				    endpoints_r, &reason) >= 0)
		return 0;
	moa2_token_url_host(rt->cfg->discovery_url, host, sizeof(host));
	*error_r = moa2_strdup_printf("account %s: no usable discovery document from %s: "
				      "%s; mail stays queued and is retried", rt->cfg->name,
				      host, reason);
	return -1;
}

int
moa2_token_account_endpoints(struct moa2_token_client *client,
			     struct moa2_account_rt *rt, bool all,
			     struct moa2_token_endpoints *ep, char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	bool need = a->token_endpoint == NULL ||
		(all && (a->device_authorization_endpoint == NULL ||
			 a->authorization_endpoint == NULL));
	const struct moa2_oidc_endpoints *disc = NULL;
	char *error = NULL;

	memset(ep, 0, sizeof(*ep));
	/* discovery only when the config leaves an endpoint open; when it
	   fails, the configured token endpoint still works */
	if (need && a->discovery_url != NULL && discover(client, rt, &disc, &error) < 0) {
		if (a->token_endpoint == NULL) {
			*error_r = error;
			return -1;
		}
		moa2_log(&client->logger, MOA2_LOG_WARNING, "%s", error);
		free(error);
	}
	ep->token = a->token_endpoint != NULL ? a->token_endpoint :
		disc != NULL ? disc->token_endpoint : NULL;
	ep->device_authorization = a->device_authorization_endpoint != NULL ?
		a->device_authorization_endpoint :
		disc != NULL ? disc->device_authorization_endpoint : NULL;
	ep->authorization = a->authorization_endpoint != NULL ? a->authorization_endpoint :
		disc != NULL ? disc->authorization_endpoint : NULL;
	if (ep->token == NULL) {
		*error_r = moa2_strdup_printf("account %s: no token endpoint (discovery gave "
					      "none; set token_endpoint)", a->name);
		return -1;
	}
	return 0;
}

int
moa2_token_client_endpoints(struct moa2_token_client *client,
			    const struct moa2_token_account *account,
			    struct moa2_token_endpoints *endpoints_r,
			    char **error_r)
{
	struct moa2_account_rt *rt = moa2_token_account_rt(client, account);

	if (rt == NULL) {
		*error_r = moa2_strdup_printf("account %s: not from this client's config",
					      account->name);
		return -1;
	}
	return moa2_token_account_endpoints(client, rt, true, endpoints_r, error_r);
}

/* ---------------------------------------------------- the store, for the CLI */

enum moa2_store_read
moa2_token_client_read(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       struct moa2_token_state *state_r, char **error_r)
{
	struct moa2_account_rt *rt = moa2_token_account_rt(client, account);

	memset(state_r, 0, sizeof(*state_r));
	if (rt == NULL || rt->open_error != NULL) {
		*error_r = moa2_strdup(rt == NULL ? "unknown account" : rt->open_error);
		return MOA2_STORE_READ_ERROR;
	}
	return moa2_token_store_read(rt->store, state_r, error_r);
}

int
moa2_token_client_save(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       const struct moa2_token_state *state, char **error_r)
{
	struct moa2_account_rt *rt = moa2_token_account_rt(client, account);
	struct moa2_token_state old, copy;
	char *error = NULL;
	int ret;

	if (rt == NULL || rt->open_error != NULL) {
		*error_r = moa2_strdup(rt == NULL ? "unknown account" : rt->open_error);
		return -1;
	}
	if (moa2_token_store_lock(rt->store, client->config->lock_timeout * 1000u,
				  &error) == MOA2_STORE_LOCK_FAILED) {
		*error_r = error;
		return -1;
	}
	/* reading keeps a .corrupt copy of a broken store before we replace it */
	if (moa2_token_store_read(rt->store, &old, &error) < MOA2_STORE_READ_MISSING)
		moa2_log(&client->logger, MOA2_LOG_WARNING, "%s", error);
	free(error);
	moa2_token_state_clear(&old);
	moa2_token_state_copy(&copy, state);
	moa2_token_state_set(&copy.account, account->name);
	if (copy.last.at == 0) {
		/* the flow's token request: an older failure is history now */
		copy.last.at = copy.updated_at > 0 ? copy.updated_at :
			(int64_t)moa2_token_client_now(client);
		copy.last.ok = true;
		copy.last_ok_at = copy.last.at;
	}
	ret = moa2_token_store_write(rt->store, &copy, error_r);
	moa2_token_state_clear(&copy);
	if (ret == 0) {
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
	}
	moa2_token_store_unlock(rt->store);
	return ret;
}
