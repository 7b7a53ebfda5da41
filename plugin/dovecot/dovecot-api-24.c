/* SPDX-License-Identifier: MIT */
/* What the Dovecot 2.4 auth APIs share (dovecot-api.h; 2.4.0-2.4.1:
   dovecot-api-240.c, 2.4.2+: dovecot-api-242.c, which differ in their
   mechanisms and the passdb preinit's signature only): the auth-worker
   round trip, the accessors, and the passdb's preinit and init. Hooks into
   Dovecot internals that no plugin API offers: re-check them for every
   Dovecot release (checked against 2.4.1 and 2.4.5, and the dovecot/core
   source of 2.4.0-2.4.4).

   1. Worker calls, as on 2.3 (dovecot-worker.c): the same PASSV command
      passdb-blocking.c sends, its reply read by us first so that the
      moa2_* fields of a rejection survive (Dovecot drops the extra fields
      of a failed lookup); 2.4 hands the reply over already split into
      fields.

   2. The passdb's use_worker = yes is taken as blocking = yes: Dovecot
      sets passdb_module.blocking from it after preinit, and init() clears
      it again, so that Dovecot never makes the worker call itself.

   3. builtin_mechanisms = yes is refused at start-up unless the oauth2 { }
      block can validate tokens (see bearer_check_builtin_oauth2). */

#include "auth-common.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "auth-request.h"
#include "auth-worker-connection.h"
#include "passdb-blocking.h"
#include "settings.h"
#include "auth-settings.h"
#include "dict.h"
#include "db-oauth2.h"

#include "dovecot-api.h"
#include "dovecot-api-24.h"
#include "dovecot-settings-24.h"
#include "dovecot-worker.h"
#include "passdb-bearer.h"

/* ------------------------------------------------------------ workers */

struct moa2_worker_call {
	struct auth_request *request;
	moa2_dovecot_worker_field_t *field_cb;
	verify_plain_callback_t *callback;
};

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
   introspection URL or a local validation key dict they assert on the
   first token (2.4.5 too: oauth2-jwt.c, key_dict != NULL), since our
   settings module made local the default (dovecot-settings-24.c): refuse
   that now, at start-up, with a message saying what is missing. */
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

/* ------------------------------------------------------------ passdb */

int
moa2_dovecot_passdb24_preinit(pool_t pool, struct event *event,
			      struct passdb_module **module_r,
			      const char **error_r)
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

void
moa2_dovecot_passdb24_init(struct passdb_module *module)
{
	/* use_worker = yes is blocking = yes (preinit), with our own worker
	   call (see the header) */
	module->blocking = FALSE;
	moa2_bearer_passdb_init(module);
}
