/* SPDX-License-Identifier: MIT */
/* Config file parser and verifier config: valid files checked field by
   field, defaults, every error message (tests/data/config/errors.txt),
   secret files, the generic schema machinery, and the docs drift test
   against conf.d/mail-oauth2-verify.conf.example. */

#include "config.h"
#include "test-common.h"

#include "support/config-parser.h"
#include "support/url.h"
#include "mail-oauth2/verify-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXAMPLE_CONF TEST_DATA_DIR "/../../conf.d/mail-oauth2-verify.conf.example"

static char tmp_dir[] = "/tmp/moa2-test-config.XXXXXX";
static const struct tc_vector_file *error_vectors;

/* --------------------------------------------------------------- helpers */

/* Replaces every @DIR@ with the temporary directory. */
static char *
subst_dir(const char *in, size_t len, size_t *len_r)
{
	static const char marker[] = "@DIR@";
	size_t dir_len = strlen(tmp_dir), n = 0;
	char *out = malloc(len * (dir_len + 1) + 1);

	ck_assert(out != NULL);
	for (size_t i = 0; i < len;) {
		if (len - i >= sizeof(marker) - 1 &&
		    memcmp(in + i, marker, sizeof(marker) - 1) == 0) {
			memcpy(out + n, tmp_dir, dir_len);
			n += dir_len;
			i += sizeof(marker) - 1;
		} else {
			out[n++] = in[i++];
		}
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

/* Called from main, outside any test: exits on failure. */
static void
write_file(const char *name, const char *content, mode_t mode)
{
	char path[4096];
	size_t len = strlen(content);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, content, len) != (ssize_t)len ||
	    fchmod(fd, mode) < 0 || close(fd) < 0) {
		fprintf(stderr, "test-config: %s: %s\n", path, strerror(errno));
		exit(EXIT_FAILURE);
	}
}

static struct moa2_verify_config *
load_ok(const char *text)
{
	struct moa2_verify_config *config;
	char *error;

	if (moa2_verify_config_load_string("t.conf", text, strlen(text), &config,
					   &error) < 0)
		ck_abort_msg("unexpected error: %s", error);
	ck_assert_ptr_null(error);
	return config;
}

/* Returns the error of loading text (malloc()ed). */
static char *
load_error(const char *text)
{
	struct moa2_verify_config *config;
	char *error;

	ck_assert_int_eq(moa2_verify_config_load_string("t.conf", text, strlen(text),
							&config, &error), -1);
	ck_assert_ptr_null(config);
	ck_assert_ptr_nonnull(error);
	return error;
}

