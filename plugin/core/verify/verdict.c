/* SPDX-License-Identifier: MIT */
/* The failure challenge and the log lines of a verdict (verdict.h): the
   one place that decides what a client and an administrator are told.
   Failure behaviour: no error return; an allocation failure aborts. */
#include "config.h"
#include "mail-oauth2/verdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------ challenge */

static bool
reason_takes_challenge(enum moa2_verify_reason reason)
{
	return reason != MOA2_VERIFY_OK && reason != MOA2_VERIFY_UNAVAILABLE;
}

static const char *
nonempty(const char *str)
{
	return str != NULL && *str != '\0' ? str : NULL;
}

char *
moa2_verdict_challenge(enum moa2_sasl_mech mech,
		       enum moa2_verify_reason reason, const char *scope,
		       const char *openid_configuration)
{
	bool scope_problem = reason == MOA2_VERIFY_INSUFFICIENT_SCOPE;
	struct moa2_sasl_challenge challenge = {
		.scope = (char *)nonempty(scope),
		.openid_configuration = (char *)nonempty(openid_configuration),
	};
	char *json;

	if (!reason_takes_challenge(reason))
		return NULL;
	switch (mech) {
	case MOA2_MECH_XOAUTH2:
		challenge.status = (char *)(scope_problem ? "403" : "401");
		challenge.schemes = (char *)"bearer";
		break;
	case MOA2_MECH_OAUTHBEARER:
		challenge.status = (char *)(scope_problem ? "insufficient_scope" :
					    "invalid_token");
		break;
	case MOA2_MECH_UNKNOWN:
	default:
		return NULL;
	}
	if ((json = moa2_sasl_challenge_build(&challenge)) == NULL)
		abort();
	return json;
}

char *
moa2_verdict_result_challenge(enum moa2_sasl_mech mech,
			      const struct moa2_verify_result *result)
{
	if (result->outcome != MOA2_OUTCOME_REJECTED)
		return NULL;
	return moa2_verdict_challenge(mech, result->reason, result->scope,
				      result->openid_configuration);
}

/* ------------------------------------------------------------ log lines */

static void MOA2_ATTR_FORMAT(3, 4)
log_set(struct moa2_verdict_log *log_r, enum moa2_log_level level,
	const char *fmt, ...)
{
	va_list args;

	log_r->level = level;
	va_start(args, fmt);
	vsnprintf(log_r->text, sizeof(log_r->text), fmt, args);
	va_end(args);
}

static const char *
or_dash(const char *str)
{
	return str != NULL && *str != '\0' ? str : "-";
}

void
moa2_verdict_log_result(const struct moa2_verify_result *result,
			const char *mech, time_t now,
			struct moa2_verdict_log *log_r)
{
	const char *sep = mech != NULL ? " " : "";
	bool rejected = result->outcome == MOA2_OUTCOME_REJECTED;

	if (mech == NULL)
		mech = "";
	if (result->outcome == MOA2_OUTCOME_ACCEPTED) {
		log_set(log_r, MOA2_LOG_DEBUG, "%s%saccepted user=%s provider=%s "
			"token=sha256:%s expires_in=%llds%s", mech, sep,
			or_dash(result->identity), or_dash(result->provider),
			or_dash(result->fingerprint),
			result->expires_at == 0 ? 0LL :
			(long long)(result->expires_at - now),
			result->from_cache ? " (cached)" : "");
		return;
	}
	/* a rejection is the user's doing, a temporary failure is ours */
	log_set(log_r, rejected ? MOA2_LOG_INFO : MOA2_LOG_ERROR,
		"%s%s%s reason=%s token=sha256:%s: %s (provider=%s)", mech, sep,
		rejected ? "rejected" : "temporary failure",
		moa2_verify_reason_name(result->reason),
		or_dash(result->fingerprint), result->detail,
		or_dash(result->provider));
}

void
moa2_verdict_event(const struct moa2_verify_result *result,
		   const char *mechanism, const char *mode,
		   struct moa2_event *event_r)
{
	moa2_event_init(event_r, MOA2_EVENT_VERIFY_FINISHED);
	moa2_event_add_str(event_r, "outcome",
			   moa2_verify_outcome_name(result->outcome));
	moa2_event_add_str(event_r, "reason",
			   moa2_verify_reason_name(result->reason));
	moa2_event_add_str(event_r, "provider", result->provider);
	moa2_event_add_str(event_r, "mode", mode);
	moa2_event_add_str(event_r, "mechanism", mechanism);
	moa2_event_add_int(event_r, "duration_usecs",
			   (long long)result->duration_usecs);
	snprintf(event_r->text, sizeof(event_r->text), "%s: outcome=%s",
		 MOA2_EVENT_VERIFY_FINISHED,
		 moa2_verify_outcome_name(result->outcome));
}

void
moa2_verdict_log_codec_error(enum moa2_sasl_mech mech,
			     enum moa2_sasl_error error,
			     const char *double_base64_option,
			     struct moa2_verdict_log *log_r)
{
	bool double_b64 = error == MOA2_SASL_ERR_DOUBLE_BASE64;

	log_set(log_r, MOA2_LOG_INFO, "%s response refused: %s: %s%s%s",
		moa2_sasl_mech_name(mech), moa2_sasl_error_name(error),
		moa2_sasl_error_sentence(error),
		double_b64 ? "; fix the client, or accept such responses with " : "",
		double_b64 ? or_dash(double_base64_option) : "");
}

void
moa2_verdict_log_double_base64(enum moa2_sasl_mech mech,
			       const char *double_base64_option,
			       struct moa2_verdict_log *log_r)
{
	log_set(log_r, MOA2_LOG_INFO, "%s accepted a doubly base64-encoded "
		"response (%s): %s; fix the client", moa2_sasl_mech_name(mech),
		or_dash(double_base64_option),
		moa2_sasl_error_sentence(MOA2_SASL_ERR_DOUBLE_BASE64));
}

int
moa2_verdict_log_failure_ack(enum moa2_sasl_mech mech, const void *data,
			     size_t len, struct moa2_verdict_log *log_r)
{
	const char *name = moa2_sasl_mech_name(mech);

	if (moa2_sasl_is_failure_ack(mech, data, len))
		return -1;
	if (len == 0) {
		log_set(log_r, MOA2_LOG_DEBUG, "the client answered the %s "
			"failure challenge with an empty response instead of ^A",
			name);
	} else {
		log_set(log_r, MOA2_LOG_INFO, "the client did not acknowledge "
			"the failure challenge as %s requires", name);
	}
	return 0;
}
