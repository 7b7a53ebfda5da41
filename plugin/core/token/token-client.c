/* The outbound token client (see token-client.h). Failure behaviour:
   every failure is a temporary one with a sentence for the admin; a
   refresh that fails while the current token is still valid keeps using
   it; the store is only written under its lock; secrets are wiped and
   never logged (fingerprints only). */

#include "config.h"
#include "token/token-client-private.h"

#include "support/json.h"
#include "support/oidc-discovery.h"
#include "token/token-assertion.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define DEFAULT_EXPIRES_IN 3600     /* when the provider sends no expires_in */
#define MAX_FIELDS 16

static const char *const system_ca_files[] = {
	"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Ubuntu, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
	"/etc/ssl/ca-bundle.pem",               /* openSUSE */
	"/etc/ssl/cert.pem",                    /* Arch, BSDs */
	NULL
};

/* Per-account runtime state of this process. */
struct account_rt {
	const struct moa2_token_account *cfg;
	struct moa2_token_store *store;
	char *open_error;
	/* tokens this process obtained but could not write to the store */
	struct moa2_token_state mem;
	/* the stored refresh token that mem's refresh token superseded */
	char *mem_replaces;
	/* endpoints from discovery, when the config leaves one open */
	struct moa2_oidc_discovery *discovery;
	char token_host[256];  /* of the last token request, for messages */
};

struct moa2_token_client {
	const struct moa2_token_config *config;
	struct moa2_logger logger;
	struct moa2_http_client *http;
	char *ca_source;
	struct account_rt *accounts;
	unsigned int accounts_count;
	time_t (*now)(void *context);
	void *now_context;
	unsigned int requests;
	moa2_token_response_hook_t *hook;
	void *hook_context;
};

static time_t
default_clock(void *context)
{
	(void)context;
	return time(NULL);
}

