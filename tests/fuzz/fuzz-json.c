/* SPDX-License-Identifier: MIT */
/* Differential libFuzzer target of the core's JSON parser (json.h).

   Every input goes through three parsers:
   - moa2_json_parse(), the core's;
   - json-c exactly as the core used it before (json_tokener_new_ex(16),
     JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, a bare number or
     literal ended by feeding "\0", only whitespace after the value);
   - a small reference validator written here, once in the RFC 8259
     dialect and once in the dialect of json-c (the flags below).
   Checks: the core accepts exactly what the strict reference accepts;
   json-c accepts exactly what the json-c dialect of the reference accepts
   (so every accept/reject disagreement between the core and json-c is one
   of the listed differences, and nothing else); a refusal gives a reason
   and no document; when both parsers accept, the two trees are the same:
   same types recursively, strings with the same bytes and length, the
   same int64 for integers and the same double for other numbers, objects
   with the same members in the same order; and each object lookup of the
   core returns the last member of that name.

   Intentional differences (json-c 0.16 in STRICT mode accepts, RFC 8259
   and the core refuse), one reference flag each:
   - LAX_CONTROL: raw control characters U+0001..U+001F in strings;
   - LAX_UTF8: UTF-8 checked for its shape only: overlong forms, encoded
     surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5-F7)
     pass;
   - LAX_SURROGATES: an unpaired \uD800-\uDFFF escape (json-c puts U+FFFD);
   - LAX_NUMBERS: json-c's number scan and strtod(): leading zeros ("00",
     "-01", "01.5"), "1.", "1.e5", "-.5";
   - NAN_INFINITY: NaN, Infinity and -Infinity;
   - QUOTED_NAMES: member names in single quotes ({'a':1});
   and one the other way round:
   - JSONC_DEPTH: json-c refuses any value inside 16 arrays/objects, the
     core only a 17th array or object (MOA2_JSON_MAX_DEPTH counts
     containers: [[...16...[1]...]] is accepted).
   Structural differences, compared through json-c's eyes: json-c keeps
   one member per name (first position, last value) and cuts a name at an
   embedded NUL (strdup); the core keeps every member, names whole, and
   looks up the last. Integers beyond int64: json-c saturates them (to
   INT64_MIN, or as uint64 to at most UINT64_MAX), the core keeps them as
   numbers that are not an int64. And a json-c 0.16 bug: an escaped
   surrogate pair whose code point has bits 11-15 of a surrogate
   (U+1D800-U+1DFFF, U+2D800-..., high half \uD836, \uD837, \uD876...)
   is decoded as if it were a surrogate again (U+FFFD and worse): strings
   and names holding such a code point are not compared when the input
   has such an escaped pair. */

#include "fuzz-common.h"

#include "support/json.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- json-c */

static bool
only_space_after(const char *data, size_t len, size_t pos)
{
	for (; pos < len; pos++) {
		if (data[pos] != ' ' && data[pos] != '\t' && data[pos] != '\r' &&
		    data[pos] != '\n')
			return false;
	}
	return true;
}

/* The old json.c's moa2_json_parse(), json-c as the core used it. */
static bool
jsonc_parse(const char *data, size_t len, struct json_object **obj_r)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	bool ok = false;

	*obj_r = NULL;
	if (len == 0 || len > INT_MAX)
		return false;
	tok = json_tokener_new_ex(MOA2_JSON_MAX_DEPTH);
	FUZZ_CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* a bare number or literal ends only at the end of input */
		obj = json_tokener_parse_ex(tok, "", 1);
		ok = json_tokener_get_error(tok) == json_tokener_success;
	} else if (jerr == json_tokener_success) {
		ok = only_space_after(data, len, json_tokener_get_parse_end(tok));
	}
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(obj);
		return false;
	}
	*obj_r = obj;
	return true;
}

/* ------------------------------------------------------------ reference */

#define LAX_CONTROL 0x01
#define LAX_UTF8 0x02
#define LAX_SURROGATES 0x04
#define LAX_NUMBERS 0x08
#define NAN_INFINITY 0x10
#define QUOTED_NAMES 0x20
#define JSONC_DEPTH 0x40
#define JSONC_DIALECT 0x7f

struct ref {
	const unsigned char *p, *end;
	unsigned int flags;
};

static bool ref_value(struct ref *r, unsigned int level);

static bool
ref_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
ref_ws(struct ref *r)
{
	while (r->p < r->end && ref_is_ws(*r->p))
		r->p++;
}

