/* SPDX-License-Identifier: MIT */
/* The core's JSON parser: strict RFC 8259, bounded, one arena per document.

   A document is one malloc(): its root node, a node area and a string area
   of len + 1 bytes (every string, unescaped and NUL-terminated, and every
   number's literal text fit there: see json-lex.c). Values of open arrays
   and objects wait on a pending stack (on the C stack while small); when
   one closes, its values are copied to the node area as one contiguous
   array, so array_get is O(1) and nothing is malloc()ed per node. The node
   area grows by extra chunks only when the first guess was too small.
   Member names are string nodes: an object of n members holds 2n nodes,
   name and value alternating, in document order. This file holds the
   structure and the access functions; strings and numbers are lexed in
   json-lex.c, JSON text is built in json-build.c. */
#include "config.h"
#include "support/json-private.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

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
		if (moa2_json_lex_string(ps, name) < 0)
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
		return moa2_json_lex_string(ps, node);
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
		return moa2_json_lex_number(ps, node);
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
