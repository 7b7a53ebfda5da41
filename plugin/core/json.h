#ifndef MOA2_JSON_H
#define MOA2_JSON_H

/* The only wrapper of json-c. Parsing is bounded (size, depth) and strict
   (one value, nothing after it). Values borrowed from a parsed document live
   as long as the document. */

#include "moa2-common.h"

struct moa2_json;

#define MOA2_JSON_MAX_DEPTH 16

/* Parses exactly one JSON value from data. Returns 0, or -1 with a static
   human-readable reason in error_r. */
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

/* Builds a flat JSON object from NULL-terminated key/value string pairs;
   a pair whose value is NULL is left out. Returns a malloc()ed string
   (compact, '/' not escaped), NULL on ENOMEM. */
char *moa2_json_build_object(const char *const *pairs);

#endif
