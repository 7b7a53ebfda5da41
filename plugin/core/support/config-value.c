/* SPDX-License-Identifier: MIT */
/* The value types of the config parser: what the text of a setting becomes
   per its option's type (config-parser.h lists them): absolute paths,
   strictly parsed URLs, booleans, numbers, durations, sizes, enum words
   and lists.

   Failure behaviour: a value that does not fit its type is an error of the
   parse (the first one wins: moa2_config_fail()) that names the
   key, quotes the value and says what was expected; a number, duration or
   size that would overflow is refused, never wrapped. Secrets are not
   converted here (config-secret.c), so no message quotes one. */

#include "config.h"
#include "support/config-parser-private.h"
#include "support/url.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- values */

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

int
moa2_config_setting_add_item(struct moa2_config_parser *p,
			     struct moa2_config_setting *set,
			     const char *item, size_t len)
{
	char **items;
	unsigned int *lines;

	items = realloc(set->items, (set->items_count + 2) * sizeof(*items));
	if (items == NULL)
		return moa2_config_oom(p);
	set->items = items;
	lines = realloc(set->item_lines, (set->items_count + 1) * sizeof(*lines));
	if (lines == NULL)
		return moa2_config_oom(p);
	set->item_lines = lines;
	if ((items[set->items_count] = strndup(item, len)) == NULL)
		return moa2_config_oom(p);
	lines[set->items_count] = p->line;
	items[++set->items_count] = NULL;
	return 0;
}

static int
setting_add_list(struct moa2_config_parser *p, struct moa2_config_setting *set,
		 const char *text)
{
	static const char separators[] = " \t,";

	while (*text != '\0') {
		size_t len;

		text += strspn(text, separators);
		len = strcspn(text, separators);
		if (len > 0 && moa2_config_setting_add_item(p, set, text, len) < 0)
			return -1;
		text += len;
	}
	return 0;
}

static int
check_url(struct moa2_config_parser *p, const char *key, const char *value)
{
	struct moa2_url url;
	const char *reason;

	if (moa2_url_parse(value, &url, &reason) < 0)
		return moa2_config_fail(p, "key '%s': invalid URL '%s': %s "
					"(expected https://host[:port][/path])", key, value, reason);
	return 0;
}

/* Converts text (the unquoted value, not a secret) into set per the
   option's type. key is the key as written, for messages. */
int
moa2_config_convert_value(struct moa2_config_parser *p,
			  struct moa2_config_setting *set,
			  const char *key, const char *text)
{
	const struct moa2_config_option *option = set->option;
	char expected[256];

	if (*text == '\0' && option->type != MOA2_CONFIG_LIST) {
		return moa2_config_fail(p, "key '%s': empty value (expected a %s)", key,
					moa2_config_type_name(option->type));
	}
	switch (option->type) {
	case MOA2_CONFIG_STRING:
	case MOA2_CONFIG_SECRET:
		return 0;
	case MOA2_CONFIG_PATH:
		if (text[0] != '/')
			return moa2_config_fail(p, "key '%s': relative path '%s' "
						"(expected an absolute path)", key, text);
		return 0;
	case MOA2_CONFIG_URL:
		return check_url(p, key, text);
	case MOA2_CONFIG_BOOL:
		if (parse_bool(text, &set->bool_value) < 0)
			return moa2_config_fail(p, "key '%s': invalid boolean '%s' "
						"(expected yes, no, true, false, 1 or 0)", key, text);
		return 0;
	case MOA2_CONFIG_UINT: {
		const char *end;

		if (parse_uint64(text, &end, &set->number) < 0 || *end != '\0' ||
		    set->number > UINT_MAX)
			return moa2_config_fail(p, "key '%s': invalid number '%s' "
						"(expected a whole number from 0 to %u)",
						key, text, UINT_MAX);
		return 0;
	}
	case MOA2_CONFIG_DURATION:
		if (parse_duration(text, false, &set->number) < 0)
			return moa2_config_fail(p, "key '%s': invalid duration '%s' (expected "
						"seconds with an optional unit s, m, h or d, "
						"e.g. 30s, 5m, 2h, 1d)", key, text);
		return 0;
	case MOA2_CONFIG_DURATION_MS:
		if (parse_duration(text, true, &set->number) < 0)
			return moa2_config_fail(p, "key '%s': invalid duration '%s' (expected "
						"seconds with an optional unit ms, s, m, h or d, "
						"e.g. 500ms, 3s)", key, text);
		return 0;
	case MOA2_CONFIG_SIZE:
		if (parse_size(text, &set->number) < 0)
			return moa2_config_fail(p, "key '%s': invalid size '%s' (expected bytes "
						"with an optional unit k, M or G, e.g. 64k, 1M)",
						key, text);
		return 0;
	case MOA2_CONFIG_ENUM:
		if (parse_enum(option, text, &set->enum_value) < 0) {
			enum_expected(option, expected, sizeof(expected));
			return moa2_config_fail(p, "key '%s': invalid value '%s' (expected one of: %s)",
						key, text, expected);
		}
		return 0;
	case MOA2_CONFIG_LIST:
		return setting_add_list(p, set, text);
	}
	return moa2_config_fail(p, "key '%s': unsupported option type", key);
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

int
moa2_options_parse_duration(const char *text, unsigned int *seconds_r)
{
	uint64_t value;

	if (parse_duration(text, false, &value) < 0)
		return -1;
	*seconds_r = (unsigned int)value; /* parse_duration caps at UINT_MAX */
	return 0;
}
