/* SPDX-License-Identifier: MIT */
/* Token endpoint requests (see token-client-private.h): client
   authentication, scope and resource, the reply and its checks, and the
   request of each configured grant with its one sentence for the admin.
   Failure behaviour: a reply is never trusted beyond what is checked here
   (a bearer token's charset, a positive lifetime); provider text in a
   message is printable ASCII, bounded; no token, secret or assertion
   appears in a message. */

#include "config.h"
#include "token/token-client-internal.h"

#include "support/json.h"
#include "token/token-assertion.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_EXPIRES_IN 3600     /* when the provider sends no expires_in */
#define MAX_FIELDS 16

/* ------------------------------------------------------------ requests */

int
moa2_token_client_post(struct moa2_token_client *client,
		       const struct moa2_token_account *account, const char *url,
		       const struct moa2_http_form_field *fields, size_t count,
		       bool with_scope, struct moa2_http_response *resp_r,
		       char **error_r)
{
	struct moa2_http_form_field all[MAX_FIELDS];
	struct moa2_http_basic_auth basic = {
		account->client_id, account->client_secret
	};
	const char *reason;
	char host[256];
	size_t n = 0;

	if (count > MAX_FIELDS - 5)
		abort();
	if (client->config->without_secrets) {
		*error_r = moa2_strdup_printf("%s was loaded without its secrets: no request",
					      client->config->file);
		return -1;
	}
	if (count > 0) /* fields may be NULL then (a device authorization request) */
		memcpy(all, fields, count * sizeof(*fields));
	n = count;
	if (account->client_auth != MOA2_TOKEN_AUTH_BASIC)
		all[n++] = (struct moa2_http_form_field){ "client_id", account->client_id };
	if (account->client_auth == MOA2_TOKEN_AUTH_POST)
		all[n++] = (struct moa2_http_form_field){ "client_secret",
							   account->client_secret };
	if (with_scope && account->scope != NULL &&
	    !(account->grant == MOA2_TOKEN_GRANT_JWT_BEARER &&
	      account->provider == MOA2_TOKEN_PROVIDER_GOOGLE))
		all[n++] = (struct moa2_http_form_field){ "scope", account->scope };
	if (with_scope && account->resource != NULL)
		all[n++] = (struct moa2_http_form_field){ "resource", account->resource };
	client->requests++;
	if (moa2_http_post_form(client->http, url, all, n,
				account->client_auth == MOA2_TOKEN_AUTH_BASIC ? &basic : NULL,
				resp_r, &reason) < 0) {
		moa2_token_url_host(url, host, sizeof(host));
		*error_r = moa2_strdup_printf("cannot reach %s: %s", host, reason);
		return -1;
	}
	if (client->hook != NULL)
		client->hook(client->hook_context, resp_r);
	return 0;
}

void
moa2_token_reply_clear(struct moa2_token_reply *reply)
{
	moa2_token_state_clear(&reply->state);
	memset(reply, 0, sizeof(*reply));
}

/* Copies provider text for a message: printable ASCII only, bounded. */
static void
copy_printable(char *dest, size_t size, const char *src)
{
	size_t n = 0;

	for (; src != NULL && *src != '\0' && n + 1 < size; src++)
		dest[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dest[n] = '\0';
}

/* RFC 6750 b64token: what the SASL codec will accept as a bearer token */
static bool
token_charset_ok(const char *token)
{
	size_t len = strlen(token);

	if (len == 0 || len > 16384)
		return false;
	for (const char *c = token; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("-._~+/=", *c) != NULL))
			return false;
	}
	return true;
}

/* A lifetime in seconds (expires_in, refresh_token_expires_in) as a
   number, or as a string of digits (older Azure AD); absent: fallback. */
static int
reply_seconds(const struct moa2_json *doc, const char *key, int64_t fallback,
	      int64_t *value_r)
{
	const char *text;
	char *end;
	int ret = moa2_json_get_int64(doc, key, value_r);

	if (ret >= 0) {
		if (ret == 0)
			*value_r = fallback;
		return 0;
	}
	if (moa2_json_get_string(doc, key, &text) <= 0)
		return -1;
	errno = 0;
	*value_r = strtoll(text, &end, 10);
	return errno != 0 || end == text || *end != '\0' ? -1 : 0;
}

