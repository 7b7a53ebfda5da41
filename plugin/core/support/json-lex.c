/* SPDX-License-Identifier: MIT */
/* The JSON lexer of strings and numbers (see json-private.h): RFC 8259
   strictly, UTF-8 validated, lone surrogates refused, numbers read in the
   "C" locale. Failure behaviour: -1 with a static reason in ps->error,
   nothing written past the string area. */
#include "config.h"
#include "support/json-private.h"

#include <limits.h>
#include <locale.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- strings */

static const signed char hex_values[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The 4 hex digits of a \u escape at p ("\uXXXX"): the code unit, or -1. */
static long
hex4(const unsigned char *p, const unsigned char *end, struct json_parser *ps)
{
	long value = 0;

	for (unsigned int i = 2; i < 6; i++) {
		if (p + i >= end) {
			ps->error = err_truncated;
			return -1;
		}
		if (hex_values[p[i]] == 0) {
			ps->error = "invalid \\u escape in a JSON string";
			return -1;
		}
		value = value * 16 + hex_values[p[i]] - 1;
	}
	return value;
}

static char *
put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		*out++ = (char)cp;
	} else if (cp < 0x800) {
		*out++ = (char)(0xc0 | (cp >> 6));
		*out++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*out++ = (char)(0xe0 | (cp >> 12));
		*out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*out++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*out++ = (char)(0xf0 | (cp >> 18));
		*out++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*out++ = (char)(0x80 | (cp & 0x3f));
	}
	return out;
}

/* An escape at *pp (a backslash): writes its bytes at *outp, advances both.
   Output never outgrows input: 2 bytes give 1, 6 give at most 3, 12 give 4. */
static int
parse_escape(struct json_parser *ps, const unsigned char **pp, char **outp,
	     uint8_t *flags)
{
	const unsigned char *p = *pp, *end = ps->end;
	long unit, low;
	char c;

	if (p + 1 >= end)
		return fail(ps, err_truncated);
	switch (p[1]) {
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case '/': c = '/'; break;
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'u':
		if ((unit = hex4(p, end, ps)) < 0)
			return -1;
		p += 6;
		if (unit >= 0xdc00 && unit <= 0xdfff)
			return fail(ps, "unpaired surrogate in a JSON string");
		if (unit >= 0xd800 && unit <= 0xdbff) {
			if (end - p < 2)
				return fail(ps, err_truncated);
			if (p[0] != '\\' || p[1] != 'u')
				return fail(ps, "unpaired surrogate in a JSON string");
			if ((low = hex4(p, end, ps)) < 0)
				return -1;
			if (low < 0xdc00 || low > 0xdfff)
				return fail(ps, "unpaired surrogate in a JSON string");
			p += 6;
			unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
		}
		if (unit == 0)
			*flags |= NODE_HAS_NUL;
		*outp = put_utf8(*outp, (unsigned long)unit);
		*pp = p;
		return 0;
	default:
		return fail(ps, "invalid escape in a JSON string");
	}
	*(*outp)++ = c;
	*pp = p + 2;
	return 0;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
   overlongs, no surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_sequence(const unsigned char *p, const unsigned char *end,
	      struct json_parser *ps)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		ps->error = "invalid UTF-8 in a JSON string";
		return 0;
	}
	if ((size_t)(end - p) < len) {
		ps->error = err_truncated;
		return 0;
	}
	if (p[1] < lo || p[1] > hi || (len > 2 && (p[2] & 0xc0) != 0x80) ||
	    (len > 3 && (p[3] & 0xc0) != 0x80)) {
		ps->error = "invalid UTF-8 in a JSON string";
		return 0;
	}
	return len;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
	defined(__GNUC__)
#define HAVE_WORD_SCAN 1
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The high bit of each byte of x that a string cannot copy as is ('"', '\\',
   a control character or a non-ASCII byte). Bits above the lowest set one
   may be spurious (borrows), the lowest is exact. */
static inline uint64_t
special_bytes(uint64_t x)
{
	uint64_t quote = x ^ (ONES * '"'), backslash = x ^ (ONES * '\\');

	return ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) |
		((x - ONES * 0x20) & ~x) | x;
}
#endif

/* The string starting at ps->p (a '"'), unescaped into the string area.
   Area bound: at the start of any value, out - strings <= p - data, and a
   string's k bytes of input (quotes included) write at most k - 1. */
