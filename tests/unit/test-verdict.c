/* SPDX-License-Identifier: MIT */
/* Unit tests of the verdict module (verdict.h): the failure challenge of
   every reason code for both mechanisms (table-driven:
   tests/data/verdict/challenge.txt, with a check that every reason has its
   row), and the log lines: the three outcomes, the codec's refusals and
   the one double base64 sentence, and a real verification whose lines
   name the token by its fingerprint only. */

#include "config.h"
#include "test-common.h"
#include "test-jose-sign.h"

#include "mail-oauth2/verdict.h"
#include "mail-oauth2/verify-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FULL_SCOPE "imap smtp"
#define FULL_OPENID "https://idp.example/.well-known/openid-configuration"
#define ISSUER "https://idp.test"
#define NOW 1700000000
#define N_CASES(a) (sizeof(a) / sizeof((a)[0]))

static const struct tc_vector_file *challenge_file;

/* ------------------------------------------------------------ challenge */

static enum moa2_sasl_mech
mech_from_name(const char *name)
{
	if (strcmp(name, "xoauth2") == 0)
		return MOA2_MECH_XOAUTH2;
	if (strcmp(name, "oauthbearer") == 0)
		return MOA2_MECH_OAUTHBEARER;
	ck_assert_str_eq(name, "unknown");
	return MOA2_MECH_UNKNOWN;
}

static enum moa2_verify_reason
reason_from_name(const char *where, const char *name)
{
	enum moa2_verify_reason reason;

	if (strcmp(name, "unknown") == 0)
		return MOA2_VERDICT_REASON_UNKNOWN;
	ck_assert_msg(moa2_verify_reason_from_name(name, &reason) == 0,
		      "%s: no reason %s", where, name);
	return reason;
}

START_TEST(test_challenge_vector)
{
	const struct tc_vector *v = &challenge_file->vectors[_i];
	char where[256], *scope, *openid, *want, *got;

	snprintf(where, sizeof(where), "%s:%u", challenge_file->name, v->line);
	ck_assert_msg(v->ncols == 5, "%s: %u columns", where, v->ncols);
	scope = tc_vector_col_str_or_null(challenge_file, v, 2);
	openid = tc_vector_col_str_or_null(challenge_file, v, 3);
	want = tc_vector_col_str_or_null(challenge_file, v, 4);
	got = moa2_verdict_challenge(mech_from_name(v->cols[0]),
				     reason_from_name(where, v->cols[1]),
				     scope, openid);
	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: no challenge expected, got %s",
			      where, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0,
			      "%s:\n got  %s\n want %s", where,
			      got != NULL ? got : "(none)", want);
	free(got);
	free(scope);
	free(openid);
	free(want);
}
END_TEST

/* Each reason (and "unknown") has exactly one row per mechanism with the
   full scope and discovery URL: a new reason code fails here until the
   table says what its challenge is. */
START_TEST(test_every_reason_has_a_row)
{
	static const char *const mechs[] = { "xoauth2", "oauthbearer" };

	for (unsigned int m = 0; m < 2; m++) {
		for (unsigned int r = 0; r <= MOA2_VERIFY_REASON_COUNT; r++) {
			const char *name = moa2_verify_reason_name(r);
			unsigned int rows = 0;

			for (unsigned int i = 0; i < challenge_file->count; i++) {
				const struct tc_vector *v = &challenge_file->vectors[i];

				rows += v->ncols == 5 && strcmp(v->cols[0], mechs[m]) == 0 &&
					strcmp(v->cols[1], name) == 0 &&
					strcmp(v->cols[2], FULL_SCOPE) == 0 &&
					strcmp(v->cols[3], FULL_OPENID) == 0;
			}
			ck_assert_msg(rows == 1, "%s: %u rows for %s %s",
				      challenge_file->name, rows, mechs[m], name);
		}
	}
}
END_TEST

