/* Unit tests of json.h: bounded strict parsing, typed getters (1 found,
   0 absent, -1 other type) and build_object escaping. */

#include "test-common.h"

#include "json.h"

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
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tc_run_suite(json_suite());
}
