/* The verification engine: set-up, provider discovery and keys, routing of
   a token to JWT or opaque verification, and the result. */
#include "config.h"
#include "verify/verifier-private.h"
#include "support/http-client.h"
#include "support/remote-doc.h"
#include "verify/result-cache.h"
#include "jose/jose-jws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- results */

/* Sets a failed outcome. The detail is formatted first: an argument may be
   the identity freed here. */
static void MOA2_ATTR_FORMAT(4, 0)
result_fail(struct moa2_verify_result *result, enum moa2_verify_outcome outcome,
	    enum moa2_verify_reason reason, const char *fmt, va_list args)
{
	vsnprintf(result->detail, sizeof(result->detail), fmt, args);
	result->outcome = outcome;
	result->reason = reason;
	free(result->identity);
	result->identity = NULL;
}

void
moa2_result_reject(struct moa2_verify_result *result,
	      enum moa2_verify_reason reason, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	result_fail(result, MOA2_OUTCOME_REJECTED, reason, fmt, args);
	va_end(args);
}

void
moa2_result_tempfail(struct moa2_verify_result *result, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	result_fail(result, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, fmt, args);
	va_end(args);
}

void
moa2_result_check(struct moa2_verify_result *result, const char *fmt, ...)
{
	size_t used;
	va_list args;

	if (!result->explain)
		return;
	used = strlen(result->checks);
	if (used + 2 >= sizeof(result->checks))
		return;
	va_start(args, fmt);
	vsnprintf(result->checks + used, sizeof(result->checks) - used - 1, fmt, args);
	va_end(args);
	strcat(result->checks, "\n");
}

void
moa2_verify_result_clear(struct moa2_verify_result *result)
{
	free(result->identity);
	for (unsigned int i = 0; i < result->claims_count; i++) {
		free(result->claims[i].name);
		free(result->claims[i].value);
	}
	free(result->claims);
	memset(result, 0, sizeof(*result));
}

const char *
moa2_verify_outcome_name(enum moa2_verify_outcome outcome)
{
	switch (outcome) {
	case MOA2_OUTCOME_ACCEPTED:
		return "accepted";
	case MOA2_OUTCOME_REJECTED:
		return "rejected";
	case MOA2_OUTCOME_TEMPFAIL:
		return "tempfail";
	}
	return "unknown";
}

/* ------------------------------------------------------------- set-up */

static time_t
default_clock(void *context)
{
	return time(NULL);
}

time_t
moa2_verifier_now(const struct moa2_verifier *v)
{
	return v->now(v->now_context);
}

void
moa2_verifier_set_explain(struct moa2_verifier *verifier, bool explain)
{
	verifier->explain = explain;
}

void
moa2_verifier_set_clock(struct moa2_verifier *verifier,
			time_t (*now)(void *context), void *context)
{
	verifier->now = now;
	verifier->now_context = context;
}

static char *
join_list(const struct moa2_config_list *list)
{
	size_t len = 1;
	char *out;

	for (unsigned int i = 0; i < list->count; i++)
		len += strlen(list->items[i]) + 1;
	if ((out = calloc(1, len)) == NULL)
		abort();
	for (unsigned int i = 0; i < list->count; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, list->items[i]);
	}
	return out;
}

static int
load_local_keys(struct moa2_provider *p, char **error_r)
{
	const struct moa2_provider_config *cfg = p->cfg;
	struct moa2_jwk *secret_key;
	char buf[512];
	const char *error;
	size_t skipped;

	if (cfg->jwks_file != NULL &&
	    moa2_jwks_load_file(cfg->jwks_file, &p->local_keys, &skipped, NULL, NULL,
				buf, sizeof(buf), &error) < 0) {
		*error_r = moa2_strdup_printf("%s:%u: key 'jwks_file': %s", p->verifier->cfg->file,
					moa2_verify_config_line(cfg, "jwks_file"), error);
		return -1;
	}
	if (cfg->hmac_secret == NULL)
		return 0;
	if (moa2_jwk_from_secret(cfg->hmac_secret, strlen(cfg->hmac_secret), NULL,
				 MOA2_JOSE_ALG_COUNT, &secret_key, &error) < 0) {
		*error_r = moa2_strdup_printf("%s:%u: key 'hmac_secret': %s", p->verifier->cfg->file,
					moa2_verify_config_line(cfg, "hmac_secret"), error);
		return -1;
	}
	if (p->local_keys == NULL)
		p->local_keys = moa2_jwks_new();
	if (moa2_jwks_add(p->local_keys, secret_key) < 0)
		abort();
	moa2_jwk_unref(&secret_key);
	return 0;
}

