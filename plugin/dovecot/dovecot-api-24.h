/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_API_24_H
#define DOVECOT_API_24_H

/* The passdb side that the Dovecot 2.4 APIs share (dovecot-api-24.c); each
   API file wraps these in its struct passdb_module_interface (the preinit's
   signature differs: 2.4.3+ adds struct passdb_parameters). The rest of
   dovecot-api.h's per-API functions other than moa2_dovecot_mechs_install
   are defined there too. */

struct event;
struct passdb_module;

/* Reads passdb bearer { } (settings_get), takes use_worker = yes as
   blocking = yes, refuses builtin_mechanisms = yes without a usable
   oauth2 { }, and creates the module (moa2_bearer_passdb_create). */
int moa2_dovecot_passdb24_preinit(pool_t pool, struct event *event,
				  struct passdb_module **module_r,
				  const char **error_r);
/* Clears the blocking flag Dovecot set from use_worker, then the shared
   init (which installs the mechanisms). */
void moa2_dovecot_passdb24_init(struct passdb_module *module);

#endif
