/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_REASON_H
#define MOA2_VERIFY_REASON_H

/* The closed set of verification results. The names are stable: they appear
   in logs, CLI output ("rejected reason=<name>") and tests. Append new
   reasons at the end; never renumber or rename. The JWS layer returns only
   the signature-level ones (ok .. unsupported_crit, too_large); the verifier
   uses the rest. */

#include "mail-oauth2/common.h"

enum moa2_verify_reason {
	MOA2_VERIFY_OK = 0,
	MOA2_VERIFY_MALFORMED,
	MOA2_VERIFY_ALG_NOT_ALLOWED,
	MOA2_VERIFY_BAD_SIGNATURE,
	MOA2_VERIFY_UNKNOWN_KEY,
	MOA2_VERIFY_KEY_TYPE_MISMATCH,
	MOA2_VERIFY_UNSUPPORTED_CRIT,
	MOA2_VERIFY_EXPIRED,
	MOA2_VERIFY_NOT_YET_VALID,
	MOA2_VERIFY_ISSUED_IN_FUTURE,
	MOA2_VERIFY_WRONG_ISSUER,
	MOA2_VERIFY_WRONG_AUDIENCE,
	MOA2_VERIFY_INSUFFICIENT_SCOPE,
	MOA2_VERIFY_USER_MISMATCH,
	MOA2_VERIFY_INACTIVE,
	MOA2_VERIFY_WRONG_TYPE,
	MOA2_VERIFY_MISSING_CLAIM,
	MOA2_VERIFY_CLAIM_MISMATCH,
	MOA2_VERIFY_NO_IDENTITY,
	MOA2_VERIFY_TOO_LARGE,
	/* the provider could not be asked, or its keys are unavailable:
	   the outcome is a temporary failure, never a rejection */
	MOA2_VERIFY_UNAVAILABLE,
	/* the token's identity (or the asserted user) is a name no host may
	   get: '/', '\\', a "." or ".." segment, whitespace, control
	   characters, NUL */
	MOA2_VERIFY_BAD_IDENTITY,

	MOA2_VERIFY_REASON_COUNT
};

/* Stable lowercase name ("bad_signature"); "unknown" for a value outside
   the enum. Never NULL. */
const char *moa2_verify_reason_name(enum moa2_verify_reason reason);
/* One sentence for an administrator explaining the reason. Never NULL. */
const char *moa2_verify_reason_sentence(enum moa2_verify_reason reason);
/* Reverse lookup of a stable name. Returns 0, or -1 if unknown. */
int moa2_verify_reason_from_name(const char *name,
				 enum moa2_verify_reason *reason_r);

#endif