static int
provider_init(struct moa2_verifier *v, unsigned int idx, char **error_r)
{
	struct moa2_provider *p = &v->providers[idx];
	const struct moa2_provider_config *cfg = &v->cfg->providers[idx];
	char bad[64];

	p->verifier = v;
	p->cfg = cfg;
	p->index = idx;
	p->rules.claims = cfg->username_claims.items;
	p->rules.lowercase = cfg->username_lowercase;
	p->rules.domain_append = cfg->username_domain_append;
	p->rules.domain_strip = cfg->username_domain_strip.items;
	p->scope = join_list(&cfg->required_scopes);
	{
		char *algs = join_list(&cfg->algorithms);
		int ret = moa2_jose_alg_mask_parse(algs, &p->alg_mask, bad, sizeof(bad));

		free(algs);
		if (ret < 0) {
			*error_r = moa2_strdup_printf("%s:%u: key 'algorithms': unsupported algorithm %s",
						v->cfg->file, moa2_verify_config_line(cfg, "algorithms"), bad);
			return -1;
		}
	}
	p->jwks_uri = moa2_strdup(cfg->jwks_uri);
	p->introspection_url = moa2_strdup(cfg->introspection_url);
	p->userinfo_url = moa2_strdup(cfg->userinfo_url);
	return load_local_keys(p, error_r);
}

static void
provider_deinit(struct moa2_provider *p)
{
	moa2_jwks_free(&p->local_keys);
	moa2_jwks_free(&p->jwks);
	moa2_jwks_free(&p->jwks_next);
	moa2_remote_doc_destroy(&p->discovery);
	moa2_remote_doc_destroy(&p->jwks_doc);
	free(p->scope);
	free(p->jwks_uri);
	free(p->introspection_url);
	free(p->userinfo_url);
}

int
moa2_verifier_create(const struct moa2_verify_config *config,
		     const struct moa2_logger *logger,
		     struct moa2_verifier **verifier_r, char **error_r)
{
	struct moa2_verifier *v = calloc(1, sizeof(*v));
	struct moa2_http_settings http = {
		.connect_timeout_ms = config->http_connect_timeout,
		.total_timeout_ms = config->http_timeout,
		.max_response = config->http_max_response,
		.ca_file = config->ca_file,
		.ca_dir = config->ca_dir,
		.allow_http_loopback = config->allow_http_loopback,
	};
	const char *error;
	void *ca_blob = NULL;
	int ret;

	if (v == NULL)
		abort();
	*verifier_r = NULL;
	v->cfg = config;
	if (logger != NULL)
		v->logger = *logger;
	v->logger.debug = v->logger.debug || config->log_debug;
	v->now = default_clock;
	/* the CA bundle is read now, into memory: a chrooted host (Postfix
	   smtpd with the SASL server plugin) cannot open it later */
	if (config->ca_file != NULL &&
	    moa2_http_load_ca_file(config->ca_file, &ca_blob, &http.ca_blob_len, &error) < 0) {
		*error_r = moa2_strdup_printf("%s: ca_file %s: %s", config->file,
					      config->ca_file, error);
		free(v);
		return -1;
	}
	http.ca_blob = ca_blob;
	ret = moa2_http_client_create(&http, &v->http, &error);
	free(ca_blob);
	if (ret < 0) {
		*error_r = moa2_strdup_printf("%s: HTTP client: %s", config->file, error);
		free(v);
		return -1;
	}
	v->results = moa2_result_cache_create(config->opaque_cache_entries);
	v->providers = calloc(config->providers_count, sizeof(*v->providers));
	if (v->providers == NULL)
		abort();
	v->providers_count = config->providers_count;
	for (unsigned int i = 0; i < config->providers_count; i++) {
		if (provider_init(v, i, error_r) < 0) {
			moa2_verifier_destroy(&v);
			return -1;
		}
	}
	*verifier_r = v;
	return 0;
}