static void
reply_failed(struct moa2_token_reply *reply, const char *reason)
{
	moa2_token_state_clear(&reply->state);
	reply->status = MOA2_TOKEN_REPLY_FAILED;
	copy_printable(reply->description, sizeof(reply->description), reason);
}

static void
parse_success(const struct moa2_json *doc, time_t now,
	      struct moa2_token_reply *reply)
{
	const char *access = NULL, *type = NULL, *refresh = NULL, *scope = NULL;
	int64_t expires_in = 0, refresh_expires_in = 0;

	if (moa2_json_get_string(doc, "access_token", &access) <= 0)
		return reply_failed(reply, "no access_token in the token response");
	if (!token_charset_ok(access))
		return reply_failed(reply, "the access_token is empty, too long or "
				    "has characters a bearer token cannot have");
	if (moa2_json_get_string(doc, "token_type", &type) < 0 ||
	    (type != NULL && strcasecmp(type, "bearer") != 0))
		return reply_failed(reply, "token_type is not Bearer");
	if (reply_seconds(doc, "expires_in", DEFAULT_EXPIRES_IN, &expires_in) < 0 ||
	    expires_in <= 0)
		return reply_failed(reply, "expires_in is not a positive number");
	if (moa2_json_get_string(doc, "refresh_token", &refresh) < 0 ||
	    moa2_json_get_string(doc, "scope", &scope) < 0)
		return reply_failed(reply, "refresh_token or scope is not a string");
	if (refresh != NULL && *refresh == '\0')
		refresh = NULL;
	reply->status = MOA2_TOKEN_REPLY_OK;
	reply->state.access_token = moa2_strdup(access);
	reply->state.token_type = moa2_strdup(type != NULL ? type : "Bearer");
	reply->state.expires_at = (int64_t)now + expires_in;
	reply->state.access_token_at = (int64_t)now;
	reply->state.refresh_token = moa2_strdup(refresh);
	reply->state.refresh_token_at = refresh != NULL ? (int64_t)now : 0;
	/* Microsoft and others tell when the refresh token expires; a value
	   that does not parse is no reason to refuse the tokens */
	if (refresh != NULL &&
	    reply_seconds(doc, "refresh_token_expires_in", 0, &refresh_expires_in) == 0 &&
	    refresh_expires_in > 0 && refresh_expires_in < INT32_MAX)
		reply->state.refresh_token_expires_at = (int64_t)now + refresh_expires_in;
	reply->state.scope = moa2_strdup(scope);
	reply->state.updated_at = (int64_t)now;
}

void
moa2_token_parse_reply(const struct moa2_http_response *resp, time_t now,
		       struct moa2_token_reply *reply_r)
{
	struct moa2_json *doc = NULL;
	const char *reason, *error = NULL, *desc = NULL;

	memset(reply_r, 0, sizeof(*reply_r));
	reply_r->http_status = resp->status;
	if (moa2_json_parse(resp->body, resp->body_len, &doc, &reason) < 0 ||
	    !moa2_json_is_object(doc)) {
		if (resp->status == 200)
			reply_failed(reply_r, "the token response is not a JSON object");
		else
			reply_failed(reply_r, "");
	} else if (resp->status == 200) {
		parse_success(doc, now, reply_r);
	} else if (moa2_json_get_string(doc, "error", &error) > 0) {
		(void)moa2_json_get_string(doc, "error_description", &desc);
		reply_r->status = MOA2_TOKEN_REPLY_OAUTH_ERROR;
		copy_printable(reply_r->error, sizeof(reply_r->error), error);
		copy_printable(reply_r->description, sizeof(reply_r->description), desc);
	} else {
		reply_failed(reply_r, "");
	}
	moa2_json_free(&doc);
}

