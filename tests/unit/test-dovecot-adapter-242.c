/* SPDX-License-Identifier: MIT */
/* Unit tests of the Dovecot 2.4.2+ mechanisms (plugin/dovecot/
   mech-oauth2-bearer-242.c, dovecot-api-242.c's moa2_dovecot_mechs_install)
   on the real lib-sasl server of libdovecot, without a running Dovecot.
   The auth process's side is played here: the SASL request functions
   (authid, output, verify_plain: recorded, the passdb's verdict given by
   the test) and the few auth-process symbols the adapter links against
   (stubs below, doing nothing the adapter's decisions depend on).

   Checked: the built-in XOAUTH2/OAUTHBEARER (lib-sasl's own, with the
   token-verifier hook) are replaced in the instances that had them and
   nowhere else, one definition server-wide; a response reaches the passdb
   with the token and the asserted user (OAUTHBEARER's authzid optional);
   a rejection sends the core's challenge (verdict.h) and fails after the
   acknowledgement; a temporary failure is an internal failure with the
   reason field; a malformed or doubly base64-encoded response fails
   without reaching the passdb unless the flag allows double base64; a
   request of another mechanism is not ours. The whole plugin runs against
   the real Dovecot 2.4.5 in tests/integration/run-chroot sid. */

#include "lib.h"
#include "settings-parser.h"
#include "array.h"
#include "str.h"
#include "base64.h"
#include "ioloop.h"
#include "auth-common.h"
#include "auth.h"
#include "auth-fields.h"
#include "auth-request.h"
#include "auth-settings.h"
#include "auth-worker-connection.h"
#include "db-oauth2.h"
#include "passdb.h"
#include "passdb-blocking.h"
#include "sasl-server-protected.h"
#include "sasl-server-oauth2.h"

#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/verdict.h"

#include "dovecot-api.h"
#include "dovecot-log.h"
#include "passdb-bearer.h"

#include "test-common.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ auth-process stubs */

bool worker;
struct event *auth_event;
struct event_category event_category_auth = { .name = "auth" };
static struct auth_settings stub_auth_settings;
const struct auth_settings *global_auth_settings = &stub_auth_settings;
ARRAY_TYPE(auth) auths;
const struct setting_parser_info auth_oauth2_setting_parser_info = { .name = "stub_oauth2" };
const struct setting_parser_info auth_passdb_setting_parser_info = { .name = "stub_passdb" };

void passdb_register_module(struct passdb_module_interface *iface ATTR_UNUSED) { }
void passdb_unregister_module(struct passdb_module_interface *iface ATTR_UNUSED) { }
void auth_request_ref(struct auth_request *request ATTR_UNUSED) { }
void auth_request_unref(struct auth_request **request) { *request = NULL; }
void auth_request_export(struct auth_request *request ATTR_UNUSED,
			 string_t *dest ATTR_UNUSED) { }
void auth_request_set_field(struct auth_request *request ATTR_UNUSED,
			    const char *name ATTR_UNUSED,
			    const char *value ATTR_UNUSED,
			    const char *default_scheme ATTR_UNUSED) { }
/* no passdb chain here: the walk is left alone */
struct auth *auth_request_get_auth(struct auth_request *request ATTR_UNUSED) { return NULL; }
/* the username rules: nothing refused, the name kept as given */
bool auth_request_set_username(struct auth_request *request, const char *username,
			       const char **error_r ATTR_UNUSED)
{
	/* the fields are read-only outside auth-request.c */
	((struct auth_request_fields *)&request->fields)->user =
		p_strdup(request->pool, username);
	return TRUE;
}
void auth_request_set_username_forced(struct auth_request *request, const char *username)
{
	/* the fields are read-only outside auth-request.c */
	((struct auth_request_fields *)&request->fields)->user =
		p_strdup(request->pool, username);
}
void auth_worker_call(pool_t pool ATTR_UNUSED, const char *username ATTR_UNUSED,
		      const char *data ATTR_UNUSED,
		      auth_worker_callback_t *callback ATTR_UNUSED,
		      void *context ATTR_UNUSED) { ck_abort_msg("no worker here"); }
