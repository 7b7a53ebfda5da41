/* SPDX-License-Identifier: MIT */
/* Opaque tokens: ask the provider (RFC 7662 introspection, OIDC userinfo,
   Google-style tokeninfo), then apply the same claims policy. Results are
   cached by the token's SHA-256, never past exp; rejections briefly;
   temporary failures never. */
#include "config.h"
#include "verify/verify-strategy.h"
#include "verify/verify-claims.h"
#include "verify/verify-provider.h"
#include "verify/verify-result.h"
#include "support/http-client.h"
#include "support/json.h"
#include "support/url.h"
#include "verify/result-cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The provider's answer as claims, or a result already decided. */
static int
parse_answer(const struct moa2_provider *p, const struct moa2_http_response *resp,
	     const char *what, struct moa2_json **claims_r,
	     struct moa2_verify_result *result)
{
	const char *error;

	if (moa2_json_parse(resp->body, resp->body_len, claims_r, &error) < 0 ||
	    !moa2_json_is_object(*claims_r)) {
		moa2_json_free(claims_r);
		moa2_result_tempfail(result, "provider %s: the %s answer is not a JSON object",
				p->cfg->name, what);
		return -1;
	}
	return 0;
}

static int
ask_introspection(struct moa2_provider *p, const char *token,
		  struct moa2_http_response *resp, const char **error_r)
{
	struct moa2_http_form_field fields[4] = {
		{ "token", token },
		{ "token_type_hint", "access_token" },
	};
	struct moa2_http_basic_auth auth = { p->cfg->client_id, p->cfg->client_secret };
	size_t count = 2;

	if (p->cfg->client_auth == MOA2_CLIENT_AUTH_POST) {
		fields[count++] = (struct moa2_http_form_field){ "client_id", p->cfg->client_id };
		fields[count++] = (struct moa2_http_form_field){ "client_secret", p->cfg->client_secret };
	}
	return moa2_http_post_form(p->verifier->http, p->introspection_url, fields, count,
				   p->cfg->client_auth == MOA2_CLIENT_AUTH_BASIC ? &auth : NULL,
				   resp, error_r);
}

static int
ask_tokeninfo(struct moa2_provider *p, const char *token,
	      struct moa2_http_response *resp, const char **error_r)
{
	char *encoded = moa2_url_encode(token), *url;
	int ret;

	if (encoded == NULL)
		abort();
	url = moa2_strdup_printf("%s%caccess_token=%s", p->cfg->tokeninfo_url,
				 strchr(p->cfg->tokeninfo_url, '?') == NULL ? '?' : '&', encoded);
	ret = moa2_http_get(p->verifier->http, url, NULL, resp, error_r);
	moa2_secret_str_free(&url);
	moa2_secret_str_free(&encoded);
	return ret;
}

/* Google's tokeninfo sends exp as a string: make it a number claim. */
static void
fix_tokeninfo_exp(struct moa2_http_response *resp)
{
	char *p = strstr(resp->body, "\"exp\":\""), *end;

	if (p == NULL)
		return;
	p += 6;
	end = p + 1 + strspn(p + 1, "0123456789");
	if (*end != '"' || end == p + 1)
		return;
	/* "exp":"123" -> "exp": 123 with the quotes blanked */
	*p = ' ';
	*end = ' ';
}

/* Asks one provider; returns with result decided (accepted, rejected or
   tempfail). */
static void
ask_provider(struct moa2_provider *p, const char *token, const char *asserted_user,
	     struct moa2_verify_result *result)
{
	enum moa2_verify_mode mode = p->cfg->opaque_verifier;
	struct moa2_http_response resp;
	struct moa2_json *claims = NULL;
	const char *error = NULL, *what = moa2_verify_mode_name(mode);
	unsigned int flags = 0;
	bool active;
	int ret;

