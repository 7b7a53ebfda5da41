/* SPDX-License-Identifier: MIT */
/* Unit tests of OIDC discovery (support/oidc-discovery.h): the one rule for
   a document (object, issuer, endpoint members), and that both of its
   users, the verifier and the token client, follow it: a malformed member
   makes the document invalid for either, and a good copy they hold stays
   in use when a later fetch brings a malformed one; a stale document
   serves at once while a provider that never answers is asked in the
   background. The provider is the
   project's fault server over TLS on loopback (tests/support). */

#include "config.h"
#include "test-token-common.h"

#include "support/oidc-discovery.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ISS "https://idp.example"
#define DAY 86400

static time_t fake_now;

static time_t
fake_clock(void *context)
{
	(void)context;
	return fake_now;
}

/* ------------------------------------------------------------ the rule */

START_TEST(test_parse_rule)
{
	static const struct {
		const char *doc;
		const char *issuer;
		bool allow_http_loopback;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"" ISS "/jwks\","
		  "\"token_endpoint\":\"" ISS "/token\"}", ISS, false, NULL },
		/* null is absent; members we do not use are not checked */
		{ "{\"issuer\":\"" ISS "\",\"userinfo_endpoint\":null,"
		  "\"end_session_endpoint\":5}", ISS, false, NULL },
		{ "{\"jwks_uri\":\"" ISS "/jwks\"}", NULL, false, NULL },
		{ "{\"issuer\":\"https://evil.example\"}", ISS, false,
		  "its issuer differs from the configured issuer" },
		{ "{\"issuer\":\"" ISS "/\"}", ISS, false,
		  "its issuer differs from the configured issuer" },
		{ "{\"jwks_uri\":\"" ISS "/jwks\"}", ISS, false,
		  "its issuer differs from the configured issuer" },
		{ "{\"issuer\":\"" ISS "\",\"token_endpoint\":5}", ISS, false,
		  "its token_endpoint is not a string" },
		{ "{\"issuer\":\"" ISS "\",\"jwks_uri\":{}}", ISS, false,
		  "its jwks_uri is not a string" },
		{ "{\"issuer\":\"" ISS "\",\"introspection_endpoint\":[\"" ISS "/i\"]}", ISS, false,
		  "its introspection_endpoint is not a string" },
		{ "{\"issuer\":\"" ISS "\",\"userinfo_endpoint\":true}", ISS, false,
		  "its userinfo_endpoint is not a string" },
		{ "{\"issuer\":\"" ISS "\",\"device_authorization_endpoint\":"
		  "\"http://idp.example/device\"}", ISS, false,
		  "its device_authorization_endpoint is not a URL we may fetch" },
		{ "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"ftp://x/\"}", ISS, false,
		  "its authorization_endpoint is not a URL we may fetch" },
		{ "{\"issuer\":\"" ISS "\",\"token_endpoint\":\"http://127.0.0.1:9/t\"}", ISS, false,
		  "its token_endpoint is not a URL we may fetch" },
		{ "{\"issuer\":\"" ISS "\",\"token_endpoint\":\"http://127.0.0.1:9/t\"}", ISS, true,
		  NULL },
		{ "[1]", ISS, false, "not a JSON object" },
		{ "{\"issuer\":", ISS, false, "" },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_oidc_endpoints *ep = (void *)1;
		char error[192] = "";
		int ret = moa2_oidc_discovery_parse(cases[i].doc, strlen(cases[i].doc),
						    cases[i].issuer,
						    cases[i].allow_http_loopback, &ep,
						    error, sizeof(error));

		if (cases[i].error == NULL) {
			ck_assert_msg(ret == 0, "case %u refused: %s", i, error);
			ck_assert_ptr_nonnull(ep);
		} else {
			ck_assert_msg(ret == -1, "case %u accepted", i);
			ck_assert_ptr_null(ep);
			ck_assert_msg(strncmp(error, cases[i].error, strlen(cases[i].error)) == 0 &&
				      error[0] != '\0', "case %u: %s", i, error);
		}
		if (i == 0) {
			ck_assert_str_eq(ep->jwks_uri, ISS "/jwks");
			ck_assert_str_eq(ep->token_endpoint, ISS "/token");
			ck_assert_ptr_null(ep->introspection_endpoint);
			ck_assert_ptr_null(ep->device_authorization_endpoint);
		}
		moa2_oidc_endpoints_free(&ep);
		ck_assert_ptr_null(ep);
	}
}
END_TEST

/* ------------------------------------------------ the provider's files */

static char issuer[256];
static char doc_path[PATH_MAX + 64];

/* Serves a discovery document for issuer whose endpoints are on the fault
   server, plus extra members (may be empty). */
static void
publish(const char *extra)
{
	char doc[2048];

	snprintf(doc, sizeof(doc), "{\"issuer\":\"%s\",\"token_endpoint\":\"%s/token\","
		 "\"introspection_endpoint\":\"%s/introspect.json\"%s%s}",
		 issuer, issuer, issuer, extra[0] != '\0' ? "," : "", extra);
	tt_write_file(doc_path, doc, 0644);
}