enum passdb_result
passdb_blocking_auth_worker_reply_parse(struct auth_request *request ATTR_UNUSED,
					const char *const *args ATTR_UNUSED)
{
	return PASSDB_RESULT_INTERNAL_FAILURE;
}

/* the reason field of a temporary failure */
static char stub_reason[256];

void
auth_fields_add(struct auth_fields *fields ATTR_UNUSED, const char *key,
		const char *value, enum auth_field_flags flags ATTR_UNUSED)
{
	if (strcmp(key, "reason") == 0)
		i_strocpy(stub_reason, value, sizeof(stub_reason));
}

bool
auth_fields_exists(struct auth_fields *fields ATTR_UNUSED,
		   const char *key ATTR_UNUSED)
{
	return FALSE;
}

/* ------------------------------------------------ the SASL side */

static struct {
	struct sasl_server *server;
	struct sasl_server_instance *inst_a, *inst_b;
	struct auth auth_a, auth_b;
	struct auth_request request;

	char authid[128];
	char password[4096];
	sasl_server_passdb_callback_t *passdb_cb;
	int verify_calls;
	enum sasl_server_output_status status;
	char output[1024];
	int outputs;
} t;

static bool
t_set_authid(struct sasl_server_req_ctx *rctx ATTR_UNUSED,
	     enum sasl_server_authid_type type ATTR_UNUSED, const char *authid)
{
	i_strocpy(t.authid, authid, sizeof(t.authid));
	return TRUE;
}

static void
t_output(struct sasl_server_req_ctx *rctx ATTR_UNUSED,
	 const struct sasl_server_output *output)
{
	t.status = output->status;
	i_zero(&t.output);
	memcpy(t.output, output->data, I_MIN(output->data_size,
					     sizeof(t.output) - 1));
	t.outputs++;
}

static void
t_verify_plain(struct sasl_server_req_ctx *rctx ATTR_UNUSED,
	       const char *password, sasl_server_passdb_callback_t *callback)
{
	i_strocpy(t.password, password, sizeof(t.password));
	t.request.mech_password = t.password;
	t.passdb_cb = callback;
	t.verify_calls++;
}

static const struct sasl_server_request_funcs t_request_funcs = {
	.request_set_authid = t_set_authid,
	.request_output = t_output,
	.request_verify_plain = t_verify_plain,
};

static int
t_builtin_auth_new(struct sasl_server_req_ctx *rctx ATTR_UNUSED,
		   pool_t pool ATTR_UNUSED, const char *token ATTR_UNUSED,
		   struct sasl_server_oauth2_request **req_r ATTR_UNUSED)
{
	ck_abort_msg("the built-in mechanism ran");
	return -1;
}

static const struct sasl_server_oauth2_funcs t_builtin_funcs = {
	.auth_new = t_builtin_auth_new,
};

static void
case_setup(void)
{
	const struct sasl_server_settings set = { .event_parent = auth_event };
	struct auth *auth;

	i_zero(&t);
	stub_reason[0] = '\0';
	t.server = sasl_server_init(auth_event, &t_request_funcs);
	t.inst_a = sasl_server_instance_create(t.server, &set);
	t.inst_b = sasl_server_instance_create(t.server, &set);
	/* A: auth_mechanisms = plain xoauth2 oauthbearer (the built-ins);
	   B (another protocol's auth): plain only */
	sasl_server_mech_register_plain(t.inst_a);
	sasl_server_mech_register_xoauth2(t.inst_a, &t_builtin_funcs, NULL);
	sasl_server_mech_register_oauthbearer(t.inst_a, &t_builtin_funcs, NULL);
	sasl_server_mech_register_plain(t.inst_b);
	t.auth_a.sasl_inst = t.inst_a;
	t.auth_b.sasl_inst = t.inst_b;
	i_array_init(&auths, 2);
	auth = &t.auth_a;
	array_push_back(&auths, &auth);
	auth = &t.auth_b;
	array_push_back(&auths, &auth);
	moa2_dovecot_mechs_install(0);
}

static void
case_teardown(void)
{
	if (t.request.sasl.req.request != NULL)
		sasl_server_request_destroy(&t.request.sasl.req);
	sasl_server_instance_unref(&t.inst_a);
	sasl_server_instance_unref(&t.inst_b);
	sasl_server_deinit(&t.server);
	array_free(&auths);
}

