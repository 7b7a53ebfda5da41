/* SPDX-License-Identifier: MIT */
/* Unit tests of the authorization flows of the core (token-authorize.h):
   the device authorization grant (RFC 8628: the requests sent, pending,
   slow_down, refusal, expiry, the stored tokens) and the authorization
   code grant with PKCE (RFC 7636: the URL, S256, the redirect's state and
   code, the exchange). The provider is the fault server over TLS on
   loopback; the real IdP runs these flows in
   tests/integration/test-postfix-relay.sh. */

#include "config.h"
#include "test-token-common.h"

#include "mail-oauth2/token-authorize.h"
#include "support/base64.h"
#include "support/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define DEVICE_ANSWER "{\"device_code\":\"dc+1/=\",\"user_code\":\"WDJB-MJHT\"," \
	"\"verification_uri\":\"https://idp.example/device\",\"interval\":2,\"expires_in\":60}"

static time_t fake_now;

static time_t
fake_clock(void *context)
{
	(void)context;
	return fake_now;
}

struct fixture {
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	const struct moa2_token_account *account;
	struct tt_captured captured;
};

static void
fixture_start(struct fixture *f, const char *grant, const char *provider)
{
	char text[2048];

	memset(f, 0, sizeof(*f));
	snprintf(text, sizeof(text), "token_dir = %s\n[account a]\nprovider = %s\n"
		 "%s%s%sgrant = %s\nclient_id = mail-relay\nclient_secret = s3cret\n"
		 "scope = openid offline_access smtp\n", tt_new_dir(), provider,
		 strcmp(provider, "generic") == 0 ? "token_endpoint = " : "",
		 strcmp(provider, "generic") == 0 ? tt_url("/token") : "",
		 strcmp(provider, "generic") == 0 ? "\n" : "", grant);
	if (strcmp(provider, "generic") == 0) {
		/* one tt_url() per call: it returns a static buffer */
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "device_authorization_endpoint = %s\n", tt_url("/device"));
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "authorization_endpoint = %s\n", tt_url("/authorize?x=1"));
	}
	f->config = tt_config(text);
	f->client = tt_client(f->config, NULL);
	f->account = &f->config->accounts[0];
	fake_now = time(NULL);
	moa2_token_client_set_clock(f->client, fake_clock, NULL);
	moa2_token_client_set_response_hook(f->client, tt_capture_response, &f->captured);
}

static void
fixture_end(struct fixture *f)
{
	moa2_token_client_destroy(&f->client);
	moa2_token_config_free(&f->config);
}

static void
assert_stored(const struct fixture *f, const char *access_token,
	      const char *refresh_token)
{
	struct moa2_token_state state;

	tt_store_read(f->account->token_file, &state);
	ck_assert_str_eq(state.access_token, access_token);
	ck_assert_str_eq(state.refresh_token, refresh_token);
	ck_assert_str_eq(state.account, "a");
	moa2_token_state_clear(&state);
}

/* ---------------------------------------------------------------- device */

