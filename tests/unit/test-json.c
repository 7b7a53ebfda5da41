/* SPDX-License-Identifier: MIT */
/* Unit tests of json.h: bounded strict parsing (a table of RFC 8259
   strictness cases), typed getters (1 found, 0 absent, -1 other type),
   numbers, embedded NULs, duplicate names, depth, the document walk and
   build_object escaping. */

#include "test-common.h"

#include "support/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sample[] =
	"{\"s\":\"x\",\"i\":42,\"neg\":-5,"
	"\"big\":9223372036854775807,\"small\":-9223372036854775808,"
	"\"b\":true,\"f\":false,\"n\":null,\"d\":1.5,"
	"\"a\":[1,\"two\",{\"k\":\"v\"}],\"o\":{\"k\":\"v\"},"
	"\"empty\":\"\",\"esc\":\"a\\\"b\\\\c\\/d\\u00e9\\n\"}";

static struct moa2_json *
parse_ok(const char *text)
{
	struct moa2_json *json = NULL;
	const char *error = NULL;

	ck_assert_msg(moa2_json_parse(text, strlen(text), &json, &error) == 0,
		      "refused '%s': %s", text, error ? error : "(no reason)");
	ck_assert(json != NULL);
	return json;
}

static void
assert_refused(const char *text, size_t len)
{
	struct moa2_json *json = NULL;
	const char *error = NULL;
	int ret = moa2_json_parse(text, len, &json, &error);

	if (ret == 0)
		moa2_json_free(&json);
	ck_assert_msg(ret == -1, "accepted '%.60s'", text);
	ck_assert_msg(error != NULL && error[0] != '\0',
		      "no reason given for refusing '%.60s'", text);
}

static char *
nested_arrays(unsigned int depth)
{
	char *text = malloc(2 * depth + 1);

	ck_assert(text != NULL);
	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = '\0';
	return text;
}

static char *
nested_objects(unsigned int depth)
{
	/* {"a":{"a":...{}...}} has depth objects */
	size_t len = depth * 5 - 4 + depth + 1;
	char *text = malloc(len + 1), *p = text;

	ck_assert(text != NULL);
	for (unsigned int i = 0; i < depth; i++) {
		if (i + 1 < depth) {
			memcpy(p, "{\"a\":", 5);
			p += 5;
		} else {
			*p++ = '{';
		}
	}
	memset(p, '}', depth);
	p[depth] = '\0';
	return text;
}

START_TEST(test_parse_valid)
{
	static const char *const texts[] = {
		"{}", "[]", "\"s\"", "1", "-0.5e3", "true",
		" {\"a\":1} ", "{\"a\":1}\n", "\t[1, 2]\r\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct moa2_json *json = parse_ok(texts[i]);

		moa2_json_free(&json);
		ck_assert_msg(json == NULL, "moa2_json_free left the pointer");
	}
}
END_TEST

