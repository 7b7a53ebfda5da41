/* SPDX-License-Identifier: MIT */
/* The verifier's config schema and its cross-field checks. Failure
   behaviour: any failed check refuses the whole config (fail closed), with
   one line naming file, line and key. */

#include "config.h"
#include "mail-oauth2/verify-config.h"
#include "support/config-parser.h"
#include "support/url.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(sizeof(enum moa2_verify_mode) == sizeof(int),
	       "moa2_config_bind stores enums as int");
_Static_assert(sizeof(enum moa2_client_auth) == sizeof(int),
	       "moa2_config_bind stores enums as int");

/* ---------------------------------------------------------------- schema */

static const struct moa2_config_enum mode_words[] = {
	{ "jwt", MOA2_VERIFY_MODE_JWT },
	{ "introspection", MOA2_VERIFY_MODE_INTROSPECTION },
	{ "userinfo", MOA2_VERIFY_MODE_USERINFO },
	{ "tokeninfo", MOA2_VERIFY_MODE_TOKENINFO },
	{ "auto", MOA2_VERIFY_MODE_AUTO },
	{ NULL, 0 }
};

static const struct moa2_config_enum opaque_mode_words[] = {
	{ "introspection", MOA2_VERIFY_MODE_INTROSPECTION },
	{ "userinfo", MOA2_VERIFY_MODE_USERINFO },
	{ "tokeninfo", MOA2_VERIFY_MODE_TOKENINFO },
	{ NULL, 0 }
};

static const struct moa2_config_enum client_auth_words[] = {
	{ "basic", MOA2_CLIENT_AUTH_BASIC },
	{ "post", MOA2_CLIENT_AUTH_POST },
	{ NULL, 0 }
};

#define G_OFF(field) offsetof(struct moa2_verify_config, field)
#define P_OFF(field) offsetof(struct moa2_provider_config, field)

