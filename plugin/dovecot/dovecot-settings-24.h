/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_SETTINGS_24_H
#define DOVECOT_SETTINGS_24_H

/* The settings of passdb bearer { } in Dovecot 2.4's native syntax (2.4.0
   and later: the settings API is the same), see dovecot-settings-24.c. */

#include "dovecot-api.h"

struct event;

/* Reads the settings of the passdb whose event (with its passdb_bearer and
   passdb/NAME filters) is given into set_r, strings from pool. Returns 0,
   or -1 with error_r (e.g. doveconf's checks failed). */
int moa2_dovecot_settings_get(struct event *event, pool_t pool,
			      struct moa2_dovecot_passdb_set *set_r,
			      const char **error_r);

#endif
