/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_WORKER_H
#define DOVECOT_WORKER_H

/* The auth-worker protocol as both the 2.3 and 2.4 adapters speak it
   (dovecot-api.h: moa2_dovecot_worker_verify_plain): the PASSV command
   passdb-blocking.c sends, and the reply's moa2_* fields, taken out before
   Dovecot parses the reply. The same from 2.3.13 to 2.4.1; only the call
   (auth_worker_call's callback: a line or split arguments) differs. */

#include "dovecot-api.h"

/* The PASSV command for request (its mech_password, its exported fields)
   and extra_field ("key=value" or NULL: a passdb extra field for the
   worker), from the data stack. */
const char *moa2_dovecot_worker_passv(struct auth_request *request,
				      const char *extra_field);

/* Calls field_cb for each moa2_* extra field of the worker reply args and
   returns the reply without them (NULL-terminated, data stack). */
const char *const *
moa2_dovecot_worker_reply_filter(struct auth_request *request,
				 const char *const *args,
				 moa2_dovecot_worker_field_t *field_cb);

#endif
