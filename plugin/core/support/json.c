/* SPDX-License-Identifier: MIT */
/* The core's JSON parser: strict RFC 8259, bounded, one arena per document.

   A document is one malloc(): its root node, a node area and a string area
   of len + 1 bytes (every string, unescaped and NUL-terminated, and every
   number's literal text fit there: see parse_string). Values of open arrays
   and objects wait on a pending stack (on the C stack while small); when
   one closes, its values are copied to the node area as one contiguous
   array, so array_get is O(1) and nothing is malloc()ed per node. The node
   area grows by extra chunks only when the first guess was too small.
   Member names are string nodes: an object of n members holds 2n nodes,
   name and value alternating, in document order. */
#include "config.h"
#include "support/json.h"

#include <limits.h>
#include <locale.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#define NODE_INT64 0x01	 /* number: an integer that fits int64_t */
#define NODE_HAS_NUL 0x02 /* string: an embedded NUL (from \u0000) */
#define NODE_TRUE 0x04	 /* boolean: true */

struct moa2_json {
	uint8_t type; /* enum moa2_json_type */
	uint8_t flags;
	/* bytes of a string or number text; values of an array; 2 * members */
	uint32_t len;
	union {
		const char *text;
		const struct moa2_json *items;
	} u;
	union {
		int64_t i;
		double d;
	} num;
};

struct json_chunk {
	struct json_chunk *next;
	struct moa2_json nodes[];
};

struct json_doc {
	struct moa2_json root; /* first: a document is handed out as its root */
	struct json_chunk *chunks; /* node chunks beyond the first guess */
	char *strings;
	size_t strings_used;
};

#define PENDING_LOCAL 128
#define FIRST_NODES_MAX (1U << 16)

struct json_parser {
	const unsigned char *p, *end;
	char *out; /* next free byte of the string area */
	struct moa2_json *free_nodes, *nodes_end;
	size_t next_chunk_nodes;
	struct json_doc *doc;
	struct moa2_json *pending; /* values of the open containers */
	size_t top, cap;
	const char *error;
};

static const char err_truncated[] = "truncated JSON document";
static const char err_nomem[] = "out of memory";

