/* SPDX-License-Identifier: MIT */
/* verify.conf: loading, the policy checks of a provider (audience, claims,
   identity, routing of opaque tokens, settings under which no token could
   pass), the global checks, and lookups. The schema is in
   verify-config-schema.c, the checks of keys and endpoints in
   verify-config-check.c. Failure behaviour: any failed check refuses the
   whole config (fail closed), with one line naming file, line and key. */

#include "config.h"
#include "verify/verify-config-private.h"
#include "verify/verify-identity.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
moa2_verify_check_verror(struct moa2_verify_check *ctx, const char *key,
			 const char *fmt, va_list args)
{
	moa2_config_key_verror(&ctx->error, ctx->config->parsed, ctx->section,
			       false, key, fmt, args);
	return -1;
}

/* Records the first error at key's line. Always returns -1. */
static int MOA2_ATTR_FORMAT(3, 4)
check_error(struct moa2_verify_check *ctx, const char *key, const char *fmt, ...)
{
	va_list args;
	int ret;

	va_start(args, fmt);
	ret = moa2_verify_check_verror(ctx, key, fmt, args);
	va_end(args);
	return ret;
}

static int
check_audience(struct moa2_verify_check *ctx)
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

/* Settings under which no token could ever pass: refused at load time,
   not found out login by login. */
static int
check_satisfiable(struct moa2_verify_check *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (prov->mode == MOA2_VERIFY_MODE_USERINFO && prov->required_scopes.count > 0)
		return check_error(ctx, "required_scopes", "mode 'userinfo' cannot check "
				   "scopes: userinfo answers carry no scope, so every token "
				   "would be refused (expected no required_scopes with mode = "
				   "userinfo, or mode introspection or jwt)");
	if (prov->typ_required && prov->typ.count == 0 &&
	    (prov->mode == MOA2_VERIFY_MODE_JWT || prov->mode == MOA2_VERIFY_MODE_AUTO))
		return check_error(ctx, "typ", "empty list with typ_required = yes: every "
				   "JWT would be refused (expected e.g. typ = at+jwt JWT)");
	if (prov->opaque_token_prefix.count > 0 && prov->opaque_verifier == MOA2_VERIFY_MODE_NONE)
		return check_error(ctx, "opaque_token_prefix", "mode '%s' verifies no opaque "
				   "tokens (expected mode introspection, userinfo, tokeninfo "
				   "or auto)", moa2_verify_mode_name(prov->mode));
	for (unsigned int i = 0; i < prov->opaque_token_prefix.count; i++) {
		if (prov->opaque_token_prefix.items[i][0] == '\0')
			return check_error(ctx, "opaque_token_prefix", "an empty prefix "
					   "(expected e.g. ya29.)");
	}
	return 0;
}

static bool
prefixes_overlap(const struct moa2_config_list *a, const struct moa2_config_list *b,
		 const char **which_r)
{
	for (unsigned int i = 0; i < a->count; i++) {
		for (unsigned int j = 0; j < b->count; j++) {
			size_t la = strlen(a->items[i]), lb = strlen(b->items[j]);

			if (strncmp(a->items[i], b->items[j], la < lb ? la : lb) == 0) {
				*which_r = a->items[i];
				return true;
			}
		}
	}
	return false;
}

/* Opaque tokens carry no issuer: each must go to one provider, known
   from the token alone. */
static int
check_opaque_routing(struct moa2_verify_check *ctx, unsigned int idx)
{
	const struct moa2_provider_config *prov = ctx->provider;
	const char *which;

	if (prov->opaque_verifier == MOA2_VERIFY_MODE_NONE)
		return 0;
	for (unsigned int i = 0; i < idx; i++) {
		const struct moa2_provider_config *other = &ctx->config->providers[i];

		if (other->opaque_verifier == MOA2_VERIFY_MODE_NONE)
			continue;
		if (prov->opaque_token_prefix.count == 0 && other->opaque_token_prefix.count == 0)
			return check_error(ctx, "mode", "provider '%s' and provider '%s' (line "
					   "%u) both verify opaque tokens, and nothing tells "
					   "whose a token is: a token would be sent to a "
					   "provider that did not issue it (expected "
					   "opaque_token_prefix = ... on all but one of them)",
					   prov->name, other->name, other->line);
		if (prefixes_overlap(&prov->opaque_token_prefix, &other->opaque_token_prefix, &which))
			return check_error(ctx, "opaque_token_prefix", "'%s' overlaps a prefix "
					   "of provider '%s' (line %u) (expected prefixes that "
					   "tell the providers apart)", which, other->name,
					   other->line);
	}
	return 0;
}

static int
check_domain(struct moa2_verify_check *ctx, const char *key, const char *domain)
{
	if (domain[0] == '\0' || strpbrk(domain, "@ \t") != NULL)
		return check_error(ctx, key, "invalid domain '%s' (expected a domain "
				   "name without '@', e.g. example.com)", domain);
	return 0;
}

static int
check_claims(struct moa2_verify_check *ctx)
{
	static const char *const username_default[] = {
		"preferred_username", "email", "upn", "sub", NULL
	};
	/* RFC 7662 §2.2: username is the introspection answer's user */
	static const char *const username_introspection[] = {
		"username", "preferred_username", "email", "upn", "sub", NULL
	};
	struct moa2_provider_config *prov = ctx->provider;
	const char *bad;

	if (!moa2_config_section_is_set(ctx->section, "username_claims")) {
		bool introspection = prov->opaque_verifier == MOA2_VERIFY_MODE_INTROSPECTION;

		prov->username_claims.items = introspection ? username_introspection :
			username_default;
		prov->username_claims.count = introspection ? 5 : 4;
	}
	if (moa2_identity_allow_parse(prov->username_allow.items, prov->username_allow.count,
				      &prov->username_allow_flags, &bad) < 0)
		return check_error(ctx, "username_allow", "unknown word '%s' (expected "
				   "space, slash or backslash)", bad);
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
load_required_claims(struct moa2_verify_check *ctx)
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
check_durations(struct moa2_verify_check *ctx)
{
	const struct moa2_provider_config *prov = ctx->provider;

	if (prov->jwks_cache_min > prov->jwks_cache_max)
		return check_error(ctx, "jwks_cache_min", "larger than jwks_cache_max "
				   "(expected jwks_cache_min <= jwks_cache_max)");
	return 0;
}

static int
check_unique_issuer(struct moa2_verify_check *ctx, unsigned int idx)
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
load_provider(struct moa2_verify_check *ctx, const struct moa2_config_section *section,
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

	if (moa2_verify_check_sources(ctx) < 0 ||
	    check_audience(ctx) < 0 || check_claims(ctx) < 0 ||
	    check_satisfiable(ctx) < 0 || check_opaque_routing(ctx, idx) < 0 ||
	    load_required_claims(ctx) < 0 || check_durations(ctx) < 0 ||
	    moa2_verify_check_urls(ctx) < 0 || check_unique_issuer(ctx, idx) < 0)
		return -1;
	return 0;
}

static int
check_global(struct moa2_verify_check *ctx)
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
load_config(struct moa2_verify_check *ctx)
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
	struct moa2_verify_check ctx = { 0 };

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
	if (moa2_config_parse_file(path, moa2_verify_config_schema(), &parsed, error_r) < 0)
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
	if (moa2_config_parse_string(name, data, len, moa2_verify_config_schema(), &parsed,
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
