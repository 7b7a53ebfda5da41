/* SPDX-License-Identifier: MIT */
/* The Dovecot 2.4.2+ auth API (dovecot-api.h): mechanisms in lib-sasl
   (sasl-server-*.h, auth-sasl.h; no mech.h, no struct mech_module), the
   passdb settings through settings_get() (dovecot-settings-24.c, shared
   with 2.4.0-2.4.1), and the hooks into Dovecot internals that no plugin
   API offers. Keep them all here, small, and re-check them for every
   Dovecot release.

     passdb bearer {
       driver = bearer
       ... the keys of dovecot-settings-24.c
     }

   Checked against Dovecot 2.4.5 (Debian sid's 2.4.5+dfsg1, the headers
   this module is built with) and the dovecot/core source of 2.4.4 and
   main. The module's ABI version string makes Dovecot refuse to load it
   into any other version than the one it was built for.

   1. Mechanisms. Each auth (one per protocol block, auth.h: auths) has a
      SASL server instance, auth->sasl_inst, created by
      auth_sasl_instance_init() with the mechanisms of its auth_mechanisms
      after the passdbs' preinit; the passdbs' init() runs next
      (auths_init), then auth_sasl_init() builds the handshake (the MECH
      lines) from the server's mechanisms, before the auth process accepts
      any connection. So the passdb's init() replaces the built-in XOAUTH2
      and OAUTHBEARER by our definitions (mech-oauth2-bearer-242.c) in
      every instance that has them, as the older APIs replace them in the
      register. A mechanism name is unique across the server
      (sasl_server_mech_register asserts), so the built-in is first
      unregistered from every instance, then ours registered. Listing them
      in auth_mechanisms needs the settings module's default
      oauth2_introspection_mode (dovecot-settings-24.c): 2.4.5 too stops
      the auth process without it ("Cannot initialize oauth2"). The
      instances are freed (auths_free) before modules are unloaded, so
      they never point into an unloaded module.

   2. Worker calls: as in 2.3 (dovecot-api-23.c), we send the worker the
      PASSV command passdb-blocking.c sends and read its reply first, so
      that the moa2_* fields of a failed lookup reach the mechanism (the
      auth_request_handle_passdb_callback() rollback would drop them).
      2.4 hands the reply over already split into fields. The passdb's
      use_worker = yes is taken as blocking = yes: Dovecot sets
      passdb_module.blocking from it after preinit, and init() clears it
      again, so that Dovecot never makes the worker call itself. */

#include "auth-common.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "module-dir.h"
#include "auth.h"
#include "auth-request.h"
#include "auth-worker-connection.h"
#include "passdb-blocking.h"
#include "settings.h"
#include "auth-settings.h"
#include "dict.h"
#include "db-oauth2.h"

#include "dovecot-api.h"
#include "dovecot-api-242.h"
#include "dovecot-log.h"
#include "dovecot-settings-24.h"
#include "passdb-bearer.h"

#define MOA2_EXPORT __attribute__((visibility("default")))

#define MOA2_WORKER_FIELD_PREFIX "moa2_"

/* ------------------------------------------------------------ mechanisms */

/* our def in place of the mechanism of that name in each auth's SASL
   instance that has one (auth_mechanisms enabled it there); returns in how
   many */
static unsigned int
dovecot_mech_install(const struct sasl_server_mech_def *def)
{
	ARRAY(struct auth *) enabled;
	struct auth *auth;

	t_array_init(&enabled, array_count(&auths));
	/* first out of every instance: the name is unique server-wide */
	array_foreach_elem(&auths, auth) {
		const struct sasl_server_mech *mech =
			sasl_server_mech_find(auth->sasl_inst, def->name);

		if (mech == NULL)
			continue;
		array_push_back(&enabled, &auth);
		if (mech->def != def)
			sasl_server_mech_unregister(auth->sasl_inst, mech->def);
	}
	array_foreach_elem(&enabled, auth) {
		if (sasl_server_mech_find(auth->sasl_inst, def->name) == NULL)
			(void)sasl_server_mech_register(auth->sasl_inst, def, NULL);
	}
	return array_count(&enabled);
}

