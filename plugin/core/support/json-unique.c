/* SPDX-License-Identifier: MIT */
/* Duplicate member names (see json.h): a document where two readers could
   see two different values of one member. Failure behaviour: out of memory
   aborts (the sort needs one array of names per object). */
#include "config.h"
#include "support/json.h"

#include <stdlib.h>
#include <string.h>

struct member_name {
	const char *name;
	size_t len;
};

static int
name_cmp(const void *a, const void *b)
{
	const struct member_name *x = a, *y = b;
	size_t len = x->len < y->len ? x->len : y->len;
	int ret = memcmp(x->name, y->name, len);

	if (ret != 0)
		return ret;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

/* n log n: a 1 MiB answer of distinct names stays cheap */
static bool
object_has_duplicate(const struct moa2_json *json)
{
	size_t count = moa2_json_object_len(json);
	struct member_name *names;
	bool found = false;

	if (count < 2)
		return false;
	if ((names = calloc(count, sizeof(*names))) == NULL)
		abort();
	for (size_t i = 0; i < count; i++)
		(void)moa2_json_object_member(json, i, &names[i].name, &names[i].len);
	qsort(names, count, sizeof(*names), name_cmp);
	for (size_t i = 1; i < count && !found; i++)
		found = name_cmp(&names[i - 1], &names[i]) == 0;
	free(names);
	return found;
}

bool
moa2_json_has_duplicate_names(const struct moa2_json *json)
{
	switch (moa2_json_type(json)) {
	case MOA2_JSON_OBJECT:
		if (object_has_duplicate(json))
			return true;
		for (size_t i = 0; i < moa2_json_object_len(json); i++) {
			const char *name;

			if (moa2_json_has_duplicate_names(moa2_json_object_member(json, i, &name, NULL)))
				return true;
		}
		return false;
	case MOA2_JSON_ARRAY:
		for (size_t i = 0; i < moa2_json_array_len(json); i++) {
			if (moa2_json_has_duplicate_names(moa2_json_array_get(json, i)))
				return true;
		}
		return false;
	default:
		return false;
	}
}