static bool
ref_eat(struct ref *r, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
		return false;
	r->p += len;
	return true;
}

static int
ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "XXXX" at p: the code unit, or -1 */
static long
ref_unit(struct ref *r)
{
	long unit = 0;

	if (r->end - r->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = ref_hex(r->p[i]);

		if (h < 0)
			return -1;
		unit = unit * 16 + h;
	}
	r->p += 4;
	return unit;
}

static bool
ref_escape(struct ref *r)
{
	long unit, low;

	if (r->p == r->end)
		return false;
	switch (*r->p++) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		return true;
	case 'u':
		if ((unit = ref_unit(r)) < 0)
			return false;
		if ((r->flags & LAX_SURROGATES) != 0 || unit < 0xd800 || unit > 0xdfff)
			return true;
		if (unit >= 0xdc00 || !ref_eat(r, "\\u") || (low = ref_unit(r)) < 0)
			return false;
		return low >= 0xdc00 && low <= 0xdfff;
	default:
		return false;
	}
}

static bool
ref_utf8(struct ref *r)
{
	const unsigned char *p = r->p;
	unsigned char c = *p;
	unsigned int extra;
	unsigned long cp;

	if ((r->flags & LAX_UTF8) != 0) {
		/* json-c: the lead byte gives the count of 80..BF bytes */
		if (c >= 0xc0 && c <= 0xdf)
			extra = 1;
		else if (c >= 0xe0 && c <= 0xef)
			extra = 2;
		else if (c >= 0xf0 && c <= 0xf7)
			extra = 3;
		else
			return false;
	} else if (c >= 0xc2 && c <= 0xdf) {
		extra = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		extra = 2;
	} else if (c >= 0xf0 && c <= 0xf4) {
		extra = 3;
	} else {
		return false;
	}
	if ((size_t)(r->end - p) <= extra)
		return false;
	cp = c & (0x3f >> extra);
	for (unsigned int i = 1; i <= extra; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((r->flags & LAX_UTF8) == 0) {
		/* decoded: the shortest form, no surrogate, in range */
		static const unsigned long min[] = { 0, 0x80, 0x800, 0x10000 };

		if (cp < min[extra] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
	}
	r->p += extra + 1;
	return true;
}

static bool
ref_string(struct ref *r, unsigned char quote)
{
	r->p++;
	for (;;) {
		unsigned char c;

		if (r->p == r->end)
			return false;
		c = *r->p;
		if (c == quote) {
			r->p++;
			return true;
		}
		if (c == '\\') {
			r->p++;
			if (!ref_escape(r))
				return false;
		} else if (c == 0 || (c < 0x20 && (r->flags & LAX_CONTROL) == 0)) {
			return false;
		} else if (c < 0x80) {
			r->p++;
		} else if (!ref_utf8(r)) {
			return false;
		}
	}
}

static bool
ref_digits(struct ref *r)
{
	const unsigned char *start = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > start;
}

static bool
ref_number_strict(struct ref *r)
{
	if (*r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (r->p == r->end || *r->p < '1' || *r->p > '9' || !ref_digits(r))
		return false;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (!ref_digits(r))
			return false;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!ref_digits(r))
			return false;
	}
	/* a digit right after "0" or "-0": a leading zero */
	return r->p == r->end || *r->p < '0' || *r->p > '9';
}

/* json_tokener.c's number state (0.16) and its conversions. */
static bool
ref_number_jsonc(struct ref *r, unsigned int level)
{
	const unsigned char *start = r->p;
	bool is_double = false, is_exponent = false, neg_ok = true, pos_ok = false;
	char buf[4096], *end;
	size_t len;
	unsigned char c;

	while (r->p < r->end) {
		c = *r->p;
		if (!((c >= '0' && c <= '9') ||
		      (!is_exponent && (c == 'e' || c == 'E')) ||
		      (neg_ok && c == '-') || (pos_ok && c == '+') ||
		      (!is_double && c == '.')))
			break;
		neg_ok = pos_ok = false;
		if (c == '.') {
			is_double = true;
			neg_ok = pos_ok = true;
		} else if (c == 'e' || c == 'E') {
			is_exponent = is_double = true;
			neg_ok = pos_ok = true;
		}
		r->p++;
	}
	len = (size_t)(r->p - start);
	if (level > 0) {
		if (r->p == r->end)
			return false;
		c = *r->p;
		if (c != ',' && c != ']' && c != '}' && c != '/' && c != 'I' &&
		    c != 'i' && !ref_is_ws(c))
			return false;
	}
	if (len == 1 && *start == '-' && r->p < r->end && (*r->p == 'I' || *r->p == 'i'))
		return (r->flags & NAN_INFINITY) != 0 && ref_eat(r, "Infinity");
	if (len >= sizeof(buf))
		return false; /* inputs stay far below */
	memcpy(buf, start, len);
	buf[len] = '\0';
	if (is_double) {
		(void)strtod(buf, &end);
		return end == buf + len;
	}
	/* json_parse_int64() / json_parse_uint64(): at least one digit */
	if (len == (buf[0] == '-' ? 1U : 0U))
		return false;
	if (buf[0] != '-' && buf[0] == '0' && strspn(buf, "0") != len)
		return false; /* STRICT: a non-zero value with a leading 0 */
	return true;
}

static bool
ref_container(struct ref *r, unsigned int level, bool object)
{
	unsigned char close = object ? '}' : ']';

	r->p++;
	ref_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return true;
	}
	for (;;) {
		if (object) {
			if (r->p == r->end)
				return false;
			if (*r->p == '"' || (*r->p == '\'' && (r->flags & QUOTED_NAMES) != 0)) {
				if (!ref_string(r, *r->p))
					return false;
			} else {
				return false;
			}
			ref_ws(r);
			if (!ref_eat(r, ":"))
				return false;
			ref_ws(r);
		}
		if (!ref_value(r, level + 1))
			return false;
		ref_ws(r);
		if (r->p == r->end)
			return false;
		if (*r->p == close) {
			r->p++;
			return true;
		}
		if (*r->p != ',')
			return false;
		r->p++;
		ref_ws(r);
	}
}

