/* SPDX-License-Identifier: MIT */
#ifndef MOA2_SASL_PLUGIN_H
#define MOA2_SASL_PLUGIN_H

/* The Cyrus SASL plugin of mail-oauth2 (libmail-oauth2.so): client
   mechanisms that fetch and refresh tokens themselves (mech-client.c) and
   server mechanisms that verify with the engine (mech-server.c), XOAUTH2
   and OAUTHBEARER each. Only the files of plugin/sasl include Cyrus
   headers; the core gets a log callback and plain C strings. */

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "mail-oauth2/log.h"
#include "mail-oauth2/sasl-codec.h"

#define MOA2_SASL_LOG_PREFIX "mail-oauth2: "

/* Environment variables and Cyrus options naming the config files. */
#define MOA2_SASL_CLIENT_CONF_ENV "MAIL_OAUTH2_CONF"
#define MOA2_SASL_CLIENT_CONF_OPTION "mail_oauth2_conf"
#define MOA2_SASL_CLIENT_CONF_DEFAULT "/etc/mail-oauth2/client.conf"
#define MOA2_SASL_SERVER_CONF_ENV "MAIL_OAUTH2_VERIFY_CONF"
#define MOA2_SASL_SERVER_CONF_OPTION "mail_oauth2_verify_conf"
#define MOA2_SASL_SERVER_CONF_DEFAULT "/etc/mail-oauth2/verify.conf"
#define MOA2_SASL_SERVER_DOUBLE_B64_OPTION "mail_oauth2_allow_double_base64"

/* Where core log messages go: the utils (and connection) of the current
   call. One per global context; steps point it at their connection. */
struct moa2_sasl_log {
	const sasl_utils_t *utils;
	sasl_conn_t *conn;
};

/* Points log at the utils and connection of the current step. */
void moa2_sasl_log_bind(struct moa2_sasl_log *log, const sasl_utils_t *utils);

/* A core logger that writes through log, which it points at utils. */
void moa2_sasl_logger_init(struct moa2_logger *logger, struct moa2_sasl_log *log,
			   const sasl_utils_t *utils, bool debug);

/* utils->log with the prefix, at a Cyrus level (SASL_LOG_ERR ...). */
void moa2_sasl_log(const sasl_utils_t *utils, sasl_conn_t *conn, int level,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* utils->log with the prefix, at the Cyrus level of a core level (a
   verdict line of verdict.h). */
void moa2_sasl_log_line(const sasl_utils_t *utils, sasl_conn_t *conn,
			enum moa2_log_level level, const char *text);
/* utils->seterror with the prefix: the reason of a failed step (Cyrus
   also logs it at SASL_LOG_FAIL: Postfix's "SASL authentication
   failure: ..." line). */
void moa2_sasl_seterror(const sasl_utils_t *utils, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The value of a Cyrus option (smtpd.conf), or NULL. */
const char *moa2_sasl_getopt(const sasl_utils_t *utils, const char *option);

/* A malloc()ed copy of a config path: the Cyrus option, else the
   environment variable, else the default. Aborts on ENOMEM. */
char *moa2_sasl_conf_path(const sasl_utils_t *utils, const char *option,
				const char *env, const char *fallback);

/* A copy of a string in utils memory, NULL on ENOMEM. */
char *moa2_sasl_strdup(const sasl_utils_t *utils, const char *str);

/* SASL_OK when Cyrus offers at least the plug version the half ("client",
   "server") needs; else logs why and returns SASL_BADVERS. */
int moa2_sasl_check_version(const sasl_utils_t *utils, const char *half,
			    int needed, int offered);

/* A zeroed connection context of size bytes in utils memory, stored in
   *conn_context_r: SASL_OK or SASL_NOMEM. */
int moa2_sasl_conn_new(const sasl_utils_t *utils, size_t size,
		       void **conn_context_r);

/* Marks a mechanism's success in oparams: done, no security layer. */
void moa2_sasl_oparams_done(sasl_out_params_t *oparams);

/* The glob_context of each mechanism: its codec mechanism. */
extern const enum moa2_sasl_mech moa2_sasl_mech_xoauth2;
extern const enum moa2_sasl_mech moa2_sasl_mech_oauthbearer;

/* One entry of a client or server plug table (the two types name these
   fields alike); prefix names the half's prefix_mech_new, _step, _dispose
   and _free. No SASL_SEC_NOPLAINTEXT: a bearer token is a plaintext
   credential, as PLAIN's password is. */
#define MOA2_SASL_PLUG(name, mech, feature_flags, prefix) {	\
		.mech_name = (name),				\
		.max_ssf = 0,					\
		.security_flags = SASL_SEC_NOANONYMOUS,		\
		.features = (feature_flags),			\
		.glob_context = (void *)(mech),			\
		.mech_new = prefix##_mech_new,			\
		.mech_step = prefix##_mech_step,		\
		.mech_dispose = prefix##_mech_dispose,		\
		.mech_free = prefix##_mech_free,		\
	}

/* The init functions of the two halves (sasl-plugin.c exports them). */
int moa2_sasl_client_init(const sasl_utils_t *utils, int max_version,
			  int *out_version, sasl_client_plug_t **pluglist,
			  int *plugcount);
int moa2_sasl_server_init(const sasl_utils_t *utils, int max_version,
			  int *out_version, sasl_server_plug_t **pluglist,
			  int *plugcount);

#endif
