/* SPDX-License-Identifier: MIT */
/* Unit tests of base64.h: RFC 4648 section 10 vectors, strictness (one
   accepted encoding per byte string), length helpers, random round trips. */

#include "test-common.h"

#include "support/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct b64_vector {
	const char *plain;
	size_t plain_len;
	const char *b64;
	const char *b64url;
};

#define V(plain, b64, url) { plain, sizeof(plain) - 1, b64, url }
static const struct b64_vector vectors[] = {
	/* RFC 4648 section 10 */
	V("", "", ""),
	V("f", "Zg==", "Zg"),
	V("fo", "Zm8=", "Zm8"),
	V("foo", "Zm9v", "Zm9v"),
	V("foob", "Zm9vYg==", "Zm9vYg"),
	V("fooba", "Zm9vYmE=", "Zm9vYmE"),
	V("foobar", "Zm9vYmFy", "Zm9vYmFy"),
	/* the two alphabets differ in 62 and 63 */
	V("\xfb\xff\xbf", "+/+/", "-_-_"),
	V("\xfb\xef\xbe\xff", "++++/w==", "----_w"),
	V("\x00", "AA==", "AA"),
	V("\x00\x00\x00", "AAAA", "AAAA"),
	V("\x01", "AQ==", "AQ"),
};
#undef V

/* Strings the strict base64 decoder must refuse. */
static const char *const bad_base64[] = {
	"Zg",          /* padding missing */
	"Zg=",         /* padding short */
	"Zm8",
	"Zg===",       /* too much padding */
	"Zh==",        /* non-zero trailing bits (h = 33: low 4 bits set) */
	"Zm9=",        /* non-zero trailing bits (9 = 61: low 2 bits set) */
	"Z===",
	"====",
	"=Zm9",
	"Zm=v",
	"Zg==Zg==",    /* padding in the middle */
	"Zm9vY",       /* length % 4 == 1 */
	"Zm9v ",
	" Zm9v",
	"Zm 9v",
	"Zm9v\n",
	"Zm9v\r\n",
	"Zm9\tv",
	"Zm-v",        /* base64url alphabet */
	"Zm_v",
	"Zm9v!",
	"Zm9v\x80",
	"Zm9v.",
};

/* Strings the strict base64url decoder must refuse. */
static const char *const bad_base64url[] = {
	"Zg==",        /* JOSE base64url carries no padding */
	"Zm8=",
	"Zh",          /* non-zero trailing bits */
	"Zm9",         /* 9 = 61: low 2 bits set */
	"Zm9vY",       /* length % 4 == 1 */
	"Z",
	"Zm+v",        /* base64 alphabet */
	"Zm/v",
	"Zm9v ",
	"Zm9v\n",
	"Zm 9v",
	"Zm9v=",
	"Zm9v!",
};

START_TEST(test_encode_vectors)
{
	const struct b64_vector *v = &vectors[_i];
	char *b64 = moa2_base64_encode(v->plain, v->plain_len);
	char *url = moa2_base64url_encode(v->plain, v->plain_len);

	ck_assert(b64 != NULL && url != NULL);
	ck_assert_str_eq(b64, v->b64);
	ck_assert_str_eq(url, v->b64url);
	ck_assert_uint_eq(moa2_base64_encoded_len(v->plain_len),
			  strlen(v->b64));
	ck_assert_uint_eq(moa2_base64url_encoded_len(v->plain_len),
			  strlen(v->b64url));
	free(b64);
	free(url);
}
END_TEST

START_TEST(test_decode_vectors)
{
	const struct b64_vector *v = &vectors[_i];
	unsigned char out[64];
	size_t out_len = 12345;

	ck_assert_uint_ge(moa2_base64_decoded_max(strlen(v->b64)),
			  v->plain_len);
	ck_assert_uint_ge(moa2_base64_decoded_max(strlen(v->b64url)),
			  v->plain_len);
	ck_assert_int_eq(moa2_base64_decode(v->b64, strlen(v->b64), out,
					    sizeof(out), &out_len), 0);
	ck_assert_uint_eq(out_len, v->plain_len);
	ck_assert_mem_eq(out, v->plain, v->plain_len);
	out_len = 12345;
	ck_assert_int_eq(moa2_base64url_decode(v->b64url, strlen(v->b64url),
					       out, sizeof(out), &out_len), 0);
	ck_assert_uint_eq(out_len, v->plain_len);
	ck_assert_mem_eq(out, v->plain, v->plain_len);
}
END_TEST

