/* SPDX-License-Identifier: MIT */
/* Unit tests of the SASL codec (sasl-codec.h), written against the header
   contract, RFC 7628 and Google's XOAUTH2 page. Table-driven: the cases live
   in the tests/data/sasl vector files; only what is too big to write there
   (size caps) and the random round-trip property are generated here. */

#include "test-common.h"

#include "support/base64.h"
#include "mail-oauth2/sasl-codec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOOGLE_USER "someuser@example.com"
#define GOOGLE_TOKEN "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
#define GOOGLE_RAW "user=" GOOGLE_USER "\001auth=Bearer " GOOGLE_TOKEN "\001\001"
#define GOOGLE_B64 \
	"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRx" \
	"bVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
#define RFC7628_TOKEN "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
#define RFC7628_41_IMAP_B64 \
	"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9" \
	"MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZ" \
	"Mjl0Q2c9PQEB"
#define RFC7628_41_SMTP_B64 \
	"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9" \
	"NTg3AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZ" \
	"Mjl0Q2c9PQEB"
/* RFC 7628 section 4.3, the decoded server error response (the printed
   base64 says "openid-config"; this is the decoded text, byte for byte). */
#define RFC7628_43_JSON \
	"{\"status\":\"invalid_token\",\"scope\":\"example_scope\"," \
	"\"openid-configuration\":" \
	"\"https://example.com/.well-known/openid-configuration\"}"
#define RFC7628_43_JSON_B64 \
	"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwi" \
	"b3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtu" \
	"b3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0="
#define RFC7628_44_JSON_B64 \
	"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiLCJz" \
	"Y29wZSI6Imh0dHBzOi8vbWFpbC5leGFtcGxlLmNvbS8ifQ=="

#define ROUND_TRIP_ITERATIONS 2000

/* The stable names: logs, CLI output and the vector files use them. */
static const char *const error_names[MOA2_SASL_ERR_COUNT] = {
	[MOA2_SASL_OK] = "ok",
	[MOA2_SASL_ERR_EMPTY] = "empty",
	[MOA2_SASL_ERR_TOO_LONG] = "too_long",
	[MOA2_SASL_ERR_BASE64] = "base64",
	[MOA2_SASL_ERR_DOUBLE_BASE64] = "double_base64",
	[MOA2_SASL_ERR_FAILURE_ACK] = "failure_ack",
	[MOA2_SASL_ERR_UNKNOWN_FORMAT] = "unknown_format",
	[MOA2_SASL_ERR_MECH_MISMATCH] = "mech_mismatch",
	[MOA2_SASL_ERR_NUL] = "nul_byte",
	[MOA2_SASL_ERR_CRLF] = "crlf",
	[MOA2_SASL_ERR_CONTROL_CHAR] = "control_char",
	[MOA2_SASL_ERR_BAD_UTF8] = "bad_utf8",
	[MOA2_SASL_ERR_NO_TERMINATOR] = "no_terminator",
	[MOA2_SASL_ERR_TRAILING_DATA] = "trailing_data",
	[MOA2_SASL_ERR_FIELD_NO_EQUALS] = "field_no_equals",
	[MOA2_SASL_ERR_FIELD_BAD_KEY] = "field_bad_key",
	[MOA2_SASL_ERR_FIELD_DUPLICATE] = "field_duplicate",
	[MOA2_SASL_ERR_TOO_MANY_FIELDS] = "too_many_fields",
	[MOA2_SASL_ERR_AUTH_MISSING] = "auth_missing",
	[MOA2_SASL_ERR_AUTH_NOT_BEARER] = "auth_not_bearer",
	[MOA2_SASL_ERR_TOKEN_EMPTY] = "token_empty",
	[MOA2_SASL_ERR_TOKEN_CHARSET] = "token_charset",
	[MOA2_SASL_ERR_TOKEN_TOO_LONG] = "token_too_long",
	[MOA2_SASL_ERR_USER_MISSING] = "user_missing",
	[MOA2_SASL_ERR_USER_EMPTY] = "user_empty",
	[MOA2_SASL_ERR_USER_TOO_LONG] = "user_too_long",
	[MOA2_SASL_ERR_GS2_HEADER] = "gs2_header",
	[MOA2_SASL_ERR_GS2_CHANNEL_BINDING] = "gs2_channel_binding",
	[MOA2_SASL_ERR_GS2_NONSTD] = "gs2_nonstd",
	[MOA2_SASL_ERR_GS2_AUTHZID] = "gs2_authzid",
	[MOA2_SASL_ERR_GS2_NO_SEPARATOR] = "gs2_no_separator",
	[MOA2_SASL_ERR_AUTHZID_EMPTY] = "authzid_empty",
	[MOA2_SASL_ERR_AUTHZID_ESCAPE] = "authzid_escape",
	[MOA2_SASL_ERR_HOST_INVALID] = "host_invalid",
	[MOA2_SASL_ERR_PORT_INVALID] = "port_invalid",
	[MOA2_SASL_ERR_CHALLENGE_JSON] = "challenge_json",
	[MOA2_SASL_ERR_CHALLENGE_STATUS] = "challenge_status",
};

/* Error codes whose cases are generated below rather than written in
   malformed.txt (they need inputs of many KiB). */
static const enum moa2_sasl_error generated_errors[] = {
	MOA2_SASL_ERR_TOO_LONG,
	MOA2_SASL_ERR_TOKEN_TOO_LONG,
	MOA2_SASL_ERR_USER_TOO_LONG,
	MOA2_SASL_ERR_TOO_MANY_FIELDS,
};

static const struct tc_vector_file *malformed_file;
static const struct tc_vector_file *valid_file;
static const struct tc_vector_file *build_file;
static const struct tc_vector_file *challenge_file;

/* ------------------------------------------------------------ helpers */

static enum moa2_sasl_error
error_by_name(const char *name)
{
	for (unsigned int e = 1; e < MOA2_SASL_ERR_COUNT; e++) {
		if (error_names[e] != NULL && strcmp(error_names[e], name) == 0)
			return (enum moa2_sasl_error)e;
	}
	return MOA2_SASL_ERR_COUNT;
}

static const char *
error_str(enum moa2_sasl_error error)
{
	const char *name = moa2_sasl_error_name(error);

	return name != NULL ? name : "(null)";
}

