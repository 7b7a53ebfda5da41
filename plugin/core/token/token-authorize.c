/* SPDX-License-Identifier: MIT */
/* The first authorization of a delegated account (see token-authorize.h):
   the device authorization grant (RFC 8628) and the authorization code
   grant with PKCE (RFC 7636, RFC 8252), down to the stored tokens.
   Failure behaviour: one sentence per failure, nothing stored; the
   device code, verifier, code and tokens are wiped and never in a
   message; a redirect is taken only with our state (else it could be an
   attacker's code, CSRF). */

#include "config.h"
#include "mail-oauth2/token-authorize.h"

#include "token/token-client-internal.h"
#include "support/base64.h"
#include "support/json.h"
#include "support/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define DEVICE_DEFAULT_INTERVAL 5   /* RFC 8628 §3.2 */
#define DEVICE_DEFAULT_EXPIRES_IN 600
#define DEVICE_SLOW_DOWN 5          /* RFC 8628 §3.5 */
#define DEVICE_MAX_FAILURES 3
#define PKCE_VERIFIER_BYTES 32      /* RFC 7636 §4.1: 43 characters */
#define STATE_BYTES 16

/* -------------------------------------------------------------- shared */

/* The account's endpoints for a flow, or -1 with the message. */
static int
flow_endpoints(struct moa2_token_client *client, const struct moa2_token_account *account,
	       struct moa2_token_endpoints *ep, char **error_r)
{
	struct moa2_account_rt *rt = moa2_token_account_rt(client, account);

	if (account->grant != MOA2_TOKEN_GRANT_REFRESH_TOKEN) {
		*error_r = moa2_strdup_printf("account %s uses grant %s: nothing to authorize "
					      "(try 'mail-oauth2 token refresh')", account->name,
					      moa2_token_grant_name(account->grant));
		return -1;
	}
	if (rt == NULL) {
		*error_r = moa2_strdup_printf("account %s: not from this client's config",
					      account->name);
		return -1;
	}
	return moa2_token_account_endpoints(client, rt, true, ep, error_r);
}

/* Stores the tokens of a successful reply and describes them. */
static int
store_reply(struct moa2_token_client *client, const struct moa2_token_account *account,
	    const struct moa2_token_reply *reply, struct moa2_token_authorized *authorized_r,
	    char **error_r)
{
	const struct moa2_token_state *state = &reply->state;
	char *error = NULL;

	memset(authorized_r, 0, sizeof(*authorized_r));
	if (moa2_token_client_save(client, account, state, &error) < 0) {
		*error_r = moa2_strdup_printf("account %s: %s", account->name, error);
		free(error);
		return -1;
	}
	moa2_token_fingerprint(state->access_token, strlen(state->access_token),
			       authorized_r->fingerprint);
	authorized_r->expires_at = state->expires_at;
	authorized_r->refresh_token = state->refresh_token != NULL;
	return 0;
}

static const char *
sep_if(const char *text)
{
	return text != NULL && text[0] != '\0' ? ": " : "";
}

/* ------------------------------------------- device authorization grant */

static char *
json_strdup(const struct moa2_json *doc, const char *key)
{
	const char *value = NULL;

	return moa2_json_get_string(doc, key, &value) > 0 ? moa2_strdup(value) : NULL;
}

static int
device_parse(const struct moa2_http_response *resp, struct moa2_device_authorization *da)
{
	struct moa2_json *doc;
	const char *reason;
	int64_t interval;

	if (moa2_json_parse(resp->body, resp->body_len, &doc, &reason) < 0)
		return -1;
	da->device_code = json_strdup(doc, "device_code");
	da->user_code = json_strdup(doc, "user_code");
	da->verification_uri = json_strdup(doc, "verification_uri");
	if (da->verification_uri == NULL) /* Google's name for it */
		da->verification_uri = json_strdup(doc, "verification_url");
	da->verification_uri_complete = json_strdup(doc, "verification_uri_complete");
	if (moa2_json_get_int64(doc, "expires_in", &da->expires_in) <= 0 || da->expires_in < 1)
		da->expires_in = DEVICE_DEFAULT_EXPIRES_IN;
	if (moa2_json_get_int64(doc, "interval", &interval) <= 0 || interval < 1 ||
	    interval > 3600)
		interval = DEVICE_DEFAULT_INTERVAL;
	da->interval = (unsigned int)interval;
	moa2_json_free(&doc);
	return da->device_code != NULL && da->user_code != NULL &&
		da->verification_uri != NULL ? 0 : -1;
}

