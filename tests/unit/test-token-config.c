/* The token client's config schema against its documentation: every
   option has a one-line description, the example config loads, and the
   docs drift test against conf.d/mail-oauth2-client.conf.example fails
   when an option is added, removed or renamed on one side only, or when
   the example shows a default that is not the schema's. */

#include "config.h"
#include "test-common.h"

#include "config-parser.h"
#include "token-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static char *
xprintf(const char *fmt, ...) MOA2_ATTR_FORMAT(1, 2);

static char *
xprintf(const char *fmt, ...)
{
	va_list args;
	char *str;

	va_start(args, fmt);
	ck_assert(vasprintf(&str, fmt, args) >= 0);
	va_end(args);
	return str;
}

static unsigned int
key_index(const char *const *keys, const char *key)
{
	for (unsigned int i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], key) == 0)
			return i;
	}
	ck_abort_msg("option '%s' is not in the expected list", key);
	return 0;
}

START_TEST(test_schema_iter)
{
	const struct moa2_config_schema *schema = moa2_token_config_schema();
	const struct moa2_config_section_kind *kind;
	const struct moa2_config_option *option;
	struct moa2_config_option_iter iter;
	bool seen_global[16] = { false }, seen_account[32] = { false };
	unsigned int n_global = 0, n_account = 0;

	moa2_config_option_iter_init(&iter, schema);
	while ((option = moa2_config_option_iter_next(&iter, &kind)) != NULL) {
		ck_assert_ptr_nonnull(option->description);
		ck_assert_msg(option->description[0] != '\0' &&
			      strchr(option->description, '\n') == NULL,
			      "%s: description must be one line", option->key);
		ck_assert_msg(option->default_value == NULL || option->default_doc == NULL,
			      "%s: both a default and a default doc", option->key);
		if (kind->name == NULL) {
			unsigned int idx = key_index(expected_global_keys, option->key);

			ck_assert_msg(!seen_global[idx], "%s twice", option->key);
			seen_global[idx] = true;
			n_global++;
		} else {
			unsigned int idx = key_index(expected_account_keys, option->key);

			ck_assert_str_eq(kind->name, "account");
			ck_assert_msg(!seen_account[idx], "%s twice", option->key);
			seen_account[idx] = true;
			n_account++;
		}
	}
	for (unsigned int i = 0; expected_global_keys[i] != NULL; i++)
		ck_assert_msg(seen_global[i], "%s missing", expected_global_keys[i]);
	for (unsigned int i = 0; expected_account_keys[i] != NULL; i++)
		ck_assert_msg(seen_account[i], "%s missing", expected_account_keys[i]);
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

struct documented {
	char *names[128]; /* "kind/key" */
	unsigned int count;
};

static bool
documented_has(const struct documented *doc, const char *kind, const char *key)
{
	char *name = xprintf("%s/%s", kind == NULL ? "" : kind, key);
	bool found = false;

	for (unsigned int i = 0; i < doc->count && !found; i++)
		found = strcmp(doc->names[i], name) == 0;
	free(name);
	return found;
}

static const struct moa2_config_option *
schema_find(const struct moa2_config_section_kind *kind, const char *key,
	    bool *file_variant_r)
{
	size_t len = strlen(key);

	*file_variant_r = false;
	for (unsigned int i = 0; i < kind->options_count; i++) {
		const struct moa2_config_option *option = &kind->options[i];
		size_t klen = strlen(option->key);

		if (strcmp(option->key, key) == 0)
			return option;
		if (option->type == MOA2_CONFIG_SECRET && len == klen + 5 &&
		    strncmp(key, option->key, klen) == 0 &&
		    strcmp(key + klen, "_file") == 0) {
			*file_variant_r = true;
			return option;
		}
	}
	return NULL;
}

static const struct moa2_config_section_kind *
example_section(const struct moa2_config_schema *schema, const char *s,
		unsigned int lineno)
{
	size_t len = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz");

	for (unsigned int i = 0; i < schema->sections_count; i++) {
		if (strlen(schema->sections[i].name) == len &&
		    strncmp(s + 1, schema->sections[i].name, len) == 0)
			return &schema->sections[i];
	}
	ck_abort_msg("example:%u: unknown section kind", lineno);
	return NULL;
}

/* One "#key = value" or "key = value" line of the example. */
static void
example_setting(const struct moa2_config_section_kind *kind, const char *s,
		bool commented, unsigned int lineno, struct documented *doc)
{
	size_t key_len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
	const char *after = s + key_len + strspn(s + key_len, " ");
	const struct moa2_config_option *option;
	char key[128];
	bool file_variant;

	if (key_len == 0 || key_len >= sizeof(key) || *after != '=')
		return; /* prose */
	memcpy(key, s, key_len);
	key[key_len] = '\0';
	option = schema_find(kind, key, &file_variant);
	ck_assert_msg(option != NULL, "example:%u: documents '%s' in %s, which is not "
		      "an option there", lineno, key,
		      kind->name == NULL ? "the global section" : kind->name);
	if (documented_has(doc, kind->name, key))
		return;
	/* the first commented-out mention shows the default */
	if (commented && !file_variant && option->default_value != NULL) {
		const char *value = after + 1 + strspn(after + 1, " ");

		ck_assert_msg(strcmp(value, option->default_value) == 0,
			      "example:%u: '%s' shows '%s', the default is '%s'",
			      lineno, key, value, option->default_value);
	}
	ck_assert(doc->count < sizeof(doc->names) / sizeof(doc->names[0]));
	doc->names[doc->count++] = xprintf("%s/%s", kind->name == NULL ? "" :
					   kind->name, key);
}

static void
read_example(const struct moa2_config_schema *schema, struct documented *doc)
{
	const struct moa2_config_section_kind *kind = &schema->global;
	FILE *fp = fopen(EXAMPLE_CONF, "r");
	unsigned int lineno = 0;
	char line[1024];

	ck_assert_msg(fp != NULL, "%s: %s", EXAMPLE_CONF, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		bool commented = line[0] == '#';
		const char *s = commented ? line + 1 : line;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (s[0] == '[')
			kind = example_section(schema, s, lineno);
		else
			example_setting(kind, s, commented, lineno, doc);
	}
	fclose(fp);
}

/* DESIGN.md: every option in code is documented in the shipped config
   snippets; this fails when they drift apart in either direction. */
START_TEST(test_docs_drift)
{
	const struct moa2_config_schema *schema = moa2_token_config_schema();
	const struct moa2_config_section_kind *kind;
	const struct moa2_config_option *option;
	struct moa2_config_option_iter iter;
	struct documented doc = { .count = 0 };
	unsigned int expected = 0;

	read_example(schema, &doc);
	moa2_config_option_iter_init(&iter, schema);
	while ((option = moa2_config_option_iter_next(&iter, &kind)) != NULL) {
		ck_assert_msg(documented_has(&doc, kind->name, option->key),
			      "option '%s' of %s is missing from %s", option->key,
			      kind->name == NULL ? "the global section" : kind->name,
			      EXAMPLE_CONF);
		expected++;
		if (option->type == MOA2_CONFIG_SECRET) {
			char *file_key = xprintf("%s_file", option->key);

			ck_assert_msg(documented_has(&doc, kind->name, file_key),
				      "option '%s' is missing from the example", file_key);
			free(file_key);
			expected++;
		}
	}
	/* nothing documented beyond the schema (each mention was checked) */
	ck_assert_uint_eq(doc.count, expected);
	for (unsigned int i = 0; i < doc.count; i++)
		free(doc.names[i]);
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
