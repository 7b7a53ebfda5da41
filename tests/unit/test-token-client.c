/* SPDX-License-Identifier: MIT */
/* The token client's requests and replies: the shape of each grant's
   request (asserted from the fault server's echo), URL-encoding of secrets
   with + & = %, client_secret_basic, RFC 7523 assertions (verified with the
   public key), the provider presets, discovery, token response checks, and
   the one-sentence messages for the admin (never with a secret in them). */

#include "test-token-common.h"

#include "support/base64.h"
#include "jose/jose-jws.h"
#include "support/json.h"
#include "token/token-assertion.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define RELAY_SECRET "relay+secret&x=1%2F="
#define RELAY_SECRET_ENCODED "relay%2Bsecret%26x%3D1%252F%3D"

/* Runs one moa2_token_get against the echo route and returns the echoed
   request (the get itself fails: an echo is no token response). */
static struct moa2_json *
request_of(const char *config_text, const char *store_rt, char **error_r)
{
	struct moa2_token_config *config = tt_config(config_text);
	struct moa2_token_client *client = tt_client(config, NULL);
	struct tt_captured *c = calloc(1, sizeof(*c));
	struct moa2_token token;
	struct moa2_json *doc;

	ck_assert_ptr_nonnull(c);
	if (store_rt != NULL)
		tt_store_write(config->accounts[0].token_file, "old", 1, store_rt);
	moa2_token_client_set_response_hook(client, tt_capture_response, c);
	ck_assert_int_eq(moa2_token_get(client, config->accounts[0].name, 0, &token,
					error_r), -1);
	ck_assert_uint_eq(c->count, 1);
	doc = tt_echo_parse(c);
	free(c);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	return doc;
}

/* ------------------------------------------------------- request shapes */

START_TEST(test_refresh_request_shape)
{
	const char *dir = tt_new_dir();
	struct moa2_json *doc;
	char text[2048], *error = NULL;
	const char *body;

	tt_server_start(NULL);
	tt_route("/token", "echo", 200, NULL, 0);
	snprintf(text, sizeof(text),
		 "token_dir = %s\n[account relay]\nprovider = generic\n"
		 "token_endpoint = %s\nclient_id = mail-relay\n"
		 "client_secret = \"%s\"\n"
		 "scope = openid offline_access smtp\nresource = https://mail.test\n",
		 dir, tt_url("/token"), RELAY_SECRET);
	doc = request_of(text, "rt+1/=", &error);
	ck_assert_str_eq(tt_echo_form(doc, "grant_type"), "refresh_token");
	ck_assert_str_eq(tt_echo_form(doc, "refresh_token"), "rt+1/=");
	ck_assert_str_eq(tt_echo_form(doc, "client_id"), "mail-relay");
	ck_assert_str_eq(tt_echo_form(doc, "client_secret"), RELAY_SECRET);
	ck_assert_str_eq(tt_echo_form(doc, "scope"), "openid offline_access smtp");
	ck_assert_str_eq(tt_echo_form(doc, "resource"), "https://mail.test");
	ck_assert_ptr_null(tt_echo_header(doc, "authorization"));
	/* the raw body: every special character percent-encoded */
	ck_assert_int_eq(moa2_json_get_string(doc, "body", &body), 1);
	ck_assert_msg(strstr(body, "client_secret=" RELAY_SECRET_ENCODED) != NULL, "%s", body);
	ck_assert_msg(strstr(body, "refresh_token=rt%2B1%2F%3D") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "scope=openid%20offline_access%20smtp") != NULL, "%s", body);
	/* the failure message: an echo is no token, and no secret is quoted */
	ck_assert_msg(strstr(error, "no access_token") != NULL, "%s", error);
	ck_assert_ptr_null(strstr(error, "secret&"));
	ck_assert_ptr_null(strstr(error, "rt+1"));
	free(error);
	moa2_json_free(&doc);
	tt_server_stop();
}
END_TEST