/* key = field name; flags, enum words, default text, default doc, description */
#define G(field, type, def, desc) \
	{ #field, MOA2_CONFIG_##type, 0, NULL, def, NULL, desc, G_OFF(field) }
#define P(field, type, def, desc) \
	{ #field, MOA2_CONFIG_##type, 0, NULL, def, NULL, desc, P_OFF(field) }
#define P_ENUM(field, words, def, desc) \
	{ #field, MOA2_CONFIG_ENUM, 0, words, def, NULL, desc, P_OFF(field) }
#define P_DOC(field, type, doc, desc) \
	{ #field, MOA2_CONFIG_##type, 0, NULL, NULL, doc, desc, P_OFF(field) }

static const struct moa2_config_option global_options[] = {
	G(cache_dir, PATH, "/var/lib/mail-oauth2",
	  "directory where the last good JWKS and discovery document of each provider "
	  "are persisted, with the time of a fetch that failed"),
	G(ca_file, PATH, NULL,
	  "CA bundle (PEM) for HTTPS instead of the system default"),
	G(ca_dir, PATH, NULL,
	  "directory of hashed CA certificates instead of the system default"),
	G(http_connect_timeout, DURATION_MS, "3s",
	  "timeout for connecting to an identity provider"),
	G(http_timeout, DURATION_MS, "10s",
	  "total timeout of one HTTP request, connect included"),
	G(http_max_response, SIZE, "1M",
	  "largest HTTP response body accepted"),
	G(allow_http_loopback, BOOL, "no",
	  "allow plain http:// URLs to 127.0.0.0/8 and [::1] (tests, local proxies)"),
	G(opaque_cache_entries, UINT, "10000",
	  "opaque-token results kept in memory (0 = no cache)"),
	G(opaque_cache_max_ttl, DURATION, "5m",
	  "longest time an accepted opaque-token result is cached (never past exp)"),
	G(opaque_cache_negative_ttl, DURATION, "30s",
	  "time a rejected opaque-token result is cached"),
	G(log_debug, BOOL, "no",
	  "log each verification step at debug level (never tokens or secrets)"),
};

static const struct moa2_config_option provider_options[] = {
	P_ENUM(mode, mode_words, "jwt",
	       "how tokens are verified: jwt, introspection, userinfo, tokeninfo or auto"),
	P(issuer, STRING, NULL,
	  "expected iss claim, compared exactly; 'none' disables the iss check"),
	P_DOC(discovery, BOOL, "yes if issuer is set and neither jwks_uri nor jwks_file",
	      "fetch OpenID Connect discovery metadata for keys and endpoints"),
	P_DOC(discovery_url, URL, "ISSUER/.well-known/openid-configuration",
	      "URL of the discovery document"),
	P(jwks_uri, URL, NULL,
	  "URL of the provider's JWKS (instead of discovery)"),
	P(jwks_file, PATH, NULL,
	  "local JWKS or PEM public key file (instead of fetching keys)"),
	P(algorithms, LIST, "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA",
	  "accepted JWS algorithms; HS256/HS384/HS512 only with hmac_secret"),
	P(hmac_secret, SECRET, NULL,
	  "shared secret for HS256/HS384/HS512 (or hmac_secret_file = PATH)"),
	P(audience, LIST, NULL,
	  "accepted aud values; the token's aud must contain one of them"),
	P(audience_check, BOOL, "yes",
	  "require a configured audience; 'no' accepts any audience (unsafe)"),
	P(required_scopes, LIST, NULL,
	  "scopes that must all be present in the token"),
	P(scope_claims, LIST, "scope scp",
	  "claims holding the scopes (space-separated string or array)"),
	P(typ, LIST, "JWT at+jwt application/at+jwt",
	  "accepted typ header values (case-insensitive)"),
	P(typ_required, BOOL, "no",
	  "reject tokens without a typ header"),
	{ "required_claim", MOA2_CONFIG_STRING, MOA2_CONFIG_REPEATABLE, NULL, NULL, NULL,
	  "name=value a claim must have (string, bool or number); repeatable",
	  MOA2_CONFIG_UNBOUND },
	P(username_claims, LIST, "preferred_username email upn sub",
	  "claims tried in order for the user name"),
	P(username_lowercase, BOOL, "no",
	  "lowercase the user name"),
	P(username_domain_append, STRING, NULL,
	  "append @DOMAIN to a user name that has no @"),
	P(username_domain_strip, LIST, NULL,
	  "domains removed from user@DOMAIN"),
	P(leeway, DURATION, "60s",
	  "clock skew allowed for exp, nbf and iat"),
	P(max_token_age, DURATION, "0",
	  "reject tokens whose iat is older than this (0 = off)"),
	P(jwks_cache_min, DURATION, "5m",
	  "lower bound for the JWKS Cache-Control max-age"),
	P(jwks_cache_max, DURATION, "24h",
	  "upper bound for the JWKS Cache-Control max-age"),
	P(jwks_refetch_interval, DURATION, "60s",
	  "an unknown kid refetches the JWKS at most once per interval; after a failed "
	  "fetch no thread or process retries within it"),
	P(jwks_stale_max, DURATION, "7d",
	  "how long the last good keys are served, at once, while they are refreshed "
	  "in the background or fetching fails"),
	P_DOC(introspection_url, URL, "from discovery",
	      "RFC 7662 introspection endpoint"),
	P_DOC(userinfo_url, URL, "from discovery",
	      "OpenID Connect userinfo endpoint"),
	P(tokeninfo_url, URL, NULL,
	  "Google-style tokeninfo endpoint (?access_token=)"),
	P(client_id, STRING, NULL,
	  "client id for introspection"),
	P(client_secret, SECRET, NULL,
	  "client secret for introspection (or client_secret_file = PATH)"),
	P_ENUM(client_auth, client_auth_words, "basic",
	       "client authentication: basic (client_secret_basic) or post (client_secret_post)"),
	P_ENUM(opaque_mode, opaque_mode_words, NULL,
	       "mode auto: how non-JWT tokens are verified (introspection, userinfo, tokeninfo)"),
	P(claims_export, LIST, NULL,
	  "claims passed on to the host as extra fields"),
};

static const struct moa2_config_section_kind section_kinds[] = {
	{ "provider", provider_options,
	  sizeof(provider_options) / sizeof(provider_options[0]) },
};

static const struct moa2_config_schema verify_schema = {
	.global = { NULL, global_options,
		    sizeof(global_options) / sizeof(global_options[0]) },
	.sections = section_kinds,
	.sections_count = sizeof(section_kinds) / sizeof(section_kinds[0]),
};

const struct moa2_config_schema *
moa2_verify_config_schema(void)
{
	return &verify_schema;
}

const char *
moa2_verify_mode_name(enum moa2_verify_mode mode)
{
	const char *word = moa2_config_enum_word(mode_words, (int)mode);

	return word != NULL ? word : "none";
}

/* ---------------------------------------------------------------- checks */

static const char *const asymmetric_algs[] = {
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", NULL
};
static const char *const hmac_algs[] = { "HS256", "HS384", "HS512", NULL };

struct check_ctx {
	struct moa2_verify_config *config;
	struct moa2_provider_config *provider;
	const struct moa2_config_section *section;
	char *error;
};

/* Records the first error at key's line. Always returns -1. */
static int MOA2_ATTR_FORMAT(3, 4)
check_error(struct check_ctx *ctx, const char *key, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	moa2_config_key_verror(&ctx->error, ctx->config->parsed, ctx->section,
			       false, key, fmt, args);
	va_end(args);
	return -1;
}

static bool
in_list(const char *const *list, const char *word)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, word) == 0)
			return true;
	}
	return false;
}

