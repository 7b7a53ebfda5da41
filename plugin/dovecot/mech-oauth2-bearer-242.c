/* SPDX-License-Identifier: MIT */
/* Our XOAUTH2 and OAUTHBEARER (RFC 7628) on the lib-sasl server API of
   Dovecot 2.4.2 and later (struct sasl_server_mech_def; there is no
   struct mech_module any more): the mechanism side of passdb-bearer.h for
   API 242. dovecot-api-242.c puts them into every auth's SASL instance.

   Same behaviour as mech-oauth2-bearer.c of the older APIs: the client
   response is parsed by the shared codec (sasl-codec.h), then the token
   goes through Dovecot's passdb chain as the password
   (sasl_server_request_verify_plain), so the bearer passdb, the
   auth-workers, auth policy and the penalty all apply; OAUTHBEARER's
   authzid is optional; the failure challenge is the core's (verdict.h)
   with the scope and openid-configuration of the provider that judged the
   token; every malformed response is logged with the codec's error name,
   a doubly base64-encoded one named as such.

   Why not sasl-server-oauth2.h's token-verifier hook
   (sasl_server_mech_register_xoauth2): that mechanism builds its own JSON
   (other members than the other hosts'), requires a user for XOAUTH2 and
   an authzid for OAUTHBEARER, and parses the response itself.

   Outcomes: malformed response -> immediate failure, no challenge; token
   rejected -> the JSON challenge (SASL continuation), then failure after
   the client's acknowledgement (XOAUTH2: an empty response, OAUTHBEARER:
   ^A); provider unavailable -> internal failure (IMAP NO [UNAVAILABLE],
   submission 454), with a FAIL reason text for Postfix. */

#include "auth-common.h"
#include "safe-memset.h"
#include "passdb.h"
#include "auth-request.h"
#include "auth-fields.h"
#include "sasl-server-protected.h"

#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/verdict.h"

#include "dovecot-api.h"
#include "dovecot-api-242.h"
#include "dovecot-log.h"
#include "passdb-bearer.h"

#include <stdlib.h>

/* as mech-oauth2-bearer.c */
#define OAUTH2_BEARER_PLACEHOLDER_USER "bearer-token-user"
#define OAUTH2_BEARER_TEMPFAIL_REASON \
	"Temporary authentication failure, try again later"

struct oauth2_bearer_request {
	struct sasl_server_mech_request mreq;

	enum moa2_sasl_mech mech;
	bool user_from_token;
	/* the failure challenge was sent: next comes the client's ack */
	bool challenge_sent;

	/* from the bearer passdb, when it rejected the token */
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

/* ------------------------------------------------------------ requests */

static struct auth_request *
oauth2_bearer_auth_request(struct oauth2_bearer_request *req)
{
	struct sasl_server_req_ctx *rctx =
		sasl_server_request_get_req_ctx(&req->mreq);

	return container_of(rctx, struct auth_request, sasl.req);
}

/* ours, or NULL (another mechanism, or an auth-worker's request, which
   has no SASL request) */
static struct oauth2_bearer_request *
oauth2_bearer_request_get(const struct auth_request *request)
{
	struct sasl_server_req_ctx *rctx =
		(struct sasl_server_req_ctx *)&request->sasl.req;
	struct sasl_server_mech_request *mreq;

	if (rctx->mech == NULL || rctx->request == NULL ||
	    (rctx->mech->def != &moa2_mech_xoauth2_def &&
	     rctx->mech->def != &moa2_mech_oauthbearer_def))
		return NULL;
	mreq = sasl_server_request_get_mech_request(rctx);
	return container_of(mreq, struct oauth2_bearer_request, mreq);
}

bool
mech_oauth2_bearer_is_ours(const struct auth_request *request)
{
	return oauth2_bearer_request_get(request) != NULL;
}

bool
mech_oauth2_bearer_user_from_token(const struct auth_request *request)
{
	struct oauth2_bearer_request *req = oauth2_bearer_request_get(request);

	return req != NULL && req->user_from_token;
}

void
mech_oauth2_bearer_set_rejection(struct auth_request *request,
				 enum moa2_verify_reason reason,
				 const char *scope,
				 const char *openid_configuration)
{
	struct oauth2_bearer_request *req = oauth2_bearer_request_get(request);

	if (req == NULL)
		return;
	req->reason = reason;
	req->scope = p_strdup(req->mreq.pool, scope);
	req->openid_configuration = p_strdup(req->mreq.pool,
					     openid_configuration);
}

void
mech_oauth2_bearer_worker_field(struct auth_request *request,
				const char *key, const char *value)
{
	struct oauth2_bearer_request *req = oauth2_bearer_request_get(request);

	if (req == NULL)
		return;
	if (strcmp(key, MOA2_FIELD_REASON) == 0) {
		if (moa2_verify_reason_from_name(value, &req->reason) < 0)
			req->reason = MOA2_VERDICT_REASON_UNKNOWN;
	} else if (strcmp(key, MOA2_FIELD_SCOPE) == 0) {
		req->scope = p_strdup(req->mreq.pool, value);
	} else if (strcmp(key, MOA2_FIELD_OPENID_CONFIGURATION) == 0) {
		req->openid_configuration = p_strdup(req->mreq.pool, value);
	}
}

/* ------------------------------------------------------------ log */

/* Every line of ours carries the category mail-oauth2. */
static void
oauth2_bearer_log(struct oauth2_bearer_request *req,
		  enum moa2_log_level level, const char *text)
{
	struct event *event = moa2_dovecot_log_event_create(req->mreq.event);

