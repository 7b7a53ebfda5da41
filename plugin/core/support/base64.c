/* SPDX-License-Identifier: MIT */
/* Strict base64 / base64url. */
#include "config.h"
#include "support/base64.h"

#include <stdlib.h>
#include <string.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decoding tables: 0..63 for a character of the alphabet, XX (0xff)
   otherwise; a test checks them against the alphabets above. */
#define XX 0xff
static const unsigned char b64_table[256] = {
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX ,  62, XX , XX , XX ,  63,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, XX , XX , XX , XX , XX , XX,
	XX ,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, XX , XX , XX , XX , XX,
	XX ,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
};
static const unsigned char b64url_table[256] = {
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX ,  62, XX , XX,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, XX , XX , XX , XX , XX , XX,
	XX ,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, XX , XX , XX , XX ,  63,
	XX ,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
	XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX , XX,
};
#undef XX

static const unsigned char *
decode_table(bool url)
{
	return url ? b64url_table : b64_table;
}

static int
b64_value(unsigned char c, bool url)
{
	unsigned char v = decode_table(url)[c];

	return v == 0xff ? -1 : v;
}

size_t
moa2_base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t
moa2_base64url_encoded_len(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

size_t
moa2_base64_decoded_max(size_t in_len)
{
	return (in_len + 3) / 4 * 3;
}

static char *
encode(const unsigned char *in, size_t len, const char *alphabet, bool pad)
{
	size_t out_len = pad ? moa2_base64_encoded_len(len) :
		moa2_base64url_encoded_len(len);
	char *out = malloc(out_len + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		uint32_t v = (uint32_t)in[i] << 16;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		*p++ = alphabet[(v >> 18) & 63];
		*p++ = alphabet[(v >> 12) & 63];
		if (left > 1)
			*p++ = alphabet[(v >> 6) & 63];
		else if (pad)
			*p++ = '=';
		if (left > 2)
			*p++ = alphabet[v & 63];
		else if (pad)
			*p++ = '=';
	}
	*p = '\0';
	return out;
}

char *
moa2_base64_encode(const void *data, size_t len)
{
	return encode(data, len, b64_alphabet, true);
}

char *
moa2_base64url_encode(const void *data, size_t len)
{
	return encode(data, len, b64url_alphabet, false);
}

/* Decodes the unpadded characters in[0..in_len). A final group of 2 or 3
   characters must have zero trailing bits; a group of 1 is impossible. */
static int
decode(const char *in, size_t in_len, bool url, unsigned char *out,
       size_t out_size, size_t *out_len_r)
{
	const unsigned char *table = decode_table(url);
	const unsigned char *p = (const unsigned char *)in;
	size_t full = in_len / 4, rest = in_len % 4, o = 0;
	uint32_t v, bad = 0;

	if (rest == 1 || out_size < full * 3 + (rest == 0 ? 0 : rest - 1))
		return -1;
	for (size_t i = 0; i < full; i++, p += 4) {
		uint32_t a = table[p[0]], b = table[p[1]], c = table[p[2]], d = table[p[3]];

		/* 0xff entries leave bit 7 set: check all four at once */
		bad |= a | b | c | d;
		v = a << 18 | b << 12 | c << 6 | d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if ((bad & 0x80) != 0)
		return -1;
	if (rest > 0) {
		uint32_t a = table[p[0]], b = table[p[1]], c = rest > 2 ? table[p[2]] : 0;

		if (((a | b | c) & 0x80) != 0)
			return -1;
		v = a << 18 | b << 12 | c << 6;
		out[o++] = (unsigned char)(v >> 16);
		if (rest == 3)
			out[o++] = (unsigned char)(v >> 8);
		/* canonical form: the bits after the last byte are zero */
		if ((rest == 2 && (v & 0xffff) != 0) || (rest == 3 && (v & 0xff) != 0))
			return -1;
	}
	*out_len_r = o;
	return 0;
}

int
moa2_base64_decode(const char *in, size_t in_len,
		   unsigned char *out, size_t out_size, size_t *out_len_r)
{
	size_t pad = 0;

	if (in_len % 4 != 0)
		return -1;
	while (pad < 2 && pad < in_len && in[in_len - 1 - pad] == '=')
		pad++;
	return decode(in, in_len - pad, false, out, out_size, out_len_r);
}

int
moa2_base64url_decode(const char *in, size_t in_len,
		      unsigned char *out, size_t out_size, size_t *out_len_r)
{
	return decode(in, in_len, true, out, out_size, out_len_r);
}

bool
moa2_base64_looks_valid(const char *in, size_t in_len)
{
	size_t pad = 0;

	if (in_len == 0 || in_len % 4 != 0)
		return false;
	while (pad < 2 && in[in_len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < in_len - pad; i++) {
		if (b64_value((unsigned char)in[i], false) < 0)
			return false;
	}
	return true;
}