static bool
list_has_any(const struct moa2_config_list *list, const char *const *words)
{
	for (unsigned int i = 0; i < list->count; i++) {
		if (in_list(words, list->items[i]))
			return true;
	}
	return false;
}

static int
check_algorithms(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (prov->algorithms.count == 0)
		return check_error(ctx, "algorithms", "empty list (expected at least "
				   "one algorithm, e.g. RS256)");
	for (unsigned int i = 0; i < prov->algorithms.count; i++) {
		const char *alg = prov->algorithms.items[i];

		if (strcasecmp(alg, "none") == 0)
			return check_error(ctx, "algorithms", "'none' is never allowed "
					   "(expected signing algorithms such as RS256)");
		if (in_list(hmac_algs, alg) && prov->hmac_secret == NULL)
			return check_error(ctx, "algorithms", "%s needs hmac_secret or "
					   "hmac_secret_file (expected asymmetric "
					   "algorithms, or a shared secret)", alg);
		if (!in_list(hmac_algs, alg) && !in_list(asymmetric_algs, alg))
			return check_error(ctx, "algorithms", "unknown algorithm '%s' "
					   "(expected RS256, RS384, RS512, PS256, PS384, "
					   "PS512, ES256, ES384, ES512, EdDSA, HS256, "
					   "HS384 or HS512)", alg);
	}
	if (prov->hmac_secret != NULL && !list_has_any(&prov->algorithms, hmac_algs))
		return check_error(ctx, "hmac_secret", "set, but algorithms allows no "
				   "HS256, HS384 or HS512 (expected e.g. algorithms = HS256)");
	return 0;
}

static int
check_url(struct check_ctx *ctx, const char *key, const char *text)
{
	struct moa2_url url;
	const char *reason;

	if (text == NULL)
		return 0;
	if (moa2_url_parse(text, &url, &reason) < 0)
		return check_error(ctx, key, "invalid URL '%s': %s (expected "
				   "https://host[:port][/path])", text, reason);
	if (url.https)
		return 0;
	if (!url.loopback)
		return check_error(ctx, key, "plain http is not allowed to '%s' (expected "
				   "an https:// URL; http:// only to 127.0.0.0/8 or "
				   "[::1] with allow_http_loopback = yes)", url.host);
	if (!ctx->config->allow_http_loopback)
		return check_error(ctx, key, "plain http to the loopback address '%s' "
				   "needs allow_http_loopback = yes (expected an "
				   "https:// URL)", url.host);
	return 0;
}

