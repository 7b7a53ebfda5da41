/* Strict base64 / base64url. */
#include "config.h"
#include "base64.h"

#include <stdlib.h>
#include <string.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for a character of the alphabet, -1 otherwise. */
static int
b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
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
	size_t o = 0;

	if (in_len % 4 == 1 || out_size < in_len / 4 * 3 + (in_len % 4 == 0 ? 0 : in_len % 4 - 1))
		return -1;
	for (size_t i = 0; i < in_len; i += 4) {
		size_t group = in_len - i < 4 ? in_len - i : 4;
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			int d = j < group ? b64_value((unsigned char)in[i + j], url) : 0;

			if (d < 0)
				return -1;
			v = (v << 6) | (uint32_t)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (group > 2)
			out[o++] = (unsigned char)(v >> 8);
		if (group > 3)
			out[o++] = (unsigned char)v;
		/* canonical form: the bits after the last byte are zero */
		if ((group == 2 && (v & 0xffff) != 0) ||
		    (group == 3 && (v & 0xff) != 0))
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
