/* SPDX-License-Identifier: MIT */
#ifndef PASSDB_BEARER_H
#define PASSDB_BEARER_H

/* What the bearer passdb and our XOAUTH2/OAUTHBEARER mechanisms share. */

#include "mail-oauth2/verify-reason.h"

struct auth;
struct auth_request;
struct mech_module;

/* Fields between the auth master and an auth-worker (never sent to a
   client: the API file (dovecot-api-NN.c) takes moa2_* fields out of
   worker replies).
   master -> worker: the client asserted no user (OAUTHBEARER without a=),
   so the identity comes from the token alone. */
#define MOA2_FIELD_USER_FROM_TOKEN "moa2_user_from_token"
/* worker -> master, after a rejection: for the failure challenge */
#define MOA2_FIELD_REASON "moa2_reason"
#define MOA2_FIELD_SCOPE "moa2_scope"
#define MOA2_FIELD_OPENID_CONFIGURATION "moa2_openid_configuration"
/* worker -> master, after a failure without a client-named user: the
   identity the token names, as a Dovecot user name, for the log lines */
#define MOA2_FIELD_CLAIMED_USER "moa2_claimed_user"

/* ------------------------------------------------ mech-oauth2-bearer.c */

extern const struct mech_module mech_xoauth2_bearer;
extern const struct mech_module mech_oauthbearer_bearer;

/* The auth whose register holds the enabled mechanisms (per API:
   dovecot-api-23.c, dovecot-api-240.c). */
struct auth *mech_oauth2_bearer_default_auth(void);

/* Codec flags for every request (MOA2_SASL_FLAG_*). */
void mech_oauth2_bearer_set_sasl_flags(unsigned int flags);

/* True when request runs one of our mechanisms. */
bool mech_oauth2_bearer_is_ours(const struct auth_request *request);
/* True when request is ours and the client asserted no user. */
bool mech_oauth2_bearer_user_from_token(const struct auth_request *request);
/* Remembers why the token was rejected, for the failure challenge.
   scope and openid_configuration may be NULL. No-op if not ours. */
void mech_oauth2_bearer_set_rejection(struct auth_request *request,
				      enum moa2_verify_reason reason,
				      const char *scope,
				      const char *openid_configuration);
/* The same from a worker's moa2_* reply field. */
void mech_oauth2_bearer_worker_field(struct auth_request *request,
				     const char *key, const char *value);

#endif