static int
derive_discovery_url(struct check_ctx *ctx)
{
	struct moa2_provider_config *prov = ctx->provider;

	if (prov->discovery_url != NULL)
		return 0;
	if (prov->issuer == NULL)
		return check_error(ctx, "discovery", "needs issuer or discovery_url "
				   "(expected issuer = URL, discovery_url = URL or "
				   "discovery = no)");
	prov->discovery_url_owned = moa2_config_discovery_url(prov->issuer);
	prov->discovery_url = prov->discovery_url_owned;
	/* blame the issuer for a bad derived URL */
	return check_url(ctx, "issuer", prov->discovery_url);
}

static int
check_issuer_and_discovery(struct check_ctx *ctx)
{
	struct moa2_provider_config *prov = ctx->provider;
	const struct moa2_config_section *section = ctx->section;
	bool jwt = prov->mode == MOA2_VERIFY_MODE_JWT || prov->mode == MOA2_VERIFY_MODE_AUTO;

	if (prov->issuer != NULL && strcmp(prov->issuer, "none") == 0) {
		prov->issuer = NULL;
		prov->issuer_none = true;
	} else {
		if (jwt && prov->issuer == NULL)
			return check_error(ctx, "issuer", "mode '%s' needs the expected "
					   "issuer (expected issuer = URL, or issuer = "
					   "none to skip the iss check)",
					   moa2_verify_mode_name(prov->mode));
	}
	if (prov->jwks_uri != NULL && prov->jwks_file != NULL)
		return check_error(ctx, "jwks_file", "jwks_uri is set too (expected "
				   "only one of jwks_uri and jwks_file)");
	if (!moa2_config_section_is_set(section, "discovery")) {
		prov->discovery = (prov->issuer != NULL || prov->discovery_url != NULL) &&
			prov->jwks_uri == NULL && prov->jwks_file == NULL;
	} else if (!prov->discovery && prov->discovery_url != NULL) {
		return check_error(ctx, "discovery_url", "set, but discovery = no "
				   "(expected discovery = yes or no discovery_url)");
	}
	if (prov->discovery && derive_discovery_url(ctx) < 0)
		return -1;
	return 0;
}

static int
check_key_source(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (check_algorithms(ctx) < 0)
		return -1;
	if (prov->mode != MOA2_VERIFY_MODE_JWT && prov->mode != MOA2_VERIFY_MODE_AUTO)
		return 0;
	if (!prov->discovery && prov->jwks_uri == NULL && prov->jwks_file == NULL &&
	    prov->hmac_secret == NULL)
		return check_error(ctx, "mode", "mode '%s' needs a key source (expected "
				   "issuer with discovery, jwks_uri, jwks_file or "
				   "hmac_secret)", moa2_verify_mode_name(prov->mode));
	return 0;
}

static int
check_opaque_mode(struct check_ctx *ctx)
{
	struct moa2_provider_config *prov = ctx->provider;

	if (prov->mode == MOA2_VERIFY_MODE_AUTO) {
		if (prov->opaque_mode == MOA2_VERIFY_MODE_NONE)
			return check_error(ctx, "opaque_mode", "mode 'auto' needs it for "
					   "tokens that are not JWTs (expected "
					   "introspection, userinfo or tokeninfo)");
		prov->opaque_verifier = prov->opaque_mode;
	} else if (prov->opaque_mode != MOA2_VERIFY_MODE_NONE) {
		return check_error(ctx, "opaque_mode", "only used with mode = auto "
				   "(expected no opaque_mode with mode = %s)",
				   moa2_verify_mode_name(prov->mode));
	} else if (prov->mode != MOA2_VERIFY_MODE_JWT) {
		prov->opaque_verifier = prov->mode;
	}
	return 0;
}