START_TEST(test_client_credentials_basic_shape)
{
	const char *dir = tt_new_dir();
	struct moa2_json *doc;
	char text[2048], *error = NULL, *expected;
	char *id = moa2_url_encode("app:id"), *secret = moa2_url_encode(RELAY_SECRET);
	char creds[256];

	tt_server_start(NULL);
	tt_route("/token", "echo", 200, NULL, 0);
	snprintf(text, sizeof(text),
		 "token_dir = %s\n[account app]\nprovider = generic\n"
		 "token_endpoint = %s\ngrant = client_credentials\nclient_id = app:id\n"
		 "client_secret = \"%s\"\nclient_auth = basic\n"
		 "scope = https://outlook.office365.com/.default\n", dir, tt_url("/token"),
		 RELAY_SECRET);
	doc = request_of(text, NULL, &error);
	free(error);
	ck_assert_str_eq(tt_echo_form(doc, "grant_type"), "client_credentials");
	ck_assert_str_eq(tt_echo_form(doc, "scope"), "https://outlook.office365.com/.default");
	ck_assert_ptr_null(tt_echo_form(doc, "client_secret"));
	ck_assert_ptr_null(tt_echo_form(doc, "client_id"));
	ck_assert_ptr_null(tt_echo_form(doc, "refresh_token"));
	/* RFC 6749 2.3.1: both parts form-encoded before base64 */
	snprintf(creds, sizeof(creds), "%s:%s", id, secret);
	ck_assert_str_eq(creds, "app%3Aid:" RELAY_SECRET_ENCODED);
	expected = moa2_base64_encode(creds, strlen(creds));
	ck_assert_ptr_nonnull(expected);
	ck_assert_ptr_nonnull(tt_echo_header(doc, "authorization"));
	ck_assert_str_eq(tt_echo_header(doc, "authorization") + 6, expected);
	ck_assert_int_eq(strncmp(tt_echo_header(doc, "authorization"), "Basic ", 6), 0);
	free(expected);
	free(id);
	free(secret);
	moa2_json_free(&doc);
	tt_server_stop();
}
END_TEST

/* ------------------------------------------------------------ assertions */

static char key_file[1200];
static char json_key_file[1200];
static char weak_key_file[1200];
static char open_key_file[1200];
static char *public_pem;

static char *
pem_of(EVP_PKEY *pkey, bool private_key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy;
	long len;

	ck_assert_ptr_nonnull(bio);
	if (private_key)
		ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
							  NULL, NULL), 1);
	else
		ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &data);
	copy = strndup(data, (size_t)len);
	BIO_free(bio);
	return copy;
}