/* level: the arrays and objects around the value */
static bool
ref_value(struct ref *r, unsigned int level)
{
	if ((r->flags & JSONC_DEPTH) != 0 && level >= MOA2_JSON_MAX_DEPTH)
		return false;
	if (r->p == r->end)
		return false;
	switch (*r->p) {
	case '{':
	case '[':
		if (level >= MOA2_JSON_MAX_DEPTH)
			return false;
		return ref_container(r, level, *r->p == '{');
	case '"':
		return ref_string(r, '"');
	case 't':
		return ref_eat(r, "true");
	case 'f':
		return ref_eat(r, "false");
	case 'n':
		return ref_eat(r, "null");
	case 'N':
		return (r->flags & NAN_INFINITY) != 0 && ref_eat(r, "NaN");
	case 'I':
		return (r->flags & NAN_INFINITY) != 0 && ref_eat(r, "Infinity");
	default:
		if (*r->p != '-' && (*r->p < '0' || *r->p > '9'))
			return false;
		return (r->flags & LAX_NUMBERS) != 0 ? ref_number_jsonc(r, level) :
			ref_number_strict(r);
	}
}

static bool
ref_parse(const uint8_t *data, size_t size, unsigned int flags)
{
	struct ref r = { data, data + size, flags };

	ref_ws(&r);
	if (!ref_value(&r, 0))
		return false;
	ref_ws(&r);
	return r.p == r.end;
}

/* ------------------------------------------------------------ the trees */

/* The input has an escaped pair json-c 0.16 decodes wrongly (see above);
   set per input, compared only when both parsers accepted (so every
   backslash starts an escape). */
static bool jsonc_pair_bug;

static bool
find_jsonc_pair_bug(const uint8_t *data, size_t size)
{
	struct ref r = { data, data + size, 0 };
	long high, low;

	while (r.p < r.end) {
		if (*r.p++ != '\\' || r.p == r.end)
			continue;
		if (*r.p++ != 'u' || (high = ref_unit(&r)) < 0)
			continue;
		if (high >= 0xd800 && high <= 0xdbff && (high & 0x3e) == 0x36 &&
		    ref_eat(&r, "\\u") && (low = ref_unit(&r)) >= 0xdc00 &&
		    low <= 0xdfff)
			return true;
	}
	return false;
}

/* bytes hold a code point >= U+10000 with bits 11-15 of a surrogate */
static bool
has_mangled_cp(const char *bytes, size_t len)
{
	const unsigned char *p = (const unsigned char *)bytes;

	for (size_t i = 0; i + 3 < len; i++) {
		if (p[i] >= 0xf0) {
			unsigned long cp = (unsigned long)(p[i] & 0x07) << 18 |
				(unsigned long)(p[i + 1] & 0x3f) << 12 |
				(unsigned long)(p[i + 2] & 0x3f) << 6 | (p[i + 3] & 0x3f);

			if ((cp & 0xf800) == 0xd800)
				return true;
		}
	}
	return false;
}