void
moa2_verifier_destroy(struct moa2_verifier **_v)
{
	struct moa2_verifier *v = *_v;

	if (v == NULL)
		return;
	for (unsigned int i = 0; i < v->providers_count; i++)
		provider_deinit(&v->providers[i]);
	free(v->providers);
	moa2_result_cache_destroy(&v->results);
	moa2_http_client_destroy(&v->http);
	free(v);
	*_v = NULL;
}

/* ----------------------------------------------- discovery and key sets */

static char *
cache_path(const struct moa2_provider *p, const char *suffix)
{
	const char *dir = p->verifier->cfg->cache_dir;

	return dir == NULL ? NULL : moa2_strdup_printf("%s/%s.%s", dir, p->cfg->name, suffix);
}

/* A provider document (discovery, JWKS) with the provider's cache policy,
   persisted as cache_dir/NAME.SUFFIX. */
static struct moa2_remote_doc *
provider_doc_create(struct moa2_provider *p, const char *what, const char *url,
		    const char *suffix, moa2_remote_doc_validate_t *validate)
{
	struct moa2_remote_doc_settings set = {
		.what = what, .provider = p->cfg->name, .url = url,
		.cache_min = p->cfg->jwks_cache_min, .cache_max = p->cfg->jwks_cache_max,
		.retry_interval = p->cfg->jwks_refetch_interval,
		.stale_max = p->cfg->jwks_stale_max,
		.validate = validate, .validate_context = p,
	};
	char *path = cache_path(p, suffix);
	struct moa2_remote_doc *doc;

	set.cache_path = path;
	doc = moa2_remote_doc_create(&set, p->verifier->http, &p->verifier->logger);
	free(path);
	return doc;
}

/* RFC 8414 §3.3 / OIDC Discovery §4.3: the document's issuer must be the
   configured one, else an attacker's metadata could redirect our keys. */
static int
validate_discovery(void *context, const char *body, size_t len,
		   const char **error_r)
{
	const struct moa2_provider *p = context;
	struct moa2_json *doc;
	const char *issuer, *jwks_uri;
	int ret = -1;

	if (moa2_json_parse(body, len, &doc, error_r) < 0)
		return -1;
	if (!moa2_json_is_object(doc))
		*error_r = "not a JSON object";
	else if (p->cfg->issuer != NULL &&
		 (moa2_json_get_string(doc, "issuer", &issuer) <= 0 ||
		  strcmp(issuer, p->cfg->issuer) != 0))
		*error_r = "its issuer differs from the configured issuer";
	else if (moa2_json_get_string(doc, "jwks_uri", &jwks_uri) < 0)
		*error_r = "jwks_uri is not a string";
	else
		ret = 0;
	moa2_json_free(&doc);
	return ret;
}

static void
adopt_endpoint(char **slot, const struct moa2_json *doc, const char *key,
	       bool allow_http_loopback)
{
	const char *url, *error;

	if (*slot != NULL || moa2_json_get_string(doc, key, &url) <= 0 ||
	    !moa2_url_is_allowed(url, allow_http_loopback, &error))
		return;
	*slot = moa2_strdup(url);
}

int
moa2_provider_discover(struct moa2_provider *p, bool refresh, const char **error_r)
{
	struct moa2_verifier *v = p->verifier;
	struct moa2_json *doc;
	const char *body;
	size_t len;
	int ret;

	if (!p->cfg->discovery)
		return 0;
	if (p->discovery == NULL)
		p->discovery = provider_doc_create(p, "discovery document", p->cfg->discovery_url,
						   "discovery.json", validate_discovery);
	ret = moa2_remote_doc_get(p->discovery, moa2_verifier_now(v), refresh, &body, &len, error_r);
	if (ret <= 0)
		return ret;
	/* a new copy: take the endpoints the config did not set */
	if (moa2_json_parse(body, len, &doc, error_r) < 0)
		return -1;
	adopt_endpoint(&p->jwks_uri, doc, "jwks_uri", v->cfg->allow_http_loopback);
	adopt_endpoint(&p->introspection_url, doc, "introspection_endpoint",
		       v->cfg->allow_http_loopback);
	adopt_endpoint(&p->userinfo_url, doc, "userinfo_endpoint", v->cfg->allow_http_loopback);
	moa2_json_free(&doc);
	return 0;
}