static int
fail(struct json_parser *ps, const char *error)
{
	ps->error = error;
	return -1;
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static struct moa2_json *
push(struct json_parser *ps)
{
	if (ps->top == ps->cap) {
		size_t cap = ps->cap * 2;
		struct moa2_json *pending;

		if (cap > SIZE_MAX / sizeof(*pending))
			return NULL;
		if (ps->cap == PENDING_LOCAL) {
			pending = malloc(cap * sizeof(*pending));
			if (pending != NULL)
				memcpy(pending, ps->pending, ps->top * sizeof(*pending));
		} else {
			pending = realloc(ps->pending, cap * sizeof(*pending));
		}
		if (pending == NULL)
			return NULL;
		ps->pending = pending;
		ps->cap = cap;
	}
	return &ps->pending[ps->top++];
}

static struct moa2_json *
alloc_nodes(struct json_parser *ps, size_t count)
{
	struct moa2_json *nodes;

	if ((size_t)(ps->nodes_end - ps->free_nodes) < count) {
		size_t n = count > ps->next_chunk_nodes ? count : ps->next_chunk_nodes;
		struct json_chunk *chunk;

		if (n > (SIZE_MAX - sizeof(*chunk)) / sizeof(chunk->nodes[0]))
			return NULL;
		chunk = malloc(sizeof(*chunk) + n * sizeof(chunk->nodes[0]));
		if (chunk == NULL)
			return NULL;
		chunk->next = ps->doc->chunks;
		ps->doc->chunks = chunk;
		ps->free_nodes = chunk->nodes;
		ps->nodes_end = chunk->nodes + n;
		ps->next_chunk_nodes = n * 2;
	}
	nodes = ps->free_nodes;
	ps->free_nodes += count;
	return nodes;
}

/* Moves the values pending since base into the node area: they become the
   items of a new array or object, pending in their place. */
static int
close_container(struct json_parser *ps, size_t base, enum moa2_json_type type)
{
	size_t count = ps->top - base;
	struct moa2_json *items = NULL, *node;

	if (count > 0) {
		if ((items = alloc_nodes(ps, count)) == NULL)
			return fail(ps, err_nomem);
		memcpy(items, &ps->pending[base], count * sizeof(*items));
	}
	ps->top = base;
	if ((node = push(ps)) == NULL)
		return fail(ps, err_nomem);
	node->type = type;
	node->flags = 0;
	node->len = (uint32_t)count;
	node->u.items = items;
	node->num.i = 0;
	return 0;
}

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
static int
parse_string(struct json_parser *ps, struct moa2_json *node)
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
static int
parse_number(struct json_parser *ps, struct moa2_json *node)
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

/* ------------------------------------------------------------ structure */

static int parse_value(struct json_parser *ps, unsigned int depth);

static int
parse_literal(struct json_parser *ps, const char *word, size_t len,
	      enum moa2_json_type type, uint8_t flags)
{
	size_t avail = (size_t)(ps->end - ps->p);
	struct moa2_json *node;

	if (avail < len) {
		return fail(ps, memcmp(ps->p, word, avail) == 0 ?
			    err_truncated : "invalid JSON");
	}
	if (memcmp(ps->p, word, len) != 0)
		return fail(ps, "invalid JSON");
	if ((node = push(ps)) == NULL)
		return fail(ps, err_nomem);
	node->type = type;
	node->flags = flags;
	node->len = 0;
	node->u.text = NULL;
	node->num.i = 0;
	ps->p += len;
	return 0;
}

static int
parse_array(struct json_parser *ps, unsigned int depth)
{
	size_t base = ps->top;

	ps->p = skip_ws(ps->p + 1, ps->end);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return close_container(ps, base, MOA2_JSON_ARRAY);
	}
	for (;;) {
		if (parse_value(ps, depth) < 0)
			return -1;
		ps->p = skip_ws(ps->p, ps->end);
		if (ps->p == ps->end)
			return fail(ps, err_truncated);
		if (*ps->p == ']')
			break;
		if (*ps->p != ',')
			return fail(ps, "expected ',' or ']' in a JSON array");
		ps->p = skip_ws(ps->p + 1, ps->end);
	}
	ps->p++;
	return close_container(ps, base, MOA2_JSON_ARRAY);
}

static int
parse_object(struct json_parser *ps, unsigned int depth)
{
	size_t base = ps->top;
	struct moa2_json *name;

	ps->p = skip_ws(ps->p + 1, ps->end);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return close_container(ps, base, MOA2_JSON_OBJECT);
	}
	for (;;) {
		if (ps->p == ps->end)
			return fail(ps, err_truncated);
		if (*ps->p != '"')
			return fail(ps, "expected a member name in a JSON object");
		if ((name = push(ps)) == NULL)
			return fail(ps, err_nomem);
		if (parse_string(ps, name) < 0)
			return -1;
		ps->p = skip_ws(ps->p, ps->end);
		if (ps->p == ps->end)
			return fail(ps, err_truncated);
		if (*ps->p != ':')
			return fail(ps, "expected ':' in a JSON object");
		ps->p = skip_ws(ps->p + 1, ps->end);
		if (parse_value(ps, depth) < 0)
			return -1;
		ps->p = skip_ws(ps->p, ps->end);
		if (ps->p == ps->end)
			return fail(ps, err_truncated);
		if (*ps->p == '}')
			break;
		if (*ps->p != ',')
			return fail(ps, "expected ',' or '}' in a JSON object");
		ps->p = skip_ws(ps->p + 1, ps->end);
	}
	ps->p++;
	return close_container(ps, base, MOA2_JSON_OBJECT);
}