static void
assert_list(const struct moa2_config_list *list, const char *const *expected)
{
	unsigned int count = 0;

	while (expected[count] != NULL)
		count++;
	ck_assert_uint_eq(list->count, count);
	for (unsigned int i = 0; i < count; i++)
		ck_assert_str_eq(list->items[i], expected[i]);
	ck_assert_ptr_null(list->items[count]);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define EMPTY ((const char *const[]){ NULL })

/* ----------------------------------------------------------- valid files */

START_TEST(test_full_file)
{
	struct moa2_verify_config *config;
	const struct moa2_provider_config *kc, *g;
	char *error;

	ck_assert_int_eq(moa2_verify_config_load(TEST_DATA_DIR "/config/full.conf",
						 &config, &error), 0);
	ck_assert_str_eq(config->file, TEST_DATA_DIR "/config/full.conf");
	ck_assert_str_eq(config->cache_dir, "/var/cache/moa2-test");
	ck_assert_str_eq(config->ca_file, "/etc/ssl/test/ca.pem");
	ck_assert_str_eq(config->ca_dir, "/etc/ssl/test/certs");
	ck_assert_uint_eq(config->http_connect_timeout, 1500);
	ck_assert_uint_eq(config->http_timeout, 20000);
	ck_assert_uint_eq(config->http_max_response, 64 * 1024);
	ck_assert(config->allow_http_loopback);
	ck_assert_uint_eq(config->opaque_cache_entries, 500);
	ck_assert_uint_eq(config->opaque_cache_max_ttl, 120);
	ck_assert_uint_eq(config->opaque_cache_negative_ttl, 10);
	ck_assert(config->log_debug);
	ck_assert_uint_eq(config->providers_count, 2);

	kc = &config->providers[0];
	ck_assert_str_eq(kc->name, "keycloak");
	ck_assert_uint_eq(kc->line, 17);
	ck_assert_int_eq(kc->mode, MOA2_VERIFY_MODE_JWT);
	ck_assert_str_eq(kc->issuer, "https://kc.example.org/realms/mail");
	ck_assert(!kc->issuer_none);
	ck_assert(!kc->discovery); /* jwks_uri given */
	ck_assert_ptr_null(kc->discovery_url);
	ck_assert_str_eq(kc->jwks_uri,
			 "https://kc.example.org:8443/realms/mail/protocol/openid-connect/certs");
	ck_assert_ptr_null(kc->jwks_file);
	assert_list(&kc->algorithms, LIST("RS256", "ES256", "PS256", "EdDSA"));
	ck_assert_ptr_null(kc->hmac_secret);
	assert_list(&kc->audience, LIST("dovecot", "postfix"));
	ck_assert(kc->audience_check);
	assert_list(&kc->required_scopes, LIST("email", "profile"));
	assert_list(&kc->scope_claims, LIST("scope"));
	assert_list(&kc->typ, LIST("JWT", "at+jwt"));
	ck_assert(kc->typ_required);
	ck_assert_uint_eq(kc->required_claims_count, 2);
	ck_assert_str_eq(kc->required_claims[0].name, "email_verified");
	ck_assert_str_eq(kc->required_claims[0].value, "true");
	ck_assert_uint_eq(kc->required_claims[0].line, 27);
	ck_assert_str_eq(kc->required_claims[1].name, "acr");
	ck_assert_str_eq(kc->required_claims[1].value, "1");
	ck_assert_uint_eq(kc->required_claims[1].line, 28);
	assert_list(&kc->username_claims, LIST("preferred_username", "email"));
	ck_assert(kc->username_lowercase);
	ck_assert_str_eq(kc->username_domain_append, "example.org");
	assert_list(&kc->username_domain_strip, LIST("example.org", "mail.example.org"));
	ck_assert_uint_eq(kc->leeway, 30);
	ck_assert_uint_eq(kc->max_token_age, 12 * 3600);
	ck_assert_uint_eq(kc->jwks_cache_min, 60);
	ck_assert_uint_eq(kc->jwks_cache_max, 7200);
	ck_assert_uint_eq(kc->jwks_refetch_interval, 30);
	ck_assert_uint_eq(kc->jwks_stale_max, 2 * 86400);
	ck_assert_str_eq(kc->introspection_url, "http://127.0.0.1:8080/introspect");
	ck_assert_ptr_null(kc->userinfo_url);
	ck_assert_ptr_null(kc->tokeninfo_url);
	ck_assert_str_eq(kc->client_id, "dovecot");
	ck_assert_str_eq(kc->client_secret, "  spaced # secret \"q\" ");
	ck_assert_int_eq(kc->client_auth, MOA2_CLIENT_AUTH_POST);
	ck_assert_int_eq(kc->opaque_mode, MOA2_VERIFY_MODE_NONE);
	ck_assert_int_eq(kc->opaque_verifier, MOA2_VERIFY_MODE_NONE);
	assert_list(&kc->claims_export, LIST("email", "name", "groups"));
	ck_assert_uint_eq(moa2_verify_config_line(kc, "issuer"), 19);
	ck_assert_uint_eq(moa2_verify_config_line(kc, "leeway"), 33);
	ck_assert_uint_eq(moa2_verify_config_line(kc, "discovery"), 17);

	g = &config->providers[1];
	ck_assert_str_eq(g->name, "google");
	ck_assert_uint_eq(g->line, 45);
	ck_assert_int_eq(g->mode, MOA2_VERIFY_MODE_TOKENINFO);
	ck_assert_int_eq(g->opaque_verifier, MOA2_VERIFY_MODE_TOKENINFO);
	ck_assert_ptr_null(g->issuer);
	ck_assert(!g->issuer_none);
	ck_assert(!g->discovery);
	ck_assert_str_eq(g->tokeninfo_url, "https://oauth2.googleapis.com/tokeninfo");
	assert_list(&g->audience, LIST("123456789012-abc.apps.googleusercontent.com"));
	assert_list(&g->required_scopes, LIST("https://mail.google.com/"));
	assert_list(&g->username_claims, LIST("email"));
	ck_assert_ptr_null(g->client_secret);
	ck_assert_uint_eq(g->required_claims_count, 0);

	ck_assert_ptr_eq(moa2_verify_config_find_issuer(config,
		"https://kc.example.org/realms/mail"), kc);
	ck_assert_ptr_null(moa2_verify_config_find_issuer(config,
		"https://kc.example.org/realms/mail/"));
	ck_assert_ptr_null(moa2_verify_config_find_issuer(config, NULL));
	ck_assert_ptr_eq(moa2_verify_config_find_provider(config, "google"), g);
	ck_assert_ptr_null(moa2_verify_config_find_provider(config, "Google"));
	moa2_verify_config_free(&config);
	ck_assert_ptr_null(config);
}
END_TEST

START_TEST(test_defaults)
{
	struct moa2_verify_config *config;
	const struct moa2_provider_config *p;
	char *error;

	ck_assert_int_eq(moa2_verify_config_load(TEST_DATA_DIR "/config/defaults.conf",
						 &config, &error), 0);
	ck_assert_str_eq(config->cache_dir, "/var/lib/mail-oauth2");
	ck_assert_ptr_null(config->ca_file);
	ck_assert_ptr_null(config->ca_dir);
	ck_assert_uint_eq(config->http_connect_timeout, 3000);
	ck_assert_uint_eq(config->http_timeout, 10000);
	ck_assert_uint_eq(config->http_max_response, 1024 * 1024);
	ck_assert(!config->allow_http_loopback);
	ck_assert_uint_eq(config->opaque_cache_entries, 10000);
	ck_assert_uint_eq(config->opaque_cache_max_ttl, 300);
	ck_assert_uint_eq(config->opaque_cache_negative_ttl, 30);
	ck_assert(!config->log_debug);
	ck_assert_uint_eq(config->providers_count, 1);

	p = &config->providers[0];
	ck_assert_str_eq(p->name, "kc");
	ck_assert_int_eq(p->mode, MOA2_VERIFY_MODE_JWT);
	ck_assert_str_eq(p->issuer, "https://kc.example.org/realms/mail/");
	ck_assert(p->discovery);
	/* trailing '/' of the issuer not doubled */
	ck_assert_str_eq(p->discovery_url,
			 "https://kc.example.org/realms/mail/.well-known/openid-configuration");
	ck_assert_ptr_null(p->jwks_uri);
	ck_assert_ptr_null(p->jwks_file);
	assert_list(&p->algorithms, LIST("RS256", "RS384", "RS512", "PS256", "PS384",
					 "PS512", "ES256", "ES384", "ES512", "EdDSA"));
	ck_assert_ptr_null(p->hmac_secret);
	assert_list(&p->audience, LIST("mail"));
	ck_assert(p->audience_check);
	assert_list(&p->required_scopes, EMPTY);
	assert_list(&p->scope_claims, LIST("scope", "scp"));
	assert_list(&p->typ, LIST("JWT", "at+jwt", "application/at+jwt"));
	ck_assert(!p->typ_required);
	ck_assert_uint_eq(p->required_claims_count, 0);
	ck_assert_ptr_null(p->required_claims);
	assert_list(&p->username_claims, LIST("preferred_username", "email", "upn", "sub"));
	ck_assert(!p->username_lowercase);
	ck_assert_ptr_null(p->username_domain_append);
	assert_list(&p->username_domain_strip, EMPTY);
	assert_list(&p->username_allow, EMPTY);
	ck_assert_uint_eq(p->username_allow_flags, 0);
	ck_assert(!p->allow_service_tokens);
	ck_assert(!p->accept_id_tokens);
	assert_list(&p->opaque_token_prefix, EMPTY);
	ck_assert_uint_eq(p->leeway, 60);
	ck_assert_uint_eq(p->max_token_age, 0);
	ck_assert_uint_eq(p->jwks_cache_min, 300);
	ck_assert_uint_eq(p->jwks_cache_max, 86400);
	ck_assert_uint_eq(p->jwks_refetch_interval, 60);
	ck_assert_uint_eq(p->jwks_stale_max, 7 * 86400);
	ck_assert_ptr_null(p->introspection_url);
	ck_assert_ptr_null(p->userinfo_url);
	ck_assert_ptr_null(p->tokeninfo_url);
	ck_assert_ptr_null(p->client_id);
	ck_assert_ptr_null(p->client_secret);
	ck_assert_int_eq(p->client_auth, MOA2_CLIENT_AUTH_BASIC);
	ck_assert_int_eq(p->opaque_mode, MOA2_VERIFY_MODE_NONE);
	ck_assert_int_eq(p->opaque_verifier, MOA2_VERIFY_MODE_NONE);
	assert_list(&p->claims_export, EMPTY);
	moa2_verify_config_free(&config);
}
END_TEST

START_TEST(test_crlf_file)
{
	struct moa2_verify_config *config;
	char *error;

	ck_assert_int_eq(moa2_verify_config_load(TEST_DATA_DIR "/config/crlf.conf",
						 &config, &error), 0);
	ck_assert_str_eq(config->providers[0].name, "crlf");
	ck_assert_str_eq(config->providers[0].issuer, "https://crlf.example");
	assert_list(&config->providers[0].audience, LIST("a", "b"));
	moa2_verify_config_free(&config);
}
END_TEST

START_TEST(test_missing_file)
{
	struct moa2_verify_config *config;
	char *error;

	ck_assert_int_eq(moa2_verify_config_load("/nonexistent/verify.conf",
						 &config, &error), -1);
	ck_assert_ptr_null(config);
	ck_assert_str_eq(error, "/nonexistent/verify.conf: cannot open the config "
			 "file: No such file or directory");
	free(error);
	ck_assert_int_eq(moa2_verify_config_load(tmp_dir, &config, &error), -1);
	ck_assert_ptr_null(config);
	ck_assert(strstr(error, "not a regular file") != NULL);
	free(error);
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(test_error_vectors)
{
	const struct tc_vector *v = &error_vectors->vectors[_i];
	size_t conf_len, exp_len, len;
	unsigned char *conf_raw = tc_vector_col(error_vectors, v, 0, &conf_len);
	unsigned char *exp_raw = tc_vector_col(error_vectors, v, 1, &exp_len);
	char *conf = subst_dir((const char *)conf_raw, conf_len, &len);
	char *expected = subst_dir((const char *)exp_raw, exp_len, &exp_len);
	struct moa2_verify_config *config;
	char *error;

	ck_assert_int_eq(moa2_verify_config_load_string("t.conf", conf, len,
							&config, &error), -1);
	ck_assert_ptr_null(config);
	ck_assert_msg(error != NULL && strcmp(error, expected) == 0,
		      "%s:%u:\n  got      %s\n  expected %s", error_vectors->name,
		      v->line, error, expected);
	free(error);
	free(conf);
	free(expected);
	free(conf_raw);
	free(exp_raw);
}
END_TEST

/* Secrets never appear in error messages. */
START_TEST(test_error_hides_secret)
{
	char *error = load_error("[provider a]\nissuer = https://a.example\n"
				 "audience = x\nclient_secret = hunter2\n"
				 "client_secret = hunter3\n");

	ck_assert_str_eq(error, "t.conf:5: key 'client_secret': given twice in "
			 "[provider a] (first at line 4)");
	free(error);
	error = load_error("[provider a]\nissuer = https://a.example\n"
			   "client_secret = \"hunter2\n");
	ck_assert(strstr(error, "hunter2") == NULL);
	ck_assert(strstr(error, "unterminated") != NULL);
	free(error);
}
END_TEST

/* ---------------------------------------------------------------- values */

START_TEST(test_quoting_and_comments)
{
	struct moa2_verify_config *config = load_ok(
		"[provider a]   # comment after a header\n"
		"  # indented comment\n"
		"\n"
		"issuer = https://a.example/p\n"
		"audience = \"  two words # not a comment \"   # but this is\n"
		"client_id = a#b\n"
		"username_domain_append = example.org #c\n"
		"required_claim = \"q=\\\"x\\\" \\\\ \"\n"
		"claims_export=a,,b ,\tc\n");
	const struct moa2_provider_config *p = &config->providers[0];

	ck_assert_str_eq(p->issuer, "https://a.example/p");
	/* a quoted list value is split like an unquoted one */
	assert_list(&p->audience, LIST("two", "words", "#", "not", "a", "comment"));
	ck_assert_str_eq(p->client_id, "a#b");
	ck_assert_str_eq(p->username_domain_append, "example.org");
	ck_assert_uint_eq(p->required_claims_count, 1);
	ck_assert_str_eq(p->required_claims[0].name, "q");
	ck_assert_str_eq(p->required_claims[0].value, "\"x\" \\");
	assert_list(&p->claims_export, LIST("a", "b", "c"));
	moa2_verify_config_free(&config);
}
END_TEST

START_TEST(test_value_units)
{
	static const struct {
		const char *line;
		unsigned int connect_ms;
	} cases[] = {
		{ "http_connect_timeout = 1", 1000 },
		{ "http_connect_timeout = 250ms", 250 },
		{ "http_connect_timeout = 2s", 2000 },
		{ "http_connect_timeout = 1m", 60000 },
		{ "http_connect_timeout = 0ms", 0 },
	};
	struct moa2_verify_config *config;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = tc_strdup_printf("%s\nhttp_timeout = 1h\n"
					      "[provider a]\nissuer = https://a.example\n"
					      "audience = x\n", cases[i].line);

		if (cases[i].connect_ms == 0) {
			char *error = load_error(text);

			ck_assert(strstr(error, "t.conf:1: key 'http_connect_timeout': zero") == error);
			free(error);
		} else {
			config = load_ok(text);
			ck_assert_uint_eq(config->http_connect_timeout, cases[i].connect_ms);
			ck_assert_uint_eq(config->http_timeout, 3600000);
			moa2_verify_config_free(&config);
		}
		free(text);
	}
	config = load_ok("http_max_response = 2M\nopaque_cache_max_ttl = 2h\n"
			 "opaque_cache_negative_ttl = 1d\nopaque_cache_entries = 0\n"
			 "log_debug = YES\nallow_http_loopback = 0\n"
			 "[provider a]\nissuer = https://a.example\naudience = x\n"
			 "max_token_age = 4294967295\naudience_check = False\n");
	ck_assert_uint_eq(config->http_max_response, 2 * 1024 * 1024);
	ck_assert_uint_eq(config->opaque_cache_max_ttl, 7200);
	ck_assert_uint_eq(config->opaque_cache_negative_ttl, 86400);
	ck_assert_uint_eq(config->opaque_cache_entries, 0);
	ck_assert(config->log_debug);
	ck_assert(!config->allow_http_loopback);
	ck_assert_uint_eq(config->providers[0].max_token_age, 4294967295u);
	ck_assert(!config->providers[0].audience_check);
	moa2_verify_config_free(&config);
}
END_TEST

/* ------------------------------------------------------------ secret files */

START_TEST(test_secret_files)
{
	char *text = tc_strdup_printf(
		  "[provider i]\nmode = introspection\n"
		  "introspection_url = https://i.example/introspect\n"
		  "audience = mail\nclient_id = dovecot\n"
		  "client_secret_file = %s/secret-0600\n"
		  "[provider h]\nissuer = https://h.example\njwks_uri = https://h.example/k\n"
		  "audience = mail\nalgorithms = HS256 RS256\n"
		  "hmac_secret_file = %s/secret-crlf\n"
		  "[provider r]\nissuer = https://r.example\naudience = mail\n"
		  "mode = auto\nopaque_mode = introspection\nclient_id = c\n"
		  "opaque_token_prefix = r.\n"
		  "client_secret_file = \"%s/secret-0400\"\n", tmp_dir, tmp_dir, tmp_dir);
	struct moa2_verify_config *config = load_ok(text);

	/* trailing newline stripped */
	ck_assert_str_eq(config->providers[0].client_secret, "s3cret");
	ck_assert_str_eq(config->providers[1].hmac_secret, "k3y with spaces");
	ck_assert_str_eq(config->providers[2].client_secret, "read-only");
	ck_assert_int_eq(config->providers[2].opaque_verifier,
			 MOA2_VERIFY_MODE_INTROSPECTION);
	moa2_verify_config_free(&config);
	free(text);
}
END_TEST

/* ------------------------------------------------------------- modes etc. */

START_TEST(test_modes)
{
	struct moa2_verify_config *config = load_ok(
		"[provider local]\nissuer = none\njwks_file = /etc/k.pem\n"
		"audience_check = no\n"
		"[provider auto]\nmode = auto\nissuer = https://auto.example\n"
		"audience = x\nopaque_mode = introspection\nclient_id = c\n"
		"client_secret = s\n"
		"[provider ui]\nmode = userinfo\nuserinfo_url = https://ui.example/u\n"
		"audience_check = no\nopaque_token_prefix = ui.\n"
		"[provider disc]\nissuer = https://disc.example\naudience = x\n"
		"discovery_url = https://disc.example/.well-known/oauth-authorization-server\n");
	const struct moa2_provider_config *local = &config->providers[0];
	const struct moa2_provider_config *aut = &config->providers[1];
	const struct moa2_provider_config *ui = &config->providers[2];
	const struct moa2_provider_config *disc = &config->providers[3];

	ck_assert_ptr_null(local->issuer);
	ck_assert(local->issuer_none);
	ck_assert(!local->discovery);
	ck_assert_str_eq(local->jwks_file, "/etc/k.pem");
	ck_assert(!local->audience_check);

	ck_assert_int_eq(aut->mode, MOA2_VERIFY_MODE_AUTO);
	ck_assert_int_eq(aut->opaque_mode, MOA2_VERIFY_MODE_INTROSPECTION);
	ck_assert_int_eq(aut->opaque_verifier, MOA2_VERIFY_MODE_INTROSPECTION);
	ck_assert(aut->discovery); /* the introspection URL comes from it */
	ck_assert_str_eq(aut->discovery_url,
			 "https://auto.example/.well-known/openid-configuration");

	/* RFC 7662's username comes first for introspection */
	assert_list(&aut->username_claims, LIST("username", "preferred_username", "email",
						"upn", "sub"));
	assert_list(&ui->username_claims, LIST("preferred_username", "email", "upn", "sub"));

	ck_assert_int_eq(ui->mode, MOA2_VERIFY_MODE_USERINFO);
	ck_assert_int_eq(ui->opaque_verifier, MOA2_VERIFY_MODE_USERINFO);
	ck_assert(!ui->discovery);

	ck_assert(disc->discovery);
	ck_assert_str_eq(disc->discovery_url,
			 "https://disc.example/.well-known/oauth-authorization-server");

	/* routing by iss: exact match first, then the issuer = none provider */
	ck_assert_ptr_eq(moa2_verify_config_find_issuer(config, "https://auto.example"), aut);
	ck_assert_ptr_eq(moa2_verify_config_find_issuer(config, "https://other.example"),
			 local);
	ck_assert_str_eq(moa2_verify_mode_name(MOA2_VERIFY_MODE_TOKENINFO), "tokeninfo");
	ck_assert_str_eq(moa2_verify_mode_name(MOA2_VERIFY_MODE_NONE), "none");
	moa2_verify_config_free(&config);
}
END_TEST

START_TEST(test_loopback_opt_in)
{
	struct moa2_verify_config *config = load_ok(
		"allow_http_loopback = yes\n"
		"[provider a]\nissuer = http://127.0.0.1:9000/realms/t\naudience = x\n"
		"jwks_uri = http://[::1]:9000/jwks\ndiscovery = yes\n"
		"[provider b]\nissuer = https://b.example\naudience = x\n"
		"jwks_uri = http://127.8.9.10/jwks\n");

	ck_assert_str_eq(config->providers[0].discovery_url,
			 "http://127.0.0.1:9000/realms/t/.well-known/openid-configuration");
	ck_assert_str_eq(config->providers[0].jwks_uri, "http://[::1]:9000/jwks");
	ck_assert_str_eq(config->providers[1].jwks_uri, "http://127.8.9.10/jwks");
	moa2_verify_config_free(&config);
}
END_TEST

START_TEST(test_url_parse)
{
	static const struct {
		const char *url;
		int ret;
		bool https, loopback;
		const char *host;
		unsigned int port;
	} cases[] = {
		{ "http://127.0.0.1/", 0, false, true, "127.0.0.1", 0 },
		{ "http://127.255.255.254:1/x", 0, false, true, "127.255.255.254", 1 },
		{ "http://128.0.0.1/", 0, false, false, "128.0.0.1", 0 },
		{ "http://[::1]:8080/x?y", 0, false, true, "::1", 8080 },
		{ "http://[::ffff:127.0.0.1]/", 0, false, false, "::ffff:127.0.0.1", 0 },
		{ "http://localhost/", 0, false, false, "localhost", 0 },
		{ "http://127.0.0.1.nip.io/", 0, false, false, "127.0.0.1.nip.io", 0 },
		{ "HTTPS://Idp.Example.COM:65535?q=1", 0, true, false, "Idp.Example.COM", 65535 },
		{ "https://a.example", 0, true, false, "a.example", 0 },
		{ "http://0x7f.0.0.1/", -1, false, false, NULL, 0 },
		{ "http://2130706433/", -1, false, false, NULL, 0 },
		{ "http://127.000.000.001/", -1, false, false, NULL, 0 },
		{ "http://a.example:65536/", -1, false, false, NULL, 0 },
		{ "http://a.example:/", -1, false, false, NULL, 0 },
		{ "http://u:p@a.example/", -1, false, false, NULL, 0 },
		{ "http://a_b.example/", 0, false, false, "a_b.example", 0 },
		{ "http://a.example\\@b/", -1, false, false, NULL, 0 },
		{ "http://[::1/", -1, false, false, NULL, 0 },
		{ "http://[::1]x/", -1, false, false, NULL, 0 },
		{ "//a.example/", -1, false, false, NULL, 0 },
		{ "https://a.example./", -1, false, false, NULL, 0 },
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_url url;
		const char *reason = NULL;
		int ret = moa2_url_parse(cases[i].url, &url, &reason);

		ck_assert_msg(ret == cases[i].ret, "%s: %d (%s)", cases[i].url, ret,
			      reason == NULL ? "" : reason);
		if (ret < 0) {
			ck_assert_ptr_nonnull(reason);
			continue;
		}
		ck_assert_msg(url.https == cases[i].https, "%s", cases[i].url);
		ck_assert_msg(url.loopback == cases[i].loopback,
			      "%s", cases[i].url);
		ck_assert_str_eq(url.host, cases[i].host);
		ck_assert_uint_eq(url.port, cases[i].port);
	}
}
END_TEST

/* ------------------------------------------------------- generic schema */

/* A host-defined schema with a second section kind, as the token client
   will add: [account NAME]. */
struct test_account {
	const char *token_file;
	struct moa2_config_list scopes;
	unsigned int margin;
	size_t max_size;
	int grant;
	const char *secret;
};

static const struct moa2_config_enum grant_words[] = {
	{ "refresh_token", 7 }, { "client_credentials", 9 }, { NULL, 0 }
};

static const struct moa2_config_option account_options[] = {
	{ "token_file", MOA2_CONFIG_PATH, 0, NULL, NULL, NULL, "token store",
	  offsetof(struct test_account, token_file) },
	{ "scope", MOA2_CONFIG_LIST, MOA2_CONFIG_REPEATABLE, NULL, "a b", NULL, "scopes",
	  offsetof(struct test_account, scopes) },
	{ "refresh_margin", MOA2_CONFIG_DURATION, 0, NULL, "5m", NULL, "margin",
	  offsetof(struct test_account, margin) },
	{ "max_size", MOA2_CONFIG_SIZE, 0, NULL, "1k", NULL, "size",
	  offsetof(struct test_account, max_size) },
	{ "grant", MOA2_CONFIG_ENUM, 0, grant_words, "client_credentials", NULL, "grant",
	  offsetof(struct test_account, grant) },
	{ "secret", MOA2_CONFIG_SECRET, 0, NULL, NULL, NULL, "secret",
	  offsetof(struct test_account, secret) },
	{ "note", MOA2_CONFIG_STRING, 0, NULL, NULL, NULL, "not bound",
	  MOA2_CONFIG_UNBOUND },
};

static const struct moa2_config_option other_options[] = {
	{ "x", MOA2_CONFIG_UINT, 0, NULL, NULL, NULL, "x", MOA2_CONFIG_UNBOUND },
};

static const struct moa2_config_option test_global_options[] = {
	{ "debug", MOA2_CONFIG_BOOL, 0, NULL, "no", NULL, "debug", MOA2_CONFIG_UNBOUND },
};

static const struct moa2_config_section_kind test_kinds[] = {
	{ "provider", other_options, 1 },
	{ "account", account_options, sizeof(account_options) / sizeof(account_options[0]) },
};

static const struct moa2_config_schema test_schema = {
	{ NULL, test_global_options, 1 }, test_kinds, 2
};

static int
parse_test(const char *text, struct moa2_config **config_r, char **error_r)
{
	return moa2_config_parse_string("g.conf", text, strlen(text), &test_schema,
					config_r, error_r);
}

START_TEST(test_generic_schema)
{
	static const char text[] =
		"debug = 1\n"
		"[account m365]\n"
		"token_file = /var/lib/t.json\n"
		"scope = https://outlook.office365.com/.default, offline_access\n"
		"scope = openid\n"
		"grant = refresh_token\n"
		"secret = \"s p\"\n"
		"note = kept\n"
		"[provider p]\n"
		"x = 7\n"
		"[account other]\n";
	struct moa2_config *config;
	struct test_account acct;
	const struct moa2_config_setting *set;
	char *error;

	ck_assert_int_eq(parse_test(text, &config, &error), 0);
	ck_assert_uint_eq(config->sections_count, 4);
	ck_assert_ptr_null(config->sections[0].name);
	set = moa2_config_section_get(&config->sections[0], "debug");
	ck_assert(set->bool_value);
	ck_assert_uint_eq(set->line, 1);

	ck_assert_str_eq(config->sections[1].kind->name, "account");
	ck_assert_str_eq(config->sections[1].name, "m365");
	ck_assert_uint_eq(config->sections[1].line, 2);
	memset(&acct, 0xa5, sizeof(acct));
	moa2_config_bind(&config->sections[1], &acct);
	ck_assert_str_eq(acct.token_file, "/var/lib/t.json");
	assert_list(&acct.scopes, LIST("https://outlook.office365.com/.default",
				       "offline_access", "openid"));
	set = moa2_config_section_get(&config->sections[1], "scope");
	ck_assert_uint_eq(set->item_lines[0], 4);
	ck_assert_uint_eq(set->item_lines[1], 4);
	ck_assert_uint_eq(set->item_lines[2], 5);
	ck_assert_uint_eq(acct.margin, 300);
	ck_assert_uint_eq(acct.max_size, 1024);
	ck_assert_int_eq(acct.grant, 7);
	ck_assert_str_eq(acct.secret, "s p");
	ck_assert(!moa2_config_section_is_set(&config->sections[1], "refresh_margin"));
	ck_assert(moa2_config_section_is_set(&config->sections[1], "grant"));
	ck_assert_uint_eq(moa2_config_section_line(&config->sections[1], "refresh_margin"), 2);
	ck_assert_uint_eq(moa2_config_section_line(&config->sections[1], "grant"), 6);
	ck_assert_str_eq(moa2_config_section_get(&config->sections[1], "note")->str, "kept");
	ck_assert_ptr_null(moa2_config_section_get(&config->sections[1], "nope"));

	ck_assert_uint_eq(moa2_config_section_get(&config->sections[2], "x")->number, 7);

	/* an account with nothing set: defaults, absent values NULL */
	memset(&acct, 0xa5, sizeof(acct));
	moa2_config_bind(&config->sections[3], &acct);
	ck_assert_ptr_null(acct.token_file);
	ck_assert_ptr_null(acct.secret);
	assert_list(&acct.scopes, LIST("a", "b"));
	ck_assert_int_eq(acct.grant, 9);
	moa2_config_free(&config);
	ck_assert_ptr_null(config);

	ck_assert_int_eq(parse_test("[foo x]\n", &config, &error), -1);
	ck_assert_str_eq(error, "g.conf:1: unknown section kind 'foo' (expected "
			 "[provider NAME] or [account NAME])");
	free(error);
	ck_assert_int_eq(parse_test("[account a]\ngrant = x\n", &config, &error), -1);
	ck_assert_str_eq(error, "g.conf:2: key 'grant': invalid value 'x' (expected "
			 "one of: refresh_token, client_credentials)");
	free(error);
	/* the same key in two sections is no duplicate */
	ck_assert_int_eq(parse_test("[account a]\nnote = 1\n[account b]\nnote = 2\n",
				    &config, &error), 0);
	moa2_config_free(&config);
}
END_TEST

/* ------------------------------------------------------- schema and docs */

/* The options the design asks for; a new option is added here, to the
   schema and to the example config. */
static const char *const expected_global_keys[] = {
	"cache_dir", "ca_file", "ca_dir", "http_connect_timeout", "http_timeout",
	"http_max_response", "allow_http_loopback", "opaque_cache_entries",
	"opaque_cache_max_ttl", "opaque_cache_negative_ttl", "log_debug", NULL
};
static const char *const expected_provider_keys[] = {
	"mode", "issuer", "discovery", "discovery_url", "jwks_uri", "jwks_file",
	"algorithms", "hmac_secret", "audience", "audience_check",
	"required_scopes", "scope_claims", "typ", "typ_required", "required_claim",
	"username_claims", "username_lowercase", "username_domain_append",
	"username_domain_strip", "username_allow", "allow_service_tokens",
	"accept_id_tokens", "opaque_token_prefix", "leeway", "max_token_age", "jwks_cache_min",
	"jwks_cache_max", "jwks_refetch_interval", "jwks_stale_max",
	"introspection_url", "userinfo_url", "tokeninfo_url", "client_id",
	"client_secret", "client_auth", "opaque_mode", "claims_export", NULL
};

START_TEST(test_schema_iter)
{
	unsigned int n_global, n_provider;

	tc_check_schema_options(moa2_verify_config_schema(), expected_global_keys,
				"provider", expected_provider_keys, &n_global, &n_provider);
	ck_assert_uint_eq(n_global, 11);
	ck_assert_uint_eq(n_provider, 37);
	ck_assert_str_eq(moa2_config_type_name(MOA2_CONFIG_DURATION_MS), "duration");
}
END_TEST

START_TEST(test_example_parses)
{
	struct moa2_verify_config *config;
	char *error = NULL;

	if (moa2_verify_config_load(EXAMPLE_CONF, &config, &error) < 0)
		ck_abort_msg("the example config does not load: %s", error);
	ck_assert_uint_eq(config->providers_count, 1);
	ck_assert_str_eq(config->providers[0].name, "example");
	ck_assert_uint_ge(config->providers[0].audience.count, 1);
	moa2_verify_config_free(&config);
}
END_TEST

/* DESIGN.md: every option in code is documented in the shipped config
   snippets; this fails when they drift apart in either direction. */
START_TEST(test_docs_drift)
{
	tc_check_docs_drift(moa2_verify_config_schema(), EXAMPLE_CONF);
}
END_TEST

/* ------------------------------------------------------------------ main */

static void
make_secret_files(void)
{
	if (mkdtemp(tmp_dir) == NULL) {
		perror("test-config: mkdtemp");
		exit(EXIT_FAILURE);
	}
	write_file("secret-0600", "s3cret\n", 0600);
	write_file("secret-0400", "read-only", 0400);
	write_file("secret-crlf", "k3y with spaces\r\n\n", 0600);
	write_file("secret-0644", "s3cret\n", 0644);
	write_file("secret-0640", "s3cret\n", 0640);
	write_file("secret-empty", "\n", 0600);
	write_file("secret-2lines", "line1\nline2\n", 0600);
}

static void
remove_secret_files(void)
{
	static const char *const names[] = {
		"secret-0600", "secret-0400", "secret-crlf", "secret-0644",
		"secret-0640", "secret-empty", "secret-2lines",
	};
	char path[4096];

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp_dir, names[i]);
		unlink(path);
	}
	rmdir(tmp_dir);
}

int
main(void)
{
	Suite *suite = suite_create("config");
	TCase *tc = tcase_create("config");
	int ret;

	make_secret_files();
	error_vectors = tc_vectors_load("config/errors.txt", 2);
	tcase_add_test(tc, test_full_file);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_crlf_file);
	tcase_add_test(tc, test_missing_file);
	tcase_add_loop_test(tc, test_error_vectors, 0, (int)error_vectors->count);
	tcase_add_test(tc, test_error_hides_secret);
	tcase_add_test(tc, test_quoting_and_comments);
	tcase_add_test(tc, test_value_units);
	tcase_add_test(tc, test_secret_files);
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_loopback_opt_in);
	tcase_add_test(tc, test_url_parse);
	tcase_add_test(tc, test_generic_schema);
	tcase_add_test(tc, test_schema_iter);
	tcase_add_test(tc, test_example_parses);
	tcase_add_test(tc, test_docs_drift);
	suite_add_tcase(suite, tc);
	ret = tc_run_suite(suite);
	remove_secret_files();
	return ret;
}
