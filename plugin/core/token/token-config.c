/* SPDX-License-Identifier: MIT */
/* The token client's config schema, provider presets and cross-field
   checks. Failure behaviour: any failed check refuses the whole config
   (fail closed), with one line naming file, line and key. */

#include "config.h"
#include "mail-oauth2/token-config.h"
#include "support/config-parser.h"

#include "support/http-client.h"
#include "token/token-assertion.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MS_LOGIN "https://login.microsoftonline.com/"
#define MS_SCOPE_APP "https://outlook.office365.com/.default"
#define MS_SCOPE_DELEGATED "https://outlook.office.com/SMTP.Send offline_access"
#define GOOGLE_TOKEN "https://oauth2.googleapis.com/token"
#define GOOGLE_DEVICE "https://oauth2.googleapis.com/device/code"
#define GOOGLE_AUTHORIZE "https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_SCOPE "https://mail.google.com/"

_Static_assert(sizeof(enum moa2_token_provider) == sizeof(int),
	       "moa2_config_bind stores enums as int");
_Static_assert(sizeof(enum moa2_token_grant) == sizeof(int),
	       "moa2_config_bind stores enums as int");
_Static_assert(sizeof(enum moa2_token_client_auth) == sizeof(int),
	       "moa2_config_bind stores enums as int");

/* ---------------------------------------------------------------- schema */

static const struct moa2_config_enum provider_words[] = {
	{ "generic", MOA2_TOKEN_PROVIDER_GENERIC },
	{ "microsoft", MOA2_TOKEN_PROVIDER_MICROSOFT },
	{ "google", MOA2_TOKEN_PROVIDER_GOOGLE },
	{ NULL, 0 }
};

static const struct moa2_config_enum grant_words[] = {
	{ "refresh_token", MOA2_TOKEN_GRANT_REFRESH_TOKEN },
	{ "client_credentials", MOA2_TOKEN_GRANT_CLIENT_CREDENTIALS },
	{ "jwt_bearer", MOA2_TOKEN_GRANT_JWT_BEARER },
	{ NULL, 0 }
};

static const struct moa2_config_enum client_auth_words[] = {
	{ "post", MOA2_TOKEN_AUTH_POST },
	{ "basic", MOA2_TOKEN_AUTH_BASIC },
	{ "none", MOA2_TOKEN_AUTH_NONE },
	{ NULL, 0 }
};

#define G_OFF(field) offsetof(struct moa2_token_config, field)
#define A_OFF(field) offsetof(struct moa2_token_account, field)

