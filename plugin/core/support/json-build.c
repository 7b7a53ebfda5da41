/* SPDX-License-Identifier: MIT */
/* Building JSON text (see json.h): a flat object of strings. Failure
   behaviour: NULL on ENOMEM, nothing else can fail. */
#include "config.h"
#include "support/json.h"

#include <stdlib.h>
#include <string.h>

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
