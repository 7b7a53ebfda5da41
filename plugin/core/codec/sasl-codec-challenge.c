/* SPDX-License-Identifier: MIT */
/* The failure challenge JSON (RFC 7628 §3.2.2, and Google's XOAUTH2 form). */
#include "config.h"
#include "mail-oauth2/sasl-codec.h"
#include "support/json.h"

#include <stdlib.h>
#include <string.h>

char *
moa2_sasl_challenge_build(const struct moa2_sasl_challenge *challenge)
{
	const char *pairs[] = {
		"status", challenge->status,
		"schemes", challenge->schemes,
		"scope", challenge->scope,
		"openid-configuration", challenge->openid_configuration,
		NULL,
	};

	return moa2_json_build_object(pairs);
}

/* Copies an optional string member; members of another type are ignored. */
static char *
dup_member(const struct moa2_json *json, const char *key)
{
	const char *value;

	if (moa2_json_get_string(json, key, &value) <= 0)
		return NULL;
	return strdup(value);
}

int
moa2_sasl_challenge_parse(const void *json, size_t len,
			  struct moa2_sasl_challenge *challenge_r,
			  enum moa2_sasl_error *error_r)
{
	struct moa2_json *doc;
	const char *error;

	memset(challenge_r, 0, sizeof(*challenge_r));
	if (moa2_json_parse(json, len, &doc, &error) < 0 ||
	    !moa2_json_is_object(doc)) {
		moa2_json_free(&doc);
		*error_r = MOA2_SASL_ERR_CHALLENGE_JSON;
		return -1;
	}
	challenge_r->status = dup_member(doc, "status");
	if (challenge_r->status == NULL) {
		moa2_json_free(&doc);
		*error_r = MOA2_SASL_ERR_CHALLENGE_STATUS;
		return -1;
	}
	challenge_r->schemes = dup_member(doc, "schemes");
	challenge_r->scope = dup_member(doc, "scope");
	challenge_r->openid_configuration = dup_member(doc, "openid-configuration");
	moa2_json_free(&doc);
	*error_r = MOA2_SASL_OK;
	return 0;
}

void
moa2_sasl_challenge_clear(struct moa2_sasl_challenge *challenge)
{
	free(challenge->status);
	free(challenge->schemes);
	free(challenge->scope);
	free(challenge->openid_configuration);
	memset(challenge, 0, sizeof(*challenge));
}
