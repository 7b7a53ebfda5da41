/* SPDX-License-Identifier: MIT */
/* Names and sentences of the verification reason codes. */
#include "config.h"
#include "mail-oauth2/verify-reason.h"

#include <string.h>

struct reason_text {
	const char *name;
	const char *sentence;
};

/* Indexed by enum moa2_verify_reason; the static assert below keeps the
   table and the enum in step. */
static const struct reason_text reason_texts[] = {
	[MOA2_VERIFY_OK] = { "ok",
		"The token is valid." },
	[MOA2_VERIFY_MALFORMED] = { "malformed",
		"The token is not a well-formed JWS/JWT (wrong number of parts, bad base64url or invalid JSON)." },
	[MOA2_VERIFY_ALG_NOT_ALLOWED] = { "alg_not_allowed",
		"The token's signature algorithm is not in the configured allow-list (\"none\" is never accepted)." },
	[MOA2_VERIFY_BAD_SIGNATURE] = { "bad_signature",
		"The token's signature does not verify with the provider's key." },
	[MOA2_VERIFY_UNKNOWN_KEY] = { "unknown_key",
		"No key of the provider's key set matches the token's key id (kid)." },
	[MOA2_VERIFY_KEY_TYPE_MISMATCH] = { "key_type_mismatch",
		"The key selected for the token does not fit its algorithm (key type, curve or the key's own alg differ)." },
	[MOA2_VERIFY_UNSUPPORTED_CRIT] = { "unsupported_crit",
		"The token marks a header parameter as critical (crit) that this server does not understand." },
	[MOA2_VERIFY_EXPIRED] = { "expired",
		"The token has expired (exp is in the past, beyond the allowed leeway)." },
	[MOA2_VERIFY_NOT_YET_VALID] = { "not_yet_valid",
		"The token is not valid yet (nbf is in the future, beyond the allowed leeway)." },
	[MOA2_VERIFY_ISSUED_IN_FUTURE] = { "issued_in_future",
		"The token claims to be issued in the future (iat beyond the allowed leeway); check the clocks." },
	[MOA2_VERIFY_WRONG_ISSUER] = { "wrong_issuer",
		"The token's issuer (iss) is not the configured issuer." },
	[MOA2_VERIFY_WRONG_AUDIENCE] = { "wrong_audience",
		"The token's audience (aud) does not contain a configured audience." },
	[MOA2_VERIFY_INSUFFICIENT_SCOPE] = { "insufficient_scope",
		"The token lacks a required scope." },
	[MOA2_VERIFY_USER_MISMATCH] = { "user_mismatch",
		"The user the client asserted differs from the identity in the token." },
	[MOA2_VERIFY_INACTIVE] = { "inactive",
		"The provider reports the token as not active (revoked, expired or unknown to it)." },
	[MOA2_VERIFY_WRONG_TYPE] = { "wrong_type",
		"The token's type (typ) is not one the configuration accepts." },
	[MOA2_VERIFY_MISSING_CLAIM] = { "missing_claim",
		"A claim the configuration requires is missing from the token." },
	[MOA2_VERIFY_CLAIM_MISMATCH] = { "claim_mismatch",
		"A claim of the token does not have the value the configuration requires." },
	[MOA2_VERIFY_NO_IDENTITY] = { "no_identity",
		"The token names no user: none of the configured username claims is present (or usable), or its only identity is the client itself (a service token, see allow_service_tokens)." },
	[MOA2_VERIFY_TOO_LARGE] = { "too_large",
		"The token is larger than the configured maximum size." },
	[MOA2_VERIFY_UNAVAILABLE] = { "unavailable",
		"The identity provider or its keys could not be reached; the login is refused temporarily, not as a wrong password." },
	[MOA2_VERIFY_BAD_IDENTITY] = { "bad_identity",
		"The token's user name (or the user the client asserted) is not a safe user name: it contains '/', '\\', a '.' or '..' segment, whitespace, a control character or NUL (username_allow widens this)." },
};

_Static_assert(sizeof(reason_texts) / sizeof(reason_texts[0]) ==
	       MOA2_VERIFY_REASON_COUNT,
	       "reason_texts must name every enum moa2_verify_reason");

const char *
moa2_verify_reason_name(enum moa2_verify_reason reason)
{
	if ((unsigned int)reason >= MOA2_VERIFY_REASON_COUNT)
		return "unknown";
	return reason_texts[reason].name;
}

const char *
moa2_verify_reason_sentence(enum moa2_verify_reason reason)
{
	if ((unsigned int)reason >= MOA2_VERIFY_REASON_COUNT)
		return "Unknown verification result.";
	return reason_texts[reason].sentence;
}

int
moa2_verify_reason_from_name(const char *name,
			     enum moa2_verify_reason *reason_r)
{
	for (unsigned int i = 0; i < MOA2_VERIFY_REASON_COUNT; i++) {
		if (strcmp(reason_texts[i].name, name) == 0) {
			*reason_r = (enum moa2_verify_reason)i;
			return 0;
		}
	}
	return -1;
}
