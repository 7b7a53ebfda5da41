/* SPDX-License-Identifier: MIT */
/* The messages of the config parser: "FILE:LINE: ..." (see config-parser.h),
   the first error of a parse, the cross-field errors of the consumers, and
   what an unknown or repeated key is told (with the closest key of the
   section, when one is near).

   Failure behaviour: only the first error of a parse is kept; a later one
   is dropped. A message that cannot be allocated becomes "out of memory"
   (moa2_config_error() returns NULL then), never a missing error. A
   message names the key and the file, never a secret value. */

#include "config.h"
#include "support/config-parser-private.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUGGEST_MAX_DISTANCE 2

/* ---------------------------------------------------------------- errors */

static char * __attribute__((format(printf, 1, 0)))
vformat(const char *fmt, va_list args)
{
	va_list copy;
	char *str;
	int len;

	va_copy(copy, args);
	len = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (len < 0)
		return NULL;
	str = malloc((size_t)len + 1);
	if (str != NULL)
		vsnprintf(str, (size_t)len + 1, fmt, args);
	return str;
}

char *
moa2_config_error(const struct moa2_config *config, unsigned int line,
		  const char *fmt, ...)
{
	char *msg, *full;
	size_t len;
	va_list args;

	va_start(args, fmt);
	msg = vformat(fmt, args);
	va_end(args);
	if (msg == NULL)
		return NULL;
	len = strlen(config->file) + strlen(msg) + 16;
	full = malloc(len);
	if (full != NULL) {
		if (line > 0)
			snprintf(full, len, "%s:%u: %s", config->file, line, msg);
		else
			snprintf(full, len, "%s: %s", config->file, msg);
	}
	free(msg);
	return full;
}

int
moa2_config_key_verror(char **error_r, const struct moa2_config *config,
		       const struct moa2_config_section *section,
		       bool name_section, const char *key,
		       const char *fmt, va_list args)
{
	char *msg;

	if (*error_r != NULL)
		return -1;
	msg = moa2_strdup_vprintf(fmt, args);
	if (name_section && section->name != NULL)
		*error_r = moa2_config_error(config, moa2_config_section_line(section, key),
					     "[%s %s] key '%s': %s", section->kind->name,
					     section->name, key, msg);
	else
		*error_r = moa2_config_error(config, moa2_config_section_line(section, key),
					     "key '%s': %s", key, msg);
	free(msg);
	return -1;
}

/* Records the first error at the current line. Always returns -1. */
int
moa2_config_fail(struct moa2_config_parser *p, const char *fmt, ...)
{
	char *msg;
	va_list args;

	if (p->error != NULL)
		return -1;
	va_start(args, fmt);
	msg = vformat(fmt, args);
	va_end(args);
	p->error = msg == NULL ? NULL :
		moa2_config_error(p->config, p->line, "%s", msg);
	free(msg);
	if (p->error == NULL)
		p->error = strdup("out of memory");
	return -1;
}

int
moa2_config_oom(struct moa2_config_parser *p)
{
	return moa2_config_fail(p, "out of memory");
}

char *
moa2_config_file_error(const char *path, const char *fmt, ...)
{
	struct moa2_config config = { .file = (char *)path };
	char *msg, *full;
	va_list args;

	va_start(args, fmt);
	msg = vformat(fmt, args);
	va_end(args);
	full = msg == NULL ? NULL : moa2_config_error(&config, 0, "%s", msg);
	free(msg);
	return full != NULL ? full : strdup("out of memory");
}

/* ----------------------------------------------------------- suggestions */