int
moa2_json_lex_string(struct json_parser *ps, struct moa2_json *node)
{
	const unsigned char *p = ps->p + 1, *end = ps->end;
	char *start = ps->out, *out = start;
	uint8_t flags = 0;
	size_t len;

	for (;;) {
#ifdef HAVE_WORD_SCAN
		/* 8 plain bytes at a time; out + 8 <= p + 8 <= end stays in
		   the area, so whole words are copied */
		while (end - p >= 8) {
			uint64_t x, special;

			memcpy(&x, p, 8);
			memcpy(out, p, 8);
			special = special_bytes(x) & HIGHS;
			if (special != 0) {
				unsigned int plain = (unsigned int)__builtin_ctzll(special) / 8;

				p += plain;
				out += plain;
				break;
			}
			p += 8;
			out += 8;
		}
#endif
		if (p == end)
			return fail(ps, err_truncated);
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (parse_escape(ps, &p, &out, &flags) < 0)
				return -1;
		} else if (*p < 0x20) {
			return fail(ps, "control character in a JSON string");
		} else if (*p < 0x80) {
			*out++ = (char)*p++;
		} else {
			if ((len = utf8_sequence(p, end, ps)) == 0)
				return -1;
			memcpy(out, p, len);
			out += len;
			p += len;
		}
	}
	*out = '\0';
	node->type = MOA2_JSON_STRING;
	node->flags = flags;
	node->len = (uint32_t)(out - start);
	node->u.text = start;
	node->num.i = 0;
	ps->out = out + 1;
	ps->p = p + 1;
	return 0;
}

/* ---------------------------------------------------------------- numbers */

/* strtod() reads the radix of the current locale: use "C", made once. */
static locale_t
c_locale(void)
{
	static _Atomic(locale_t) cached;
	locale_t loc = atomic_load(&cached), expected = (locale_t)0;

	if (loc != (locale_t)0)
		return loc;
	loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (loc == (locale_t)0)
		return loc;
	if (!atomic_compare_exchange_strong(&cached, &expected, loc)) {
		freelocale(loc);
		loc = expected;
	}
	return loc;
}

/* The number at ps->p, its text copied to the string area (k bytes of
   input write k + 1: the NUL is paid by the byte that ends the number, or
   by the area's extra byte at the very end). */
int
moa2_json_lex_number(struct json_parser *ps, struct moa2_json *node)
{
	const unsigned char *start = ps->p, *p = start, *end = ps->end;
	bool negative = false, integer = true;
	uint64_t magnitude = 0;
	unsigned int digits = 0;
	size_t len;

	if (*p == '-') {
		negative = true;
		p++;
	}
	if (p == end)
		return fail(ps, err_truncated);
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return fail(ps, "leading zero in a JSON number");
	} else if (is_digit(*p)) {
		for (; p < end && is_digit(*p); p++, digits++) {
			if (digits < 19)
				magnitude = magnitude * 10 + (uint64_t)(*p - '0');
		}
	} else {
		return fail(ps, "invalid JSON number");
	}
	if (p < end && *p == '.') {
		integer = false;
		if (++p == end)
			return fail(ps, err_truncated);
		if (!is_digit(*p))
			return fail(ps, "invalid JSON number");
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integer = false;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end)
			return fail(ps, err_truncated);
		if (!is_digit(*p))
			return fail(ps, "invalid JSON number");
		while (p < end && is_digit(*p))
			p++;
	}

	len = (size_t)(p - start);
	memcpy(ps->out, start, len);
	ps->out[len] = '\0';
	node->type = MOA2_JSON_NUMBER;
	node->len = (uint32_t)len;
	node->u.text = ps->out;
	ps->out += len + 1;
	ps->p = p;
	if (integer && digits <= 19 &&
	    magnitude <= (uint64_t)INT64_MAX + (negative ? 1 : 0)) {
		node->flags = NODE_INT64;
		if (!negative)
			node->num.i = (int64_t)magnitude;
		else if (magnitude > (uint64_t)INT64_MAX)
			node->num.i = INT64_MIN;
		else
			node->num.i = -(int64_t)magnitude;
	} else {
		locale_t loc = c_locale();

		if (loc == (locale_t)0)
			return fail(ps, err_nomem);
		node->flags = 0;
		node->num.d = strtod_l(node->u.text, NULL, loc);
	}
	return 0;
}
