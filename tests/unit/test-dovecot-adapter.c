/* SPDX-License-Identifier: MIT */
/* Unit tests of the Dovecot adapter (plugin/dovecot) without a running
   Dovecot: the adapter's objects run against dovecot-stub.c (the few
   auth-process functions it calls, recording) and the real libdovecot.

   Mechanisms: a valid response reaches the passdb chain with the token and
   the asserted user; a malformed one fails with the core's log line; double
   base64 is refused or accepted by the passdb args; a rejection sends the
   core's challenge and FAIL follows the acknowledgement; a temporary
   failure is an internal failure with the reason field. Passdb: accepted ->
   the user and the exported claims (reserved names refused); rejected ->
   PASSWORD_MISMATCH with the challenge data, directly or as moa2_* fields
   from an auth-worker (the master's challenge is byte for byte the same),
   and the same from verification threads; tempfail -> INTERNAL_FAILURE;
   init() puts our mechanisms into Dovecot's register unless
   builtin_mechanisms=yes. Tokens are signed here and verified by the real
   engine with a local key. */

#include "dovecot-stub.h"

#include "str.h"
#include "strescape.h"
#include "base64.h"
#include "ioloop.h"
#include "module-dir.h"
#include "auth-fields.h"
#include "mech.h"

#include "passdb-bearer.h"

#include "test-common.h"
#include "test-jose-sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* the module's entry points (exported from libauthdb_bearer.so) */
void authdb_bearer_init(struct module *module);
void authdb_bearer_deinit(void);

#define ISSUER "https://idp.test"
#define DISCOVERY ISSUER "/.well-known/openid-configuration"
#define TEMPFAIL_REASON "Temporary authentication failure, try again later"
#define PLACEHOLDER_USER "bearer-token-user"

static EVP_PKEY *signing_key;
static char work_dir[256];
static char conf_path[300], tempfail_conf_path[300];

/* ------------------------------------------------------------ fixtures */

static char *
make_token(const char *aud, const char *user, const char *scope)
{
	char payload[512];

	snprintf(payload, sizeof(payload),
		 "{\"iss\":\"" ISSUER "\",\"aud\":\"%s\",\"sub\":\"%s\","
		 "\"preferred_username\":\"%s\",\"scope\":\"%s\",\"nologin\":\"y\","
		 "\"iat\":%lld,\"exp\":%lld}", aud, user, user, scope,
		 (long long)time(NULL), (long long)time(NULL) + 600);
	return test_jose_sign("RS256", signing_key,
			      "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", payload);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(EXIT_FAILURE);
	}
}

static void
write_conf(const char *path, const char *keys)
{
	char text[2048];

	snprintf(text, sizeof(text), "cache_dir = %s\nlog_debug = yes\n"
		 "[provider test]\nissuer = " ISSUER "\naudience = https://mail.test\n"
		 "required_scopes = imap\nusername_claims = preferred_username\n"
		 "claims_export = preferred_username nologin\n%s\n", work_dir, keys);
	write_file(path, text);
}

static void
suite_setup(void)
{
	char pem_path[300], keys[400], *pem;

	snprintf(work_dir, sizeof(work_dir), "%s/moa2-dovecot-adapter.XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(work_dir) == NULL) {
		perror(work_dir);
		exit(EXIT_FAILURE);
	}
	signing_key = test_jose_keygen_rsa(2048);
	pem = test_jose_public_pem(signing_key);
	snprintf(pem_path, sizeof(pem_path), "%s/key.pem", work_dir);
	write_file(pem_path, pem);
	free(pem);
	snprintf(keys, sizeof(keys), "jwks_file = %s\ndiscovery_url = " DISCOVERY,
		 pem_path);
	snprintf(conf_path, sizeof(conf_path), "%s/verify.conf", work_dir);
	write_conf(conf_path, keys);
	/* nothing listens on port 1: the keys are unavailable */
	snprintf(tempfail_conf_path, sizeof(tempfail_conf_path), "%s/down.conf",
		 work_dir);
	write_conf(tempfail_conf_path, "jwks_uri = https://127.0.0.1:1/jwks");
	stub_init();
}

