/* SPDX-License-Identifier: MIT */
/* Token passdbs first, for our XOAUTH2/OAUTHBEARER (dovecot-api.h:
   moa2_dovecot_start_at_token_passdb()). The same on every Dovecot API:
   auth_request_verify_plain() walks the passdb chain from request->passdb,
   which auth_request_init() set to auth->passdbs; setting it to a later
   passdb before the call starts the walk there
   (auth-request.c:auth_request_verify_plain_continue, 2.3.19 and 2.4.x).
   Failure behaviour: none; when nothing may be skipped the walk is left
   as Dovecot set it. */

#include "auth-common.h"
#include "auth.h"
#include "auth-request.h"

#include "dovecot-api.h"

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