static enum moa2_sasl_mech
mech_by_name(const struct tc_vector_file *file, const struct tc_vector *v,
	     const char *name)
{
	if (strcmp(name, "XOAUTH2") == 0)
		return MOA2_MECH_XOAUTH2;
	if (strcmp(name, "OAUTHBEARER") == 0)
		return MOA2_MECH_OAUTHBEARER;
	if (strcmp(name, "UNKNOWN") == 0)
		return MOA2_MECH_UNKNOWN;
	ck_abort_msg("%s:%u: unknown mechanism '%s'", file->name, v->line, name);
	return MOA2_MECH_UNKNOWN;
}

static unsigned int
flags_by_name(const struct tc_vector_file *file, const struct tc_vector *v,
	      const char *name)
{
	if (strcmp(name, "-") == 0)
		return 0;
	if (strcmp(name, "allow_double_b64") == 0)
		return MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64;
	ck_abort_msg("%s:%u: unknown flags '%s'", file->name, v->line, name);
	return 0;
}

static bool
form_is_base64(const struct tc_vector_file *file, const struct tc_vector *v,
	       const char *name)
{
	if (strcmp(name, "raw") == 0)
		return false;
	if (strcmp(name, "b64") == 0)
		return true;
	ck_abort_msg("%s:%u: unknown form '%s'", file->name, v->line, name);
	return false;
}

static bool
str_equal_or_both_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
parse_form(bool base64, enum moa2_sasl_mech mech, const void *data,
	   size_t len, unsigned int flags, struct moa2_sasl_response *resp_r,
	   enum moa2_sasl_error *error_r)
{
	if (base64)
		return moa2_sasl_parse_base64(mech, data, len, flags, resp_r,
					      error_r);
	return moa2_sasl_parse(mech, data, len, flags, resp_r, error_r);
}

/* "the same error, resp_r zeroed" as the header promises on failure. */
static void
assert_parse_fails(const char *where, bool base64, enum moa2_sasl_mech mech,
		   const void *data, size_t len, unsigned int flags,
		   enum moa2_sasl_error expected)
{
	struct moa2_sasl_response resp;
	enum moa2_sasl_error error = MOA2_SASL_OK;
	int ret;

	memset(&resp, 0x5a, sizeof(resp));
	ret = parse_form(base64, mech, data, len, flags, &resp, &error);
	if (ret == 0) {
		moa2_sasl_response_clear(&resp);
		ck_abort_msg("%s: expected %s, but the response was accepted",
			     where, error_names[expected]);
	}
	ck_assert_msg(ret == -1, "%s: returned %d", where, ret);
	ck_assert_msg(error == expected, "%s: expected %s, got %s", where,
		      error_names[expected], error_str(error));
	ck_assert_msg(resp.mech == MOA2_MECH_UNKNOWN && resp.user == NULL &&
		      resp.authzid == NULL && resp.host == NULL &&
		      resp.port == NULL && resp.token == NULL &&
		      resp.token_len == 0 && !resp.double_base64 &&
		      resp.buf == NULL && resp.buf_size == 0,
		      "%s: resp_r not zeroed on failure", where);
	moa2_sasl_response_clear(&resp); /* safe on a zeroed struct */
}

struct expected_response {
	enum moa2_sasl_mech mech;
	const char *user, *authzid, *host, *port, *token;
	bool double_base64;
};

static void
assert_response(const char *where, const struct moa2_sasl_response *resp,
		const struct expected_response *exp)
{
	ck_assert_msg(resp->mech == exp->mech, "%s: mech %d, expected %d",
		      where, resp->mech, exp->mech);
	ck_assert_msg(str_equal_or_both_null(resp->user, exp->user),
		      "%s: user '%s', expected '%s'", where,
		      resp->user ? resp->user : "(null)",
		      exp->user ? exp->user : "(null)");
	ck_assert_msg(str_equal_or_both_null(resp->authzid, exp->authzid),
		      "%s: authzid '%s', expected '%s'", where,
		      resp->authzid ? resp->authzid : "(null)",
		      exp->authzid ? exp->authzid : "(null)");
	ck_assert_msg(str_equal_or_both_null(resp->host, exp->host),
		      "%s: host '%s', expected '%s'", where,
		      resp->host ? resp->host : "(null)",
		      exp->host ? exp->host : "(null)");
	ck_assert_msg(str_equal_or_both_null(resp->port, exp->port),
		      "%s: port '%s', expected '%s'", where,
		      resp->port ? resp->port : "(null)",
		      exp->port ? exp->port : "(null)");
	ck_assert_msg(resp->token != NULL, "%s: no token", where);
	ck_assert_msg(resp->token_len == strlen(exp->token) &&
		      memcmp(resp->token, exp->token, resp->token_len) == 0 &&
		      resp->token[resp->token_len] == '\0',
		      "%s: token (%zu bytes) differs from the expected one "
		      "(%zu bytes)", where, resp->token_len, strlen(exp->token));
	ck_assert_msg(resp->double_base64 == exp->double_base64,
		      "%s: double_base64 %d, expected %d", where,
		      resp->double_base64, exp->double_base64);
	ck_assert_msg(str_equal_or_both_null(
			moa2_sasl_response_asserted_user(resp),
			exp->user != NULL ? exp->user : exp->authzid),
		      "%s: asserted user differs", where);
}

static void
assert_parse_ok(const char *where, bool base64, enum moa2_sasl_mech mech,
		const void *data, size_t len, unsigned int flags,
		const struct expected_response *exp)
{
	struct moa2_sasl_response resp;
	enum moa2_sasl_error error = MOA2_SASL_OK;

	memset(&resp, 0, sizeof(resp));
	ck_assert_msg(parse_form(base64, mech, data, len, flags, &resp,
				 &error) == 0,
		      "%s: refused with %s", where, error_str(error));
	assert_response(where, &resp, exp);
	moa2_sasl_response_clear(&resp);
}

/* A buffer of len bytes: prefix, then filler up to len - strlen(suffix),
   then suffix. */
static char *
make_filled(size_t len, const char *prefix, char filler, const char *suffix)
{
	size_t plen = strlen(prefix), slen = strlen(suffix);
	char *buf;

	ck_assert(len >= plen + slen);
	buf = malloc(len + 1);
	ck_assert(buf != NULL);
	memcpy(buf, prefix, plen);
	memset(buf + plen, filler, len - plen - slen);
	memcpy(buf + len - slen, suffix, slen);
	buf[len] = '\0';
	return buf;
}