static time_t
client_now(const struct moa2_token_client *client)
{
	return client->now(client->now_context);
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

static bool
secret_equal(const char *a, const char *b)
{
	size_t len;

	if (a == NULL || b == NULL)
		return false;
	len = strlen(a);
	return len == strlen(b) && CRYPTO_memcmp(a, b, len) == 0;
}

/* The host of a URL, for messages (never the path or query). */
static void
url_host(const char *url, char *buf, size_t size)
{
	const char *start = strstr(url, "://");
	size_t len;

	start = start == NULL ? url : start + 3;
	len = strcspn(start, "/?#");
	snprintf(buf, size, "%.*s", (int)len, start);
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
		struct account_rt *rt = &client->accounts[i];
		char *error = NULL;

		rt->cfg = &config->accounts[i];
		if (moa2_token_store_open(rt->cfg->token_file, &rt->store, &error) < 0) {
			rt->open_error = moa2_strdup_printf("account %s: %s (create it, owned by "
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
account_rt_free(struct account_rt *rt)
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

static struct account_rt *
account_find(struct moa2_token_client *client, const char *name)
{
	for (unsigned int i = 0; i < client->accounts_count; i++) {
		if (strcmp(client->accounts[i].cfg->name, name) == 0)
			return &client->accounts[i];
	}
	return NULL;
}

static struct account_rt *
account_rt_of(struct moa2_token_client *client,
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
discovery_create(struct moa2_token_client *client, const struct account_rt *rt)
{
	struct moa2_oidc_discovery_settings set = {
		.url = rt->cfg->discovery_url, .issuer = rt->cfg->issuer,
		.allow_http_loopback = client->config->allow_http_loopback,
		.cache_min = MOA2_OIDC_DISCOVERY_CACHE_MIN,
		.cache_max = MOA2_OIDC_DISCOVERY_CACHE_MAX,
		.retry_interval = MOA2_OIDC_DISCOVERY_RETRY_INTERVAL,
		.stale_max = MOA2_OIDC_DISCOVERY_STALE_MAX,
	};
	char *owner = moa2_strdup_printf("account %s", rt->cfg->name);
	struct moa2_oidc_discovery *d;

	set.owner = owner;
	d = moa2_oidc_discovery_create(&set, client->http, &client->logger);
	free(owner);
	return d;
}

static int
discover(struct moa2_token_client *client, struct account_rt *rt,
	 const struct moa2_oidc_endpoints **endpoints_r, char **error_r)
{
	const char *reason = NULL;
	char host[256];

	if (rt->discovery == NULL)
		rt->discovery = discovery_create(client, rt);
	if (moa2_oidc_discovery_get(rt->discovery, client_now(client), false, endpoints_r,
				    &reason) >= 0)
		return 0;
	url_host(rt->cfg->discovery_url, host, sizeof(host));
	*error_r = moa2_strdup_printf("account %s: no usable discovery document from %s: "
				      "%s; mail stays queued and is retried", rt->cfg->name,
				      host, reason);
	return -1;
}

/* all: the CLI wants every endpoint; a token request only the token one */
static int
endpoints_of(struct moa2_token_client *client, struct account_rt *rt, bool all,
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
	struct account_rt *rt = account_rt_of(client, account);

	if (rt == NULL) {
		*error_r = moa2_strdup_printf("account %s: not from this client's config",
					      account->name);
		return -1;
	}
	return endpoints_of(client, rt, true, endpoints_r, error_r);
}

/* ------------------------------------------------------------ requests */

int
moa2_token_client_post(struct moa2_token_client *client,
		       const struct moa2_token_account *account, const char *url,
		       const struct moa2_http_form_field *fields, size_t count,
		       bool with_scope, struct moa2_http_response *resp_r,
		       char **error_r)
{
	struct moa2_http_form_field all[MAX_FIELDS];
	struct moa2_http_basic_auth basic = {
		account->client_id, account->client_secret
	};
	const char *reason;
	char host[256];
	size_t n = 0;

	if (count > MAX_FIELDS - 5)
		abort();
	memcpy(all, fields, count * sizeof(*fields));
	n = count;
	if (account->client_auth != MOA2_TOKEN_AUTH_BASIC)
		all[n++] = (struct moa2_http_form_field){ "client_id", account->client_id };
	if (account->client_auth == MOA2_TOKEN_AUTH_POST)
		all[n++] = (struct moa2_http_form_field){ "client_secret",
							   account->client_secret };
	if (with_scope && account->scope != NULL &&
	    !(account->grant == MOA2_TOKEN_GRANT_JWT_BEARER &&
	      account->provider == MOA2_TOKEN_PROVIDER_GOOGLE))
		all[n++] = (struct moa2_http_form_field){ "scope", account->scope };
	if (with_scope && account->resource != NULL)
		all[n++] = (struct moa2_http_form_field){ "resource", account->resource };
	client->requests++;
	if (moa2_http_post_form(client->http, url, all, n,
				account->client_auth == MOA2_TOKEN_AUTH_BASIC ? &basic : NULL,
				resp_r, &reason) < 0) {
		url_host(url, host, sizeof(host));
		*error_r = moa2_strdup_printf("cannot reach %s: %s", host, reason);
		return -1;
	}
	return 0;
}

void
moa2_token_reply_clear(struct moa2_token_reply *reply)
{
	moa2_token_state_clear(&reply->state);
	memset(reply, 0, sizeof(*reply));
}

/* Copies provider text for a message: printable ASCII only, bounded. */
static void
copy_printable(char *dest, size_t size, const char *src)
{
	size_t n = 0;

	for (; src != NULL && *src != '\0' && n + 1 < size; src++)
		dest[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dest[n] = '\0';
}

/* RFC 6750 b64token: what the SASL codec will accept as a bearer token */
static bool
token_charset_ok(const char *token)
{
	size_t len = strlen(token);

	if (len == 0 || len > 16384)
		return false;
	for (const char *c = token; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("-._~+/=", *c) != NULL))
			return false;
	}
	return true;
}

/* expires_in as a number, or as a string of digits (older Azure AD) */
static int
reply_expires_in(const struct moa2_json *doc, int64_t *value_r)
{
	const char *text;
	char *end;
	int ret = moa2_json_get_int64(doc, "expires_in", value_r);

	if (ret >= 0) {
		if (ret == 0)
			*value_r = DEFAULT_EXPIRES_IN;
		return 0;
	}
	if (moa2_json_get_string(doc, "expires_in", &text) <= 0)
		return -1;
	errno = 0;
	*value_r = strtoll(text, &end, 10);
	return errno != 0 || end == text || *end != '\0' ? -1 : 0;
}

static void
reply_failed(struct moa2_token_reply *reply, const char *reason)
{
	moa2_token_state_clear(&reply->state);
	reply->status = MOA2_TOKEN_REPLY_FAILED;
	copy_printable(reply->description, sizeof(reply->description), reason);
}

static void
parse_success(const struct moa2_json *doc, time_t now,
	      struct moa2_token_reply *reply)
{
	const char *access = NULL, *type = NULL, *refresh = NULL, *scope = NULL;
	int64_t expires_in = 0;

	if (moa2_json_get_string(doc, "access_token", &access) <= 0)
		return reply_failed(reply, "no access_token in the token response");
	if (!token_charset_ok(access))
		return reply_failed(reply, "the access_token is empty, too long or "
				    "has characters a bearer token cannot have");
	if (moa2_json_get_string(doc, "token_type", &type) < 0 ||
	    (type != NULL && strcasecmp(type, "bearer") != 0))
		return reply_failed(reply, "token_type is not Bearer");
	if (reply_expires_in(doc, &expires_in) < 0 || expires_in <= 0)
		return reply_failed(reply, "expires_in is not a positive number");
	if (moa2_json_get_string(doc, "refresh_token", &refresh) < 0 ||
	    moa2_json_get_string(doc, "scope", &scope) < 0)
		return reply_failed(reply, "refresh_token or scope is not a string");
	if (refresh != NULL && *refresh == '\0')
		refresh = NULL;
	reply->status = MOA2_TOKEN_REPLY_OK;
	reply->state.access_token = moa2_strdup(access);
	reply->state.token_type = moa2_strdup(type != NULL ? type : "Bearer");
	reply->state.expires_at = (int64_t)now + expires_in;
	reply->state.access_token_at = (int64_t)now;
	reply->state.refresh_token = moa2_strdup(refresh);
	reply->state.refresh_token_at = refresh != NULL ? (int64_t)now : 0;
	reply->state.scope = moa2_strdup(scope);
	reply->state.updated_at = (int64_t)now;
}

void
moa2_token_parse_reply(const struct moa2_http_response *resp, time_t now,
		       struct moa2_token_reply *reply_r)
{
	struct moa2_json *doc = NULL;
	const char *reason, *error = NULL, *desc = NULL;

	memset(reply_r, 0, sizeof(*reply_r));
	reply_r->http_status = resp->status;
	if (moa2_json_parse(resp->body, resp->body_len, &doc, &reason) < 0 ||
	    !moa2_json_is_object(doc)) {
		if (resp->status == 200)
			reply_failed(reply_r, "the token response is not a JSON object");
		else
			reply_failed(reply_r, "");
	} else if (resp->status == 200) {
		parse_success(doc, now, reply_r);
	} else if (moa2_json_get_string(doc, "error", &error) > 0) {
		(void)moa2_json_get_string(doc, "error_description", &desc);
		reply_r->status = MOA2_TOKEN_REPLY_OAUTH_ERROR;
		copy_printable(reply_r->error, sizeof(reply_r->error), error);
		copy_printable(reply_r->description, sizeof(reply_r->description), desc);
	} else {
		reply_failed(reply_r, "");
	}
	moa2_json_free(&doc);
}

void
moa2_token_client_request(struct moa2_token_client *client,
			  const struct moa2_token_account *account,
			  const struct moa2_http_form_field *fields, size_t count,
			  struct moa2_token_reply *reply_r)
{
	struct account_rt *rt = account_rt_of(client, account);
	struct moa2_token_endpoints ep;
	struct moa2_http_response resp;
	char *error = NULL;

	memset(reply_r, 0, sizeof(*reply_r));
	if (rt == NULL || endpoints_of(client, rt, false, &ep, &error) < 0) {
		reply_failed(reply_r, error != NULL ? error : "unknown account");
		free(error);
		return;
	}
	url_host(ep.token, rt->token_host, sizeof(rt->token_host));
	if (moa2_token_client_post(client, account, ep.token, fields, count, true,
				   &resp, &error) < 0) {
		reply_failed(reply_r, error);
		free(error);
	} else {
		if (client->hook != NULL)
			client->hook(client->hook_context, &resp);
		moa2_token_parse_reply(&resp, client_now(client), reply_r);
	}
	moa2_http_response_clear(&resp);
}

/* ----------------------------------------------------------------- grants */

/* The grant request of the account's configured grant. refresh_token is the
   one to use (refresh_token grant). */
static void
grant_request(struct moa2_token_client *client, struct account_rt *rt,
	      const char *refresh_token, struct moa2_token_reply *reply)
{
	const struct moa2_token_account *a = rt->cfg;
	struct moa2_http_form_field fields[2];
	struct moa2_token_endpoints ep;
	char *assertion = NULL, *error = NULL;
	const char *reason;

	switch (a->grant) {
	case MOA2_TOKEN_GRANT_REFRESH_TOKEN:
		fields[0] = (struct moa2_http_form_field){ "grant_type", "refresh_token" };
		fields[1] = (struct moa2_http_form_field){ "refresh_token", refresh_token };
		moa2_token_client_request(client, a, fields, 2, reply);
		return;
	case MOA2_TOKEN_GRANT_CLIENT_CREDENTIALS:
		fields[0] = (struct moa2_http_form_field){ "grant_type", "client_credentials" };
		moa2_token_client_request(client, a, fields, 1, reply);
		return;
	case MOA2_TOKEN_GRANT_JWT_BEARER:
		break;
	}
	if (endpoints_of(client, rt, false, &ep, &error) < 0) {
		memset(reply, 0, sizeof(*reply));
		reply_failed(reply, error);
		free(error);
		return;
	}
	struct moa2_assertion_claims claims = {
		.issuer = a->assertion_issuer,
		.subject = a->assertion_subject,
		.audience = a->assertion_audience != NULL ? a->assertion_audience : ep.token,
		.scope = a->provider == MOA2_TOKEN_PROVIDER_GOOGLE ? a->scope : NULL,
		.key_id = a->assertion_key_id,
		.issued_at = (int64_t)client_now(client),
		.lifetime = a->assertion_lifetime,
	};
	if (moa2_assertion_sign(a->assertion_key, &claims, &assertion, &reason) < 0) {
		memset(reply, 0, sizeof(*reply));
		reply_failed(reply, reason);
		return;
	}
	fields[0] = (struct moa2_http_form_field){ "grant_type", MOA2_TOKEN_GRANT_JWT_BEARER_URN };
	fields[1] = (struct moa2_http_form_field){ "assertion", assertion };
	moa2_token_client_request(client, a, fields, 2, reply);
	moa2_secret_str_free(&assertion);
}

/* The one sentence for the admin about a failed grant. */
static char *
grant_error_message(const struct moa2_token_client *client,
		    const struct account_rt *rt, const struct moa2_token_reply *reply)
{
	const struct moa2_token_account *a = rt->cfg;
	const char *conf = client->config->file, *desc = reply->description;
	const char *sep = desc[0] != '\0' ? ": " : "";

	if (reply->status == MOA2_TOKEN_REPLY_FAILED && reply->http_status == 0)
		return moa2_strdup_printf("account %s: token request failed: %s; mail "
					  "stays queued and is retried", a->name, desc);
	if (reply->http_status >= 500 || reply->http_status == 429 ||
	    strcmp(reply->error, "temporarily_unavailable") == 0 ||
	    strcmp(reply->error, "server_error") == 0)
		return moa2_strdup_printf("account %s: the token endpoint is unavailable (HTTP "
					  "%ld%s%s%s%s); mail stays queued and is retried",
					  a->name, reply->http_status,
					  reply->error[0] != '\0' ? ", " : "", reply->error,
					  sep, desc);
	if (reply->status == MOA2_TOKEN_REPLY_FAILED)
		return moa2_strdup_printf("account %s: the token endpoint answered HTTP %ld%s%s; "
					  "mail stays queued and is retried", a->name,
					  reply->http_status, sep, desc);
	if (strcmp(reply->error, "invalid_grant") == 0 &&
	    a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN)
		return moa2_strdup_printf("account %s: the refresh token was rejected "
					  "(invalid_grant%s%s): run `mail-oauth2 token authorize "
					  "-c %s %s` to authorize again; mail stays queued "
					  "until then", a->name, sep, desc, conf, a->name);
	if (strcmp(reply->error, "invalid_grant") == 0 &&
	    a->grant == MOA2_TOKEN_GRANT_JWT_BEARER)
		return moa2_strdup_printf("account %s: the assertion was rejected "
					  "(invalid_grant%s%s): check assertion_issuer, "
					  "assertion_subject and the key's authorization at "
					  "the provider in %s; mail stays queued", a->name,
					  sep, desc, conf);
	if (strcmp(reply->error, "invalid_client") == 0 ||
	    strcmp(reply->error, "unauthorized_client") == 0)
		return moa2_strdup_printf("account %s: the provider rejected the client "
					  "(%s%s%s): check client_id, client_secret and "
					  "client_auth of [account %s] in %s; mail stays queued",
					  a->name, reply->error, sep, desc, a->name, conf);
	if (strcmp(reply->error, "invalid_scope") == 0)
		return moa2_strdup_printf("account %s: the provider refused the scope "
					  "(invalid_scope%s%s): check scope of [account %s] in "
					  "%s; mail stays queued", a->name, sep, desc, a->name, conf);
	return moa2_strdup_printf("account %s: the token endpoint refused the request "
				  "(%s%s%s); mail stays queued and is retried", a->name,
				  reply->error, sep, desc);
}

/* ------------------------------------------------------------------- get */

static void
token_from_state(struct moa2_token *token, const struct moa2_token_state *state,
		 bool refreshed)
{
	memset(token, 0, sizeof(*token));
	token->access_token = moa2_strdup(state->access_token);
	token->expires_at = state->expires_at;
	token->refreshed = refreshed;
	moa2_token_fingerprint(state->access_token, strlen(state->access_token),
			       token->fingerprint);
}

/* The tokens this process holds in memory (their store write failed)
   replace the store's while the store still has what they superseded, or
   when the store could not be read at all. */
static void
merge_mem(struct account_rt *rt, struct moa2_token_state *state, bool from_store)
{
	bool use;

	if (rt->mem.access_token == NULL && rt->mem.refresh_token == NULL)
		return;
	if (!from_store)
		use = true;
	else if (rt->mem_replaces != NULL)
		use = secret_equal(state->refresh_token, rt->mem_replaces) ||
			(state->refresh_token == NULL && rt->mem_replaces[0] == '\0');
	else
		use = rt->mem.expires_at > state->expires_at;
	if (use) {
		moa2_token_state_clear(state);
		moa2_token_state_copy(state, &rt->mem);
	} else if (rt->mem_replaces != NULL) {
		/* somebody wrote a newer store: ours is history */
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
	}
}

/* Reads the store into state. Returns 0 (state may be empty: missing or
   corrupt store), or -1 with error_r when the store cannot be used. */
static int
read_state(struct moa2_token_client *client, struct account_rt *rt,
	   struct moa2_token_state *state, char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	enum moa2_store_read result;
	char *error = NULL;

	switch ((result = moa2_token_store_read(rt->store, state, &error))) {
	case MOA2_STORE_READ_OK:
		break;
	case MOA2_STORE_READ_MISSING:
		if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN &&
		    rt->mem.refresh_token == NULL) {
			*error_r = moa2_strdup_printf("account %s: no token store %s yet: run "
						      "`mail-oauth2 token authorize -c %s %s` "
						      "once to authorize this account", a->name,
						      a->token_file, client->config->file, a->name);
			return -1;
		}
		break;
	case MOA2_STORE_READ_CORRUPT:
		if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN &&
		    rt->mem.refresh_token == NULL) {
			*error_r = moa2_strdup_printf("account %s: %s; run `mail-oauth2 token "
						      "authorize -c %s %s` to start over", a->name,
						      error, client->config->file, a->name);
			free(error);
			return -1;
		}
		/* a new token replaces it; the copy is kept */
		moa2_log(&client->logger, MOA2_LOG_WARNING, "account %s: %s", a->name, error);
		free(error);
		break;
	default:
		if (rt->mem.access_token == NULL) {
			*error_r = moa2_strdup_printf("account %s: %s", a->name, error);
			free(error);
			return -1;
		}
		moa2_log(&client->logger, MOA2_LOG_WARNING, "account %s: %s; using the "
			 "tokens held in memory", a->name, error);
		free(error);
		break;
	}
	merge_mem(rt, state, result == MOA2_STORE_READ_OK);
	return 0;
}

/* Stores the grant's result; on a failed write keeps it in memory. */
static void
save_new_state(struct moa2_token_client *client, struct account_rt *rt,
	       const struct moa2_token_state *old, struct moa2_token_state *new_state)
{
	const struct moa2_token_account *a = rt->cfg;
	bool rotated;
	char *error = NULL;

	moa2_token_state_set(&new_state->account, a->name);
	if (new_state->refresh_token == NULL && old->refresh_token != NULL) {
		new_state->refresh_token = moa2_strdup(old->refresh_token);
		new_state->refresh_token_at = old->refresh_token_at;
	}
	rotated = new_state->refresh_token != NULL &&
		!secret_equal(new_state->refresh_token, old->refresh_token);
	if (moa2_token_store_write(rt->store, new_state, &error) == 0) {
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
		return;
	}
	moa2_log(&client->logger, MOA2_LOG_WARNING, "account %s: %s; the new access "
		 "token is used anyway%s", a->name, error, rotated ?
		 " and the new refresh token is kept in this process's memory only: "
		 "other processes still use the old one, which a provider that "
		 "rotates refresh tokens will refuse - make the store writable" : "");
	free(error);
	if (rotated && rt->mem_replaces == NULL)
		rt->mem_replaces = moa2_strdup(old->refresh_token != NULL ?
					       old->refresh_token : "");
	moa2_token_state_clear(&rt->mem);
	moa2_token_state_copy(&rt->mem, new_state);
}

/* Runs the grant under the lock and saves the result. */
static int
refresh_locked(struct moa2_token_client *client, struct account_rt *rt,
	       struct moa2_token_state *state, struct moa2_token *token_r,
	       char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	struct moa2_token_reply reply;

	if (a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN && state->refresh_token == NULL) {
		*error_r = moa2_strdup_printf("account %s: the token store %s holds no refresh "
					      "token: run `mail-oauth2 token authorize -c %s %s`",
					      a->name, a->token_file, client->config->file, a->name);
		return -1;
	}
	grant_request(client, rt, state->refresh_token, &reply);
	if (reply.status != MOA2_TOKEN_REPLY_OK) {
		*error_r = grant_error_message(client, rt, &reply);
		moa2_token_reply_clear(&reply);
		return -1;
	}
	save_new_state(client, rt, state, &reply.state);
	token_from_state(token_r, &reply.state, true);
	moa2_log(&client->logger, MOA2_LOG_INFO, "account %s: new access token %s "
		 "from %s, valid for %lld s%s", a->name, token_r->fingerprint, rt->token_host,
		 (long long)(reply.state.expires_at - (int64_t)client_now(client)),
		 reply.state.refresh_token != NULL &&
		 !secret_equal(reply.state.refresh_token, state->refresh_token) &&
		 state->refresh_token != NULL ? " (refresh token rotated)" : "");
	moa2_token_reply_clear(&reply);
	return 0;
}

/* A failed refresh while the current token is still valid: keep using it. */
static int
fallback_current(struct moa2_token_client *client, const struct account_rt *rt,
		 const struct moa2_token_state *state, struct moa2_token *token_r,
		 char **error_r)
{
	time_t now = client_now(client);

	if (moa2_token_freshness(state, now, rt->cfg->refresh_margin) == MOA2_TOKEN_UNUSABLE)
		return -1;
	moa2_log(&client->logger, MOA2_LOG_WARNING, "%s; the current access token "
		 "is still valid for %lld s and is used meanwhile", *error_r,
		 (long long)(state->expires_at - (int64_t)now));
	free(*error_r);
	*error_r = NULL;
	token_from_state(token_r, state, false);
	return 0;
}

static int
get_locked(struct moa2_token_client *client, struct account_rt *rt,
	   unsigned int flags, struct moa2_token *token_r, char **error_r)
{
	const struct moa2_token_account *a = rt->cfg;
	struct moa2_token_state state;
	int ret;

	/* another process may have refreshed while we waited for the lock */
	if (read_state(client, rt, &state, error_r) < 0)
		return -1;
	if ((flags & MOA2_TOKEN_FORCE_REFRESH) == 0 &&
	    !moa2_token_needs_refresh(&state, client_now(client), a->refresh_margin)) {
		moa2_log(&client->logger, MOA2_LOG_DEBUG, "account %s: refreshed by "
			 "another process meanwhile", a->name);
		token_from_state(token_r, &state, false);
		moa2_token_state_clear(&state);
		return 0;
	}
	ret = refresh_locked(client, rt, &state, token_r, error_r);
	if (ret < 0 && (flags & MOA2_TOKEN_FORCE_REFRESH) == 0)
		ret = fallback_current(client, rt, &state, token_r, error_r);
	moa2_token_state_clear(&state);
	return ret;
}

int
moa2_token_get(struct moa2_token_client *client, const char *account,
	       unsigned int flags, struct moa2_token *token_r, char **error_r)
{
	struct account_rt *rt = account_find(client, account);
	struct moa2_token_state state;
	char *error = NULL;
	int ret;

	memset(token_r, 0, sizeof(*token_r));
	if (rt == NULL) {
		*error_r = moa2_strdup_printf("no [account %s] in %s", account, client->config->file);
		return -1;
	}
	if (rt->open_error != NULL) {
		*error_r = moa2_strdup(rt->open_error);
		return -1;
	}
	/* the common case: a fresh token in the store, no lock needed */
	if (read_state(client, rt, &state, error_r) < 0)
		return -1;
	if ((flags & MOA2_TOKEN_FORCE_REFRESH) == 0 &&
	    !moa2_token_needs_refresh(&state, client_now(client), rt->cfg->refresh_margin)) {
		token_from_state(token_r, &state, false);
		moa2_token_state_clear(&state);
		return 0;
	}
	switch (moa2_token_store_lock(rt->store, client->config->lock_timeout * 1000u,
				      &error)) {
	case MOA2_STORE_LOCK_FAILED:
		*error_r = moa2_strdup_printf("account %s: %s; mail stays queued and is "
					      "retried", rt->cfg->name, error);
		free(error);
		ret = fallback_current(client, rt, &state, token_r, error_r);
		moa2_token_state_clear(&state);
		return ret;
	case MOA2_STORE_LOCKED_DIR:
		moa2_log(&client->logger, MOA2_LOG_DEBUG, "account %s: the lock file "
			 "beside %s cannot be created: locking its directory",
			 rt->cfg->name, rt->cfg->token_file);
		break;
	case MOA2_STORE_LOCKED:
		break;
	}
	moa2_token_state_clear(&state);
	ret = get_locked(client, rt, flags, token_r, error_r);
	moa2_token_store_unlock(rt->store);
	return ret;
}

/* ------------------------------------------------------------ invalidate */

int
moa2_token_invalidate(struct moa2_token_client *client, const char *account,
		      const char *access_token, char **error_r)
{
	struct account_rt *rt = account_find(client, account);
	struct moa2_token_state state;
	char fp[MOA2_FINGERPRINT_LEN + 1], *error = NULL;
	int ret = 0;

	if (rt == NULL || rt->open_error != NULL) {
		*error_r = rt == NULL ? moa2_strdup_printf("no [account %s] in %s", account,
							   client->config->file) :
			moa2_strdup(rt->open_error);
		return -1;
	}
	moa2_token_fingerprint(access_token, strlen(access_token), fp);
	if (secret_equal(rt->mem.access_token, access_token)) {
		moa2_secret_str_free(&rt->mem.access_token);
		rt->mem.expires_at = 0;
		rt->mem.access_token_at = 0;
	}
	if (moa2_token_store_lock(rt->store, client->config->lock_timeout * 1000u,
				  &error) == MOA2_STORE_LOCK_FAILED) {
		*error_r = moa2_strdup_printf("account %s: cannot drop the rejected token %s: %s",
					      account, fp, error);
		free(error);
		return -1;
	}
	if (moa2_token_store_read(rt->store, &state, &error) == MOA2_STORE_READ_OK &&
	    secret_equal(state.access_token, access_token)) {
		moa2_secret_str_free(&state.access_token);
		state.expires_at = 0;
		state.access_token_at = 0;
		state.updated_at = (int64_t)client_now(client);
		if (moa2_token_store_write(rt->store, &state, &error) < 0) {
			*error_r = moa2_strdup_printf("account %s: cannot drop the rejected token "
						      "%s: %s", account, fp, error);
			ret = -1;
		} else {
			moa2_log(&client->logger, MOA2_LOG_INFO, "account %s: dropped the "
				 "rejected access token %s from the store", account, fp);
		}
	}
	free(error);
	moa2_token_state_clear(&state);
	moa2_token_store_unlock(rt->store);
	return ret;
}

/* ------------------------------------------------------------------- CLI */

enum moa2_store_read
moa2_token_client_read(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       struct moa2_token_state *state_r, char **error_r)
{
	struct account_rt *rt = account_rt_of(client, account);

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
	struct account_rt *rt = account_rt_of(client, account);
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
	ret = moa2_token_store_write(rt->store, &copy, error_r);
	moa2_token_state_clear(&copy);
	if (ret == 0) {
		moa2_token_state_clear(&rt->mem);
		moa2_secret_str_free(&rt->mem_replaces);
	}
	moa2_token_store_unlock(rt->store);
	return ret;
}