static int
check_endpoints(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;
	const char *mode = moa2_verify_mode_name(prov->opaque_verifier);

	switch (prov->opaque_verifier) {
	case MOA2_VERIFY_MODE_INTROSPECTION:
		if (prov->introspection_url == NULL && !prov->discovery)
			return check_error(ctx, "introspection_url", "mode '%s' needs it "
					   "(expected introspection_url = https://... or "
					   "discovery)", mode);
		if (prov->client_id == NULL)
			return check_error(ctx, "client_id", "mode '%s' needs it to "
					   "authenticate to the introspection endpoint "
					   "(expected client_id = ...)", mode);
		if (prov->client_secret == NULL)
			return check_error(ctx, "client_secret", "mode '%s' needs it to "
					   "authenticate to the introspection endpoint "
					   "(expected client_secret or client_secret_file)",
					   mode);
		return 0;
	case MOA2_VERIFY_MODE_USERINFO:
		if (prov->userinfo_url == NULL && !prov->discovery)
			return check_error(ctx, "userinfo_url", "mode '%s' needs it "
					   "(expected userinfo_url = https://... or "
					   "discovery)", mode);
		return 0;
	case MOA2_VERIFY_MODE_TOKENINFO:
		if (prov->tokeninfo_url == NULL)
			return check_error(ctx, "tokeninfo_url", "mode '%s' needs it "
					   "(expected tokeninfo_url = https://...)", mode);
		return 0;
	default:
		return 0;
	}
}

static int
check_audience(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (prov->mode == MOA2_VERIFY_MODE_USERINFO) {
		if (prov->audience_check)
			return check_error(ctx, "audience_check", "mode 'userinfo' cannot "
					   "check the audience: the userinfo endpoint "
					   "proves a token valid, not for whom (expected "
					   "audience_check = no)");
		if (prov->audience.count > 0)
			return check_error(ctx, "audience", "mode 'userinfo' cannot check "
					   "it (expected no audience with mode = userinfo)");
		return 0;
	}
	if (prov->audience_check && prov->audience.count == 0)
		return check_error(ctx, "audience", "provider '%s' refuses to start: no "
				   "audience configured; set audience = ... or "
				   "audience_check = no to accept tokens for any "
				   "audience (unsafe)", prov->name);
	return 0;
}

static int
check_domain(struct check_ctx *ctx, const char *key, const char *domain)
{
	if (domain[0] == '\0' || strpbrk(domain, "@ \t") != NULL)
		return check_error(ctx, key, "invalid domain '%s' (expected a domain "
				   "name without '@', e.g. example.com)", domain);
	return 0;
}

static int
check_claims(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (prov->scope_claims.count == 0)
		return check_error(ctx, "scope_claims", "empty list (expected claim "
				   "names, e.g. scope scp)");
	if (prov->username_claims.count == 0)
		return check_error(ctx, "username_claims", "empty list (expected claim "
				   "names, e.g. preferred_username email sub)");
	if (prov->username_domain_append != NULL &&
	    check_domain(ctx, "username_domain_append", prov->username_domain_append) < 0)
		return -1;
	for (unsigned int i = 0; i < prov->username_domain_strip.count; i++) {
		if (check_domain(ctx, "username_domain_strip",
				 prov->username_domain_strip.items[i]) < 0)
			return -1;
	}
	return 0;
}

static void
trim_end_of(char *str)
{
	size_t len = strlen(str);

	while (len > 0 && (str[len - 1] == ' ' || str[len - 1] == '\t'))
		str[--len] = '\0';
}

static char *
trim(char *str)
{
	while (*str == ' ' || *str == '\t')
		str++;
	trim_end_of(str);
	return str;
}

