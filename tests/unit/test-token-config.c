/* SPDX-License-Identifier: MIT */
/* The token client's config schema against its documentation: every
   option has a one-line description, the example config loads, and the
   docs drift test against conf.d/mail-oauth2-client.conf.example fails
   when an option is added, removed or renamed on one side only, or when
   the example shows a default that is not the schema's. */

#include "config.h"
#include "test-common.h"

#include "support/config-parser.h"
#include "mail-oauth2/token-config.h"

#define EXAMPLE_CONF TEST_DATA_DIR "/../../conf.d/mail-oauth2-client.conf.example"

/* The options the design asks for; a new option is added here, to the
   schema and to the example config. */
static const char *const expected_global_keys[] = {
	"token_dir", "ca_file", "http_connect_timeout", "http_timeout",
	"allow_http_loopback", "lock_timeout", "log_debug", NULL
};
static const char *const expected_account_keys[] = {
	"provider", "grant", "tenant", "issuer", "token_endpoint",
	"device_authorization_endpoint", "authorization_endpoint", "client_id",
	"client_secret", "client_auth", "scope", "resource", "user", "token_file",
	"refresh_margin", "assertion_key_file", "assertion_issuer",
	"assertion_subject", "assertion_audience", "assertion_key_id",
	"assertion_lifetime", NULL
};

START_TEST(test_schema_iter)
{
	unsigned int n_global, n_account;

	tc_check_schema_options(moa2_token_config_schema(), expected_global_keys,
				"account", expected_account_keys, &n_global, &n_account);
	ck_assert_uint_eq(n_global, 7);
	ck_assert_uint_eq(n_account, 21);
}
END_TEST

START_TEST(test_example_loads)
{
	struct moa2_token_config *config;
	char *error = NULL;

	if (moa2_token_config_load(EXAMPLE_CONF, &config, &error) < 0)
		ck_abort_msg("the example config does not load: %s", error);
	ck_assert_uint_ge(config->accounts_count, 1);
	ck_assert_str_eq(config->accounts[0].name, "m365");
	ck_assert_int_eq(config->accounts[0].provider, MOA2_TOKEN_PROVIDER_MICROSOFT);
	moa2_token_config_free(&config);
}
END_TEST

/* DESIGN.md: every option in code is documented in the shipped config
   snippets; this fails when they drift apart in either direction. */
START_TEST(test_docs_drift)
{
	tc_check_docs_drift(moa2_token_config_schema(), EXAMPLE_CONF);
}
END_TEST

int
main(void)
{
	Suite *suite = suite_create("token-config");
	TCase *tc = tcase_create("token-config");

	tcase_add_test(tc, test_schema_iter);
	tcase_add_test(tc, test_example_loads);
	tcase_add_test(tc, test_docs_drift);
	suite_add_tcase(suite, tc);
	return tc_run_suite(suite);
}
