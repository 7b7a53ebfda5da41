/* SPDX-License-Identifier: MIT */
/* Server mechanisms XOAUTH2 and OAUTHBEARER for any Cyrus SASL server
   (Postfix smtpd with smtpd_sasl_type = cyrus): the client's bearer token
   is verified by the engine with the providers of the verifier config
   (Cyrus option mail_oauth2_verify_conf, e.g. in smtpd.conf, else
   $MAIL_OAUTH2_VERIFY_CONF, else /etc/mail-oauth2/verify.conf).

   Failure behaviour: fails closed everywhere. accepted -> SASL_OK with the
   token's identity as the authenticated user; rejected -> the failure
   challenge (the core's, verdict.h: the same JSON as Dovecot's for the
   same token), then SASL_BADAUTH whatever the client answers; temporary
   failure (provider or keys unreachable) -> SASL_TRYAGAIN (Postfix:
   454 4.7.0), no challenge, never a wrong-password answer; a
   malformed response -> SASL_BADPROT; a broken config -> SASL_FAIL with
   the config error on every attempt (and at start), never a token that
   passes unverified. Tokens are named by their fingerprint only.
   Log lines are the core's (verdict.h) through utils->log; the line of a
   rejection or temporary failure is also the utils->seterror reason,
   which is what Postfix logs ("SASL authentication failure: ...") and
   what sasl_errdetail() returns. */

#include "config.h"
#include "sasl-plugin.h"

#include "mail-oauth2/common.h"
#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/verdict.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* how an admin accepts doubly base64-encoded responses, for the log */
#define SERVER_DOUBLE_B64_OPTION MOA2_SASL_SERVER_DOUBLE_B64_OPTION ": yes"

struct server_glob {
	unsigned int refs;
	char *conf_path;
	struct moa2_verify_config *config;
	struct moa2_verifier *verifier;
	char *config_error;
	unsigned int parse_flags;
	struct moa2_sasl_log log;
	struct moa2_logger logger;
};

enum server_state {
	SERVER_START,
	SERVER_CHALLENGED, /* failure challenge sent: waiting for the ack */
	SERVER_DONE,
};

struct server_ctx {
	enum moa2_sasl_mech mech;
	enum server_state state;
	bool asked;         /* the empty challenge was sent once */
	char *challenge;    /* the failure challenge JSON */
	char reason[MOA2_VERDICT_LOG_MAX]; /* the rejection's line, for seterror */
};

static struct server_glob *glob_server;

/* ----------------------------------------------------------------- config */

static void
server_glob_free(struct server_glob **_glob)
{
	struct server_glob *glob = *_glob;

	if (glob == NULL)
		return;
	*_glob = NULL;
	moa2_verifier_destroy(&glob->verifier);
	moa2_verify_config_free(&glob->config);
	free(glob->config_error);
	free(glob->conf_path);
	free(glob);
}

static bool
option_true(const char *value)
{
	return value != NULL && (strcasecmp(value, "yes") == 0 ||
				 strcasecmp(value, "true") == 0 ||
				 strcmp(value, "1") == 0);
}

static void
server_glob_load(struct server_glob *glob, const sasl_utils_t *utils)
{
	char *error = NULL;

	glob->conf_path = moa2_sasl_conf_path(utils, MOA2_SASL_SERVER_CONF_OPTION,
					      MOA2_SASL_SERVER_CONF_ENV,
					      MOA2_SASL_SERVER_CONF_DEFAULT);
	if (option_true(moa2_sasl_getopt(utils, MOA2_SASL_SERVER_DOUBLE_B64_OPTION)))
		glob->parse_flags |= MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64;
	moa2_sasl_logger_init(&glob->logger, &glob->log, utils, false);
	if (moa2_verify_config_load(glob->conf_path, &glob->config, &error) < 0 ||
	    moa2_verifier_create(glob->config, &glob->logger, &glob->verifier,
				 &error) < 0) {
		glob->config_error = error;
		moa2_sasl_log(utils, NULL, SASL_LOG_ERR, "server mechanisms XOAUTH2 and "
			      "OAUTHBEARER refuse every login until this is fixed: %s "
			      "(the path comes from the SASL option "
			      MOA2_SASL_SERVER_CONF_OPTION ", else $"
			      MOA2_SASL_SERVER_CONF_ENV ", else "
			      MOA2_SASL_SERVER_CONF_DEFAULT ")", error);
		return;
	}
	moa2_sasl_log(utils, NULL, SASL_LOG_NOTE, "verifier config %s: %u provider(s)",
		      glob->conf_path, glob->config->providers_count);
}

