/* SPDX-License-Identifier: MIT */
/* Client mechanisms XOAUTH2 and OAUTHBEARER for Postfix smtp (and any
   Cyrus SASL client, e.g. mbsync): the password field of
   smtp_sasl_password_maps (mbsync: Pass or PassCmd) names an [account
   NAME] of the client config (or its token_file); the plugin sends that
   account's access token, obtained and refreshed by the token client.
   The password and the user name come from the application's callbacks,
   or from SASL_INTERACT prompts when it registered them without a
   function (mbsync does). The server's final success (a step with no
   data, as IMAP clients make after OK) ends the mechanism with SASL_OK.

   Logging: the token client's lines go through utils->log, but inside
   Postfix its info lines (one per token request) go to Postfix's own
   msg_info(): Postfix shows Cyrus' SASL_LOG_NOTE only with -v, and the
   admin must see in the mail log when tokens are fetched.

   Failure behaviour: every failure is temporary, so Postfix defers the
   mail and never bounces it: a broken config, an unknown account, a token
   that cannot be obtained (SASL_UNAVAIL), and a relay that rejects the
   token (SASL_TRYAGAIN: the token is dropped from the store first, so the
   next attempt fetches a new one). The reason goes to utils->seterror (it
   appears in Postfix's log next to the deferral) in one sentence that says
   what to do. Tokens, refresh tokens and secrets are never logged: a token
   is named by its fingerprint, and a password field that names no account
   is not echoed either (it may be a real password). */

#include "config.h"
#include "sasl-plugin.h"

#include "mail-oauth2/common.h"
#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/token-client.h"
#include "mail-oauth2/token-config.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

typedef void postfix_msg_info_t(const char *fmt, ...);

/* Shared by both mechanisms: loaded once per process, at plug init,
   before Postfix chroots. */
struct client_glob {
	unsigned int refs;
	char *conf_path;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	char *config_error; /* malloc()ed; set: every step fails with it */
	struct moa2_sasl_log log;
	struct moa2_logger sasl_logger;  /* through utils->log */
	struct moa2_logger logger;       /* the token client's: info to Postfix */
	postfix_msg_info_t *postfix_info; /* NULL: not inside Postfix */
};

enum client_state {
	CLIENT_START,
	CLIENT_SENT,   /* initial response sent; a challenge means rejection */
	CLIENT_DONE,   /* the server accepted */
	CLIENT_FAILED,
};

struct client_ctx {
	enum moa2_sasl_mech mech;
	enum client_state state;
	char *out;          /* the initial response (holds the token) */
	size_t out_len;
	char *token;        /* the token sent, to drop it on rejection */
	char account[256];
	char fingerprint[MOA2_FINGERPRINT_LEN + 1];
	sasl_interact_t *prompts; /* ours, while the application answers */
};

static struct client_glob *glob_client;

/* --------------------------------------------------------------- config */

static void
client_glob_free(struct client_glob **_glob)
{
	struct client_glob *glob = *_glob;

	if (glob == NULL)
		return;
	*_glob = NULL;
	moa2_token_client_destroy(&glob->client);
	moa2_token_config_free(&glob->config);
	free(glob->config_error);
	free(glob->conf_path);
	free(glob);
}

static char *
chroot_hint(const char *error)
{
	static const char hint[] =
		" (the plugin reads it when Postfix's smtp starts, before it chroots "
		"to the queue directory, e.g. /var/spool/postfix: give the path "
		"outside the chroot; the config path comes from $"
		MOA2_SASL_CLIENT_CONF_ENV ", which Postfix passes on with "
		"import_environment, else " MOA2_SASL_CLIENT_CONF_DEFAULT "; after "
		"changing import_environment restart Postfix: a reload keeps the "
		"old environment)";
	size_t len = strlen(error) + sizeof(hint);
	char *msg = malloc(len);

	if (msg == NULL)
		abort();
	snprintf(msg, len, "%s%s", error, hint);
	return msg;
}

/* Postfix's msg_info(), which its shared libraries export (Debian, Fedora
   and others build Postfix that way), when the plugin runs inside
   Postfix: recognised by data symbols only Postfix defines, so that a
   function of another program that happens to be named msg_info is never
   called. A Postfix linked statically exports nothing: NULL. */
static postfix_msg_info_t *
postfix_msg_info(void)
{
	postfix_msg_info_t *func;
	void *sym;

	if (dlsym(RTLD_DEFAULT, "var_procname") == NULL ||
	    dlsym(RTLD_DEFAULT, "var_mail_version") == NULL ||
	    (sym = dlsym(RTLD_DEFAULT, "msg_info")) == NULL)
		return NULL;
	/* ISO C has no object-to-function pointer conversion: copy the bits */
	memcpy(&func, &sym, sizeof(func));
	return func;
}