static unsigned int
edit_distance(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	unsigned int row[MOA2_CONFIG_SUGGEST_MAX_KEY_LEN + 1];

	if (alen > MOA2_CONFIG_SUGGEST_MAX_KEY_LEN || blen > MOA2_CONFIG_SUGGEST_MAX_KEY_LEN)
		return UINT_MAX;
	for (size_t j = 0; j <= blen; j++)
		row[j] = (unsigned int)j;
	for (size_t i = 1; i <= alen; i++) {
		unsigned int diag = row[0];

		row[0] = (unsigned int)i;
		for (size_t j = 1; j <= blen; j++) {
			unsigned int up = row[j];
			unsigned int best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[blen];
}

static void
suggest_consider(const char *key, const char *candidate,
		 char *best, unsigned int *best_dist)
{
	unsigned int dist = edit_distance(key, candidate);

	if (dist <= SUGGEST_MAX_DISTANCE && dist < *best_dist) {
		*best_dist = dist;
		snprintf(best, MOA2_CONFIG_SUGGEST_MAX_KEY_LEN + 1, "%s", candidate);
	}
}

/* The closest key of kind within SUGGEST_MAX_DISTANCE edits, or false. */
static bool
kind_suggest(const struct moa2_config_section_kind *kind, const char *key,
	     char best[MOA2_CONFIG_SUGGEST_MAX_KEY_LEN + 1])
{
	unsigned int best_dist = UINT_MAX;
	char file_key[MOA2_CONFIG_SUGGEST_MAX_KEY_LEN + 1];

	for (unsigned int i = 0; i < kind->options_count; i++) {
		const struct moa2_config_option *option = &kind->options[i];

		suggest_consider(key, option->key, best, &best_dist);
		if (option->type == MOA2_CONFIG_SECRET &&
		    (size_t)snprintf(file_key, sizeof(file_key), "%s%s", option->key,
				     MOA2_CONFIG_SECRET_FILE_SUFFIX) < sizeof(file_key))
			suggest_consider(key, file_key, best, &best_dist);
	}
	return best_dist != UINT_MAX;
}

/* ------------------------------------------------------------------ keys */

static void
section_where(const struct moa2_config_section *section, char *buf, size_t size)
{
	if (section->kind->name == NULL)
		snprintf(buf, size, "the global section");
	else
		snprintf(buf, size, "[%s %s]", section->kind->name, section->name);
}

int
moa2_config_unknown_key(struct moa2_config_parser *p,
			const struct moa2_config_section *section,
			const char *key)
{
	const struct moa2_config_schema *schema = p->schema;
	char where[256], best[MOA2_CONFIG_SUGGEST_MAX_KEY_LEN + 1];

	if (section->kind->name == NULL) {
		for (unsigned int i = 0; i < schema->sections_count; i++) {
			const struct moa2_config_section_kind *kind = &schema->sections[i];

			if (moa2_config_kind_find_option(kind, key) != NULL ||
			    moa2_config_kind_find_secret_file(kind, key) != NULL)
				return moa2_config_fail(p, "key '%s': only valid in a [%s NAME] "
							"section (expected it after a [%s NAME] "
							"header)", key, kind->name, kind->name);
		}
	} else if (moa2_config_kind_find_option(&schema->global, key) != NULL) {
		return moa2_config_fail(p, "key '%s': a global setting, not valid in [%s %s] "
					"(expected it before the first section)",
					key, section->kind->name, section->name);
	}
	section_where(section, where, sizeof(where));
	if (kind_suggest(section->kind, key, best))
		return moa2_config_fail(p, "unknown key '%s' in %s (did you mean '%s'?)",
					key, where, best);
	return moa2_config_fail(p, "unknown key '%s' in %s", key, where);
}

int
moa2_config_duplicate_key(struct moa2_config_parser *p,
			  const struct moa2_config_section *section,
			  const struct moa2_config_setting *old,
			  const char *key, bool from_file)
{
	const char *base = old->option->key;
	char where[256];

	if (old->option->type == MOA2_CONFIG_SECRET &&
	    (old->secret_file != NULL) != from_file) {
		return moa2_config_fail(p, "key '%s': %s%s is already given at line %u "
					"(expected only one of %s and %s%s)", key, base,
					old->secret_file != NULL ? MOA2_CONFIG_SECRET_FILE_SUFFIX : "",
					old->line, base, base, MOA2_CONFIG_SECRET_FILE_SUFFIX);
	}
	section_where(section, where, sizeof(where));
	return moa2_config_fail(p, "key '%s': given twice in %s (first at line %u)",
				key, where, old->line);
}