static void
suite_teardown(void)
{
	char path[400];

	stub_deinit();
	EVP_PKEY_free(signing_key);
	signing_key = NULL;
	for (unsigned int i = 0; i < 3; i++) {
		static const char *const names[] = { "key.pem", "verify.conf", "down.conf" };

		snprintf(path, sizeof(path), "%s/%s", work_dir, names[i]);
		unlink(path);
	}
	/* the engine may have left a key cache file of the down provider */
	rmdir(work_dir);
}

static void
case_setup(void)
{
	stub_case_begin();
	authdb_bearer_init(NULL);
	ck_assert_ptr_nonnull(stub.passdb_iface);
	ck_assert_str_eq(stub.passdb_iface->name, "bearer");
}

static void
case_teardown(void)
{
	authdb_bearer_deinit();
	ck_assert_ptr_null(stub.passdb_iface);
	stub_reset();
}

/* ------------------------------------------------------------ helpers */

struct test_passdb {
	pool_t pool;
	struct passdb_module_interface iface;
	struct auth_passdb auth_passdb;
};

/* The passdb as Dovecot makes it: preinit with "OPTIONS CONF" as its
   args, then init. */
static void
passdb_create(struct test_passdb *pd, const char *options, const char *conf)
{
	struct passdb_module *module;

	pd->iface = *stub.passdb_iface;
	pd->pool = pool_alloconly_create("test passdb", 1024);
	module = pd->iface.preinit(pd->pool, t_strdup_printf("%s %s", options, conf));
	ck_assert_ptr_nonnull(module);
	module->iface = pd->iface;
	pd->iface.init(module);
	i_zero(&pd->auth_passdb);
	pd->auth_passdb.passdb = module;
}

static void
passdb_destroy(struct test_passdb *pd)
{
	pd->iface.deinit(pd->auth_passdb.passdb);
	pool_unref(&pd->pool);
}

static enum passdb_result last_result;
static unsigned int last_result_calls;

static void
record_result(enum passdb_result result, struct auth_request *request ATTR_UNUSED)
{
	last_result = result;
	last_result_calls++;
}

static void
passdb_verify(struct test_passdb *pd, struct auth_request *request,
	      const char *token)
{
	last_result_calls = 0;
	pd->iface.verify_plain(request, token, record_result);
	ck_assert_uint_eq(last_result_calls, 1);
}

/* A passdb lookup of alice's token sent as a password (PLAIN), from ip */
static struct auth_request *
plain_request(struct test_passdb *pd, const char *ip)
{
	struct auth_request *request =
		stub_request_new(NULL, "PLAIN", ip, &pd->auth_passdb);

	request->fields.user = p_strdup(request->pool, "alice");
	return request;
}

/* A new blocking=no passdb, and token verified by it as alice's PLAIN
   password from ip: the request (the passdb's result in last_result) */
static struct auth_request *
plain_lookup(struct test_passdb *pd, const char *ip, const char *token)
{
	struct auth_request *request;

	passdb_create(pd, "blocking=no", conf_path);
	request = plain_request(pd, ip);
	passdb_verify(pd, request, token);
	return request;
}

/* the client's response as it arrives in auth_continue (base64-decoded) */
static const char *
xoauth2_response(const char *user, const char *token)
{
	return t_strdup_printf("user=%s\001auth=Bearer %s\001\001", user, token);
}

static const char *
oauthbearer_response(const char *authzid, const char *token)
{
	return t_strdup_printf("n,%s%s,\001host=mail.test\001port=143\001"
			       "auth=Bearer %s\001\001", authzid != NULL ? "a=" : "",
			       authzid != NULL ? authzid : "", token);
}

static void
mech_input(struct auth_request *request, const char *data)
{
	request->mech->auth_initial(request, (const unsigned char *)data,
				    strlen(data));
}

static void
mech_ack(struct auth_request *request, const char *data)
{
	request->mech->auth_continue(request, (const unsigned char *)data,
				     strlen(data));
}

/* A login with mech: the response through the mechanism, then the token
   through the passdb as Dovecot's passdb chain would, and the passdb's
   result back to the mechanism. */
static struct auth_request *
mech_login(struct test_passdb *pd, const struct mech_module *mech,
	   const char *ip, const char *response)
{
	struct auth_request *request =
		stub_request_new(mech, mech->mech_name, ip, &pd->auth_passdb);

	mech_input(request, response);
	ck_assert_uint_eq(stub.verify_plain_calls, 1);
	pd->iface.verify_plain(request, stub.verify_plain_password,
			       stub.verify_plain_callback);
	return request;
}