START_TEST(test_parse_refused)
{
	static const char *const texts[] = {
		"", " ", "{", "}", "{\"a\":}", "{\"a\" 1}", "[1,]x",
		"{} x", "{}{}", "[1] [2]", "{\"a\":1},", "nul", "tru",
		"'single'", "{a:1}", "\"unterminated",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_refused(texts[i], strlen(texts[i]));
	/* a NUL inside the given length is not the end of the text */
	assert_refused("{}\0{}", 5);
	assert_refused("{\"a\":\0}", 7);
}
END_TEST

/* The parser reads len bytes, not up to a NUL. */
START_TEST(test_parse_uses_length)
{
	static const char text[] = "{\"a\":1}GARBAGE";
	struct moa2_json *json = NULL;
	const char *error = NULL;
	int64_t a;

	ck_assert_int_eq(moa2_json_parse(text, 7, &json, &error), 0);
	ck_assert_int_eq(moa2_json_get_int64(json, "a", &a), 1);
	ck_assert_int_eq(a, 1);
	moa2_json_free(&json);
	assert_refused(text, 8);
}
END_TEST

START_TEST(test_parse_depth)
{
	char *text;
	struct moa2_json *json;

	/* MOA2_JSON_MAX_DEPTH levels are allowed, one more is not */
	text = nested_arrays(MOA2_JSON_MAX_DEPTH);
	json = parse_ok(text);
	moa2_json_free(&json);
	free(text);
	text = nested_arrays(MOA2_JSON_MAX_DEPTH + 1);
	assert_refused(text, strlen(text));
	free(text);

	text = nested_objects(MOA2_JSON_MAX_DEPTH);
	json = parse_ok(text);
	moa2_json_free(&json);
	free(text);
	text = nested_objects(MOA2_JSON_MAX_DEPTH + 1);
	assert_refused(text, strlen(text));
	free(text);

	/* far too deep: refused, not a stack overflow */
	text = nested_arrays(100000);
	assert_refused(text, strlen(text));
	free(text);
}
END_TEST

START_TEST(test_typed_getters)
{
	struct moa2_json *json = parse_ok(sample);
	const struct moa2_json *value;
	const char *str = NULL;
	int64_t num = 0;
	bool flag = false;

	ck_assert(moa2_json_is_object(json));
	ck_assert(!moa2_json_is_array(json));
	ck_assert(!moa2_json_is_string(json));

	ck_assert_int_eq(moa2_json_get_string(json, "s", &str), 1);
	ck_assert_str_eq(str, "x");
	ck_assert_int_eq(moa2_json_get_string(json, "empty", &str), 1);
	ck_assert_str_eq(str, "");
	ck_assert_int_eq(moa2_json_get_string(json, "esc", &str), 1);
	ck_assert_str_eq(str, "a\"b\\c/d\xc3\xa9\n");
	ck_assert_int_eq(moa2_json_get_string(json, "i", &str), -1);
	ck_assert_int_eq(moa2_json_get_string(json, "o", &str), -1);
	ck_assert_int_eq(moa2_json_get_string(json, "n", &str), -1);
	ck_assert_int_eq(moa2_json_get_string(json, "missing", &str), 0);
	ck_assert_int_eq(moa2_json_get_string(json, "S", &str), 0);

	ck_assert_int_eq(moa2_json_get_int64(json, "i", &num), 1);
	ck_assert_int_eq(num, 42);
	ck_assert_int_eq(moa2_json_get_int64(json, "neg", &num), 1);
	ck_assert_int_eq(num, -5);
	ck_assert_int_eq(moa2_json_get_int64(json, "big", &num), 1);
	ck_assert(num == INT64_MAX);
	ck_assert_int_eq(moa2_json_get_int64(json, "small", &num), 1);
	ck_assert(num == INT64_MIN);
	ck_assert_int_eq(moa2_json_get_int64(json, "s", &num), -1);
	ck_assert_int_eq(moa2_json_get_int64(json, "b", &num), -1);
	ck_assert_int_eq(moa2_json_get_int64(json, "d", &num), -1);
	ck_assert_int_eq(moa2_json_get_int64(json, "a", &num), -1);
	ck_assert_int_eq(moa2_json_get_int64(json, "missing", &num), 0);

	ck_assert_int_eq(moa2_json_get_bool(json, "b", &flag), 1);
	ck_assert(flag);
	ck_assert_int_eq(moa2_json_get_bool(json, "f", &flag), 1);
	ck_assert(!flag);
	ck_assert_int_eq(moa2_json_get_bool(json, "i", &flag), -1);
	ck_assert_int_eq(moa2_json_get_bool(json, "s", &flag), -1);
	ck_assert_int_eq(moa2_json_get_bool(json, "missing", &flag), 0);

	ck_assert_int_eq(moa2_json_get(json, "o", &value), 1);
	ck_assert(moa2_json_is_object(value));
	ck_assert_int_eq(moa2_json_get_string(value, "k", &str), 1);
	ck_assert_str_eq(str, "v");
	ck_assert_int_eq(moa2_json_get(json, "n", &value), 1);
	ck_assert_int_eq(moa2_json_get(json, "missing", &value), 0);
	moa2_json_free(&json);
}
END_TEST

START_TEST(test_arrays_and_strings)
{
	struct moa2_json *json = parse_ok(sample);
	const struct moa2_json *arr, *elem;
	const char *str;

	ck_assert_int_eq(moa2_json_get(json, "a", &arr), 1);
	ck_assert(moa2_json_is_array(arr));
	ck_assert(!moa2_json_is_object(arr));
	ck_assert_uint_eq(moa2_json_array_len(arr), 3);
	elem = moa2_json_array_get(arr, 1);
	ck_assert(elem != NULL && moa2_json_is_string(elem));
	ck_assert_str_eq(moa2_json_string(elem), "two");
	elem = moa2_json_array_get(arr, 0);
	ck_assert(elem != NULL && !moa2_json_is_string(elem));
	ck_assert(moa2_json_string(elem) == NULL);
	elem = moa2_json_array_get(arr, 2);
	ck_assert(elem != NULL && moa2_json_is_object(elem));
	ck_assert(moa2_json_array_get(arr, 3) == NULL);
	/* object lookups on an array: absent */
	ck_assert_int_eq(moa2_json_get(arr, "k", &elem), 0);
	ck_assert_uint_eq(moa2_json_array_len(json), 0);
	ck_assert(moa2_json_string(json) == NULL);
	ck_assert_int_eq(moa2_json_get_string(json, "s", &str), 1);
	moa2_json_free(&json);

	json = parse_ok("\"top\"");
	ck_assert(moa2_json_is_string(json));
	ck_assert_str_eq(moa2_json_string(json), "top");
	moa2_json_free(&json);
	moa2_json_free(&json); /* NULL is fine */
}
END_TEST

START_TEST(test_build_object)
{
	static const char *const pairs[] = {
		"a", "1", "skipped", NULL, "b", "2", NULL
	};
	static const char *const none[] = { NULL };
	static const char *const tricky[] = {
		"text", "q\"b\\s/ \001\037\n\t \177 \xc3\xa9\xf0\x9f\x98\x80",
		"url", "https://example.com/.well-known/openid-configuration",
		"we\"ird\\key", "v",
		NULL
	};
	struct moa2_json *json;
	const char *str;
	char *out;

	out = moa2_json_build_object(pairs);
	ck_assert(out != NULL);
	ck_assert_str_eq(out, "{\"a\":\"1\",\"b\":\"2\"}");
	free(out);

	out = moa2_json_build_object(none);
	ck_assert(out != NULL);
	ck_assert_str_eq(out, "{}");
	free(out);

	out = moa2_json_build_object(tricky);
	ck_assert(out != NULL);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		ck_assert_msg(*p >= 0x20, "raw control byte in %s", out);
	ck_assert_msg(strstr(out, "\\/") == NULL, "'/' escaped: %s", out);
	ck_assert_msg(strstr(out, "\"url\":\"https://example.com/") != NULL,
		      "not compact: %s", out);
	json = parse_ok(out);
	ck_assert_int_eq(moa2_json_get_string(json, "text", &str), 1);
	ck_assert_str_eq(str, tricky[1]);
	ck_assert_int_eq(moa2_json_get_string(json, "url", &str), 1);
	ck_assert_str_eq(str, tricky[3]);
	ck_assert_int_eq(moa2_json_get_string(json, "we\"ird\\key", &str), 1);
	ck_assert_str_eq(str, "v");
	moa2_json_free(&json);
	free(out);
}
END_TEST

/* ------------------------------------------------------- strictness table */

struct strict_case {
	const char *text;
	size_t len;
	bool valid;
};

/* sizeof, not strlen: some cases hold a NUL */
#define ACCEPT(text) { text, sizeof(text) - 1, true }
#define REFUSE(text) { text, sizeof(text) - 1, false }

static const struct strict_case strict_cases[] = {
	/* every RFC 8259 escape, and the others refused */
	ACCEPT("\"\\\"\""), ACCEPT("\"\\\\\""), ACCEPT("\"\\/\""),
	ACCEPT("\"\\b\""), ACCEPT("\"\\f\""), ACCEPT("\"\\n\""),
	ACCEPT("\"\\r\""), ACCEPT("\"\\t\""), ACCEPT("\"\\u0041\""),
	ACCEPT("\"\\u00e9\\u20AC\\uFFFF\\ue000\""), ACCEPT("\"\\u0000\""),
	REFUSE("\"\\a\""), REFUSE("\"\\x41\""), REFUSE("\"\\'\""),
	REFUSE("\"\\U0041\""), REFUSE("\"\\0\""), REFUSE("\"\\u12\""),
	REFUSE("\"\\u12g4\""), REFUSE("\"\\u-123\""), REFUSE("\"\\\""),
	REFUSE("\"\\"),
	/* surrogates: pairs combined, lone halves refused */
	ACCEPT("\"\\ud83d\\ude00\""), ACCEPT("\"\\uDBFF\\uDFFF\""),
	REFUSE("\"\\ud800\""), REFUSE("\"\\udc00\""), REFUSE("\"\\udfff\\ud800\""),
	REFUSE("\"\\ud800\\u0041\""), REFUSE("\"\\ud800\\ud800\""),
	REFUSE("\"\\ud800x\""), REFUSE("\"\\ud800\\n\""), REFUSE("\"a\\ud83d"),
	/* UTF-8: the edges of each sequence length */
	ACCEPT("\"\xc2\x80\""), ACCEPT("\"\xdf\xbf\""), ACCEPT("\"\xe0\xa0\x80\""),
	ACCEPT("\"\xed\x9f\xbf\""), ACCEPT("\"\xee\x80\x80\""),
	ACCEPT("\"\xef\xbf\xbf\""), ACCEPT("\"\xf0\x90\x80\x80\""),
	ACCEPT("\"\xf4\x8f\xbf\xbf\""), ACCEPT("\"\x7f\""),
	REFUSE("\"\xc0\x80\""), REFUSE("\"\xc1\xbf\""), REFUSE("\"\xe0\x80\x80\""),
	REFUSE("\"\xe0\x9f\xbf\""), REFUSE("\"\xed\xa0\x80\""),
	REFUSE("\"\xed\xbf\xbf\""), REFUSE("\"\xf0\x80\x80\x80\""),
	REFUSE("\"\xf0\x8f\xbf\xbf\""), REFUSE("\"\xf4\x90\x80\x80\""),
	REFUSE("\"\xf5\x80\x80\x80\""), REFUSE("\"\xff\""), REFUSE("\"\x80\""),
	REFUSE("\"\xc3\""), REFUSE("\"\xe2\x82\""), REFUSE("\"\xc3\xa9\xa9\""),
	REFUSE("\xc3\xa9"), REFUSE("\xef\xbb\xbf{}"),
	/* control characters are escaped or refused */
	REFUSE("\"\x01\""), REFUSE("\"\x1f\""), REFUSE("\"a\nb\""),
	REFUSE("\"\t\""), REFUSE("\"a\0b\""), REFUSE("{\"a\x02\":1}"),
	/* numbers */
	ACCEPT("0"), ACCEPT("-0"), ACCEPT("0.0"), ACCEPT("-0.0"), ACCEPT("1e5"),
	ACCEPT("1E+5"), ACCEPT("1e-5"), ACCEPT("0e0"), ACCEPT("1.5e300"),
	ACCEPT("1e400"), ACCEPT("-1e400"), ACCEPT("1e-400"),
	ACCEPT("123456789012345678901234567890"), ACCEPT("[-9223372036854775809]"),
	REFUSE("01"), REFUSE("-01"), REFUSE("00"), REFUSE("0123.5"), REFUSE("+1"),
	REFUSE(".5"), REFUSE("-.5"), REFUSE("1."), REFUSE("1.e5"), REFUSE("-"),
	REFUSE("-a"), REFUSE("1e"), REFUSE("1e+"), REFUSE("1E-x"), REFUSE("0x10"),
	REFUSE("1.5.2"), REFUSE("--1"), REFUSE("1_000"), REFUSE("[1.]"),
	REFUSE("[01]"), REFUSE("NaN"), REFUSE("Infinity"), REFUSE("-Infinity"),
	REFUSE("[NaN]"), REFUSE("[-Infinity]"),
	/* literals */
	ACCEPT("[true,false,null]"), REFUSE("TRUE"), REFUSE("True"), REFUSE("nul"),
	REFUSE("nulll"), REFUSE("[truex]"), REFUSE("undefined"),
	/* structure */
	ACCEPT(" \t\r\n[ 1 , 2 ]\n"), ACCEPT("{\"\":0}"), ACCEPT("[[],{},\"\"]"),
	ACCEPT("{\"a\":1,\"a\":2}"), REFUSE("[1,]"), REFUSE("{\"a\":1,}"),
	REFUSE("[,1]"), REFUSE("{,}"), REFUSE("[1,,2]"), REFUSE("{\"a\"}"),
	REFUSE("{\"a\":}"), REFUSE("{1:1}"), REFUSE("{\"a\"::1}"),
	REFUSE("{\"a\",1}"), REFUSE("['a']"), REFUSE("[1 2]"), REFUSE("[1]]"),
	REFUSE("{}}"), REFUSE("/*x*/1"), REFUSE("1 // x"), REFUSE("# x\n1"),
	REFUSE("1 2"), REFUSE("[\"a\":1]"), REFUSE("{\"a\":1 \"b\":2}"),
	REFUSE("\v1"), REFUSE("\f1"), REFUSE("1\0"),
};

START_TEST(test_strictness_table)
{
	ck_assert_uint_ge(sizeof(strict_cases) / sizeof(strict_cases[0]), 60);
	for (size_t i = 0; i < sizeof(strict_cases) / sizeof(strict_cases[0]); i++) {
		const struct strict_case *c = &strict_cases[i];
		struct moa2_json *json = NULL;
		const char *error = NULL;
		int ret = moa2_json_parse(c->text, c->len, &json, &error);

		if (c->valid) {
			ck_assert_msg(ret == 0 && json != NULL,
				      "case %zu '%s' refused: %s", i, c->text,
				      error != NULL ? error : "(no reason)");
			moa2_json_free(&json);
		} else {
			ck_assert_msg(ret == -1 && json == NULL,
				      "case %zu '%s' accepted", i, c->text);
			ck_assert_msg(error != NULL && error[0] != '\0',
				      "case %zu: no reason", i);
		}
	}
}
END_TEST

/* Each escape decodes to the right bytes; the length counts NULs. */
START_TEST(test_string_decoding)
{
	static const struct {
		const char *json;
		const char *bytes;
		size_t len;
	} cases[] = {
		{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8 },
		{ "\"\\u0041\\u00e9\\u20ac\"", "A\xc3\xa9\xe2\x82\xac", 6 },
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 },
		{ "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4 },
		{ "\"a\\u0000b\"", "a\0b", 3 },
		{ "\"\xf0\x9f\x98\x80 \xc3\xa9\"", "\xf0\x9f\x98\x80 \xc3\xa9", 7 },
		{ "\"\"", "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_json *json = parse_ok(cases[i].json);
		size_t len;
		const char *bytes = moa2_json_string_bytes(json, &len);

		ck_assert_msg(bytes != NULL && len == cases[i].len &&
			      memcmp(bytes, cases[i].bytes, len) == 0 &&
			      bytes[len] == '\0', "case %zu: %s", i, cases[i].json);
		moa2_json_free(&json);
	}
}
END_TEST

/* Specials at every offset of a long string, around 8-byte words. */
START_TEST(test_string_offsets)
{
	char text[64], expect[64];

	for (unsigned int pos = 0; pos < 40; pos++) {
		struct moa2_json *json;
		const char *error;
		size_t n = 0, len;
		const char *bytes;

		/* an escape, a 2-byte UTF-8 character, then a raw tab */
		text[n++] = '"';
		memset(text + n, 'a', pos);
		n += pos;
		memcpy(text + n, "\\n\xc3\xa9zz\"", 7);
		n += 7;
		json = NULL;
		ck_assert_int_eq(moa2_json_parse(text, n, &json, &error), 0);
		memset(expect, 'a', pos);
		memcpy(expect + pos, "\n\xc3\xa9zz", 5);
		bytes = moa2_json_string_bytes(json, &len);
		ck_assert_uint_eq(len, pos + 5);
		ck_assert(memcmp(bytes, expect, len) == 0);
		moa2_json_free(&json);

		text[1 + pos] = '\t';
		ck_assert_int_eq(moa2_json_parse(text, n, &json, &error), -1);
		ck_assert_str_eq(error, "control character in a JSON string");
		/* cut before the closing quote: never read past len */
		text[1 + pos] = 'a';
		ck_assert_int_eq(moa2_json_parse(text, n - 1, &json, &error), -1);
		ck_assert_str_eq(error, "truncated JSON document");
	}
}
END_TEST

START_TEST(test_numbers)
{
	static const struct {
		const char *text;
		int int64_ret;
		int64_t int64;
		int date_ret;
		int64_t date;
	} cases[] = {
		{ "42", 1, 42, 1, 42 },
		{ "-0", 1, 0, 1, 0 },
		{ "9223372036854775807", 1, INT64_MAX, 1, INT64_MAX },
		{ "-9223372036854775808", 1, INT64_MIN, 1, INT64_MIN },
		{ "9223372036854775808", -1, 0, -1, 0 },
		{ "-9223372036854775809", -1, 0, -1, 0 },
		{ "12345678901234567890123", -1, 0, -1, 0 },
		{ "1e400", -1, 0, -1, 0 },
		{ "-1e400", -1, 0, -1, 0 },
		{ "1e-400", -1, 0, 1, 0 },
		{ "1.5", -1, 0, 1, 1 },
		{ "-1.5", -1, 0, 1, -1 },
		{ "1700000000.75", -1, 0, 1, 1700000000 },
		{ "1e3", -1, 0, 1, 1000 },
		{ "0.0", -1, 0, 1, 0 },
		{ "9.1e18", -1, 0, 1, INT64_C(9100000000000000000) },
		{ "9.3e18", -1, 0, -1, 0 },
	};
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_json *json;
		const struct moa2_json *value;
		int64_t n = 12345;

		snprintf(text, sizeof(text), "{\"v\":%s}", cases[i].text);
		json = parse_ok(text);
		ck_assert_msg(moa2_json_get_int64(json, "v", &n) == cases[i].int64_ret &&
			      n == cases[i].int64, "int64 of %s: %" PRId64,
			      cases[i].text, n);
		ck_assert_msg(moa2_json_get_numeric_date(json, "v", &n) ==
			      cases[i].date_ret && n == cases[i].date,
			      "numeric date of %s: %" PRId64, cases[i].text, n);
		ck_assert_int_eq(moa2_json_get(json, "v", &value), 1);
		ck_assert_int_eq(moa2_json_type(value), MOA2_JSON_NUMBER);
		/* numbers read as their literal text */
		ck_assert_str_eq(moa2_json_scalar_text(value), cases[i].text);
		moa2_json_free(&json);
	}
}
END_TEST

/* Numbers as doubles: fractions, -0.0, overflow to +-inf, underflow,
   an integer above 2^53 rounded to nearest. */
START_TEST(test_number_doubles)
{
	struct moa2_json *json = parse_ok("[1.5,-0.0,1e400,-1e400,1e-400,"
					  "9007199254740993,4.9406564584124654e-324]");
	double d;

	ck_assert(moa2_json_double(moa2_json_array_get(json, 0), &d) && d == 1.5);
	ck_assert(moa2_json_double(moa2_json_array_get(json, 1), &d) && d == 0 &&
		  signbit(d));
	ck_assert(moa2_json_double(moa2_json_array_get(json, 2), &d) && isinf(d) &&
		  d > 0);
	ck_assert(moa2_json_double(moa2_json_array_get(json, 3), &d) && isinf(d) &&
		  d < 0);
	ck_assert(moa2_json_double(moa2_json_array_get(json, 4), &d) && d == 0);
	/* an int64 is exact; its double rounds like strtod */
	ck_assert(moa2_json_double(moa2_json_array_get(json, 5), &d) &&
		  d == 9007199254740992.0);
	ck_assert(moa2_json_double(moa2_json_array_get(json, 6), &d) &&
		  d > 0 && d < 1e-300);
	ck_assert(!moa2_json_double(json, &d));
	moa2_json_free(&json);
}
END_TEST

START_TEST(test_duplicates_last_wins)
{
	struct moa2_json *json = parse_ok("{\"a\":1,\"b\":\"x\",\"a\":3,"
					  "\"o\":{\"k\":1,\"k\":\"two\"}}");
	const struct moa2_json *value;
	const char *name, *str;
	size_t name_len;
	int64_t n;

	ck_assert_int_eq(moa2_json_get_int64(json, "a", &n), 1);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(moa2_json_get(json, "o", &value), 1);
	ck_assert_int_eq(moa2_json_get_string(value, "k", &str), 1);
	ck_assert_str_eq(str, "two");
	/* the walk sees every member, in document order */
	ck_assert_uint_eq(moa2_json_object_len(json), 4);
	value = moa2_json_object_member(json, 0, &name, &name_len);
	ck_assert_str_eq(name, "a");
	ck_assert_uint_eq(name_len, 1);
	ck_assert(moa2_json_int64(value, &n) && n == 1);
	value = moa2_json_object_member(json, 2, &name, NULL);
	ck_assert_str_eq(name, "a");
	ck_assert(moa2_json_int64(value, &n) && n == 3);
	ck_assert(moa2_json_object_member(json, 4, &name, &name_len) == NULL);
	ck_assert(name == NULL && name_len == 0);
	ck_assert_uint_eq(moa2_json_object_len(moa2_json_array_get(json, 0)), 0);
	moa2_json_free(&json);
}
END_TEST

/* "alice\u0000bob" must never read as "alice". */
START_TEST(test_embedded_nul)
{
	struct moa2_json *json = parse_ok("{\"s\":\"alice\\u0000bob\","
					  "\"k\\u0000x\":1,\"a\":[\"\\u0000\"]}");
	const struct moa2_json *value;
	const char *str = "unset", *name, *bytes;
	size_t len;

	ck_assert_int_eq(moa2_json_get_string(json, "s", &str), -1);
	ck_assert(str == NULL);
	ck_assert_int_eq(moa2_json_get(json, "s", &value), 1);
	ck_assert(moa2_json_is_string(value));
	ck_assert(moa2_json_string(value) == NULL);
	ck_assert(moa2_json_scalar_text(value) == NULL);
	bytes = moa2_json_string_bytes(value, &len);
	ck_assert_uint_eq(len, 9);
	ck_assert(memcmp(bytes, "alice\0bob", 10) == 0);
	/* a name with a NUL matches no C string */
	ck_assert_int_eq(moa2_json_get(json, "k", &value), 0);
	moa2_json_object_member(json, 1, &name, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert(memcmp(name, "k\0x", 4) == 0);
	ck_assert_int_eq(moa2_json_get(json, "a", &value), 1);
	ck_assert(moa2_json_string(moa2_json_array_get(value, 0)) == NULL);
	moa2_json_free(&json);
}
END_TEST

static char *
nested_with(unsigned int depth, const char *open, const char *inner,
	    const char *close)
{
	size_t olen = strlen(open), ilen = strlen(inner), clen = strlen(close);
	char *text = malloc(depth * (olen + clen) + ilen + 1), *p = text;

	ck_assert(text != NULL);
	for (unsigned int i = 0; i < depth; i++, p += olen)
		memcpy(p, open, olen);
	memcpy(p, inner, ilen);
	p += ilen;
	for (unsigned int i = 0; i < depth; i++, p += clen)
		memcpy(p, close, clen);
	*p = '\0';
	return text;
}

/* The limit counts arrays and objects, not the scalar inside them. */
START_TEST(test_depth_with_values)
{
	static const char *const shapes[][3] = {
		{ "[", "1", "]" }, { "{\"a\":", "\"x\"", "}" },
		{ "[{\"a\":", "null", "}]" },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		unsigned int per = i == 2 ? 2 : 1;
		char *text = nested_with(MOA2_JSON_MAX_DEPTH / per, shapes[i][0],
					 shapes[i][1], shapes[i][2]);
		struct moa2_json *json = parse_ok(text);
		const char *error;

		moa2_json_free(&json);
		free(text);
		text = nested_with(MOA2_JSON_MAX_DEPTH / per + 1, shapes[i][0],
				   shapes[i][1], shapes[i][2]);
		ck_assert_int_eq(moa2_json_parse(text, strlen(text), &json, &error), -1);
		ck_assert_str_eq(error, "JSON nested too deeply");
		free(text);
	}
}
END_TEST

START_TEST(test_error_reasons)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "", "empty document" },
		{ " \n\t", "empty document" },
		{ "{\"a\":1} x", "data after the JSON document" },
		{ "{\"a\":[1,2", "truncated JSON document" },
		{ "\"abc", "truncated JSON document" },
		{ "tr", "truncated JSON document" },
		{ "01", "leading zero in a JSON number" },
		{ "[\"\\ud800\"]", "unpaired surrogate in a JSON string" },
		{ "\"\xc0\x80\"", "invalid UTF-8 in a JSON string" },
		{ "[1;2]", "expected ',' or ']' in a JSON array" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct moa2_json *json = NULL;
		const char *error = NULL;

		ck_assert_int_eq(moa2_json_parse(cases[i].text, strlen(cases[i].text),
						 &json, &error), -1);
		ck_assert_msg(error != NULL && strcmp(error, cases[i].error) == 0,
			      "'%s': got '%s'", cases[i].text, error);
	}
}
END_TEST