/* Splits each "required_claim = name=value" into the provider's array. */
static int
load_required_claims(struct check_ctx *ctx)
{
	struct moa2_provider_config *prov = ctx->provider;
	const struct moa2_config_setting *set =
		moa2_config_section_get(ctx->section, "required_claim");

	if (set == NULL || set->items_count == 0)
		return 0;
	prov->required_claims = calloc(set->items_count, sizeof(*prov->required_claims));
	if (prov->required_claims == NULL)
		return check_error(ctx, "required_claim", "out of memory");
	for (unsigned int i = 0; i < set->items_count; i++) {
		struct moa2_required_claim *claim =
			&prov->required_claims[prov->required_claims_count];
		char *copy = strdup(set->items[i]), *eq;

		if (copy == NULL)
			return check_error(ctx, "required_claim", "out of memory");
		claim->name = copy; /* owns copy, freed with the config */
		claim->line = set->item_lines[i];
		prov->required_claims_count++;
		/* "name = value" on the line reads as "name=value" */
		if ((eq = strchr(copy, '=')) != NULL) {
			*eq = '\0';
			claim->value = trim(eq + 1);
			trim_end_of(copy);
		}
		if (eq == NULL || *claim->name == '\0' || *claim->value == '\0') {
			ctx->error = moa2_config_error(ctx->config->parsed, claim->line,
				"key 'required_claim': invalid value '%s' "
				"(expected name=value, e.g. email_verified=true)",
				set->items[i]);
			return -1;
		}
	}
	return 0;
}

static int
check_durations(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (prov->jwks_cache_min > prov->jwks_cache_max)
		return check_error(ctx, "jwks_cache_min", "larger than jwks_cache_max "
				   "(expected jwks_cache_min <= jwks_cache_max)");
	return 0;
}

static int
check_provider_urls(struct check_ctx *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (moa2_config_section_is_set(ctx->section, "discovery_url") &&
	    check_url(ctx, "discovery_url", prov->discovery_url) < 0)
		return -1;
	if (check_url(ctx, "jwks_uri", prov->jwks_uri) < 0 ||
	    check_url(ctx, "introspection_url", prov->introspection_url) < 0 ||
	    check_url(ctx, "userinfo_url", prov->userinfo_url) < 0 ||
	    check_url(ctx, "tokeninfo_url", prov->tokeninfo_url) < 0)
		return -1;
	return 0;
}

static int
check_unique_issuer(struct check_ctx *ctx, unsigned int idx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	for (unsigned int i = 0; i < idx; i++) {
		const struct moa2_provider_config *other = &ctx->config->providers[i];
		bool same = prov->issuer != NULL && other->issuer != NULL ?
			strcmp(prov->issuer, other->issuer) == 0 :
			prov->issuer_none && other->issuer_none;

		if (same)
			return check_error(ctx, "issuer", "provider '%s' has the same "
					   "issuer as provider '%s' (line %u) (expected "
					   "one provider per issuer)", prov->name,
					   other->name, other->line);
	}
	return 0;
}

static int
load_provider(struct check_ctx *ctx, const struct moa2_config_section *section,
	      unsigned int idx)
{
	struct moa2_provider_config *prov = &ctx->config->providers[idx];

	moa2_config_bind(section, prov);
	prov->name = section->name;
	prov->line = section->line;
	prov->section = section;
	ctx->provider = prov;
	ctx->section = section;
	ctx->config->providers_count++;

	if (check_issuer_and_discovery(ctx) < 0 || check_key_source(ctx) < 0 ||
	    check_opaque_mode(ctx) < 0 || check_endpoints(ctx) < 0 ||
	    check_audience(ctx) < 0 || check_claims(ctx) < 0 ||
	    load_required_claims(ctx) < 0 || check_durations(ctx) < 0 ||
	    check_provider_urls(ctx) < 0 || check_unique_issuer(ctx, idx) < 0)
		return -1;
	return 0;
}

static int
check_global(struct check_ctx *ctx)
{
	const struct moa2_verify_config *config = ctx->config;

	if (config->http_connect_timeout == 0)
		return check_error(ctx, "http_connect_timeout", "zero (expected a "
				   "positive duration, e.g. 3s)");
	if (config->http_timeout == 0)
		return check_error(ctx, "http_timeout", "zero (expected a positive "
				   "duration, e.g. 10s)");
	if (config->http_connect_timeout > config->http_timeout) {
		const char *key = moa2_config_section_is_set(ctx->section, "http_timeout") ?
			"http_timeout" : "http_connect_timeout";

		return check_error(ctx, key, "http_connect_timeout is longer than "
				   "http_timeout (expected http_connect_timeout <= "
				   "http_timeout)");
	}
	if (config->http_max_response == 0)
		return check_error(ctx, "http_max_response", "zero (expected a size, "
				   "e.g. 1M)");
	return 0;
}