/* every grep of a case: the line that carries all of parts, in order */
static void
assert_log(const char *first, const char *second)
{
	const char *line = strstr(stub.log, first);

	while (line != NULL) {
		const char *end = strchr(line, '\n');

		if (second == NULL || (strstr(line, second) != NULL &&
				       (end == NULL || strstr(line, second) < end)))
			return;
		line = strstr(line + 1, first);
	}
	ck_abort_msg("no log line with \"%s\"%s%s%s; log:\n%s", first,
		     second != NULL ? " then \"" : "",
		     second != NULL ? second : "", second != NULL ? "\"" : "",
		     stub.log);
}

/* ------------------------------------------------------- mechanisms */

START_TEST(test_xoauth2_response_to_passdb)
{
	struct auth_request *request =
		stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.2", NULL);

	mech_input(request, xoauth2_response("alice", "tok.en-1"));
	ck_assert_uint_eq(stub.verify_plain_calls, 1);
	ck_assert_str_eq(stub.verify_plain_password, "tok.en-1");
	ck_assert_str_eq(stub.verify_plain_user, "alice");
	ck_assert(!mech_oauth2_bearer_user_from_token(request));
	ck_assert_uint_eq(stub.fail_calls + stub.internal_failure_calls, 0);
	/* the passdb says OK: success, no challenge */
	stub.verify_plain_callback(PASSDB_RESULT_OK, request);
	ck_assert_uint_eq(stub.success_calls, 1);
	ck_assert_uint_eq(stub.continue_calls, 0);
	stub_request_free(&request);
}
END_TEST

START_TEST(test_oauthbearer_authzid_optional)
{
	struct auth_request *request =
		stub_request_new(&mech_oauthbearer_bearer, "OAUTHBEARER", "127.0.0.2", NULL);

	/* RFC 7628: no authzid, the identity comes from the token */
	mech_input(request, oauthbearer_response(NULL, "tok-2"));
	ck_assert_uint_eq(stub.verify_plain_calls, 1);
	ck_assert_str_eq(stub.verify_plain_password, "tok-2");
	ck_assert_str_eq(stub.verify_plain_user, PLACEHOLDER_USER);
	ck_assert(mech_oauth2_bearer_user_from_token(request));
	stub_request_free(&request);

	stub_reset();
	request = stub_request_new(&mech_oauthbearer_bearer, "OAUTHBEARER", "127.0.0.2", NULL);
	mech_input(request, oauthbearer_response("bob=2Cx", "tok-3"));
	ck_assert_str_eq(stub.verify_plain_user, "bob,x");
	ck_assert(!mech_oauth2_bearer_user_from_token(request));
	stub_request_free(&request);
}
END_TEST

START_TEST(test_malformed_response)
{
	struct auth_request *request =
		stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.3", NULL);

	mech_input(request, "user=x auth=y");
	ck_assert_uint_eq(stub.fail_calls, 1);
	ck_assert_uint_eq(stub.verify_plain_calls, 0);
	ck_assert_uint_eq(stub.continue_calls, 0);
	/* the core's line, at info, on the mechanism's event */
	assert_log("Info: stub(?,127.0.0.3): xoauth2: XOAUTH2 response refused: "
		   "no_terminator: the response does not end with the final ^A", NULL);
	stub_request_free(&request);

	/* a user name Dovecot refuses: failure, Dovecot's reason logged */
	stub_reset();
	request = stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.3", NULL);
	mech_input(request, xoauth2_response("al ice", "tok"));
	ck_assert_uint_eq(stub.fail_calls, 1);
	ck_assert_uint_eq(stub.verify_plain_calls, 0);
	assert_log("Info: stub(?,127.0.0.3): xoauth2: Username character disallowed", NULL);
	stub_request_free(&request);
}
END_TEST

static const char *
double_base64(const char *raw)
{
	string_t *str = t_str_new(256);

	base64_encode(raw, strlen(raw), str);
	return str_c(str);
}