START_TEST(test_base64_strict)
{
	const char *in = bad_base64[_i];
	unsigned char out[64];
	size_t out_len;

	ck_assert_msg(moa2_base64_decode(in, strlen(in), out, sizeof(out),
					 &out_len) == -1,
		      "base64 accepted '%s'", in);
}
END_TEST

START_TEST(test_base64url_strict)
{
	const char *in = bad_base64url[_i];
	unsigned char out[64];
	size_t out_len;

	ck_assert_msg(moa2_base64url_decode(in, strlen(in), out, sizeof(out),
					    &out_len) == -1,
		      "base64url accepted '%s'", in);
}
END_TEST

/* The decoder honours in_len: bytes after it are not read. */
START_TEST(test_decode_uses_length)
{
	unsigned char out[16];
	size_t out_len;

	ck_assert_int_eq(moa2_base64_decode("Zm9v!!!!", 4, out, sizeof(out),
					    &out_len), 0);
	ck_assert_uint_eq(out_len, 3);
	ck_assert_mem_eq(out, "foo", 3);
	/* an embedded NUL is a bad character, not the end */
	ck_assert_int_eq(moa2_base64_decode("Zm9v\0AAA", 8, out, sizeof(out),
					    &out_len), -1);
	ck_assert_int_eq(moa2_base64url_decode("Zm9v\0A", 6, out, sizeof(out),
					       &out_len), -1);
}
END_TEST

START_TEST(test_decode_out_too_small)
{
	unsigned char out[8];
	size_t out_len;

	/* "foobar" needs 6 bytes */
	ck_assert_int_eq(moa2_base64_decode("Zm9vYmFy", 8, out, 5, &out_len),
			 -1);
	ck_assert_int_eq(moa2_base64url_decode("Zm9vYmFy", 8, out, 5,
					       &out_len), -1);
	ck_assert_int_eq(moa2_base64_decode("Zm9vYmFy", 8, out,
					    moa2_base64_decoded_max(8),
					    &out_len), 0);
	ck_assert_uint_eq(out_len, 6);
}
END_TEST

START_TEST(test_lengths)
{
	static const size_t b64[] = { 0, 4, 4, 4, 8, 8, 8, 12 };
	static const size_t url[] = { 0, 2, 3, 4, 6, 7, 8, 10 };

	for (size_t n = 0; n < sizeof(b64) / sizeof(b64[0]); n++) {
		ck_assert_uint_eq(moa2_base64_encoded_len(n), b64[n]);
		ck_assert_uint_eq(moa2_base64url_encoded_len(n), url[n]);
	}
	ck_assert_uint_eq(moa2_base64_encoded_len(3000), 4000);
	ck_assert_uint_eq(moa2_base64url_encoded_len(3001), 4002);
	/* decoded_max bounds both forms of every length */
	for (size_t n = 0; n < 200; n++) {
		ck_assert_uint_ge(moa2_base64_decoded_max(
					moa2_base64_encoded_len(n)), n);
		ck_assert_uint_ge(moa2_base64_decoded_max(
					moa2_base64url_encoded_len(n)), n);
		/* and is not wildly larger than needed */
		ck_assert_uint_le(moa2_base64_decoded_max(
					moa2_base64_encoded_len(n)), n + 3);
	}
}
END_TEST

START_TEST(test_looks_valid)
{
	ck_assert(moa2_base64_looks_valid("Zm9v", 4));
	ck_assert(moa2_base64_looks_valid("Zg==", 4));
	ck_assert(moa2_base64_looks_valid("++//", 4));
	ck_assert(!moa2_base64_looks_valid("", 0));
	ck_assert(!moa2_base64_looks_valid("Zm9", 3));
	ck_assert(!moa2_base64_looks_valid("Zm9vY", 5));
	ck_assert(!moa2_base64_looks_valid("Zm-v", 4));
	ck_assert(!moa2_base64_looks_valid("Zm9v ", 5));
	ck_assert(!moa2_base64_looks_valid("Zm!v", 4));
	ck_assert(!moa2_base64_looks_valid("user=a\001auth", 12));
}
END_TEST

