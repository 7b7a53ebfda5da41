/* SPDX-License-Identifier: MIT */
/* JWT mode: a JWT the router gave to this provider (by its iss): verify the
   signature with the provider's keys (refetching once per interval for an
   unknown kid), its type (an ID token is not an access token), then the
   claims. */
#include "config.h"
#include "verify/verify-strategy.h"
#include "verify/verify-claims.h"
#include "verify/verify-provider.h"
#include "verify/verify-result.h"
#include "jose/jose-jwk.h"
#include "jose/jose-jws.h"
#include "support/json.h"
#include "support/remote-doc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* typ "JWT", "at+jwt" and "application/at+jwt" compare case-insensitively,
   with or without the "application/" prefix (RFC 7515 §4.1.9). */
static bool
typ_equal(const char *a, const char *b)
{
	if (strncasecmp(a, "application/", 12) == 0)
		a += 12;
	if (strncasecmp(b, "application/", 12) == 0)
		b += 12;
	return strcasecmp(a, b) == 0;
}

static int
check_typ(const struct moa2_provider *p, const struct moa2_jws *jws,
	  struct moa2_verify_result *result)
{
	const char *typ = moa2_jws_typ(jws);
	char buf[64];

	if (typ == NULL) {
		if (!p->cfg->typ_required)
			return 0;
		moa2_result_reject(result, MOA2_VERIFY_WRONG_TYPE, "the token has no typ header (typ_required = yes)");
		return -1;
	}
	for (unsigned int i = 0; i < p->cfg->typ.count; i++) {
		if (typ_equal(typ, p->cfg->typ.items[i])) {
			moa2_result_check(result, "typ: %s", p->cfg->typ.items[i]);
			return 0;
		}
	}
	moa2_result_reject(result, MOA2_VERIFY_WRONG_TYPE, "typ %s is not one of the accepted types (%s ...)",
		      moa2_printable(typ, buf, sizeof(buf)), p->cfg->typ.count > 0 ? p->cfg->typ.items[0] : "none");
	return -1;
}

/* An OpenID Connect ID token proves a login to a client, it grants
   nothing: unless the provider accepts them (accept_id_tokens), a token
   that is not typed as an access token (RFC 9068 at+jwt) and carries a
   claim only ID tokens have (nonce, at_hash, c_hash, s_hash; Keycloak's
   "typ": "ID") is refused. */
static int
check_not_id_token(const struct moa2_provider *p, const struct moa2_jws *jws,
		   struct moa2_verify_result *result)
{
	static const char *const id_claims[] = { "nonce", "at_hash", "c_hash", "s_hash", NULL };
	const struct moa2_json *claims = moa2_jws_payload(jws), *value;
	const char *typ = moa2_jws_typ(jws), *claim_typ;

	if (p->cfg->accept_id_tokens || (typ != NULL && typ_equal(typ, "at+jwt")))
		return 0;
	for (const char *const *c = id_claims; *c != NULL; c++) {
		if (moa2_json_get(claims, *c, &value) > 0) {
			moa2_result_reject(result, MOA2_VERIFY_WRONG_TYPE,
					   "an OpenID Connect ID token (it has %s), not an access "
					   "token (accept_id_tokens = yes accepts it)", *c);
			return -1;
		}
	}
	if (moa2_json_get_string(claims, "typ", &claim_typ) > 0 &&
	    strcasecmp(claim_typ, "ID") == 0) {
		moa2_result_reject(result, MOA2_VERIFY_WRONG_TYPE,
				   "an OpenID Connect ID token (its typ claim is ID), not an "
				   "access token (accept_id_tokens = yes accepts it)");
		return -1;
	}
	return 0;
}

/* Verifies against local keys (jwks_file, hmac_secret) and the fetched
   set. An unknown kid triggers one refetch, subject to the interval. */
static enum moa2_verify_reason
verify_signature(struct moa2_provider *p, const struct moa2_jws *jws,
		 struct moa2_verify_result *result)
{
	const struct moa2_jwks *remote;
	const struct moa2_jwk *key;
	enum moa2_verify_reason reason = MOA2_VERIFY_UNKNOWN_KEY;
	const char *error = NULL;

	if (p->local_keys != NULL) {
		reason = moa2_jws_verify(jws, p->local_keys, p->alg_mask, &key, &error);
		if (reason != MOA2_VERIFY_UNKNOWN_KEY && reason != MOA2_VERIFY_KEY_TYPE_MISMATCH)
			goto done;
	}
	if (moa2_provider_keys(p, 0, &remote, &error) < 0) {
		moa2_result_tempfail(result, "provider %s: no usable key set: %s", p->cfg->name, error);
		return MOA2_VERIFY_UNAVAILABLE;
	}
	if (remote == NULL)
		goto done;
	reason = moa2_jws_verify(jws, remote, p->alg_mask, &key, &error);
	if (reason == MOA2_VERIFY_UNKNOWN_KEY) {
		if (moa2_provider_keys(p, MOA2_REMOTE_DOC_REFRESH, &remote, &error) < 0 ||
		    (moa2_remote_doc_last_fetch_failed(p->jwks_doc) &&
		     moa2_jws_verify(jws, remote, p->alg_mask, &key, &error) == MOA2_VERIFY_UNKNOWN_KEY)) {
			/* the key may exist: we just cannot ask */
			moa2_result_tempfail(result, "provider %s: key %s is not in the cached key set and the "
					"key set cannot be fetched now", p->cfg->name,
					moa2_jws_kid(jws) != NULL ? moa2_jws_kid(jws) : "(no kid)");
			return MOA2_VERIFY_UNAVAILABLE;
		}
		reason = moa2_jws_verify(jws, remote, p->alg_mask, &key, &error);
	}
done:
	if (reason == MOA2_VERIFY_OK) {
		moa2_result_check(result, "signature: %s, key %s", moa2_jose_alg_name(moa2_jws_alg(jws)),
			     moa2_jwk_kid(key) != NULL ? moa2_jwk_kid(key) : "(no kid)");
	} else {
		char buf[80];

		moa2_result_reject(result, reason, "%s (alg %s, kid %s)",
			      error != NULL ? error : moa2_verify_reason_sentence(reason),
			      moa2_jose_alg_name(moa2_jws_alg(jws)),
			      moa2_printable(moa2_jws_kid(jws), buf, sizeof(buf)));
	}
	return reason;
}

void
moa2_verify_jwt(struct moa2_provider *p, const struct moa2_jws *jws,
		const char *asserted_user, struct moa2_verify_result *result)
{
	result->provider = p->cfg->name;
	result->scope = p->scope;
	result->openid_configuration = p->cfg->discovery_url;
	/* for the log of a rejection: read before the signature */
	moa2_verify_read_identity(p, moa2_jws_payload(jws), result);
	if (verify_signature(p, jws, result) == MOA2_VERIFY_OK &&
	    check_typ(p, jws, result) == 0 &&
	    check_not_id_token(p, jws, result) == 0 &&
	    moa2_verify_claims(p, moa2_jws_payload(jws), CLAIMS_EXP_REQUIRED |
			       ((p->cfg->issuer != NULL) ? CLAIMS_ISS_REQUIRED : 0),
			       asserted_user, result) == 0)
		result->outcome = MOA2_OUTCOME_ACCEPTED;
}