START_TEST(test_double_base64_by_passdb_args)
{
	const char *resp = double_base64(xoauth2_response("alice", "tok-db"));
	struct test_passdb pd;
	struct auth_request *request;

	/* refused by default, named in plain words */
	passdb_create(&pd, "blocking=no", conf_path);
	request = stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.4", NULL);
	mech_input(request, resp);
	ck_assert_uint_eq(stub.fail_calls, 1);
	ck_assert_uint_eq(stub.verify_plain_calls, 0);
	assert_log("Info: stub(?,127.0.0.4): xoauth2: XOAUTH2 response refused: "
		   "double_base64: the client base64-encoded its response twice",
		   "; fix the client, or accept such responses with passdb args "
		   "allow_double_base64=yes");
	stub_request_free(&request);
	passdb_destroy(&pd);

	/* allow_double_base64=yes: accepted, still named */
	stub_reset();
	passdb_create(&pd, "blocking=no allow_double_base64=yes", conf_path);
	request = stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.4", NULL);
	mech_input(request, resp);
	ck_assert_uint_eq(stub.fail_calls, 0);
	ck_assert_uint_eq(stub.verify_plain_calls, 1);
	ck_assert_str_eq(stub.verify_plain_password, "tok-db");
	ck_assert_str_eq(stub.verify_plain_user, "alice");
	assert_log("Info: stub(?,127.0.0.4): xoauth2: XOAUTH2 accepted a doubly "
		   "base64-encoded response (passdb args allow_double_base64=yes): "
		   "the client base64-encoded its response twice", NULL);
	stub_request_free(&request);
	passdb_destroy(&pd);
	/* the next module starts from the default again */
	mech_oauth2_bearer_set_sasl_flags(0);
}
END_TEST

/* The rejection's data, the challenge, and FAIL only after the ack. */
START_TEST(test_challenge_then_fail_after_ack)
{
	struct auth_request *request =
		stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.5", NULL);

	mech_input(request, xoauth2_response("alice", "tok-5"));
	ck_assert_ptr_nonnull(request->mech_password);
	mech_oauth2_bearer_set_rejection(request, MOA2_VERIFY_INSUFFICIENT_SCOPE,
					 "imap", DISCOVERY);
	stub.verify_plain_callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
	ck_assert_uint_eq(stub.continue_calls, 1);
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"403\",\"schemes\":\"bearer\","
			 "\"scope\":\"imap\",\"openid-configuration\":\"" DISCOVERY "\"}");
	/* the token is wiped and forgotten once judged */
	ck_assert_ptr_null(request->mech_password);
	ck_assert_uint_eq(stub.fail_calls, 0);
	/* the client acknowledges (XOAUTH2: an empty response): now FAIL */
	mech_ack(request, "");
	ck_assert_uint_eq(stub.fail_calls, 1);
	ck_assert_ptr_null(strstr(stub.log, "did not acknowledge"));
	stub_request_free(&request);

	/* OAUTHBEARER: ^A is the ack; anything else fails too, and is logged */
	stub_reset();
	request = stub_request_new(&mech_oauthbearer_bearer, "OAUTHBEARER", "127.0.0.5", NULL);
	mech_input(request, oauthbearer_response("alice", "tok-6"));
	mech_oauth2_bearer_set_rejection(request, MOA2_VERIFY_EXPIRED, "imap", NULL);
	stub.verify_plain_callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"invalid_token\",\"scope\":\"imap\"}");
	mech_ack(request, "what?");
	ck_assert_uint_eq(stub.fail_calls, 1);
	assert_log("Info: stub(?,127.0.0.5): oauthbearer: the client did not "
		   "acknowledge the failure challenge as OAUTHBEARER requires", NULL);
	stub_request_free(&request);
}
END_TEST

/* Judged by another passdb (Dovecot's oauth2): no reason known, its
   openid_config_url still reaches the client. */
START_TEST(test_challenge_from_another_passdb)
{
	struct auth_request *request =
		stub_request_new(&mech_oauthbearer_bearer, "OAUTHBEARER", "127.0.0.6", NULL);

	mech_input(request, oauthbearer_response(NULL, "tok-7"));
	request->openid_config_url = "https://other.test/.well-known/openid-configuration";
	stub.verify_plain_callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"invalid_token\","
			 "\"openid-configuration\":\"https://other.test/.well-known/"
			 "openid-configuration\"}");
	stub_request_free(&request);
}
END_TEST