static void
client_log(void *context, enum moa2_log_level level, const char *message)
{
	const struct client_glob *glob = context;

	if (level == MOA2_LOG_INFO && glob->postfix_info != NULL)
		glob->postfix_info("%s%s", MOA2_SASL_LOG_PREFIX, message);
	else
		glob->sasl_logger.func(glob->sasl_logger.context, level, message);
}

static void
client_glob_load(struct client_glob *glob, const sasl_utils_t *utils)
{
	char *error = NULL;

	glob->conf_path = moa2_sasl_conf_path(utils, MOA2_SASL_CLIENT_CONF_OPTION,
					      MOA2_SASL_CLIENT_CONF_ENV,
					      MOA2_SASL_CLIENT_CONF_DEFAULT);
	moa2_sasl_logger_init(&glob->sasl_logger, &glob->log, utils, false);
	glob->postfix_info = postfix_msg_info();
	glob->logger = (struct moa2_logger){ client_log, glob, false, NULL };
	if (moa2_token_config_load(glob->conf_path, &glob->config, &error) < 0) {
		glob->config_error = strstr(error, "cannot open") != NULL ?
			chroot_hint(error) : strdup(error);
		free(error);
	} else {
		glob->logger.debug = glob->config->log_debug;
		if (moa2_token_client_create(glob->config, &glob->logger, &glob->client,
					     &error) < 0) {
			glob->config_error = chroot_hint(error);
			free(error);
		}
	}
	if (glob->config_error != NULL)
		moa2_sasl_log(utils, NULL, SASL_LOG_ERR, "client mechanisms XOAUTH2 and "
			      "OAUTHBEARER will defer all mail: %s", glob->config_error);
	else
		moa2_log(&glob->logger, MOA2_LOG_DEBUG, "client config %s: %u "
			 "account(s), CA bundle %s", glob->conf_path,
			 glob->config->accounts_count,
			 moa2_token_client_ca_source(glob->client));
}

/* -------------------------------------------------------------- callbacks */

/* What the application gave: the password field (borrowed, a secret)
   and the user name (borrowed, may be NULL). */
struct client_creds {
	const unsigned char *pass;
	size_t pass_len;
	const char *authname;
};

/* SASL_OK with the value, SASL_INTERACT when the application answers
   prompts for this id instead of a function, else another code. */
static int
get_simple(sasl_client_params_t *params, unsigned long id, const char **value_r)
{
	sasl_getsimple_t *proc = NULL;
	void *context = NULL;
	unsigned int len = 0;
	int ret;

	*value_r = NULL;
	ret = params->utils->getcallback(params->utils->conn, id,
					 (sasl_callback_ft *)&proc, &context);
	if (ret != SASL_OK)
		return ret;
	if (proc == NULL || proc(context, (int)id, value_r, &len) != SASL_OK ||
	    *value_r == NULL)
		return SASL_FAIL;
	return SASL_OK;
}

/* The password field, as get_simple(). */
static int
get_password(sasl_client_params_t *params, struct client_creds *creds)
{
	sasl_getsecret_t *proc = NULL;
	sasl_secret_t *secret = NULL;
	void *context = NULL;
	int ret;

	ret = params->utils->getcallback(params->utils->conn, SASL_CB_PASS,
					 (sasl_callback_ft *)&proc, &context);
	if (ret != SASL_OK)
		return ret;
	if (proc == NULL || proc(params->utils->conn, context, SASL_CB_PASS, &secret) != SASL_OK ||
	    secret == NULL)
		return SASL_FAIL;
	creds->pass = secret->data;
	creds->pass_len = secret->len;
	return SASL_OK;
}

static const sasl_interact_t *
prompt_answer(const sasl_interact_t *prompts, unsigned long id)
{
	for (; prompts != NULL && prompts->id != SASL_CB_LIST_END; prompts++) {
		if (prompts->id == id)
			return prompts->result != NULL ? prompts : NULL;
	}
	return NULL;
}

/* prompt_need (may be NULL) stops pointing at the freed prompts */
static void
prompts_free(struct client_ctx *ctx, const sasl_utils_t *utils,
	     sasl_interact_t **prompt_need)
{
	if (prompt_need != NULL && *prompt_need == ctx->prompts)
		*prompt_need = NULL;
	if (ctx->prompts != NULL)
		utils->free(ctx->prompts);
	ctx->prompts = NULL;
}

