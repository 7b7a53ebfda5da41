/* SPDX-License-Identifier: MIT */
#ifndef MOA2_CONFIG_PARSER_PRIVATE_H
#define MOA2_CONFIG_PARSER_PRIVATE_H

/* The config parser's state, shared by its files (by role):

     config-parser.c  the lexer and line parser: sections, key = value
                      lines, quoting, the defaults, the file and the text
     config-value.c   the value types: numbers, booleans, durations,
                      sizes, enums, lists, URLs, paths
     config-secret.c  secrets given inline or as KEY_file = PATH
     config-schema.c  the schema: lookups, moa2_config_bind(), the option
                      iterator and the docs, the type names
     config-error.c   the messages: "FILE:LINE: ...", the first error wins,
                      unknown keys (with a suggestion) and duplicates

   Private to these files: consumers use config-parser.h.

   Failure behaviour: as config-parser.h. Every function here that can
   fail records the first error in the parser (moa2_config_fail())
   and returns -1; the parse then ends and frees everything parsed so far.
   Secrets are wiped with OPENSSL_cleanse before they are freed. */

#include "support/config-parser.h"

#define MOA2_CONFIG_SECRET_FILE_SUFFIX "_file"
#define MOA2_CONFIG_SUGGEST_MAX_KEY_LEN 64

struct moa2_config_parser {
	const struct moa2_config_schema *schema;
	unsigned int flags;      /* MOA2_CONFIG_SKIP_SECRET_FILES */
	struct moa2_config *config;
	unsigned int line;
	char *error;
};

/* config-error.c: records the first error at the current line. Always
   returns -1. */
int moa2_config_fail(struct moa2_config_parser *p, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);
int moa2_config_oom(struct moa2_config_parser *p);
/* "FILE: message", malloc()ed ("out of memory" when that fails). */
char *moa2_config_file_error(const char *path, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);
/* key is not an option of section: says where it belongs, or the closest
   key. Always returns -1. */
int moa2_config_unknown_key(struct moa2_config_parser *p,
			    const struct moa2_config_section *section,
			    const char *key);
/* key was given before (old). Always returns -1. */
int moa2_config_duplicate_key(struct moa2_config_parser *p,
			      const struct moa2_config_section *section,
			      const struct moa2_config_setting *old,
			      const char *key, bool from_file);

/* config-schema.c: the option key of kind, or NULL. */
const struct moa2_config_option *
moa2_config_kind_find_option(const struct moa2_config_section_kind *kind,
			     const char *key);
/* A secret option given as KEY_file: the option, else NULL. */
const struct moa2_config_option *
moa2_config_kind_find_secret_file(const struct moa2_config_section_kind *kind,
				  const char *key);
/* The section kind called name, or NULL. */
const struct moa2_config_section_kind *
moa2_config_schema_find_kind(const struct moa2_config_schema *schema,
			     const char *name);
/* "[provider NAME]" or "[provider NAME] or [account NAME]" */
void moa2_config_kinds_expected(const struct moa2_config_schema *schema,
				char *buf, size_t size);
/* The setting of option in section, or NULL. */
struct moa2_config_setting *
moa2_config_section_find(const struct moa2_config_section *section,
			 const struct moa2_config_option *option);

/* config-value.c: converts text (the unquoted value, not a secret) into
   set per the option's type. key is the key as written, for messages. */
int moa2_config_convert_value(struct moa2_config_parser *p,
			      struct moa2_config_setting *set,
			      const char *key, const char *text);
/* Appends item (len bytes) to the setting's items, at the current line. */
int moa2_config_setting_add_item(struct moa2_config_parser *p,
				 struct moa2_config_setting *set,
				 const char *item, size_t len);

/* config-secret.c: stores the value of a secret given inline or, with
   from_file, read from the file it names. Takes value. */
int moa2_config_store_secret(struct moa2_config_parser *p,
			     struct moa2_config_setting *set, const char *key,
			     char *value, bool from_file);

#endif