START_TEST(test_tempfail_is_internal_failure)
{
	struct auth_request *request =
		stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.7", NULL);

	mech_input(request, xoauth2_response("alice", "tok-8"));
	stub.verify_plain_callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
	ck_assert_uint_eq(stub.internal_failure_calls, 1);
	ck_assert_uint_eq(stub.fail_calls, 0);
	ck_assert_uint_eq(stub.continue_calls, 0);
	/* what Postfix (smtpd_sasl_type = dovecot) shows with its 535 */
	ck_assert_str_eq(stub_field(request->fields.extra_fields, "reason"), TEMPFAIL_REASON);
	stub_request_free(&request);
}
END_TEST

/* ------------------------------------------------------------ passdb */

START_TEST(test_init_replaces_the_mechanisms)
{
	struct test_passdb pd;

	ck_assert(stub_mech_is_builtin(stub_registered_mech("XOAUTH2")));
	passdb_create(&pd, "blocking=no", conf_path);
	ck_assert(stub_registered_mech("XOAUTH2")->auth_continue ==
		  mech_xoauth2_bearer.auth_continue);
	ck_assert(stub_registered_mech("OAUTHBEARER")->auth_new ==
		  mech_oauthbearer_bearer.auth_new);
	assert_log("Debug: bearer: XOAUTH2: using the mail-oauth2 mechanism", NULL);
	passdb_destroy(&pd);

	/* builtin_mechanisms=yes keeps Dovecot's */
	stub_case_begin();
	authdb_bearer_init(NULL);
	passdb_create(&pd, "blocking=no builtin_mechanisms=yes", conf_path);
	ck_assert(stub_mech_is_builtin(stub_registered_mech("XOAUTH2")));
	ck_assert(stub_mech_is_builtin(stub_registered_mech("OAUTHBEARER")));
	passdb_destroy(&pd);
}
END_TEST

/* accepted -> OK, the user is the token's identity, the exported claims
   become fields (a name Dovecot interprets itself is refused) */
START_TEST(test_passdb_accepted)
{
	char *token = make_token("https://mail.test", "alice", "imap");
	struct test_passdb pd;
	struct auth_request *request;

	request = plain_lookup(&pd, "127.0.0.8", token);
	ck_assert_int_eq(last_result, PASSDB_RESULT_OK);
	ck_assert_str_eq(stub_field(&stub.set_fields, "user"), "alice");
	ck_assert_str_eq(stub_field(&stub.set_fields, "preferred_username"), "alice");
	ck_assert_str_eq(stub_field(&stub.set_fields, "userdb_preferred_username"), "alice");
	ck_assert_ptr_null(stub_field(&stub.set_fields, "nologin"));
	ck_assert_ptr_null(stub_field(&stub.set_fields, "userdb_nologin"));
	assert_log("Error: bearer(?,127.0.0.8): claims_export: claim 'nologin' not "
		   "exported: Dovecot interprets a field of that name itself", NULL);
	/* the core's verdict line, with the mechanism, at debug */
	assert_log("Debug: bearer(?,127.0.0.8): PLAIN accepted user=alice provider=test "
		   "token=sha256:", " expires_in=");
	ck_assert_ptr_null(strstr(stub.log, strrchr(token, '.') + 1));
	stub_request_free(&request);
	passdb_destroy(&pd);
	free(token);
}
END_TEST

/* rejected -> PASSWORD_MISMATCH; through our mechanism the client gets the
   challenge with the provider's scope and discovery URL */
START_TEST(test_passdb_rejected)
{
	char *token = make_token("https://other.test", "alice", "imap");
	struct test_passdb pd;
	struct auth_request *request;

	request = plain_lookup(&pd, "127.0.0.9", token);
	ck_assert_int_eq(last_result, PASSDB_RESULT_PASSWORD_MISMATCH);
	ck_assert_ptr_null(stub_field(&stub.set_fields, "user"));
	assert_log("Info: bearer(?,127.0.0.9): PLAIN rejected reason=wrong_audience "
		   "token=sha256:", " (provider=test)");
	stub_request_free(&request);

	/* the whole way: mechanism -> passdb -> challenge -> ack -> FAIL */
	stub_reset();
	request = mech_login(&pd, &mech_xoauth2_bearer, "127.0.0.9",
			     xoauth2_response("alice", token));
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"401\",\"schemes\":\"bearer\","
			 "\"scope\":\"imap\",\"openid-configuration\":\"" DISCOVERY "\"}");
	assert_log("Info: bearer(?,127.0.0.9): XOAUTH2 rejected reason=wrong_audience", NULL);
	mech_ack(request, "");
	ck_assert_uint_eq(stub.fail_calls, 1);
	ck_assert_ptr_null(strstr(stub.log, strrchr(token, '.') + 1));
	stub_request_free(&request);
	passdb_destroy(&pd);
	free(token);
}
END_TEST