/* One value at ps->p, inside depth arrays/objects; pushed when parsed. */
static int
parse_value(struct json_parser *ps, unsigned int depth)
{
	struct moa2_json *node;

	if (ps->p == ps->end)
		return fail(ps, err_truncated);
	switch (*ps->p) {
	case '"':
		if ((node = push(ps)) == NULL)
			return fail(ps, err_nomem);
		return parse_string(ps, node);
	case '{':
	case '[':
		if (depth >= MOA2_JSON_MAX_DEPTH)
			return fail(ps, "JSON nested too deeply");
		return *ps->p == '{' ? parse_object(ps, depth + 1) :
			parse_array(ps, depth + 1);
	case 't':
		return parse_literal(ps, "true", 4, MOA2_JSON_BOOL, NODE_TRUE);
	case 'f':
		return parse_literal(ps, "false", 5, MOA2_JSON_BOOL, 0);
	case 'n':
		return parse_literal(ps, "null", 4, MOA2_JSON_NULL, 0);
	default:
		if (*ps->p != '-' && !is_digit(*ps->p))
			return fail(ps, "invalid JSON");
		if ((node = push(ps)) == NULL)
			return fail(ps, err_nomem);
		return parse_number(ps, node);
	}
}

static void
doc_free(struct json_doc *doc)
{
	struct json_chunk *chunk, *next;

	/* strings may be secrets (tokens, client secrets, private keys) */
	OPENSSL_cleanse(doc->strings, doc->strings_used);
	for (chunk = doc->chunks; chunk != NULL; chunk = next) {
		next = chunk->next;
		free(chunk);
	}
	free(doc);
}

int
moa2_json_parse(const char *data, size_t len, struct moa2_json **json_r,
		const char **error_r)
{
	struct moa2_json local[PENDING_LOCAL];
	struct json_parser ps;
	struct json_doc *doc;
	size_t first_nodes;
	int ret;

	*json_r = NULL;
	if (len > INT_MAX) {
		*error_r = "document too large";
		return -1;
	}
	if (skip_ws((const unsigned char *)data,
		    (const unsigned char *)data + len) == (const unsigned char *)data + len) {
		*error_r = "empty document";
		return -1;
	}
	/* a guess that holds typical documents (one node per 10 to 20 bytes)
	   in the first and only allocation */
	first_nodes = len / 8 + 8;
	if (first_nodes > FIRST_NODES_MAX)
		first_nodes = FIRST_NODES_MAX;
	doc = malloc(sizeof(*doc) + first_nodes * sizeof(struct moa2_json) + len + 1);
	if (doc == NULL) {
		*error_r = err_nomem;
		return -1;
	}
	doc->chunks = NULL;
	doc->strings = (char *)((struct moa2_json *)(doc + 1) + first_nodes);
	doc->strings_used = 0;

	memset(&ps, 0, sizeof(ps));
	ps.p = (const unsigned char *)data;
	ps.end = ps.p + len;
	ps.out = doc->strings;
	ps.free_nodes = (struct moa2_json *)(doc + 1);
	ps.nodes_end = ps.free_nodes + first_nodes;
	ps.next_chunk_nodes = first_nodes * 2;
	ps.doc = doc;
	ps.pending = local;
	ps.cap = PENDING_LOCAL;

	ps.p = skip_ws(ps.p, ps.end);
	ret = parse_value(&ps, 0);
	if (ret == 0 && skip_ws(ps.p, ps.end) != ps.end) {
		ps.error = "data after the JSON document";
		ret = -1;
	}
	doc->strings_used = (size_t)(ps.out - doc->strings);
	if (ret == 0)
		doc->root = ps.pending[0];
	if (ps.pending != local)
		free(ps.pending);
	if (ret < 0) {
		doc_free(doc);
		*error_r = ps.error;
		return -1;
	}
	*json_r = &doc->root;
	return 0;
}