/* Random bytes survive encode then decode in both alphabets, and the
   encoded text uses only its own alphabet. */
/* Every byte in every position of a group: accepted exactly when it is in
   the alphabet, and then it decodes to its index. */
START_TEST(test_every_byte)
{
	static const char std[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (unsigned int c = 0; c < 256; c++) {
		for (unsigned int pos = 0; pos < 4; pos++) {
			char in[4] = { 'A', 'A', 'A', 'A' };
			unsigned char out[3];
			size_t len;
			const char *s_std = c == 0 ? NULL : strchr(std, (int)c);
			const char *s_url = c == 0 ? NULL : strchr(url, (int)c);
			int ret;

			in[pos] = (char)c;
			if (c == '=' && pos == 3)
				continue; /* "AAA=" is padding, tested above */
			ret = moa2_base64_decode(in, 4, out, sizeof(out), &len);
			ck_assert_msg((ret == 0) == (s_std != NULL), "base64 byte %u pos %u", c, pos);
			if (ret == 0) {
				uint32_t v = (uint32_t)out[0] << 16 | (uint32_t)out[1] << 8 | out[2];

				ck_assert_uint_eq((v >> (18 - 6 * pos)) & 63, (unsigned int)(s_std - std));
			}
			ret = moa2_base64url_decode(in, 4, out, sizeof(out), &len);
			ck_assert_msg((ret == 0) == (s_url != NULL), "base64url byte %u pos %u", c, pos);
			if (ret == 0) {
				uint32_t v = (uint32_t)out[0] << 16 | (uint32_t)out[1] << 8 | out[2];

				ck_assert_uint_eq((v >> (18 - 6 * pos)) & 63, (unsigned int)(s_url - url));
			}
		}
	}
}
END_TEST

START_TEST(test_random_round_trip)
{
	uint64_t seed = tc_seed_init();
	unsigned char plain[300], out[300];

	for (unsigned int iter = 0; iter < 1000; iter++) {
		size_t len = tc_rand_below(sizeof(plain)), out_len;
		char *b64, *url;

		for (size_t i = 0; i < len; i++)
			plain[i] = (unsigned char)tc_rand();
		b64 = moa2_base64_encode(plain, len);
		url = moa2_base64url_encode(plain, len);
		ck_assert(b64 != NULL && url != NULL);
		ck_assert_msg(strlen(b64) == moa2_base64_encoded_len(len) &&
			      strlen(url) == moa2_base64url_encoded_len(len),
			      "seed %llu (MOA2_TEST_SEED): encoded length",
			      (unsigned long long)seed);
		ck_assert_msg(strpbrk(b64, "-_") == NULL &&
			      strpbrk(url, "+/=") == NULL,
			      "seed %llu (MOA2_TEST_SEED): alphabets mixed",
			      (unsigned long long)seed);
		ck_assert_msg(moa2_base64_decode(b64, strlen(b64), out,
						 sizeof(out), &out_len) == 0 &&
			      out_len == len && memcmp(out, plain, len) == 0,
			      "seed %llu (MOA2_TEST_SEED): base64 of %zu bytes",
			      (unsigned long long)seed, len);
		ck_assert_msg(moa2_base64url_decode(url, strlen(url), out,
						    sizeof(out), &out_len) == 0 &&
			      out_len == len && memcmp(out, plain, len) == 0,
			      "seed %llu (MOA2_TEST_SEED): base64url of %zu "
			      "bytes", (unsigned long long)seed, len);
		free(b64);
		free(url);
	}
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");

	tcase_add_loop_test(tc, test_encode_vectors, 0,
			    sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_loop_test(tc, test_decode_vectors, 0,
			    sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_loop_test(tc, test_base64_strict, 0,
			    sizeof(bad_base64) / sizeof(bad_base64[0]));
	tcase_add_loop_test(tc, test_base64url_strict, 0,
			    sizeof(bad_base64url) / sizeof(bad_base64url[0]));
	tcase_add_test(tc, test_decode_uses_length);
	tcase_add_test(tc, test_decode_out_too_small);
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_looks_valid);
	tcase_add_test(tc, test_every_byte);
	tcase_add_test(tc, test_random_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tc_run_suite(base64_suite());
}
