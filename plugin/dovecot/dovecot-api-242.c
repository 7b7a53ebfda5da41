/* SPDX-License-Identifier: MIT */
/* The Dovecot 2.4.2+ auth API (dovecot-api.h): mechanisms in lib-sasl
   (sasl-server-*.h, auth-sasl.h; no mech.h, no struct mech_module), the
   passdb settings through settings_get() (dovecot-settings-24.c and
   dovecot-api-24.c, shared with 2.4.0-2.4.1), and the hooks into Dovecot
   internals that no plugin API offers. Keep them all here, small, and
   re-check them for every Dovecot release.

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

   2. Worker calls, use_worker = yes and the builtin_mechanisms check:
      shared with 2.4.0-2.4.1 (dovecot-api-24.c). */

#include "auth-common.h"
#include "array.h"
#include "module-dir.h"
#include "auth.h"

#include "dovecot-api.h"
#include "dovecot-api-24.h"
#include "dovecot-api-242.h"
#include "dovecot-log.h"
#include "passdb-bearer.h"

#define MOA2_EXPORT __attribute__((visibility("default")))


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
	return moa2_dovecot_passdb24_preinit(pool, event, module_r, error_r);
}

static struct passdb_module_interface passdb_bearer = {
	.name = "bearer",

	.preinit = bearer_preinit,
	.init = moa2_dovecot_passdb24_init,
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