static void compare(const struct moa2_json *ours, struct json_object *theirs);

static void
compare_number(const struct moa2_json *ours, struct json_object *theirs)
{
	const char *text = moa2_json_scalar_text(ours);
	bool integer = strpbrk(text, ".eE") == NULL;
	int64_t i;
	double d, jd;

	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(moa2_json_double(ours, &d));
	if (!integer) {
		FUZZ_CHECK(!moa2_json_int64(ours, &i));
		FUZZ_CHECK(json_object_is_type(theirs, json_type_double));
		jd = json_object_get_double(theirs);
		FUZZ_CHECK(memcmp(&d, &jd, sizeof(d)) == 0);
		return;
	}
	FUZZ_CHECK(json_object_is_type(theirs, json_type_int));
	if (moa2_json_int64(ours, &i)) {
		FUZZ_CHECK(json_object_get_int64(theirs) == i);
		FUZZ_CHECK(d == (double)i);
	} else if (text[0] == '-') {
		FUZZ_CHECK(json_object_get_int64(theirs) == INT64_MIN);
	} else {
		FUZZ_CHECK(json_object_get_uint64(theirs) > (uint64_t)INT64_MAX);
	}
}

/* The member after which no later one has that name; cut: names compared
   as C strings, as json-c sees them. */
static const struct moa2_json *
last_member(const struct moa2_json *object, size_t idx, bool cut)
{
	const char *name, *other;
	size_t name_len, other_len;
	const struct moa2_json *last = moa2_json_object_member(object, idx, &name, &name_len);

	for (size_t j = idx + 1; j < moa2_json_object_len(object); j++) {
		const struct moa2_json *value =
			moa2_json_object_member(object, j, &other, &other_len);

		if (cut ? strcmp(other, name) == 0 :
		    other_len == name_len && memcmp(other, name, name_len) == 0)
			last = value;
	}
	return last;
}

/* The typed getters of json.h on value, the member found for name. */
static void
check_getters(const struct moa2_json *object, const char *name,
	      const struct moa2_json *value)
{
	const char *str;
	int64_t i, vi, date;
	double d;
	bool b;
	int ret;

	ret = moa2_json_get_string(object, name, &str);
	FUZZ_CHECK(ret == (moa2_json_string(value) != NULL ? 1 : -1));
	FUZZ_CHECK(str == moa2_json_string(value));
	ret = moa2_json_get_int64(object, name, &i);
	FUZZ_CHECK(ret == (moa2_json_int64(value, &vi) ? 1 : -1) && i == vi);
	ret = moa2_json_get_bool(object, name, &b);
	if (moa2_json_type(value) == MOA2_JSON_BOOL)
		FUZZ_CHECK(ret == 1 &&
			   strcmp(moa2_json_scalar_text(value), b ? "true" : "false") == 0);
	else
		FUZZ_CHECK(ret == -1 && !b);
	ret = moa2_json_get_numeric_date(object, name, &date);
	if (moa2_json_int64(value, &vi))
		FUZZ_CHECK(ret == 1 && date == vi);
	else if (moa2_json_double(value, &d) && d > -9.2e18 && d < 9.2e18)
		FUZZ_CHECK(ret == 1 && date == (int64_t)d);
	else
		FUZZ_CHECK(ret == -1 && date == 0);
}

/* json-c keeps one member per name cut at a NUL: at the first position,
   with the last value. */
