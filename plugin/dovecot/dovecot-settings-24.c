/* SPDX-License-Identifier: MIT */
/* The settings of passdb bearer { } for Dovecot 2.4 (2.4.0 and later),
   compiled into the auth module (settings_get) and into the settings
   module libmail_oauth2_settings.so (MODULEDIR/settings), through which the
   config process and doveconf know them: doveconf rejects a mistyped key
   or value, as for Dovecot's own passdbs.

     passdb bearer {
       # driver = bearer    (the block's name is the driver by default)
       config_file = /etc/mail-oauth2/verify.conf
       blocking = threads   # threads | yes | no (use_worker = yes: yes)
       threads = 0          # 0: CPUs - 1, 1 to 4; at most 64
       builtin_mechanisms = no
       allow_double_base64 = no
     }

   Each key is passdb_bearer_KEY (the block's filter passdb_bearer lets the
   admin leave the prefix out). The meaning of each is the same as the 2.3
   args of the same name (conf.d/dovecot/2.4/10-mail-oauth2.conf).

   The settings module also changes one default of Dovecot's:
   oauth2_introspection_mode = local. Dovecot 2.4.0-2.4.1 initialise their
   built-in oauth2 (mech-oauth2.c:mech_oauth2_initialize ->
   db_oauth2_init) whenever xoauth2 or oauthbearer is in auth_mechanisms,
   before any passdb exists, and the auth process dies with "Missing
   oauth2_introspection_mode" unless an oauth2 { } block says how to
   validate. With local (and no key dict) that initialisation succeeds and
   does nothing; our mechanisms replace the built-ins before any request,
   so it never validates a token. An oauth2 { } block of the admin's own
   (explicit settings) wins over this default.

   Failure behaviour: a bad value is a doveconf/config error (the config
   process refuses the file), and settings_get() in the auth process fails
   with that message (moa2_dovecot_settings_get returns -1). */

#include "auth-common.h"
#include "array.h"
#include "settings.h"
#include "settings-parser.h"

#include "dovecot-settings-24.h"

/* exported from the settings module only: the auth module has no use for
   them under those names (it links this file too, for the parser info) */
#ifdef MOA2_SETTINGS_MODULE
#  define MOA2_EXPORT __attribute__((visibility("default")))
#else
#  define MOA2_EXPORT
#endif

struct moa2_passdb_bearer_settings {
	pool_t pool;
	const char *passdb_bearer_config_file;
	const char *passdb_bearer_blocking;
	unsigned int passdb_bearer_threads;
	bool passdb_bearer_builtin_mechanisms;
	bool passdb_bearer_allow_double_base64;
};

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct moa2_passdb_bearer_settings)

static const struct setting_define moa2_passdb_bearer_setting_defines[] = {
	{ .type = SET_FILTER_NAME, .key = "passdb_bearer", },
	DEF(STR_NOVARS, passdb_bearer_config_file),
	DEF(ENUM, passdb_bearer_blocking),
	DEF(UINT, passdb_bearer_threads),
	DEF(BOOL, passdb_bearer_builtin_mechanisms),
	DEF(BOOL, passdb_bearer_allow_double_base64),

	SETTING_DEFINE_LIST_END
};

static const struct moa2_passdb_bearer_settings moa2_passdb_bearer_default_settings = {
	.passdb_bearer_config_file = MOA2_DOVECOT_DEFAULT_CONFIG,
	/* the first value is the default */
	.passdb_bearer_blocking = "threads:yes:no",
	.passdb_bearer_threads = 0,
	.passdb_bearer_builtin_mechanisms = FALSE,
	.passdb_bearer_allow_double_base64 = FALSE,
};

/* see the header comment */
static const struct setting_keyvalue moa2_passdb_bearer_default_keyvalues[] = {
	{ "oauth2_introspection_mode", "local" },
	{ NULL, NULL }
};

static bool
moa2_passdb_bearer_settings_check(void *_set, pool_t pool ATTR_UNUSED,
				  const char **error_r)
{
	struct moa2_passdb_bearer_settings *set = _set;

	if (set->passdb_bearer_threads > MOA2_DOVECOT_THREADS_MAX) {
		*error_r = t_strdup_printf("passdb_bearer_threads = %u: at most %u",
			set->passdb_bearer_threads, MOA2_DOVECOT_THREADS_MAX);
		return FALSE;
	}
	if (set->passdb_bearer_threads > 0 &&
	    strcmp(set->passdb_bearer_blocking, "threads") != 0) {
		*error_r = t_strdup_printf("passdb_bearer_threads = %u applies "
			"to passdb_bearer_blocking = threads only",
			set->passdb_bearer_threads);
		return FALSE;
	}
	return TRUE;
}

const struct setting_parser_info moa2_passdb_bearer_setting_parser_info = {
	.name = "passdb_bearer",

	.defines = moa2_passdb_bearer_setting_defines,
	.defaults = &moa2_passdb_bearer_default_settings,
	.default_settings = moa2_passdb_bearer_default_keyvalues,

	.struct_size = sizeof(struct moa2_passdb_bearer_settings),
	.pool_offset1 = 1 + offsetof(struct moa2_passdb_bearer_settings, pool),
	.check_func = moa2_passdb_bearer_settings_check,
};

/* ------------------------------------------------ the settings module */

/* libmail_oauth2_settings.so: module-dir.c names the module
   "mail_oauth2_settings"; config-parser.c takes <name>_set_infos. */
MOA2_EXPORT extern const char *mail_oauth2_settings_version;
MOA2_EXPORT extern const struct setting_parser_info *mail_oauth2_settings_set_infos[];

const char *mail_oauth2_settings_version = DOVECOT_ABI_VERSION;
const struct setting_parser_info *mail_oauth2_settings_set_infos[] = {
	&moa2_passdb_bearer_setting_parser_info,
	NULL
};

/* ------------------------------------------------ the auth module */

static enum moa2_dovecot_blocking
moa2_settings_blocking(const char *value)
{
	if (strcmp(value, "yes") == 0)
		return MOA2_DOVECOT_BLOCKING_WORKERS;
	if (strcmp(value, "no") == 0)
		return MOA2_DOVECOT_BLOCKING_INPROCESS;
	return MOA2_DOVECOT_BLOCKING_THREADS;
}

int
moa2_dovecot_settings_get(struct event *event, pool_t pool,
			  struct moa2_dovecot_passdb_set *set_r,
			  const char **error_r)
{
	const struct moa2_passdb_bearer_settings *set;

	if (settings_get(event, &moa2_passdb_bearer_setting_parser_info, 0,
			 &set, error_r) < 0)
		return -1;
	i_zero(set_r);
	set_r->config_path = p_strdup(pool, set->passdb_bearer_config_file);
	set_r->blocking = moa2_settings_blocking(set->passdb_bearer_blocking);
	set_r->threads = set->passdb_bearer_threads;
	set_r->builtin_mechanisms = set->passdb_bearer_builtin_mechanisms;
	set_r->allow_double_base64 = set->passdb_bearer_allow_double_base64;
	settings_free(set);
	return 0;
}
