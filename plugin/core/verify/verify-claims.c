/* SPDX-License-Identifier: MIT */
/* Claims policy: time, issuer, audience, scope, required claims, identity
   (refused when it could leave a mail root: bad_identity; or when it names
   the client itself, a service token: no_identity) and user binding.
   Shared by JWT and opaque-token modes. */
#include "config.h"
#include "verify/verify-claims.h"
#include "verify/verify-result.h"
#include "support/json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
check_times(const struct moa2_provider *p, const struct moa2_json *claims,
	    unsigned int flags, struct moa2_verify_result *result)
{
	time_t now = moa2_verifier_now(p->verifier);
	int64_t leeway = p->cfg->leeway, exp, nbf, iat;
	int ret;

	ret = moa2_json_get_numeric_date(claims, "exp", &exp);
	if (ret < 0 || (ret == 0 && (flags & CLAIMS_EXP_REQUIRED) != 0)) {
		moa2_result_reject(result, ret < 0 ? MOA2_VERIFY_MALFORMED : MOA2_VERIFY_MISSING_CLAIM,
			      "the exp claim is %s (a number is required)",
			      ret < 0 ? "not a number" : "missing");
		return -1;
	}
	if (ret > 0) {
		if (now >= exp + leeway) {
			moa2_result_reject(result, MOA2_VERIFY_EXPIRED,
				      "exp %" PRId64 " is %" PRId64 " s in the past (leeway %" PRId64 " s)",
				      exp, (int64_t)now - exp, leeway);
			return -1;
		}
		result->expires_at = (time_t)exp;
		moa2_result_check(result, "exp: %" PRId64 " (expires in %" PRId64 " s)", exp, exp - (int64_t)now);
	}
	if ((ret = moa2_json_get_numeric_date(claims, "nbf", &nbf)) != 0) {
		if (ret < 0 || now + leeway < nbf) {
			moa2_result_reject(result, ret < 0 ? MOA2_VERIFY_MALFORMED : MOA2_VERIFY_NOT_YET_VALID,
				      "nbf %" PRId64 " is %" PRId64 " s in the future (leeway %" PRId64 " s)",
				      nbf, nbf - (int64_t)now, leeway);
			return -1;
		}
		moa2_result_check(result, "nbf: %" PRId64 " (passed)", nbf);
	}
	if ((ret = moa2_json_get_numeric_date(claims, "iat", &iat)) != 0) {
		if (ret < 0 || now + leeway < iat) {
			moa2_result_reject(result, ret < 0 ? MOA2_VERIFY_MALFORMED : MOA2_VERIFY_ISSUED_IN_FUTURE,
				      "iat %" PRId64 " is %" PRId64 " s in the future (leeway %" PRId64 " s)",
				      iat, iat - (int64_t)now, leeway);
			return -1;
		}
		if (p->cfg->max_token_age > 0 && now - iat > (int64_t)p->cfg->max_token_age) {
			moa2_result_reject(result, MOA2_VERIFY_EXPIRED,
				      "iat %" PRId64 " is older than max_token_age (%u s)",
				      iat, p->cfg->max_token_age);
			return -1;
		}
		moa2_result_check(result, "iat: %" PRId64, iat);
	}
	return 0;
}

static int
check_issuer(const struct moa2_provider *p, const struct moa2_json *claims,
	     unsigned int flags, struct moa2_verify_result *result)
{
	const char *iss;
	char buf[128];
	int ret;

	if (!(p->cfg->issuer != NULL))
		return 0;
	ret = moa2_json_get_string(claims, "iss", &iss);
	if (ret == 0 && (flags & CLAIMS_ISS_REQUIRED) == 0)
		return 0;
	if (ret <= 0 || strcmp(iss, p->cfg->issuer) != 0) {
		moa2_result_reject(result, MOA2_VERIFY_WRONG_ISSUER,
			      "iss is %s, expected exactly %s",
			      ret <= 0 ? "missing or not a string" : moa2_printable(iss, buf, sizeof(buf)),
			      p->cfg->issuer);
		return -1;
	}
	moa2_result_check(result, "iss: %s", iss);
	return 0;
}

static bool
list_contains(const struct moa2_config_list *list, const char *value)
{
	for (unsigned int i = 0; i < list->count; i++) {
		if (strcmp(list->items[i], value) == 0)
			return true;
	}
	return false;
}

/* Finds a configured audience in claim (a string or an array of strings). */
static const char *
audience_match(const struct moa2_config_list *audiences,
	       const struct moa2_json *claim)
{
	const char *value = claim == NULL ? NULL : moa2_json_string(claim);

	if (value != NULL)
		return list_contains(audiences, value) ? value : NULL;
	for (size_t i = 0; i < moa2_json_array_len(claim); i++) {
		value = moa2_json_string(moa2_json_array_get(claim, i));
		if (value != NULL && list_contains(audiences, value))
			return value;
	}
	return NULL;
}