static char *
repeat_char(char c, size_t n)
{
	return make_filled(n, "", c, "");
}

/* ------------------------------------------------------- error names */

START_TEST(test_error_names)
{
	for (unsigned int e = 1; e < MOA2_SASL_ERR_COUNT; e++) {
		const char *name = moa2_sasl_error_name(e);
		const char *sentence = moa2_sasl_error_sentence(e);

		ck_assert_msg(name != NULL && name[0] != '\0',
			      "error %u has no name", e);
		ck_assert_msg(sentence != NULL && strlen(sentence) >= 10,
			      "error %s has no sentence", name);
		ck_assert_msg(strcmp(sentence, name) != 0,
			      "error %s: the sentence is the name", name);
		/* snake_case: [a-z][a-z0-9]*(_[a-z0-9]+)* */
		ck_assert_msg(islower((unsigned char)name[0]),
			      "error name '%s' is not snake_case", name);
		for (const char *p = name; *p != '\0'; p++) {
			ck_assert_msg(islower((unsigned char)*p) ||
				      isdigit((unsigned char)*p) ||
				      (*p == '_' && p[1] != '_' &&
				       p[1] != '\0'),
				      "error name '%s' is not snake_case", name);
		}
		ck_assert_str_eq(name, error_names[e]);
		for (unsigned int o = 1; o < e; o++) {
			ck_assert_msg(strcmp(name, moa2_sasl_error_name(o)) != 0,
				      "errors %u and %u share the name %s",
				      o, e, name);
			ck_assert_msg(strcmp(sentence,
					     moa2_sasl_error_sentence(o)) != 0,
				      "errors %s and %s share a sentence",
				      moa2_sasl_error_name(o), name);
		}
	}
}
END_TEST

START_TEST(test_mech_names)
{
	ck_assert_str_eq(moa2_sasl_mech_name(MOA2_MECH_XOAUTH2), "XOAUTH2");
	ck_assert_str_eq(moa2_sasl_mech_name(MOA2_MECH_OAUTHBEARER),
			 "OAUTHBEARER");
}
END_TEST

/* Every code a parser can return has at least one case that asserts it. */
START_TEST(test_vectors_cover_every_error)
{
	bool covered[MOA2_SASL_ERR_COUNT] = { false };
	unsigned int malformed_cases = 0;

	for (unsigned int i = 0; i < malformed_file->count; i++) {
		enum moa2_sasl_error e =
			error_by_name(malformed_file->vectors[i].cols[0]);

		ck_assert_msg(e != MOA2_SASL_ERR_COUNT, "%s:%u: unknown error",
			      malformed_file->name,
			      malformed_file->vectors[i].line);
		covered[e] = true;
		malformed_cases++;
	}
	for (unsigned int i = 0; i < challenge_file->count; i++) {
		const char *result = challenge_file->vectors[i].cols[0];

		if (strcmp(result, "ok") != 0)
			covered[error_by_name(result) % MOA2_SASL_ERR_COUNT] = true;
	}
	for (size_t i = 0; i < sizeof(generated_errors) /
				 sizeof(generated_errors[0]); i++)
		covered[generated_errors[i]] = true;
	for (unsigned int e = 1; e < MOA2_SASL_ERR_COUNT; e++) {
		ck_assert_msg(covered[e], "no test case for error %s",
			      error_names[e]);
	}
	ck_assert_msg(malformed_cases >= 45, "only %u malformed cases",
		      malformed_cases);
}
END_TEST

/* ----------------------------------------------------- server: vectors */

START_TEST(test_malformed_vector)
{
	const struct tc_vector *v = &malformed_file->vectors[_i];
	enum moa2_sasl_error expected = error_by_name(v->cols[0]);
	enum moa2_sasl_mech mech;
	unsigned int flags;
	unsigned char *input;
	char where[256];
	size_t len;
	bool base64;

	ck_assert_msg(v->ncols == 5, "%s:%u: expected 5 columns",
		      malformed_file->name, v->line);
	ck_assert_msg(expected != MOA2_SASL_ERR_COUNT,
		      "%s:%u: unknown error name '%s'", malformed_file->name,
		      v->line, v->cols[0]);
	mech = mech_by_name(malformed_file, v, v->cols[1]);
	base64 = form_is_base64(malformed_file, v, v->cols[2]);
	flags = flags_by_name(malformed_file, v, v->cols[3]);
	input = tc_vector_col(malformed_file, v, 4, &len);

	snprintf(where, sizeof(where), "%s:%u (%s %s)", malformed_file->name,
		 v->line, v->cols[1], v->cols[2]);
	assert_parse_fails(where, base64, mech, input, len, flags, expected);
	if (!base64) {
		/* The same bytes as they arrive on the wire. */
		char *b64 = moa2_base64_encode(input, len);

		ck_assert(b64 != NULL);
		snprintf(where, sizeof(where), "%s:%u (%s, base64 of raw)",
			 malformed_file->name, v->line, v->cols[1]);
		assert_parse_fails(where, true, mech, b64, strlen(b64), flags,
				   expected);
		free(b64);
	}
	free(input);
}
END_TEST

START_TEST(test_valid_vector)
{
	const struct tc_vector *v = &valid_file->vectors[_i];
	struct expected_response exp;
	char *user, *authzid, *host, *port, *token;
	enum moa2_sasl_mech mech;
	unsigned char *input;
	unsigned int flags;
	char where[256];
	size_t len;
	bool base64;

	ck_assert_msg(v->ncols == 11, "%s:%u: expected 11 columns",
		      valid_file->name, v->line);
	mech = mech_by_name(valid_file, v, v->cols[0]);
	base64 = form_is_base64(valid_file, v, v->cols[1]);
	flags = flags_by_name(valid_file, v, v->cols[2]);
	input = tc_vector_col(valid_file, v, 3, &len);
	user = tc_vector_col_str_or_null(valid_file, v, 5);
	authzid = tc_vector_col_str_or_null(valid_file, v, 6);
	host = tc_vector_col_str_or_null(valid_file, v, 7);
	port = tc_vector_col_str_or_null(valid_file, v, 8);
	token = tc_vector_col_str_or_null(valid_file, v, 9);
	ck_assert_msg(token != NULL, "%s:%u: no token", valid_file->name,
		      v->line);
	exp = (struct expected_response){
		.mech = mech_by_name(valid_file, v, v->cols[4]),
		.user = user, .authzid = authzid, .host = host, .port = port,
		.token = token, .double_base64 = strcmp(v->cols[10], "1") == 0,
	};

	snprintf(where, sizeof(where), "%s:%u", valid_file->name, v->line);
	assert_parse_ok(where, base64, mech, input, len, flags, &exp);
	if (!base64) {
		char *b64 = moa2_base64_encode(input, len);

		ck_assert(b64 != NULL);
		snprintf(where, sizeof(where), "%s:%u (base64 of raw)",
			 valid_file->name, v->line);
		assert_parse_ok(where, true, mech, b64, strlen(b64), flags,
				&exp);
		free(b64);
	}
	free(input);
	free(user);
	free(authzid);
	free(host);
	free(port);
	free(token);
}
END_TEST

