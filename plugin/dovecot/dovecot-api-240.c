/* SPDX-License-Identifier: MIT */
/* The Dovecot 2.4.0-2.4.1 auth API (dovecot-api.h): the passdb module with
   2.4 settings (dovecot-settings-24.c) and the hooks into Dovecot internals
   that no plugin API offers. Keep them all here, small, and re-check them
   for every Dovecot release.

     passdb bearer {
       config_file = /etc/mail-oauth2/verify.conf
       ...                 (the keys: dovecot-settings-24.c)
     }

   Checked against the source of Dovecot 2.4.1 (Debian 13's 2.4.1, the
   headers this module is built with) and 2.4.0: struct mech_module,
   struct mechanisms_register and the PASSV worker protocol are those of
   2.3; what changed is the passdb preinit (settings by settings_get(), no
   args), auth_default_protocol() for 2.3's auth_default_service(), the
   worker callback's pre-split reply, and the built-in mechanisms, which
   validate tokens themselves (a global oauth2 { }) instead of handing
   them to a passdb. 2.4.2 moved the mechanisms into lib-sasl
   (dovecot-api-242.c). The module's ABI version string ("2.4.ABIv1") makes
   Dovecot refuse to load it into any other version.

   1. Mechanism replacement, as on 2.3 (dovecot-api-23.c): main.c's
      main_preinit() runs mech_init() (the built-ins, and the built-in
      oauth2's set-up, see dovecot-settings-24.c for why that needs
      oauth2_introspection_mode) and mech_register_init(), which copies
      each mechanism of auth_mechanisms into a register before passdbs are
      created (auths_preinit); this lazily loaded module's passdb init()
      overwrites the register's copies of XOAUTH2 and OAUTHBEARER. The
      request handler looks the mechanism up in
      auth_default_protocol()->reg for each AUTH command.

   2. Worker calls, as on 2.3: the same PASSV command passdb-blocking.c
      sends, its reply read by us first so that the moa2_* fields of a
      rejection survive (Dovecot drops the extra fields of a failed
      lookup). The passdb's use_worker = yes is taken as blocking = yes:
      Dovecot sets passdb_module.blocking from it after preinit, and init()
      clears it again, so that Dovecot never makes the worker call itself.

   Failure behaviour: a bad setting, or builtin_mechanisms = yes with an
   oauth2 { } that can validate nothing, fails preinit, which Dovecot turns
   into a fatal error at start-up ("passdb bearer: ..."); a verify.conf
   error is fatal with FILE:LINE (passdb-bearer.c); a mechanism that cannot
   be replaced is an error line, and the built-in then stays. */

#include "auth-common.h"
#include "module-dir.h"
#include "auth.h"
#include "mech.h"
#include "auth-request.h"
#include "auth-worker-connection.h"
#include "passdb-blocking.h"
#include "settings.h"
#include "auth-settings.h"
#include "dict.h"
#include "db-oauth2.h"

#include "dovecot-api.h"
#include "dovecot-log.h"
#include "dovecot-worker.h"
#include "dovecot-settings-24.h"
#include "passdb-bearer.h"

#define MOA2_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------ mechanisms */

/* 1 when replaced, 0 when that mechanism is not enabled, -1 when there is
   no register (not the auth master process) */
static int
dovecot_mech_replace(const struct mech_module *mech)
{
	struct auth *auth = auth_default_protocol();
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

/* ------------------------------------------------------------ workers */

struct moa2_worker_call {
	struct auth_request *request;
	moa2_dovecot_worker_field_t *field_cb;
	verify_plain_callback_t *callback;
};

/* 2.4's worker callback gets the reply split */
static bool
worker_verify_plain_reply(struct auth_worker_connection *conn ATTR_UNUSED,
			  const char *const *args, void *context)
{
	struct moa2_worker_call *call = context;
	struct auth_request *request = call->request;
	enum passdb_result result;

	args = moa2_dovecot_worker_reply_filter(request, args, call->field_cb);
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

	call = p_new(request->pool, struct moa2_worker_call, 1);
	call->request = request;
	call->field_cb = field_cb;
	call->callback = callback;

	auth_request_ref(request);
	auth_worker_call(request->pool, request->fields.user,
			 moa2_dovecot_worker_passv(request, extra_field),
			 worker_verify_plain_reply, call);
}

/* ------------------------------------------------------------ accessors */

const char *
moa2_dovecot_request_openid_configuration(
	const struct auth_request *request ATTR_UNUSED)
{
	/* 2.4's oauth2 passdb is gone: nobody else leaves one */
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
   introspection URL or a local validation key dict they would assert on
   the first token (oauth2-jwt.c: key_dict != NULL), since our settings
   module made local the default (dovecot-settings-24.c): refuse that
   now, at start-up, with a message saying what is missing. */
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

static int
bearer_preinit(pool_t pool, struct event *event,
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

/* libauthdb_bearer.so: Dovecot loads it when a passdb's driver is bearer
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