/* The convenience for a result: a rejection's own fields, nothing else. */
START_TEST(test_result_challenge)
{
	struct moa2_verify_result result = {
		.outcome = MOA2_OUTCOME_REJECTED,
		.reason = MOA2_VERIFY_INSUFFICIENT_SCOPE,
		.scope = "imap",
		.openid_configuration = FULL_OPENID,
	};
	char *json = moa2_verdict_result_challenge(MOA2_MECH_XOAUTH2, &result);

	ck_assert_str_eq(json, "{\"status\":\"403\",\"schemes\":\"bearer\",\"scope\":\"imap\","
			 "\"openid-configuration\":\"" FULL_OPENID "\"}");
	free(json);
	json = moa2_verdict_result_challenge(MOA2_MECH_OAUTHBEARER, &result);
	ck_assert_str_eq(json, "{\"status\":\"insufficient_scope\",\"scope\":\"imap\","
			 "\"openid-configuration\":\"" FULL_OPENID "\"}");
	free(json);
	/* accepted and tempfail: never a challenge, whatever the reason says */
	result.outcome = MOA2_OUTCOME_ACCEPTED;
	ck_assert_ptr_null(moa2_verdict_result_challenge(MOA2_MECH_XOAUTH2, &result));
	result.outcome = MOA2_OUTCOME_TEMPFAIL;
	ck_assert_ptr_null(moa2_verdict_result_challenge(MOA2_MECH_OAUTHBEARER, &result));
}
END_TEST

/* ------------------------------------------------------------ log lines */

static void
result_init(struct moa2_verify_result *result, enum moa2_verify_outcome outcome,
	    enum moa2_verify_reason reason, const char *detail)
{
	memset(result, 0, sizeof(*result));
	result->outcome = outcome;
	result->reason = reason;
	snprintf(result->detail, sizeof(result->detail), "%s", detail);
	snprintf(result->fingerprint, sizeof(result->fingerprint), "1a2b3c4d");
	result->provider = "corp";
}

static void
assert_line(const struct moa2_verdict_log *line, enum moa2_log_level level,
	    const char *text)
{
	ck_assert_msg(line->level == level, "level %s, want %s: %s",
		      moa2_log_level_name(line->level), moa2_log_level_name(level),
		      line->text);
	ck_assert_str_eq(line->text, text);
}

START_TEST(test_log_accepted)
{
	struct moa2_verify_result result;
	struct moa2_verdict_log line;
	char identity[] = "alice@example.org";

	result_init(&result, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "");
	result.identity = identity;
	result.expires_at = NOW + 300;
	moa2_verdict_log_result(&result, "XOAUTH2", NOW, &line);
	assert_line(&line, MOA2_LOG_DEBUG, "XOAUTH2 accepted user=alice@example.org "
		    "provider=corp token=sha256:1a2b3c4d expires_in=300s");
	/* an opaque token's cached result, exp unknown, no mechanism known */
	result.from_cache = true;
	result.expires_at = 0;
	moa2_verdict_log_result(&result, NULL, NOW, &line);
	assert_line(&line, MOA2_LOG_DEBUG, "accepted user=alice@example.org "
		    "provider=corp token=sha256:1a2b3c4d expires_in=0s (cached)");
	/* no fingerprint computed (debug off in the verifier) */
	result.fingerprint[0] = '\0';
	result.from_cache = false;
	moa2_verdict_log_result(&result, "PLAIN", NOW, &line);
	assert_line(&line, MOA2_LOG_DEBUG, "PLAIN accepted user=alice@example.org "
		    "provider=corp token=sha256:- expires_in=0s");
}
END_TEST

/* Rejections and temporary failures: the same shape, their own word and
   level. */
static const struct failure_case {
	enum moa2_verify_outcome outcome;
	enum moa2_verify_reason reason;
	const char *mech, *provider, *detail;
	enum moa2_log_level level;
	const char *want;
} failure_cases[] = {
	{ MOA2_OUTCOME_REJECTED, MOA2_VERIFY_EXPIRED, "OAUTHBEARER", "corp",
	  "exp 1699999000 is 1000 s in the past (leeway 60 s)", MOA2_LOG_INFO,
	  "OAUTHBEARER rejected reason=expired token=sha256:1a2b3c4d: exp "
	  "1699999000 is 1000 s in the past (leeway 60 s) (provider=corp)" },
	/* refused before a provider judged it, no mechanism known */
	{ MOA2_OUTCOME_REJECTED, MOA2_VERIFY_ALG_NOT_ALLOWED, NULL, NULL,
	  "alg none is never accepted", MOA2_LOG_INFO,
	  "rejected reason=alg_not_allowed token=sha256:1a2b3c4d: alg none is "
	  "never accepted (provider=-)" },
	{ MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "XOAUTH2", "corp",
	  "provider corp: fetching the key set failed: connection refused",
	  MOA2_LOG_ERROR,
	  "XOAUTH2 temporary failure reason=unavailable token=sha256:1a2b3c4d: "
	  "provider corp: fetching the key set failed: connection refused "
	  "(provider=corp)" },
};