int
moa2_token_device_start(struct moa2_token_client *client,
			const struct moa2_token_account *account,
			struct moa2_device_authorization *da_r, char **error_r)
{
	struct moa2_token_endpoints ep;
	struct moa2_http_response resp;
	struct moa2_token_reply reply;
	char *error = NULL;
	int ret = -1;

	memset(da_r, 0, sizeof(*da_r));
	if (flow_endpoints(client, account, &ep, error_r) < 0)
		return -1;
	if (ep.device_authorization == NULL) {
		*error_r = moa2_strdup_printf("account %s: no device authorization endpoint "
					      "(set device_authorization_endpoint, or use "
					      "--browser)", account->name);
		return -1;
	}
	if (moa2_token_client_post(client, account, ep.device_authorization, NULL, 0, true,
				   &resp, &error) < 0) {
		*error_r = moa2_strdup_printf("account %s: device authorization: %s",
					      account->name, error);
		free(error);
	} else if (resp.status != 200) {
		moa2_token_parse_reply(&resp, moa2_token_client_now(client), &reply);
		*error_r = moa2_strdup_printf("account %s: the device authorization endpoint "
					      "answered HTTP %ld %s%s%s", account->name,
					      resp.status, reply.error, sep_if(reply.description),
					      reply.description);
		moa2_token_reply_clear(&reply);
	} else if (device_parse(&resp, da_r) < 0) {
		*error_r = moa2_strdup_printf("account %s: the device authorization answer "
					      "lacks device_code, user_code or verification_uri",
					      account->name);
	} else {
		da_r->token_endpoint = moa2_strdup(ep.token);
		da_r->deadline = moa2_token_client_now(client) + (time_t)da_r->expires_in;
		ret = 0;
	}
	moa2_http_response_clear(&resp);
	if (ret < 0)
		moa2_device_authorization_clear(da_r);
	return ret;
}

/* Still pending: 0, or -1 when the code has expired meanwhile. */
static int
device_pending(struct moa2_token_client *client, const struct moa2_token_account *account,
	       const struct moa2_device_authorization *da, char **error_r)
{
	if (moa2_token_client_now(client) < da->deadline)
		return 0;
	*error_r = moa2_strdup_printf("account %s: the code expired before it was entered; "
				      "run the command again", account->name);
	return -1;
}

/* The token endpoint's answer to a poll: 1 done, 0 pending, -1 failed. */
static int
device_answer(struct moa2_token_client *client, const struct moa2_token_account *account,
	      struct moa2_device_authorization *da, const struct moa2_token_reply *reply,
	      char **error_r)
{
	bool oauth_error = reply->status == MOA2_TOKEN_REPLY_OAUTH_ERROR;

	if (reply->status == MOA2_TOKEN_REPLY_OK)
		return 1;
	if (oauth_error && strcmp(reply->error, "slow_down") == 0)
		da->interval += DEVICE_SLOW_DOWN;
	if (oauth_error && (strcmp(reply->error, "authorization_pending") == 0 ||
			    strcmp(reply->error, "slow_down") == 0))
		return device_pending(client, account, da, error_r);
	if (oauth_error) {
		*error_r = moa2_strdup_printf("account %s: authorization failed: %s%s%s",
					      account->name, reply->error,
					      sep_if(reply->description), reply->description);
	} else {
		*error_r = moa2_strdup_printf("account %s: the token endpoint answered HTTP "
					      "%ld: %s", account->name, reply->http_status,
					      reply->description);
	}
	return -1;
}

int
moa2_token_device_poll(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       struct moa2_device_authorization *da,
		       struct moa2_token_authorized *authorized_r, char **error_r)
{
	struct moa2_http_form_field fields[2] = {
		{ "grant_type", MOA2_TOKEN_GRANT_DEVICE_CODE_URN },
		{ "device_code", da->device_code },
	};
	struct moa2_http_response resp;
	struct moa2_token_reply reply;
	char *error = NULL;
	int ret;