/* starts a request of mechanism NAME in instance A with the initial
   response data */
static void
t_auth(const char *name, const void *data, size_t size)
{
	const struct sasl_server_mech *mech =
		sasl_server_mech_find(t.inst_a, name);

	ck_assert_ptr_nonnull(mech);
	sasl_server_request_create(&t.request.sasl.req, mech, "imap", auth_event);
	sasl_server_request_initial(&t.request.sasl.req, data, size);
}

static void
t_xoauth2(const char *user, const char *token)
{
	const char *resp = t_strdup_printf("user=%s\001auth=Bearer %s\001\001",
					   user, token);

	t_auth("XOAUTH2", resp, strlen(resp));
}

/* the passdb's verdict */
static void
t_passdb(enum sasl_passdb_result_status status)
{
	const struct sasl_passdb_result result = { .status = status };

	ck_assert_ptr_nonnull(t.passdb_cb);
	t.passdb_cb(&t.request.sasl.req, &result);
}

/* ------------------------------------------------ tests */

static unsigned int
t_server_mechs_named(const char *name)
{
	struct sasl_server_mech_iter *iter =
		sasl_server_mech_iter_new(t.server);
	unsigned int count = 0;

	while (sasl_server_mech_iter_next(iter))
		count += strcmp(iter->name, name) == 0 ? 1 : 0;
	sasl_server_mech_iter_free(&iter);
	return count;
}

START_TEST(test_install_replaces_where_enabled)
{
	const struct sasl_server_mech *mech;

	/* ours in A, where the built-ins were */
	t_xoauth2("alice@example.test", "tok");
	ck_assert(mech_oauth2_bearer_is_ours(&t.request));
	sasl_server_request_destroy(&t.request.sasl.req);
	mech = sasl_server_mech_find(t.inst_a, "OAUTHBEARER");
	ck_assert_ptr_nonnull(mech);
	sasl_server_request_create(&t.request.sasl.req, mech, "imap", auth_event);
	ck_assert(mech_oauth2_bearer_is_ours(&t.request));
	sasl_server_request_destroy(&t.request.sasl.req);
	/* not added where auth_mechanisms did not list them */
	ck_assert_ptr_null(sasl_server_mech_find(t.inst_b, "XOAUTH2"));
	ck_assert_ptr_null(sasl_server_mech_find(t.inst_b, "OAUTHBEARER"));
	/* one definition of each name server-wide (the handshake) */
	ck_assert_uint_eq(t_server_mechs_named("XOAUTH2"), 1);
	ck_assert_uint_eq(t_server_mechs_named("OAUTHBEARER"), 1);
	/* a second bearer passdb installs again: no change, no assertion */
	moa2_dovecot_mechs_install(0);
	ck_assert_uint_eq(t_server_mechs_named("XOAUTH2"), 1);
	/* another mechanism's request is not ours */
	mech = sasl_server_mech_find(t.inst_a, "PLAIN");
	sasl_server_request_create(&t.request.sasl.req, mech, "imap", auth_event);
	ck_assert(!mech_oauth2_bearer_is_ours(&t.request));
}
END_TEST

START_TEST(test_xoauth2_success)
{
	t_xoauth2("alice@example.test", "tok-1");
	ck_assert_int_eq(t.verify_calls, 1);
	ck_assert_str_eq(t.password, "tok-1");
	ck_assert_str_eq(t.authid, "alice@example.test");
	ck_assert(!mech_oauth2_bearer_user_from_token(&t.request));
	ck_assert_int_eq(t.outputs, 0);
	t_passdb(SASL_PASSDB_RESULT_OK);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_SUCCESS);
}
END_TEST

START_TEST(test_oauthbearer_authzid_optional)
{
	const char *resp = "n,,\001auth=Bearer tok-2\001\001";

	t_auth("OAUTHBEARER", resp, strlen(resp));
	ck_assert_int_eq(t.verify_calls, 1);
	ck_assert_str_eq(t.password, "tok-2");
	ck_assert(mech_oauth2_bearer_user_from_token(&t.request));
	t_passdb(SASL_PASSDB_RESULT_OK);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_SUCCESS);
}
END_TEST