START_TEST(test_log_failure)
{
	const struct failure_case *c = &failure_cases[_i];
	struct moa2_verify_result result;
	struct moa2_verdict_log line;

	result_init(&result, c->outcome, c->reason, c->detail);
	result.provider = c->provider;
	moa2_verdict_log_result(&result, c->mech, NOW, &line);
	assert_line(&line, c->level, c->want);
}
END_TEST

/* A very long detail is cut at the line's size, never overrun. */
START_TEST(test_log_truncated)
{
	struct moa2_verify_result result;
	struct moa2_verdict_log line;
	char identity[1100];

	result_init(&result, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "");
	memset(identity, 'u', sizeof(identity) - 1);
	identity[sizeof(identity) - 1] = '\0';
	result.identity = identity;
	result.provider = "a-provider-with-a-long-name-for-this-test";
	moa2_verdict_log_result(&result, "XOAUTH2", NOW, &line);
	ck_assert_uint_eq(strlen(line.text), sizeof(line.text) - 1);
	ck_assert(strncmp(line.text, "XOAUTH2 accepted user=uuu", 25) == 0);
}
END_TEST

START_TEST(test_log_codec_error)
{
	struct moa2_verdict_log line;

	moa2_verdict_log_codec_error(MOA2_MECH_XOAUTH2, MOA2_SASL_ERR_NO_TERMINATOR,
				     "OPT=yes", &line);
	assert_line(&line, MOA2_LOG_INFO, "XOAUTH2 response refused: no_terminator: "
		    "the response does not end with the final ^A (0x01) separator");
	moa2_verdict_log_codec_error(MOA2_MECH_OAUTHBEARER,
				     MOA2_SASL_ERR_GS2_CHANNEL_BINDING, NULL, &line);
	assert_line(&line, MOA2_LOG_INFO, "OAUTHBEARER response refused: "
		    "gs2_channel_binding: the client requested channel binding (p=), "
		    "which OAUTHBEARER does not support");
}
END_TEST

/* The answer to a failure challenge: the ack is silent, an empty line
   (msmtp, Mail::IMAPClient) a debug line, anything else info. */
START_TEST(test_log_failure_ack)
{
	struct moa2_verdict_log line;

	ck_assert_int_eq(moa2_verdict_log_failure_ack(MOA2_MECH_OAUTHBEARER, "\x01", 1, &line), -1);
	ck_assert_int_eq(moa2_verdict_log_failure_ack(MOA2_MECH_XOAUTH2, "", 0, &line), -1);
	ck_assert_int_eq(moa2_verdict_log_failure_ack(MOA2_MECH_OAUTHBEARER, "", 0, &line), 0);
	assert_line(&line, MOA2_LOG_DEBUG, "the client answered the OAUTHBEARER failure "
		    "challenge with an empty response instead of ^A");
	ck_assert_int_eq(moa2_verdict_log_failure_ack(MOA2_MECH_XOAUTH2, "x", 1, &line), 0);
	assert_line(&line, MOA2_LOG_INFO, "the client did not acknowledge the failure "
		    "challenge as XOAUTH2 requires");
}
END_TEST