/* ------------------------------------------------------------- mechanisms */

static int
server_mech_new(void *glob_context, sasl_server_params_t *params,
		const char *challenge, unsigned challen, void **conn_context)
{
	const enum moa2_sasl_mech *mech = glob_context;
	struct server_ctx *ctx;

	(void)challenge;
	(void)challen;
	if (moa2_sasl_conn_new(params->utils, sizeof(*ctx), conn_context) != SASL_OK)
		return SASL_NOMEM;
	ctx = *conn_context;
	ctx->mech = *mech;
	return SASL_OK;
}

static void
server_mech_dispose(void *conn_context, const sasl_utils_t *utils)
{
	struct server_ctx *ctx = conn_context;

	if (ctx == NULL)
		return;
	if (ctx->challenge != NULL)
		utils->free(ctx->challenge);
	utils->free(ctx);
}

static int
server_accept(struct server_ctx *ctx, sasl_server_params_t *params,
	      const struct moa2_verify_result *result, sasl_out_params_t *oparams)
{
	/* the token proved the identity: auxprop plugins need not know it */
	int ret = params->canon_user(params->utils->conn, result->identity, 0,
				     SASL_CU_AUTHID | SASL_CU_AUTHZID |
				     SASL_CU_EXTERNALLY_VERIFIED, oparams);

	if (ret != SASL_OK)
		return ret;
	oparams->doneflag = 1;
	oparams->mech_ssf = 0;
	oparams->maxoutbuf = 0;
	oparams->encode_context = NULL;
	oparams->encode = NULL;
	oparams->decode_context = NULL;
	oparams->decode = NULL;
	oparams->param_version = 0;
	ctx->state = SERVER_DONE;
	return SASL_OK;
}

/* Rejected: send the failure challenge; the verdict comes after the ack. */
static int
server_reject(struct server_ctx *ctx, sasl_server_params_t *params,
	      const struct moa2_verify_result *result, const char **serverout,
	      unsigned *serveroutlen)
{
	char *json = moa2_verdict_result_challenge(ctx->mech, result);

	if (json == NULL) {
		/* a rejection always has one: fail closed if not */
		ctx->state = SERVER_DONE;
		return SASL_FAIL;
	}
	ctx->challenge = moa2_sasl_strdup(params->utils, json);
	free(json);
	if (ctx->challenge == NULL)
		return SASL_NOMEM;
	*serverout = ctx->challenge;
	*serveroutlen = (unsigned)strlen(ctx->challenge);
	ctx->state = SERVER_CHALLENGED;
	return SASL_CONTINUE;
}

