/* SPDX-License-Identifier: MIT */
/* verify.conf's schema: every option, its type, default and one-line doc
   (the single source of truth for the loader, the CLI and the docs test).
   Failure behaviour: none (static data). */

#include "config.h"
#include "verify/verify-config-private.h"

#include <stddef.h>

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
	P_DOC(username_claims, LIST, "preferred_username email upn sub; mode introspection: "
	      "username preferred_username email upn sub",
	      "claims tried in order for the user name"),
	P(username_lowercase, BOOL, "no",
	  "lowercase the user name"),
	P(username_domain_append, STRING, NULL,
	  "append @DOMAIN to a user name that has no @"),
	P(username_domain_strip, LIST, NULL,
	  "domains removed from user@DOMAIN"),
	P(username_allow, LIST, NULL,
	  "characters a user name may contain although refused by default: "
	  "space, slash, backslash (a '.' or '..' segment, other whitespace, "
	  "control characters and NUL are always refused)"),
	P(allow_service_tokens, BOOL, "no",
	  "accept service tokens: a user name equal to the token's client_id "
	  "or azp, Keycloak's service-account-CLIENT, Entra ID's idtyp app "
	  "(the client logs in as a user)"),
	P(accept_id_tokens, BOOL, "no",
	  "accept OpenID Connect ID tokens as access tokens (unsafe)"),
	P(opaque_token_prefix, LIST, NULL,
	  "opaque (non-JWT) tokens starting with one of these go to this "
	  "provider, e.g. ya29. for Google"),
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
