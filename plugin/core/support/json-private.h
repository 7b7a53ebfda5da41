/* SPDX-License-Identifier: MIT */
#ifndef MOA2_JSON_PRIVATE_H
#define MOA2_JSON_PRIVATE_H

/* The JSON parser's insides, shared by its files: the node and document
   layout (json.c reads it), the parser state, and the lexer of strings and
   numbers (json-lex.c). Nothing outside support/json*.c includes this. */

#include "support/json.h"

#include <stdint.h>

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

static inline int
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

/* The string at ps->p (a '"'), unescaped into the string area; the
   number at ps->p, its text copied there. 0, or -1 with ps->error. */
int moa2_json_lex_string(struct json_parser *ps, struct moa2_json *node);
int moa2_json_lex_number(struct json_parser *ps, struct moa2_json *node);

#endif
