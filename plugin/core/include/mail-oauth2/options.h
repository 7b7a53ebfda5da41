/* SPDX-License-Identifier: MIT */
#ifndef MOA2_OPTIONS_H
#define MOA2_OPTIONS_H

/* What the hosts see of the config files' machinery: the list type the
   loaded configs carry, and every option described from the schemas the
   parsers use (the single source of truth), for the CLI's `options` listing
   and the documentation drift tests. The parser itself is private to the
   core (support/config-parser.h). */

#include "mail-oauth2/common.h"

/* A list value, borrowed from the parsed config. items is NULL-terminated
   and never NULL (an absent list is empty). */
struct moa2_config_list {
	const char *const *items;
	unsigned int count;
};

struct moa2_config_schema;

struct moa2_option_doc {
	const char *section;      /* "provider", or NULL for the global section */
	const char *key;
	const char *type;         /* "duration", "list", ... */
	const char *default_text; /* the default, or how it is computed; NULL: none */
	const char *description;  /* one line */
};

typedef void moa2_option_doc_func_t(void *context,
				    const struct moa2_option_doc *doc);

/* A duration written as in the config files (30, 30s, 5m, 2h, 1d), in
   seconds, for command-line arguments: 0, or -1 when it is none. */
int moa2_options_parse_duration(const char *text, unsigned int *seconds_r);

/* Calls func once per option of schema: the global ones, then each
   section kind's, in schema order. */
void moa2_options_describe(const struct moa2_config_schema *schema,
			   moa2_option_doc_func_t *func, void *context);

#endif