void
moa2_json_free(struct moa2_json **json)
{
	if (*json == NULL)
		return;
	/* the root is the first member of its document */
	doc_free((struct json_doc *)(void *)*json);
	*json = NULL;
}

/* ---------------------------------------------------------------- access */

enum moa2_json_type
moa2_json_type(const struct moa2_json *json)
{
	return json == NULL ? MOA2_JSON_NULL : (enum moa2_json_type)json->type;
}

bool
moa2_json_is_object(const struct moa2_json *json)
{
	return json != NULL && json->type == MOA2_JSON_OBJECT;
}

bool
moa2_json_is_string(const struct moa2_json *json)
{
	return json != NULL && json->type == MOA2_JSON_STRING;
}

bool
moa2_json_is_array(const struct moa2_json *json)
{
	return json != NULL && json->type == MOA2_JSON_ARRAY;
}

int
moa2_json_get(const struct moa2_json *json, const char *key,
	      const struct moa2_json **value_r)
{
	size_t key_len;

	*value_r = NULL;
	if (!moa2_json_is_object(json))
		return 0;
	key_len = strlen(key);
	/* from the end: the last of duplicated names wins */
	for (size_t i = json->len; i > 0; i -= 2) {
		const struct moa2_json *name = &json->u.items[i - 2];

		/* names are NUL-terminated: text[0] exists even for "" */
		if (name->len == key_len && name->u.text[0] == key[0] &&
		    memcmp(name->u.text, key, key_len) == 0) {
			*value_r = &json->u.items[i - 1];
			return 1;
		}
	}
	return 0;
}

/* A string with an embedded NUL ("alice\u0000bob") would read as a shorter
   C string: refuse it so no identity can be truncated. */
static const char *
safe_string(const struct moa2_json *json)
{
	return (json->flags & NODE_HAS_NUL) != 0 ? NULL : json->u.text;
}

int
moa2_json_get_string(const struct moa2_json *json, const char *key,
		     const char **value_r)
{
	const struct moa2_json *value;

	*value_r = NULL;
	if (moa2_json_get(json, key, &value) == 0)
		return 0;
	if (value->type != MOA2_JSON_STRING)
		return -1;
	*value_r = safe_string(value);
	return *value_r == NULL ? -1 : 1;
}

int
moa2_json_get_int64(const struct moa2_json *json, const char *key,
		    int64_t *value_r)
{
	const struct moa2_json *value;

	*value_r = 0;
	if (moa2_json_get(json, key, &value) == 0)
		return 0;
	return moa2_json_int64(value, value_r) ? 1 : -1;
}

int
moa2_json_get_numeric_date(const struct moa2_json *json, const char *key,
			   int64_t *value_r)
{
	const struct moa2_json *value;
	double d;

	*value_r = 0;
	if (moa2_json_get(json, key, &value) == 0)
		return 0;
	if (moa2_json_int64(value, value_r))
		return 1;
	if (!moa2_json_double(value, &d) || !(d > -9.2e18 && d < 9.2e18))
		return -1;
	*value_r = (int64_t)d;
	return 1;
}

const char *
moa2_json_scalar_text(const struct moa2_json *json)
{
	switch (moa2_json_type(json)) {
	case MOA2_JSON_STRING:
		return safe_string(json);
	case MOA2_JSON_NUMBER:
		return json->u.text;
	case MOA2_JSON_BOOL:
		return (json->flags & NODE_TRUE) != 0 ? "true" : "false";
	default:
		return NULL;
	}
}

int
moa2_json_get_bool(const struct moa2_json *json, const char *key,
		   bool *value_r)
{
	const struct moa2_json *value;

	*value_r = false;
	if (moa2_json_get(json, key, &value) == 0)
		return 0;
	if (value->type != MOA2_JSON_BOOL)
		return -1;
	*value_r = (value->flags & NODE_TRUE) != 0;
	return 1;
}

const char *
moa2_json_string(const struct moa2_json *json)
{
	return moa2_json_is_string(json) ? safe_string(json) : NULL;
}