	/* RFC 8628 §3.4: no scope here, the grant has it */
	ret = moa2_token_client_post(client, account, da->token_endpoint, fields, 2, false,
				     &resp, &error);
	if (ret < 0) {
		moa2_http_response_clear(&resp);
		/* a few unreachable polls in a row are waited out */
		if (++da->failures < DEVICE_MAX_FAILURES)
			ret = device_pending(client, account, da, error_r);
		else
			*error_r = moa2_strdup_printf("account %s: %s", account->name, error);
		free(error);
		return ret;
	}
	moa2_token_parse_reply(&resp, moa2_token_client_now(client), &reply);
	moa2_http_response_clear(&resp);
	da->failures = 0;
	ret = device_answer(client, account, da, &reply, error_r);
	if (ret > 0 && store_reply(client, account, &reply, authorized_r, error_r) < 0)
		ret = -1;
	moa2_token_reply_clear(&reply);
	return ret;
}

int
moa2_token_device_wait(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       struct moa2_device_authorization *da,
		       struct moa2_token_authorized *authorized_r, char **error_r)
{
	int ret;

	do {
		sleep(da->interval);
		ret = moa2_token_device_poll(client, account, da, authorized_r, error_r);
	} while (ret == 0);
	return ret > 0 ? 0 : -1;
}

void
moa2_device_authorization_clear(struct moa2_device_authorization *da)
{
	moa2_secret_str_free(&da->device_code);
	free(da->user_code);
	free(da->verification_uri);
	free(da->verification_uri_complete);
	free(da->token_endpoint);
	memset(da, 0, sizeof(*da));
}

/* ------------------------------------------ authorization code + PKCE */

static char *
random_b64url(size_t bytes)
{
	unsigned char buf[64];
	char *out;

	if (bytes > sizeof(buf) || RAND_bytes(buf, (int)bytes) != 1)
		return NULL;
	out = moa2_base64url_encode(buf, bytes);
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

/* RFC 7636 §4.2: BASE64URL(SHA256(verifier)) */
static char *
pkce_challenge(const char *verifier)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(verifier, strlen(verifier), digest, &len, EVP_sha256(), NULL) != 1)
		return NULL;
	return moa2_base64url_encode(digest, len);
}

/* Appends "&name=value" (URL-encoded) to url (a malloc()ed string). */
static void
url_add(char **url, const char *name, const char *value)
{
	char *enc = moa2_url_encode(value), *grown;

	if (enc == NULL)
		abort();
	grown = moa2_strdup_printf("%s%c%s=%s", *url, strchr(*url, '?') != NULL ? '&' : '?',
				   name, enc);
	free(enc);
	free(*url);
	*url = grown;
}

static char *
authorization_url(const struct moa2_token_account *account, const char *endpoint,
		  const struct moa2_code_authorization *ca, const char *challenge)
{
	char *url = moa2_strdup(endpoint);

	url_add(&url, "response_type", "code");
	url_add(&url, "client_id", account->client_id);
	url_add(&url, "redirect_uri", ca->redirect_uri);
	if (account->scope != NULL)
		url_add(&url, "scope", account->scope);
	if (account->resource != NULL)
		url_add(&url, "resource", account->resource);
	url_add(&url, "state", ca->state);
	url_add(&url, "code_challenge", challenge);
	url_add(&url, "code_challenge_method", "S256");
	if (account->provider == MOA2_TOKEN_PROVIDER_GOOGLE)
		url_add(&url, "access_type", "offline");
	/* Google and OpenID Connect (Core §11: offline_access needs
	   prompt=consent) send a refresh token only with it; Microsoft does
	   without, and a forced consent would lock out users who may not
	   consent themselves */
	if (account->provider != MOA2_TOKEN_PROVIDER_MICROSOFT)
		url_add(&url, "prompt", "consent");
	return url;
}

int
moa2_token_code_start(struct moa2_token_client *client,
		      const struct moa2_token_account *account, const char *redirect_uri,
		      struct moa2_code_authorization *ca_r, char **error_r)
{
	struct moa2_token_endpoints ep;
	char *challenge = NULL;

