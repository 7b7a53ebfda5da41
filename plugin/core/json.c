/* The only wrapper of json-c. A struct moa2_json is a json_object. */
#include "config.h"
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

static inline struct json_object *
jobj(const struct moa2_json *json)
{
	return (struct json_object *)json;
}

static bool
only_space_after(const char *data, size_t len, size_t pos)
{
	for (; pos < len; pos++) {
		if (strchr(" \t\r\n", data[pos]) == NULL || data[pos] == '\0')
			return false;
	}
	return true;
}

/* A string with an embedded NUL ("alice\u0000bob") would read as a shorter
   C string: refuse it so no identity can be truncated. */
static const char *
safe_string(struct json_object *obj)
{
	const char *str = json_object_get_string(obj);

	if ((size_t)json_object_get_string_len(obj) != strlen(str))
		return NULL;
	return str;
}

int
moa2_json_parse(const char *data, size_t len, struct moa2_json **json_r,
		const char **error_r)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;

	*json_r = NULL;
	if (len == 0 || len > INT_MAX) {
		*error_r = len == 0 ? "empty document" : "document too large";
		return -1;
	}
	tok = json_tokener_new_ex(MOA2_JSON_MAX_DEPTH);
	if (tok == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* a bare number or literal ends only at the end of input */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_success) {
			json_tokener_free(tok);
			*json_r = (struct moa2_json *)obj;
			return 0;
		}
	}
	if (jerr == json_tokener_continue) {
		*error_r = "truncated JSON document";
	} else if (jerr != json_tokener_success) {
		*error_r = jerr == json_tokener_error_depth ?
			"JSON nested too deeply" : "invalid JSON";
	} else if (!only_space_after(data, len, json_tokener_get_parse_end(tok))) {
		*error_r = "data after the JSON document";
	} else {
		json_tokener_free(tok);
		*json_r = (struct moa2_json *)obj;
		return 0;
	}
	json_object_put(obj);
	json_tokener_free(tok);
	return -1;
}

void
moa2_json_free(struct moa2_json **json)
{
	if (*json == NULL)
		return;
	json_object_put(jobj(*json));
	*json = NULL;
}

bool
moa2_json_is_object(const struct moa2_json *json)
{
	return json_object_is_type(jobj(json), json_type_object);
}

bool
moa2_json_is_string(const struct moa2_json *json)
{
	return json_object_is_type(jobj(json), json_type_string);
}

bool
moa2_json_is_array(const struct moa2_json *json)
{
	return json_object_is_type(jobj(json), json_type_array);
}

int
moa2_json_get(const struct moa2_json *json, const char *key,
	      const struct moa2_json **value_r)
{
	struct json_object *value;

	*value_r = NULL;
	if (!moa2_json_is_object(json) ||
	    !json_object_object_get_ex(jobj(json), key, &value))
		return 0;
	*value_r = (const struct moa2_json *)value;
	return 1;
}

int
moa2_json_get_string(const struct moa2_json *json, const char *key,
		     const char **value_r)
{
	const struct moa2_json *value;

	*value_r = NULL;
	if (moa2_json_get(json, key, &value) == 0)
		return 0;
	if (!moa2_json_is_string(value))
		return -1;
	*value_r = safe_string(jobj(value));
	return *value_r == NULL ? -1 : 1;
}

int
moa2_json_get_int64(const struct moa2_json *json, const char *key,
		    int64_t *value_r)
{
	const struct moa2_json *value;
	int64_t n;

	*value_r = 0;
	if (moa2_json_get(json, key, &value) == 0)
		return 0;
	if (!json_object_is_type(jobj(value), json_type_int))
		return -1;
	errno = 0;
	n = json_object_get_int64(jobj(value));
	/* json-c saturates out-of-range numbers and reports it in errno */
	if (errno != 0)
		return -1;
	*value_r = n;
	return 1;
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
	if (json_object_is_type(jobj(value), json_type_int))
		return moa2_json_get_int64(json, key, value_r);
	if (!json_object_is_type(jobj(value), json_type_double))
		return -1;
	d = json_object_get_double(jobj(value));
	if (!(d > -9.2e18 && d < 9.2e18))
		return -1;
	*value_r = (int64_t)d;
	return 1;
}

const char *
moa2_json_scalar_text(const struct moa2_json *json)
{
	switch (json_object_get_type(jobj(json))) {
	case json_type_string:
		return safe_string(jobj(json));
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		return json_object_get_string(jobj(json));
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
	if (!json_object_is_type(jobj(value), json_type_boolean))
		return -1;
	*value_r = json_object_get_boolean(jobj(value)) != 0;
	return 1;
}

const char *
moa2_json_string(const struct moa2_json *json)
{
	return moa2_json_is_string(json) ? safe_string(jobj(json)) : NULL;
}

size_t
moa2_json_array_len(const struct moa2_json *json)
{
	return moa2_json_is_array(json) ? json_object_array_length(jobj(json)) : 0;
}

const struct moa2_json *
moa2_json_array_get(const struct moa2_json *json, size_t idx)
{
	if (idx >= moa2_json_array_len(json))
		return NULL;
	return (const struct moa2_json *)json_object_array_get_idx(jobj(json), idx);
}

char *
moa2_json_build_object(const char *const *pairs)
{
	struct json_object *obj = json_object_new_object();
	char *out = NULL;

	if (obj == NULL)
		return NULL;
	for (size_t i = 0; pairs[i] != NULL; i += 2) {
		struct json_object *value;

		if (pairs[i + 1] == NULL)
			continue;
		value = json_object_new_string(pairs[i + 1]);
		if (value == NULL || json_object_object_add(obj, pairs[i], value) < 0) {
			json_object_put(value);
			goto out;
		}
	}
	out = strdup(json_object_to_json_string_ext(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	json_object_put(obj);
	return out;
}