/* ----------------------------------------------- server: size limits */

START_TEST(test_response_too_long)
{
	size_t len = MOA2_SASL_MAX_RESPONSE + 1;
	char *raw = make_filled(len, "user=a\001auth=Bearer ", 'a', "\001\001");
	enum moa2_sasl_mech mechs[] = {
		MOA2_MECH_UNKNOWN, MOA2_MECH_XOAUTH2, MOA2_MECH_OAUTHBEARER
	};

	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		assert_parse_fails("raw response over the cap", false,
				   mechs[i], raw, len, 0,
				   MOA2_SASL_ERR_TOO_LONG);
	}
	free(raw);
}
END_TEST

START_TEST(test_base64_too_long_before_decoding)
{
	size_t len = MOA2_SASL_MAX_RESPONSE_BASE64 + 4;
	/* Not base64 at all: a decoder would say "base64"; the cap must be
	   applied first. */
	char *junk = repeat_char('!', len);
	char *valid = repeat_char('A', len);

	assert_parse_fails("junk over the base64 cap", true,
			   MOA2_MECH_XOAUTH2, junk, len, 0,
			   MOA2_SASL_ERR_TOO_LONG);
	assert_parse_fails("base64 over the base64 cap", true,
			   MOA2_MECH_UNKNOWN, valid, len, 0,
			   MOA2_SASL_ERR_TOO_LONG);
	free(junk);
	free(valid);
}
END_TEST

/* A response of exactly MOA2_SASL_MAX_RESPONSE bytes (a long unknown
   field) is accepted, raw and as exactly MOA2_SASL_MAX_RESPONSE_BASE64
   characters of base64. */
START_TEST(test_response_at_the_cap)
{
	size_t len = MOA2_SASL_MAX_RESPONSE;
	char *raw = make_filled(len, "n,,\001x=", 'v',
				"\001auth=Bearer tok\001\001");
	struct expected_response exp = {
		.mech = MOA2_MECH_OAUTHBEARER, .token = "tok",
	};
	char *b64;

	assert_parse_ok("raw at the cap", false, MOA2_MECH_OAUTHBEARER, raw,
			len, 0, &exp);
	b64 = moa2_base64_encode(raw, len);
	ck_assert(b64 != NULL);
	ck_assert_uint_eq(strlen(b64), MOA2_SASL_MAX_RESPONSE_BASE64);
	assert_parse_ok("base64 at the cap", true, MOA2_MECH_UNKNOWN, b64,
			strlen(b64), 0, &exp);
	free(b64);
	free(raw);
}
END_TEST

START_TEST(test_token_length_limit)
{
	char *token = repeat_char('t', MOA2_SASL_MAX_TOKEN + 1);
	char *xo, *ob;
	size_t xo_len, ob_len;
	struct expected_response exp = { .mech = MOA2_MECH_XOAUTH2,
					 .user = "a", .token = token };

	xo_len = strlen("user=a\001auth=Bearer ") + MOA2_SASL_MAX_TOKEN + 1 + 2;
	xo = make_filled(xo_len, "user=a\001auth=Bearer ", 't', "\001\001");
	ob_len = strlen("n,,\001auth=Bearer ") + MOA2_SASL_MAX_TOKEN + 1 + 2;
	ob = make_filled(ob_len, "n,,\001auth=Bearer ", 't', "\001\001");
	assert_parse_fails("XOAUTH2 token of MAX_TOKEN + 1", false,
			   MOA2_MECH_XOAUTH2, xo, xo_len, 0,
			   MOA2_SASL_ERR_TOKEN_TOO_LONG);
	assert_parse_fails("OAUTHBEARER token of MAX_TOKEN + 1", false,
			   MOA2_MECH_OAUTHBEARER, ob, ob_len, 0,
			   MOA2_SASL_ERR_TOKEN_TOO_LONG);

	/* One byte less: exactly MOA2_SASL_MAX_TOKEN is accepted. */
	token[MOA2_SASL_MAX_TOKEN] = '\0';
	memmove(xo + xo_len - 3, "\001\001", 3);
	memmove(ob + ob_len - 3, "\001\001", 3);
	assert_parse_ok("XOAUTH2 token of MAX_TOKEN", false, MOA2_MECH_XOAUTH2,
			xo, xo_len - 1, 0, &exp);
	exp.mech = MOA2_MECH_OAUTHBEARER;
	exp.user = NULL;
	assert_parse_ok("OAUTHBEARER token of MAX_TOKEN", false,
			MOA2_MECH_OAUTHBEARER, ob, ob_len - 1, 0, &exp);
	free(xo);
	free(ob);
	free(token);
}
END_TEST

START_TEST(test_user_length_limit)
{
	size_t len = strlen("user=") + MOA2_SASL_MAX_USER + 1 +
		strlen("\001auth=Bearer tok\001\001");
	char *raw = make_filled(len, "user=", 'u', "\001auth=Bearer tok\001\001");
	char *user = repeat_char('u', MOA2_SASL_MAX_USER);
	struct expected_response exp = { .mech = MOA2_MECH_XOAUTH2,
					 .user = user, .token = "tok" };

	assert_parse_fails("user of MAX_USER + 1", false, MOA2_MECH_XOAUTH2,
			   raw, len, 0, MOA2_SASL_ERR_USER_TOO_LONG);
	/* Drop one 'u': exactly MOA2_SASL_MAX_USER is accepted. */
	memmove(raw + 5, raw + 6, len - 6);
	assert_parse_ok("user of MAX_USER", false, MOA2_MECH_XOAUTH2, raw,
			len - 1, 0, &exp);
	free(raw);
	free(user);
}
END_TEST

