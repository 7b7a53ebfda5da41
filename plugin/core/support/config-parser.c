/* The schema-driven config file parser (see config-parser.h for the
   syntax). Failure behaviour: the first error ends the parse and frees
   everything parsed so far; secrets (inline values, file contents and the
   raw file buffer) are wiped with OPENSSL_cleanse before being freed. */

#include "config.h"
#include "support/config-parser.h"
#include "support/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define SECRET_MAX_FILE_SIZE (64 * 1024)
#define SECRET_FILE_SUFFIX "_file"
#define SUGGEST_MAX_DISTANCE 2
#define SUGGEST_MAX_KEY_LEN 64

struct parser {
	const struct moa2_config_schema *schema;
	unsigned int flags;      /* MOA2_CONFIG_SKIP_SECRET_FILES */
	struct moa2_config *config;
	unsigned int line;
	char *error;
};

static const char *const type_names[] = {
	[MOA2_CONFIG_STRING] = "string",
	[MOA2_CONFIG_PATH] = "path",
	[MOA2_CONFIG_URL] = "url",
	[MOA2_CONFIG_BOOL] = "bool",
	[MOA2_CONFIG_UINT] = "uint",
	[MOA2_CONFIG_DURATION] = "duration",
	[MOA2_CONFIG_DURATION_MS] = "duration",
	[MOA2_CONFIG_SIZE] = "size",
	[MOA2_CONFIG_ENUM] = "enum",
	[MOA2_CONFIG_LIST] = "list",
	[MOA2_CONFIG_SECRET] = "secret",
};

static const char *const empty_items[] = { NULL };

const char *
moa2_config_type_name(enum moa2_config_type type)
{
	if ((unsigned int)type >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[type];
}

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
static int MOA2_ATTR_FORMAT(2, 3)
parser_error(struct parser *p, const char *fmt, ...)
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

static int
parser_oom(struct parser *p)
{
	return parser_error(p, "out of memory");
}

/* ---------------------------------------------------------------- schema */

static const struct moa2_config_option *
kind_find_option(const struct moa2_config_section_kind *kind, const char *key)
{
	for (unsigned int i = 0; i < kind->options_count; i++) {
		if (strcmp(kind->options[i].key, key) == 0)
			return &kind->options[i];
	}
	return NULL;
}

static const struct moa2_config_section_kind *
schema_find_kind(const struct moa2_config_schema *schema, const char *name)
{
	for (unsigned int i = 0; i < schema->sections_count; i++) {
		if (strcmp(schema->sections[i].name, name) == 0)
			return &schema->sections[i];
	}
	return NULL;
}

/* "[provider NAME]" or "[provider NAME] or [account NAME]" */
static void
kinds_expected(const struct moa2_config_schema *schema, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < schema->sections_count && len < size; i++) {
		len += (size_t)snprintf(buf + len, size - len, "%s[%s NAME]",
					i == 0 ? "" : " or ",
					schema->sections[i].name);
	}
}

/* A secret option given as KEY_file: the option, else NULL. */
static const struct moa2_config_option *
kind_find_secret_file(const struct moa2_config_section_kind *kind,
		      const char *key)
{
	size_t key_len = strlen(key), suffix_len = strlen(SECRET_FILE_SUFFIX);
	const struct moa2_config_option *option;
	char base[SUGGEST_MAX_KEY_LEN + 1];

	if (key_len <= suffix_len || key_len - suffix_len > SUGGEST_MAX_KEY_LEN ||
	    strcmp(key + key_len - suffix_len, SECRET_FILE_SUFFIX) != 0)
		return NULL;
	memcpy(base, key, key_len - suffix_len);
	base[key_len - suffix_len] = '\0';
	option = kind_find_option(kind, base);
	return option != NULL && option->type == MOA2_CONFIG_SECRET ? option : NULL;
}

static unsigned int
edit_distance(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	unsigned int row[SUGGEST_MAX_KEY_LEN + 1];

	if (alen > SUGGEST_MAX_KEY_LEN || blen > SUGGEST_MAX_KEY_LEN)
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
		snprintf(best, SUGGEST_MAX_KEY_LEN + 1, "%s", candidate);
	}
}

/* The closest key of kind within SUGGEST_MAX_DISTANCE edits, or false. */
static bool
kind_suggest(const struct moa2_config_section_kind *kind, const char *key,
	     char best[SUGGEST_MAX_KEY_LEN + 1])
{
	unsigned int best_dist = UINT_MAX;
	char file_key[SUGGEST_MAX_KEY_LEN + 1];

	for (unsigned int i = 0; i < kind->options_count; i++) {
		const struct moa2_config_option *option = &kind->options[i];

		suggest_consider(key, option->key, best, &best_dist);
		if (option->type == MOA2_CONFIG_SECRET &&
		    (size_t)snprintf(file_key, sizeof(file_key), "%s%s", option->key,
				     SECRET_FILE_SUFFIX) < sizeof(file_key))
			suggest_consider(key, file_key, best, &best_dist);
	}
	return best_dist != UINT_MAX;
}