static void
provider_start(void)
{
	char path[PATH_MAX - 64];

	tt_server_start(NULL);
	snprintf(issuer, sizeof(issuer), "%s", tt_url(""));
	snprintf(path, sizeof(path), "%s/root/.well-known", tt_dir);
	mkdir(path, 0700);
	snprintf(doc_path, sizeof(doc_path), "%s/openid-configuration", path);
	snprintf(path, sizeof(path), "%s/root/introspect.json", tt_dir);
	tt_write_file(path, "{\"active\":true,\"username\":\"alice\",\"aud\":\"mail\","
		      "\"exp\":4000000000}", 0644);
	tt_token_route("/token", tt_token_json("at-1", 600, NULL), 0);
	tt_reset_stats();
}

/* Waits (at most 10 s) until the server has seen n requests for path: a
   stale document is refreshed in the background. */
static void
wait_count(const char *path, unsigned int n)
{
	for (int i = 0; i < 1000 && tt_count(path) < n; i++)
		tc_sleep_ms(10);
	ck_assert_uint_eq(tt_count(path), n);
}

#define MALFORMED "\"device_authorization_endpoint\":5"
#define MALFORMED_REASON "its device_authorization_endpoint is not a string"

/* ----------------------------------------------------- the verifier */

struct engine {
	struct moa2_verify_config *cfg;
	struct moa2_verifier *verifier;
	struct tt_log log;
};

/* global lines added to the next engines' config */
static const char *engine_extra = "";

static void
engine_create(struct engine *e)
{
	char text[2048], *error = NULL;

	snprintf(text, sizeof(text), "%sca_file = %s\ncache_dir = %s\n[provider idp]\n"
		 "mode = introspection\nissuer = %s\nclient_id = dovecot\n"
		 "client_secret = s3cret\naudience = mail\nusername_claims = username\n",
		 engine_extra, tt_ca_file, tt_new_dir(), issuer);
	ck_assert_msg(moa2_verify_config_load_string("verify.conf", text, strlen(text),
						      &e->cfg, &error) == 0, "%s", error);
	tt_log_init(&e->log);
	ck_assert_msg(moa2_verifier_create(e->cfg, &e->log.logger, &e->verifier, &error) == 0,
		      "%s", error);
	moa2_verifier_set_clock(e->verifier, fake_clock, NULL);
}

static void
engine_destroy(struct engine *e)
{
	moa2_verifier_destroy(&e->verifier);
	moa2_verify_config_free(&e->cfg);
}

static enum moa2_verify_outcome
verify_once(struct engine *e, const char *token)
{
	struct moa2_verify_result r;
	enum moa2_verify_outcome outcome;

	moa2_verify_token(e->verifier, token, strlen(token), NULL, &r);
	outcome = r.outcome;
	moa2_verify_result_clear(&r);
	return outcome;
}

START_TEST(test_verifier_follows_the_rule)
{
	struct engine e;

	provider_start();
	fake_now = time(NULL);
	/* a malformed member: no endpoint from this document, a tempfail */
	publish(MALFORMED);
	engine_create(&e);
	ck_assert_int_eq(verify_once(&e, "opaque-1"), MOA2_OUTCOME_TEMPFAIL);
	ck_assert_msg(strstr(e.log.text, MALFORMED_REASON) != NULL, "%s", e.log.text);
	ck_assert_uint_eq(tt_count("/introspect.json"), 0);
	engine_destroy(&e);

	/* a good document: the introspection endpoint comes from it */
	publish("");
	engine_create(&e);
	ck_assert_int_eq(verify_once(&e, "opaque-2"), MOA2_OUTCOME_ACCEPTED);
	ck_assert_uint_eq(tt_count("/introspect.json"), 1);
	/* a day later the provider publishes a malformed one: the stale good
	   copy serves at once while it is refetched in the background; the
	   malformed one is refused (logged at the next use), the good copy
	   kept and the endpoint still used */
	publish(MALFORMED);
	fake_now += DAY + 1;
	ck_assert_msg(strstr(e.log.text, MALFORMED_REASON) == NULL, "%s", e.log.text);
	ck_assert_int_eq(verify_once(&e, "opaque-3"), MOA2_OUTCOME_ACCEPTED);
	wait_count("/.well-known/openid-configuration", 3);
	/* the refetch's outcome is taken (and logged) once it has finished */
	for (int i = 0; i < 500 && strstr(e.log.text, MALFORMED_REASON) == NULL; i++) {
		ck_assert_int_eq(verify_once(&e, "opaque-4"), MOA2_OUTCOME_ACCEPTED);
		tc_sleep_ms(10);
	}
	ck_assert_msg(strstr(e.log.text, "provider idp: fetching the discovery document") !=
		      NULL && strstr(e.log.text, MALFORMED_REASON) != NULL, "%s", e.log.text);
	ck_assert_uint_eq(tt_count("/.well-known/openid-configuration"), 3);
	engine_destroy(&e);
	tt_server_stop();
}
END_TEST