/* A JSON string with the newlines of a PEM escaped, as Google writes it. */
static char *
json_escape_pem(const char *pem)
{
	char *out = malloc(strlen(pem) * 2 + 1), *o = out;

	ck_assert_ptr_nonnull(out);
	for (; *pem != '\0'; pem++) {
		if (*pem == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else {
			*o++ = *pem;
		}
	}
	*o = '\0';
	return out;
}

static void
make_keys(void)
{
	EVP_PKEY *pkey, *weak;
	char *pem, *escaped, json[8192];

	if (public_pem != NULL)
		return;
	pkey = EVP_RSA_gen(2048);
	weak = EVP_RSA_gen(1024);
	ck_assert_ptr_nonnull(pkey);
	ck_assert_ptr_nonnull(weak);
	snprintf(key_file, sizeof(key_file), "%s/key.pem", tt_dir);
	snprintf(json_key_file, sizeof(json_key_file), "%s/sa.json", tt_dir);
	snprintf(weak_key_file, sizeof(weak_key_file), "%s/weak.pem", tt_dir);
	snprintf(open_key_file, sizeof(open_key_file), "%s/open.pem", tt_dir);
	pem = pem_of(pkey, true);
	tt_write_file(key_file, pem, 0600);
	tt_write_file(open_key_file, pem, 0644);
	escaped = json_escape_pem(pem);
	snprintf(json, sizeof(json),
		 "{\"type\":\"service_account\",\"project_id\":\"p\","
		 "\"private_key_id\":\"kid-123\",\"private_key\":\"%s\","
		 "\"client_email\":\"relay@p.iam.gserviceaccount.com\","
		 "\"token_uri\":\"https://oauth2.googleapis.com/token\"}", escaped);
	tt_write_file(json_key_file, json, 0600);
	free(escaped);
	free(pem);
	pem = pem_of(weak, true);
	tt_write_file(weak_key_file, pem, 0600);
	free(pem);
	public_pem = pem_of(pkey, false);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(weak);
}

/* Verifies the assertion with the public key; returns its claims. */
static struct moa2_jws *
verify_assertion(const char *jwt)
{
	struct moa2_jwks *keys;
	struct moa2_jws *jws = NULL;
	const char *error = NULL;

	ck_assert_int_eq(moa2_jwks_parse_pem(public_pem, strlen(public_pem), &keys,
					     &error), 0);
	ck_assert_msg(moa2_jws_verify_compact(jwt, strlen(jwt), MOA2_JWS_FLAG_JWT, keys,
					      MOA2_JOSE_ALG_BIT(MOA2_JOSE_ALG_RS256),
					      &jws, &error) == MOA2_VERIFY_OK,
		      "assertion does not verify: %s", error);
	moa2_jwks_free(&keys);
	return jws;
}

static const char *
claim(const struct moa2_jws *jws, const char *name)
{
	const char *value = NULL;

	if (moa2_json_get_string(moa2_jws_payload(jws), name, &value) <= 0)
		return NULL;
	return value;
}

START_TEST(test_jwt_bearer_shape)
{
	const char *dir = tt_new_dir();
	struct moa2_json *doc;
	struct moa2_jws *jws;
	char text[4096], *error = NULL;
	int64_t iat = 0, exp = 0;

	make_keys();

	tt_server_start(NULL);
	tt_route("/token", "echo", 200, NULL, 0);
	snprintf(text, sizeof(text),
		 "token_dir = %s\n[account sa]\nprovider = generic\n"
		 "token_endpoint = %s\ngrant = jwt_bearer\nclient_id = relay\n"
		 "assertion_key_file = %s\nassertion_subject = alice@example.com\n"
		 "scope = smtp\n", dir, tt_url("/token"), key_file);
	doc = request_of(text, NULL, &error);
	free(error);
	ck_assert_str_eq(tt_echo_form(doc, "grant_type"),
			 "urn:ietf:params:oauth:grant-type:jwt-bearer");
	ck_assert_str_eq(tt_echo_form(doc, "client_id"), "relay");
	ck_assert_ptr_null(tt_echo_form(doc, "client_secret"));
	ck_assert_str_eq(tt_echo_form(doc, "scope"), "smtp");
	jws = verify_assertion(tt_echo_form(doc, "assertion"));
	ck_assert_str_eq(claim(jws, "iss"), "relay");
	ck_assert_str_eq(claim(jws, "sub"), "alice@example.com");
	ck_assert_str_eq(claim(jws, "aud"), tt_url("/token"));
	ck_assert_ptr_null(claim(jws, "scope"));
	ck_assert_uint_eq(strlen(claim(jws, "jti")), 32);
	ck_assert_int_eq(moa2_json_get_int64(moa2_jws_payload(jws), "iat", &iat), 1);
	ck_assert_int_eq(moa2_json_get_int64(moa2_jws_payload(jws), "exp", &exp), 1);
	ck_assert_int_eq(exp - iat, 300);
	ck_assert_int_le(iat, time(NULL));
	ck_assert_int_ge(iat, time(NULL) - 60);
	ck_assert_ptr_null(moa2_jws_kid(jws));
	ck_assert_str_eq(moa2_jws_typ(jws), "JWT");
	moa2_jws_free(&jws);
	moa2_json_free(&doc);
	tt_server_stop();
}
END_TEST

/* A Google service-account JSON key: iss from client_email, kid from
   private_key_id, scope as a claim (Google reads it there). */
START_TEST(test_jwt_bearer_google_json_key)
{
	const char *dir = tt_new_dir();
	struct moa2_token_config *config;
	struct moa2_json *doc;
	struct moa2_jws *jws;
	char text[4096], *error = NULL;

	make_keys();

	tt_server_start(NULL);
	tt_route("/token", "echo", 200, NULL, 0);
	snprintf(text, sizeof(text),
		 "token_dir = %s\n[account g]\nprovider = google\n"
		 "grant = jwt_bearer\nassertion_key_file = %s\n"
		 "assertion_subject = relay@example.com\n", dir, json_key_file);
	config = tt_config(text);
	/* the JSON key's token_uri is the preset's endpoint */
	ck_assert_str_eq(config->accounts[0].token_endpoint,
			 "https://oauth2.googleapis.com/token");
	ck_assert_str_eq(config->accounts[0].client_id, "relay@p.iam.gserviceaccount.com");
	ck_assert_int_eq(config->accounts[0].client_auth, MOA2_TOKEN_AUTH_NONE);
	moa2_token_config_free(&config);

	/* an explicit endpoint wins over the preset */
	snprintf(text, sizeof(text),
		 "token_dir = %s\n[account g]\nprovider = google\n"
		 "grant = jwt_bearer\nassertion_key_file = %s\n"
		 "assertion_subject = relay@example.com\ntoken_endpoint = %s\n",
		 dir, json_key_file, tt_url("/token"));
	doc = request_of(text, NULL, &error);
	free(error);
	ck_assert_ptr_null(tt_echo_form(doc, "scope"));
	jws = verify_assertion(tt_echo_form(doc, "assertion"));
	ck_assert_str_eq(claim(jws, "iss"), "relay@p.iam.gserviceaccount.com");
	ck_assert_str_eq(claim(jws, "sub"), "relay@example.com");
	ck_assert_str_eq(claim(jws, "scope"), "https://mail.google.com/");
	ck_assert_str_eq(moa2_jws_kid(jws), "kid-123");
	moa2_jws_free(&jws);
	moa2_json_free(&doc);
	tt_server_stop();
}
END_TEST

START_TEST(test_assertion_key_refused)
{
	char text[4096], *error;

	make_keys();

	snprintf(text, sizeof(text), "[account a]\nprovider = generic\n"
		 "token_endpoint = https://idp.example/token\ngrant = jwt_bearer\n"
		 "client_id = c\nassertion_key_file = %s\n", weak_key_file);
	error = tt_config_error(text);
	ck_assert_msg(strstr(error, "1024 bits") != NULL, "%s", error);
	free(error);
	snprintf(text, sizeof(text), "[account a]\nprovider = generic\n"
		 "token_endpoint = https://idp.example/token\ngrant = jwt_bearer\n"
		 "client_id = c\nassertion_key_file = %s\n", open_key_file);
	error = tt_config_error(text);
	ck_assert_msg(strstr(error, "readable by group or others") != NULL, "%s", error);
	free(error);
	snprintf(text, sizeof(text), "[account a]\nprovider = generic\n"
		 "token_endpoint = https://idp.example/token\ngrant = jwt_bearer\n"
		 "client_id = c\nassertion_key_file = %s\n", tt_ca_file);
	error = tt_config_error(text);
	ck_assert_msg(strstr(error, "not a PEM private key") != NULL ||
		      strstr(error, "readable") != NULL, "%s", error);
	free(error);
}
END_TEST

/* --------------------------------------------------------------- presets */

START_TEST(test_presets)
{
	struct moa2_token_config *config;
	const struct moa2_token_account *a;
	char *error;

	config = tt_config("token_dir = /var/lib/t\n"
			   "[account m365]\nprovider = microsoft\n"
			   "tenant = contoso.onmicrosoft.com\nclient_id = c1\n"
			   "[account m365app]\nprovider = microsoft\ntenant = 0000-1111\n"
			   "grant = client_credentials\nclient_id = c2\nclient_secret = s\n"
			   "[account gmail]\nprovider = google\nclient_id = c3\n"
			   "client_secret = s3\n"
			   "[account kc]\nprovider = generic\n"
			   "issuer = https://kc.example/realms/mail/\nclient_id = c4\n"
			   "scope = openid offline_access\nscope = smtp\n"
			   "token_file = /srv/kc.json\n");
	ck_assert_uint_eq(config->accounts_count, 4);
	a = moa2_token_config_find(config, "m365");
	ck_assert_str_eq(a->token_endpoint, "https://login.microsoftonline.com/"
			 "contoso.onmicrosoft.com/oauth2/v2.0/token");
	ck_assert_str_eq(a->device_authorization_endpoint, "https://login.microsoftonline.com/"
			 "contoso.onmicrosoft.com/oauth2/v2.0/devicecode");
	ck_assert_str_eq(a->authorization_endpoint, "https://login.microsoftonline.com/"
			 "contoso.onmicrosoft.com/oauth2/v2.0/authorize");
	ck_assert_str_eq(a->scope, "https://outlook.office.com/SMTP.Send offline_access");
	ck_assert_int_eq(a->grant, MOA2_TOKEN_GRANT_REFRESH_TOKEN);
	ck_assert_int_eq(a->client_auth, MOA2_TOKEN_AUTH_NONE);
	ck_assert_str_eq(a->token_file, "/var/lib/t/m365.json");
	ck_assert_uint_eq(a->refresh_margin, 300);

	a = moa2_token_config_find(config, "m365app");
	ck_assert_str_eq(a->token_endpoint,
			 "https://login.microsoftonline.com/0000-1111/oauth2/v2.0/token");
	ck_assert_str_eq(a->scope, "https://outlook.office365.com/.default");
	ck_assert_int_eq(a->client_auth, MOA2_TOKEN_AUTH_POST);

	a = moa2_token_config_find(config, "gmail");
	ck_assert_str_eq(a->token_endpoint, "https://oauth2.googleapis.com/token");
	ck_assert_str_eq(a->device_authorization_endpoint,
			 "https://oauth2.googleapis.com/device/code");
	ck_assert_str_eq(a->authorization_endpoint,
			 "https://accounts.google.com/o/oauth2/v2/auth");
	ck_assert_str_eq(a->scope, "https://mail.google.com/");

	a = moa2_token_config_find(config, "kc");
	ck_assert_ptr_null(a->token_endpoint);
	ck_assert_str_eq(a->discovery_url,
			 "https://kc.example/realms/mail/.well-known/openid-configuration");
	ck_assert_str_eq(a->scope, "openid offline_access smtp");
	ck_assert_str_eq(a->token_file, "/srv/kc.json");
	ck_assert_ptr_eq(moa2_token_config_find_file(config, "/srv/kc.json"), a);
	ck_assert_ptr_null(moa2_token_config_find(config, "nope"));
	moa2_token_config_free(&config);

	error = tt_config_error("[account m]\nprovider = microsoft\nclient_id = c\n");
	ck_assert_msg(strstr(error, "test.conf:3: [account m] key 'provider'") != NULL &&
		      strstr(error, "tenant") != NULL, "%s", error);
	free(error);
}
END_TEST

START_TEST(test_config_errors)
{
	static const struct {
		const char *text;
		const char *expect;
	} cases[] = {
		{ "[account a]\nclient_id = c\n", "key 'provider': missing" },
		{ "[account a]\nprovider = google\n", "key 'client_id': missing" },
		{ "[account a]\nprovider = google\nclient_id = c\nclient_secret = s\n"
		  "client_auth = none\n", "key 'client_auth': none, but client_secret" },
		{ "[account a]\nprovider = google\nclient_id = c\nclient_auth = basic\n",
		  "key 'client_auth': basic needs client_secret" },
		{ "[account a]\nprovider = google\nclient_id = c\n"
		  "grant = client_credentials\n", "client_credentials needs client_secret" },
		{ "[account a]\nprovider = generic\nclient_id = c\n",
		  "needs issuer (for discovery) or token_endpoint" },
		{ "[account a]\nprovider = generic\nclient_id = c\n"
		  "token_endpoint = http://idp.example/token\n", "URL not allowed" },
		{ "[account a]\nprovider = generic\nclient_id = c\n"
		  "token_endpoint = http://127.0.0.1:8/token\n", "URL not allowed" },
		{ "[account a]\nprovider = google\nclient_id = c\ngrant = jwt_bearer\n",
		  "jwt_bearer needs assertion_key_file" },
		{ "[account a]\nprovider = google\nclient_id = c\n"
		  "assertion_subject = x\n", "only used with grant = jwt_bearer" },
		{ "[account a]\nprovider = google\nclient_id = c\ntenant = t\n",
		  "key 'tenant': only used with provider microsoft" },
		{ "[account a]\nprovider = microsoft\ntenant = t\nclient_id = c\n"
		  "issuer = https://x.example\n", "key 'issuer': only used with provider generic" },
		{ "[account a]\nprovider = microsoft\ntenant = a/b\nclient_id = c\n",
		  "invalid tenant" },
		{ "[account a]\nprovider = google\nclient_id = c\ntoken_file = /t/x.json\n"
		  "[account b]\nprovider = google\nclient_id = c\ntoken_file = /t/x.json\n",
		  "[account b] key 'token_file': '/t/x.json' is also the store of [account a]" },
		{ "[account a]\nprovider = google\nclient_id = c\nrefresh_margin = soon\n",
		  "invalid duration" },
		{ "[account a]\nprovider = google\nclient_id = c\nuser = \"a\x01\"\n",
		  "key 'user': contains a control character" },
		{ "[account a]\nprovider = google\nclient_id = c\ngrant = password\n",
		  "expected one of: refresh_token, client_credentials, jwt_bearer" },
		{ "token_dir = relative\n", "relative path" },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *error = tt_config_error(cases[i].text);

		ck_assert_msg(strstr(error, cases[i].expect) != NULL,
			      "case %u: got '%s', want '%s'", i, error, cases[i].expect);
		free(error);
	}
	/* http to loopback only with the opt-in */
	{
		struct moa2_token_config *config =
			tt_config("allow_http_loopback = yes\n[account a]\n"
				  "provider = generic\nclient_id = c\n"
				  "token_endpoint = http://127.0.0.1:8/token\n");

		moa2_token_config_free(&config);
	}
}
END_TEST

/* ------------------------------------------------------ errors, fallback */

static char *
simple_account(const char *dir, const char *extra)
{
	char *text = malloc(4096);

	ck_assert_ptr_nonnull(text);
	snprintf(text, 4096, "token_dir = %s\n[account acct]\nprovider = generic\n"
		 "token_endpoint = %s\nclient_id = relay\nclient_secret = \"%s\"\n%s",
		 dir, tt_url("/token"), RELAY_SECRET, extra != NULL ? extra : "");
	return text;
}

/* One moa2_token_get with an expired stored token; returns its error. */
static char *
get_error(const char *dir, struct tt_log *log)
{
	char *text = simple_account(dir, NULL), *error = NULL;
	struct moa2_token_config *config = tt_config(text);
	struct moa2_token_client *client = tt_client(config, log);
	struct moa2_token token;

	free(text);
	tt_store_write(config->accounts[0].token_file, "at-secret-1", time(NULL) - 5,
		       "rt-secret-1");
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), -1);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_null(strstr(error, "at-secret-1"));
	ck_assert_ptr_null(strstr(error, "rt-secret-1"));
	ck_assert_ptr_null(strstr(error, RELAY_SECRET));
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	return error;
}