static int
validate_jwks(void *context, const char *body, size_t len, const char **error_r)
{
	struct moa2_provider *p = context;
	struct moa2_jwks *jwks;
	size_t skipped;

	if (moa2_jwks_parse(body, len, &jwks, &skipped, NULL, NULL, error_r) < 0)
		return -1;
	if (moa2_jwks_count(jwks) == 0) {
		moa2_jwks_free(&jwks);
		*error_r = "it holds no usable signing key";
		return -1;
	}
	moa2_jwks_free(&p->jwks_next);
	p->jwks_next = jwks;
	return 0;
}

int
moa2_provider_keys(struct moa2_provider *p, bool refresh,
	      const struct moa2_jwks **remote_r, const char **error_r)
{
	struct moa2_verifier *v = p->verifier;
	const char *body;
	size_t len;
	int ret;

	*remote_r = NULL;
	if (p->cfg->jwks_file != NULL)
		return 0;
	if (moa2_provider_discover(p, false, error_r) < 0)
		return -1;
	if (p->jwks_uri == NULL) {
		if (p->cfg->discovery) {
			*error_r = "the discovery document has no usable jwks_uri";
			return -1;
		}
		return 0; /* HMAC secret only */
	}
	if (p->jwks_doc == NULL)
		p->jwks_doc = provider_doc_create(p, "JWKS", p->jwks_uri, "jwks.json", validate_jwks);
	ret = moa2_remote_doc_get(p->jwks_doc, moa2_verifier_now(v), refresh, &body, &len, error_r);
	if (ret < 0)
		return -1;
	if (ret > 0 && p->jwks_next != NULL) {
		moa2_jwks_free(&p->jwks);
		p->jwks = p->jwks_next;
		p->jwks_next = NULL;
	}
	*remote_r = p->jwks;
	return 0;
}

unsigned int
moa2_verifier_jwks_fetch_count(const struct moa2_verifier *v)
{
	unsigned int count = 0;

	for (unsigned int i = 0; i < v->providers_count; i++) {
		if (v->providers[i].jwks_doc != NULL)
			count += moa2_remote_doc_fetch_count(v->providers[i].jwks_doc);
	}
	return count;
}

/* ------------------------------------------------------------ routing */

/* A compact JWS has exactly two dots; anything else is an opaque token. */
static bool
looks_like_jws(const char *token, size_t len)
{
	const char *dot1 = memchr(token, '.', len), *dot2;

	if (dot1 == NULL)
		return false;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	return dot2 != NULL && memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) == NULL;
}

static bool
has_mode(const struct moa2_verifier *v, bool jwt)
{
	for (unsigned int i = 0; i < v->providers_count; i++) {
		enum moa2_verify_mode mode = v->providers[i].cfg->mode;

		if (jwt ? (mode == MOA2_VERIFY_MODE_JWT || mode == MOA2_VERIFY_MODE_AUTO) :
		    v->providers[i].cfg->opaque_verifier != MOA2_VERIFY_MODE_NONE)
			return true;
	}
	return false;
}

void
moa2_verify_token(struct moa2_verifier *v, const char *token,
		  size_t token_len, const char *asserted_user,
		  struct moa2_verify_result *result_r)
{
	memset(result_r, 0, sizeof(*result_r));
	result_r->explain = v->explain;
	if (token_len > MOA2_JWS_MAX_LEN) {
		moa2_result_reject(result_r, MOA2_VERIFY_TOO_LARGE,
			      "the token has %zu bytes, the limit is %d", token_len, MOA2_JWS_MAX_LEN);
	} else if (looks_like_jws(token, token_len) && has_mode(v, true)) {
		moa2_verify_jwt(v, token, token_len, asserted_user, result_r);
	} else if (has_mode(v, false)) {
		moa2_verify_opaque(v, token, token_len, asserted_user, result_r);
	} else {
		moa2_result_reject(result_r, MOA2_VERIFY_MALFORMED,
			      "the token is not a JWT and no provider verifies opaque tokens");
	}
	if (result_r->outcome == MOA2_OUTCOME_ACCEPTED)
		result_r->reason = MOA2_VERIFY_OK;
	else if (result_r->provider == NULL && v->providers_count == 1) {
		/* refused before routing (malformed, alg none, no such issuer):
		   with one provider, the challenge can still name its scope and
		   discovery URL */
		result_r->scope = v->providers[0].scope;
		result_r->openid_configuration = v->providers[0].cfg->discovery_url;
	}
	if (result_r->outcome != MOA2_OUTCOME_ACCEPTED || v->logger.debug || v->explain)
		moa2_token_fingerprint(token, token_len, result_r->fingerprint);
}