/* Issue 9 item 5, discovery: a stale discovery document and a provider
   whose discovery endpoint accepts the connection and never answers: the
   stale copy serves at once (its refetch runs in the background, once),
   so logins do not wait for it. */
START_TEST(test_stale_discovery_provider_hangs)
{
	struct engine e;
	struct timespec t0, t1;
	long ms;

	provider_start();
	fake_now = time(NULL);
	publish("");
	engine_extra = "http_connect_timeout = 1s\nhttp_timeout = 2s\n";
	engine_create(&e);
	engine_extra = "";
	ck_assert_int_eq(verify_once(&e, "opaque-1"), MOA2_OUTCOME_ACCEPTED);
	ck_assert_uint_eq(tt_count("/.well-known/openid-configuration"), 1);
	tt_route("/.well-known/openid-configuration", "slow", 0, NULL, 60000);
	fake_now += DAY + 1;
	for (int i = 0; i < 10; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(verify_once(&e, "opaque-2"), MOA2_OUTCOME_ACCEPTED);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		ck_assert_msg(ms < 500, "login %d with a stale discovery document: %ld ms", i, ms);
	}
	wait_count("/.well-known/openid-configuration", 2);
	tc_sleep_ms(200);
	ck_assert_uint_eq(tt_count("/.well-known/openid-configuration"), 2);
	engine_destroy(&e);
	tt_server_stop();
}
END_TEST

/* -------------------------------------------------- the token client */

static struct moa2_token_config *
client_config(void)
{
	char text[1024];

	snprintf(text, sizeof(text), "token_dir = %s\n[account d]\nprovider = generic\n"
		 "issuer = %s\ngrant = client_credentials\nclient_id = c\n"
		 "client_secret = s\n", tt_new_dir(), issuer);
	return tt_config(text);
}

START_TEST(test_token_client_follows_the_rule)
{
	struct moa2_token_config *config;
	struct moa2_token_client *client;
	struct moa2_token token;
	struct tt_log log;
	char *error = NULL;

	provider_start();
	fake_now = time(NULL);
	publish(MALFORMED);
	config = client_config();
	client = tt_client(config, NULL);
	moa2_token_client_set_clock(client, fake_clock, NULL);
	ck_assert_int_eq(moa2_token_get(client, "d", 0, &token, &error), -1);
	ck_assert_msg(strstr(error, MALFORMED_REASON) != NULL, "%s", error);
	free(error);
	ck_assert_uint_eq(tt_count("/token"), 0);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);

	publish("");
	config = client_config();
	tt_log_init(&log);
	client = tt_client(config, &log);
	moa2_token_client_set_clock(client, fake_clock, NULL);
	ck_assert_int_eq(moa2_token_get(client, "d", 0, &token, &error), 0);
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/token"), 1);
	/* the same day: the document is not fetched again */
	ck_assert_int_eq(moa2_token_get(client, "d", MOA2_TOKEN_FORCE_REFRESH, &token,
					&error), 0);
	moa2_token_clear(&token);
	ck_assert_uint_eq(tt_count("/.well-known/openid-configuration"), 2);
	/* a day later a malformed one: the stale copy serves at once, the
	   refetch (in the background) is refused, the good copy kept */
	publish(MALFORMED);
	fake_now += DAY + 1;
	ck_assert_int_eq(moa2_token_get(client, "d", MOA2_TOKEN_FORCE_REFRESH, &token,
					&error), 0);
	moa2_token_clear(&token);
	wait_count("/.well-known/openid-configuration", 3);
	for (int i = 0; i < 500 && strstr(log.text, MALFORMED_REASON) == NULL; i++) {
		ck_assert_int_eq(moa2_token_get(client, "d", MOA2_TOKEN_FORCE_REFRESH, &token,
						&error), 0);
		moa2_token_clear(&token);
		tc_sleep_ms(10);
	}
	ck_assert_uint_eq(tt_count("/.well-known/openid-configuration"), 3);
	ck_assert_uint_ge(tt_count("/token"), 4);
	ck_assert_msg(strstr(log.text, "account d: fetching the discovery document") != NULL &&
		      strstr(log.text, MALFORMED_REASON) != NULL, "%s", log.text);
	moa2_token_client_destroy(&client);
	moa2_token_config_free(&config);
	tt_server_stop();
}
END_TEST

static Suite *
discovery_suite(void)
{
	Suite *s = suite_create("discovery");
	TCase *tc = tcase_create("discovery");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parse_rule);
	tcase_add_test(tc, test_verifier_follows_the_rule);
	tcase_add_test(tc, test_stale_discovery_provider_hangs);
	tcase_add_test(tc, test_token_client_follows_the_rule);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int ret;

	tt_env_init("test-discovery");
	ret = tc_run_suite(discovery_suite());
	tt_env_cleanup();
	return ret;
}
