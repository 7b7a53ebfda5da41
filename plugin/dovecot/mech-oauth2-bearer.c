/* SPDX-License-Identifier: MIT */
/* Our XOAUTH2 and OAUTHBEARER (RFC 7628) mechanisms. They replace
   Dovecot's built-ins when the bearer passdb is loaded (unless its args say
   builtin_mechanisms=yes); see dovecot-api-23.c for how. Shared by the
   APIs with struct mech_module (2.3, 2.4.0-2.4.1: dovecot-api.h).

   The client response is parsed by the shared codec (sasl-codec.h), then
   the token goes through Dovecot's passdb chain as the password, as
   Dovecot 2.3 does, so the bearer passdb, the auth-workers, auth policy and
   the penalty all apply. Differences from the built-ins:
   - OAUTHBEARER's authzid is optional (RFC 7628): without it the identity
     comes from the token alone;
   - the failure challenge is the core's (verdict.h: the same JSON as the
     Cyrus plugin's for the same token), with the scope and
     openid-configuration of the provider that judged the token, also when
     the verification ran in an auth-worker;
   - every malformed response is logged at info with the codec's error
     name (the core's line); a doubly base64-encoded response is named as
     such.
   - the passdb walk starts at the first token passdb (driver bearer or
     oauth2; dovecot-api-*.c), so a password passdb listed before it (pam)
     never gets the token, unless a deny passdb comes first;
   - an empty answer to OAUTHBEARER's challenge (msmtp, Mail::IMAPClient)
     is a debug line, any other wrong answer an info line (verdict.h).

   Failure behaviour: malformed response -> immediate failure, no challenge
   (the client would not understand one); token rejected -> the JSON
   challenge, then failure after the client's acknowledgement (XOAUTH2: an
   empty response, OAUTHBEARER: ^A); provider unavailable -> temporary
   failure (IMAP NO [UNAVAILABLE], Dovecot submission 454), never "wrong
   password"; Postfix smtpd (smtpd_sasl_type = dovecot) answers every
   failure with 535, so there the FAIL's reason text says "temporary". */

#include "auth-common.h"
#include "safe-memset.h"
#include "auth.h"
#include "mech.h"
#include "passdb.h"
#include "auth-request.h"
#include "auth-fields.h"

#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/verdict.h"

#include "dovecot-api.h"
#include "dovecot-log.h"
#include "passdb-bearer.h"

#include <stdlib.h>

/* The request's user while the identity is still in the token
   (OAUTHBEARER without authzid); the passdb replaces it with the token's
   identity. Made of characters every auth_username_chars allows. */
#define OAUTH2_BEARER_PLACEHOLDER_USER "bearer-token-user"
/* The FAIL reason of a temporary failure (shown by Postfix, which has no
   other way to tell it from a wrong password). */
#define OAUTH2_BEARER_TEMPFAIL_REASON \
	"Temporary authentication failure, try again later"

struct oauth2_bearer_request {
	struct auth_request auth;

	enum moa2_sasl_mech mech;
	bool user_from_token;
	/* the failure challenge was sent: next comes the client's ack */
	bool challenge_sent;

	/* from the bearer passdb, when it rejected the token (else
	   MOA2_VERDICT_REASON_UNKNOWN) */
	enum moa2_verify_reason reason;
	const char *scope;
	const char *openid_configuration;
};

static unsigned int oauth2_bearer_sasl_flags;

void
mech_oauth2_bearer_set_sasl_flags(unsigned int flags)
{
	oauth2_bearer_sasl_flags = flags;
}

static void
mech_oauth2_bearer_auth_continue(struct auth_request *request,
				 const unsigned char *data, size_t data_size);

bool
mech_oauth2_bearer_is_ours(const struct auth_request *request)
{
	/* the register holds a copy of our struct mech_module: compare a
	   function both our mechanisms share, not the struct's address */
	return request->mech != NULL &&
		request->mech->auth_continue == mech_oauth2_bearer_auth_continue;
}

bool
mech_oauth2_bearer_user_from_token(const struct auth_request *request)
{
	return mech_oauth2_bearer_is_ours(request) &&
		((const struct oauth2_bearer_request *)request)->user_from_token;
}

void
mech_oauth2_bearer_set_rejection(struct auth_request *request,
				 enum moa2_verify_reason reason,
				 const char *scope,
				 const char *openid_configuration)
{
	struct oauth2_bearer_request *req =
		(struct oauth2_bearer_request *)request;

	if (!mech_oauth2_bearer_is_ours(request))
		return;
	req->reason = reason;
	req->scope = p_strdup(request->pool, scope);
	req->openid_configuration = p_strdup(request->pool,
					     openid_configuration);
}

