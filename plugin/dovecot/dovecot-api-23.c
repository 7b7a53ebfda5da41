/* SPDX-License-Identifier: MIT */
/* The Dovecot 2.3 auth API (dovecot-api.h): the passdb module with its
   args string, and the hooks into Dovecot internals that no plugin API
   offers. Keep them all here, small, and re-check them for every Dovecot
   release.

     passdb {
       driver = bearer
       args = [blocking=threads|yes|no] [threads=N] [builtin_mechanisms=no|yes]
              [allow_double_base64=no|yes] [/etc/mail-oauth2/verify.conf]
     }

   A bad args string stops the auth process at start-up (i_fatal).

   Checked against the source of Dovecot 2.3.19.1 (Debian 12's 2.3.19.1,
   the headers this module is built with); struct mechanisms_register,
   struct mech_module and the PASSV worker protocol are the same from 2.3.13
   to 2.3.21.1. The module's ABI version string makes Dovecot refuse to load
   it into any other version than the one it was built for. Dovecot 2.4
   changed the mechanism API (its OAuth2 mechanisms no longer go through a
   passdb) and has adapters of its own (dovecot-api-240.c, -242.c).

   1. Mechanism replacement. main.c:main_preinit() runs mech_init() (the
      built-ins) and then mech_register_init(), which copies each mechanism
      of auth_mechanisms into a register *before* passdbs are created
      (auths_preinit), and a lazily loaded libauthdb_*.so is loaded only by
      passdb_preinit(). A module loaded at start-up cannot win either: its
      init runs before mech_init(), which puts the built-ins in front of it.
      So the passdb's init() overwrites the register's copy of XOAUTH2 and
      OAUTHBEARER with ours. It runs in auths_init(), before the auth
      process accepts any connection; auth-request-handler.c looks the
      mechanism up in auth_default_service()->reg for each AUTH command.
      The register is freed (mech_register_deinit) before modules are
      unloaded, so it never points into an unloaded module.

   2. Worker calls. A passdb with blocking = TRUE runs in an auth-worker;
      its reply's extra fields reach the master, but
      auth_request_handle_passdb_callback() rolls back the extra fields of
      a failed lookup before the mechanism's callback runs, so the failure
      challenge (scope, openid-configuration) would be lost: that is why
      Dovecot's own oauth2 passdb loses openid-configuration in a worker.
      We send the worker the same PASSV command passdb-blocking.c sends
      and read its reply ourselves first. The worker calls the passdb's
      verify_plain directly (auth-worker-client.c:auth_worker_handle_passv)
      whatever its blocking flag says. */

#include "auth-common.h"
#include "str.h"
#include "strescape.h"
#include "auth.h"
#include "mech.h"
#include "auth-request.h"
#include "auth-worker-server.h"
#include "passdb-blocking.h"
#include "strnum.h"
#include "module-dir.h"

#include "mail-oauth2/verify-config.h"

#include "dovecot-api.h"
#include "dovecot-log.h"
#include "dovecot-worker.h"
#include "passdb-bearer.h"

#define MOA2_EXPORT __attribute__((visibility("default")))

/* the auth of the default service: its register holds the mechanisms
   auth_mechanisms enabled (mech-oauth2-bearer.c replaces ours there) */
struct auth *
mech_oauth2_bearer_default_auth(void)
{
	return auth_default_service();
}

struct moa2_worker_call {
	struct auth_request *request;
	moa2_dovecot_worker_field_t *field_cb;
	verify_plain_callback_t *callback;
};

static const char *
worker_reply_join(const char *const *args)
{
	string_t *str = t_str_new(256);

	for (unsigned int i = 0; args[i] != NULL; i++) {
		if (i > 0)
			str_append_c(str, '\t');
		str_append_tabescaped(str, args[i]);
	}
	return str_c(str);
}

/* 2.3's worker callback gets the reply as one line */
static bool
worker_verify_plain_reply(struct auth_worker_connection *conn ATTR_UNUSED,
			  const char *reply, void *context)
{
	struct moa2_worker_call *call = context;
	struct auth_request *request = call->request;
	const char *const *args;
	enum passdb_result result;

	args = moa2_dovecot_worker_reply_filter(request,
		t_strsplit_tabescaped(reply), call->field_cb);
	result = passdb_blocking_auth_worker_reply_parse(request,
		worker_reply_join(args));
	call->callback(result, request);
	auth_request_unref(&request);
	return TRUE;
}

