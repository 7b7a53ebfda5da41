/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_USERNAME_H
#define DOVECOT_USERNAME_H

/* A token's identity as a Dovecot user name: Dovecot's own username path
   (auth_request_set_username(): auth_username_chars,
   auth_username_translation, auth_username_format, default realm), the
   same as for a name a client sent. */

struct auth_request;
struct moa2_verify_result;

/* name after Dovecot's username rules, or NULL with error_r when Dovecot
   refuses it (or it holds the master user separator: a token's identity
   never starts a master user login; or the user name comes from the
   client certificate, which would override it). The request is left as it was. */
const char *moa2_dovecot_username(struct auth_request *request,
				  const char *name, const char **error_r);

/* The core's host binding of an accepted result (verifier.h,
   moa2_verify_result_bind_host()) with Dovecot's username rules applied
   to the identity and to the asserted user. No-op unless accepted. */
void moa2_dovecot_bind_user(struct auth_request *request,
			    struct moa2_verify_result *result);

#endif