	memset(ca_r, 0, sizeof(*ca_r));
	if (flow_endpoints(client, account, &ep, error_r) < 0)
		return -1;
	if (ep.authorization == NULL) {
		*error_r = moa2_strdup_printf("account %s: no authorization endpoint (set "
					      "authorization_endpoint)", account->name);
		return -1;
	}
	ca_r->verifier = random_b64url(PKCE_VERIFIER_BYTES);
	ca_r->state = random_b64url(STATE_BYTES);
	if (ca_r->verifier == NULL || ca_r->state == NULL ||
	    (challenge = pkce_challenge(ca_r->verifier)) == NULL) {
		moa2_code_authorization_clear(ca_r);
		*error_r = moa2_strdup_printf("account %s: out of memory or no random bytes",
					      account->name);
		return -1;
	}
	ca_r->redirect_uri = moa2_strdup(redirect_uri);
	ca_r->token_endpoint = moa2_strdup(ep.token);
	ca_r->url = authorization_url(account, ep.authorization, ca_r, challenge);
	free(challenge);
	return 0;
}

/* The authorization response (RFC 6749 §4.1.2): 0 with the code
   (malloc()ed, a secret), or -1 with the message. */
static int
redirect_code(const struct moa2_token_account *account,
	      const struct moa2_code_authorization *ca, const char *query,
	      char **code_r, char **error_r)
{
	char *error = moa2_url_query_param(query, "error"), *state = moa2_url_query_param(query, "state");
	char *desc = moa2_url_query_param(query, "error_description");
	int ret = -1;

	*code_r = NULL;
	if (error != NULL) {
		*error_r = moa2_strdup_printf("account %s: authorization refused: %s%s%s",
					      account->name, error, sep_if(desc),
					      desc != NULL ? desc : "");
	} else if (state == NULL || strlen(state) != strlen(ca->state) ||
		   CRYPTO_memcmp(state, ca->state, strlen(state)) != 0) {
		*error_r = moa2_strdup_printf("account %s: the redirect's state does not "
					      "match this request (an old or forged "
					      "redirect): try again", account->name);
	} else if ((*code_r = moa2_url_query_param(query, "code")) == NULL) {
		*error_r = moa2_strdup_printf("account %s: the redirect has no code",
					      account->name);
	} else {
		ret = 0;
	}
	free(error);
	free(state);
	free(desc);
	return ret;
}

int
moa2_token_code_finish(struct moa2_token_client *client,
		       const struct moa2_token_account *account,
		       const struct moa2_code_authorization *ca, const char *query,
		       struct moa2_token_authorized *authorized_r, char **error_r)
{
	struct moa2_http_form_field fields[4] = {
		{ "grant_type", "authorization_code" },
		{ "code", NULL },
		{ "redirect_uri", ca->redirect_uri },
		{ "code_verifier", ca->verifier },
	};
	struct moa2_http_response resp;
	struct moa2_token_reply reply;
	char *code = NULL, *error = NULL;
	int ret;

	if (redirect_code(account, ca, query, &code, error_r) < 0)
		return -1;
	fields[1].value = code;
	ret = moa2_token_client_post(client, account, ca->token_endpoint, fields, 4, false,
				     &resp, &error);
	moa2_secret_str_free(&code);
	if (ret < 0) {
		*error_r = moa2_strdup_printf("account %s: %s", account->name, error);
		free(error);
		moa2_http_response_clear(&resp);
		return -1;
	}
	moa2_token_parse_reply(&resp, moa2_token_client_now(client), &reply);
	moa2_http_response_clear(&resp);
	if (reply.status != MOA2_TOKEN_REPLY_OK) {
		*error_r = moa2_strdup_printf("account %s: the code exchange failed: HTTP %ld "
					      "%s%s%s", account->name, reply.http_status,
					      reply.error, sep_if(reply.description),
					      reply.description);
		ret = -1;
	} else {
		ret = store_reply(client, account, &reply, authorized_r, error_r);
	}
	moa2_token_reply_clear(&reply);
	return ret;
}

void
moa2_code_authorization_clear(struct moa2_code_authorization *ca)
{
	moa2_secret_str_free(&ca->verifier);
	free(ca->url);
	free(ca->state);
	free(ca->redirect_uri);
	free(ca->token_endpoint);
	memset(ca, 0, sizeof(*ca));
}