/* Appends text to buf (truncated with "..." when it does not fit). */
static void
append_text(char *buf, size_t size, const char *text)
{
	size_t used = strlen(buf), len = strlen(text);

	if (used + len + 1 <= size) {
		memcpy(buf + used, text, len + 1);
	} else if (size > 4 && used < size - 4) {
		memcpy(buf + used, text, size - 4 - used);
		strcpy(buf + size - 4, "...");
	}
}

/* The token's aud values for a message: ("a", "b"), "is missing", ... */
static void
audience_text(const struct moa2_json *aud, char *buf, size_t size)
{
	char item[128];

	buf[0] = '\0';
	if (aud == NULL) {
		append_text(buf, size, "(missing)");
		return;
	}
	if (moa2_json_string(aud) != NULL) {
		append_text(buf, size, moa2_printable(moa2_json_string(aud), item, sizeof(item)));
		return;
	}
	if (!moa2_json_is_array(aud)) {
		append_text(buf, size, "(not a string or an array)");
		return;
	}
	append_text(buf, size, "[");
	for (size_t i = 0; i < moa2_json_array_len(aud); i++) {
		const char *value = moa2_json_string(moa2_json_array_get(aud, i));

		if (i > 0)
			append_text(buf, size, ", ");
		append_text(buf, size, value == NULL ? "(not a string)" :
			    moa2_printable(value, item, sizeof(item)));
	}
	append_text(buf, size, "]");
}

static void
list_text(const struct moa2_config_list *list, char *buf, size_t size)
{
	buf[0] = '\0';
	for (unsigned int i = 0; i < list->count; i++) {
		if (i > 0)
			append_text(buf, size, ", ");
		append_text(buf, size, list->items[i]);
	}
}

static int
check_audience(const struct moa2_provider *p, const struct moa2_json *claims,
	       unsigned int flags, struct moa2_verify_result *result)
{
	const struct moa2_json *aud = NULL, *azp = NULL;
	const char *match;

	if (!p->cfg->audience_check || (flags & CLAIMS_NO_AUDIENCE) != 0)
		return 0;
	(void)moa2_json_get(claims, "aud", &aud);
	match = audience_match(&p->cfg->audience, aud);
	if (match == NULL && (flags & CLAIMS_AZP_AUDIENCE) != 0) {
		(void)moa2_json_get(claims, "azp", &azp);
		match = audience_match(&p->cfg->audience, azp);
	}
	if (match == NULL) {
		char have[256], want[256];

		audience_text(aud, have, sizeof(have));
		list_text(&p->cfg->audience, want, sizeof(want));
		moa2_result_reject(result, MOA2_VERIFY_WRONG_AUDIENCE,
				   "aud %s contains none of the configured audience (%s)",
				   have, want);
		return -1;
	}
	moa2_result_check(result, "aud: contains %s", match);
	return 0;
}

/* Does the scope claim (space-separated string or array) grant scope? */
static bool
claim_has_scope(const struct moa2_json *claim, const char *scope)
{
	const char *str = moa2_json_string(claim);
	size_t len = strlen(scope);

	if (str != NULL) {
		for (const char *p = str; *p != '\0'; ) {
			size_t n = strcspn(p, " ");

			if (n == len && memcmp(p, scope, len) == 0)
				return true;
			p += n;
			p += strspn(p, " ");
		}
		return false;
	}
	for (size_t i = 0; i < moa2_json_array_len(claim); i++) {
		str = moa2_json_string(moa2_json_array_get(claim, i));
		if (str != NULL && strcmp(str, scope) == 0)
			return true;
	}
	return false;
}

static int
check_scopes(const struct moa2_provider *p, const struct moa2_json *claims,
	     struct moa2_verify_result *result)
{
	for (unsigned int i = 0; i < p->cfg->required_scopes.count; i++) {
		const char *scope = p->cfg->required_scopes.items[i];
		bool found = false;

		for (unsigned int c = 0; c < p->cfg->scope_claims.count && !found; c++) {
			const struct moa2_json *claim;

			if (moa2_json_get(claims, p->cfg->scope_claims.items[c], &claim) > 0)
				found = claim_has_scope(claim, scope);
		}
		if (!found) {
			moa2_result_reject(result, MOA2_VERIFY_INSUFFICIENT_SCOPE,
				      "the token does not grant the required scope %s", scope);
			return -1;
		}
	}
	if (p->cfg->required_scopes.count > 0)
		moa2_result_check(result, "scope: grants %s", p->scope);
	return 0;
}

/* A required claim matches when its text equals the value, or for an
   array when one of its scalar members does. */