/* Issue 9: the core refuses a token name that could leave the mail root
   before Dovecot gets it, OAUTHBEARER without an authzid included. */
START_TEST(test_passdb_bad_identity)
{
	char *token = make_token("https://mail.test", "x/../../escaped@example.test", "imap");
	struct test_passdb pd;
	struct auth_request *request;

	passdb_create(&pd, "blocking=no", conf_path);
	request = mech_login(&pd, &mech_oauthbearer_bearer, "127.0.0.9",
			     oauthbearer_response(NULL, token));
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"invalid_token\","
			 "\"scope\":\"imap\",\"openid-configuration\":\"" DISCOVERY "\"}");
	ck_assert_ptr_null(stub_field(&stub.set_fields, "user"));
	assert_log("OAUTHBEARER rejected reason=bad_identity", NULL);
	mech_ack(request, "\001");
	ck_assert_uint_eq(stub.fail_calls, 1);
	ck_assert_uint_eq(stub.success_calls, 0);
	stub_request_free(&request);
	passdb_destroy(&pd);
	free(token);
}
END_TEST

/* The token's identity goes through Dovecot's username rules (the stub's
   auth_request_set_username() refuses a quote, as auth_username_chars
   does); a failed OAUTHBEARER without authzid is named after the identity
   the token claims, not the placeholder. */
START_TEST(test_passdb_username_rules)
{
	char *quoted = make_token("https://mail.test", "alice'smith", "imap");
	char *other = make_token("https://other.test", "alice", "imap");
	char *master = make_token("https://mail.test", "alice*admin", "imap");
	struct test_passdb pd;
	struct auth_request *request;

	passdb_create(&pd, "blocking=no", conf_path);
	request = mech_login(&pd, &mech_oauthbearer_bearer, "127.0.0.12",
			     oauthbearer_response(NULL, quoted));
	assert_log("Info: bearer(?,127.0.0.12): OAUTHBEARER rejected reason=no_identity",
		   "is not a valid user name here: Username character disallowed");
	ck_assert_ptr_null(stub_field(&stub.set_fields, "user"));
	ck_assert_uint_eq(stub.continue_calls, 1);
	stub_request_free(&request);

	stub_reset();
	request = mech_login(&pd, &mech_oauthbearer_bearer, "127.0.0.13",
			     oauthbearer_response(NULL, other));
	assert_log("Info: bearer(?,127.0.0.13): OAUTHBEARER rejected reason=wrong_audience", NULL);
	ck_assert_str_eq(request->fields.user, "alice");
	mech_ack(request, "");
	assert_log("Debug: ", "the client answered the OAUTHBEARER failure challenge "
		   "with an empty response instead of ^A");
	ck_assert_ptr_null(strstr(stub.log, "did not acknowledge"));
	ck_assert_uint_eq(stub.fail_calls, 1);
	stub_request_free(&request);

	/* a token's identity never starts a master user login */
	stub_reset();
	global_auth_settings->master_user_separator = "*";
	request = mech_login(&pd, &mech_oauthbearer_bearer, "127.0.0.14",
			     oauthbearer_response(NULL, master));
	assert_log("Info: bearer(?,127.0.0.14): OAUTHBEARER rejected reason=no_identity",
		   "contains the master user separator '*'");
	ck_assert_ptr_null(stub_field(&stub.set_fields, "user"));
	stub_request_free(&request);
	passdb_destroy(&pd);
	free(quoted);
	free(other);
	free(master);
}
END_TEST

START_TEST(test_passdb_tempfail)
{
	char *token = make_token("https://mail.test", "alice", "imap");
	struct test_passdb pd;
	struct auth_request *request;

	passdb_create(&pd, "blocking=no", tempfail_conf_path);
	request = stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.10",
				   &pd.auth_passdb);
	mech_input(request, xoauth2_response("alice", token));
	last_result_calls = 0;
	pd.iface.verify_plain(request, stub.verify_plain_password, record_result);
	ck_assert_int_eq(last_result, PASSDB_RESULT_INTERNAL_FAILURE);
	assert_log("Error: bearer(?,127.0.0.10): XOAUTH2 temporary failure "
		   "reason=unavailable token=sha256:", NULL);
	/* and the mechanism makes it a temporary failure, no challenge */
	pd.iface.verify_plain(request, stub.verify_plain_password,
			      stub.verify_plain_callback);
	ck_assert_uint_eq(stub.internal_failure_calls, 1);
	ck_assert_uint_eq(stub.continue_calls, 0);
	stub_request_free(&request);
	passdb_destroy(&pd);
	free(token);
}
END_TEST