static void
compare_object(const struct moa2_json *ours, struct json_object *theirs)
{
	size_t count = moa2_json_object_len(ours), unique = 0, name_len;
	const char *name, *earlier;
	struct json_object_iterator it = json_object_iter_begin(theirs);
	struct json_object_iterator it_end = json_object_iter_end(theirs);

	if (jsonc_pair_bug) {
		for (size_t i = 0; i < count; i++) {
			moa2_json_object_member(ours, i, &name, &name_len);
			if (has_mangled_cp(name, name_len))
				return; /* json-c's names are not these */
		}
	}
	for (size_t i = 0; i < count; i++) {
		const struct moa2_json *value, *found;
		bool seen = false;

		value = moa2_json_object_member(ours, i, &name, &name_len);
		FUZZ_CHECK(value != NULL && name != NULL && name[name_len] == '\0');
		/* the core's lookup: the last member of that name */
		if (strlen(name) == name_len) {
			FUZZ_CHECK(moa2_json_get(ours, name, &found) == 1 &&
				   found == last_member(ours, i, false));
			check_getters(ours, name, found);
		}
		for (size_t j = 0; j < i && !seen; j++) {
			moa2_json_object_member(ours, j, &earlier, NULL);
			seen = strcmp(earlier, name) == 0;
		}
		if (seen)
			continue;
		FUZZ_CHECK(!json_object_iter_equal(&it, &it_end));
		FUZZ_CHECK(strcmp(json_object_iter_peek_name(&it), name) == 0);
		compare(last_member(ours, i, true), json_object_iter_peek_value(&it));
		json_object_iter_next(&it);
		unique++;
	}
	FUZZ_CHECK(json_object_iter_equal(&it, &it_end));
	FUZZ_CHECK((size_t)json_object_object_length(theirs) == unique);
	FUZZ_CHECK(moa2_json_object_member(ours, count, &name, NULL) == NULL);
}

static void
compare(const struct moa2_json *ours, struct json_object *theirs)
{
	const char *bytes;
	size_t len;

	switch (moa2_json_type(ours)) {
	case MOA2_JSON_NULL:
		FUZZ_CHECK(theirs == NULL);
		FUZZ_CHECK(moa2_json_scalar_text(ours) == NULL);
		break;
	case MOA2_JSON_BOOL:
		FUZZ_CHECK(json_object_is_type(theirs, json_type_boolean));
		FUZZ_CHECK(strcmp(moa2_json_scalar_text(ours),
				  json_object_get_boolean(theirs) ? "true" : "false") == 0);
		break;
	case MOA2_JSON_NUMBER:
		compare_number(ours, theirs);
		break;
	case MOA2_JSON_STRING:
		FUZZ_CHECK(json_object_is_type(theirs, json_type_string));
		bytes = moa2_json_string_bytes(ours, &len);
		FUZZ_CHECK(bytes != NULL && bytes[len] == '\0');
		if (!jsonc_pair_bug || !has_mangled_cp(bytes, len)) {
			FUZZ_CHECK((size_t)json_object_get_string_len(theirs) == len);
			FUZZ_CHECK(memcmp(json_object_get_string(theirs), bytes, len) == 0);
		}
		/* the C-string getters refuse an embedded NUL */
		if (memchr(bytes, '\0', len) != NULL)
			FUZZ_CHECK(moa2_json_string(ours) == NULL &&
				   moa2_json_scalar_text(ours) == NULL);
		else
			FUZZ_CHECK(moa2_json_string(ours) == bytes &&
				   moa2_json_scalar_text(ours) == bytes);
		break;
	case MOA2_JSON_ARRAY:
		FUZZ_CHECK(json_object_is_type(theirs, json_type_array));
		len = moa2_json_array_len(ours);
		FUZZ_CHECK(json_object_array_length(theirs) == len);
		for (size_t i = 0; i < len; i++)
			compare(moa2_json_array_get(ours, i),
				json_object_array_get_idx(theirs, i));
		FUZZ_CHECK(moa2_json_array_get(ours, len) == NULL);
		break;
	case MOA2_JSON_OBJECT:
		FUZZ_CHECK(json_object_is_type(theirs, json_type_object));
		compare_object(ours, theirs);
		break;
	default:
		FUZZ_CHECK(!"unknown type");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moa2_json *json = (struct moa2_json *)1;
	struct json_object *obj;
	const char *error = NULL;
	bool ours, theirs;

	ours = moa2_json_parse((const char *)data, size, &json, &error) == 0;
	if (ours)
		FUZZ_CHECK(json != NULL);
	else
		FUZZ_CHECK(json == NULL && error != NULL && error[0] != '\0');
	theirs = jsonc_parse((const char *)data, size, &obj);

	FUZZ_CHECK(ours == ref_parse(data, size, 0));
	FUZZ_CHECK(theirs == ref_parse(data, size, JSONC_DIALECT));
	if (ours && theirs) {
		jsonc_pair_bug = find_jsonc_pair_bug(data, size);
		compare(json, obj);
	}
	json_object_put(obj);
	moa2_json_free(&json);
	FUZZ_CHECK(json == NULL);
	return 0;
}