	result->provider = p->cfg->name;
	result->scope = p->scope;
	result->openid_configuration = p->cfg->discovery_url;
	if (moa2_provider_discover(p, false, &error) < 0) {
		moa2_result_tempfail(result, "provider %s: discovery failed: %s", p->cfg->name, error);
		return;
	}
	if (mode == MOA2_VERIFY_MODE_INTROSPECTION) {
		if (p->introspection_url == NULL) {
			moa2_result_tempfail(result, "provider %s: no introspection endpoint", p->cfg->name);
			return;
		}
		ret = ask_introspection(p, token, &resp, &error);
	} else if (mode == MOA2_VERIFY_MODE_USERINFO) {
		if (p->userinfo_url == NULL) {
			moa2_result_tempfail(result, "provider %s: no userinfo endpoint", p->cfg->name);
			return;
		}
		ret = moa2_http_get(p->verifier->http, p->userinfo_url, token, &resp, &error);
		flags |= CLAIMS_NO_AUDIENCE;
	} else {
		ret = ask_tokeninfo(p, token, &resp, &error);
		flags |= CLAIMS_AZP_AUDIENCE;
	}
	if (ret < 0) {
		moa2_result_tempfail(result, "provider %s: %s request failed: %s", p->cfg->name, what, error);
	} else if (mode != MOA2_VERIFY_MODE_INTROSPECTION &&
		   (resp.status == 400 || resp.status == 401 || resp.status == 403)) {
		/* userinfo/tokeninfo answer an invalid token with 400/401 */
		moa2_result_reject(result, MOA2_VERIFY_INACTIVE, "the %s endpoint refused the token (HTTP %ld)",
			      what, resp.status);
	} else if (resp.status != 200) {
		moa2_result_tempfail(result, "provider %s: the %s endpoint answered HTTP %ld%s", p->cfg->name,
				what, resp.status, resp.status == 401 ?
				" (check client_id and client_secret)" : "");
	} else {
		if (mode == MOA2_VERIFY_MODE_TOKENINFO)
			fix_tokeninfo_exp(&resp);
		if (parse_answer(p, &resp, what, &claims, result) == 0) {
			if (mode == MOA2_VERIFY_MODE_INTROSPECTION &&
			    ((ret = moa2_json_get_bool(claims, "active", &active)) <= 0 || !active))
				moa2_result_reject(result, MOA2_VERIFY_INACTIVE, "introspection: active is %s",
					      ret == 0 ? "missing" : ret < 0 ? "not a boolean" : "false");
			else if (moa2_verify_claims(p, claims, flags, asserted_user, result) == 0)
				result->outcome = MOA2_OUTCOME_ACCEPTED;
		}
	}
	if (result->outcome != MOA2_OUTCOME_ACCEPTED && error == NULL && ret == 0)
		moa2_log(&p->verifier->logger, MOA2_LOG_DEBUG, "provider %s: %s said %ld",
			 p->cfg->name, what, resp.status);
	moa2_json_free(&claims);
	moa2_http_response_clear(&resp);
}

static void
from_cache(struct moa2_verifier *v, const struct moa2_cached_result *cached,
	   const char *asserted_user, struct moa2_verify_result *result)
{
	const struct moa2_provider *p = &v->providers[cached->provider];

	result->from_cache = true;
	result->provider = p->cfg->name;
	result->scope = p->scope;
	result->openid_configuration = p->cfg->discovery_url;
	result->expires_at = cached->expires_at;
	if (cached->identity == NULL) {
		moa2_result_reject(result, cached->reason, "%s (cached)", cached->detail);
		return;
	}
	moa2_result_check(result, "cached result: identity %s", cached->identity);
	if (moa2_verify_bind_user(p, asserted_user, cached->identity, result) < 0)
		return;
	result->identity = strdup(cached->identity);
	result->outcome = MOA2_OUTCOME_ACCEPTED;
}

static void
store(struct moa2_verifier *v, const unsigned char *key, unsigned int provider,
      const struct moa2_verify_result *result)
{
	struct moa2_cached_result cached = {
		.reason = result->reason, .provider = provider,
		.expires_at = result->expires_at,
	};
	time_t now = moa2_verifier_now(v), until;

	if (result->outcome == MOA2_OUTCOME_TEMPFAIL ||
	    result->reason == MOA2_VERIFY_USER_MISMATCH)
		return; /* a user mismatch says nothing about the token itself */
	if (result->outcome == MOA2_OUTCOME_ACCEPTED) {
		cached.identity = result->identity;
		until = now + v->cfg->opaque_cache_max_ttl;
		if (result->expires_at != 0 && result->expires_at < until)
			until = result->expires_at;
		/* exported claims are not cached: such providers ask each time */
		if (result->claims_count > 0)
			return;
	} else {
		cached.detail = result->detail;
		until = now + v->cfg->opaque_cache_negative_ttl;
	}
	if (until > now)
		moa2_result_cache_store(v->results, key, &cached, until);
}

void
moa2_verify_opaque(struct moa2_verifier *v, const char *token, size_t len,
	      const char *asserted_user, struct moa2_verify_result *result)
{
	unsigned char key[MOA2_RESULT_CACHE_KEY_LEN];
	struct moa2_cached_result cached;
	struct moa2_verify_result attempt;
	bool tempfail = false;

	moa2_result_cache_key(token, len, key);
	if (moa2_result_cache_lookup(v->results, key, moa2_verifier_now(v), &cached) > 0) {
		from_cache(v, &cached, asserted_user, result);
		return;
	}
	/* several opaque providers: the first that accepts wins; an outage
	   of any of them makes a refusal temporary */
	for (unsigned int i = 0; i < v->providers_count; i++) {
		struct moa2_provider *p = &v->providers[i];

		if (p->cfg->opaque_verifier == MOA2_VERIFY_MODE_NONE)
			continue;
		memset(&attempt, 0, sizeof(attempt));
		attempt.explain = result->explain;
		ask_provider(p, token, asserted_user, &attempt);
		store(v, key, p->index, &attempt);
		tempfail = tempfail || attempt.outcome == MOA2_OUTCOME_TEMPFAIL;
		moa2_verify_result_clear(result);
		*result = attempt;
		if (attempt.outcome == MOA2_OUTCOME_ACCEPTED)
			return;
	}
	if (tempfail && result->outcome != MOA2_OUTCOME_TEMPFAIL)
		moa2_result_tempfail(result, "a provider could not be asked, and the others refused the token");
}