static void
stop_ioloop(struct ioloop *ioloop)
{
	io_loop_stop(ioloop);
}

/* verify_plain's callback runs from the ioloop: run it until then */
static void
record_result_stop(enum passdb_result result, struct auth_request *request)
{
	record_result(result, request);
	io_loop_stop(current_ioloop);
}

static void
mech_callback_stop(enum passdb_result result, struct auth_request *request)
{
	last_result = result;
	last_result_calls++;
	stub.verify_plain_callback(result, request);
	io_loop_stop(current_ioloop);
}

static void
run_until_verified(void)
{
	struct timeout *to = timeout_add(20 * 1000, stop_ioloop, current_ioloop);

	io_loop_run(current_ioloop);
	timeout_remove(&to);
	ck_assert_uint_eq(last_result_calls, 1);
}

/* blocking=threads (the default): verified in a thread, the verdict line
   and the outcome applied on the main thread, as in-process */
START_TEST(test_passdb_threads)
{
	char *good = make_token("https://mail.test", "alice", "imap");
	char *bad = make_token("https://mail.test", "alice", "mail");
	struct test_passdb pd;
	struct auth_request *request;

	passdb_create(&pd, "threads=1", conf_path);
	assert_log("Debug: bearer: verifying tokens in 1 threads of the auth process", NULL);
	request = plain_request(&pd, "127.0.0.12");
	last_result_calls = 0;
	pd.iface.verify_plain(request, good, record_result_stop);
	/* nothing is decided before the ioloop runs the thread's result */
	ck_assert_uint_eq(last_result_calls, 0);
	run_until_verified();
	ck_assert_int_eq(last_result, PASSDB_RESULT_OK);
	ck_assert_str_eq(stub_field(&stub.set_fields, "user"), "alice");
	assert_log("Debug: bearer(?,127.0.0.12): PLAIN accepted user=alice provider=test", NULL);
	stub_request_free(&request);

	stub_reset();
	request = stub_request_new(&mech_xoauth2_bearer, "XOAUTH2", "127.0.0.12",
				   &pd.auth_passdb);
	mech_input(request, xoauth2_response("alice", bad));
	last_result_calls = 0;
	pd.iface.verify_plain(request, stub.verify_plain_password, mech_callback_stop);
	run_until_verified();
	ck_assert_int_eq(last_result, PASSDB_RESULT_PASSWORD_MISMATCH);
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"403\",\"schemes\":\"bearer\","
			 "\"scope\":\"imap\",\"openid-configuration\":\"" DISCOVERY "\"}");
	assert_log("Info: bearer(?,127.0.0.12): XOAUTH2 rejected reason=insufficient_scope "
		   "token=sha256:", NULL);
	stub_request_free(&request);
	passdb_destroy(&pd);
	free(good);
	free(bad);
}
END_TEST

/* The worker reply auth-worker-client.c would send for the worker's
   verdict: FAIL, the result, user, no password, then the fields. */
static const char *
worker_reply(enum passdb_result result)
{
	string_t *str = t_str_new(512);

	str_printfa(str, "FAIL\t%d\talice\t", result);
	for (unsigned int i = 0; i < stub.set_fields.count; i++) {
		str_append_c(str, '\t');
		str_append_tabescaped(str, t_strdup_printf("%s=%s",
			stub.set_fields.key[i], stub.set_fields.value[i]));
	}
	return str_c(str);
}

/* blocking=yes: the worker verifies and sends the challenge data back as
   moa2_* fields; the master's mechanism sends the same challenge as
   in-process verification does, and Dovecot never sees those fields. */