void
moa2_dovecot_worker_verify_plain(struct auth_request *request,
				 const char *extra_field,
				 moa2_dovecot_worker_field_t *field_cb,
				 verify_plain_callback_t *callback)
{
	struct moa2_worker_call *call;

	call = p_new(request->pool, struct moa2_worker_call, 1);
	call->request = request;
	call->field_cb = field_cb;
	call->callback = callback;

	auth_request_ref(request);
	auth_worker_call(request->pool, request->fields.user,
			 moa2_dovecot_worker_passv(request, extra_field),
			 worker_verify_plain_reply, call);
}

const char *
moa2_dovecot_request_openid_configuration(const struct auth_request *request)
{
	return request->openid_config_url;
}

bool
moa2_dovecot_auth_debug(void)
{
	return global_auth_settings != NULL && global_auth_settings->debug;
}

const char *
moa2_dovecot_double_base64_option(void)
{
	return "passdb args allow_double_base64=yes";
}

/* ------------------------------------------------------------ args */

static bool
bearer_parse_bool(const char *key, const char *value)
{
	if (strcmp(value, "yes") == 0)
		return TRUE;
	if (strcmp(value, "no") == 0)
		return FALSE;
	i_fatal("passdb bearer: args: %s=%s: expected yes or no", key, value);
}

static enum moa2_dovecot_blocking
bearer_parse_blocking(const char *value)
{
	if (strcmp(value, "threads") == 0)
		return MOA2_DOVECOT_BLOCKING_THREADS;
	if (strcmp(value, "yes") == 0)
		return MOA2_DOVECOT_BLOCKING_WORKERS;
	if (strcmp(value, "no") == 0)
		return MOA2_DOVECOT_BLOCKING_INPROCESS;
	i_fatal("passdb bearer: args: blocking=%s: expected yes, no or threads",
		value);
}

static unsigned int
bearer_parse_threads(const char *value)
{
	unsigned int count;

	if (str_to_uint(value, &count) < 0 || count < 1 ||
	    count > MOA2_DOVECOT_THREADS_MAX) {
		i_fatal("passdb bearer: args: threads=%s: expected a number "
			"from 1 to %u", value, MOA2_DOVECOT_THREADS_MAX);
	}
	return count;
}

/* threads=N without blocking= means blocking=threads (the default);
   with blocking=yes or no, moa2_bearer_passdb_create() refuses it */
static void
bearer_parse_args(struct moa2_dovecot_passdb_set *set, pool_t pool,
		  const char *args)
{
	const char *const *arg = t_strsplit_spaces(args, " ");

	i_zero(set);
	set->blocking = MOA2_DOVECOT_BLOCKING_THREADS;
	set->config_path = MOA2_DOVECOT_DEFAULT_CONFIG;
	for (; *arg != NULL; arg++) {
		const char *value = strchr(*arg, '=');
		const char *key;

		if (value == NULL) {
			set->config_path = p_strdup(pool, *arg);
			continue;
		}
		key = t_strdup_until(*arg, value++);
		if (strcmp(key, "blocking") == 0)
			set->blocking = bearer_parse_blocking(value);
		else if (strcmp(key, "threads") == 0)
			set->threads = bearer_parse_threads(value);
		else if (strcmp(key, "builtin_mechanisms") == 0)
			set->builtin_mechanisms = bearer_parse_bool(key, value);
		else if (strcmp(key, "allow_double_base64") == 0)
			set->allow_double_base64 = bearer_parse_bool(key, value);
		else {
			i_fatal("passdb bearer: args: unknown option '%s' "
				"(known: blocking, threads, builtin_mechanisms, "
				"allow_double_base64, and the config path)", key);
		}
	}
}

/* ------------------------------------------------------------ module */

static struct passdb_module *
bearer_preinit(pool_t pool, const char *args)
{
	struct moa2_dovecot_passdb_set set;

	bearer_parse_args(&set, pool, args);
	return moa2_bearer_passdb_create(pool, &set);
}

static struct passdb_module_interface passdb_bearer = {
	.name = "bearer",

	.preinit = bearer_preinit,
	.init = moa2_bearer_passdb_init,
	.deinit = moa2_bearer_passdb_deinit,

	.verify_plain = moa2_bearer_passdb_verify_plain,
};

/* libauthdb_bearer.so: Dovecot loads it when a passdb says driver = bearer
   (passdb.c:passdb_preinit -> auth_module_load("authdb_bearer")) and
   refuses it unless authdb_bearer_version equals its own ABI version. */
MOA2_EXPORT extern const char *authdb_bearer_version;
MOA2_EXPORT void authdb_bearer_init(struct module *module);
MOA2_EXPORT void authdb_bearer_deinit(void);

const char *authdb_bearer_version = DOVECOT_ABI_VERSION;

void
authdb_bearer_init(struct module *module ATTR_UNUSED)
{
	passdb_register_module(&passdb_bearer);
}

void
authdb_bearer_deinit(void)
{
	passdb_unregister_module(&passdb_bearer);
}
