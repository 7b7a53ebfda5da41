/* SPDX-License-Identifier: MIT */
/* The Cyrus SASL plugin as libsasl2 loads it (plugin/sasl/.libs, found
   through sasl_set_path), driven like Postfix drives it: client mechanisms
   with the token client (initial responses, a relay's rejection drops the
   token and gives a temporary failure, an unknown account or a broken
   config fails the step with a clear reason and the mechanism is still
   there; an application that answers SASL_INTERACT prompts, as mbsync,
   and steps once more after the server's success), server mechanisms with the verification engine (accepted ->
   SASL_OK and the token's identity, rejected -> the failure challenge
   then SASL_BADAUTH, provider down -> SASL_TRYAGAIN, broken config ->
   SASL_FAIL on every attempt). */

#include "test-token-common.h"
#include "test-jose-sign.h"

#include <sasl/sasl.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef TEST_SASL_PLUGIN_DIR
#  error "TEST_SASL_PLUGIN_DIR must be defined by the build"
#endif

#define XO_AT1 "user=alice\001auth=Bearer at-1\001\001"
#define XO_AT2 "user=alice\001auth=Bearer at-2\001\001"

static char client_conf[1200];
static char verify_conf[1200];
static char key_pem_file[1200];
static char log_text[16384];
static const char *opt_client_conf;  /* what getopt answers */
static const char *opt_verify_conf;
static const char *cb_password = "acct";
static EVP_PKEY *signing_key;

/* ---------------------------------------------------------- callbacks */

static int
cb_log(void *context, int level, const char *message)
{
	size_t len = strlen(log_text);

	(void)context;
	snprintf(log_text + len, sizeof(log_text) - len, "%d: %s\n", level, message);
	return SASL_OK;
}

static int
cb_getopt(void *context, const char *plugin, const char *option,
	  const char **result, unsigned *len)
{
	(void)context;
	(void)plugin;
	if (strcmp(option, "mail_oauth2_conf") == 0 && opt_client_conf != NULL)
		*result = opt_client_conf;
	else if (strcmp(option, "mail_oauth2_verify_conf") == 0 && opt_verify_conf != NULL)
		*result = opt_verify_conf;
	else
		return SASL_FAIL;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
cb_authname(void *context, int id, const char **result, unsigned *len)
{
	(void)context;
	(void)id;
	*result = "alice";
	if (len != NULL)
		*len = 5;
	return SASL_OK;
}

static int
cb_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **secret)
{
	static union {
		sasl_secret_t secret;
		char buf[sizeof(sasl_secret_t) + 256];
	} s;
	size_t len = strlen(cb_password);

	(void)conn;
	(void)context;
	(void)id;
	s.secret.len = len;
	memcpy(s.secret.data, cb_password, len + 1);
	*secret = &s.secret;
	return SASL_OK;
}

typedef int (*sasl_cb_t)(void);

