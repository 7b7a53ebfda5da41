/* SPDX-License-Identifier: MIT */
/* The verification result: setting an outcome, the checks of explain mode,
   and messages about untrusted claims. Failure behaviour: none of its own
   (a detail that does not fit is truncated). */
#include "config.h"
#include "verify/verify-result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	free(result->claimed_identity);
	free(result->asserted_identity);
	for (unsigned int i = 0; i < result->claims_count; i++) {
		free(result->claims[i].name);
		free(result->claims[i].value);
	}
	free(result->claims);
	memset(result, 0, sizeof(*result));
}

void
moa2_verify_result_bind_host(struct moa2_verify_result *result,
			     const char *host_identity, const char *host_asserted,
			     const char *host_error)
{
	char buf[128], buf2[128];
	char *identity;

	if (result->outcome != MOA2_OUTCOME_ACCEPTED)
		return;
	if (host_identity == NULL) {
		moa2_result_reject(result, MOA2_VERIFY_NO_IDENTITY,
			"the identity %s is not a valid user name here: %s",
			moa2_printable(result->identity, buf, sizeof(buf)),
			host_error != NULL ? host_error : "refused");
		return;
	}
	if (result->asserted_identity != NULL &&
	    (host_asserted == NULL || strcmp(host_asserted, host_identity) != 0)) {
		moa2_result_reject(result, MOA2_VERIFY_USER_MISMATCH,
			"the client asserted user %s but the token belongs to %s",
			moa2_printable(host_asserted != NULL ? host_asserted :
				       result->asserted_identity, buf, sizeof(buf)),
			moa2_printable(host_identity, buf2, sizeof(buf2)));
		return;
	}
	if ((identity = strdup(host_identity)) == NULL)
		abort();
	free(result->identity);
	result->identity = identity;
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

const char *
moa2_printable(const char *str, char *buf, size_t size)
{
	size_t i = 0;

	if (str == NULL)
		return "(none)";
	for (; str[i] != '\0' && i + 1 < size; i++)
		buf[i] = str[i] >= 0x20 && str[i] < 0x7f ? str[i] : '?';
	buf[i] = '\0';
	if (str[i] != '\0' && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}