static int
load_config(struct check_ctx *ctx)
{
	struct moa2_verify_config *config = ctx->config;
	struct moa2_config *parsed = config->parsed;
	unsigned int count = parsed->sections_count - 1;

	ctx->section = &parsed->sections[0];
	moa2_config_bind(ctx->section, config);
	config->file = parsed->file;
	if (check_global(ctx) < 0)
		return -1;
	if (count == 0) {
		ctx->error = moa2_config_error(parsed, 0, "no provider configured "
					       "(expected at least one [provider NAME] "
					       "section)");
		return -1;
	}
	config->providers = calloc(count, sizeof(*config->providers));
	if (config->providers == NULL)
		return check_error(ctx, "provider", "out of memory");
	for (unsigned int i = 0; i < count; i++) {
		if (load_provider(ctx, &parsed->sections[i + 1], i) < 0)
			return -1;
	}
	return 0;
}

static int
finish_load(struct moa2_config *parsed, struct moa2_verify_config **config_r,
	    char **error_r)
{
	struct check_ctx ctx = { 0 };

	ctx.config = calloc(1, sizeof(*ctx.config));
	if (ctx.config == NULL) {
		moa2_config_free(&parsed);
		*error_r = strdup("out of memory");
		return -1;
	}
	ctx.config->parsed = parsed;
	if (load_config(&ctx) < 0) {
		moa2_verify_config_free(&ctx.config);
		*error_r = ctx.error != NULL ? ctx.error : strdup("out of memory");
		return -1;
	}
	*config_r = ctx.config;
	return 0;
}

int
moa2_verify_config_load(const char *path, struct moa2_verify_config **config_r,
			char **error_r)
{
	struct moa2_config *parsed;

	*config_r = NULL;
	*error_r = NULL;
	if (moa2_config_parse_file(path, &verify_schema, &parsed, error_r) < 0)
		return -1;
	return finish_load(parsed, config_r, error_r);
}

int
moa2_verify_config_load_string(const char *name, const char *data, size_t len,
			       struct moa2_verify_config **config_r, char **error_r)
{
	struct moa2_config *parsed;

	*config_r = NULL;
	*error_r = NULL;
	if (moa2_config_parse_string(name, data, len, &verify_schema, &parsed,
				     error_r) < 0)
		return -1;
	return finish_load(parsed, config_r, error_r);
}

void
moa2_verify_config_free(struct moa2_verify_config **config_p)
{
	struct moa2_verify_config *config = *config_p;

	if (config == NULL)
		return;
	*config_p = NULL;
	for (unsigned int i = 0; i < config->providers_count; i++) {
		struct moa2_provider_config *prov = &config->providers[i];

		for (unsigned int j = 0; j < prov->required_claims_count; j++)
			free((char *)prov->required_claims[j].name);
		free(prov->required_claims);
		free(prov->discovery_url_owned);
	}
	free(config->providers);
	moa2_config_free(&config->parsed);
	free(config);
}

/* ---------------------------------------------------------------- lookup */

const struct moa2_provider_config *
moa2_verify_config_find_issuer(const struct moa2_verify_config *config,
			       const char *iss)
{
	const struct moa2_provider_config *fallback = NULL;

	for (unsigned int i = 0; i < config->providers_count; i++) {
		const struct moa2_provider_config *prov = &config->providers[i];

		if (prov->issuer != NULL && iss != NULL && strcmp(prov->issuer, iss) == 0)
			return prov;
		if (prov->issuer_none)
			fallback = prov;
	}
	return fallback;
}

const struct moa2_provider_config *
moa2_verify_config_find_provider(const struct moa2_verify_config *config,
				 const char *name)
{
	for (unsigned int i = 0; i < config->providers_count; i++) {
		if (strcmp(config->providers[i].name, name) == 0)
			return &config->providers[i];
	}
	return NULL;
}

unsigned int
moa2_verify_config_line(const struct moa2_provider_config *provider,
			const char *key)
{
	return moa2_config_section_line(provider->section, key);
}
