/* SPDX-License-Identifier: MIT */
/* The schema-driven config file parser (see config-parser.h for the
   syntax): the lexer and the line parser, the defaults, the file and the
   text (its other files: config-parser-private.h). Failure behaviour: the
   first error ends the parse and frees everything parsed so far; secrets
   (inline values, file contents and the raw file buffer) are wiped with
   OPENSSL_cleanse before being freed. */

#include "config.h"
#include "support/config-parser-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define CONFIG_MAX_FILE_SIZE (1024 * 1024)

/* -------------------------------------------------------------- sections */

static struct moa2_config_section *
current_section(struct moa2_config_parser *p)
{
	return &p->config->sections[p->config->sections_count - 1];
}

static int
add_section(struct moa2_config_parser *p, const struct moa2_config_section_kind *kind,
	    const char *name)
{
	struct moa2_config *config = p->config;
	struct moa2_config_section *sections, *section;

	sections = realloc(config->sections,
			   (config->sections_count + 1) * sizeof(*sections));
	if (sections == NULL)
		return moa2_config_oom(p);
	config->sections = sections;
	section = &sections[config->sections_count];
	memset(section, 0, sizeof(*section));
	section->kind = kind;
	section->line = p->line;
	if (name != NULL && (section->name = strdup(name)) == NULL)
		return moa2_config_oom(p);
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
check_section_unique(struct moa2_config_parser *p, const struct moa2_config_section_kind *kind,
		     const char *name)
{
	for (unsigned int i = 1; i < p->config->sections_count; i++) {
		const struct moa2_config_section *other = &p->config->sections[i];

		if (other->kind == kind && strcmp(other->name, name) == 0) {
			return moa2_config_fail(p, "duplicate section [%s %s] (first at line %u)",
						kind->name, name, other->line);
		}
	}
	return 0;
}

/* s points at '[' */
static int
parse_section_header(struct moa2_config_parser *p, char *s)
{
	const struct moa2_config_section_kind *kind;
	char expected[256], *close, *after, *kind_name, *name;

	moa2_config_kinds_expected(p->schema, expected, sizeof(expected));
	close = strchr(s, ']');
	if (close == NULL)
		return moa2_config_fail(p, "section header not closed (expected %s)", expected);
	after = skip_space(close + 1);
	if (*after != '\0' && *after != '#')
		return moa2_config_fail(p, "unexpected text after the section header (expected %s)",
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
		return moa2_config_fail(p, "empty section header (expected %s)", expected);
	kind = moa2_config_schema_find_kind(p->schema, kind_name);
	if (kind == NULL)
		return moa2_config_fail(p, "unknown section kind '%s' (expected %s)",
					kind_name, expected);
	if (*name == '\0')
		return moa2_config_fail(p, "section [%s] needs a name (expected [%s NAME])",
					kind->name, kind->name);
	if (!valid_section_name(name))
		return moa2_config_fail(p, "invalid section name '%s' (expected [%s NAME], "
					"NAME made of letters, digits, '_', '.' and '-')",
					name, kind->name);
	if (check_section_unique(p, kind, name) < 0)
		return -1;
	return add_section(p, kind, name);
}

/* ------------------------------------------------------------ value text */

/* Unquotes and trims the value text after '='. Returns a malloc()ed string
   (wiped by the caller if it is a secret), or NULL after an error. */
static char *
parse_value_text(struct moa2_config_parser *p, const char *key, char *v)
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
			moa2_config_oom(p);
		return out;
	}
	out = o = malloc(size);
	if (out == NULL) {
		moa2_config_oom(p);
		return NULL;
	}
	for (v++; *v != '\0' && *v != '"'; v++) {
		if (*v == '\\') {
			v++;
			if (*v != '"' && *v != '\\') {
				moa2_config_fail(p, "key '%s': unknown escape in quoted value "
						 "(expected \\\" or \\\\)", key);
				goto fail;
			}
		}
		*o++ = *v;
	}
	*o = '\0';
	if (*v != '"') {
		moa2_config_fail(p, "key '%s': unterminated quoted value (expected a closing \")",
				 key);
		goto fail;
	}
	v = skip_space(v + 1);
	if (*v != '\0' && *v != '#') {
		moa2_config_fail(p, "key '%s': unexpected text after the quoted value "
				 "(expected a # comment or nothing)", key);
		goto fail;
	}
	return out;
fail:
	OPENSSL_cleanse(out, size);
	free(out);
	return NULL;
}

/* -------------------------------------------------------------- settings */

static struct moa2_config_setting *
section_add(struct moa2_config_parser *p, struct moa2_config_section *section,
	    const struct moa2_config_option *option)
{
	struct moa2_config_setting *settings, *set;

	settings = realloc(section->settings,
			   (section->settings_count + 1) * sizeof(*settings));
	if (settings == NULL) {
		moa2_config_oom(p);
		return NULL;
	}
	section->settings = settings;
	set = &settings[section->settings_count++];
	memset(set, 0, sizeof(*set));
	set->option = option;
	set->line = p->line;
	return set;
}