/* -------------------------------------------------------------- sections */

static struct moa2_config_section *
current_section(struct parser *p)
{
	return &p->config->sections[p->config->sections_count - 1];
}

static void
section_where(const struct moa2_config_section *section, char *buf, size_t size)
{
	if (section->kind->name == NULL)
		snprintf(buf, size, "the global section");
	else
		snprintf(buf, size, "[%s %s]", section->kind->name, section->name);
}

static int
add_section(struct parser *p, const struct moa2_config_section_kind *kind,
	    const char *name)
{
	struct moa2_config *config = p->config;
	struct moa2_config_section *sections, *section;

	sections = realloc(config->sections,
			   (config->sections_count + 1) * sizeof(*sections));
	if (sections == NULL)
		return parser_oom(p);
	config->sections = sections;
	section = &sections[config->sections_count];
	memset(section, 0, sizeof(*section));
	section->kind = kind;
	section->line = p->line;
	if (name != NULL && (section->name = strdup(name)) == NULL)
		return parser_oom(p);
	config->sections_count++;
	return 0;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char *
skip_space(char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

static void
trim_end(char *start, char *end)
{
	while (end > start && is_space(end[-1]))
		end--;
	*end = '\0';
}

static bool
valid_section_name(const char *name)
{
	if (*name == '\0')
		return false;
	for (; *name != '\0'; name++) {
		char c = *name;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int
check_section_unique(struct parser *p, const struct moa2_config_section_kind *kind,
		     const char *name)
{
	for (unsigned int i = 1; i < p->config->sections_count; i++) {
		const struct moa2_config_section *other = &p->config->sections[i];

		if (other->kind == kind && strcmp(other->name, name) == 0) {
			return parser_error(p, "duplicate section [%s %s] (first at line %u)",
					    kind->name, name, other->line);
		}
	}
	return 0;
}

/* s points at '[' */
static int
parse_section_header(struct parser *p, char *s)
{
	const struct moa2_config_section_kind *kind;
	char expected[256], *close, *after, *kind_name, *name;

	kinds_expected(p->schema, expected, sizeof(expected));
	close = strchr(s, ']');
	if (close == NULL)
		return parser_error(p, "section header not closed (expected %s)", expected);
	after = skip_space(close + 1);
	if (*after != '\0' && *after != '#')
		return parser_error(p, "unexpected text after the section header (expected %s)",
				    expected);
	kind_name = skip_space(s + 1);
	trim_end(kind_name, close);
	name = kind_name;
	while (*name != '\0' && !is_space(*name))
		name++;
	if (*name != '\0')
		*name++ = '\0';
	name = skip_space(name);
	if (*kind_name == '\0')
		return parser_error(p, "empty section header (expected %s)", expected);
	kind = schema_find_kind(p->schema, kind_name);
	if (kind == NULL)
		return parser_error(p, "unknown section kind '%s' (expected %s)",
				    kind_name, expected);
	if (*name == '\0')
		return parser_error(p, "section [%s] needs a name (expected [%s NAME])",
				    kind->name, kind->name);
	if (!valid_section_name(name))
		return parser_error(p, "invalid section name '%s' (expected [%s NAME], "
				    "NAME made of letters, digits, '_', '.' and '-')",
				    name, kind->name);
	if (check_section_unique(p, kind, name) < 0)
		return -1;
	return add_section(p, kind, name);
}

/* ---------------------------------------------------------------- values */

/* Unquotes and trims the value text after '='. Returns a malloc()ed string
   (wiped by the caller if it is a secret), or NULL after an error. */
static char *
parse_value_text(struct parser *p, const char *key, char *v)
{
	size_t size = strlen(v) + 1;
	char *out, *o;

	if (*v != '"') {
		char *end = v;

		/* '#' starts a comment at the value's start or after whitespace */
		while (*end != '\0' && !(*end == '#' && (end == v || is_space(end[-1]))))
			end++;
		trim_end(v, end);
		out = strdup(v);
		if (out == NULL)
			parser_oom(p);
		return out;
	}
	out = o = malloc(size);
	if (out == NULL) {
		parser_oom(p);
		return NULL;
	}
	for (v++; *v != '\0' && *v != '"'; v++) {
		if (*v == '\\') {
			v++;
			if (*v != '"' && *v != '\\') {
				parser_error(p, "key '%s': unknown escape in quoted value "
					     "(expected \\\" or \\\\)", key);
				goto fail;
			}
		}
		*o++ = *v;
	}
	*o = '\0';
	if (*v != '"') {
		parser_error(p, "key '%s': unterminated quoted value (expected a closing \")",
			     key);
		goto fail;
	}
	v = skip_space(v + 1);
	if (*v != '\0' && *v != '#') {
		parser_error(p, "key '%s': unexpected text after the quoted value "
			     "(expected a # comment or nothing)", key);
		goto fail;
	}
	return out;
fail:
	OPENSSL_cleanse(out, size);
	free(out);
	return NULL;
}

static int
parse_uint64(const char *s, const char **end_r, uint64_t *value_r)
{
	uint64_t value = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int digit = (unsigned int)(*s - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	*end_r = s;
	*value_r = value;
	return 0;
}

static int
parse_bool(const char *s, bool *value_r)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };

	for (unsigned int i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*value_r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*value_r = false;
			return 0;
		}
	}
	return -1;
}

/* Multiplies with an overflow check against UINT_MAX. */
static int
scale_uint(uint64_t value, uint64_t unit, uint64_t max, uint64_t *value_r)
{
	if (value > max / unit)
		return -1;
	*value_r = value * unit;
	return 0;
}

static int
parse_duration(const char *s, bool msecs, uint64_t *value_r)
{
	const char *unit;
	uint64_t value, factor;

	if (parse_uint64(s, &unit, &value) < 0)
		return -1;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		factor = 1;
	else if (strcmp(unit, "m") == 0)
		factor = 60;
	else if (strcmp(unit, "h") == 0)
		factor = 3600;
	else if (strcmp(unit, "d") == 0)
		factor = 86400;
	else if (msecs && strcmp(unit, "ms") == 0)
		return scale_uint(value, 1, UINT_MAX, value_r);
	else
		return -1;
	return scale_uint(value, msecs ? factor * 1000 : factor, UINT_MAX, value_r);
}

static int
parse_size(const char *s, uint64_t *value_r)
{
	const char *unit;
	uint64_t value, factor;

	if (parse_uint64(s, &unit, &value) < 0)
		return -1;
	if (*unit == '\0')
		factor = 1;
	else if (strcmp(unit, "k") == 0 || strcmp(unit, "K") == 0)
		factor = 1024;
	else if (strcmp(unit, "M") == 0 || strcmp(unit, "m") == 0)
		factor = 1024 * 1024;
	else if (strcmp(unit, "G") == 0 || strcmp(unit, "g") == 0)
		factor = 1024 * 1024 * 1024;
	else
		return -1;
	return scale_uint(value, factor, SIZE_MAX, value_r);
}

static int
parse_enum(const struct moa2_config_option *option, const char *s, int *value_r)
{
	for (const struct moa2_config_enum *e = option->enum_values;
	     e != NULL && e->word != NULL; e++) {
		if (strcmp(e->word, s) == 0) {
			*value_r = e->value;
			return 0;
		}
	}
	return -1;
}

static void
enum_expected(const struct moa2_config_option *option, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (const struct moa2_config_enum *e = option->enum_values;
	     e != NULL && e->word != NULL && len < size; e++) {
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					len == 0 ? "" : ", ", e->word);
	}
}

static int
setting_add_item(struct parser *p, struct moa2_config_setting *set,
		 const char *item, size_t len)
{
	char **items;
	unsigned int *lines;

	items = realloc(set->items, (set->items_count + 2) * sizeof(*items));
	if (items == NULL)
		return parser_oom(p);
	set->items = items;
	lines = realloc(set->item_lines, (set->items_count + 1) * sizeof(*lines));
	if (lines == NULL)
		return parser_oom(p);
	set->item_lines = lines;
	if ((items[set->items_count] = strndup(item, len)) == NULL)
		return parser_oom(p);
	lines[set->items_count] = p->line;
	items[++set->items_count] = NULL;
	return 0;
}

static int
setting_add_list(struct parser *p, struct moa2_config_setting *set,
		 const char *text)
{
	static const char separators[] = " \t,";

	while (*text != '\0') {
		size_t len;

		text += strspn(text, separators);
		len = strcspn(text, separators);
		if (len > 0 && setting_add_item(p, set, text, len) < 0)
			return -1;
		text += len;
	}
	return 0;
}

static int
check_url(struct parser *p, const char *key, const char *value)
{
	struct moa2_url url;
	const char *reason;

	if (moa2_url_parse(value, &url, &reason) < 0)
		return parser_error(p, "key '%s': invalid URL '%s': %s "
				    "(expected https://host[:port][/path])", key, value, reason);
	return 0;
}

/* Converts text (the unquoted value, not a secret) into set per the
   option's type. key is the key as written, for messages. */
static int
convert_value(struct parser *p, struct moa2_config_setting *set,
	      const char *key, const char *text)
{
	const struct moa2_config_option *option = set->option;
	char expected[256];

	if (*text == '\0' && option->type != MOA2_CONFIG_LIST) {
		return parser_error(p, "key '%s': empty value (expected a %s)", key,
				    moa2_config_type_name(option->type));
	}
	switch (option->type) {
	case MOA2_CONFIG_STRING:
	case MOA2_CONFIG_SECRET:
		return 0;
	case MOA2_CONFIG_PATH:
		if (text[0] != '/')
			return parser_error(p, "key '%s': relative path '%s' "
					    "(expected an absolute path)", key, text);
		return 0;
	case MOA2_CONFIG_URL:
		return check_url(p, key, text);
	case MOA2_CONFIG_BOOL:
		if (parse_bool(text, &set->bool_value) < 0)
			return parser_error(p, "key '%s': invalid boolean '%s' "
					    "(expected yes, no, true, false, 1 or 0)", key, text);
		return 0;
	case MOA2_CONFIG_UINT: {
		const char *end;

		if (parse_uint64(text, &end, &set->number) < 0 || *end != '\0' ||
		    set->number > UINT_MAX)
			return parser_error(p, "key '%s': invalid number '%s' "
					    "(expected a whole number from 0 to %u)",
					    key, text, UINT_MAX);
		return 0;
	}
	case MOA2_CONFIG_DURATION:
		if (parse_duration(text, false, &set->number) < 0)
			return parser_error(p, "key '%s': invalid duration '%s' (expected "
					    "seconds with an optional unit s, m, h or d, "
					    "e.g. 30s, 5m, 2h, 1d)", key, text);
		return 0;
	case MOA2_CONFIG_DURATION_MS:
		if (parse_duration(text, true, &set->number) < 0)
			return parser_error(p, "key '%s': invalid duration '%s' (expected "
					    "seconds with an optional unit ms, s, m, h or d, "
					    "e.g. 500ms, 3s)", key, text);
		return 0;
	case MOA2_CONFIG_SIZE:
		if (parse_size(text, &set->number) < 0)
			return parser_error(p, "key '%s': invalid size '%s' (expected bytes "
					    "with an optional unit k, M or G, e.g. 64k, 1M)",
					    key, text);
		return 0;
	case MOA2_CONFIG_ENUM:
		if (parse_enum(option, text, &set->enum_value) < 0) {
			enum_expected(option, expected, sizeof(expected));
			return parser_error(p, "key '%s': invalid value '%s' (expected one of: %s)",
					    key, text, expected);
		}
		return 0;
	case MOA2_CONFIG_LIST:
		return setting_add_list(p, set, text);
	}
	return parser_error(p, "key '%s': unsupported option type", key);
}

/* --------------------------------------------------------------- secrets */

static int
secret_file_check(struct parser *p, const char *key, const char *path, int fd,
		  struct stat *st)
{
	if (fstat(fd, st) < 0)
		return parser_error(p, "key '%s': cannot stat secret file '%s': %s",
				    key, path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return parser_error(p, "key '%s': secret file '%s' is not a regular file",
				    key, path);
	if ((st->st_mode & (S_IRGRP | S_IROTH)) != 0)
		return parser_error(p, "key '%s': secret file '%s' has mode %04o and is "
				    "readable by group or others (expected mode 0600 or "
				    "0400: chmod 600 %s)", key, path,
				    (unsigned int)(st->st_mode & 07777), path);
	if (st->st_size > SECRET_MAX_FILE_SIZE)
		return parser_error(p, "key '%s': secret file '%s' is larger than %u bytes",
				    key, path, SECRET_MAX_FILE_SIZE);
	return 0;
}

/* Checks the content read from a secret file and strips trailing newlines. */
static int
secret_content_check(struct parser *p, const char *key, const char *path,
		     char *buf, size_t *len)
{
	while (*len > 0 && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		(*len)--;
	buf[*len] = '\0';
	if (*len == 0)
		return parser_error(p, "key '%s': secret file '%s' is empty "
				    "(expected the secret on one line)", key, path);
	if (memchr(buf, '\0', *len) != NULL || strpbrk(buf, "\r\n") != NULL)
		return parser_error(p, "key '%s': secret file '%s' has more than one "
				    "line or a NUL byte (expected the secret on one line)",
				    key, path);
	return 0;
}

static int
read_secret_file(struct parser *p, struct moa2_config_setting *set,
		 const char *key, const char *path)
{
	char *buf;
	struct stat st;
	size_t len;
	int fd, ret = -1;

	if (path[0] != '/')
		return parser_error(p, "key '%s': relative path '%s' "
				    "(expected an absolute path)", key, path);
	if ((p->flags & MOA2_CONFIG_SKIP_SECRET_FILES) != 0) {
		if ((set->str = strdup("")) == NULL || (set->secret_file = strdup(path)) == NULL)
			return parser_oom(p);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return parser_error(p, "key '%s': cannot open secret file '%s': %s",
				    key, path, strerror(errno));
	if (secret_file_check(p, key, path, fd, &st) < 0) {
		close(fd);
		return -1;
	}
	buf = malloc(SECRET_MAX_FILE_SIZE + 2);
	if (buf == NULL) {
		close(fd);
		return parser_oom(p);
	}
	if (moa2_read_all(fd, buf, SECRET_MAX_FILE_SIZE + 1, &len) < 0)
		parser_error(p, "key '%s': cannot read secret file '%s': %s",
			     key, path, strerror(errno));
	else if (len > SECRET_MAX_FILE_SIZE)
		parser_error(p, "key '%s': secret file '%s' is larger than %u bytes",
			     key, path, SECRET_MAX_FILE_SIZE);
	else if (secret_content_check(p, key, path, buf, &len) == 0 &&
		 (set->str = strdup(buf)) != NULL &&
		 (set->secret_file = strdup(path)) != NULL)
		ret = 0;
	else if (p->error == NULL)
		parser_oom(p);
	close(fd);
	OPENSSL_cleanse(buf, SECRET_MAX_FILE_SIZE + 2);
	free(buf);
	return ret;
}

/* -------------------------------------------------------------- settings */

static struct moa2_config_setting *
section_find(const struct moa2_config_section *section,
	     const struct moa2_config_option *option)
{
	for (unsigned int i = 0; i < section->settings_count; i++) {
		if (section->settings[i].option == option)
			return &section->settings[i];
	}
	return NULL;
}

static struct moa2_config_setting *
section_add(struct parser *p, struct moa2_config_section *section,
	    const struct moa2_config_option *option)
{
	struct moa2_config_setting *settings, *set;

	settings = realloc(section->settings,
			   (section->settings_count + 1) * sizeof(*settings));
	if (settings == NULL) {
		parser_oom(p);
		return NULL;
	}
	section->settings = settings;
	set = &settings[section->settings_count++];
	memset(set, 0, sizeof(*set));
	set->option = option;
	set->line = p->line;
	return set;
}

static int
unknown_key(struct parser *p, const struct moa2_config_section *section,
	    const char *key)
{
	const struct moa2_config_schema *schema = p->schema;
	char where[256], best[SUGGEST_MAX_KEY_LEN + 1];

	if (section->kind->name == NULL) {
		for (unsigned int i = 0; i < schema->sections_count; i++) {
			const struct moa2_config_section_kind *kind = &schema->sections[i];

			if (kind_find_option(kind, key) != NULL ||
			    kind_find_secret_file(kind, key) != NULL)
				return parser_error(p, "key '%s': only valid in a [%s NAME] "
						    "section (expected it after a [%s NAME] "
						    "header)", key, kind->name, kind->name);
		}
	} else if (kind_find_option(&schema->global, key) != NULL) {
		return parser_error(p, "key '%s': a global setting, not valid in [%s %s] "
				    "(expected it before the first section)",
				    key, section->kind->name, section->name);
	}
	section_where(section, where, sizeof(where));
	if (kind_suggest(section->kind, key, best))
		return parser_error(p, "unknown key '%s' in %s (did you mean '%s'?)",
				    key, where, best);
	return parser_error(p, "unknown key '%s' in %s", key, where);
}

static int
duplicate_key(struct parser *p, const struct moa2_config_section *section,
	      const struct moa2_config_setting *old, const char *key, bool from_file)
{
	const char *base = old->option->key;
	char where[256];

	if (old->option->type == MOA2_CONFIG_SECRET &&
	    (old->secret_file != NULL) != from_file) {
		return parser_error(p, "key '%s': %s%s is already given at line %u "
				    "(expected only one of %s and %s%s)", key, base,
				    old->secret_file != NULL ? SECRET_FILE_SUFFIX : "",
				    old->line, base, base, SECRET_FILE_SUFFIX);
	}
	section_where(section, where, sizeof(where));
	return parser_error(p, "key '%s': given twice in %s (first at line %u)",
			    key, where, old->line);
}

/* Stores the value of a secret given inline or as KEY_file. Takes value. */
static int
store_secret(struct parser *p, struct moa2_config_setting *set, const char *key,
	     char *value, bool from_file)
{
	int ret;

	if (*value == '\0') {
		free(value);
		return parser_error(p, "key '%s': empty value (expected a %s)", key,
				    from_file ? "path" : "secret");
	}
	if (!from_file) {
		set->str = value;
		return 0;
	}
	ret = read_secret_file(p, set, key, value);
	free(value);
	return ret;
}

/* Stores value (malloc()ed, taken over) for option in the current section. */
static int
store_setting(struct parser *p, const struct moa2_config_option *option,
	      const char *key, char *value, bool from_file)
{
	struct moa2_config_section *section = current_section(p);
	struct moa2_config_setting *set = section_find(section, option);
	bool repeatable = (option->flags & MOA2_CONFIG_REPEATABLE) != 0;
	int ret;

	if (set != NULL && !repeatable) {
		if (option->type == MOA2_CONFIG_SECRET)
			OPENSSL_cleanse(value, strlen(value));
		free(value);
		return duplicate_key(p, section, set, key, from_file);
	}
	if (set == NULL && (set = section_add(p, section, option)) == NULL) {
		free(value);
		return -1;
	}
	if (option->type == MOA2_CONFIG_SECRET)
		return store_secret(p, set, key, value, from_file);
	ret = convert_value(p, set, key, value);
	if (ret == 0 && repeatable && option->type != MOA2_CONFIG_LIST)
		ret = setting_add_item(p, set, value, strlen(value));
	if (set->str == NULL)
		set->str = value;
	else
		free(value);
	return ret;
}

static bool
is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int
parse_setting(struct parser *p, char *s)
{
	const struct moa2_config_section_kind *kind = current_section(p)->kind;
	const struct moa2_config_option *option;
	char expected[256], *key = s, *value;
	bool from_file = false;

	while (is_key_char(*s))
		s++;
	if (s == key || *skip_space(s) != '=') {
		kinds_expected(p->schema, expected, sizeof(expected));
		return parser_error(p, "syntax error (expected 'key = value', %s "
				    "or a # comment)", expected);
	}
	value = skip_space(skip_space(s) + 1);
	*s = '\0';
	option = kind_find_option(kind, key);
	if (option == NULL) {
		option = kind_find_secret_file(kind, key);
		from_file = option != NULL;
	}
	if (option == NULL)
		return unknown_key(p, current_section(p), key);
	if ((value = parse_value_text(p, key, value)) == NULL)
		return -1;
	return store_setting(p, option, key, value, from_file);
}

static int
parse_line(struct parser *p, char *line)
{
	char *s = skip_space(line);

	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[')
		return parse_section_header(p, s);
	return parse_setting(p, s);
}

/* -------------------------------------------------------------- defaults */

static int
apply_default(struct parser *p, struct moa2_config_section *section,
	      const struct moa2_config_option *option)
{
	struct moa2_config_setting *set;
	char *value;

	if (option->default_value == NULL || section_find(section, option) != NULL)
		return 0;
	if ((value = strdup(option->default_value)) == NULL)
		return parser_oom(p);
	if ((set = section_add(p, section, option)) == NULL) {
		free(value);
		return -1;
	}
	set->line = 0;
	set->str = value;
	if (option->type == MOA2_CONFIG_SECRET)
		return 0;
	if (convert_value(p, set, option->key, value) < 0)
		return -1;
	if ((option->flags & MOA2_CONFIG_REPEATABLE) != 0 &&
	    option->type != MOA2_CONFIG_LIST)
		return setting_add_item(p, set, value, strlen(value));
	return 0;
}

static int
apply_defaults(struct parser *p)
{
	p->line = 0;
	for (unsigned int i = 0; i < p->config->sections_count; i++) {
		struct moa2_config_section *section = &p->config->sections[i];

		for (unsigned int j = 0; j < section->kind->options_count; j++) {
			if (apply_default(p, section, &section->kind->options[j]) < 0)
				return -1;
		}
	}
	return 0;
}

/* ----------------------------------------------------------------- parse */

static int
parse_buffer(struct parser *p, char *buf, size_t len)
{
	char *line = buf, *end = buf + len;

	if (memchr(buf, '\0', len) != NULL) {
		p->line = 1;
		for (const char *c = buf; *c != '\0'; c++)
			p->line += *c == '\n' ? 1 : 0;
		return parser_error(p, "NUL byte in the file (expected text)");
	}
	buf[len] = '\0';
	p->line = 0;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char *line_end = nl != NULL ? nl : end;

		p->line++;
		*line_end = '\0';
		if (line_end > line && line_end[-1] == '\r')
			line_end[-1] = '\0';
		if (parse_line(p, line) < 0)
			return -1;
		line = line_end + 1;
	}
	return apply_defaults(p);
}

static void
setting_free(struct moa2_config_setting *set)
{
	if (set->str != NULL && set->option->type == MOA2_CONFIG_SECRET)
		OPENSSL_cleanse(set->str, strlen(set->str));
	free(set->str);
	free(set->secret_file);
	for (unsigned int i = 0; i < set->items_count; i++)
		free(set->items[i]);
	free(set->items);
	free(set->item_lines);
}

void
moa2_config_free(struct moa2_config **config_p)
{
	struct moa2_config *config = *config_p;

	if (config == NULL)
		return;
	*config_p = NULL;
	for (unsigned int i = 0; i < config->sections_count; i++) {
		struct moa2_config_section *section = &config->sections[i];

		for (unsigned int j = 0; j < section->settings_count; j++)
			setting_free(&section->settings[j]);
		free(section->settings);
		free(section->name);
	}
	free(config->sections);
	free(config->file);
	free(config);
}

static int
parse_string_flags(const char *name, const char *data, size_t len,
		   const struct moa2_config_schema *schema, unsigned int flags,
		   struct moa2_config **config_r, char **error_r)
{
	struct parser p = { .schema = schema, .flags = flags };
	char *buf;
	int ret = -1;

	*config_r = NULL;
	*error_r = NULL;
	p.config = calloc(1, sizeof(*p.config));
	if (p.config == NULL || (p.config->file = strdup(name)) == NULL) {
		free(p.config);
		*error_r = strdup("out of memory");
		return -1;
	}
	buf = malloc(len + 1);
	if (buf == NULL)
		parser_oom(&p);
	else {
		memcpy(buf, data, len);
		if (add_section(&p, &schema->global, NULL) == 0)
			ret = parse_buffer(&p, buf, len);
		/* inline secrets were in the buffer */
		OPENSSL_cleanse(buf, len + 1);
		free(buf);
	}
	if (ret < 0) {
		moa2_config_free(&p.config);
		*error_r = p.error;
		return -1;
	}
	*config_r = p.config;
	return 0;
}

static char * MOA2_ATTR_FORMAT(2, 3)
file_error(const char *path, const char *fmt, ...)
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

int
moa2_config_parse_string(const char *name, const char *data, size_t len,
			 const struct moa2_config_schema *schema,
			 struct moa2_config **config_r, char **error_r)
{
	return parse_string_flags(name, data, len, schema, 0, config_r, error_r);
}

int
moa2_config_parse_file(const char *path, const struct moa2_config_schema *schema,
		       struct moa2_config **config_r, char **error_r)
{
	return moa2_config_parse_file_flags(path, schema, 0, config_r, error_r);
}

int
moa2_config_parse_file_flags(const char *path, const struct moa2_config_schema *schema,
			     unsigned int flags, struct moa2_config **config_r,
			     char **error_r)
{
	struct stat st;
	size_t len;
	char *buf;
	int fd, ret;

	*config_r = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*error_r = file_error(path, "cannot open the config file: %s",
				      strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_MAX_FILE_SIZE) {
		*error_r = file_error(path, "not a regular file of at most 1 MiB");
		close(fd);
		return -1;
	}
	buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
	if (buf == NULL || moa2_read_all(fd, buf, CONFIG_MAX_FILE_SIZE + 1, &len) < 0) {
		*error_r = file_error(path, "cannot read the config file: %s",
				      buf == NULL ? "out of memory" : strerror(errno));
		close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	if (len > CONFIG_MAX_FILE_SIZE) {
		*error_r = file_error(path, "not a regular file of at most 1 MiB");
		ret = -1;
	} else {
		ret = parse_string_flags(path, buf, len, schema, flags, config_r, error_r);
	}
	OPENSSL_cleanse(buf, CONFIG_MAX_FILE_SIZE + 1);
	free(buf);
	return ret;
}

/* ---------------------------------------------------------------- lookup */

const struct moa2_config_setting *
moa2_config_section_get(const struct moa2_config_section *section,
			const char *key)
{
	const struct moa2_config_option *option = kind_find_option(section->kind, key);

	return option == NULL ? NULL : section_find(section, option);
}

bool
moa2_config_section_is_set(const struct moa2_config_section *section,
			   const char *key)
{
	const struct moa2_config_setting *set = moa2_config_section_get(section, key);

	return set != NULL && set->line > 0;
}

unsigned int
moa2_config_section_line(const struct moa2_config_section *section,
			 const char *key)
{
	const struct moa2_config_setting *set = moa2_config_section_get(section, key);

	return set != NULL && set->line > 0 ? set->line : section->line;
}

static void
bind_option(const struct moa2_config_option *option,
	    const struct moa2_config_setting *set, char *field)
{
	struct moa2_config_list list = { empty_items, 0 };
	const char *str = set == NULL ? NULL : set->str;
	bool b = set != NULL && set->bool_value;
	uint64_t number = set == NULL ? 0 : set->number;
	unsigned int u = (unsigned int)number;
	size_t size = (size_t)number;
	int e = set == NULL ? 0 : set->enum_value;

	if (option->type == MOA2_CONFIG_LIST ||
	    (option->flags & MOA2_CONFIG_REPEATABLE) != 0) {
		if (set != NULL && set->items_count > 0) {
			list.items = (const char *const *)set->items;
			list.count = set->items_count;
		}
		memcpy(field, &list, sizeof(list));
		return;
	}
	switch (option->type) {
	case MOA2_CONFIG_BOOL:
		memcpy(field, &b, sizeof(b));
		break;
	case MOA2_CONFIG_UINT:
	case MOA2_CONFIG_DURATION:
	case MOA2_CONFIG_DURATION_MS:
		memcpy(field, &u, sizeof(u));
		break;
	case MOA2_CONFIG_SIZE:
		memcpy(field, &size, sizeof(size));
		break;
	case MOA2_CONFIG_ENUM:
		memcpy(field, &e, sizeof(e));
		break;
	default:
		memcpy(field, &str, sizeof(str));
		break;
	}
}

void
moa2_config_bind(const struct moa2_config_section *section, void *target)
{
	const struct moa2_config_section_kind *kind = section->kind;

	for (unsigned int i = 0; i < kind->options_count; i++) {
		const struct moa2_config_option *option = &kind->options[i];

		if (option->offset == MOA2_CONFIG_UNBOUND)
			continue;
		bind_option(option, section_find(section, option),
			    (char *)target + option->offset);
	}
}

const char *
moa2_config_enum_word(const struct moa2_config_enum *words, int value)
{
	for (; words->word != NULL; words++) {
		if (words->value == value)
			return words->word;
	}
	return NULL;
}

char *
moa2_config_discovery_url(const char *issuer)
{
	size_t len = strlen(issuer);

	while (len > 0 && issuer[len - 1] == '/')
		len--;
	return moa2_strdup_printf("%.*s/.well-known/openid-configuration",
				  (int)len, issuer);
}

/* -------------------------------------------------------------- iterator */

void
moa2_config_option_iter_init(struct moa2_config_option_iter *iter,
			     const struct moa2_config_schema *schema)
{
	memset(iter, 0, sizeof(*iter));
	iter->schema = schema;
}

const struct moa2_config_option *
moa2_config_option_iter_next(struct moa2_config_option_iter *iter,
			     const struct moa2_config_section_kind **kind_r)
{
	const struct moa2_config_schema *schema = iter->schema;

	while (iter->kind_idx <= schema->sections_count) {
		const struct moa2_config_section_kind *kind = iter->kind_idx == 0 ?
			&schema->global : &schema->sections[iter->kind_idx - 1];

		if (iter->option_idx < kind->options_count) {
			*kind_r = kind;
			return &kind->options[iter->option_idx++];
		}
		iter->kind_idx++;
		iter->option_idx = 0;
	}
	*kind_r = NULL;
	return NULL;
}

int
moa2_options_parse_duration(const char *text, unsigned int *seconds_r)
{
	uint64_t value;

	if (parse_duration(text, false, &value) < 0)
		return -1;
	*seconds_r = (unsigned int)value; /* parse_duration caps at UINT_MAX */
	return 0;
}

void
moa2_options_describe(const struct moa2_config_schema *schema,
		      moa2_option_doc_func_t *func, void *context)
{
	struct moa2_config_option_iter iter;
	const struct moa2_config_section_kind *kind;
	const struct moa2_config_option *opt;

	moa2_config_option_iter_init(&iter, schema);
	while ((opt = moa2_config_option_iter_next(&iter, &kind)) != NULL) {
		struct moa2_option_doc doc = {
			.section = kind->name, .key = opt->key,
			.type = moa2_config_type_name(opt->type),
			.default_text = opt->default_value != NULL ?
				opt->default_value : opt->default_doc,
			.description = opt->description,
		};

		func(context, &doc);
	}
}
