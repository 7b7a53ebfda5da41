/* SPDX-License-Identifier: MIT */
#ifndef MOA2_JSON_H
#define MOA2_JSON_H

/* The core's JSON: a strict RFC 8259 parser of its own (json-c stays a test
   oracle only). Parsing is bounded (size, depth) and strict: one value,
   nothing after it but whitespace, no comments, trailing commas, NaN or
   leading zeros, only the RFC escapes, UTF-8 validated, lone surrogates
   refused. A document is one arena; values borrowed from it live as long as
   the document. Member lookup returns the last member of a duplicated name;
   moa2_json_has_duplicate_names() lets a reader refuse such a document
   instead (the JOSE layer does: RFC 7515 §4 allows either). */

#include "mail-oauth2/common.h"

struct moa2_json;

/* Arrays and objects nest at most this deep ("[[]]" is 2). */
#define MOA2_JSON_MAX_DEPTH 16

enum moa2_json_type {
	MOA2_JSON_NULL,
	MOA2_JSON_BOOL,
	MOA2_JSON_NUMBER,
	MOA2_JSON_STRING,
	MOA2_JSON_ARRAY,
	MOA2_JSON_OBJECT,
};

/* Parses exactly one JSON value from data (len bytes, NULs included; up to
   INT_MAX). Returns 0, or -1 with a static human-readable reason in
   error_r. */
int moa2_json_parse(const char *data, size_t len, struct moa2_json **json_r,
		    const char **error_r);
void moa2_json_free(struct moa2_json **json);

bool moa2_json_is_object(const struct moa2_json *json);
/* Member lookup in an object. Returns 1 and the member, 0 if absent
   (or json is not an object). */
int moa2_json_get(const struct moa2_json *json, const char *key,
		  const struct moa2_json **value_r);
/* Typed member lookup: 1 found with that type, 0 absent, -1 other type
   (or a string with an embedded NUL, or an integer out of range). */
int moa2_json_get_string(const struct moa2_json *json, const char *key,
			 const char **value_r);
int moa2_json_get_int64(const struct moa2_json *json, const char *key,
			int64_t *value_r);
int moa2_json_get_bool(const struct moa2_json *json, const char *key,
		       bool *value_r);

/* NumericDate (RFC 7519 §2): an integer, or a number whose fraction is
   dropped. 1 found, 0 absent, -1 another type or out of range. */
int moa2_json_get_numeric_date(const struct moa2_json *json, const char *key,
			       int64_t *value_r);
/* A string, number or boolean as text ("alice", "42", "true"); NULL for
   null, objects, arrays and strings with an embedded NUL. Borrowed. */
const char *moa2_json_scalar_text(const struct moa2_json *json);

bool moa2_json_is_string(const struct moa2_json *json);
bool moa2_json_is_array(const struct moa2_json *json);
const char *moa2_json_string(const struct moa2_json *json); /* NULL if not a string */
size_t moa2_json_array_len(const struct moa2_json *json);   /* 0 if not an array */
const struct moa2_json *moa2_json_array_get(const struct moa2_json *json, size_t idx);

/* The walk of a whole document (tests, fuzzing, tools). A NULL json is a
   JSON null. */
enum moa2_json_type moa2_json_type(const struct moa2_json *json);
/* A string's bytes and length, embedded NULs included; NULL if not a
   string. */
const char *moa2_json_string_bytes(const struct moa2_json *json, size_t *len_r);
/* A number that is an integer (no fraction, no exponent) within int64. */
bool moa2_json_int64(const struct moa2_json *json, int64_t *value_r);
/* Any number as a double (out of range: +-HUGE_VAL). */
bool moa2_json_double(const struct moa2_json *json, double *value_r);
/* Members of an object in document order, duplicated names included
   (0 / NULL if not an object). name_r gets the NUL-terminated name and
   name_len_r (may be NULL) its length, embedded NULs included. */
size_t moa2_json_object_len(const struct moa2_json *json);
const struct moa2_json *
moa2_json_object_member(const struct moa2_json *json, size_t idx,
			const char **name_r, size_t *name_len_r);

/* Whether an object anywhere in json has two members of the same name
   (compared byte for byte, embedded NULs included). Depth is bounded by
   the parser (MOA2_JSON_MAX_DEPTH). */
bool moa2_json_has_duplicate_names(const struct moa2_json *json);

/* Builds a flat JSON object from NULL-terminated key/value string pairs;
   a pair whose value is NULL is left out. Returns a malloc()ed string
   (compact; '"', '\\' and control characters escaped, '/' and non-ASCII
   UTF-8 kept as they are), NULL on ENOMEM. */
char *moa2_json_build_object(const char *const *pairs);

#endif