/* Stores value (malloc()ed, taken over) for option in the current section. */
static int
store_setting(struct moa2_config_parser *p, const struct moa2_config_option *option,
	      const char *key, char *value, bool from_file)
{
	struct moa2_config_section *section = current_section(p);
	struct moa2_config_setting *set = moa2_config_section_find(section, option);
	bool repeatable = (option->flags & MOA2_CONFIG_REPEATABLE) != 0;
	int ret;

	if (set != NULL && !repeatable) {
		if (option->type == MOA2_CONFIG_SECRET)
			OPENSSL_cleanse(value, strlen(value));
		free(value);
		return moa2_config_duplicate_key(p, section, set, key, from_file);
	}
	if (set == NULL && (set = section_add(p, section, option)) == NULL) {
		free(value);
		return -1;
	}
	if (option->type == MOA2_CONFIG_SECRET)
		return moa2_config_store_secret(p, set, key, value, from_file);
	ret = moa2_config_convert_value(p, set, key, value);
	if (ret == 0 && repeatable && option->type != MOA2_CONFIG_LIST)
		ret = moa2_config_setting_add_item(p, set, value, strlen(value));
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
parse_setting(struct moa2_config_parser *p, char *s)
{
	const struct moa2_config_section_kind *kind = current_section(p)->kind;
	const struct moa2_config_option *option;
	char expected[256], *key = s, *value;
	bool from_file = false;

	while (is_key_char(*s))
		s++;
	if (s == key || *skip_space(s) != '=') {
		moa2_config_kinds_expected(p->schema, expected, sizeof(expected));
		return moa2_config_fail(p, "syntax error (expected 'key = value', %s "
					"or a # comment)", expected);
	}
	value = skip_space(skip_space(s) + 1);
	*s = '\0';
	option = moa2_config_kind_find_option(kind, key);
	if (option == NULL) {
		option = moa2_config_kind_find_secret_file(kind, key);
		from_file = option != NULL;
	}
	if (option == NULL)
		return moa2_config_unknown_key(p, current_section(p), key);
	if ((value = parse_value_text(p, key, value)) == NULL)
		return -1;
	return store_setting(p, option, key, value, from_file);
}

static int
parse_line(struct moa2_config_parser *p, char *line)
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
apply_default(struct moa2_config_parser *p, struct moa2_config_section *section,
	      const struct moa2_config_option *option)
{
	struct moa2_config_setting *set;
	char *value;

	if (option->default_value == NULL || moa2_config_section_find(section, option) != NULL)
		return 0;
	if ((value = strdup(option->default_value)) == NULL)
		return moa2_config_oom(p);
	if ((set = section_add(p, section, option)) == NULL) {
		free(value);
		return -1;
	}
	set->line = 0;
	set->str = value;
	if (option->type == MOA2_CONFIG_SECRET)
		return 0;
	if (moa2_config_convert_value(p, set, option->key, value) < 0)
		return -1;
	if ((option->flags & MOA2_CONFIG_REPEATABLE) != 0 &&
	    option->type != MOA2_CONFIG_LIST)
		return moa2_config_setting_add_item(p, set, value, strlen(value));
	return 0;
}

static int
apply_defaults(struct moa2_config_parser *p)
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
parse_buffer(struct moa2_config_parser *p, char *buf, size_t len)
{
	char *line = buf, *end = buf + len;

	if (memchr(buf, '\0', len) != NULL) {
		p->line = 1;
		for (const char *c = buf; *c != '\0'; c++)
			p->line += *c == '\n' ? 1 : 0;
		return moa2_config_fail(p, "NUL byte in the file (expected text)");
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
	struct moa2_config_parser p = { .schema = schema, .flags = flags };
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
		moa2_config_oom(&p);
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
	size_t len, size;
	char *buf;
	int fd, ret;

	*config_r = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*error_r = moa2_config_file_error(path, "cannot open the config file: %s",
						  strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_MAX_FILE_SIZE) {
		*error_r = moa2_config_file_error(path, "not a regular file of at most 1 MiB");
		close(fd);
		return -1;
	}
	/* sized to the file, not to the maximum: wiping 1 MiB cost every
	   Postfix smtp process 0.4 ms (one byte more shows that it grew) */
	size = (size_t)st.st_size + 1;
	buf = malloc(size);
	if (buf == NULL || moa2_read_all(fd, buf, size, &len) < 0) {
		*error_r = moa2_config_file_error(path, "cannot read the config file: %s",
						  buf == NULL ? "out of memory" : strerror(errno));
		close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	if (len > (size_t)st.st_size) {
		*error_r = moa2_config_file_error(path, "the config file changed while it was read");
		ret = -1;
	} else {
		ret = parse_string_flags(path, buf, len, schema, flags, config_r, error_r);
	}
	OPENSSL_cleanse(buf, size);
	free(buf);
	return ret;
}