const char *
moa2_json_string_bytes(const struct moa2_json *json, size_t *len_r)
{
	if (!moa2_json_is_string(json)) {
		*len_r = 0;
		return NULL;
	}
	*len_r = json->len;
	return json->u.text;
}

bool
moa2_json_int64(const struct moa2_json *json, int64_t *value_r)
{
	if (json == NULL || json->type != MOA2_JSON_NUMBER ||
	    (json->flags & NODE_INT64) == 0) {
		*value_r = 0;
		return false;
	}
	*value_r = json->num.i;
	return true;
}

bool
moa2_json_double(const struct moa2_json *json, double *value_r)
{
	if (json == NULL || json->type != MOA2_JSON_NUMBER) {
		*value_r = 0;
		return false;
	}
	*value_r = (json->flags & NODE_INT64) != 0 ?
		(double)json->num.i : json->num.d;
	return true;
}

size_t
moa2_json_array_len(const struct moa2_json *json)
{
	return moa2_json_is_array(json) ? json->len : 0;
}

const struct moa2_json *
moa2_json_array_get(const struct moa2_json *json, size_t idx)
{
	if (idx >= moa2_json_array_len(json))
		return NULL;
	return &json->u.items[idx];
}

size_t
moa2_json_object_len(const struct moa2_json *json)
{
	return moa2_json_is_object(json) ? json->len / 2 : 0;
}

const struct moa2_json *
moa2_json_object_member(const struct moa2_json *json, size_t idx,
			const char **name_r, size_t *name_len_r)
{
	const struct moa2_json *name;

	if (idx >= moa2_json_object_len(json)) {
		*name_r = NULL;
		if (name_len_r != NULL)
			*name_len_r = 0;
		return NULL;
	}
	name = &json->u.items[2 * idx];
	*name_r = name->u.text;
	if (name_len_r != NULL)
		*name_len_r = name->len;
	return &json->u.items[2 * idx + 1];
}

/* ---------------------------------------------------------------- output */

/* The escaped form of str, written at out when out is not NULL; returns its
   length. '"' and '\\' get a backslash, control characters \u00XX. */
static size_t
escape_string(const char *str, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = 0;

	for (const unsigned char *p = (const unsigned char *)str; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			if (out != NULL) {
				out[len] = '\\';
				out[len + 1] = (char)*p;
			}
			len += 2;
		} else if (*p < 0x20) {
			if (out != NULL) {
				memcpy(out + len, "\\u00", 4);
				out[len + 4] = hex[*p >> 4];
				out[len + 5] = hex[*p & 0xf];
			}
			len += 6;
		} else {
			if (out != NULL)
				out[len] = (char)*p;
			len++;
		}
	}
	return len;
}

static size_t
write_object(const char *const *pairs, char *out)
{
	size_t len = 1;
	bool first = true;

	if (out != NULL)
		out[0] = '{';
	for (size_t i = 0; pairs[i] != NULL; i += 2) {
		if (pairs[i + 1] == NULL)
			continue;
		if (!first) {
			if (out != NULL)
				out[len] = ',';
			len++;
		}
		first = false;
		if (out != NULL)
			out[len] = '"';
		len++;
		len += escape_string(pairs[i], out == NULL ? NULL : out + len);
		if (out != NULL)
			memcpy(out + len, "\":\"", 3);
		len += 3;
		len += escape_string(pairs[i + 1], out == NULL ? NULL : out + len);
		if (out != NULL)
			out[len] = '"';
		len++;
	}
	if (out != NULL) {
		out[len] = '}';
		out[len + 1] = '\0';
	}
	return len + 1;
}

char *
moa2_json_build_object(const char *const *pairs)
{
	/* strings in memory are far below SIZE_MAX / 6: no overflow */
	size_t len = write_object(pairs, NULL);
	char *out = malloc(len + 1);

	if (out == NULL)
		return NULL;
	write_object(pairs, out);
	return out;
}