START_TEST(test_device_flow)
{
	struct moa2_device_authorization da;
	struct moa2_token_authorized result;
	struct fixture f;
	struct moa2_json *doc;
	char *error = NULL, fp[MOA2_FINGERPRINT_LEN + 1];

	tt_server_start(NULL);
	tt_route("/device", "echo", 200, NULL, 0);
	fixture_start(&f, "refresh_token", "generic");
	/* the device authorization request: client and scope, no grant */
	ck_assert_int_eq(moa2_token_device_start(f.client, f.account, &da, &error), -1);
	ck_assert_msg(strstr(error, "lacks device_code") != NULL, "%s", error);
	free(error);
	doc = tt_echo_parse(&f.captured);
	ck_assert_str_eq(tt_echo_form(doc, "client_id"), "mail-relay");
	ck_assert_str_eq(tt_echo_form(doc, "client_secret"), "s3cret");
	ck_assert_str_eq(tt_echo_form(doc, "scope"), "openid offline_access smtp");
	ck_assert_ptr_null(tt_echo_form(doc, "grant_type"));
	moa2_json_free(&doc);

	tt_route("/device", "status", 200, DEVICE_ANSWER, 0);
	ck_assert_int_eq(moa2_token_device_start(f.client, f.account, &da, &error), 0);
	ck_assert_str_eq(da.user_code, "WDJB-MJHT");
	ck_assert_str_eq(da.verification_uri, "https://idp.example/device");
	ck_assert_ptr_null(da.verification_uri_complete);
	ck_assert_int_eq(da.expires_in, 60);
	ck_assert_uint_eq(da.interval, 2);

	/* the poll: the device code grant, no scope */
	tt_route("/token", "echo", 200, NULL, 0);
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), -1);
	free(error);
	doc = tt_echo_parse(&f.captured);
	ck_assert_str_eq(tt_echo_form(doc, "grant_type"),
			 "urn:ietf:params:oauth:grant-type:device_code");
	ck_assert_str_eq(tt_echo_form(doc, "device_code"), "dc+1/=");
	ck_assert_str_eq(tt_echo_form(doc, "client_id"), "mail-relay");
	ck_assert_ptr_null(tt_echo_form(doc, "scope"));
	moa2_json_free(&doc);

	tt_route("/token", "status", 400, "{\"error\":\"authorization_pending\"}", 0);
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), 0);
	tt_route("/token", "status", 400, "{\"error\":\"slow_down\"}", 0);
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), 0);
	ck_assert_uint_eq(da.interval, 7);
	/* provider down for a poll or two: still pending */
	tt_route("/token", "down", 200, NULL, 0);
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), 0);
	tt_token_route("/token", tt_token_json("at-dev", 3600, "rt-dev"), 0);
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), 1);
	moa2_token_fingerprint("at-dev", 6, fp);
	ck_assert_str_eq(result.fingerprint, fp);
	ck_assert_int_eq(result.expires_at, fake_now + 3600);
	ck_assert(result.refresh_token);
	assert_stored(&f, "at-dev", "rt-dev");
	moa2_device_authorization_clear(&da);
	ck_assert_ptr_null(da.device_code);
	fixture_end(&f);
	tt_server_stop();
}
END_TEST

START_TEST(test_device_refused_expired_wrong_grant)
{
	struct moa2_device_authorization da;
	struct moa2_token_authorized result;
	struct fixture f;
	char *error = NULL;

	tt_server_start(NULL);
	tt_route("/device", "status", 200, DEVICE_ANSWER, 0);
	fixture_start(&f, "refresh_token", "generic");
	ck_assert_int_eq(moa2_token_device_start(f.client, f.account, &da, &error), 0);
	tt_route("/token", "status", 400, "{\"error\":\"access_denied\","
		 "\"error_description\":\"the user said no\"}", 0);
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), -1);
	ck_assert_str_eq(error, "account a: authorization failed: access_denied: "
			 "the user said no");
	free(error);
	/* the code expires while pending */
	tt_route("/token", "status", 400, "{\"error\":\"authorization_pending\"}", 0);
	fake_now += 61;
	ck_assert_int_eq(moa2_token_device_poll(f.client, f.account, &da, &result, &error), -1);
	ck_assert_msg(strstr(error, "the code expired before it was entered") != NULL,
		      "%s", error);
	free(error);
	moa2_device_authorization_clear(&da);
	fixture_end(&f);

	/* the device endpoint refuses the client */
	tt_route("/device", "status", 401, "{\"error\":\"invalid_client\"}", 0);
	fixture_start(&f, "refresh_token", "generic");
	ck_assert_int_eq(moa2_token_device_start(f.client, f.account, &da, &error), -1);
	ck_assert_str_eq(error, "account a: the device authorization endpoint answered "
			 "HTTP 401 invalid_client");
	free(error);
	fixture_end(&f);

	/* nothing to authorize for client_credentials; nothing was sent */
	tt_reset_stats();
	fixture_start(&f, "client_credentials", "generic");
	ck_assert_int_eq(moa2_token_device_start(f.client, f.account, &da, &error), -1);
	ck_assert_msg(strstr(error, "uses grant client_credentials: nothing to authorize") !=
		      NULL, "%s", error);
	free(error);
	ck_assert_uint_eq(tt_count("/device"), 0);
	fixture_end(&f);
	tt_server_stop();
}
END_TEST

