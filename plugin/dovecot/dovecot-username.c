/* SPDX-License-Identifier: MIT */
/* Dovecot's username rules for a token's identity (dovecot-username.h).
   Failure behaviour: a name Dovecot refuses is returned as NULL with
   Dovecot's own message; the caller turns it into a rejection (the core's
   moa2_verify_result_bind_host()). */

#include "auth-common.h"
#include "auth-request.h"

#include "mail-oauth2/verifier.h"

#include "dovecot-username.h"

const char *
moa2_dovecot_username(struct auth_request *request, const char *name,
		      const char **error_r)
{
	const char *sep = request->set->master_user_separator;
	char *old_user = request->fields.user;
	const char *fixed = NULL;

	if (*sep != '\0' && strchr(name, *sep) != NULL) {
		*error_r = t_strdup_printf("the name contains the master user "
			"separator '%c' (auth_master_user_separator)", *sep);
		return NULL;
	}
	if (request->fields.cert_username) {
		/* auth_request_set_username() would keep the certificate's
		   name whatever the token says */
		*error_r = "the user name comes from the client certificate "
			"(auth_ssl_username_from_cert)";
		return NULL;
	}
	if (auth_request_set_username(request, name, error_r))
		fixed = t_strdup(request->fields.user);
	if (old_user != NULL)
		auth_request_set_username_forced(request, old_user);
	return fixed;
}

void
moa2_dovecot_bind_user(struct auth_request *request,
		       struct moa2_verify_result *result)
{
	const char *identity, *asserted = NULL, *error = NULL, *error2;

	if (result->outcome != MOA2_OUTCOME_ACCEPTED)
		return;
	identity = moa2_dovecot_username(request, result->identity, &error);
	if (identity != NULL && result->asserted_identity != NULL) {
		asserted = moa2_dovecot_username(request,
			result->asserted_identity, &error2);
	}
	moa2_verify_result_bind_host(result, identity, asserted, error);
}