/* MOA2_SASL_MAX_FIELDS key=value pairs are accepted, one more is not. */
START_TEST(test_field_count_limit)
{
	char raw[512];
	size_t len = 0;
	struct expected_response exp = { .mech = MOA2_MECH_OAUTHBEARER,
					 .token = "tok" };

	len += (size_t)snprintf(raw + len, sizeof(raw) - len, "n,,\001");
	/* keys must be ALPHA: "ka", "kb", ... */
	for (unsigned int i = 0; i < MOA2_SASL_MAX_FIELDS - 1; i++) {
		len += (size_t)snprintf(raw + len, sizeof(raw) - len,
					"k%c=v\001", 'a' + i);
	}
	len += (size_t)snprintf(raw + len, sizeof(raw) - len,
				"auth=Bearer tok\001\001");
	ck_assert_uint_lt(len, sizeof(raw) - 16);
	assert_parse_ok("MAX_FIELDS fields", false, MOA2_MECH_OAUTHBEARER, raw,
			len, 0, &exp);

	/* Insert one more field after the GS2 header. */
	memmove(raw + 4 + 5, raw + 4, len - 4 + 1);
	memcpy(raw + 4, "zz=v\001", 5);
	assert_parse_fails("MAX_FIELDS + 1 fields", false,
			   MOA2_MECH_OAUTHBEARER, raw, len + 5, 0,
			   MOA2_SASL_ERR_TOO_MANY_FIELDS);
}
END_TEST

/* ------------------------------------------------------- failure ack */

START_TEST(test_failure_ack)
{
	ck_assert(moa2_sasl_is_failure_ack(MOA2_MECH_XOAUTH2, "", 0));
	ck_assert(moa2_sasl_is_failure_ack(MOA2_MECH_OAUTHBEARER, "\001", 1));
	ck_assert(!moa2_sasl_is_failure_ack(MOA2_MECH_OAUTHBEARER,
					    "\001\001", 2));
	ck_assert(!moa2_sasl_is_failure_ack(MOA2_MECH_OAUTHBEARER, "x", 1));
	ck_assert(!moa2_sasl_is_failure_ack(MOA2_MECH_XOAUTH2, "x", 1));
	ck_assert(!moa2_sasl_is_failure_ack(MOA2_MECH_XOAUTH2, GOOGLE_RAW,
					    strlen(GOOGLE_RAW)));
	ck_assert(!moa2_sasl_is_failure_ack(MOA2_MECH_OAUTHBEARER,
					    "n,,\001auth=Bearer t\001\001",
					    strlen("n,,\001auth=Bearer t\001\001")));
}
END_TEST

/* ----------------------------------------------------- client: build */

START_TEST(test_build_vector)
{
	const struct tc_vector *v = &build_file->vectors[_i];
	struct moa2_sasl_client_params params;
	enum moa2_sasl_error error = MOA2_SASL_OK;
	char *user, *host, *token, *out = NULL;
	enum moa2_sasl_mech mech;
	unsigned long port;
	size_t out_len = 0;
	char where[256];
	int ret;

	ck_assert_msg(v->ncols == 7, "%s:%u: expected 7 columns",
		      build_file->name, v->line);
	mech = mech_by_name(build_file, v, v->cols[1]);
	user = tc_vector_col_str_or_null(build_file, v, 2);
	host = tc_vector_col_str_or_null(build_file, v, 3);
	port = strtoul(v->cols[4], NULL, 10);
	token = tc_vector_col_str_or_null(build_file, v, 5);
	params = (struct moa2_sasl_client_params){
		.user = user, .host = host, .port = (unsigned int)port,
		.token = token,
	};
	snprintf(where, sizeof(where), "%s:%u", build_file->name, v->line);

	ret = moa2_sasl_build(mech, &params, &out, &out_len, &error);
	if (strcmp(v->cols[0], "ok") == 0) {
		size_t exp_len;
		unsigned char *expected = tc_vector_col(build_file, v, 6,
							&exp_len);
		struct expected_response exp = {
			.mech = mech,
			.user = mech == MOA2_MECH_XOAUTH2 ? user : NULL,
			.authzid = mech == MOA2_MECH_OAUTHBEARER ? user : NULL,
			.host = host, .port = port != 0 ? v->cols[4] : NULL,
			.token = token,
		};

		ck_assert_msg(ret == 0, "%s: refused with %s", where,
			      error_str(error));
		ck_assert_msg(out_len == exp_len &&
			      memcmp(out, expected, exp_len) == 0,
			      "%s: built %zu bytes that differ from the "
			      "expected %zu", where, out_len, exp_len);
		ck_assert_msg(out[out_len] == '\0', "%s: not NUL-terminated",
			      where);
		/* and the server side reads back what the client meant */
		assert_parse_ok(where, false, mech, out, out_len, 0, &exp);
		moa2_secret_free(out, out_len + 1);
		free(expected);
	} else {
		enum moa2_sasl_error expected = error_by_name(v->cols[0]);

		ck_assert_msg(expected != MOA2_SASL_ERR_COUNT,
			      "%s: unknown error name '%s'", where, v->cols[0]);
		if (ret == 0)
			moa2_secret_free(out, out_len + 1);
		ck_assert_msg(ret == -1, "%s: built although %s was expected",
			      where, v->cols[0]);
		ck_assert_msg(error == expected, "%s: expected %s, got %s",
			      where, v->cols[0], error_str(error));
	}
	free(user);
	free(host);
	free(token);
}
END_TEST

static char *
build_b64(enum moa2_sasl_mech mech, const struct moa2_sasl_client_params *p)
{
	enum moa2_sasl_error error = MOA2_SASL_OK;
	size_t len = 0;
	char *out = NULL, *b64;

	char *wire = NULL;

	ck_assert_msg(moa2_sasl_build(mech, p, &out, &len, &error) == 0,
		      "build refused with %s", error_str(error));
	b64 = moa2_base64_encode(out, len);
	moa2_secret_free(out, len + 1);
	ck_assert(b64 != NULL);
	/* the wire form the codec builds itself is the same */
	ck_assert_int_eq(moa2_sasl_build_base64(mech, p, &wire, &error), 0);
	ck_assert_str_eq(wire, b64);
	moa2_secret_str_free(&wire);
	return b64;
}

