/* SPDX-License-Identifier: MIT */
/* The schema side of the config parser: finding options and section kinds,
   what a consumer reads after the parse (moa2_config_section_get(),
   moa2_config_bind()), the option iterator, the docs of every option
   (moa2_options_describe()) and the type names.

   Failure behaviour: nothing here fails: a key that is not in the schema
   is NULL (a setting) or the section's header line (its line); an absent
   option binds as NULL / false / 0 / an empty list. */

#include "config.h"
#include "support/config-parser-private.h"

#include <stdio.h>
#include <string.h>

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

/* ---------------------------------------------------------------- schema */

const struct moa2_config_option *
moa2_config_kind_find_option(const struct moa2_config_section_kind *kind,
			     const char *key)
{
	for (unsigned int i = 0; i < kind->options_count; i++) {
		if (strcmp(kind->options[i].key, key) == 0)
			return &kind->options[i];
	}
	return NULL;
}

const struct moa2_config_section_kind *
moa2_config_schema_find_kind(const struct moa2_config_schema *schema,
			     const char *name)
{
	for (unsigned int i = 0; i < schema->sections_count; i++) {
		if (strcmp(schema->sections[i].name, name) == 0)
			return &schema->sections[i];
	}
	return NULL;
}

/* "[provider NAME]" or "[provider NAME] or [account NAME]" */
void
moa2_config_kinds_expected(const struct moa2_config_schema *schema, char *buf,
			   size_t size)
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
const struct moa2_config_option *
moa2_config_kind_find_secret_file(const struct moa2_config_section_kind *kind,
				  const char *key)
{
	size_t key_len = strlen(key), suffix_len = strlen(MOA2_CONFIG_SECRET_FILE_SUFFIX);
	const struct moa2_config_option *option;
	char base[MOA2_CONFIG_SUGGEST_MAX_KEY_LEN + 1];

	if (key_len <= suffix_len || key_len - suffix_len > MOA2_CONFIG_SUGGEST_MAX_KEY_LEN ||
	    strcmp(key + key_len - suffix_len, MOA2_CONFIG_SECRET_FILE_SUFFIX) != 0)
		return NULL;
	memcpy(base, key, key_len - suffix_len);
	base[key_len - suffix_len] = '\0';
	option = moa2_config_kind_find_option(kind, base);
	return option != NULL && option->type == MOA2_CONFIG_SECRET ? option : NULL;
}

struct moa2_config_setting *
moa2_config_section_find(const struct moa2_config_section *section,
			 const struct moa2_config_option *option)
{
	for (unsigned int i = 0; i < section->settings_count; i++) {
		if (section->settings[i].option == option)
			return &section->settings[i];
	}
	return NULL;
}

/* ---------------------------------------------------------------- lookup */

const struct moa2_config_setting *
moa2_config_section_get(const struct moa2_config_section *section,
			const char *key)
{
	const struct moa2_config_option *option =
		moa2_config_kind_find_option(section->kind, key);

	return option == NULL ? NULL : moa2_config_section_find(section, option);
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
		bind_option(option, moa2_config_section_find(section, option),
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
