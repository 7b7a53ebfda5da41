/* SPDX-License-Identifier: MIT */
/* Hooks into Dovecot internals that no plugin API offers. Keep them all
   here, small, and re-check them for every Dovecot release.

   Checked against the source of Dovecot 2.3.19.1 (Debian 12's 2.3.19.1,
   the headers this module is built with); struct mechanisms_register,
   struct mech_module and the PASSV worker protocol are the same from 2.3.13
   to 2.3.21.1. The module's ABI version string makes Dovecot refuse to load
   it into any other version than the one it was built for. Dovecot 2.4
   changed the mechanism API (its OAuth2 mechanisms no longer go through a
   passdb) and needs a different adapter.

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
      whatever its blocking flag says.

   3. Token passdbs first. auth_request_verify_plain() walks the passdb
      chain from request->passdb, which auth_request_init() set to
      auth->passdbs; setting it to a later passdb before the call starts
      the walk there (auth-request.c:auth_request_verify_plain_continue). */

#include "auth-common.h"
#include "str.h"
#include "strescape.h"
#include "auth.h"
#include "mech.h"
#include "auth-request.h"
#include "auth-worker-server.h"
#include "passdb-blocking.h"
#include "dovecot-compat.h"

#define MOA2_WORKER_FIELD_PREFIX "moa2_"

int
moa2_dovecot_mech_replace(const struct mech_module *mech)
{
	struct auth *auth = auth_default_service();
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
static const char *
worker_reply_filter(struct moa2_worker_call *call, const char *reply)
{
	const char *const *args = t_strsplit_tabescaped(reply);
	unsigned int i, count = str_array_length(args);
	unsigned int start = worker_reply_fields_start(args, count);
	string_t *str = t_str_new(strlen(reply) + 1);

	for (i = 0; i < count; i++) {
		if (i >= start &&
		    str_begins(args[i], MOA2_WORKER_FIELD_PREFIX)) {
			const char *value = strchr(args[i], '=');
			const char *key = value == NULL ? args[i] :
				t_strdup_until(args[i], value);

			call->field_cb(call->request, key,
				       value == NULL ? "" : value + 1);
			continue;
		}
		if (i > 0)
			str_append_c(str, '\t');
		str_append_tabescaped(str, args[i]);
	}
	return str_c(str);
}

static bool
worker_verify_plain_reply(struct auth_worker_connection *conn ATTR_UNUSED,
			  const char *reply, void *context)
{
	struct moa2_worker_call *call = context;
	struct auth_request *request = call->request;
	enum passdb_result result;

	reply = worker_reply_filter(call, reply);
	result = passdb_blocking_auth_worker_reply_parse(request, reply);
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

/* Drivers that take the password to be a token: ours and Dovecot's. */
static bool
passdb_takes_tokens(const struct auth_passdb *passdb)
{
	const char *driver = passdb->set->driver;

	return strcmp(driver, "bearer") == 0 || strcmp(driver, "oauth2") == 0;
}

bool
moa2_dovecot_start_at_token_passdb(struct auth_request *request)
{
	struct auth *auth = auth_request_get_auth(request);
	struct auth_passdb *passdb;

	/* a master user login walks the master passdbs: not ours to change */
	if (auth == NULL || request->passdb != auth->passdbs)
		return FALSE;
	for (passdb = auth->passdbs; passdb != NULL; passdb = passdb->next) {
		if (passdb_takes_tokens(passdb))
			break;
		/* a deny passdb must still refuse its users */
		if (passdb->set->deny)
			return FALSE;
	}
	if (passdb == NULL || passdb == request->passdb)
		return FALSE;
	request->passdb = passdb;
	return TRUE;
}