START_TEST(test_error_messages)
{
	const char *dir = tt_new_dir();
	char *error, expected[1024];
	struct tt_log log;

	tt_server_start(NULL);
	tt_route("/token", "status", 400, "{\"error\":\"invalid_grant\","
		 "\"error_description\":\"refresh token revoked\"}", 0);
	error = get_error(dir, NULL);
	snprintf(expected, sizeof(expected), "account acct: the refresh token was "
		 "rejected (invalid_grant: refresh token revoked): run `mail-oauth2 "
		 "token authorize -c test.conf acct` to authorize again; mail stays "
		 "queued until then");
	ck_assert_str_eq(error, expected);
	free(error);

	tt_route("/token", "status", 401, "{\"error\":\"invalid_client\"}", 0);
	error = get_error(dir, NULL);
	ck_assert_msg(strstr(error, "rejected the client (invalid_client)") != NULL &&
		      strstr(error, "client_secret") != NULL, "%s", error);
	free(error);

	tt_route("/token", "status", 503, "<html>busy</html>", 0);
	error = get_error(dir, NULL);
	ck_assert_str_eq(error, "account acct: the token endpoint is unavailable "
			 "(HTTP 503); mail stays queued and is retried");
	free(error);

	tt_route("/token", "status", 503, "{\"error\":\"temporarily_unavailable\","
		 "\"error_description\":\"maintenance\"}", 0);
	error = get_error(dir, NULL);
	ck_assert_str_eq(error, "account acct: the token endpoint is unavailable "
			 "(HTTP 503, temporarily_unavailable: maintenance); mail stays "
			 "queued and is retried");
	free(error);

	tt_route("/token", "status", 302, "", 0);
	error = get_error(dir, NULL);
	ck_assert_str_eq(error, "account acct: the token endpoint answered HTTP 302; "
			 "mail stays queued and is retried");
	free(error);

	tt_route("/token", "down", 200, NULL, 0);
	tt_log_init(&log);
	error = get_error(dir, &log);
	ck_assert_msg(strstr(error, "token request failed: cannot reach 127.0.0.1:") != NULL &&
		      strstr(error, "retried") != NULL, "%s", error);
	ck_assert_ptr_null(strstr(log.text, "-secret-1"));
	ck_assert_ptr_null(strstr(log.text, RELAY_SECRET));
	free(error);

	tt_route("/token", "status", 200, "{\"access_token\":\"has space\",\"expires_in\":5}", 0);
	error = get_error(dir, NULL);
	ck_assert_msg(strstr(error, "characters a bearer token cannot have") != NULL,
		      "%s", error);
	free(error);

	/* no store yet */
	{
		const char *empty = tt_new_dir();
		char *text = simple_account(empty, NULL);
		struct moa2_token_config *config = tt_config(text);
		struct moa2_token_client *client = tt_client(config, NULL);
		struct moa2_token token;

		free(text);
		ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), -1);
		ck_assert_msg(strstr(error, "no token store") != NULL &&
			      strstr(error, "mail-oauth2 token authorize -c test.conf acct") != NULL,
			      "%s", error);
		free(error);
		ck_assert_int_eq(moa2_token_get(client, "other", 0, &token, &error), -1);
		ck_assert_str_eq(error, "no [account other] in test.conf");
		free(error);
		moa2_token_client_destroy(&client);
		moa2_token_config_free(&config);
	}
	tt_server_stop();
}
END_TEST

