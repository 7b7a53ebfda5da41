/* SPDX-License-Identifier: MIT */
/* A provider of the verification engine (see verify-provider.h): set-up,
   discovery (support/oidc-discovery.h), key sets, and the live check of
   `mail-oauth2 discover`. */
#include "config.h"
#include "verify/verify-provider.h"

#include "jose/jose-jwk.h"
#include "jose/jose-jws.h"
#include "support/oidc-discovery.h"
#include "support/remote-doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- set-up */

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

int
moa2_provider_init(struct moa2_verifier *v, unsigned int idx, char **error_r)
{
	struct moa2_provider *p = &v->providers[idx];
	const struct moa2_provider_config *cfg = &v->cfg->providers[idx];
	char bad[64], *algs;
	int ret;

	p->verifier = v;
	p->cfg = cfg;
	p->index = idx;
	p->rules.claims = cfg->username_claims.items;
	p->rules.lowercase = cfg->username_lowercase;
	p->rules.domain_append = cfg->username_domain_append;
	p->rules.domain_strip = cfg->username_domain_strip.items;
	p->rules.allow = cfg->username_allow_flags;
	p->scope = join_list(&cfg->required_scopes);
	algs = join_list(&cfg->algorithms);
	ret = moa2_jose_alg_mask_parse(algs, &p->alg_mask, bad, sizeof(bad));
	free(algs);
	if (ret < 0) {
		*error_r = moa2_strdup_printf("%s:%u: key 'algorithms': unsupported algorithm %s",
					      v->cfg->file, moa2_verify_config_line(cfg, "algorithms"),
					      bad);
		return -1;
	}
	p->jwks_uri = moa2_strdup(cfg->jwks_uri);
	p->introspection_url = moa2_strdup(cfg->introspection_url);
	p->userinfo_url = moa2_strdup(cfg->userinfo_url);
	return load_local_keys(p, error_r);
}

void
moa2_provider_deinit(struct moa2_provider *p)
{
	moa2_jwks_free(&p->local_keys);
	moa2_jwks_free(&p->jwks);
	moa2_jwks_free(&p->jwks_next);
	moa2_oidc_discovery_destroy(&p->discovery);
	moa2_remote_doc_destroy(&p->jwks_doc);
	free(p->scope);
	free(p->jwks_uri);
	free(p->introspection_url);
	free(p->userinfo_url);
}

/* ------------------------------------------------ discovery and key sets */

/* A provider document's settings: its cache policy, owner "provider
   NAME", persisted as cache_dir/NAME.SUFFIX. The config parser allows
   only [A-Za-z0-9_.-] in a section name, so NAME.SUFFIX is one file name
   inside cache_dir (no '/'; "." and ".." become "..SUFFIX", "...SUFFIX");
   a name with a '/' would not be persisted at all. Release with
   doc_settings_free. */
static void
doc_settings(const struct moa2_provider *p, const char *url, const char *suffix,
	     struct moa2_remote_doc_settings *set_r)
{
	const char *dir = p->verifier->cfg->cache_dir;

	*set_r = (struct moa2_remote_doc_settings){
		.url = url,
		.owner = moa2_strdup_printf("provider %s", p->cfg->name),
		.cache_path = dir == NULL || strchr(p->cfg->name, '/') != NULL ? NULL :
			moa2_strdup_printf("%s/%s.%s", dir, p->cfg->name, suffix),
		.cache_min = p->cfg->jwks_cache_min, .cache_max = p->cfg->jwks_cache_max,
		.retry_interval = p->cfg->jwks_refetch_interval,
		.stale_max = p->cfg->jwks_stale_max, .stale_max_name = "jwks_stale_max",
	};
}

static void
doc_settings_free(struct moa2_remote_doc_settings *set)
{
	free((char *)set->owner);
	free((char *)set->cache_path);
}

static struct moa2_oidc_discovery *
discovery_create(struct moa2_provider *p)
{
	struct moa2_oidc_discovery_settings set = {
		.issuer = p->cfg->issuer,
		.allow_http_loopback = p->verifier->cfg->allow_http_loopback,
	};
	struct moa2_oidc_discovery *d;

	doc_settings(p, p->cfg->discovery_url, "discovery.json", &set.doc);
	d = moa2_oidc_discovery_create(&set, p->verifier->http, &p->verifier->logger);
	doc_settings_free(&set.doc);
	return d;
}

static void
adopt_endpoint(char **slot, const char *url)
{
	if (*slot == NULL)
		*slot = moa2_strdup(url);
}