void
moa2_dovecot_mechs_install(unsigned int sasl_flags)
{
	const struct sasl_server_mech_def *const defs[] = {
		&moa2_mech_xoauth2_def, &moa2_mech_oauthbearer_def,
	};
	unsigned int i;

	mech_oauth2_bearer_set_sasl_flags(sasl_flags);
	if (!array_is_created(&auths) || array_is_empty(&auths)) {
		e_error(moa2_dovecot_log_event(), "cannot replace the built-in "
			"XOAUTH2 and OAUTHBEARER: no auth instance");
		return;
	}
	for (i = 0; i < N_ELEMENTS(defs); i++) T_BEGIN {
		if (dovecot_mech_install(defs[i]) > 0) {
			e_debug(moa2_dovecot_log_event(),
				"%s: using the mail-oauth2 mechanism",
				defs[i]->name);
		}
	} T_END;
}

/* ------------------------------------------------------------ workers */

struct moa2_worker_call {
	struct auth_request *request;
	moa2_dovecot_worker_field_t *field_cb;
	verify_plain_callback_t *callback;
};

/* Index of the first extra field of a worker reply:
   OK user password [fields], NEXT user [fields],
   FAIL result [user password [fields]]. */
static unsigned int
worker_reply_fields_start(const char *const *args, unsigned int count)
{
	if (count == 0)
		return count;
	if (strcmp(args[0], "OK") == 0)
		return I_MIN(3, count);
	if (strcmp(args[0], "NEXT") == 0)
		return I_MIN(2, count);
	if (strcmp(args[0], "FAIL") == 0)
		return I_MIN(4, count);
	return count;
}

/* Hands our fields to field_cb and returns the reply without them. */
static const char *const *
worker_reply_filter(struct moa2_worker_call *call, const char *const *args)
{
	unsigned int i, count = str_array_length(args);
	unsigned int start = worker_reply_fields_start(args, count);
	ARRAY_TYPE(const_string) out;

	t_array_init(&out, count + 1);
	for (i = 0; i < count; i++) {
		if (i >= start &&
		    moa2_dovecot_str_begins(args[i], MOA2_WORKER_FIELD_PREFIX)) {
			const char *value = strchr(args[i], '=');
			const char *key = value == NULL ? args[i] :
				t_strdup_until(args[i], value);

			call->field_cb(call->request, key,
				       value == NULL ? "" : value + 1);
			continue;
		}
		array_push_back(&out, &args[i]);
	}
	array_append_zero(&out);
	return array_front(&out);
}

static bool
worker_verify_plain_reply(struct auth_worker_connection *conn ATTR_UNUSED,
			  const char *const *args, void *context)
{
	struct moa2_worker_call *call = context;
	struct auth_request *request = call->request;
	enum passdb_result result;

	args = worker_reply_filter(call, args);
	result = passdb_blocking_auth_worker_reply_parse(request, args);
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
	string_t *str = t_str_new(256);

	call = p_new(request->pool, struct moa2_worker_call, 1);
	call->request = request;
	call->field_cb = field_cb;
	call->callback = callback;

	/* as passdb-blocking.c:passdb_blocking_verify_plain() */
	str_printfa(str, "PASSV\t%u\t", request->passdb->passdb->id);
	str_append_tabescaped(str, request->mech_password);
	str_append_c(str, '\t');
	auth_request_export(request, str);
	if (extra_field != NULL) {
		str_append(str, "\tpassdb_");
		str_append_tabescaped(str, extra_field);
	}

	auth_request_ref(request);
	auth_worker_call(request->pool, request->fields.user, str_c(str),
			 worker_verify_plain_reply, call);
}

/* ------------------------------------------------------------ requests */

const char *
moa2_dovecot_request_openid_configuration(
	const struct auth_request *request ATTR_UNUSED)
{
	/* no oauth2 passdb in 2.4 leaves one */
	return NULL;
}

