/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_AUTHORIZE_H
#define MOA2_TOKEN_AUTHORIZE_H

/* The first authorization of a delegated account (grant refresh_token),
   for `mail-oauth2 token authorize`: the device authorization grant
   (RFC 8628), or the authorization code grant with PKCE (RFC 7636) and a
   loopback redirect (RFC 8252). The core speaks the protocol and writes
   the tokens to the account's store (under its lock, as the plugin does);
   the caller shows the user what to do and, for the code grant, receives
   the redirect (its own loopback listener, or an address the user pastes).

   Failure behaviour: each function returns -1 with one malloc()ed
   sentence ("account NAME: ...") that says what happened or what to do;
   nothing is stored then. The device code, the PKCE verifier, the code
   and the tokens are secrets: never in a message, wiped by the _clear
   functions. Both flows use the account's endpoints (configured, or from
   discovery). */

#include "mail-oauth2/token-client.h"

/* What was stored. */
struct moa2_token_authorized {
	char fingerprint[MOA2_FINGERPRINT_LEN + 1]; /* of the access token */
	int64_t expires_at;
	bool refresh_token;   /* false: the provider sent none (is
				 offline_access in scope?) */
};

/* ------------------------------------------- device authorization grant */

struct moa2_device_authorization {
	/* to show the user */
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete; /* NULL when the provider sent none */
	int64_t expires_in;              /* seconds the code stays valid */
	unsigned int interval;           /* seconds between polls */

	/* private */
	char *device_code;
	char *token_endpoint;
	time_t deadline;
	unsigned int failures;
};

/* Requests a device code (RFC 8628 §3.1). Returns 0 with da_r filled, or
   -1 (da_r zeroed). */
int moa2_token_device_start(struct moa2_token_client *client,
			    const struct moa2_token_account *account,
			    struct moa2_device_authorization *da_r, char **error_r);
/* Polls the token endpoint once (§3.4, §3.5): returns 1 when the user
   approved (the tokens are stored, authorized_r filled), 0 while the
   authorization is pending (slow_down makes da->interval longer; up to a
   few unreachable polls in a row count as pending), -1 when it failed,
   was refused or the code expired. */
int moa2_token_device_poll(struct moa2_token_client *client,
			   const struct moa2_token_account *account,
			   struct moa2_device_authorization *da,
			   struct moa2_token_authorized *authorized_r, char **error_r);
/* Sleeps da->interval and polls until the result is not pending. Blocks
   for at most da->expires_in. Returns 0 (stored) or -1. */
int moa2_token_device_wait(struct moa2_token_client *client,
			   const struct moa2_token_account *account,
			   struct moa2_device_authorization *da,
			   struct moa2_token_authorized *authorized_r, char **error_r);
void moa2_device_authorization_clear(struct moa2_device_authorization *da);

/* ------------------------------------------ authorization code + PKCE */

struct moa2_code_authorization {
	char *url;            /* the authorization URL to open in a browser */

	/* private */
	char *verifier;       /* PKCE code_verifier */
	char *state;
	char *redirect_uri;
	char *token_endpoint;
};

/* Makes a PKCE verifier (S256) and a state, and the authorization URL
   that sends the browser to redirect_uri (e.g.
   http://127.0.0.1:PORT/callback). Returns 0 with ca_r filled, or -1. */
int moa2_token_code_start(struct moa2_token_client *client,
			  const struct moa2_token_account *account,
			  const char *redirect_uri,
			  struct moa2_code_authorization *ca_r, char **error_r);
/* Takes the redirect's query string (what follows '?'): an error the
   provider sent, a state that is not ours (an old or forged redirect) or
   a missing code fail; else exchanges the code (with the verifier) and
   stores the tokens. Returns 0 with authorized_r filled, or -1. */
int moa2_token_code_finish(struct moa2_token_client *client,
			   const struct moa2_token_account *account,
			   const struct moa2_code_authorization *ca, const char *query,
			   struct moa2_token_authorized *authorized_r, char **error_r);
void moa2_code_authorization_clear(struct moa2_code_authorization *ca);

#endif