static sasl_callback_t global_callbacks[] = {
	{ SASL_CB_LOG, (sasl_cb_t)(void (*)(void))cb_log, NULL },
	{ SASL_CB_GETOPT, (sasl_cb_t)(void (*)(void))cb_getopt, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

static sasl_callback_t client_callbacks[] = {
	{ SASL_CB_AUTHNAME, (sasl_cb_t)(void (*)(void))cb_authname, NULL },
	{ SASL_CB_PASS, (sasl_cb_t)(void (*)(void))cb_pass, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* ------------------------------------------------------------- helpers */

static void
write_client_conf(const char *extra_account)
{
	char text[4096];
	const char *dir = tt_new_dir();

	snprintf(client_conf, sizeof(client_conf), "%s/client.conf", dir);
	snprintf(text, sizeof(text),
		 "ca_file = %s\ntoken_dir = %s\n"
		 "[account acct]\nprovider = generic\ntoken_endpoint = %s\n"
		 "client_id = relay\nclient_secret = s3cret\n%s",
		 tt_ca_file, dir, tt_url("/token"), extra_account != NULL ? extra_account : "");
	tt_write_file(client_conf, text, 0600);
	opt_client_conf = client_conf;
}

static const char *
store_of_client_conf(void)
{
	static char path[1300];

	snprintf(path, sizeof(path), "%.*s/acct.json",
		 (int)(strrchr(client_conf, '/') - client_conf), client_conf);
	return path;
}

static sasl_conn_t *
client_new(void)
{
	sasl_conn_t *conn;

	log_text[0] = '\0';
	ck_assert_int_eq(sasl_set_path(SASL_PATH_TYPE_PLUGIN, TEST_SASL_PLUGIN_DIR), SASL_OK);
	ck_assert_int_eq(sasl_client_init(global_callbacks), SASL_OK);
	ck_assert_int_eq(sasl_client_new("smtp", "relay.example", NULL, NULL,
					 client_callbacks, 0, &conn), SASL_OK);
	return conn;
}

static void
client_end(sasl_conn_t **conn)
{
	sasl_dispose(conn);
	sasl_client_done();
}

static int
client_start(sasl_conn_t *conn, const char *mech, const char **out,
	     unsigned *len)
{
	const char *chosen = NULL;

	*out = NULL;
	*len = 0;
	return sasl_client_start(conn, mech, NULL, out, len, &chosen);
}

/* ----------------------------------------------------------- client */

START_TEST(test_client_xoauth2_and_rejection)
{
	static const char challenge[] = "{\"status\":\"401\",\"schemes\":\"bearer\","
		"\"scope\":\"https://mail.google.com/\"}";
	struct moa2_token_state state;
	sasl_conn_t *conn;
	const char *out;
	unsigned len;
	char fp[MOA2_FINGERPRINT_LEN + 1], expect[128];
	int ret;

	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-2", 3600, NULL), 0);
	write_client_conf(NULL);
	tt_store_write(store_of_client_conf(), "at-1", time(NULL) + 3000, "rt-1");
	conn = client_new();
	ret = client_start(conn, "XOAUTH2", &out, &len);
	ck_assert_msg(ret == SASL_CONTINUE, "start: %d %s", ret, sasl_errdetail(conn));
	ck_assert_uint_eq(len, sizeof(XO_AT1) - 1);
	ck_assert_int_eq(memcmp(out, XO_AT1, len), 0);
	ck_assert_uint_eq(tt_count("/token"), 0);

	/* the relay answers with the failure challenge: temporary failure,
	   the token dropped so that the next attempt gets a new one */
	ret = sasl_client_step(conn, challenge, sizeof(challenge) - 1, NULL, &out, &len);
	ck_assert_int_eq(ret, SASL_TRYAGAIN);
	moa2_token_fingerprint("at-1", 4, fp);
	snprintf(expect, sizeof(expect), "the relay rejected access token %s (status 401, "
		 "scope https://mail.google.com/); it was dropped", fp);
	ck_assert_msg(strstr(sasl_errdetail(conn), expect) != NULL, "%s", sasl_errdetail(conn));
	ck_assert_ptr_null(strstr(log_text, "at-1"));
	tt_store_read(store_of_client_conf(), &state);
	ck_assert_ptr_null(state.access_token);
	ck_assert_str_eq(state.refresh_token, "rt-1");
	moa2_token_state_clear(&state);
	sasl_dispose(&conn);

	/* the next attempt refreshes */
	ck_assert_int_eq(sasl_client_new("smtp", "relay.example", NULL, NULL,
					 client_callbacks, 0, &conn), SASL_OK);
	ck_assert_int_eq(client_start(conn, "XOAUTH2", &out, &len), SASL_CONTINUE);
	ck_assert_uint_eq(len, sizeof(XO_AT2) - 1);
	ck_assert_int_eq(memcmp(out, XO_AT2, len), 0);
	ck_assert_uint_eq(tt_count("/token"), 1);
	client_end(&conn);
	tt_server_stop();
}
END_TEST

START_TEST(test_client_oauthbearer)
{
	static const char expect[] = "n,a=alice,\001host=relay.example\001"
		"auth=Bearer at-1\001\001";
	sasl_conn_t *conn;
	const char *out;
	unsigned len;

	tt_server_start(NULL);
	write_client_conf(NULL);
	tt_store_write(store_of_client_conf(), "at-1", time(NULL) + 3000, "rt-1");
	conn = client_new();
	ck_assert_int_eq(client_start(conn, "OAUTHBEARER", &out, &len), SASL_CONTINUE);
	ck_assert_uint_eq(len, sizeof(expect) - 1);
	ck_assert_int_eq(memcmp(out, expect, len), 0);
	sasl_dispose(&conn);

	/* the password field may name the account's token file instead */
	cb_password = store_of_client_conf();
	ck_assert_int_eq(sasl_client_new("smtp", "relay.example", NULL, NULL,
					 client_callbacks, 0, &conn), SASL_OK);
	ck_assert_int_eq(client_start(conn, "OAUTHBEARER", &out, &len), SASL_CONTINUE);
	ck_assert_int_eq(memcmp(out, expect, len), 0);
	cb_password = "acct";
	client_end(&conn);
	tt_server_stop();
}
END_TEST

START_TEST(test_client_unknown_account)
{
	sasl_conn_t *conn;
	const char *out;
	unsigned len;

	tt_server_start(NULL);
	write_client_conf(NULL);
	cb_password = "hunter2-a-real-password";
	conn = client_new();
	ck_assert_int_eq(client_start(conn, "XOAUTH2", &out, &len), SASL_FAIL);
	ck_assert_msg(strstr(sasl_errdetail(conn), "names no [account NAME]") != NULL &&
		      strstr(sasl_errdetail(conn), "(accounts: acct)") != NULL,
		      "%s", sasl_errdetail(conn));
	ck_assert_ptr_null(strstr(sasl_errdetail(conn), "hunter2"));
	ck_assert_ptr_null(strstr(log_text, "hunter2"));
	cb_password = "acct";
	client_end(&conn);
	tt_server_stop();
}
END_TEST

START_TEST(test_client_provider_down)
{
	sasl_conn_t *conn;
	const char *out;
	unsigned len;

	tt_server_start(NULL);
	tt_route("/token", "status", 503, "busy", 0);
	write_client_conf(NULL);
	tt_store_write(store_of_client_conf(), "at-1", time(NULL) - 5, "rt-1");
	conn = client_new();
	ck_assert_int_eq(client_start(conn, "XOAUTH2", &out, &len), SASL_UNAVAIL);
	ck_assert_msg(strstr(sasl_errdetail(conn), "account acct: the token endpoint is "
			     "unavailable (HTTP 503); mail stays queued") != NULL,
		      "%s", sasl_errdetail(conn));
	client_end(&conn);
	tt_server_stop();
}
END_TEST

/* A broken config: the mechanisms are still offered, every attempt fails
   with the config's error (never "No worthy mechs found"). */
START_TEST(test_client_bad_config)
{
	char bad[1300];
	sasl_conn_t *conn;
	const char *out;
	unsigned len;

	snprintf(bad, sizeof(bad), "%s/bad-client.conf", tt_new_dir());
	tt_write_file(bad, "[account acct]\nprovider = microsoft\nclient_id = c\n", 0600);
	opt_client_conf = bad;
	conn = client_new();
	ck_assert_int_eq(client_start(conn, "XOAUTH2", &out, &len), SASL_FAIL);
	ck_assert_msg(strstr(sasl_errdetail(conn), "bad-client.conf:2: [account acct] "
			     "key 'provider': provider microsoft needs tenant") != NULL,
		      "%s", sasl_errdetail(conn));
	client_end(&conn);

	/* a missing file: the message explains the chroot */
	snprintf(bad, sizeof(bad), "%s/missing.conf", tt_dir);
	opt_client_conf = bad;
	conn = client_new();
	ck_assert_int_eq(client_start(conn, "OAUTHBEARER", &out, &len), SASL_FAIL);
	ck_assert_msg(strstr(sasl_errdetail(conn), "missing.conf: cannot open the config "
			     "file") != NULL &&
		      strstr(sasl_errdetail(conn), "before it chroots") != NULL &&
		      strstr(sasl_errdetail(conn), "MAIL_OAUTH2_CONF") != NULL,
		      "%s", sasl_errdetail(conn));
	client_end(&conn);
}
END_TEST

/* An application that answers prompts instead of giving callback
   functions (mbsync): the mechanism asks for the password field and the
   user name with SASL_INTERACT, refreshes (one info line, through
   utils->log outside Postfix), and ends with SASL_OK on the server's
   success (the step with no data IMAP clients make after OK) without
   dropping the token. */
START_TEST(test_client_prompts)
{
	static sasl_callback_t prompted[] = {
		{ SASL_CB_USER, NULL, NULL },
		{ SASL_CB_AUTHNAME, NULL, NULL },
		{ SASL_CB_PASS, NULL, NULL },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	sasl_interact_t *interact = NULL;
	struct moa2_token_state state;
	const char *out = NULL, *chosen = NULL;
	const void *username = NULL;
	char expect[128];
	sasl_conn_t *conn;
	unsigned len = 0, asked = 0;
	int ret;

	tt_server_start(NULL);
	tt_token_route("/token", tt_token_json("at-2", 3600, "rt-2"), 0);
	write_client_conf(NULL);
	tt_store_write(store_of_client_conf(), "at-1", time(NULL) - 5, "rt-1");
	log_text[0] = '\0';
	ck_assert_int_eq(sasl_set_path(SASL_PATH_TYPE_PLUGIN, TEST_SASL_PLUGIN_DIR), SASL_OK);
	ck_assert_int_eq(sasl_client_init(global_callbacks), SASL_OK);
	ck_assert_int_eq(sasl_client_new("imap", "imap.example", NULL, NULL, prompted, 0,
					 &conn), SASL_OK);
	ret = sasl_client_start(conn, "XOAUTH2", &interact, &out, &len, &chosen);
	ck_assert_msg(ret == SASL_INTERACT, "start: %d %s", ret, sasl_errdetail(conn));
	for (sasl_interact_t *p = interact; p->id != SASL_CB_LIST_END; p++) {
		ck_assert_ptr_nonnull(p->prompt);
		p->result = p->id == SASL_CB_PASS ? "acct" : "alice";
		p->len = p->id == SASL_CB_PASS ? 4 : 5;
		asked |= p->id == SASL_CB_PASS ? 1u : p->id == SASL_CB_AUTHNAME ? 2u : 4u;
	}
	ck_assert_uint_eq(asked, 3);
	ret = sasl_client_step(conn, NULL, 0, &interact, &out, &len);
	ck_assert_msg(ret == SASL_CONTINUE, "step: %d %s", ret, sasl_errdetail(conn));
	ck_assert_uint_eq(len, sizeof(XO_AT2) - 1);
	ck_assert_int_eq(memcmp(out, XO_AT2, len), 0);
	snprintf(expect, sizeof(expect), "%d: mail-oauth2: account acct: token request "
		 "(grant refresh_token)", SASL_LOG_NOTE);
	ck_assert_msg(strstr(log_text, expect) != NULL, "%s", log_text);
	ck_assert_ptr_null(strstr(log_text, "at-2"));

	/* the server said OK */
	ret = sasl_client_step(conn, NULL, 0, &interact, &out, &len);
	ck_assert_msg(ret == SASL_OK, "final step: %d %s", ret, sasl_errdetail(conn));
	ck_assert_int_eq(sasl_getprop(conn, SASL_USERNAME, &username), SASL_OK);
	ck_assert_str_eq(username, "alice");
	tt_store_read(store_of_client_conf(), &state);
	ck_assert_str_eq(state.access_token, "at-2");
	moa2_token_state_clear(&state);
	ck_assert_uint_eq(tt_count("/token"), 1);
	client_end(&conn);
	tt_server_stop();
}
END_TEST

/* ----------------------------------------------------------- server */

/* The verifier's config: keys from the test key's PEM, unless extra
   names a jwks_uri. */
static void
write_verify_conf(const char *extra)
{
	char text[4096], keys[1300] = "";
	const char *dir = tt_new_dir();

	if (extra == NULL || strstr(extra, "jwks_uri") == NULL)
		snprintf(keys, sizeof(keys), "jwks_file = %s", key_pem_file);
	snprintf(verify_conf, sizeof(verify_conf), "%s/verify.conf", dir);
	snprintf(text, sizeof(text),
		 "ca_file = %s\ncache_dir = %s\n[provider test]\n"
		 "issuer = https://idp.test\naudience = https://mail.test\n%s\n%s\n",
		 tt_ca_file, dir, keys, extra != NULL ? extra : "");
	tt_write_file(verify_conf, text, 0600);
	opt_verify_conf = verify_conf;
}

static char *
make_token_scope(const char *aud, const char *user, const char *scope)
{
	char payload[512];

	snprintf(payload, sizeof(payload),
		 "{\"iss\":\"https://idp.test\",\"aud\":\"%s\",\"sub\":\"%s\","
		 "\"preferred_username\":\"%s\",\"scope\":\"%s\",\"iat\":%lld,"
		 "\"exp\":%lld}", aud, user, user, scope, (long long)time(NULL),
		 (long long)time(NULL) + 600);
	return test_jose_sign("RS256", signing_key,
			      "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", payload);
}

static char *
make_token(const char *aud, const char *user)
{
	return make_token_scope(aud, user, "smtp");
}

static sasl_conn_t *
server_new(void)
{
	sasl_conn_t *conn;

	log_text[0] = '\0';
	ck_assert_int_eq(sasl_set_path(SASL_PATH_TYPE_PLUGIN, TEST_SASL_PLUGIN_DIR), SASL_OK);
	ck_assert_int_eq(sasl_server_init(global_callbacks, "test-sasl-plugin"), SASL_OK);
	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	return conn;
}

static void
server_end(sasl_conn_t **conn)
{
	sasl_dispose(conn);
	sasl_server_done();
}

static char *
xoauth2_response(const char *user, const char *token, unsigned *len_r)
{
	char *resp = malloc(strlen(token) + 64);

	ck_assert_ptr_nonnull(resp);
	*len_r = (unsigned)sprintf(resp, "user=%s\001auth=Bearer %s\001\001", user, token);
	return resp;
}

START_TEST(test_server_accept)
{
	char *token = make_token("https://mail.test", "alice"), *resp, ob[4096];
	const void *user;
	sasl_conn_t *conn;
	const char *out;
	unsigned len, out_len;

	write_verify_conf(NULL);
	conn = server_new();
	resp = xoauth2_response("alice", token, &len);
	ck_assert_msg(sasl_server_start(conn, "XOAUTH2", resp, len, &out, &out_len) == SASL_OK,
		      "%s / log: %s", sasl_errdetail(conn), log_text);
	ck_assert_int_eq(sasl_getprop(conn, SASL_USERNAME, &user), SASL_OK);
	ck_assert_str_eq(user, "alice");
	free(resp);
	sasl_dispose(&conn);

	/* OAUTHBEARER without an authzid: the identity comes from the token */
	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	len = (unsigned)snprintf(ob, sizeof(ob), "n,,\001auth=Bearer %s\001\001", token);
	ck_assert_msg(sasl_server_start(conn, "OAUTHBEARER", ob, len, &out, &out_len) == SASL_OK,
		      "%s", sasl_errdetail(conn));
	ck_assert_int_eq(sasl_getprop(conn, SASL_USERNAME, &user), SASL_OK);
	ck_assert_str_eq(user, "alice");
	ck_assert_ptr_null(strstr(log_text, token + strlen(token) - 20));
	free(token);
	server_end(&conn);
}
END_TEST

/* An OAUTHBEARER login (GS2 header gs2, token) on a new connection that
   must get the challenge want_json, then SASL_BADAUTH after the ack. */
static sasl_conn_t *
server_oauthbearer_rejected(const char *gs2, const char *token, const char *want_json)
{
	sasl_conn_t *conn;
	const char *out;
	unsigned len, out_len;
	char ob[4096];

	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	len = (unsigned)snprintf(ob, sizeof(ob), "%s\001auth=Bearer %s\001\001", gs2, token);
	ck_assert_int_eq(sasl_server_start(conn, "OAUTHBEARER", ob, len, &out, &out_len),
			 SASL_CONTINUE);
	ck_assert_str_eq(out, want_json);
	ck_assert_int_eq(sasl_server_step(conn, "\001", 1, &out, &out_len), SASL_BADAUTH);
	return conn;
}

START_TEST(test_server_reject)
{
	char *token = make_token("https://other.test", "alice"), *resp;
	sasl_conn_t *conn;
	const char *out;
	unsigned len, out_len;
	int ret;

	write_verify_conf("required_scopes = smtp");
	conn = server_new();
	resp = xoauth2_response("alice", token, &len);
	ret = sasl_server_start(conn, "XOAUTH2", resp, len, &out, &out_len);
	ck_assert_int_eq(ret, SASL_CONTINUE);
	ck_assert_str_eq(out, "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"smtp\"}");
	/* whatever the client answers, the answer stays no */
	ck_assert_int_eq(sasl_server_step(conn, "", 0, &out, &out_len), SASL_BADAUTH);
	ck_assert_msg(strstr(sasl_errdetail(conn), "rejected reason=wrong_audience") != NULL,
		      "%s", sasl_errdetail(conn));
	free(resp);
	sasl_dispose(&conn);

	/* a token for alice, asserted for bob */
	free(token);
	token = make_token("https://mail.test", "alice");
	conn = server_oauthbearer_rejected("n,a=bob,", token,
		"{\"status\":\"invalid_token\",\"scope\":\"smtp\"}");
	ck_assert_ptr_nonnull(strstr(sasl_errdetail(conn), "user_mismatch"));
	sasl_dispose(&conn);

	/* a token without the required scope: the scope statuses of verdict.h */
	free(token);
	token = make_token_scope("https://mail.test", "alice", "mail");
	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	resp = xoauth2_response("alice", token, &len);
	ck_assert_int_eq(sasl_server_start(conn, "XOAUTH2", resp, len, &out, &out_len),
			 SASL_CONTINUE);
	free(resp);
	ck_assert_str_eq(out, "{\"status\":\"403\",\"schemes\":\"bearer\",\"scope\":\"smtp\"}");
	ck_assert_int_eq(sasl_server_step(conn, "", 0, &out, &out_len), SASL_BADAUTH);
	ck_assert_ptr_nonnull(strstr(sasl_errdetail(conn), "rejected reason=insufficient_scope"));
	sasl_dispose(&conn);
	conn = server_oauthbearer_rejected("n,,", token,
		"{\"status\":\"insufficient_scope\",\"scope\":\"smtp\"}");
	/* the core's verdict line, through utils->log */
	ck_assert_msg(strstr(log_text, "OAUTHBEARER rejected reason=insufficient_scope "
			     "token=sha256:") != NULL, "log: %s", log_text);
	ck_assert_ptr_null(strstr(log_text, token + strlen(token) - 20));
	sasl_dispose(&conn);

	/* malformed */
	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	ck_assert_int_eq(sasl_server_start(conn, "XOAUTH2", "garbage", 7, &out, &out_len),
			 SASL_BADPROT);
	sasl_dispose(&conn);

	/* no initial response: one empty challenge, and not a second one */
	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	ck_assert_int_eq(sasl_server_start(conn, "XOAUTH2", NULL, 0, &out, &out_len),
			 SASL_CONTINUE);
	ck_assert_uint_eq(out_len, 0);
	ck_assert_int_eq(sasl_server_step(conn, "", 0, &out, &out_len), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(conn, "", 0, &out, &out_len), SASL_BADPROT);
	free(token);
	server_end(&conn);
}
END_TEST

/* A login on a new connection that must succeed as want_user. */
static void
server_accepts_as(const char *mech, const char *resp, unsigned len, const char *want_user)
{
	sasl_conn_t *conn;
	const void *user;
	const char *out;
	unsigned out_len;

	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	ck_assert_msg(sasl_server_start(conn, mech, resp, len, &out, &out_len) == SASL_OK,
		      "%s: %s / log: %s", mech, sasl_errdetail(conn), log_text);
	ck_assert_int_eq(sasl_getprop(conn, SASL_USERNAME, &user), SASL_OK);
	ck_assert_str_eq(user, want_user);
	sasl_dispose(&conn);
}

/* Issue 9: a name that could leave a mail root is bad_identity here too,
   and one token is one user whatever the mechanism. */
START_TEST(test_server_identity)
{
	char *token = make_token("https://mail.test", "x/../../escaped@example.test"), *resp;
	sasl_conn_t *conn;
	const char *out;
	unsigned len, out_len;
	char ob[4096];

	write_verify_conf(NULL);
	conn = server_new();
	sasl_dispose(&conn);
	conn = server_oauthbearer_rejected("n,,", token, "{\"status\":\"invalid_token\"}");
	ck_assert_msg(strstr(sasl_errdetail(conn), "rejected reason=bad_identity") != NULL,
		      "%s", sasl_errdetail(conn));
	sasl_dispose(&conn);
	free(token);

	/* a client asserting a name with a space */
	token = make_token("https://mail.test", "alice");
	ck_assert_int_eq(sasl_server_new("smtp", "mx.test", NULL, NULL, NULL, NULL, 0,
					 &conn), SASL_OK);
	resp = xoauth2_response("alice smith", token, &len);
	ck_assert_int_eq(sasl_server_start(conn, "XOAUTH2", resp, len, &out, &out_len),
			 SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(conn, "", 0, &out, &out_len), SASL_BADAUTH);
	ck_assert_msg(strstr(sasl_errdetail(conn), "rejected reason=bad_identity") != NULL,
		      "%s", sasl_errdetail(conn));
	free(resp);
	sasl_dispose(&conn);
	free(token);

	/* ALICE@EXAMPLE.TEST: XOAUTH2 with the name as a host lowercased
	   it, OAUTHBEARER with and without an authzid: one user */
	token = make_token("https://mail.test", "ALICE@EXAMPLE.TEST");
	resp = xoauth2_response("alice@example.test", token, &len);
	server_accepts_as("XOAUTH2", resp, len, "ALICE@EXAMPLE.TEST");
	free(resp);
	len = (unsigned)snprintf(ob, sizeof(ob), "n,,\001auth=Bearer %s\001\001", token);
	server_accepts_as("OAUTHBEARER", ob, len, "ALICE@EXAMPLE.TEST");
	len = (unsigned)snprintf(ob, sizeof(ob), "n,a=ALICE@EXAMPLE.TEST,\001auth=Bearer %s\001\001",
				 token);
	server_accepts_as("OAUTHBEARER", ob, len, "ALICE@EXAMPLE.TEST");
	free(token);
	sasl_server_done();
}
END_TEST

/* The provider's keys cannot be fetched: a temporary failure, never a
   wrong password and never an accepted token. */
START_TEST(test_server_tempfail)
{
	char *token = make_token("https://mail.test", "alice"), *resp, extra[512];
	sasl_conn_t *conn;
	const char *out;
	unsigned len, out_len;

	tt_server_start(NULL);
	tt_route("/jwks", "down", 200, NULL, 0);
	snprintf(extra, sizeof(extra), "jwks_uri = %s", tt_url("/jwks"));
	write_verify_conf(extra);
	conn = server_new();
	resp = xoauth2_response("alice", token, &len);
	ck_assert_int_eq(sasl_server_start(conn, "XOAUTH2", resp, len, &out, &out_len),
			 SASL_TRYAGAIN);
	ck_assert_ptr_nonnull(strstr(sasl_errdetail(conn), "temporary failure"));
	free(resp);
	free(token);
	server_end(&conn);
	tt_server_stop();
}
END_TEST

START_TEST(test_server_bad_config)
{
	char *token = make_token("https://mail.test", "alice"), *resp, bad[1300];
	sasl_conn_t *conn;
	const char *out;
	unsigned len, out_len;
	int count;

	snprintf(bad, sizeof(bad), "%s/bad-verify.conf", tt_new_dir());
	tt_write_file(bad, "[provider p]\nissuer = https://idp.test\n", 0600);
	opt_verify_conf = bad;
	conn = server_new();
	ck_assert_int_eq(sasl_listmech(conn, NULL, "", " ", "", &out, &out_len, &count),
			 SASL_OK);
	ck_assert_msg(strstr(out, "XOAUTH2") != NULL && strstr(out, "OAUTHBEARER") != NULL,
		      "mechanisms: %s", out);
	resp = xoauth2_response("alice", token, &len);
	ck_assert_int_eq(sasl_server_start(conn, "XOAUTH2", resp, len, &out, &out_len),
			 SASL_FAIL);
	ck_assert_msg(strstr(sasl_errdetail(conn), "bad-verify.conf") != NULL,
		      "%s", sasl_errdetail(conn));
	free(resp);
	free(token);
	server_end(&conn);
}
END_TEST

static void
make_signing_key(void)
{
	char *pem;

	if (signing_key != NULL)
		return;
	signing_key = test_jose_keygen_rsa(2048);
	ck_assert_ptr_nonnull(signing_key);
	pem = test_jose_public_pem(signing_key);
	snprintf(key_pem_file, sizeof(key_pem_file), "%s/idp-key.pem", tt_dir);
	tt_write_file(key_pem_file, pem, 0644);
	free(pem);
}

static void
server_fixture(void)
{
	make_signing_key();
}

static void
server_fixture_end(void)
{
	EVP_PKEY_free(signing_key);
	signing_key = NULL;
}

int
main(void)
{
	Suite *s = suite_create("sasl-plugin");
	TCase *client = tcase_create("client"), *server = tcase_create("server");
	void *plugin;
	int ret;

	tt_env_init("test-sasl-plugin");
	/* keep the plugin mapped when libsasl2 dlclose()s it at sasl_done():
	   a leak report can then name its functions */
	plugin = dlopen(TEST_SASL_PLUGIN_DIR "/libmail-oauth2.so", RTLD_NOW | RTLD_NODELETE);
	if (plugin == NULL) {
		fprintf(stderr, "test-sasl-plugin: %s\n", dlerror());
		return EXIT_FAILURE;
	}
	tcase_set_timeout(client, 60);
	tcase_add_test(client, test_client_xoauth2_and_rejection);
	tcase_add_test(client, test_client_oauthbearer);
	tcase_add_test(client, test_client_unknown_account);
	tcase_add_test(client, test_client_provider_down);
	tcase_add_test(client, test_client_bad_config);
	tcase_add_test(client, test_client_prompts);
	suite_add_tcase(s, client);
	tcase_set_timeout(server, 60);
	tcase_add_checked_fixture(server, server_fixture, server_fixture_end);
	tcase_add_test(server, test_server_accept);
	tcase_add_test(server, test_server_reject);
	tcase_add_test(server, test_server_identity);
	tcase_add_test(server, test_server_tempfail);
	tcase_add_test(server, test_server_bad_config);
	suite_add_tcase(s, server);
	ret = tc_run_suite(s);
	tt_env_cleanup();
	return ret;
}