/* Far more values than the first guess of the arena, and more pending
   values than fit on the C stack. */
START_TEST(test_large_documents)
{
	const unsigned int count = 100000;
	char *text = malloc(count * 3 + 2), *p = text;
	struct moa2_json *json;
	const struct moa2_json *elem;
	int64_t n;

	ck_assert(text != NULL);
	*p++ = '[';
	for (unsigned int i = 0; i < count; i++) {
		memcpy(p, i % 2 == 0 ? "[]," : "7,", i % 2 == 0 ? 3 : 2);
		p += i % 2 == 0 ? 3 : 2;
	}
	p[-1] = ']';
	*p = '\0';
	json = parse_ok(text);
	ck_assert_uint_eq(moa2_json_array_len(json), count);
	for (unsigned int i = 0; i < count; i += 9999) {
		elem = moa2_json_array_get(json, i);
		if (i % 2 == 0)
			ck_assert(moa2_json_is_array(elem) &&
				  moa2_json_array_len(elem) == 0);
		else
			ck_assert(moa2_json_int64(elem, &n) && n == 7);
	}
	moa2_json_free(&json);
	free(text);
}
END_TEST

START_TEST(test_types_and_scalars)
{
	struct moa2_json *json = parse_ok("[null,true,false,1.50,\"s\",[],{}]");
	static const enum moa2_json_type types[] = {
		MOA2_JSON_NULL, MOA2_JSON_BOOL, MOA2_JSON_BOOL, MOA2_JSON_NUMBER,
		MOA2_JSON_STRING, MOA2_JSON_ARRAY, MOA2_JSON_OBJECT,
	};
	static const char *const texts[] = {
		NULL, "true", "false", "1.50", "s", NULL, NULL,
	};

	ck_assert_int_eq(moa2_json_type(json), MOA2_JSON_ARRAY);
	ck_assert_int_eq(moa2_json_type(NULL), MOA2_JSON_NULL);
	for (size_t i = 0; i < 7; i++) {
		const struct moa2_json *elem = moa2_json_array_get(json, i);
		const char *text = moa2_json_scalar_text(elem);

		ck_assert_int_eq(moa2_json_type(elem), types[i]);
		if (texts[i] == NULL)
			ck_assert_msg(text == NULL, "element %zu: %s", i, text);
		else
			ck_assert_str_eq(text, texts[i]);
	}
	moa2_json_free(&json);

	json = parse_ok("null");
	ck_assert(json != NULL);
	ck_assert_int_eq(moa2_json_type(json), MOA2_JSON_NULL);
	moa2_json_free(&json);
	ck_assert(json == NULL);
}
END_TEST