/* ------------------------------------------------------- code + PKCE */

/* The percent-decoded parameter name of url (malloc()ed), or NULL. */
static char *
url_param(const char *url, const char *name)
{
	const char *p = strchr(url, '?');
	size_t len = strlen(name);

	for (; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, len) == 0 && p[1 + len] == '=') {
			const char *v = p + 2 + len;
			size_t n = strcspn(v, "&");
			char *out = calloc(1, n + 1), *o = out;

			ck_assert_ptr_nonnull(out);
			for (size_t i = 0; i < n; i++) {
				unsigned int c;

				if (v[i] == '%' && sscanf(v + i + 1, "%2x", &c) == 1) {
					*o++ = (char)c;
					i += 2;
				} else {
					*o++ = v[i];
				}
			}
			return out;
		}
	}
	return NULL;
}

static void
assert_param(const char *url, const char *name, const char *expected)
{
	char *value = url_param(url, name);

	if (expected == NULL) {
		ck_assert_msg(value == NULL, "%s: %s=%s", url, name, value);
	} else {
		ck_assert_msg(value != NULL && strcmp(value, expected) == 0, "%s: %s is %s",
			      url, name, value != NULL ? value : "(absent)");
	}
	free(value);
}

START_TEST(test_code_flow)
{
	struct moa2_code_authorization ca;
	struct moa2_token_authorized result;
	unsigned char digest[32];
	unsigned int digest_len = 0;
	char query[512], *error = NULL, *challenge;
	struct fixture f;
	struct moa2_json *doc;

	tt_server_start(NULL);
	fixture_start(&f, "refresh_token", "generic");
	ck_assert_int_eq(moa2_token_code_start(f.client, f.account,
					       "http://127.0.0.1:4711/callback", &ca, &error), 0);
	ck_assert_msg(strncmp(ca.url, tt_url("/authorize?x=1&"), strlen(tt_url("/authorize?x=1&")))
		      == 0, "%s", ca.url);
	assert_param(ca.url, "response_type", "code");
	assert_param(ca.url, "client_id", "mail-relay");
	assert_param(ca.url, "redirect_uri", "http://127.0.0.1:4711/callback");
	assert_param(ca.url, "scope", "openid offline_access smtp");
	assert_param(ca.url, "code_challenge_method", "S256");
	assert_param(ca.url, "prompt", "consent");
	assert_param(ca.url, "access_type", NULL);
	assert_param(ca.url, "client_secret", NULL);
	assert_param(ca.url, "state", ca.state);
	/* RFC 7636 §4.1, §4.2: 43 characters, challenge = BASE64URL(SHA256) */
	ck_assert_uint_eq(strlen(ca.verifier), 43);
	ck_assert_int_eq(EVP_Digest(ca.verifier, strlen(ca.verifier), digest, &digest_len,
				    EVP_sha256(), NULL), 1);
	challenge = moa2_base64url_encode(digest, digest_len);
	assert_param(ca.url, "code_challenge", challenge);
	free(challenge);

	/* redirects that are refused before anything is sent */
	tt_reset_stats();
	ck_assert_int_eq(moa2_token_code_finish(f.client, f.account, &ca,
						"error=access_denied&error_description=no%20way",
						&result, &error), -1);
	ck_assert_str_eq(error, "account a: authorization refused: access_denied: no way");
	free(error);
	ck_assert_int_eq(moa2_token_code_finish(f.client, f.account, &ca,
						"code=c-1&state=forged", &result, &error), -1);
	ck_assert_msg(strstr(error, "state does not match") != NULL, "%s", error);
	free(error);
	ck_assert_int_eq(moa2_token_code_finish(f.client, f.account, &ca, "code=c-1",
						&result, &error), -1);
	ck_assert_msg(strstr(error, "state does not match") != NULL, "%s", error);
	free(error);
	snprintf(query, sizeof(query), "state=%s", ca.state);
	ck_assert_int_eq(moa2_token_code_finish(f.client, f.account, &ca, query, &result,
						&error), -1);
	ck_assert_str_eq(error, "account a: the redirect has no code");
	free(error);
	ck_assert_uint_eq(tt_count("/token"), 0);

	/* the exchange: code, redirect_uri and verifier, no scope */
	tt_route("/token", "echo", 200, NULL, 0);
	snprintf(query, sizeof(query), "code=c%%2B1&state=%s&iss=x", ca.state);
	ck_assert_int_eq(moa2_token_code_finish(f.client, f.account, &ca, query, &result,
						&error), -1);
	ck_assert_msg(strstr(error, "the code exchange failed") != NULL, "%s", error);
	free(error);
	doc = tt_echo_parse(&f.captured);
	ck_assert_str_eq(tt_echo_form(doc, "grant_type"), "authorization_code");
	ck_assert_str_eq(tt_echo_form(doc, "code"), "c+1");
	ck_assert_str_eq(tt_echo_form(doc, "redirect_uri"), "http://127.0.0.1:4711/callback");
	ck_assert_str_eq(tt_echo_form(doc, "code_verifier"), ca.verifier);
	ck_assert_ptr_null(tt_echo_form(doc, "scope"));
	moa2_json_free(&doc);

	tt_token_route("/token", tt_token_json("at-code", 600, "rt-code"), 0);
	ck_assert_int_eq(moa2_token_code_finish(f.client, f.account, &ca, query, &result,
						&error), 0);
	ck_assert(result.refresh_token);
	assert_stored(&f, "at-code", "rt-code");
	moa2_code_authorization_clear(&ca);
	ck_assert_ptr_null(ca.verifier);
	fixture_end(&f);
	tt_server_stop();
}
END_TEST