static int
server_verify(struct server_ctx *ctx, struct server_glob *glob,
	      sasl_server_params_t *params, const char *clientin, unsigned len,
	      const char **serverout, unsigned *serveroutlen,
	      sasl_out_params_t *oparams)
{
	const sasl_utils_t *utils = params->utils;
	struct moa2_sasl_response resp;
	struct moa2_verify_result result;
	struct moa2_verdict_log line;
	enum moa2_sasl_error err;
	int ret;

	if (moa2_sasl_parse(ctx->mech, clientin, len, glob->parse_flags, &resp, &err) < 0) {
		moa2_verdict_log_codec_error(ctx->mech, err, SERVER_DOUBLE_B64_OPTION, &line);
		moa2_sasl_seterror(utils, "%s", line.text);
		ctx->state = SERVER_DONE;
		return SASL_BADPROT;
	}
	if (resp.double_base64) {
		moa2_verdict_log_double_base64(ctx->mech, SERVER_DOUBLE_B64_OPTION, &line);
		moa2_sasl_log_line(utils, utils->conn, line.level, line.text);
	}
	moa2_sasl_log_bind(&glob->log, utils);
	moa2_verify_token(glob->verifier, resp.token, resp.token_len,
			  moa2_sasl_response_asserted_user(&resp), &result);
	moa2_sasl_response_clear(&resp);
	moa2_verdict_log_result(&result, moa2_sasl_mech_name(ctx->mech), time(NULL), &line);
	switch (result.outcome) {
	case MOA2_OUTCOME_ACCEPTED:
		ret = server_accept(ctx, params, &result, oparams);
		break;
	case MOA2_OUTCOME_REJECTED:
		snprintf(ctx->reason, sizeof(ctx->reason), "%s", line.text);
		ret = server_reject(ctx, params, &result, serverout, serveroutlen);
		break;
	default:
		moa2_sasl_seterror(utils, "%s", line.text);
		ctx->state = SERVER_DONE;
		ret = SASL_TRYAGAIN;
		break;
	}
	/* an acceptance only once Cyrus took the identity */
	if (result.outcome != MOA2_OUTCOME_ACCEPTED || ret == SASL_OK)
		moa2_sasl_log_line(utils, utils->conn, line.level, line.text);
	moa2_verify_result_clear(&result);
	return ret;
}

static int
server_mech_step(void *conn_context, sasl_server_params_t *params,
		 const char *clientin, unsigned clientinlen,
		 const char **serverout, unsigned *serveroutlen,
		 sasl_out_params_t *oparams)
{
	struct server_ctx *ctx = conn_context;
	struct server_glob *glob = glob_server;

	*serverout = NULL;
	*serveroutlen = 0;
	switch (ctx->state) {
	case SERVER_START:
		if (glob == NULL || glob->config_error != NULL) {
			moa2_sasl_seterror(params->utils, "%s", glob == NULL ? "not "
					   "initialised" : glob->config_error);
			ctx->state = SERVER_DONE;
			return SASL_FAIL;
		}
		if ((clientin == NULL || clientinlen == 0) && !ctx->asked) {
			/* no initial response: ask for it with an empty challenge */
			ctx->asked = true;
			*serverout = "";
			return SASL_CONTINUE;
		}
		return server_verify(ctx, glob, params, clientin, clientinlen,
				     serverout, serveroutlen, oparams);
	case SERVER_CHALLENGED:
		/* the client's ack (or anything else): the answer stays no */
		moa2_sasl_seterror(params->utils, "%s", ctx->reason);
		ctx->state = SERVER_DONE;
		return SASL_BADAUTH;
	case SERVER_DONE:
		break;
	}
	moa2_sasl_seterror(params->utils, "%s: step after the end of the exchange",
			   moa2_sasl_mech_name(ctx->mech));
	return SASL_BADPROT;
}

static void
server_mech_free(void *glob_context, const sasl_utils_t *utils)
{
	(void)glob_context;
	(void)utils;
	if (glob_server != NULL && --glob_server->refs == 0)
		server_glob_free(&glob_server);
}

static sasl_server_plug_t server_plugins[] = {
	MOA2_SASL_PLUG("XOAUTH2", &moa2_sasl_mech_xoauth2,
		       SASL_FEAT_WANT_CLIENT_FIRST, server),
	MOA2_SASL_PLUG("OAUTHBEARER", &moa2_sasl_mech_oauthbearer,
		       SASL_FEAT_WANT_CLIENT_FIRST, server),
};

int
moa2_sasl_server_init(const sasl_utils_t *utils, int max_version,
		      int *out_version, sasl_server_plug_t **pluglist,
		      int *plugcount)
{
	if (moa2_sasl_check_version(utils, "server", SASL_SERVER_PLUG_VERSION,
				    max_version) != SASL_OK)
		return SASL_BADVERS;
	if (glob_server == NULL) {
		glob_server = calloc(1, sizeof(*glob_server));
		if (glob_server == NULL)
			return SASL_NOMEM;
		server_glob_load(glob_server, utils);
	}
	glob_server->refs += 2;
	*out_version = SASL_SERVER_PLUG_VERSION;
	*pluglist = server_plugins;
	*plugcount = 2;
	return SASL_OK;
}
