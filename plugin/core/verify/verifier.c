/* SPDX-License-Identifier: MIT */
/* The verification engine's router (see verifier.h): set-up, and the
   routing of a token to exactly one provider and its strategy: an
   opaque_token_prefix, else a JWT's iss (whatever the provider's mode),
   else the one provider that takes opaque tokens without a prefix.
   Everything it calls lives below it (verify-engine.h). Failure behaviour:
   a token that no provider can take is rejected (malformed, wrong_issuer,
   too_large); the strategy decides everything else. */
#include "config.h"
#include "verify/verify-engine.h"
#include "verify/verify-provider.h"
#include "verify/verify-result.h"
#include "verify/verify-strategy.h"
#include "verify/result-cache.h"
#include "jose/jose-jws.h"
#include "support/http-client.h"
#include "support/json.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(MOA2_JWS_MAX_LEN == MOA2_VERIFY_MAX_TOKEN,
	       "the JWS parser and the verifier must agree on the size limit");

/* ------------------------------------------------------------- set-up */

static time_t
default_clock(void *context)
{
	(void)context;
	return time(NULL);
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
		if (moa2_provider_init(v, i, error_r) < 0) {
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
		moa2_provider_deinit(&v->providers[i]);
	free(v->providers);
	moa2_result_cache_destroy(&v->results);
	moa2_http_client_destroy(&v->http);
	free(v);
	*_v = NULL;
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
is_jwt_mode(const struct moa2_provider *p)
{
	return p->cfg->mode == MOA2_VERIFY_MODE_JWT || p->cfg->mode == MOA2_VERIFY_MODE_AUTO;
}

static bool
has_jwt_mode(const struct moa2_verifier *v)
{
	for (unsigned int i = 0; i < v->providers_count; i++) {
		if (is_jwt_mode(&v->providers[i]))
			return true;
	}
	return false;
}

/* The provider whose opaque_token_prefix starts the token (the config
   check keeps prefixes apart). */
static struct moa2_provider *
route_by_prefix(struct moa2_verifier *v, const char *token, size_t len)
{
	for (unsigned int i = 0; i < v->providers_count; i++) {
		const struct moa2_config_list *prefixes = &v->providers[i].cfg->opaque_token_prefix;

		for (unsigned int j = 0; j < prefixes->count; j++) {
			size_t plen = strlen(prefixes->items[j]);

			if (len >= plen && memcmp(token, prefixes->items[j], plen) == 0)
				return &v->providers[i];
		}
	}
	return NULL;
}

/* The one provider that takes opaque tokens without a prefix (the config
   allows at most one), or NULL. */
static struct moa2_provider *
opaque_default(struct moa2_verifier *v)
{
	for (unsigned int i = 0; i < v->providers_count; i++) {
		struct moa2_provider *p = &v->providers[i];

		if (p->cfg->opaque_verifier != MOA2_VERIFY_MODE_NONE &&
		    p->cfg->opaque_token_prefix.count == 0)
			return p;
	}
	return NULL;
}

/* A JWT's provider: the one whose issuer is its iss, whatever its mode;
   else a jwt provider with "issuer = none"; else, when no provider checks
   JWTs locally, the opaque default (a JWT is then just a token to ask
   about), unless its issuer says the token is not its own. The iss is not
   verified yet: it only chooses whom to ask, and the chosen provider
   checks it again. */
static struct moa2_provider *
route_by_issuer(struct moa2_verifier *v, const char *iss)
{
	struct moa2_provider *fallback = NULL, *opaque;

	opaque = has_jwt_mode(v) ? NULL : opaque_default(v);
	if (opaque != NULL && opaque->cfg->issuer != NULL)
		opaque = NULL; /* its tokens name it: this one does not */

	for (unsigned int i = 0; i < v->providers_count; i++) {
		struct moa2_provider *p = &v->providers[i];

		if (p->cfg->issuer != NULL && iss != NULL && strcmp(p->cfg->issuer, iss) == 0)
			return p;
		if (fallback == NULL && p->cfg->issuer == NULL && is_jwt_mode(p))
			fallback = p;
	}
	return fallback != NULL ? fallback : opaque;
}

static void
verify_parsed_jwt(struct moa2_verifier *v, const char *token, size_t len,
		  const struct moa2_jws *jws, const char *asserted_user,
		  struct moa2_verify_result *result)
{
	const char *iss = NULL;
	struct moa2_provider *p;
	char buf[128];

	(void)moa2_json_get_string(moa2_jws_payload(jws), "iss", &iss);
	if ((p = route_by_issuer(v, iss)) == NULL)
		moa2_result_reject(result, MOA2_VERIFY_WRONG_ISSUER,
				   "no provider is configured for issuer %s",
				   moa2_printable(iss, buf, sizeof(buf)));
	else if (is_jwt_mode(p))
		moa2_verify_jwt(p, jws, asserted_user, result);
	else
		moa2_verify_opaque(p, token, len, asserted_user, result);
}

/* One provider decides, chosen from the token alone: a prefix, else the
   iss of a JWT, else the opaque default. No token is offered to a second
   provider. */
static void
route(struct moa2_verifier *v, const char *token, size_t len,
      const char *asserted_user, struct moa2_verify_result *result)
{
	enum moa2_verify_reason reason = MOA2_VERIFY_MALFORMED;
	struct moa2_jws *jws = NULL;
	struct moa2_provider *p;
	const char *error = "not a JWT";

	if ((p = route_by_prefix(v, token, len)) != NULL) {
		moa2_verify_opaque(p, token, len, asserted_user, result);
		return;
	}
	if (looks_like_jws(token, len))
		reason = moa2_jws_parse(token, len, MOA2_JWS_FLAG_JWT, &jws, &error);
	if (reason == MOA2_VERIFY_OK) {
		verify_parsed_jwt(v, token, len, jws, asserted_user, result);
		moa2_jws_free(&jws);
	} else if (looks_like_jws(token, len) && has_jwt_mode(v)) {
		moa2_result_reject(result, reason, "%s", error);
	} else if ((p = opaque_default(v)) != NULL) {
		moa2_verify_opaque(p, token, len, asserted_user, result);
	} else {
		moa2_result_reject(result, MOA2_VERIFY_MALFORMED,
				   "the token is not a JWT and no provider verifies opaque "
				   "tokens%s", v->providers_count > 1 ? " without a prefix" : "");
	}
}

void
moa2_verifier_set_host_binding(struct moa2_verifier *v, bool host_binding)
{
	v->host_binding = host_binding;
}

void
moa2_verify_token(struct moa2_verifier *v, const char *token,
		  size_t token_len, const char *asserted_user,
		  struct moa2_verify_result *result_r)
{
	unsigned long long start = moa2_monotonic_usecs();

	memset(result_r, 0, sizeof(*result_r));
	result_r->explain = v->explain;
	if (token_len > MOA2_VERIFY_MAX_TOKEN) {
		moa2_result_reject(result_r, MOA2_VERIFY_TOO_LARGE,
				   "the token has %zu bytes, the limit is %d", token_len,
				   MOA2_VERIFY_MAX_TOKEN);
	} else {
		route(v, token, token_len, asserted_user, result_r);
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
	result_r->duration_usecs = moa2_monotonic_usecs() - start;
}

/* ------------------------------------------------- the providers' state */

int
moa2_verifier_discover(struct moa2_verifier *v, moa2_verifier_report_t *report,
		       void *context)
{
	char buf[8192];
	int ret = 0;

	for (unsigned int i = 0; i < v->providers_count; i++) {
		bool ok;

		buf[0] = '\0';
		ok = moa2_provider_report(&v->providers[i], buf, sizeof(buf));
		report(context, v->providers[i].cfg->name, ok, buf);
		if (!ok)
			ret = -1;
	}
	return ret;
}

unsigned int
moa2_verifier_jwks_fetch_count(const struct moa2_verifier *v)
{
	unsigned int count = 0;

	for (unsigned int i = 0; i < v->providers_count; i++)
		count += moa2_provider_jwks_fetch_count(&v->providers[i]);
	return count;
}