static void
t_challenge_case(enum moa2_sasl_mech mech, const char *name,
		 const void *resp, size_t size, const char *ack, size_t ack_size)
{
	const char *oidc = "https://idp.example.test/.well-known/openid-configuration";
	char *want = moa2_verdict_challenge(mech, MOA2_VERIFY_EXPIRED,
					    "imap", oidc);

	t_auth(name, resp, size);
	mech_oauth2_bearer_set_rejection(&t.request, MOA2_VERIFY_EXPIRED,
					 "imap", oidc);
	t_passdb(SASL_PASSDB_RESULT_PASSWORD_MISMATCH);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_CONTINUE);
	ck_assert_ptr_nonnull(want);
	ck_assert_str_eq(t.output, want);
	/* the token is wiped once the verdict is in */
	ck_assert_ptr_null(t.request.mech_password);
	ck_assert_str_eq(t.password, "");
	sasl_server_request_input(&t.request.sasl.req,
				  (const unsigned char *)ack, ack_size);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_FAILURE);
	free(want);
}

START_TEST(test_rejection_challenge_then_fail)
{
	const char *x = "user=bob@example.test\001auth=Bearer tok-3\001\001";
	const char *o = "n,a=bob@example.test,\001auth=Bearer tok-3\001\001";

	t_challenge_case(MOA2_MECH_XOAUTH2, "XOAUTH2", x, strlen(x), "", 0);
	sasl_server_request_destroy(&t.request.sasl.req);
	t.passdb_cb = NULL;
	t_challenge_case(MOA2_MECH_OAUTHBEARER, "OAUTHBEARER", o, strlen(o),
			 "\001", 1);
}
END_TEST

START_TEST(test_tempfail_is_internal_failure)
{
	t_xoauth2("alice@example.test", "tok-4");
	t_passdb(SASL_PASSDB_RESULT_INTERNAL_FAILURE);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_INTERNAL_FAILURE);
	ck_assert(strstr(stub_reason, "Temporary") != NULL);
}
END_TEST

START_TEST(test_malformed_response)
{
	t_auth("XOAUTH2", "garbage", 7);
	ck_assert_int_eq(t.verify_calls, 0);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_FAILURE);
	ck_assert_str_eq(t.output, "");
}
END_TEST

START_TEST(test_double_base64)
{
	const char *resp = "user=alice@example.test\001auth=Bearer tok-5\001\001";
	string_t *b64 = t_base64_encode(0, 0, resp, strlen(resp));

	/* refused by default */
	t_auth("XOAUTH2", str_data(b64), str_len(b64));
	ck_assert_int_eq(t.verify_calls, 0);
	ck_assert_int_eq(t.status, SASL_SERVER_OUTPUT_FAILURE);
	sasl_server_request_destroy(&t.request.sasl.req);
	/* accepted with allow_double_base64 = yes */
	moa2_dovecot_mechs_install(MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64);
	t_auth("XOAUTH2", str_data(b64), str_len(b64));
	ck_assert_int_eq(t.verify_calls, 1);
	ck_assert_str_eq(t.password, "tok-5");
}
END_TEST

static Suite *
adapter_242_suite(void)
{
	Suite *s = suite_create("dovecot-adapter-242");
	TCase *tc = tcase_create("mechanisms");

	tcase_add_checked_fixture(tc, case_setup, case_teardown);
	tcase_add_test(tc, test_install_replaces_where_enabled);
	tcase_add_test(tc, test_xoauth2_success);
	tcase_add_test(tc, test_oauthbearer_authzid_optional);
	tcase_add_test(tc, test_rejection_challenge_then_fail);
	tcase_add_test(tc, test_tempfail_is_internal_failure);
	tcase_add_test(tc, test_malformed_response);
	tcase_add_test(tc, test_double_base64);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	struct ioloop *ioloop;
	int ret;

	lib_init();
	ioloop = io_loop_create();
	auth_event = event_create(NULL);
	event_add_category(auth_event, &event_category_auth);
	moa2_dovecot_log_init(FALSE);
	ret = tc_run_suite(adapter_242_suite());
	moa2_dovecot_log_deinit();
	event_unref(&auth_event);
	io_loop_destroy(&ioloop);
	lib_deinit();
	return ret;
}
