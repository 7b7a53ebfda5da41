/* SPDX-License-Identifier: MIT */
/* The plugin's two entry points and the glue shared by its mechanisms:
   logging through utils->log, failure reasons through utils->seterror,
   Cyrus options and config paths, version checks, connection contexts and
   the mechanism table entries. Only sasl_client_plug_init and sasl_server_plug_init are
   exported; everything else (and the whole core) is hidden.
   Failure behaviour: the init functions always register their mechanisms,
   even with a broken config: a mechanism that is missing shows up in
   Postfix as "No worthy mechs found", which tells the admin nothing. The
   config error is logged at init and returned by every authentication. */

#include "config.h"
#include "sasl-plugin.h"

#include "mail-oauth2/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOA2_EXPORT __attribute__((visibility("default")))

const enum moa2_sasl_mech moa2_sasl_mech_xoauth2 = MOA2_MECH_XOAUTH2;
const enum moa2_sasl_mech moa2_sasl_mech_oauthbearer = MOA2_MECH_OAUTHBEARER;

int sasl_client_plug_init(const sasl_utils_t *utils, int max_version,
			  int *out_version, sasl_client_plug_t **pluglist,
			  int *plugcount) MOA2_EXPORT;
int sasl_server_plug_init(const sasl_utils_t *utils, int max_version,
			  int *out_version, sasl_server_plug_t **pluglist,
			  int *plugcount) MOA2_EXPORT;

int
sasl_client_plug_init(const sasl_utils_t *utils, int max_version,
		      int *out_version, sasl_client_plug_t **pluglist,
		      int *plugcount)
{
	return moa2_sasl_client_init(utils, max_version, out_version, pluglist,
				     plugcount);
}

int
sasl_server_plug_init(const sasl_utils_t *utils, int max_version,
		      int *out_version, sasl_server_plug_t **pluglist,
		      int *plugcount)
{
	return moa2_sasl_server_init(utils, max_version, out_version, pluglist,
				     plugcount);
}

/* ---------------------------------------------------------------- logging */

static int
cyrus_level(enum moa2_log_level level)
{
	switch (level) {
	case MOA2_LOG_DEBUG:
		return SASL_LOG_DEBUG;
	case MOA2_LOG_INFO:
		return SASL_LOG_NOTE;
	case MOA2_LOG_WARNING:
		return SASL_LOG_WARN;
	case MOA2_LOG_ERROR:
		return SASL_LOG_ERR;
	}
	return SASL_LOG_ERR;
}

static void
core_log(void *context, enum moa2_log_level level, const char *message)
{
	const struct moa2_sasl_log *log = context;

	if (log->utils != NULL && log->utils->log != NULL)
		log->utils->log(log->conn, cyrus_level(level), "%s%s",
				MOA2_SASL_LOG_PREFIX, message);
}

void
moa2_sasl_log_bind(struct moa2_sasl_log *log, const sasl_utils_t *utils)
{
	log->utils = utils;
	log->conn = utils->conn;
}

void
moa2_sasl_logger_init(struct moa2_logger *logger, struct moa2_sasl_log *log,
		      const sasl_utils_t *utils, bool debug)
{
	log->utils = utils;
	log->conn = NULL;
	logger->func = core_log;
	logger->context = log;
	logger->debug = debug;
}

void
moa2_sasl_log(const sasl_utils_t *utils, sasl_conn_t *conn, int level,
	      const char *fmt, ...)
{
	char message[1024];
	va_list args;

	if (utils == NULL || utils->log == NULL)
		return;
	va_start(args, fmt);
	vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	/* Cyrus' own formatter knows few directives: hand it a finished line */
	utils->log(conn, level, "%s%s", MOA2_SASL_LOG_PREFIX, message);
}

void
moa2_sasl_log_line(const sasl_utils_t *utils, sasl_conn_t *conn,
		   enum moa2_log_level level, const char *text)
{
	moa2_sasl_log(utils, conn, cyrus_level(level), "%s", text);
}

void
moa2_sasl_seterror(const sasl_utils_t *utils, const char *fmt, ...)
{
	char message[1024];
	va_list args;

	va_start(args, fmt);
	vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	utils->seterror(utils->conn, 0, "%s%s", MOA2_SASL_LOG_PREFIX, message);
}

const char *
moa2_sasl_getopt(const sasl_utils_t *utils, const char *option)
{
	const char *value = NULL;
	unsigned int len = 0;

	if (utils->getopt == NULL ||
	    utils->getopt(utils->getopt_context, "mail-oauth2", option, &value,
			  &len) != SASL_OK || value == NULL || len == 0)
		return NULL;
	return value;
}

char *
moa2_sasl_conf_path(const sasl_utils_t *utils, const char *option,
		    const char *env, const char *fallback)
{
	const char *path = moa2_sasl_getopt(utils, option);

	if (path == NULL)
		path = getenv(env);
	if (path == NULL || *path == '\0')
		path = fallback;
	return moa2_strdup(path);
}

char *
moa2_sasl_strdup(const sasl_utils_t *utils, const char *str)
{
	size_t len = strlen(str);
	char *copy = utils->malloc(len + 1);

	if (copy != NULL)
		memcpy(copy, str, len + 1);
	return copy;
}

int
moa2_sasl_check_version(const sasl_utils_t *utils, const char *half,
			int needed, int offered)
{
	if (offered >= needed)
		return SASL_OK;
	moa2_sasl_log(utils, NULL, SASL_LOG_ERR, "%s plugin version %d needed, "
		      "the library offers %d", half, needed, offered);
	return SASL_BADVERS;
}

int
moa2_sasl_conn_new(const sasl_utils_t *utils, size_t size,
		   void **conn_context_r)
{
	void *ctx = utils->malloc(size);

	if (ctx == NULL)
		return SASL_NOMEM;
	memset(ctx, 0, size);
	*conn_context_r = ctx;
	return SASL_OK;
}

void
moa2_sasl_oparams_done(sasl_out_params_t *oparams)
{
	oparams->doneflag = 1;
	oparams->mech_ssf = 0;
	oparams->maxoutbuf = 0;
	oparams->encode_context = NULL;
	oparams->encode = NULL;
	oparams->decode_context = NULL;
	oparams->decode = NULL;
	oparams->param_version = 0;
}