	moa2_dovecot_log_line(event, level, text);
	event_unref(&event);
}

/* ------------------------------------------------------------ challenge */

static void
oauth2_bearer_send_challenge(struct oauth2_bearer_request *req)
{
	struct auth_request *request = oauth2_bearer_auth_request(req);
	char *json;

	/* the token is not needed any more */
	if (request->mech_password != NULL) {
		safe_memset(request->mech_password, 0,
			    strlen(request->mech_password));
		request->mech_password = NULL;
	}

	json = moa2_verdict_challenge(req->mech, req->reason, req->scope,
				      req->openid_configuration);
	if (json == NULL) {
		/* no challenge for that verdict: fail closed, as temporary */
		sasl_server_request_internal_failure(&req->mreq);
		return;
	}
	req->challenge_sent = TRUE;
	sasl_server_request_output(&req->mreq, json, strlen(json));
	free(json);
}

static void
oauth2_bearer_verify_callback(struct sasl_server_mech_request *mreq,
			      const struct sasl_passdb_result *result)
{
	struct oauth2_bearer_request *req =
		container_of(mreq, struct oauth2_bearer_request, mreq);
	struct auth_request *request;

	switch (result->status) {
	case SASL_PASSDB_RESULT_OK:
		sasl_server_request_success(mreq, "", 0);
		break;
	case SASL_PASSDB_RESULT_INTERNAL_FAILURE:
		/* Postfix's Dovecot SASL client ignores code=temp_fail and
		   answers 535 to any FAIL: at least its text tells the user */
		request = oauth2_bearer_auth_request(req);
		auth_fields_add(request->fields.extra_fields, "reason",
				OAUTH2_BEARER_TEMPFAIL_REASON, 0);
		sasl_server_request_internal_failure(mreq);
		break;
	default:
		oauth2_bearer_send_challenge(req);
		break;
	}
}

/* ------------------------------------------------------------ response */

static bool
oauth2_bearer_set_user(struct oauth2_bearer_request *req,
		       const struct moa2_sasl_response *resp)
{
	const char *user = moa2_sasl_response_asserted_user(resp);

	if (user == NULL) {
		req->user_from_token = TRUE;
		user = OAUTH2_BEARER_PLACEHOLDER_USER;
	}
	/* logs its own failure (the user does not pass
	   auth_username_chars & co.) */
	return sasl_server_request_set_authid(&req->mreq,
		SASL_SERVER_AUTHID_TYPE_USERNAME, user);
}

static void
mech_oauth2_bearer_auth_continue(struct sasl_server_mech_request *mreq,
				 const unsigned char *data, size_t data_size)
{
	struct oauth2_bearer_request *req =
		container_of(mreq, struct oauth2_bearer_request, mreq);
	struct moa2_sasl_response resp;
	struct moa2_verdict_log line;
	enum moa2_sasl_error error;

	if (req->challenge_sent) {
		/* the client's answer to the failure challenge */
		if (moa2_verdict_log_failure_ack(req->mech, data, data_size,
						 &line) == 0)
			oauth2_bearer_log(req, line.level, line.text);
		sasl_server_request_failure(mreq);
		return;
	}

	if (moa2_sasl_parse(req->mech, data, data_size,
			    oauth2_bearer_sasl_flags, &resp, &error) < 0) {
		moa2_verdict_log_codec_error(req->mech, error,
			moa2_dovecot_double_base64_option(), &line);
		oauth2_bearer_log(req, line.level, line.text);
		sasl_server_request_failure(mreq);
		return;
	}
	if (resp.double_base64) {
		moa2_verdict_log_double_base64(req->mech,
			moa2_dovecot_double_base64_option(), &line);
		oauth2_bearer_log(req, line.level, line.text);
	}
	if (!oauth2_bearer_set_user(req, &resp)) {
		moa2_sasl_response_clear(&resp);
		sasl_server_request_failure(mreq);
		return;
	}
	/* a token is no password: not for pam and the like */
	if (moa2_dovecot_start_at_token_passdb(oauth2_bearer_auth_request(req))) {
		oauth2_bearer_log(req, MOA2_LOG_DEBUG, "skipping the passdbs before "
				  "the first token passdb (driver bearer or oauth2)");
	}
	sasl_server_request_verify_plain(mreq, resp.token,
					 oauth2_bearer_verify_callback);
	moa2_sasl_response_clear(&resp);
}

/* ------------------------------------------------------------ definitions */

static struct sasl_server_mech_request *
mech_oauth2_bearer_auth_new(const struct sasl_server_mech *mech, pool_t pool)
{
	struct oauth2_bearer_request *req;

	req = p_new(pool, struct oauth2_bearer_request, 1);
	req->mech = mech->def == &moa2_mech_xoauth2_def ?
		MOA2_MECH_XOAUTH2 : MOA2_MECH_OAUTHBEARER;
	req->reason = MOA2_VERDICT_REASON_UNKNOWN;
	return &req->mreq;
}

static const struct sasl_server_mech_funcs mech_oauth2_bearer_funcs = {
	.auth_new = mech_oauth2_bearer_auth_new,
	.auth_initial = sasl_server_mech_generic_auth_initial,
	.auth_continue = mech_oauth2_bearer_auth_continue,
};

const struct sasl_server_mech_def moa2_mech_xoauth2_def = {
	.name = "XOAUTH2",
	/* as the built-in: a bearer token is as good as a password */
	.flags = SASL_MECH_SEC_PLAINTEXT,
	.passdb_need = SASL_MECH_PASSDB_NEED_VERIFY_PLAIN,
	.funcs = &mech_oauth2_bearer_funcs,
};

const struct sasl_server_mech_def moa2_mech_oauthbearer_def = {
	.name = "OAUTHBEARER",
	.flags = SASL_MECH_SEC_PLAINTEXT,
	.passdb_need = SASL_MECH_PASSDB_NEED_VERIFY_PLAIN,
	.funcs = &mech_oauth2_bearer_funcs,
};