/* The verification event's fields, in order, for every host. */
START_TEST(test_verdict_event)
{
	struct moa2_verify_result r = {
		.outcome = MOA2_OUTCOME_REJECTED, .reason = MOA2_VERIFY_EXPIRED,
		.provider = "corp", .duration_usecs = 1234,
	};
	struct moa2_event ev;

	moa2_verdict_event(&r, "XOAUTH2", MOA2_VERDICT_MODE_THREADS, &ev);
	ck_assert_str_eq(ev.name, "mail_oauth2_verify_finished");
	ck_assert_uint_eq(ev.fields_count, 6);
	ck_assert_str_eq(ev.fields[0].name, "outcome");
	ck_assert_str_eq(ev.fields[0].str, "rejected");
	ck_assert_str_eq(ev.fields[1].name, "reason");
	ck_assert_str_eq(ev.fields[1].str, "expired");
	ck_assert_str_eq(ev.fields[2].name, "provider");
	ck_assert_str_eq(ev.fields[2].str, "corp");
	ck_assert_str_eq(ev.fields[3].name, "mode");
	ck_assert_str_eq(ev.fields[3].str, "threads");
	ck_assert_str_eq(ev.fields[4].name, "mechanism");
	ck_assert_str_eq(ev.fields[4].str, "XOAUTH2");
	ck_assert_str_eq(ev.fields[5].name, "duration_usecs");
	ck_assert_ptr_null(ev.fields[5].str);
	ck_assert_int_eq(ev.fields[5].num, 1234);
	/* no provider, no mechanism: "-" */
	r.provider = NULL;
	r.outcome = MOA2_OUTCOME_ACCEPTED;
	r.reason = MOA2_VERIFY_OK;
	moa2_verdict_event(&r, NULL, MOA2_VERDICT_MODE_MAIN, &ev);
	ck_assert_str_eq(ev.fields[0].str, "accepted");
	ck_assert_str_eq(ev.fields[1].str, "ok");
	ck_assert_str_eq(ev.fields[2].str, "-");
	ck_assert_str_eq(ev.fields[4].str, "-");
}
END_TEST

/* One text explains double base64, in the refusal and in the acceptance. */
START_TEST(test_log_double_base64)
{
	const char *sentence = moa2_sasl_error_sentence(MOA2_SASL_ERR_DOUBLE_BASE64);
	struct moa2_verdict_log line;
	char want[MOA2_VERDICT_LOG_MAX];

	ck_assert_str_eq(sentence, "the client base64-encoded its response twice (a bug "
			 "of some clients, e.g. the widely copied Python imaplib example "
			 "whose callback returns base64 although imaplib.authenticate() "
			 "encodes it again)");
	moa2_verdict_log_codec_error(MOA2_MECH_XOAUTH2, MOA2_SASL_ERR_DOUBLE_BASE64,
				     "the passdb args allow_double_base64=yes", &line);
	snprintf(want, sizeof(want), "XOAUTH2 response refused: double_base64: %s; "
		 "fix the client, or accept such responses with the passdb args "
		 "allow_double_base64=yes", sentence);
	assert_line(&line, MOA2_LOG_INFO, want);
	moa2_verdict_log_double_base64(MOA2_MECH_OAUTHBEARER,
				       "mail_oauth2_allow_double_base64: yes", &line);
	snprintf(want, sizeof(want), "OAUTHBEARER accepted a doubly base64-encoded "
		 "response (mail_oauth2_allow_double_base64: yes): %s; fix the client",
		 sentence);
	assert_line(&line, MOA2_LOG_INFO, want);
}
END_TEST

/* ------------------------------------------------- a real verification */

static EVP_PKEY *signing_key;

static char *
sign_token(const char *aud, time_t exp)
{
	char payload[512];

	snprintf(payload, sizeof(payload), "{\"iss\":\"" ISSUER "\",\"aud\":\"%s\","
		 "\"sub\":\"alice\",\"scope\":\"imap\",\"iat\":%lld,\"exp\":%lld}",
		 aud, (long long)exp - 600, (long long)exp);
	return test_jose_sign("RS256", signing_key,
			      "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}",
			      payload);
}

struct engine {
	struct moa2_verify_config *cfg;
	struct moa2_verifier *verifier;
};

static char work_dir[256];

static void
engine_create(struct engine *e, const char *keys_line)
{
	static const struct moa2_logger logger = { NULL, NULL, true, NULL };
	char text[2048], *error = NULL;

	snprintf(text, sizeof(text), "cache_dir = %s\n"
		 "[provider corp]\nissuer = " ISSUER "\naudience = mail\n"
		 "required_scopes = imap\n%s\n", work_dir, keys_line);
	ck_assert_msg(moa2_verify_config_load_string("t.conf", text, strlen(text),
						      &e->cfg, &error) == 0, "%s", error);
	ck_assert_msg(moa2_verifier_create(e->cfg, &logger, &e->verifier, &error) == 0,
		      "%s", error);
}

static void
engine_destroy(struct engine *e)
{
	moa2_verifier_destroy(&e->verifier);
	moa2_verify_config_free(&e->cfg);
}

/* verifies token, returns its verdict line and checks that neither the
   token nor its signature is in the line or the challenge, and that the
   line names the token by its fingerprint */
