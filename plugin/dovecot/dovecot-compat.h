/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_COMPAT_H
#define DOVECOT_COMPAT_H

/* Every hook into Dovecot internals that is not a plugin API lives in
   dovecot-compat.c, with the versions it was checked against. */

#include "passdb.h"

struct auth_request;
struct mech_module;

/* Puts mech in place of the mechanism of the same name in the auth
   process's mechanism register (the list auth_mechanisms produced).
   Returns 1 when replaced, 0 when that mechanism is not enabled, -1 when
   there is no register (not the auth master process). */
int moa2_dovecot_mech_replace(const struct mech_module *mech);

/* Called for each field "moa2_*" that a worker sent back with its reply,
   before the reply reaches Dovecot (which then never sees the field). */
typedef void moa2_dovecot_worker_field_t(struct auth_request *request,
					 const char *key, const char *value);

/* Runs the passdb's verify_plain in an auth-worker process, like a
   passdb with blocking = TRUE, but lets the caller add fields to the
   worker's request (extra_field: "key=value" or NULL; the worker sees it as
   a passdb extra field) and see the moa2_* fields of the reply even when
   the lookup failed (Dovecot drops the extra fields of a failed lookup). */
void moa2_dovecot_worker_verify_plain(struct auth_request *request,
				      const char *extra_field,
				      moa2_dovecot_worker_field_t *field_cb,
				      verify_plain_callback_t *callback);

/* For XOAUTH2/OAUTHBEARER: the passdb walk of the next
   auth_request_verify_plain() starts at the first token passdb (driver
   bearer or oauth2) instead of passdbs listed before it that would take
   the token for a password (pam, passwd-file, sql ...), unless a deny
   passdb comes first (its users must still be refused) or the request is
   a master user login. Returns TRUE when passdbs were skipped. */
bool moa2_dovecot_start_at_token_passdb(struct auth_request *request);

#endif