static bool
claim_value_matches(const struct moa2_json *claim, const char *value)
{
	const char *text = moa2_json_scalar_text(claim);

	if (text != NULL)
		return strcmp(text, value) == 0;
	for (size_t i = 0; i < moa2_json_array_len(claim); i++) {
		text = moa2_json_scalar_text(moa2_json_array_get(claim, i));
		if (text != NULL && strcmp(text, value) == 0)
			return true;
	}
	return false;
}

static int
check_required_claims(const struct moa2_provider *p, const struct moa2_json *claims,
		      struct moa2_verify_result *result)
{
	for (unsigned int i = 0; i < p->cfg->required_claims_count; i++) {
		const struct moa2_required_claim *req = &p->cfg->required_claims[i];
		const struct moa2_json *claim;

		if (moa2_json_get(claims, req->name, &claim) == 0) {
			moa2_result_reject(result, MOA2_VERIFY_MISSING_CLAIM,
				      "the required claim %s is missing (expected %s)",
				      req->name, req->value);
			return -1;
		}
		if (!claim_value_matches(claim, req->value)) {
			moa2_result_reject(result, MOA2_VERIFY_CLAIM_MISMATCH,
				      "the claim %s does not have the required value %s",
				      req->name, req->value);
			return -1;
		}
		moa2_result_check(result, "%s: %s (required)", req->name, req->value);
	}
	return 0;
}

/* A client_credentials token (RFC 9068 §2.2) names the client, not a
   user: its identity equals its client_id or azp claim, or is Keycloak's
   service-account-CLIENT user, or Entra ID marks it (idtyp "app"). */
static bool
is_client_identity(const struct moa2_json *claims, const char *claim,
		   const char *identity)
{
	static const char *const client_claims[] = { "client_id", "azp", NULL };
	static const char keycloak_prefix[] = "service-account-";
	const char *raw, *idtyp;

	if (moa2_json_get_string(claims, "idtyp", &idtyp) > 0 && strcmp(idtyp, "app") == 0)
		return true;
	if (moa2_json_get_string(claims, claim, &raw) <= 0)
		return false;
	for (const char *const *c = client_claims; *c != NULL; c++) {
		const char *client;

		if (moa2_json_get_string(claims, *c, &client) <= 0)
			continue;
		if (strcmp(client, raw) == 0 || strcmp(client, identity) == 0)
			return true;
		if (strncmp(raw, keycloak_prefix, sizeof(keycloak_prefix) - 1) == 0 &&
		    strcmp(raw + sizeof(keycloak_prefix) - 1, client) == 0)
			return true;
	}
	return false;
}

/* Host binding: the asserted user is only normalised (and checked) into
   result->asserted_identity; the host compares it with the identity after
   its own user name rules. */
static int
bind_user_by_host(const struct moa2_provider *p, const char *asserted_user,
		  const char *identity, struct moa2_verify_result *result)
{
	const char *why = "";
	char buf[128];

	switch (moa2_identity_normalize(asserted_user, strlen(asserted_user), &p->rules,
					&result->asserted_identity, &why)) {
	case MOA2_IDENTITY_OK:
		moa2_result_check(result, "user binding: after the host's user name rules");
		return 0;
	case MOA2_IDENTITY_BAD:
		moa2_result_reject(result, MOA2_VERIFY_BAD_IDENTITY,
				   "the client asserted user %s, which is refused: %s",
				   moa2_printable(asserted_user, buf, sizeof(buf)), why);
		return -1;
	default:
		moa2_result_reject(result, MOA2_VERIFY_USER_MISMATCH,
				   "the client asserted user %s but the token belongs to %s",
				   moa2_printable(asserted_user, buf, sizeof(buf)), identity);
		return -1;
	}
}

int
moa2_verify_bind_user(const struct moa2_provider *p, const char *asserted_user,
		      const char *identity, struct moa2_verify_result *result)
{
	const char *why;
	char buf[128];
	bool equal;

	if (asserted_user == NULL)
		return 0;
	if (p->verifier->host_binding)
		return bind_user_by_host(p, asserted_user, identity, result);
	if (moa2_identity_matches(asserted_user, identity, &p->rules, &equal, &why) ==
	    MOA2_IDENTITY_BAD) {
		moa2_result_reject(result, MOA2_VERIFY_BAD_IDENTITY,
				   "the client asserted user %s, which is refused: %s",
				   moa2_printable(asserted_user, buf, sizeof(buf)), why);
		return -1;
	}
	if (!equal) {
		moa2_result_reject(result, MOA2_VERIFY_USER_MISMATCH,
				   "the client asserted user %s but the token belongs to %s",
				   moa2_printable(asserted_user, buf, sizeof(buf)), identity);
		return -1;
	}
	moa2_result_check(result, "user binding: the asserted user matches");
	return 0;
}