void
mech_oauth2_bearer_worker_field(struct auth_request *request,
				const char *key, const char *value)
{
	struct oauth2_bearer_request *req =
		(struct oauth2_bearer_request *)request;

	if (!mech_oauth2_bearer_is_ours(request))
		return;
	if (strcmp(key, MOA2_FIELD_REASON) == 0) {
		if (moa2_verify_reason_from_name(value, &req->reason) < 0)
			req->reason = MOA2_VERDICT_REASON_UNKNOWN;
	} else if (strcmp(key, MOA2_FIELD_SCOPE) == 0) {
		req->scope = p_strdup(request->pool, value);
	} else if (strcmp(key, MOA2_FIELD_OPENID_CONFIGURATION) == 0) {
		req->openid_configuration = p_strdup(request->pool, value);
	} else if (strcmp(key, MOA2_FIELD_CLAIMED_USER) == 0 &&
		   req->user_from_token) {
		/* through Dovecot's username rules in the worker already */
		auth_request_set_username_forced(request, value);
	}
}

/* ------------------------------------------------------------ challenge */

static void
oauth2_bearer_send_challenge(struct oauth2_bearer_request *req)
{
	struct auth_request *request = &req->auth;
	/* the verdict may come from Dovecot's own oauth2 passdb */
	const char *openid_configuration = req->openid_configuration != NULL ?
		req->openid_configuration : 
		moa2_dovecot_request_openid_configuration(request);
	char *json;

	/* the token is not needed any more */
	if (request->mech_password != NULL) {
		safe_memset(request->mech_password, 0,
			    strlen(request->mech_password));
		request->mech_password = NULL;
	}

	json = moa2_verdict_challenge(req->mech, req->reason, req->scope,
				      openid_configuration);
	if (json == NULL) {
		/* no challenge for that verdict: fail closed, as temporary */
		auth_request_internal_failure(request);
		return;
	}
	req->challenge_sent = TRUE;
	auth_request_handler_reply_continue(request, json, strlen(json));
	free(json);
}

static void
oauth2_bearer_verify_callback(enum passdb_result result,
			      struct auth_request *request)
{
	struct oauth2_bearer_request *req =
		(struct oauth2_bearer_request *)request;

	switch (result) {
	case PASSDB_RESULT_OK:
		auth_request_success(request, "", 0);
		break;
	case PASSDB_RESULT_INTERNAL_FAILURE:
		/* Postfix's Dovecot SASL client ignores code=temp_fail and
		   answers 535 to any FAIL: at least its text tells the user */
		auth_fields_add(request->fields.extra_fields, "reason",
				OAUTH2_BEARER_TEMPFAIL_REASON, 0);
		auth_request_internal_failure(request);
		break;
	default:
		oauth2_bearer_send_challenge(req);
		break;
	}
}

/* ------------------------------------------------------------ response */

/* Every line of ours carries the category mail-oauth2. */
static void
oauth2_bearer_log(struct auth_request *request, enum moa2_log_level level,
		  const char *text)
{
	struct event *event = moa2_dovecot_log_event_create(request->mech_event);

	moa2_dovecot_log_line(event, level, text);
	event_unref(&event);
}

static void
oauth2_bearer_info(struct auth_request *request, const char *fmt, ...)
	ATTR_FORMAT(2, 3);
static void
oauth2_bearer_info(struct auth_request *request, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	oauth2_bearer_log(request, MOA2_LOG_INFO, t_strdup_vprintf(fmt, args));
	va_end(args);
}

static bool
oauth2_bearer_set_user(struct oauth2_bearer_request *req,
		       const struct moa2_sasl_response *resp)
{
	struct auth_request *request = &req->auth;
	const char *user = moa2_sasl_response_asserted_user(resp);
	const char *error;

	if (user == NULL) {
		req->user_from_token = TRUE;
		user = OAUTH2_BEARER_PLACEHOLDER_USER;
	}
	if (!auth_request_set_username(request, user, &error)) {
		oauth2_bearer_info(request, "%s", error);
		return FALSE;
	}
	return TRUE;
}