/* What goes on the wire equals the published base64, character for
   character. */
START_TEST(test_build_wire_examples)
{
	struct moa2_sasl_client_params google = {
		.user = GOOGLE_USER, .token = GOOGLE_TOKEN,
	};
	struct moa2_sasl_client_params rfc = {
		.user = "user@example.com", .host = "server.example.com",
		.port = 143, .token = RFC7628_TOKEN,
	};
	char *b64;

	b64 = build_b64(MOA2_MECH_XOAUTH2, &google);
	ck_assert_str_eq(b64, GOOGLE_B64);
	free(b64);
	b64 = build_b64(MOA2_MECH_OAUTHBEARER, &rfc);
	ck_assert_str_eq(b64, RFC7628_41_IMAP_B64);
	free(b64);
	rfc.port = 587;
	b64 = build_b64(MOA2_MECH_OAUTHBEARER, &rfc);
	ck_assert_str_eq(b64, RFC7628_41_SMTP_B64);
	free(b64);
}
END_TEST

START_TEST(test_build_limits)
{
	char *long_user = repeat_char('u', MOA2_SASL_MAX_USER + 1);
	char *long_token = repeat_char('t', MOA2_SASL_MAX_TOKEN + 1);
	struct moa2_sasl_client_params p = { .user = long_user, .token = "t" };
	enum moa2_sasl_error error = MOA2_SASL_OK;
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(moa2_sasl_build(MOA2_MECH_XOAUTH2, &p, &out, &len,
					 &error), -1);
	ck_assert_str_eq(error_str(error), "user_too_long");
	p = (struct moa2_sasl_client_params){ .user = "a", .token = long_token };
	ck_assert_int_eq(moa2_sasl_build(MOA2_MECH_XOAUTH2, &p, &out, &len,
					 &error), -1);
	ck_assert_str_eq(error_str(error), "token_too_long");
	ck_assert_int_eq(moa2_sasl_build(MOA2_MECH_OAUTHBEARER, &p, &out, &len,
					 &error), -1);
	ck_assert_str_eq(error_str(error), "token_too_long");

	/* the limits themselves are allowed */
	long_user[MOA2_SASL_MAX_USER] = '\0';
	long_token[MOA2_SASL_MAX_TOKEN] = '\0';
	p = (struct moa2_sasl_client_params){ .user = long_user,
					      .token = long_token };
	ck_assert_msg(moa2_sasl_build(MOA2_MECH_XOAUTH2, &p, &out, &len,
				      &error) == 0,
		      "MAX_USER/MAX_TOKEN refused with %s", error_str(error));
	moa2_secret_free(out, len + 1);
	free(long_user);
	free(long_token);
}
END_TEST

START_TEST(test_build_unknown_mech)
{
	struct moa2_sasl_client_params p = { .user = "a", .token = "t" };
	enum moa2_sasl_error error = MOA2_SASL_OK;
	char *out = NULL;
	size_t len = 0;

	/* The client must name its mechanism: there is nothing to detect. */
	if (moa2_sasl_build(MOA2_MECH_UNKNOWN, &p, &out, &len, &error) == 0) {
		moa2_secret_free(out, len + 1);
		ck_abort_msg("built a response for MOA2_MECH_UNKNOWN");
	}
	ck_assert_int_ne(error, MOA2_SASL_OK);
}
END_TEST

/* ------------------------------------------- round-trip property test */

static const char b64token_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

static size_t
put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Printable ASCII (',' and '=' often) and UTF-8 of 2, 3 and 4 bytes
   (no C1 controls, no surrogates); at most 60 characters. */
static char *
random_user(void)
{
	unsigned int nchars = 1 + (unsigned int)tc_rand_below(60);
	char *user = malloc(nchars * 4 + 1);
	size_t len = 0;

	ck_assert(user != NULL);
	for (unsigned int i = 0; i < nchars; i++) {
		uint32_t cp;

		switch (tc_rand_below(8)) {
		case 0: cp = tc_rand_below(2) == 0 ? ',' : '='; break;
		case 1: cp = 0xa0 + (uint32_t)tc_rand_below(0x800 - 0xa0); break;
		case 2:
			do {
				cp = 0x800 + (uint32_t)tc_rand_below(0x10000 - 0x800);
			} while (cp >= 0xd800 && cp <= 0xdfff);
			break;
		case 3: cp = 0x10000 + (uint32_t)tc_rand_below(0x100000); break;
		default: cp = 0x20 + (uint32_t)tc_rand_below(0x7f - 0x20); break;
		}
		len += put_utf8(user + len, cp);
	}
	user[len] = '\0';
	return user;
}

static char *
random_token(void)
{
	size_t len = 1 + tc_rand_below(4096);
	char *token = malloc(len + 1);

	ck_assert(token != NULL);
	for (size_t i = 0; i < len; i++)
		token[i] = b64token_chars[tc_rand_below(sizeof(b64token_chars) - 1)];
	/* b64token allows trailing '=' padding after at least one character */
	for (size_t i = len - 1; i > 0 && i + 2 >= len; i--) {
		if (tc_rand_below(3) == 0)
			token[i] = '=';
		else
			break;
	}
	token[len] = '\0';
	return token;
}

static char *
random_host(void)
{
	static const char label_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned int labels = 1 + (unsigned int)tc_rand_below(4);
	char *host = malloc(labels * 17 + 1);
	size_t len = 0;

	ck_assert(host != NULL);
	for (unsigned int l = 0; l < labels; l++) {
		unsigned int n = 1 + (unsigned int)tc_rand_below(16);

		if (l > 0)
			host[len++] = '.';
		for (unsigned int i = 0; i < n; i++)
			host[len++] = label_chars[tc_rand_below(sizeof(label_chars) - 1)];
	}
	host[len] = '\0';
	return host;
}