/* The provider is down while the token is inside the margin: it is used. */
START_TEST(test_fallback_inside_margin)
{
	const char *dir = tt_new_dir();
	char *text = NULL, *error = NULL;
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token token;
	struct tt_log log;

	tt_server_start(NULL);
	tt_route("/token", "status", 502, "bad gateway", 0);
	text = simple_account(dir, NULL);
	config = tt_config(text);
	free(text);
	tt_log_init(&log);
	client = tt_client(config, &log);
	tt_store_write(config->accounts[0].token_file, "at-1", time(NULL) + 120, "rt-1");
	ck_assert_int_eq(moa2_token_get(client, "acct", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-1");
	ck_assert(!token.refreshed);
	moa2_token_clear(&token);
	ck_assert_msg(strstr(log.text, "warning: account acct: the token endpoint "
			     "is unavailable (HTTP 502)") != NULL &&
		      strstr(log.text, "still valid for") != NULL, "%s", log.text);
	ck_assert_uint_eq(tt_count("/token"), 1);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

/* ------------------------------------------------------------- discovery */

START_TEST(test_discovery)
{
	const char *dir = tt_new_dir();
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token_endpoints ep;
	struct moa2_token token;
	char text[2048], doc[2048], path[PATH_MAX], issuer[256], *error = NULL;

	tt_server_start(NULL);
	snprintf(issuer, sizeof(issuer), "%s", tt_url(""));
	snprintf(doc, sizeof(doc), "{\"issuer\":\"%s\",\"token_endpoint\":\"%s/token\","
		 "\"device_authorization_endpoint\":\"%s/device\"}", issuer, issuer, issuer);
	snprintf(path, sizeof(path), "%s/root/.well-known", tt_dir);
	mkdir(path, 0700);
	strcat(path, "/openid-configuration");
	tt_write_file(path, doc, 0644);
	tt_token_route("/token", tt_token_json("at-d", 600, NULL), 0);
	snprintf(text, sizeof(text), "token_dir = %s\n[account d]\nprovider = generic\n"
		 "issuer = %s\ngrant = client_credentials\nclient_id = c\n"
		 "client_secret = s\n", dir, issuer);
	config = tt_config(text);
	client = tt_client(config, NULL);
	ck_assert_int_eq(moa2_token_get(client, "d", 0, &token, &error), 0);
	ck_assert_str_eq(token.access_token, "at-d");
	moa2_token_clear(&token);
	ck_assert_int_eq(moa2_token_client_endpoints(client, &config->accounts[0], &ep,
						     &error), 0);
	ck_assert_str_eq(ep.device_authorization, tt_url("/device"));
	ck_assert_ptr_null(ep.authorization);
	ck_assert_uint_eq(tt_count("/.well-known/openid-configuration"), 1);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);

	/* a document for another issuer is refused */
	snprintf(doc, sizeof(doc), "{\"issuer\":\"https://evil.example\","
		 "\"token_endpoint\":\"%s/token\"}", issuer);
	tt_write_file(path, doc, 0644);
	snprintf(text, sizeof(text), "token_dir = %s\n[account d]\nprovider = generic\n"
		 "issuer = %s\ngrant = client_credentials\nclient_id = c\n"
		 "client_secret = s\n", tt_new_dir(), issuer);
	config = tt_config(text);
	client = tt_client(config, NULL);
	ck_assert_int_eq(moa2_token_get(client, "d", 0, &token, &error), -1);
	ck_assert_msg(strstr(error, "issuer differs") != NULL, "%s", error);
	free(error);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

/* ---------------------------------------------------------------- replies */

START_TEST(test_parse_reply)
{
	static const struct {
		long status;
		const char *body;
		enum moa2_token_reply_status expect;
		int64_t expires_in;
		const char *error;
	} cases[] = {
		{ 200, "{\"access_token\":\"a.b-c\",\"token_type\":\"Bearer\",\"expires_in\":3599}",
		  MOA2_TOKEN_REPLY_OK, 3599, NULL },
		{ 200, "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"3599\"}",
		  MOA2_TOKEN_REPLY_OK, 3599, NULL },
		{ 200, "{\"access_token\":\"a\"}", MOA2_TOKEN_REPLY_OK, 3600, NULL },
		{ 200, "{\"access_token\":\"a\",\"token_type\":\"mac\"}",
		  MOA2_TOKEN_REPLY_FAILED, 0, NULL },
		{ 200, "{\"access_token\":\"a\",\"expires_in\":0}",
		  MOA2_TOKEN_REPLY_FAILED, 0, NULL },
		{ 200, "{\"access_token\":\"\"}", MOA2_TOKEN_REPLY_FAILED, 0, NULL },
		{ 200, "{\"access_token\":\"a\\nb\"}", MOA2_TOKEN_REPLY_FAILED, 0, NULL },
		{ 200, "{\"token_type\":\"Bearer\"}", MOA2_TOKEN_REPLY_FAILED, 0, NULL },
		{ 200, "not json", MOA2_TOKEN_REPLY_FAILED, 0, NULL },
		{ 400, "{\"error\":\"authorization_pending\"}",
		  MOA2_TOKEN_REPLY_OAUTH_ERROR, 0, "authorization_pending" },
		{ 400, "{\"error\":\"slow_down\",\"error_description\":\"x\\u0007y\"}",
		  MOA2_TOKEN_REPLY_OAUTH_ERROR, 0, "slow_down" },
		{ 500, "{\"message\":\"oops\"}", MOA2_TOKEN_REPLY_FAILED, 0, NULL },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_http_response resp = { 0 };
		struct moa2_token_reply reply;

		resp.status = cases[i].status;
		resp.body = (char *)cases[i].body;
		resp.body_len = strlen(cases[i].body);
		moa2_token_parse_reply(&resp, 1000, &reply);
		ck_assert_msg(reply.status == cases[i].expect, "case %u: %d", i, reply.status);
		ck_assert_int_eq(reply.http_status, cases[i].status);
		if (cases[i].expect == MOA2_TOKEN_REPLY_OK) {
			ck_assert_int_eq(reply.state.expires_at, 1000 + cases[i].expires_in);
			ck_assert_ptr_nonnull(reply.state.access_token);
		}
		if (cases[i].error != NULL)
			ck_assert_str_eq(reply.error, cases[i].error);
		if (i == 10)
			ck_assert_str_eq(reply.description, "x?y");
		moa2_token_reply_clear(&reply);
	}
}
END_TEST

static Suite *
token_client_suite(void)
{
	Suite *s = suite_create("token-client");
	TCase *tc = tcase_create("client");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_refresh_request_shape);
	tcase_add_test(tc, test_client_credentials_basic_shape);
	tcase_add_test(tc, test_jwt_bearer_shape);
	tcase_add_test(tc, test_jwt_bearer_google_json_key);
	tcase_add_test(tc, test_assertion_key_refused);
	tcase_add_test(tc, test_presets);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_error_messages);
	tcase_add_test(tc, test_fallback_inside_margin);
	tcase_add_test(tc, test_discovery);
	tcase_add_test(tc, test_parse_reply);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int ret;

	tt_env_init("test-token-client");
	ret = tc_run_suite(token_client_suite());
	free(public_pem);
	tt_env_cleanup();
	return ret;
}
