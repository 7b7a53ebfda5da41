/* SPDX-License-Identifier: MIT */
#ifndef MOA2_CONFIG_PARSER_H
#define MOA2_CONFIG_PARSER_H

/* The config file syntax shared by every host (Dovecot passdb args, the
   Cyrus SASL plugin, the CLI), driven by a schema the caller supplies:

     # comment                 (a whole line, or after whitespace)
     key = value               global settings come before any section
     [provider NAME]           a section; its kinds are part of the schema,
     key = "  quoted # value"  NAME is [A-Za-z0-9_.-]+

   Values are trimmed; double quotes keep leading/trailing spaces and '#'
   (inside them \" and \\ are the only escapes). Lists are separated by
   whitespace and/or commas. A key given twice in a section is an error
   unless the schema marks it repeatable (its values accumulate). A secret
   key KEY may instead be given as KEY_file = PATH: the file is read at load
   time, must not be readable by group or others, and its trailing newline
   is stripped. Secrets are wiped when the config is freed.

   Failure behaviour: the first error stops the parse; it is returned as one
   line "FILE:LINE: ..." naming the key. Nothing is half-loaded. After a
   successful parse every option with a default in the schema is present
   (line 0), so consumers read defaults and settings the same way. */

#include "mail-oauth2/options.h"

enum moa2_config_type {
	MOA2_CONFIG_STRING,
	MOA2_CONFIG_PATH,        /* absolute file system path */
	MOA2_CONFIG_URL,         /* http(s)://host[:port][/path][?query], strictly parsed */
	MOA2_CONFIG_BOOL,        /* yes/no/true/false/1/0 */
	MOA2_CONFIG_UINT,        /* decimal, up to UINT_MAX */
	MOA2_CONFIG_DURATION,    /* 30, 30s, 5m, 2h, 1d -> seconds */
	MOA2_CONFIG_DURATION_MS, /* the same plus 1500ms -> milliseconds */
	MOA2_CONFIG_SIZE,        /* 1024, 64k, 1M, 1G -> bytes (1k = 1024) */
	MOA2_CONFIG_ENUM,        /* one of the listed words */
	MOA2_CONFIG_LIST,        /* words separated by whitespace and/or commas */
	MOA2_CONFIG_SECRET,      /* a string, or KEY_file = PATH */
};

/* Option flags */
#define MOA2_CONFIG_REPEATABLE 0x1 /* may appear several times; values accumulate as a list */

/* An option is not stored by moa2_config_bind() */
#define MOA2_CONFIG_UNBOUND ((size_t)-1)

struct moa2_config_enum {
	const char *word;
	int value;
};

struct moa2_config_option {
	const char *key;
	enum moa2_config_type type;
	unsigned int flags;
	/* ENUM: the accepted words, terminated by { NULL, 0 } */
	const struct moa2_config_enum *enum_values;
	/* Text parsed like a setting when the key is absent; NULL: no value */
	const char *default_value;
	/* How the default is computed when it is not a constant (docs only) */
	const char *default_doc;
	/* One line for the docs and the CLI */
	const char *description;
	/* Where moa2_config_bind() stores the value, or MOA2_CONFIG_UNBOUND.
	   Field types: STRING/PATH/URL/SECRET const char *, BOOL bool,
	   UINT/DURATION/DURATION_MS unsigned int, SIZE size_t, ENUM an int-sized
	   enum, LIST (and any REPEATABLE option) struct moa2_config_list. */
	size_t offset;
};

struct moa2_config_section_kind {
	const char *name; /* "provider"; NULL for the global section */
	const struct moa2_config_option *options;
	unsigned int options_count;
};

struct moa2_config_schema {
	struct moa2_config_section_kind global;
	const struct moa2_config_section_kind *sections;
	unsigned int sections_count;
};

/* One setting of a section. Read-only for consumers. */
struct moa2_config_setting {
	const struct moa2_config_option *option;
	unsigned int line;       /* 0: the schema's default */
	char *secret_file;       /* SECRET given as KEY_file: the path */
	char *str;               /* the value as text (unquoted); SECRET: the secret */
	bool bool_value;         /* BOOL */
	uint64_t number;         /* UINT, DURATION(_MS), SIZE */
	int enum_value;          /* ENUM */
	char **items;            /* LIST / REPEATABLE: NULL-terminated */
	unsigned int *item_lines; /* line of each item */
	unsigned int items_count;
};

