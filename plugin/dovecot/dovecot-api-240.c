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

   2. Worker calls, use_worker = yes and the builtin_mechanisms check:
      shared with 2.4.2+ (dovecot-api-24.c). */

#include "auth-common.h"
#include "module-dir.h"
#include "auth.h"
#include "mech.h"

#include "dovecot-api.h"
#include "dovecot-api-24.h"
#include "dovecot-log.h"
#include "passdb-bearer.h"

#define MOA2_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------ mechanisms */

/* the auth of the default protocol: its register holds the mechanisms
   auth_mechanisms enabled (mech-oauth2-bearer.c replaces ours there) */
struct auth *
mech_oauth2_bearer_default_auth(void)
{
	return auth_default_protocol();
}

/* ------------------------------------------------------------ module */

static int
bearer_preinit(pool_t pool, struct event *event,
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