static void
mech_oauth2_bearer_auth_continue(struct auth_request *request,
				 const unsigned char *data, size_t data_size)
{
	struct oauth2_bearer_request *req =
		(struct oauth2_bearer_request *)request;
	struct moa2_sasl_response resp;
	struct moa2_verdict_log line;
	enum moa2_sasl_error error;

	if (req->challenge_sent) {
		/* the client's answer to the failure challenge */
		if (moa2_verdict_log_failure_ack(req->mech, data, data_size,
						 &line) == 0)
			oauth2_bearer_log(request, line.level, line.text);
		auth_request_fail(request);
		return;
	}

	if (moa2_sasl_parse(req->mech, data, data_size,
			    oauth2_bearer_sasl_flags, &resp, &error) < 0) {
		moa2_verdict_log_codec_error(req->mech, error,
			moa2_dovecot_double_base64_option(), &line);
		oauth2_bearer_log(request, line.level, line.text);
		auth_request_fail(request);
		return;
	}
	if (resp.double_base64) {
		moa2_verdict_log_double_base64(req->mech,
			moa2_dovecot_double_base64_option(), &line);
		oauth2_bearer_log(request, line.level, line.text);
	}
	if (!oauth2_bearer_set_user(req, &resp)) {
		moa2_sasl_response_clear(&resp);
		auth_request_fail(request);
		return;
	}
	/* a token is no password: not for pam and the like */
	if (moa2_dovecot_start_at_token_passdb(request)) {
		e_debug(request->mech_event, "skipping the passdbs before the "
			"first token passdb (driver bearer or oauth2)");
	}
	auth_request_verify_plain(request, resp.token,
				  oauth2_bearer_verify_callback);
	moa2_sasl_response_clear(&resp);
}

/* ------------------------------------------------------------ modules */

static struct auth_request *
mech_oauth2_bearer_new(enum moa2_sasl_mech mech)
{
	struct oauth2_bearer_request *req;
	pool_t pool;

	pool = pool_alloconly_create(MEMPOOL_GROWING"oauth2_bearer_request",
				     2048);
	req = p_new(pool, struct oauth2_bearer_request, 1);
	req->auth.pool = pool;
	req->mech = mech;
	req->reason = MOA2_VERDICT_REASON_UNKNOWN;
	return &req->auth;
}

/* The mechanism is known from the module (each has its own auth_new). */
static struct auth_request *
mech_xoauth2_bearer_auth_new(void)
{
	return mech_oauth2_bearer_new(MOA2_MECH_XOAUTH2);
}

static struct auth_request *
mech_oauthbearer_bearer_auth_new(void)
{
	return mech_oauth2_bearer_new(MOA2_MECH_OAUTHBEARER);
}

const struct mech_module mech_oauthbearer_bearer = {
	.mech_name = "OAUTHBEARER",
	/* as the built-in: a bearer token is as good as a password */
	.flags = MECH_SEC_PLAINTEXT,
	.passdb_need = MECH_PASSDB_NEED_VERIFY_PLAIN,

	.auth_new = mech_oauthbearer_bearer_auth_new,
	.auth_initial = mech_generic_auth_initial,
	.auth_continue = mech_oauth2_bearer_auth_continue,
	.auth_free = mech_generic_auth_free,
};

const struct mech_module mech_xoauth2_bearer = {
	.mech_name = "XOAUTH2",
	.flags = MECH_SEC_PLAINTEXT,
	.passdb_need = MECH_PASSDB_NEED_VERIFY_PLAIN,

	.auth_new = mech_xoauth2_bearer_auth_new,
	.auth_initial = mech_generic_auth_initial,
	.auth_continue = mech_oauth2_bearer_auth_continue,
	.auth_free = mech_generic_auth_free,
};

/* ------------------------------------------------------------ register */

/* 1 when replaced, 0 when that mechanism is not enabled, -1 when there is
   no register (not the auth master process) */
static int
dovecot_mech_replace(const struct mech_module *mech)
{
	struct auth *auth = mech_oauth2_bearer_default_auth();
	struct mechanisms_register *reg;
	struct mech_module_list *list;

	if (auth == NULL || auth->reg == NULL)
		return -1;
	/* the register is const for everyone else: we are the exception */
	reg = (struct mechanisms_register *)auth->reg;
	for (list = reg->modules; list != NULL; list = list->next) {
		if (strcmp(list->module.mech_name, mech->mech_name) == 0) {
			/* same name and flags: the handshake's MECH line
			   stays true */
			i_assert(list->module.flags == mech->flags);
			list->module = *mech;
			return 1;
		}
	}
	return 0;
}

static void
dovecot_mech_install(const struct mech_module *mech)
{
	int ret = dovecot_mech_replace(mech);

	if (ret > 0) {
		e_debug(moa2_dovecot_log_event(),
			"%s: using the mail-oauth2 mechanism", mech->mech_name);
	} else if (ret < 0) {
		e_error(moa2_dovecot_log_event(), "%s: cannot replace the "
			"built-in mechanism: no mechanism register",
			mech->mech_name);
	}
}

void
moa2_dovecot_mechs_install(unsigned int sasl_flags)
{
	mech_oauth2_bearer_set_sasl_flags(sasl_flags);
	dovecot_mech_install(&mech_xoauth2_bearer);
	dovecot_mech_install(&mech_oauthbearer_bearer);
}
