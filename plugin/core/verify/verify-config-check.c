/* SPDX-License-Identifier: MIT */
/* verify.conf: the checks of where a provider's keys and answers come from
   (issuer, discovery, keys, algorithms, opaque mode, endpoints, URLs).
   Failure behaviour: the first failed check refuses the whole config
   (fail closed), with one line naming file, line and key. */

#include "config.h"
#include "verify/verify-config-private.h"
#include "support/url.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *const asymmetric_algs[] = {
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", NULL
};
static const char *const hmac_algs[] = { "HS256", "HS384", "HS512", NULL };



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
check_algorithms(struct moa2_verify_check *ctx)
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
check_url(struct moa2_verify_check *ctx, const char *key, const char *text)
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
derive_discovery_url(struct moa2_verify_check *ctx)
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
check_issuer_and_discovery(struct moa2_verify_check *ctx)
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
check_key_source(struct moa2_verify_check *ctx)
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
check_opaque_mode(struct moa2_verify_check *ctx)
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
check_endpoints(struct moa2_verify_check *ctx)
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

/* The checks of where keys and answers come from, in order: issuer and
   discovery, the key source, the opaque mode, the endpoints. */
int
moa2_verify_check_sources(struct moa2_verify_check *ctx)
{
	if (check_issuer_and_discovery(ctx) < 0 || check_key_source(ctx) < 0 ||
	    check_opaque_mode(ctx) < 0 || check_endpoints(ctx) < 0)
		return -1;
	return 0;
}

int
moa2_verify_check_urls(struct moa2_verify_check *ctx)
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