/* Asks the application for the values it gives through prompts. */
static int
prompts_make(struct client_ctx *ctx, const sasl_utils_t *utils, bool pass, bool name,
	     sasl_interact_t **prompt_need)
{
	sasl_interact_t *p = utils->malloc(3 * sizeof(*p));
	unsigned int n = 0;

	if (p == NULL)
		return SASL_NOMEM;
	memset(p, 0, 3 * sizeof(*p));
	if (name)
		p[n++] = (sasl_interact_t){ .id = SASL_CB_AUTHNAME,
			.prompt = "Mailbox (user name): " };
	if (pass)
		p[n++] = (sasl_interact_t){ .id = SASL_CB_PASS,
			.prompt = "mail-oauth2 account (the password field): " };
	p[n].id = SASL_CB_LIST_END;
	ctx->prompts = p;
	*prompt_need = p;
	return SASL_INTERACT;
}

/* The password field and the user name: from the answers to our prompts,
   else the callbacks; SASL_INTERACT when prompts go out first. */
static int
get_creds(struct client_ctx *ctx, sasl_client_params_t *params,
	  sasl_interact_t **prompt_need, struct client_creds *creds)
{
	const sasl_interact_t *answer;
	int pass_ret, name_ret;

	memset(creds, 0, sizeof(*creds));
	if (ctx->prompts != NULL && prompt_need != NULL && *prompt_need == ctx->prompts) {
		if ((answer = prompt_answer(ctx->prompts, SASL_CB_PASS)) != NULL) {
			creds->pass = answer->result;
			creds->pass_len = answer->len;
		}
		if ((answer = prompt_answer(ctx->prompts, SASL_CB_AUTHNAME)) != NULL)
			creds->authname = answer->result;
	}
	pass_ret = creds->pass != NULL ? SASL_OK : get_password(params, creds);
	name_ret = creds->authname != NULL ? SASL_OK :
		get_simple(params, SASL_CB_AUTHNAME, &creds->authname);
	if ((pass_ret == SASL_INTERACT || name_ret == SASL_INTERACT) && ctx->prompts == NULL &&
	    prompt_need != NULL)
		return prompts_make(ctx, params->utils, pass_ret == SASL_INTERACT,
				    name_ret == SASL_INTERACT, prompt_need);
	return pass_ret == SASL_OK ? SASL_OK : SASL_BADPARAM;
}

static const struct moa2_token_account *
account_of(const struct client_glob *glob, const struct client_creds *creds)
{
	const struct moa2_token_account *account = NULL;
	char name[1024];

	if (creds->pass_len == 0 || creds->pass_len >= sizeof(name))
		return NULL;
	memcpy(name, creds->pass, creds->pass_len);
	name[creds->pass_len] = '\0';
	/* a NUL inside is no account name either */
	if (strlen(name) == creds->pass_len)
		account = name[0] == '/' ? moa2_token_config_find_file(glob->config, name) :
			moa2_token_config_find(glob->config, name);
	/* a misconfigured map may hold a real password here */
	OPENSSL_cleanse(name, sizeof(name));
	return account;
}

static void
unknown_account_error(const sasl_utils_t *utils, const struct client_glob *glob,
		      const struct client_creds *creds)
{
	char fp[MOA2_FINGERPRINT_LEN + 1], names[512] = "";
	size_t len = 0;

	moa2_token_fingerprint(creds->pass, creds->pass_len, fp);
	for (unsigned int i = 0; i < glob->config->accounts_count && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
					i == 0 ? "" : ", ", glob->config->accounts[i].name);
	moa2_sasl_seterror(utils, "the password field of the SASL password map "
			   "(fingerprint %s) names no [account NAME] of %s: write the "
			   "account name there (accounts: %s)", fp, glob->conf_path,
			   len > 0 ? names : "none");
}

/* ------------------------------------------------------------- mechanisms */

static int
client_mech_new(void *glob_context, sasl_client_params_t *params,
		void **conn_context)
{
	const enum moa2_sasl_mech *mech = glob_context;
	struct client_ctx *ctx;

	if (moa2_sasl_conn_new(params->utils, sizeof(*ctx), conn_context) != SASL_OK)
		return SASL_NOMEM;
	ctx = *conn_context;
	ctx->mech = *mech;
	return SASL_OK;
}

static void
ctx_wipe(struct client_ctx *ctx, const sasl_utils_t *utils)
{
	if (ctx->out != NULL) {
		OPENSSL_cleanse(ctx->out, ctx->out_len);
		utils->free(ctx->out);
		ctx->out = NULL;
	}
	if (ctx->token != NULL) {
		OPENSSL_cleanse(ctx->token, strlen(ctx->token));
		utils->free(ctx->token);
		ctx->token = NULL;
	}
}

