#ifndef MOA2_SASL_PLUGIN_H
#define MOA2_SASL_PLUGIN_H

/* The Cyrus SASL plugin of mail-oauth2 (libmail-oauth2.so): client
   mechanisms that fetch and refresh tokens themselves (mech-client.c) and
   server mechanisms that verify with the engine (mech-server.c), XOAUTH2
   and OAUTHBEARER each. Only the files of plugin/sasl include Cyrus
   headers; the core gets a log callback and plain C strings. */

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "moa2-log.h"

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

/* A core logger that writes through utils->log. */
void moa2_sasl_logger_init(struct moa2_logger *logger, struct moa2_sasl_log *log,
			   bool debug);

/* utils->log with the prefix, at a Cyrus level (SASL_LOG_ERR ...). */
void moa2_sasl_log(const sasl_utils_t *utils, sasl_conn_t *conn, int level,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* utils->seterror with the prefix: the reason of a failed step (Cyrus
   also logs it at SASL_LOG_FAIL: Postfix's "SASL authentication
   failure: ..." line). */
void moa2_sasl_seterror(const sasl_utils_t *utils, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The value of a Cyrus option (smtpd.conf), or NULL. */
const char *moa2_sasl_getopt(const sasl_utils_t *utils, const char *option);

/* A copy of a string in utils memory, NULL on ENOMEM. */
char *moa2_sasl_strdup(const sasl_utils_t *utils, const char *str);

/* The init functions of the two halves (sasl-plugin.c exports them). */
int moa2_sasl_client_init(const sasl_utils_t *utils, int max_version,
			  int *out_version, sasl_client_plug_t **pluglist,
			  int *plugcount);
int moa2_sasl_server_init(const sasl_utils_t *utils, int max_version,
			  int *out_version, sasl_server_plug_t **pluglist,
			  int *plugcount);

#endif