static int
check_identity(const struct moa2_provider *p, const struct moa2_json *claims,
	       const char *asserted_user, struct moa2_verify_result *result)
{
	const char *claim, *why;
	char buf[128];

	switch (moa2_identity_from_claims(claims, &p->rules, &result->identity, &claim, &why)) {
	case MOA2_IDENTITY_OK:
		break;
	case MOA2_IDENTITY_ABSENT:
		if (claim == NULL)
			moa2_result_reject(result, MOA2_VERIFY_NO_IDENTITY,
					   "none of the username claims (%s...) is present",
					   p->rules.claims[0]);
		else
			moa2_result_reject(result, MOA2_VERIFY_NO_IDENTITY,
					   "the username claim %s is empty", claim);
		return -1;
	case MOA2_IDENTITY_NOT_STRING:
		moa2_result_reject(result, MOA2_VERIFY_NO_IDENTITY,
				   "the username claim %s is not a string", claim);
		return -1;
	case MOA2_IDENTITY_BAD: {
		const char *raw = NULL;
		const struct moa2_json *value;

		if (moa2_json_get(claims, claim, &value) > 0)
			raw = moa2_json_string(value);
		moa2_result_reject(result, MOA2_VERIFY_BAD_IDENTITY,
				   "the username claim %s (%s) is refused as a user name: %s",
				   claim, moa2_printable(raw, buf, sizeof(buf)), why);
		return -1;
	}
	}
	if (!p->cfg->allow_service_tokens && is_client_identity(claims, claim, result->identity)) {
		moa2_result_reject(result, MOA2_VERIFY_NO_IDENTITY,
				   "the username claim %s (%s) names the client itself, not a user: "
				   "a service token (allow_service_tokens = yes accepts it)",
				   claim, result->identity);
		return -1;
	}
	moa2_result_check(result, "identity: %s (from %s)", result->identity, claim);
	/* a rejection frees the identity (verify-result.h) */
	return moa2_verify_bind_user(p, asserted_user, result->identity, result);
}

void
moa2_verify_read_identity(const struct moa2_provider *p,
			  const struct moa2_json *claims,
			  struct moa2_verify_result *result)
{
	const char *claim, *why;

	if (result->claimed_identity != NULL || !moa2_json_is_object(claims))
		return;
	if (moa2_identity_from_claims(claims, &p->rules, &result->claimed_identity,
				      &claim, &why) != MOA2_IDENTITY_OK)
		result->claimed_identity = NULL;
}

static char *
claim_export_text(const struct moa2_json *claim)
{
	const char *text = moa2_json_scalar_text(claim);
	size_t total = 0, n = moa2_json_array_len(claim);
	char *out;

	if (text != NULL)
		return strdup(text);
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		text = moa2_json_scalar_text(moa2_json_array_get(claim, i));
		total += text == NULL ? 0 : strlen(text) + 1;
	}
	if ((out = calloc(1, total + 1)) == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		text = moa2_json_scalar_text(moa2_json_array_get(claim, i));
		if (text == NULL)
			continue;
		if (out[0] != '\0')
			strcat(out, " ");
		strcat(out, text);
	}
	return out;
}

static void
export_claims(const struct moa2_provider *p, const struct moa2_json *claims,
	      struct moa2_verify_result *result)
{
	const struct moa2_config_list *names = &p->cfg->claims_export;

	if (names->count == 0)
		return;
	result->claims = calloc(names->count, sizeof(*result->claims));
	if (result->claims == NULL)
		abort();
	for (unsigned int i = 0; i < names->count; i++) {
		const struct moa2_json *claim;
		char *value;

		if (moa2_json_get(claims, names->items[i], &claim) == 0 ||
		    (value = claim_export_text(claim)) == NULL)
			continue;
		result->claims[result->claims_count].name = strdup(names->items[i]);
		result->claims[result->claims_count++].value = value;
	}
}

int
moa2_verify_claims(const struct moa2_provider *p, const struct moa2_json *claims,
	      unsigned int flags, const char *asserted_user,
	      struct moa2_verify_result *result)
{
	moa2_verify_read_identity(p, claims, result);
	if (!moa2_json_is_object(claims)) {
		moa2_result_reject(result, MOA2_VERIFY_MALFORMED, "the claims are not a JSON object");
		return -1;
	}
	if (check_times(p, claims, flags, result) < 0 ||
	    check_issuer(p, claims, flags, result) < 0 ||
	    check_audience(p, claims, flags, result) < 0 ||
	    check_scopes(p, claims, result) < 0 ||
	    check_required_claims(p, claims, result) < 0 ||
	    check_identity(p, claims, asserted_user, result) < 0)
		return -1;
	export_claims(p, claims, result);
	return 0;
}