/* ---------------------------------------------------------- discovery */

static void
append(char *buf, size_t size, const char *fmt, ...) MOA2_ATTR_FORMAT(3, 4);
static void
append(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list args;

	va_start(args, fmt);
	vsnprintf(buf + used, size - used, fmt, args);
	va_end(args);
}

static void
describe_keys(const struct moa2_jwks *keys, const char *source, char *buf, size_t size)
{
	for (size_t i = 0; keys != NULL && i < moa2_jwks_count(keys); i++) {
		const struct moa2_jwk *key = moa2_jwks_get(keys, i);
		enum moa2_jose_alg alg;

		append(buf, size, "  key: kid=%s kty=%s%s%s alg=%s bits=%u (%s)\n",
		       moa2_jwk_kid(key) != NULL ? moa2_jwk_kid(key) : "(none)",
		       moa2_jwk_kty_name(moa2_jwk_kty(key)),
		       moa2_jwk_crv(key) != MOA2_JWK_CRV_NONE ? " crv=" : "",
		       moa2_jwk_crv_name(moa2_jwk_crv(key)),
		       moa2_jwk_alg(key, &alg) ? moa2_jose_alg_name(alg) : "(any fitting)",
		       moa2_jwk_bits(key), source);
	}
}

static bool
discover_provider(struct moa2_provider *p, char *buf, size_t size)
{
	const struct moa2_jwks *remote;
	const char *error = "";
	bool ok = true;
	char *algs = join_list(&p->cfg->algorithms);

	append(buf, size, "  mode: %s\n  issuer: %s\n", moa2_verify_mode_name(p->cfg->mode),
	       p->cfg->issuer != NULL ? p->cfg->issuer : "(not checked)");
	/* fetch now, whatever the caches hold: this is the admin's live check */
	if (p->cfg->discovery) {
		if (moa2_provider_discover(p, true, &error) < 0 ||
		    moa2_remote_doc_last_fetch_failed(p->discovery)) {
			append(buf, size, "  discovery: %s: FAILED%s%s\n", p->cfg->discovery_url,
			       p->jwks_uri != NULL ? " (using the cached copy)" : ": ",
			       p->jwks_uri != NULL ? "" : error);
			ok = false;
		} else {
			append(buf, size, "  discovery: %s: ok\n", p->cfg->discovery_url);
		}
	}
	append(buf, size, "  jwks_uri: %s\n  introspection: %s\n  userinfo: %s\n",
	       p->jwks_uri != NULL ? p->jwks_uri : "(none)",
	       p->introspection_url != NULL ? p->introspection_url : "(none)",
	       p->userinfo_url != NULL ? p->userinfo_url : "(none)");
	if (p->cfg->tokeninfo_url != NULL)
		append(buf, size, "  tokeninfo: %s\n", p->cfg->tokeninfo_url);
	append(buf, size, "  algorithms allowed: %s\n", algs);
	free(algs);
	if (p->cfg->mode == MOA2_VERIFY_MODE_JWT || p->cfg->mode == MOA2_VERIFY_MODE_AUTO) {
		describe_keys(p->local_keys, "local", buf, size);
		if (moa2_provider_keys(p, true, &remote, &error) < 0) {
			append(buf, size, "  keys: FAILED: %s\n", error);
			ok = false;
		} else if (p->jwks_doc != NULL && moa2_remote_doc_last_fetch_failed(p->jwks_doc)) {
			append(buf, size, "  keys: fetching FAILED, the cached copy has:\n");
			describe_keys(remote, "cached", buf, size);
			ok = false;
		} else {
			describe_keys(remote, "fetched", buf, size);
		}
	}
	return ok;
}

int
moa2_verifier_discover(struct moa2_verifier *v, moa2_verifier_report_t *report,
		       void *context)
{
	char buf[8192];
	int ret = 0;

	for (unsigned int i = 0; i < v->providers_count; i++) {
		bool ok;

		buf[0] = '\0';
		ok = discover_provider(&v->providers[i], buf, sizeof(buf));
		report(context, v->providers[i].cfg->name, ok, buf);
		if (!ok)
			ret = -1;
	}
	return ret;
}