void
moa2_token_client_request(struct moa2_token_client *client,
			  const struct moa2_token_account *account,
			  const struct moa2_http_form_field *fields, size_t count,
			  struct moa2_token_reply *reply_r)
{
	struct moa2_account_rt *rt = moa2_token_account_rt(client, account);
	struct moa2_token_endpoints ep;
	struct moa2_http_response resp;
	char *error = NULL;

	memset(reply_r, 0, sizeof(*reply_r));
	if (rt == NULL || moa2_token_account_endpoints(client, rt, false, &ep, &error) < 0) {
		reply_failed(reply_r, error != NULL ? error : "unknown account");
		free(error);
		return;
	}
	moa2_token_url_host(ep.token, rt->token_host, sizeof(rt->token_host));
	if (moa2_token_client_post(client, account, ep.token, fields, count, true,
				   &resp, &error) < 0) {
		reply_failed(reply_r, error);
		free(error);
	} else {
		moa2_token_parse_reply(&resp, moa2_token_client_now(client), reply_r);
	}
	moa2_http_response_clear(&resp);
}

/* A provider's description that repeats a secret of the request is not
   repeated in a message or the store. */
static void
reply_withhold(struct moa2_token_reply *reply, const char *secret)
{
	if (secret != NULL && strlen(secret) >= 8 && strstr(reply->description, secret) != NULL)
		snprintf(reply->description, sizeof(reply->description),
			 "(withheld: it contained a secret of the request)");
}

/* Whether a failed request may succeed when retried as it is: no answer,
   or the provider says it is unavailable. The rule of
   moa2_token_grant_error()'s sentences and of the store's outcome. */
static bool
reply_temporary(const struct moa2_token_reply *reply)
{
	return (reply->status == MOA2_TOKEN_REPLY_FAILED && reply->http_status == 0) ||
		reply->http_status >= 500 || reply->http_status == 429 ||
		strcmp(reply->error, "temporarily_unavailable") == 0 ||
		strcmp(reply->error, "server_error") == 0;
}

void
moa2_token_reply_outcome(const struct moa2_token_reply *reply, int64_t at,
			 unsigned int duration_ms, struct moa2_token_outcome *outcome_r)
{
	memset(outcome_r, 0, sizeof(*outcome_r));
	outcome_r->at = at;
	outcome_r->duration_ms = duration_ms;
	outcome_r->http_status = reply->http_status;
	outcome_r->ok = reply->status == MOA2_TOKEN_REPLY_OK;
	if (outcome_r->ok)
		return;
	outcome_r->temporary = reply_temporary(reply);
	outcome_r->error = moa2_strdup(reply->error[0] != '\0' ? reply->error :
				       reply->http_status == 0 ? "no_response" :
				       reply->http_status == 200 ? "invalid_response" :
				       "http_error");
	if (reply->description[0] != '\0')
		outcome_r->description = moa2_strdup(reply->description);
}

/* ----------------------------------------------------------------- grants */

void
moa2_token_grant_request(struct moa2_token_client *client, struct moa2_account_rt *rt,
			 const char *refresh_token, struct moa2_token_reply *reply)
{
	const struct moa2_token_account *a = rt->cfg;
	struct moa2_http_form_field fields[2];
	struct moa2_token_endpoints ep;
	char *assertion = NULL, *error = NULL;
	const char *reason;

	switch (a->grant) {
	case MOA2_TOKEN_GRANT_REFRESH_TOKEN:
		fields[0] = (struct moa2_http_form_field){ "grant_type", "refresh_token" };
		fields[1] = (struct moa2_http_form_field){ "refresh_token", refresh_token };
		moa2_token_client_request(client, a, fields, 2, reply);
		reply_withhold(reply, refresh_token);
		reply_withhold(reply, a->client_secret);
		return;
	case MOA2_TOKEN_GRANT_CLIENT_CREDENTIALS:
		fields[0] = (struct moa2_http_form_field){ "grant_type", "client_credentials" };
		moa2_token_client_request(client, a, fields, 1, reply);
		reply_withhold(reply, a->client_secret);
		return;
	case MOA2_TOKEN_GRANT_JWT_BEARER:
		break;
	}
	if (moa2_token_account_endpoints(client, rt, false, &ep, &error) < 0) {
		memset(reply, 0, sizeof(*reply));
		reply_failed(reply, error);
		free(error);
		return;
	}
	struct moa2_assertion_claims claims = {
		.issuer = a->assertion_issuer,
		.subject = a->assertion_subject,
		.audience = a->assertion_audience != NULL ? a->assertion_audience : ep.token,
		.scope = a->provider == MOA2_TOKEN_PROVIDER_GOOGLE ? a->scope : NULL,
		.key_id = a->assertion_key_id,
		.issued_at = (int64_t)moa2_token_client_now(client),
		.lifetime = a->assertion_lifetime,
	};
	if (moa2_assertion_sign(a->assertion_key, &claims, &assertion, &reason) < 0) {
		memset(reply, 0, sizeof(*reply));
		reply_failed(reply, reason);
		return;
	}
	fields[0] = (struct moa2_http_form_field){ "grant_type",
						   MOA2_TOKEN_GRANT_JWT_BEARER_URN };
	fields[1] = (struct moa2_http_form_field){ "assertion", assertion };
	moa2_token_client_request(client, a, fields, 2, reply);
	reply_withhold(reply, assertion);
	reply_withhold(reply, a->client_secret);
	moa2_secret_str_free(&assertion);
}