bool
moa2_dovecot_auth_debug(void)
{
	return global_auth_settings != NULL && global_auth_settings->debug;
}

const char *
moa2_dovecot_double_base64_option(void)
{
	return "allow_double_base64 = yes in passdb bearer { }";
}

/* builtin_mechanisms = yes: Dovecot's own XOAUTH2/OAUTHBEARER validate
   tokens with the global oauth2 { } and never ask a passdb. Without an
   introspection URL or a local validation key dict they assert on the
   first token (2.4.5 too: oauth2-jwt.c, key_dict != NULL), since our
   settings module made local the default (dovecot-settings-24.c): refuse
   that now, at start-up, with a message saying what is missing. As in
   dovecot-api-240.c: the oauth2 settings API is the same. */
static int
bearer_check_builtin_oauth2(const char **error_r)
{
	const struct auth_oauth2_settings *set;
	struct event *event, *dict_event;
	struct dict *dict;
	const char *error;
	bool local;
	int ret;

	event = event_create(auth_event);
	settings_event_add_filter_name(event, "oauth2");
	if (settings_get(event, &auth_oauth2_setting_parser_info, 0, &set,
			 error_r) < 0) {
		event_unref(&event);
		return -1;
	}
	local = strcmp(set->introspection_mode, "local") == 0;
	settings_free(set);
	if (!local) {
		event_unref(&event);
		return 0;
	}
	dict_event = event_create(event);
	settings_event_add_filter_name(dict_event, "oauth2_local_validation");
	ret = dict_init_auto(dict_event, &dict, &error);
	if (ret > 0)
		dict_deinit(&dict);
	event_unref(&dict_event);
	event_unref(&event);
	if (ret < 0) {
		*error_r = t_strdup_printf("builtin_mechanisms = yes: "
			"oauth2_local_validation: %s", error);
		return -1;
	}
	if (ret == 0) {
		*error_r = "builtin_mechanisms = yes: Dovecot's own XOAUTH2 "
			"and OAUTHBEARER validate tokens with the oauth2 { } "
			"block, and it has neither an introspection URL nor an "
			"oauth2_local_validation key dict; configure one, or "
			"let mail-oauth2's mechanisms verify the tokens "
			"(builtin_mechanisms = no)";
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ module */

/* The passdb_parameters argument (use_cache) exists from 2.4.3 or 2.4.4
   on (configure: HAVE_DOVECOT_PASSDB_PARAMETERS); passdb bearer never
   lets Dovecot cache its results (passdb-bearer.c), so it is not read. */
static int
bearer_preinit(pool_t pool, struct event *event,
#ifdef HAVE_DOVECOT_PASSDB_PARAMETERS
	       const struct passdb_parameters *params ATTR_UNUSED,
#endif
	       struct passdb_module **module_r, const char **error_r)
{
	struct moa2_dovecot_passdb_set set;
	const struct auth_passdb_settings *passdb_set;

	if (moa2_dovecot_settings_get(event, pool, &set, error_r) < 0)
		return -1;
	if (settings_get(event, &auth_passdb_setting_parser_info, 0,
			 &passdb_set, error_r) < 0)
		return -1;
	if (passdb_set->use_worker)
		set.blocking = MOA2_DOVECOT_BLOCKING_WORKERS;
	settings_free(passdb_set);
	if (set.builtin_mechanisms && !worker &&
	    bearer_check_builtin_oauth2(error_r) < 0)
		return -1;
	*module_r = moa2_bearer_passdb_create(pool, &set);
	return 0;
}

static void
bearer_init(struct passdb_module *module)
{
	/* use_worker = yes is blocking = yes (preinit), with our own worker
	   call (see the header) */
	module->blocking = FALSE;
	moa2_bearer_passdb_init(module);
}

static struct passdb_module_interface passdb_bearer = {
	.name = "bearer",

	.preinit = bearer_preinit,
	.init = bearer_init,
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