static void
client_mech_dispose(void *conn_context, const sasl_utils_t *utils)
{
	struct client_ctx *ctx = conn_context;

	if (ctx == NULL)
		return;
	ctx_wipe(ctx, utils);
	prompts_free(ctx, utils, NULL);
	utils->free(ctx);
}

/* Builds the initial response with a fresh token. */
static int
client_start(struct client_ctx *ctx, struct client_glob *glob,
	     sasl_client_params_t *params, sasl_interact_t **prompt_need,
	     const char **clientout, unsigned *clientoutlen,
	     sasl_out_params_t *oparams)
{
	const sasl_utils_t *utils = params->utils;
	const char *user;
	const struct moa2_token_account *account;
	struct moa2_sasl_client_params build = { 0 };
	struct client_creds creds;
	enum moa2_sasl_error err;
	struct moa2_token token;
	char *raw = NULL, *error = NULL;
	size_t raw_len = 0;
	int ret;

	if (glob->config_error != NULL) {
		moa2_sasl_seterror(utils, "%s", glob->config_error);
		return SASL_FAIL;
	}
	ret = get_creds(ctx, params, prompt_need, &creds);
	if (ret == SASL_INTERACT || ret == SASL_NOMEM)
		return ret;
	if (ret != SASL_OK) {
		prompts_free(ctx, utils, prompt_need);
		moa2_sasl_seterror(utils, "no password from the application: the password "
				   "field (Postfix: of the SASL password map; mbsync: Pass) "
				   "must name an [account NAME] of %s", glob->conf_path);
		return SASL_BADPARAM;
	}
	account = account_of(glob, &creds);
	if (account == NULL) {
		unknown_account_error(utils, glob, &creds);
		prompts_free(ctx, utils, prompt_need);
		return SASL_FAIL;
	}
	user = account->user != NULL ? account->user : creds.authname;
	if (ctx->mech == MOA2_MECH_XOAUTH2 && (user == NULL || *user == '\0')) {
		moa2_sasl_seterror(utils, "account %s: XOAUTH2 needs a user name: give it "
				   "in the SASL password map or as user in [account %s]",
				   account->name, account->name);
		prompts_free(ctx, utils, prompt_need);
		return SASL_FAIL;
	}
	/* the answers point into the application's memory: our prompts can go */
	snprintf(ctx->account, sizeof(ctx->account), "%s", account->name);
	user = user != NULL && *user != '\0' ? user : NULL;
	if (params->canon_user(utils->conn, user != NULL ? user : account->name, 0,
			       SASL_CU_AUTHID | SASL_CU_AUTHZID, oparams) != SASL_OK) {
		prompts_free(ctx, utils, prompt_need);
		return SASL_FAIL;
	}
	prompts_free(ctx, utils, prompt_need);
	moa2_sasl_log_bind(&glob->log, utils);
	if (moa2_token_get(glob->client, account->name, 0, &token, &error) < 0) {
		moa2_sasl_seterror(utils, "%s", error);
		free(error);
		return SASL_UNAVAIL;
	}
	build.user = user;
	build.host = params->serverFQDN != NULL && *params->serverFQDN != '\0' ?
		params->serverFQDN : NULL;
	build.token = token.access_token;
	if (moa2_sasl_build(ctx->mech, &build, &raw, &raw_len, &err) < 0) {
		moa2_sasl_seterror(utils, "account %s: cannot build the %s response: %s",
				   account->name, moa2_sasl_mech_name(ctx->mech),
				   moa2_sasl_error_sentence(err));
		moa2_token_clear(&token);
		return SASL_FAIL;
	}
	ctx->out = utils->malloc(raw_len + 1);
	ctx->token = moa2_sasl_strdup(utils, token.access_token);
	if (ctx->out == NULL || ctx->token == NULL) {
		moa2_secret_free(raw, raw_len + 1);
		moa2_token_clear(&token);
		return SASL_NOMEM;
	}
	memcpy(ctx->out, raw, raw_len + 1);
	ctx->out_len = raw_len;
	moa2_secret_free(raw, raw_len + 1);
	memcpy(ctx->fingerprint, token.fingerprint, sizeof(ctx->fingerprint));
	moa2_token_clear(&token);
	moa2_sasl_log(utils, utils->conn, SASL_LOG_DEBUG, "account %s: %s with token %s",
		      ctx->account, moa2_sasl_mech_name(ctx->mech), ctx->fingerprint);
	*clientout = ctx->out;
	*clientoutlen = (unsigned)ctx->out_len;
	ctx->state = CLIENT_SENT;
	/* not done: a challenge now means the relay refused the token */
	return SASL_CONTINUE;
}

