/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_API_H
#define DOVECOT_API_H

/* The seam between the shared Dovecot adapter and one Dovecot auth API.

   configure picks exactly one API by compile probes (MOA2_DOVECOT_API in
   config.h, the BUILD_DOVECOT_API_* conditionals) and plugin/dovecot/
   Makefile.am builds its file(s):

     API   Dovecot            file(s)                     probe
     23    2.3.x              dovecot-api-23.c            mech.h, passdb
                                                          preinit(pool, args)
     240   2.4.0 - 2.4.1      dovecot-api-240.c,          mech.h, settings_get(),
                              dovecot-api-24.c,           passdb preinit(pool,
                              dovecot-settings-24.c       event, &mod, &error)
     242   2.4.2 and later    dovecot-api-242.c,          sasl-server-oauth2.h,
                              mech-oauth2-bearer-242.c,   no mech.h (2.4.3+:
                              dovecot-api-24.c,           preinit with struct
                              dovecot-settings-24.c       passdb_parameters)

   dovecot-api-24.c holds what 240 and 242 share (the worker round trip,
   the accessors, the passdb's preinit and init behind each API's own
   passdb_module_interface).

   Shared by every API: passdb-bearer.c (verification, the verdict, claims
   export, the module's life cycle), passdb-bearer-threads.c (the
   verification threads), dovecot-log.c (the mail-oauth2 log category). The
   mechanism side of the struct mech_module APIs (23, 240) is
   mech-oauth2-bearer.c; the lib-sasl API (242) has its own,
   mech-oauth2-bearer-242.c, with the mech_oauth2_bearer_* functions of
   passdb-bearer.h.

   An API file provides, below:
   - the passdb module: a struct passdb_module_interface "bearer" whose
     preinit reads the settings its way into struct moa2_dovecot_passdb_set
     and calls moa2_bearer_passdb_create(), whose init/deinit/verify_plain
     are the shared ones; it registers it from the exported
     authdb_bearer_init() (libauthdb_bearer.so, loaded for driver = bearer)
     and exports authdb_bearer_version = DOVECOT_ABI_VERSION;
   - moa2_dovecot_mechs_install(): our XOAUTH2/OAUTHBEARER in place of the
     built-ins, called from the passdb's init in the auth master;
   - moa2_dovecot_worker_verify_plain(): the auth-worker round trip;
   - the request accessors and global settings the shared code reads.
   Everything else (auth_request_set_field, auth_request_success, ...,
   events, pools) is Dovecot API that 2.3 and 2.4 share. */

#include "passdb.h"

#include <string.h>

struct auth_request;

/* ------------------------------------------------------ passdb settings */

/* Where tokens are verified. */
enum moa2_dovecot_blocking {
	MOA2_DOVECOT_BLOCKING_THREADS,   /* blocking=threads (default) */
	MOA2_DOVECOT_BLOCKING_WORKERS,   /* blocking=yes: auth-workers */
	MOA2_DOVECOT_BLOCKING_INPROCESS, /* blocking=no: the main thread */
};

/* The settings of one bearer passdb, however the API gets them (2.3: the
   passdb's args string; 2.4: settings_get() of the passdb's block). */
struct moa2_dovecot_passdb_set {
	/* the verifier config (verify.conf) */
	const char *config_path;
	enum moa2_dovecot_blocking blocking;
	/* blocking=threads: the number of threads, 0 = the default */
	unsigned int threads;
	/* keep Dovecot's own XOAUTH2/OAUTHBEARER */
	bool builtin_mechanisms;
	/* accept doubly base64-encoded responses */
	bool allow_double_base64;
};

#define MOA2_DOVECOT_DEFAULT_CONFIG "/etc/mail-oauth2/verify.conf"
/* threads=N: more than that is a typo, not a machine */
#define MOA2_DOVECOT_THREADS_MAX 64

/* -------------------------------------- shared (passdb-bearer.c), for the API */

/* The passdb module for set (copied; its strings must live in pool).
   Loads the verify config and creates the verifier(s) now, as root; a
   config error is fatal (i_fatal with FILE:LINE). */
struct passdb_module *
moa2_bearer_passdb_create(pool_t pool, const struct moa2_dovecot_passdb_set *set);
void moa2_bearer_passdb_init(struct passdb_module *module);
void moa2_bearer_passdb_deinit(struct passdb_module *module);
void moa2_bearer_passdb_verify_plain(struct auth_request *request,
				     const char *password,
				     verify_plain_callback_t *callback);

/* ------------------------------------------- per API (dovecot-api-NN.c) */

/* Puts our XOAUTH2 and OAUTHBEARER in place of Dovecot's (the mechanisms
   auth_mechanisms enabled), the codec flags (MOA2_SASL_FLAG_*) applying to
   every request. Called from the passdb's init() in the auth master
   process, once per bearer passdb. Logs what it did; failing to replace is
   an error line, not fatal (the built-ins then hand us the token). */
void moa2_dovecot_mechs_install(unsigned int sasl_flags);

/* Called for each field "moa2_*" that a worker sent back with its reply,
   before the reply reaches Dovecot (which then never sees the field). */
typedef void moa2_dovecot_worker_field_t(struct auth_request *request,
					 const char *key, const char *value);

/* Runs the passdb's verify_plain in an auth-worker process, like a
   passdb with blocking = TRUE, but lets the caller add fields to the
   worker's request (extra_field: "key=value" or NULL; the worker sees it as
   a passdb extra field) and see the moa2_* fields of the reply even when
   the lookup failed (Dovecot drops the extra fields of a failed lookup). */
void moa2_dovecot_worker_verify_plain(struct auth_request *request,
				      const char *extra_field,
				      moa2_dovecot_worker_field_t *field_cb,
				      verify_plain_callback_t *callback);

/* The openid-configuration URL another passdb (Dovecot's own oauth2)
   left on the request for the failure challenge, or NULL (2.4 has none:
   its oauth2 passdb is gone). */
const char *
moa2_dovecot_request_openid_configuration(const struct auth_request *request);

/* auth_debug = yes */
bool moa2_dovecot_auth_debug(void);

/* For XOAUTH2/OAUTHBEARER: the passdb walk of the next
   auth_request_verify_plain() starts at the first token passdb (driver
   bearer or oauth2) instead of passdbs listed before it that would take
   the token for a password (pam, passwd-file, sql ...), unless a deny
   passdb comes first (its users must still be refused) or the request is
   a master user login. Returns TRUE when passdbs were skipped. */
bool moa2_dovecot_start_at_token_passdb(struct auth_request *request);

/* How the admin accepts doubly base64-encoded responses, for the log line
   that names them (2.3: "passdb args allow_double_base64=yes"). */
const char *moa2_dovecot_double_base64_option(void);

/* ----------------------------------------------------------- helpers */

/* str_begins() of 2.3, str_begins_with() of 2.4 */
static inline bool
moa2_dovecot_str_begins(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

#endif