#define G(key, field, type, def, doc, desc) \
	{ key, MOA2_CONFIG_##type, 0, NULL, def, doc, desc, G_OFF(field) }
#define A(key, field, type, def, doc, desc) \
	{ key, MOA2_CONFIG_##type, 0, NULL, def, doc, desc, A_OFF(field) }
#define A_ENUM(key, field, words, def, desc) \
	{ key, MOA2_CONFIG_ENUM, 0, words, def, NULL, desc, A_OFF(field) }

static const struct moa2_config_option global_options[] = {
	G("token_dir", token_dir, PATH, "/var/lib/mail-oauth2/tokens", NULL,
	  "directory of the token stores (ACCOUNT.json) when token_file is not set"),
	G("ca_file", ca_file, PATH, NULL, "the system CA bundle",
	  "CA bundle (PEM) for HTTPS, read into memory at start (before any chroot)"),
	G("http_connect_timeout", http_connect_timeout, DURATION_MS, "5s", NULL,
	  "timeout for connecting to a token endpoint"),
	G("http_timeout", http_timeout, DURATION_MS, "15s", NULL,
	  "total timeout of one token request, connect included"),
	G("allow_http_loopback", allow_http_loopback, BOOL, "no", NULL,
	  "allow plain http:// endpoints on 127.0.0.0/8 and [::1] (tests, local proxies)"),
	G("lock_timeout", lock_timeout, DURATION, "30s", NULL,
	  "longest wait for another process that is refreshing the same account"),
	G("log_debug", log_debug, BOOL, "no", NULL,
	  "log each token step at debug level (never tokens or secrets)"),
};

static const struct moa2_config_option account_options[] = {
	A_ENUM("provider", provider, provider_words, NULL,
	       "microsoft, google or generic: presets for endpoints and scopes"),
	A_ENUM("grant", grant, grant_words, "refresh_token",
	       "refresh_token (authorize once with the CLI), client_credentials or jwt_bearer"),
	A("tenant", tenant, STRING, NULL, NULL,
	  "microsoft: the directory (tenant) id or domain"),
	A("issuer", issuer, URL, NULL, NULL,
	  "generic: the issuer whose OpenID Connect discovery gives the endpoints"),
	A("token_endpoint", token_endpoint, URL, NULL, "from the preset or discovery",
	  "token endpoint URL"),
	A("device_authorization_endpoint", device_authorization_endpoint, URL, NULL,
	  "from the preset or discovery",
	  "device authorization endpoint (RFC 8628) for `mail-oauth2 token authorize`"),
	A("authorization_endpoint", authorization_endpoint, URL, NULL,
	  "from the preset or discovery",
	  "authorization endpoint for `mail-oauth2 token authorize --browser`"),
	A("client_id", client_id, STRING, NULL, NULL,
	  "the application's client id"),
	A("client_secret", client_secret, SECRET, NULL, NULL,
	  "the client secret (or client_secret_file = PATH); none for public clients"),
	A_ENUM("client_auth", client_auth, client_auth_words, NULL,
	       "post (client_secret_post), basic (client_secret_basic) or none; "
	       "default post with a secret, else none"),
	{ "scope", MOA2_CONFIG_LIST, MOA2_CONFIG_REPEATABLE, NULL, NULL, "from the preset",
	  "scopes requested (a list; repeatable)", A_OFF(scope_list) },
	A("resource", resource, STRING, NULL, NULL,
	  "RFC 8707 resource indicator sent with every token request"),
	A("user", user, STRING, NULL, "the SASL user name from Postfix",
	  "XOAUTH2 user= / OAUTHBEARER a= sent to the relay"),
	A("token_file", token_file, PATH, NULL, "TOKEN_DIR/ACCOUNT.json",
	  "the account's token store (JSON, mode 0600)"),
	A("refresh_margin", refresh_margin, DURATION, "5m", NULL,
	  "refresh the access token when it expires within this time (at most a "
	  "quarter of its lifetime, at least 10 s unless set lower)"),
	A("assertion_key_file", assertion_key_file, PATH, NULL, NULL,
	  "jwt_bearer: RSA private key (PEM) or Google service-account JSON key"),
	A("assertion_issuer", assertion_issuer, STRING, NULL,
	  "client_email of a JSON key, else client_id",
	  "jwt_bearer: iss of the assertion"),
	A("assertion_subject", assertion_subject, STRING, NULL, NULL,
	  "jwt_bearer: sub of the assertion (the mailbox to act as)"),
	A("assertion_audience", assertion_audience, STRING, NULL, "the token endpoint",
	  "jwt_bearer: aud of the assertion"),
	A("assertion_key_id", assertion_key_id, STRING, NULL,
	  "private_key_id of a JSON key",
	  "jwt_bearer: kid header of the assertion"),
	A("assertion_lifetime", assertion_lifetime, DURATION, "5m", NULL,
	  "jwt_bearer: lifetime of one assertion (Google allows at most 1h)"),
};

static const struct moa2_config_section_kind section_kinds[] = {
	{ "account", account_options,
	  sizeof(account_options) / sizeof(account_options[0]) },
};

static const struct moa2_config_schema token_schema = {
	.global = { NULL, global_options,
		    sizeof(global_options) / sizeof(global_options[0]) },
	.sections = section_kinds,
	.sections_count = sizeof(section_kinds) / sizeof(section_kinds[0]),
};

const struct moa2_config_schema *
moa2_token_config_schema(void)
{
	return &token_schema;
}

static const char *
enum_word(const struct moa2_config_enum *words, int value)
{
	const char *word = moa2_config_enum_word(words, value);

	return word != NULL ? word : "unknown";
}

const char *
moa2_token_provider_name(enum moa2_token_provider provider)
{
	return enum_word(provider_words, (int)provider);
}

const char *
moa2_token_grant_name(enum moa2_token_grant grant)
{
	return enum_word(grant_words, (int)grant);
}

/* ---------------------------------------------------------------- checks */

struct check_ctx {
	struct moa2_token_config *config;
	struct moa2_token_account *account;
	char *error;
};

/* Records the first error at key's line. Always returns -1. */
static int MOA2_ATTR_FORMAT(3, 4)
check_error(struct check_ctx *ctx, const char *key, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	moa2_config_key_verror(&ctx->error, ctx->config->parsed, ctx->account->section,
			       true, key, fmt, args);
	va_end(args);
	return -1;
}

/* Keeps str alive as long as the account; returns it. */
static const char *
account_own(struct moa2_token_account *account, char *str)
{
	for (unsigned int i = 0; i < sizeof(account->owned) / sizeof(account->owned[0]); i++) {
		if (account->owned[i] == NULL) {
			account->owned[i] = str;
			return str;
		}
	}
	abort();
}

static int
check_url(struct check_ctx *ctx, const char *key, const char *url)
{
	const char *reason;

	if (url == NULL || moa2_url_is_allowed(url, ctx->config->allow_http_loopback,
					       &reason))
		return 0;
	return check_error(ctx, key, "URL not allowed: %s (expected https://; "
			   "http:// only to 127.0.0.0/8 or [::1] with "
			   "allow_http_loopback = yes)", reason);
}

static bool
tenant_valid(const char *tenant)
{
	if (*tenant == '\0')
		return false;
	for (; *tenant != '\0'; tenant++) {
		char c = *tenant;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

static void
set_default(struct moa2_token_account *account, const char **field,
	    char *value)
{
	if (*field == NULL)
		*field = account_own(account, value);
	else
		free(value);
}

static int
apply_microsoft(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;

	if (a->tenant == NULL)
		return check_error(ctx, "provider", "provider microsoft needs tenant "
				   "(expected tenant = your directory id or domain, "
				   "e.g. tenant = example.onmicrosoft.com)");
	if (!tenant_valid(a->tenant))
		return check_error(ctx, "tenant", "invalid tenant '%s' (expected a "
				   "directory id or a domain name)", a->tenant);
	set_default(a, &a->token_endpoint,
		    moa2_strdup_printf(MS_LOGIN "%s/oauth2/v2.0/token", a->tenant));
	set_default(a, &a->device_authorization_endpoint,
		    moa2_strdup_printf(MS_LOGIN "%s/oauth2/v2.0/devicecode", a->tenant));
	set_default(a, &a->authorization_endpoint,
		    moa2_strdup_printf(MS_LOGIN "%s/oauth2/v2.0/authorize", a->tenant));
	if (a->scope_list.count == 0)
		a->scope = a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN ?
			MS_SCOPE_DELEGATED : MS_SCOPE_APP;
	return 0;
}

static int
apply_google(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;
	const char *uri = a->assertion_key == NULL ? NULL :
		moa2_assertion_key_token_uri(a->assertion_key);

	if (a->token_endpoint == NULL)
		a->token_endpoint = uri != NULL ? uri : GOOGLE_TOKEN;
	if (a->device_authorization_endpoint == NULL)
		a->device_authorization_endpoint = GOOGLE_DEVICE;
	if (a->authorization_endpoint == NULL)
		a->authorization_endpoint = GOOGLE_AUTHORIZE;
	if (a->scope_list.count == 0)
		a->scope = GOOGLE_SCOPE;
	return 0;
}

static int
apply_generic(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;

	if (a->issuer == NULL) {
		if (a->token_endpoint == NULL)
			return check_error(ctx, "provider", "provider generic needs "
					   "issuer (for discovery) or token_endpoint "
					   "(expected issuer = https://... or "
					   "token_endpoint = https://...)");
		return 0;
	}
	a->discovery_url = account_own(a, moa2_config_discovery_url(a->issuer));
	return check_url(ctx, "issuer", a->discovery_url);
}

static int
check_tenant_use(struct check_ctx *ctx)
{
	if (ctx->account->tenant != NULL &&
	    ctx->account->provider != MOA2_TOKEN_PROVIDER_MICROSOFT)
		return check_error(ctx, "tenant", "only used with provider microsoft "
				   "(expected no tenant with provider %s)",
				   moa2_token_provider_name(ctx->account->provider));
	if (ctx->account->issuer != NULL &&
	    ctx->account->provider != MOA2_TOKEN_PROVIDER_GENERIC)
		return check_error(ctx, "issuer", "only used with provider generic "
				   "(the %s preset knows its endpoints)",
				   moa2_token_provider_name(ctx->account->provider));
	return 0;
}

static int
check_client(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;
	const struct moa2_config_section *section = a->section;

	if (a->client_id == NULL)
		return check_error(ctx, "client_id", "missing (expected the "
				   "application's client id, client_id = ...)");
	if (!moa2_config_section_is_set(section, "client_auth"))
		a->client_auth = a->client_secret != NULL ? MOA2_TOKEN_AUTH_POST :
			MOA2_TOKEN_AUTH_NONE;
	if (a->client_auth == MOA2_TOKEN_AUTH_NONE && a->client_secret != NULL)
		return check_error(ctx, "client_auth", "none, but client_secret is set "
				   "(expected post or basic, or no client_secret)");
	if (a->client_auth != MOA2_TOKEN_AUTH_NONE && a->client_secret == NULL)
		return check_error(ctx, "client_auth", "%s needs client_secret or "
				   "client_secret_file (expected client_auth = none for "
				   "a public client)",
				   enum_word(client_auth_words, (int)a->client_auth));
	if (a->grant == MOA2_TOKEN_GRANT_CLIENT_CREDENTIALS &&
	    a->client_secret == NULL)
		return check_error(ctx, "grant", "client_credentials needs "
				   "client_secret or client_secret_file");
	return 0;
}

static int
check_assertion(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;
	static const char *const keys[] = {
		"assertion_issuer", "assertion_subject", "assertion_audience",
		"assertion_key_id",
	};
	char *error = NULL;

	if (a->grant != MOA2_TOKEN_GRANT_JWT_BEARER) {
		if (a->assertion_key_file != NULL)
			return check_error(ctx, "assertion_key_file", "only used with "
					   "grant = jwt_bearer");
		for (unsigned int i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (moa2_config_section_is_set(a->section, keys[i]))
				return check_error(ctx, keys[i], "only used with "
						   "grant = jwt_bearer");
		}
		return 0;
	}
	if (a->assertion_key_file == NULL)
		return check_error(ctx, "grant", "jwt_bearer needs assertion_key_file "
				   "(expected the RSA private key or the service-account "
				   "JSON key)");
	if (ctx->config->without_secrets) {
		/* what the key would tell stays unknown */
		if (a->client_id == NULL)
			a->client_id = "(in assertion_key_file)";
		return 0;
	}
	if (moa2_assertion_key_load(a->assertion_key_file, &a->assertion_key,
				    &error) < 0) {
		check_error(ctx, "assertion_key_file", "%s", error);
		free(error);
		return -1;
	}
	if (a->assertion_issuer == NULL)
		a->assertion_issuer = moa2_assertion_key_client_email(a->assertion_key);
	if (a->assertion_issuer == NULL)
		a->assertion_issuer = a->client_id;
	if (a->assertion_key_id == NULL)
		a->assertion_key_id = moa2_assertion_key_id(a->assertion_key);
	if (a->assertion_lifetime == 0 || a->assertion_lifetime > 3600)
		return check_error(ctx, "assertion_lifetime", "%u s is out of range "
				   "(expected 1s to 1h)", a->assertion_lifetime);
	return 0;
}

static int
check_client_id_for_assertion(struct check_ctx *ctx)
{
	/* a Google service account needs no client_id: the JSON key names it */
	struct moa2_token_account *a = ctx->account;

	if (a->client_id == NULL && a->grant == MOA2_TOKEN_GRANT_JWT_BEARER &&
	    a->assertion_issuer != NULL) {
		a->client_id = a->assertion_issuer;
		if (!moa2_config_section_is_set(a->section, "client_auth"))
			a->client_auth = MOA2_TOKEN_AUTH_NONE;
	}
	return 0;
}

static int
join_scope(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;
	size_t len = 0;
	char *scope;

	if (a->scope_list.count == 0)
		return 0;
	for (unsigned int i = 0; i < a->scope_list.count; i++)
		len += strlen(a->scope_list.items[i]) + 1;
	scope = malloc(len);
	if (scope == NULL)
		abort();
	scope[0] = '\0';
	for (unsigned int i = 0; i < a->scope_list.count; i++) {
		if (i > 0)
			strcat(scope, " ");
		strcat(scope, a->scope_list.items[i]);
	}
	a->scope = account_own(a, scope);
	return 0;
}

static int
check_account(struct check_ctx *ctx)
{
	struct moa2_token_account *a = ctx->account;
	int ret;

	if (!moa2_config_section_is_set(a->section, "provider"))
		return check_error(ctx, "provider", "missing (expected provider = "
				   "microsoft, google or generic)");
	if (check_tenant_use(ctx) < 0 || join_scope(ctx) < 0 ||
	    check_assertion(ctx) < 0 || check_client_id_for_assertion(ctx) < 0 ||
	    check_client(ctx) < 0)
		return -1;
	switch (a->provider) {
	case MOA2_TOKEN_PROVIDER_MICROSOFT:
		ret = apply_microsoft(ctx);
		break;
	case MOA2_TOKEN_PROVIDER_GOOGLE:
		ret = apply_google(ctx);
		break;
	default:
		ret = apply_generic(ctx);
		break;
	}
	if (ret < 0 || check_url(ctx, "token_endpoint", a->token_endpoint) < 0 ||
	    check_url(ctx, "device_authorization_endpoint",
		      a->device_authorization_endpoint) < 0 ||
	    check_url(ctx, "authorization_endpoint", a->authorization_endpoint) < 0)
		return -1;
	if (a->token_file == NULL)
		a->token_file = account_own(a, moa2_strdup_printf("%s/%s.json",
								  ctx->config->token_dir,
								  a->name));
	if (a->user != NULL && strpbrk(a->user, "\x01\r\n") != NULL)
		return check_error(ctx, "user", "contains a control character");
	return 0;
}

static int
check_unique_files(struct check_ctx *ctx)
{
	struct moa2_token_config *config = ctx->config;

	for (unsigned int i = 0; i < config->accounts_count; i++) {
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(config->accounts[i].token_file,
				   config->accounts[j].token_file) != 0)
				continue;
			ctx->account = &config->accounts[i];
			return check_error(ctx, "token_file", "'%s' is also the store of "
					   "[account %s] (expected one file per account)",
					   config->accounts[i].token_file,
					   config->accounts[j].name);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ load */

static int
config_from_parsed(struct moa2_config *parsed, bool without_secrets,
		   struct moa2_token_config **config_r, char **error_r)
{
	struct moa2_token_config *config = calloc(1, sizeof(*config));
	struct check_ctx ctx = { .config = config };

	if (config == NULL)
		abort();
	config->without_secrets = without_secrets;
	config->parsed = parsed;
	config->file = parsed->file;
	moa2_config_bind(&parsed->sections[0], config);
	config->accounts_count = parsed->sections_count - 1;
	config->accounts = calloc(config->accounts_count + 1, sizeof(*config->accounts));
	if (config->accounts == NULL)
		abort();
	for (unsigned int i = 0; i < config->accounts_count; i++) {
		struct moa2_token_account *a = &config->accounts[i];
		const struct moa2_config_section *section = &parsed->sections[i + 1];

		moa2_config_bind(section, a);
		a->name = section->name;
		a->line = section->line;
		a->section = section;
		ctx.account = a;
		if (check_account(&ctx) < 0)
			break;
	}
	if (ctx.error == NULL)
		check_unique_files(&ctx);
	if (ctx.error != NULL) {
		*error_r = ctx.error;
		moa2_token_config_free(&config);
		return -1;
	}
	*config_r = config;
	return 0;
}

int
moa2_token_config_load_string(const char *name, const char *data, size_t len,
			      struct moa2_token_config **config_r, char **error_r)
{
	struct moa2_config *parsed;

	*config_r = NULL;
	if (moa2_config_parse_string(name, data, len, &token_schema, &parsed,
				     error_r) < 0)
		return -1;
	return config_from_parsed(parsed, false, config_r, error_r);
}

int
moa2_token_config_load(const char *path, struct moa2_token_config **config_r,
		       char **error_r)
{
	struct moa2_config *parsed;

	*config_r = NULL;
	if (moa2_config_parse_file(path, &token_schema, &parsed, error_r) < 0)
		return -1;
	return config_from_parsed(parsed, false, config_r, error_r);
}

int
moa2_token_config_load_without_secrets(const char *path,
				       struct moa2_token_config **config_r,
				       char **error_r)
{
	struct moa2_config *parsed;

	*config_r = NULL;
	if (moa2_config_parse_file_flags(path, &token_schema, MOA2_CONFIG_SKIP_SECRET_FILES,
					 &parsed, error_r) < 0)
		return -1;
	return config_from_parsed(parsed, true, config_r, error_r);
}

void
moa2_token_config_free(struct moa2_token_config **_config)
{
	struct moa2_token_config *config = *_config;

	if (config == NULL)
		return;
	*_config = NULL;
	for (unsigned int i = 0; config->accounts != NULL && i < config->accounts_count; i++) {
		struct moa2_token_account *a = &config->accounts[i];

		moa2_assertion_key_free(&a->assertion_key);
		for (unsigned int j = 0; j < sizeof(a->owned) / sizeof(a->owned[0]); j++)
			free(a->owned[j]);
	}
	free(config->accounts);
	moa2_config_free(&config->parsed);
	free(config);
}

const struct moa2_token_account *
moa2_token_config_find(const struct moa2_token_config *config, const char *name)
{
	for (unsigned int i = 0; i < config->accounts_count; i++) {
		if (strcmp(config->accounts[i].name, name) == 0)
			return &config->accounts[i];
	}
	return NULL;
}

const struct moa2_token_account *
moa2_token_config_find_file(const struct moa2_token_config *config,
			    const char *path)
{
	for (unsigned int i = 0; i < config->accounts_count; i++) {
		if (strcmp(config->accounts[i].token_file, path) == 0)
			return &config->accounts[i];
	}
	return NULL;
}
