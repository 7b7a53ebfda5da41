/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_RESULT_H
#define MOA2_VERIFY_RESULT_H

/* Setting a verification's outcome (the public struct is in verifier.h).
   A failure frees the identity; the detail is a sentence for the admin
   and never holds a token. */

#include "mail-oauth2/verifier.h"

void moa2_result_reject(struct moa2_verify_result *result,
			enum moa2_verify_reason reason, const char *fmt, ...)
	MOA2_ATTR_FORMAT(3, 4);
void moa2_result_tempfail(struct moa2_verify_result *result, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);
/* Adds a line to result->checks (only with explain). */
void moa2_result_check(struct moa2_verify_result *result, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);

/* Copies a claim from an untrusted token for a message: printable ASCII
   only, truncated; "(none)" for NULL. */
const char *moa2_printable(const char *str, char *buf, size_t size);

#endif