char *
moa2_token_grant_error(const struct moa2_token_client *client,
		       const struct moa2_account_rt *rt, const struct moa2_token_reply *reply)
{
	const struct moa2_token_account *a = rt->cfg;
	const char *conf = client->config->file, *desc = reply->description;
	const char *sep = desc[0] != '\0' ? ": " : "";

	if (reply->status == MOA2_TOKEN_REPLY_FAILED && reply->http_status == 0)
		return moa2_strdup_printf("account %s: token request failed: %s; mail "
					  "stays queued and is retried", a->name, desc);
	if (reply_temporary(reply))
		return moa2_strdup_printf("account %s: the token endpoint is unavailable (HTTP "
					  "%ld%s%s%s%s); mail stays queued and is retried",
					  a->name, reply->http_status,
					  reply->error[0] != '\0' ? ", " : "", reply->error,
					  sep, desc);
	if (reply->status == MOA2_TOKEN_REPLY_FAILED)
		return moa2_strdup_printf("account %s: the token endpoint answered HTTP %ld%s%s; "
					  "mail stays queued and is retried", a->name,
					  reply->http_status, sep, desc);
	if (strcmp(reply->error, "invalid_grant") == 0 &&
	    a->grant == MOA2_TOKEN_GRANT_REFRESH_TOKEN)
		return moa2_strdup_printf("account %s: the refresh token was rejected "
					  "(invalid_grant%s%s): run `mail-oauth2 token authorize "
					  "-c %s %s` to authorize again; mail stays queued "
					  "until then", a->name, sep, desc, conf, a->name);
	if (strcmp(reply->error, "invalid_grant") == 0 &&
	    a->grant == MOA2_TOKEN_GRANT_JWT_BEARER)
		return moa2_strdup_printf("account %s: the assertion was rejected "
					  "(invalid_grant%s%s): check assertion_issuer, "
					  "assertion_subject and the key's authorization at "
					  "the provider in %s; mail stays queued", a->name,
					  sep, desc, conf);
	if (strcmp(reply->error, "invalid_client") == 0 ||
	    strcmp(reply->error, "unauthorized_client") == 0)
		return moa2_strdup_printf("account %s: the provider rejected the client "
					  "(%s%s%s): check client_id, client_secret and "
					  "client_auth of [account %s] in %s; mail stays queued",
					  a->name, reply->error, sep, desc, a->name, conf);
	if (strcmp(reply->error, "invalid_scope") == 0)
		return moa2_strdup_printf("account %s: the provider refused the scope "
					  "(invalid_scope%s%s): check scope of [account %s] in "
					  "%s; mail stays queued", a->name, sep, desc, a->name, conf);
	return moa2_strdup_printf("account %s: the token endpoint refused the request "
				  "(%s%s%s); mail stays queued and is retried", a->name,
				  reply->error, sep, desc);
}