/* The escaper's exact output: control characters as \u00XX. */
START_TEST(test_build_object_exact)
{
	static const char *const pairs[] = {
		"k\x01", "a\"b\\c/d\x01\n\x1f\x7f\xc3\xa9", "e", "", NULL
	};
	char *out = moa2_json_build_object(pairs);

	ck_assert(out != NULL);
	ck_assert_str_eq(out, "{\"k\\u0001\":\"a\\\"b\\\\c/d\\u0001\\u000a\\u001f"
			 "\x7f\xc3\xa9\",\"e\":\"\"}");
	free(out);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_parse_refused);
	tcase_add_test(tc, test_parse_uses_length);
	tcase_add_test(tc, test_parse_depth);
	tcase_add_test(tc, test_typed_getters);
	tcase_add_test(tc, test_arrays_and_strings);
	tcase_add_test(tc, test_build_object);
	tcase_add_test(tc, test_strictness_table);
	tcase_add_test(tc, test_string_decoding);
	tcase_add_test(tc, test_string_offsets);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_number_doubles);
	tcase_add_test(tc, test_duplicates_last_wins);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_depth_with_values);
	tcase_add_test(tc, test_error_reasons);
	tcase_add_test(tc, test_large_documents);
	tcase_add_test(tc, test_types_and_scalars);
	tcase_add_test(tc, test_build_object_exact);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tc_run_suite(json_suite());
}