START_TEST(test_round_trip_property)
{
	uint64_t seed = tc_seed_init();

	for (unsigned int iter = 0; iter < ROUND_TRIP_ITERATIONS; iter++) {
		enum moa2_sasl_mech mech = tc_rand_below(2) == 0 ?
			MOA2_MECH_XOAUTH2 : MOA2_MECH_OAUTHBEARER;
		bool oauthbearer = mech == MOA2_MECH_OAUTHBEARER;
		char *user = !oauthbearer || tc_rand_below(4) != 0 ?
			random_user() : NULL;
		char *host = oauthbearer && tc_rand_below(2) == 0 ?
			random_host() : NULL;
		unsigned int port = oauthbearer && tc_rand_below(2) == 0 ?
			1 + (unsigned int)tc_rand_below(65535) : 0;
		char *token = random_token(), port_str[16];
		struct moa2_sasl_client_params params = {
			.user = user, .host = host, .port = port, .token = token,
		};
		enum moa2_sasl_error error = MOA2_SASL_OK;
		struct expected_response exp;
		char where[160], *out = NULL, *b64;
		size_t out_len = 0;

		snprintf(port_str, sizeof(port_str), "%u", port);
		exp = (struct expected_response){
			.mech = mech,
			.user = oauthbearer ? NULL : user,
			.authzid = oauthbearer ? user : NULL,
			.host = host, .port = port != 0 ? port_str : NULL,
			.token = token,
		};
		snprintf(where, sizeof(where),
			 "round trip %u (%s), seed %llu: rerun with "
			 "MOA2_TEST_SEED=%llu", iter, moa2_sasl_mech_name(mech),
			 (unsigned long long)seed, (unsigned long long)seed);
		ck_assert_msg(moa2_sasl_build(mech, &params, &out, &out_len,
					      &error) == 0,
			      "%s: build refused with %s", where,
			      error_str(error));
		assert_parse_ok(where, false, mech, out, out_len, 0, &exp);
		assert_parse_ok(where, false, MOA2_MECH_UNKNOWN, out, out_len,
				0, &exp);
		b64 = moa2_base64_encode(out, out_len);
		ck_assert(b64 != NULL);
		assert_parse_ok(where, true, mech, b64, strlen(b64), 0, &exp);
		free(b64);
		moa2_secret_free(out, out_len + 1);
		free(user);
		free(host);
		free(token);
	}
}
END_TEST

/* ------------------------------------------------ failure challenge */

static void
assert_challenge(const char *where, const struct moa2_sasl_challenge *got,
		 const struct moa2_sasl_challenge *exp)
{
	ck_assert_msg(str_equal_or_both_null(got->status, exp->status),
		      "%s: status '%s', expected '%s'", where,
		      got->status ? got->status : "(null)",
		      exp->status ? exp->status : "(null)");
	ck_assert_msg(str_equal_or_both_null(got->schemes, exp->schemes),
		      "%s: schemes '%s', expected '%s'", where,
		      got->schemes ? got->schemes : "(null)",
		      exp->schemes ? exp->schemes : "(null)");
	ck_assert_msg(str_equal_or_both_null(got->scope, exp->scope),
		      "%s: scope '%s', expected '%s'", where,
		      got->scope ? got->scope : "(null)",
		      exp->scope ? exp->scope : "(null)");
	ck_assert_msg(str_equal_or_both_null(got->openid_configuration,
					     exp->openid_configuration),
		      "%s: openid-configuration '%s', expected '%s'", where,
		      got->openid_configuration ?
		      got->openid_configuration : "(null)",
		      exp->openid_configuration ?
		      exp->openid_configuration : "(null)");
}

START_TEST(test_challenge_vector)
{
	const struct tc_vector *v = &challenge_file->vectors[_i];
	struct moa2_sasl_challenge exp, got;
	enum moa2_sasl_error error = MOA2_SASL_OK;
	unsigned char *input, *json;
	size_t len, json_len;
	char where[128];
	int ret;

	ck_assert_msg(v->ncols == 7, "%s:%u: expected 7 columns",
		      challenge_file->name, v->line);
	snprintf(where, sizeof(where), "%s:%u", challenge_file->name, v->line);
	input = tc_vector_col(challenge_file, v, 2, &len);
	if (form_is_base64(challenge_file, v, v->cols[1])) {
		json = malloc(moa2_base64_decoded_max(len) + 1);
		ck_assert(json != NULL);
		ck_assert_msg(moa2_base64_decode((const char *)input, len, json,
						 moa2_base64_decoded_max(len),
						 &json_len) == 0,
			      "%s: not base64", where);
		free(input);
	} else {
		json = input;
		json_len = len;
	}

	memset(&got, 0, sizeof(got));
	ret = moa2_sasl_challenge_parse(json, json_len, &got, &error);
	if (strcmp(v->cols[0], "ok") == 0) {
		exp = (struct moa2_sasl_challenge){
			.status = tc_vector_col_str_or_null(challenge_file, v, 3),
			.schemes = tc_vector_col_str_or_null(challenge_file, v, 4),
			.scope = tc_vector_col_str_or_null(challenge_file, v, 5),
			.openid_configuration =
				tc_vector_col_str_or_null(challenge_file, v, 6),
		};
		ck_assert_msg(ret == 0, "%s: refused with %s", where,
			      error_str(error));
		assert_challenge(where, &got, &exp);
		moa2_sasl_challenge_clear(&got);
		free(exp.status);
		free(exp.schemes);
		free(exp.scope);
		free(exp.openid_configuration);
	} else {
		enum moa2_sasl_error expected = error_by_name(v->cols[0]);

		ck_assert_msg(expected != MOA2_SASL_ERR_COUNT,
			      "%s: unknown error name '%s'", where, v->cols[0]);
		if (ret == 0)
			moa2_sasl_challenge_clear(&got);
		ck_assert_msg(ret == -1, "%s: accepted although %s was expected",
			      where, v->cols[0]);
		ck_assert_msg(error == expected, "%s: expected %s, got %s",
			      where, v->cols[0], error_str(error));
	}
	free(json);
}
END_TEST

/* The server's side of RFC 7628 sections 4.3 and 4.4, byte for byte. */
START_TEST(test_challenge_build_rfc)
{
	struct moa2_sasl_challenge c43 = {
		.status = "invalid_token", .scope = "example_scope",
		.openid_configuration =
			"https://example.com/.well-known/openid-configuration",
	};
	struct moa2_sasl_challenge c44 = {
		.status = "invalid_token", .schemes = "bearer mac",
		.scope = "https://mail.example.com/",
	};
	char *json, *b64;

	json = moa2_sasl_challenge_build(&c43);
	ck_assert(json != NULL);
	ck_assert_str_eq(json, RFC7628_43_JSON);
	b64 = moa2_base64_encode(json, strlen(json));
	ck_assert_str_eq(b64, RFC7628_43_JSON_B64);
	free(b64);
	free(json);

	json = moa2_sasl_challenge_build(&c44);
	ck_assert(json != NULL);
	b64 = moa2_base64_encode(json, strlen(json));
	ck_assert_str_eq(b64, RFC7628_44_JSON_B64);
	free(b64);
	free(json);
}
END_TEST