int
moa2_provider_discover(struct moa2_provider *p, unsigned int flags, const char **error_r)
{
	const struct moa2_oidc_endpoints *ep;
	int ret;

	if (!p->cfg->discovery)
		return 0;
	if (p->discovery == NULL)
		p->discovery = discovery_create(p);
	ret = moa2_oidc_discovery_get(p->discovery, moa2_verifier_now(p->verifier), flags,
				      &ep, error_r);
	if (ret <= 0)
		return ret;
	/* a new copy: take the endpoints the config did not set */
	adopt_endpoint(&p->jwks_uri, ep->jwks_uri);
	adopt_endpoint(&p->introspection_url, ep->introspection_endpoint);
	adopt_endpoint(&p->userinfo_url, ep->userinfo_endpoint);
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

static struct moa2_remote_doc *
jwks_doc_create(struct moa2_provider *p)
{
	struct moa2_remote_doc_settings set;
	struct moa2_remote_doc *doc;

	doc_settings(p, p->jwks_uri, "jwks.json", &set);
	set.what = "JWKS";
	set.validate = validate_jwks;
	set.validate_context = p;
	doc = moa2_remote_doc_create(&set, p->verifier->http, &p->verifier->logger);
	doc_settings_free(&set);
	return doc;
}

/* The host's key fetch event (log.h): one per finished HTTP fetch of the
   JWKS, reported by the first call after it (a background refresh ends
   after the login that started it). */
static void
key_fetch_event(const struct moa2_provider *p)
{
	unsigned long long usecs;
	struct moa2_event event;
	bool failed;

	if (!moa2_remote_doc_fetch_report(p->jwks_doc, &failed, &usecs))
		return;
	moa2_event_init(&event, MOA2_EVENT_KEY_FETCH_FINISHED);
	moa2_event_add_str(&event, "provider", p->cfg->name);
	moa2_event_add_str(&event, "result", failed ? "failed" : "ok");
	moa2_event_add_int(&event, "duration_usecs", (long long)usecs);
	snprintf(event.text, sizeof(event.text), "provider %s: key set fetch "
		 "%s in %llu us", p->cfg->name, failed ? "failed" : "ok", usecs);
	moa2_log_event(&p->verifier->logger, &event);
}

int
moa2_provider_keys(struct moa2_provider *p, unsigned int flags,
		   const struct moa2_jwks **remote_r, const char **error_r)
{
	const char *body;
	size_t len;
	int ret;

	*remote_r = NULL;
	if (p->cfg->jwks_file != NULL)
		return 0;
	if (moa2_provider_discover(p, 0, error_r) < 0)
		return -1;
	if (p->jwks_uri == NULL) {
		if (p->cfg->discovery) {
			*error_r = "the discovery document has no usable jwks_uri";
			return -1;
		}
		return 0; /* HMAC secret only */
	}
	if (p->jwks_doc == NULL)
		p->jwks_doc = jwks_doc_create(p);
	ret = moa2_remote_doc_get(p->jwks_doc, moa2_verifier_now(p->verifier), flags,
				  &body, &len, error_r);
	key_fetch_event(p);
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
moa2_provider_jwks_fetch_count(const struct moa2_provider *p)
{
	return p->jwks_doc != NULL ? moa2_remote_doc_fetch_count(p->jwks_doc) : 0;
}

/* ------------------------------------------------ `mail-oauth2 discover` */

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
report_discovery(struct moa2_provider *p, char *buf, size_t size)
{
	const char *error = "";

	if (!p->cfg->discovery)
		return true;
	/* fetch now, whatever the caches hold: this is the admin's live check */
	if (moa2_provider_discover(p, MOA2_REMOTE_DOC_REFRESH | MOA2_REMOTE_DOC_LIVE, &error) < 0 ||
	    moa2_oidc_discovery_last_fetch_failed(p->discovery)) {
		append(buf, size, "  discovery: %s: FAILED%s%s\n", p->cfg->discovery_url,
		       p->jwks_uri != NULL ? " (using the cached copy)" : ": ",
		       p->jwks_uri != NULL ? "" : error);
		return false;
	}
	append(buf, size, "  discovery: %s: ok\n", p->cfg->discovery_url);
	return true;
}

static bool
report_keys(struct moa2_provider *p, char *buf, size_t size)
{
	const struct moa2_jwks *remote;
	const char *error = "";

	if (p->cfg->mode != MOA2_VERIFY_MODE_JWT && p->cfg->mode != MOA2_VERIFY_MODE_AUTO)
		return true;
	describe_keys(p->local_keys, "local", buf, size);
	if (moa2_provider_keys(p, MOA2_REMOTE_DOC_REFRESH | MOA2_REMOTE_DOC_LIVE,
			       &remote, &error) < 0) {
		append(buf, size, "  keys: FAILED: %s\n", error);
		return false;
	}
	if (p->jwks_doc != NULL && moa2_remote_doc_last_fetch_failed(p->jwks_doc)) {
		append(buf, size, "  keys: fetching FAILED, the cached copy has:\n");
		describe_keys(remote, "cached", buf, size);
		return false;
	}
	describe_keys(remote, "fetched", buf, size);
	return true;
}

bool
moa2_provider_report(struct moa2_provider *p, char *buf, size_t size)
{
	char *algs = join_list(&p->cfg->algorithms);
	bool ok;

	append(buf, size, "  mode: %s\n  issuer: %s\n", moa2_verify_mode_name(p->cfg->mode),
	       p->cfg->issuer != NULL ? p->cfg->issuer : "(not checked)");
	ok = report_discovery(p, buf, size);
	append(buf, size, "  jwks_uri: %s\n  introspection: %s\n  userinfo: %s\n",
	       p->jwks_uri != NULL ? p->jwks_uri : "(none)",
	       p->introspection_url != NULL ? p->introspection_url : "(none)",
	       p->userinfo_url != NULL ? p->userinfo_url : "(none)");
	if (p->cfg->tokeninfo_url != NULL)
		append(buf, size, "  tokeninfo: %s\n", p->cfg->tokeninfo_url);
	append(buf, size, "  algorithms allowed: %s\n", algs);
	free(algs);
	return report_keys(p, buf, size) && ok;
}