struct moa2_config_section {
	const struct moa2_config_section_kind *kind;
	char *name;              /* NULL for the global section */
	unsigned int line;       /* line of the [kind NAME] header; 0 for global */
	struct moa2_config_setting *settings;
	unsigned int settings_count;
};

struct moa2_config {
	char *file;              /* the name used in error messages */
	/* sections[0] is the global section, then the others in file order */
	struct moa2_config_section *sections;
	unsigned int sections_count;
};

/* Parses the file at path. Returns 0, or -1 with a malloc()ed one-line
   message in error_r ("FILE:LINE: ..."). */
int moa2_config_parse_file(const char *path,
			   const struct moa2_config_schema *schema,
			   struct moa2_config **config_r, char **error_r);
/* The same for text in memory; name is used in messages and len may
   contain no NUL. Secret files referenced by it are read as usual. */
int moa2_config_parse_string(const char *name, const char *data, size_t len,
			     const struct moa2_config_schema *schema,
			     struct moa2_config **config_r, char **error_r);
/* moa2_config_parse_file_flags(): KEY_file settings are not opened; the
   secret is "" (a config for a tool that needs no secret, run by a user
   who may not read them). */
#define MOA2_CONFIG_SKIP_SECRET_FILES 0x1
int moa2_config_parse_file_flags(const char *path,
				 const struct moa2_config_schema *schema,
				 unsigned int flags, struct moa2_config **config_r,
				 char **error_r);
/* Wipes the secrets and frees everything. NULL-safe; NULLs *config. */
void moa2_config_free(struct moa2_config **config);

/* The setting of key in section (a default when not in the file), or NULL. */
const struct moa2_config_setting *
moa2_config_section_get(const struct moa2_config_section *section,
			const char *key);
/* True if key was written in the file (not merely defaulted). */
bool moa2_config_section_is_set(const struct moa2_config_section *section,
				const char *key);
/* The line of key in section, or the section's header line when the key
   was not written: the line to blame in a cross-field error. */
unsigned int moa2_config_section_line(const struct moa2_config_section *section,
				      const char *key);

/* Stores every bound option of section into target (see
   moa2_config_option.offset). Absent options without a default become
   NULL / false / 0 / an empty list. */
void moa2_config_bind(const struct moa2_config_section *section, void *target);

/* Formats "FILE:LINE: message" (or "FILE: message" when line is 0) into a
   malloc()ed string. */
char *moa2_config_error(const struct moa2_config *config, unsigned int line,
			const char *fmt, ...) MOA2_ATTR_FORMAT(3, 4);
/* The error of a cross-field check on key of section, at key's line (see
   moa2_config_section_line()): "FILE:LINE: key 'KEY': message", or with
   name_section (and a named section) "FILE:LINE: [KIND NAME] key 'KEY':
   message". Stored in
   *error_r unless an earlier error is there already (the first one wins).
   Always returns -1. */
int moa2_config_key_verror(char **error_r, const struct moa2_config *config,
			   const struct moa2_config_section *section,
			   bool name_section, const char *key,
			   const char *fmt, va_list args) MOA2_ATTR_FORMAT(6, 0);

/* The word of an enum value in a { NULL, 0 }-terminated list, or NULL. */
const char *moa2_config_enum_word(const struct moa2_config_enum *words,
				  int value);

/* The OpenID Connect discovery URL of an issuer (its trailing slashes
   dropped): malloc()ed; aborts on ENOMEM. */
char *moa2_config_discovery_url(const char *issuer);

/* Iterates every option of a schema: the global ones, then each section
   kind's. */
struct moa2_config_option_iter {
	const struct moa2_config_schema *schema;
	unsigned int kind_idx; /* 0 = global, n = sections[n - 1] */
	unsigned int option_idx;
};
void moa2_config_option_iter_init(struct moa2_config_option_iter *iter,
				  const struct moa2_config_schema *schema);
/* Returns the next option and its section kind, or NULL at the end. */
const struct moa2_config_option *
moa2_config_option_iter_next(struct moa2_config_option_iter *iter,
			     const struct moa2_config_section_kind **kind_r);

/* The name of a type for messages and docs ("duration", "list", ...). */
const char *moa2_config_type_name(enum moa2_config_type type);


#endif