static void
verify_line(struct engine *e, const char *token, enum moa2_verify_outcome want,
	    struct moa2_verdict_log *line_r)
{
	struct moa2_verify_result result;
	char fingerprint[MOA2_FINGERPRINT_LEN + 1], *json;
	const char *sig = strrchr(token, '.') + 1;

	moa2_verify_token(e->verifier, token, strlen(token), "alice", &result);
	ck_assert_msg(result.outcome == want, "outcome %s: %s",
		      moa2_verify_outcome_name(result.outcome), result.detail);
	moa2_verdict_log_result(&result, "XOAUTH2", time(NULL), line_r);
	json = moa2_verdict_result_challenge(MOA2_MECH_XOAUTH2, &result);
	moa2_token_fingerprint(token, strlen(token), fingerprint);
	ck_assert_ptr_nonnull(strstr(line_r->text, fingerprint));
	ck_assert_ptr_null(strstr(line_r->text, token));
	ck_assert_ptr_null(strstr(line_r->text, sig));
	ck_assert(json == NULL || strstr(json, sig) == NULL);
	free(json);
	moa2_verify_result_clear(&result);
}

START_TEST(test_log_real_verification)
{
	struct engine e;
	struct moa2_verdict_log line;
	char *pem = test_jose_public_pem(signing_key), keys[1300], path[300];
	char *good = sign_token("mail", time(NULL) + 600);
	char *expired = sign_token("mail", time(NULL) - 600);
	FILE *f;

	snprintf(path, sizeof(path), "%s/key.pem", work_dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(pem, f);
	fclose(f);
	snprintf(keys, sizeof(keys), "jwks_file = %s", path);
	engine_create(&e, keys);
	verify_line(&e, good, MOA2_OUTCOME_ACCEPTED, &line);
	ck_assert_int_eq(line.level, MOA2_LOG_DEBUG);
	ck_assert(strncmp(line.text, "XOAUTH2 accepted user=alice provider=corp "
			  "token=sha256:", 41) == 0);
	verify_line(&e, expired, MOA2_OUTCOME_REJECTED, &line);
	ck_assert_int_eq(line.level, MOA2_LOG_INFO);
	ck_assert(strncmp(line.text, "XOAUTH2 rejected reason=expired token=sha256:", 45) == 0);
	ck_assert_ptr_nonnull(strstr(line.text, " (provider=corp)"));
	engine_destroy(&e);

	/* the key set cannot be fetched: a temporary failure at error */
	engine_create(&e, "jwks_uri = https://127.0.0.1:1/jwks");
	verify_line(&e, good, MOA2_OUTCOME_TEMPFAIL, &line);
	ck_assert_int_eq(line.level, MOA2_LOG_ERROR);
	ck_assert(strncmp(line.text, "XOAUTH2 temporary failure reason=unavailable "
			  "token=sha256:", 58) == 0);
	engine_destroy(&e);

	unlink(path);
	free(pem);
	free(good);
	free(expired);
}
END_TEST

static void
key_setup(void)
{
	snprintf(work_dir, sizeof(work_dir), "%s/moa2-verdict.XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(work_dir));
	signing_key = test_jose_keygen_rsa(2048);
	ck_assert_ptr_nonnull(signing_key);
}

static void
key_teardown(void)
{
	EVP_PKEY_free(signing_key);
	signing_key = NULL;
	rmdir(work_dir);
}

static Suite *
verdict_suite(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc;

	challenge_file = tc_vectors_load("verdict/challenge.txt", 5);

	tc = tcase_create("challenge");
	tcase_add_loop_test(tc, test_challenge_vector, 0, (int)challenge_file->count);
	tcase_add_test(tc, test_every_reason_has_a_row);
	tcase_add_test(tc, test_result_challenge);
	suite_add_tcase(s, tc);

	tc = tcase_create("log");
	tcase_add_test(tc, test_log_accepted);
	tcase_add_loop_test(tc, test_log_failure, 0, (int)N_CASES(failure_cases));
	tcase_add_test(tc, test_log_truncated);
	tcase_add_test(tc, test_log_codec_error);
	tcase_add_test(tc, test_log_double_base64);
	tcase_add_test(tc, test_log_failure_ack);
	tcase_add_test(tc, test_verdict_event);
	suite_add_tcase(s, tc);

	tc = tcase_create("engine");
	tcase_add_unchecked_fixture(tc, key_setup, key_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_log_real_verification);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tc_run_suite(verdict_suite());
}