/* The relay answered the token with a challenge: it refused it. */
static int
client_rejected(struct client_ctx *ctx, struct client_glob *glob,
		const sasl_utils_t *utils, const char *serverin, unsigned len)
{
	struct moa2_sasl_challenge challenge;
	enum moa2_sasl_error err;
	char why[256] = "", *error = NULL;
	bool dropped;

	if (serverin != NULL && len > 0 &&
	    moa2_sasl_challenge_parse(serverin, len, &challenge, &err) == 0) {
		snprintf(why, sizeof(why), " (status %s%s%s)", challenge.status,
			 challenge.scope != NULL ? ", scope " : "",
			 challenge.scope != NULL ? challenge.scope : "");
		moa2_sasl_challenge_clear(&challenge);
	}
	moa2_sasl_log_bind(&glob->log, utils);
	dropped = moa2_token_invalidate(glob->client, ctx->account, ctx->token, &error) == 0;
	if (!dropped) {
		moa2_sasl_log(utils, utils->conn, SASL_LOG_WARN, "%s", error);
		free(error);
	}
	moa2_sasl_seterror(utils, "account %s: the relay rejected access token %s%s; "
			   "%s the next attempt gets a new token (if it is rejected "
			   "too, check the account's scope and the mailbox's permission "
			   "to send)", ctx->account, ctx->fingerprint, why,
			   dropped ? "it was dropped from the store and" : "");
	ctx_wipe(ctx, utils);
	ctx->state = CLIENT_FAILED;
	return SASL_TRYAGAIN;
}

static int
client_done(struct client_ctx *ctx, const sasl_utils_t *utils,
	    sasl_out_params_t *oparams)
{
	ctx_wipe(ctx, utils);
	ctx->state = CLIENT_DONE;
	moa2_sasl_oparams_done(oparams);
	return SASL_OK;
}

static int
client_mech_step(void *conn_context, sasl_client_params_t *params,
		 const char *serverin, unsigned serverinlen,
		 sasl_interact_t **prompt_need, const char **clientout,
		 unsigned *clientoutlen, sasl_out_params_t *oparams)
{
	struct client_ctx *ctx = conn_context;
	struct client_glob *glob = glob_client;

	*clientout = NULL;
	*clientoutlen = 0;
	if (glob == NULL)
		return SASL_FAIL;
	switch (ctx->state) {
	case CLIENT_START:
		return client_start(ctx, glob, params, prompt_need, clientout,
				    clientoutlen, oparams);
	case CLIENT_SENT:
		/* no data: the server's success (IMAP clients step once more
		   after OK); a rejection always comes with its challenge */
		if (serverinlen == 0)
			return client_done(ctx, params->utils, oparams);
		return client_rejected(ctx, glob, params->utils, serverin, serverinlen);
	case CLIENT_DONE:
	case CLIENT_FAILED:
		break;
	}
	moa2_sasl_seterror(params->utils, "the authentication already failed");
	return SASL_FAIL;
}

static void
client_mech_free(void *glob_context, const sasl_utils_t *utils)
{
	(void)glob_context;
	(void)utils;
	if (glob_client != NULL && --glob_client->refs == 0)
		client_glob_free(&glob_client);
}

/* A bearer token is a plaintext credential: no SASL_SEC_NOPLAINTEXT, so
   Postfix needs smtp_sasl_security_options = noanonymous (TLS required by
   smtp_tls_security_level = encrypt), as for PLAIN. */
static sasl_client_plug_t client_plugins[] = {
	MOA2_SASL_PLUG("XOAUTH2", &moa2_sasl_mech_xoauth2,
		       SASL_FEAT_WANT_CLIENT_FIRST, client),
	MOA2_SASL_PLUG("OAUTHBEARER", &moa2_sasl_mech_oauthbearer,
		       SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY, client),
};

int
moa2_sasl_client_init(const sasl_utils_t *utils, int max_version,
		      int *out_version, sasl_client_plug_t **pluglist,
		      int *plugcount)
{
	if (moa2_sasl_check_version(utils, "client", SASL_CLIENT_PLUG_VERSION,
				    max_version) != SASL_OK)
		return SASL_BADVERS;
	if (glob_client == NULL) {
		glob_client = calloc(1, sizeof(*glob_client));
		if (glob_client == NULL)
			return SASL_NOMEM;
		client_glob_load(glob_client, utils);
	}
	glob_client->refs += 2;
	*out_version = SASL_CLIENT_PLUG_VERSION;
	*pluglist = client_plugins;
	*plugcount = 2;
	return SASL_OK;
}