START_TEST(test_passdb_worker_round_trip)
{
	char *token = make_token("https://mail.test", "alice", "mail");
	struct test_passdb master, in_worker;
	struct auth_request *request, *wrequest;
	const char *reply;
	char *inprocess_json;

	/* the in-process challenge, for comparison */
	passdb_create(&master, "blocking=no", conf_path);
	request = mech_login(&master, &mech_oauthbearer_bearer, "127.0.0.11",
			     oauthbearer_response(NULL, token));
	ck_assert_str_eq(stub.continue_data, "{\"status\":\"insufficient_scope\","
			 "\"scope\":\"imap\",\"openid-configuration\":\"" DISCOVERY "\"}");
	inprocess_json = strdup(stub.continue_data);
	stub_request_free(&request);
	passdb_destroy(&master);

	/* the master hands the request to a worker */
	stub_reset();
	passdb_create(&master, "blocking=yes", conf_path);
	request = mech_login(&master, &mech_oauthbearer_bearer, "127.0.0.11",
			     oauthbearer_response(NULL, token));
	ck_assert_ptr_nonnull(stub.worker_command);
	ck_assert(strncmp(stub.worker_command, "PASSV\t", 6) == 0);
	/* the client asserted no user: the worker must take it from the token */
	ck_assert_ptr_nonnull(strstr(stub.worker_command,
				     "\tpassdb_moa2_user_from_token=yes"));

	/* the worker process: same module, worker = TRUE */
	worker = TRUE;
	passdb_create(&in_worker, "blocking=yes", conf_path);
	wrequest = stub_request_new(NULL, "OAUTHBEARER", "127.0.0.11",
				    &in_worker.auth_passdb);
	wrequest->fields.user = p_strdup(wrequest->pool, PLACEHOLDER_USER);
	auth_fields_add(wrequest->fields.extra_fields, "moa2_user_from_token", "yes", 0);
	passdb_verify(&in_worker, wrequest, token);
	ck_assert_int_eq(last_result, PASSDB_RESULT_PASSWORD_MISMATCH);
	ck_assert_str_eq(stub_field(&stub.set_fields, "moa2_reason"), "insufficient_scope");
	ck_assert_str_eq(stub_field(&stub.set_fields, "moa2_scope"), "imap");
	ck_assert_str_eq(stub_field(&stub.set_fields, "moa2_openid_configuration"), DISCOVERY);
	assert_log("Info: bearer(?,127.0.0.11): OAUTHBEARER rejected "
		   "reason=insufficient_scope token=sha256:", NULL);
	reply = worker_reply(last_result);
	stub_request_free(&wrequest);
	passdb_destroy(&in_worker);
	worker = FALSE;

	/* back in the master: the reply reaches our mechanism */
	ck_assert(stub.worker_callback(NULL, reply, stub.worker_context));
	ck_assert_ptr_null(strstr(stub.worker_reply, "moa2_"));
	ck_assert_str_eq(stub.continue_data, inprocess_json);
	mech_ack(request, "\001");
	ck_assert_uint_eq(stub.fail_calls, 1);
	stub_request_free(&request);
	passdb_destroy(&master);
	free(inprocess_json);
	free(token);
}
END_TEST

static Suite *
adapter_suite(void)
{
	Suite *s = suite_create("dovecot-adapter");
	TCase *tc;

	tc = tcase_create("mechanisms");
	tcase_add_checked_fixture(tc, case_setup, case_teardown);
	tcase_add_test(tc, test_xoauth2_response_to_passdb);
	tcase_add_test(tc, test_oauthbearer_authzid_optional);
	tcase_add_test(tc, test_malformed_response);
	tcase_add_test(tc, test_double_base64_by_passdb_args);
	tcase_add_test(tc, test_challenge_then_fail_after_ack);
	tcase_add_test(tc, test_challenge_from_another_passdb);
	tcase_add_test(tc, test_tempfail_is_internal_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("passdb");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, case_setup, case_teardown);
	tcase_add_test(tc, test_init_replaces_the_mechanisms);
	tcase_add_test(tc, test_passdb_accepted);
	tcase_add_test(tc, test_passdb_rejected);
	tcase_add_test(tc, test_passdb_bad_identity);
	tcase_add_test(tc, test_passdb_tempfail);
	tcase_add_test(tc, test_passdb_username_rules);
	tcase_add_test(tc, test_passdb_worker_round_trip);
	tcase_add_test(tc, test_passdb_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int ret;

	suite_setup();
	ret = tc_run_suite(adapter_suite());
	suite_teardown();
	return ret;
}