/* The presets' URLs: Google wants access_type=offline, Microsoft no
   forced consent. */
START_TEST(test_code_url_presets)
{
	static const struct {
		const char *provider, *access_type, *prompt;
	} cases[] = {
		{ "google", "offline", "consent" },
		{ "microsoft\ntenant = contoso.example", NULL, NULL },
	};

	for (unsigned int i = 0; i < 2; i++) {
		struct moa2_code_authorization ca;
		struct fixture f;
		char *error = NULL;

		fixture_start(&f, "refresh_token", cases[i].provider);
		ck_assert_int_eq(moa2_token_code_start(f.client, f.account,
						       "http://127.0.0.1:1/callback", &ca,
						       &error), 0);
		assert_param(ca.url, "access_type", cases[i].access_type);
		assert_param(ca.url, "prompt", cases[i].prompt);
		moa2_code_authorization_clear(&ca);
		fixture_end(&f);
	}
}
END_TEST

static Suite *
authorize_suite(void)
{
	Suite *s = suite_create("token-authorize");
	TCase *tc = tcase_create("flows");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_device_flow);
	tcase_add_test(tc, test_device_refused_expired_wrong_grant);
	tcase_add_test(tc, test_code_flow);
	tcase_add_test(tc, test_code_url_presets);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int ret;

	tt_env_init("test-token-authorize");
	ret = tc_run_suite(authorize_suite());
	tt_env_cleanup();
	return ret;
}