static void
assert_challenge_round_trip(const char *where,
			    const struct moa2_sasl_challenge *c)
{
	struct moa2_sasl_challenge got;
	enum moa2_sasl_error error = MOA2_SASL_OK;
	char *json = moa2_sasl_challenge_build(c);

	ck_assert(json != NULL);
	for (const unsigned char *p = (const unsigned char *)json; *p; p++) {
		ck_assert_msg(*p >= 0x20, "%s: raw control byte 0x%02x in %s",
			      where, *p, json);
	}
	memset(&got, 0, sizeof(got));
	ck_assert_msg(moa2_sasl_challenge_parse(json, strlen(json), &got,
						&error) == 0,
		      "%s: own JSON refused with %s: %s", where,
		      error_str(error), json);
	assert_challenge(where, &got, c);
	moa2_sasl_challenge_clear(&got);
	free(json);
}

START_TEST(test_challenge_escaping)
{
	struct moa2_sasl_challenge all = {
		.status = "inv\"alid\\_token",
		.schemes = "bearer\t\"mac\"",
		.scope = "a/b \\ \"c\" \001\002\037\n\r\b\f \177 "
			"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		.openid_configuration =
			"https://example.com/.well-known/openid-configuration",
	};
	struct moa2_sasl_challenge status_only = { .status = "401" };
	struct moa2_sasl_challenge google = {
		.status = "401", .schemes = "bearer",
		.scope = "https://mail.google.com/",
	};
	char *json;

	assert_challenge_round_trip("every escape", &all);
	assert_challenge_round_trip("status only", &status_only);
	assert_challenge_round_trip("Google", &google);

	json = moa2_sasl_challenge_build(&status_only);
	ck_assert(json != NULL);
	ck_assert_str_eq(json, "{\"status\":\"401\"}");
	free(json);
}
END_TEST

/* A challenge as a server sends it: base64 of the JSON. The decoded text
   comes back also when it is not a challenge; bad base64 gives none. */
START_TEST(test_challenge_parse_base64)
{
	static const char json[] = "{\"status\":\"invalid_token\",\"scope\":\"mail\"}";
	struct moa2_sasl_challenge ch;
	enum moa2_sasl_error error;
	char *b64 = moa2_base64_encode(json, strlen(json)), *text = NULL, *big;

	ck_assert_int_eq(moa2_sasl_challenge_parse_base64(b64, strlen(b64), &ch, &text,
							  &error), 0);
	ck_assert_str_eq(ch.status, "invalid_token");
	ck_assert_str_eq(ch.scope, "mail");
	ck_assert_str_eq(text, json);
	free(text);
	free(b64);
	moa2_sasl_challenge_clear(&ch);

	b64 = moa2_base64_encode("not json", 8);
	ck_assert_int_eq(moa2_sasl_challenge_parse_base64(b64, strlen(b64), &ch, &text,
							  &error), -1);
	ck_assert_int_eq(error, MOA2_SASL_ERR_CHALLENGE_JSON);
	ck_assert_str_eq(text, "not json");
	ck_assert_ptr_null(ch.status);
	free(text);
	free(b64);

	ck_assert_int_eq(moa2_sasl_challenge_parse_base64("eyJzd", 5, &ch, &text, &error), -1);
	ck_assert_int_eq(error, MOA2_SASL_ERR_BASE64);
	ck_assert_ptr_null(text);
	ck_assert_int_eq(moa2_sasl_challenge_parse_base64("", 0, &ch, NULL, &error), -1);
	ck_assert_int_eq(error, MOA2_SASL_ERR_EMPTY);
	big = malloc(MOA2_SASL_MAX_RESPONSE_BASE64 + 5);
	ck_assert_ptr_nonnull(big);
	memset(big, 'A', MOA2_SASL_MAX_RESPONSE_BASE64 + 4);
	ck_assert_int_eq(moa2_sasl_challenge_parse_base64(big, MOA2_SASL_MAX_RESPONSE_BASE64 + 4,
							  &ch, &text, &error), -1);
	ck_assert_int_eq(error, MOA2_SASL_ERR_TOO_LONG);
	ck_assert_ptr_null(text);
	free(big);
}
END_TEST

/* ------------------------------------------------------------- suite */

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("sasl-codec");
	TCase *tc;

	malformed_file = tc_vectors_load("sasl/malformed.txt", 5);
	valid_file = tc_vectors_load("sasl/valid.txt", 11);
	build_file = tc_vectors_load("sasl/build.txt", 6);
	challenge_file = tc_vectors_load("sasl/challenge.txt", 7);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_error_names);
	tcase_add_test(tc, test_mech_names);
	tcase_add_test(tc, test_vectors_cover_every_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_malformed_vector, 0,
			    (int)malformed_file->count);
	tcase_add_loop_test(tc, test_valid_vector, 0, (int)valid_file->count);
	tcase_add_test(tc, test_response_too_long);
	tcase_add_test(tc, test_base64_too_long_before_decoding);
	tcase_add_test(tc, test_response_at_the_cap);
	tcase_add_test(tc, test_token_length_limit);
	tcase_add_test(tc, test_user_length_limit);
	tcase_add_test(tc, test_field_count_limit);
	tcase_add_test(tc, test_failure_ack);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_loop_test(tc, test_build_vector, 0, (int)build_file->count);
	tcase_add_test(tc, test_build_wire_examples);
	tcase_add_test(tc, test_build_limits);
	tcase_add_test(tc, test_build_unknown_mech);
	suite_add_tcase(s, tc);

	tc = tcase_create("round-trip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip_property);
	suite_add_tcase(s, tc);

	tc = tcase_create("challenge");
	tcase_add_loop_test(tc, test_challenge_vector, 0,
			    (int)challenge_file->count);
	tcase_add_test(tc, test_challenge_build_rfc);
	tcase_add_test(tc, test_challenge_escaping);
	tcase_add_test(tc, test_challenge_parse_base64);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tc_run_suite(codec_suite());
}
