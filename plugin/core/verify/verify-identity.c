/* SPDX-License-Identifier: MIT */
/* Identity extraction, normalisation, the check of a name a host may get,
   and user binding (see verify-identity.h). Failure behaviour: a name that
   fails a check is refused, never repaired. */
#include "config.h"
#include "verify/verify-identity.h"
#include "codec/sasl-codec-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The length without a trailing "@DOMAIN" of the strip list, if any. */
static size_t
len_without_stripped_domain(const char *name, size_t len,
			    const char *const *domains)
{
	for (; domains != NULL && *domains != NULL; domains++) {
		size_t dlen = strlen(*domains);

		if (len > dlen + 1 && name[len - dlen - 1] == '@' &&
		    strncasecmp(name + len - dlen, *domains, dlen) == 0)
			return len - dlen - 1;
	}
	return len;
}

/* The code point of the valid UTF-8 sequence at p, and its length. */
static unsigned long
utf8_decode(const unsigned char *p, size_t *len_r)
{
	if (p[0] < 0x80) {
		*len_r = 1;
		return p[0];
	}
	if (p[0] < 0xe0) {
		*len_r = 2;
		return ((unsigned long)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
	}
	if (p[0] < 0xf0) {
		*len_r = 3;
		return ((unsigned long)(p[0] & 0x0f) << 12) |
			((unsigned long)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
	}
	*len_r = 4;
	return ((unsigned long)(p[0] & 0x07) << 18) | ((unsigned long)(p[1] & 0x3f) << 12) |
		((unsigned long)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
}

/* Unicode White_Space and the C1 controls beyond ASCII. */
static bool
is_unicode_space_or_control(unsigned long cp)
{
	return (cp >= 0x80 && cp <= 0xa0) || cp == 0x1680 ||
		(cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
		cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

static bool
is_segment_separator(char c)
{
	return c == '/' || c == '\\' || c == '@';
}

/* A "." or ".." between separators (or the ends): a directory walk in a
   mail location made of %u, %n or %d. */
static bool
has_dot_segment(const char *name, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && !is_segment_separator(name[i]))
			continue;
		if ((i - start == 1 && name[start] == '.') ||
		    (i - start == 2 && name[start] == '.' && name[start + 1] == '.'))
			return true;
		start = i + 1;
	}
	return false;
}

/* NULL when name may be given to a host, else why not. */
static const char *
refused_because(const char *name, size_t len, unsigned int allow)
{
	if (len > MOA2_IDENTITY_MAX_LEN)
		return "it is longer than 512 bytes";
	if (memchr(name, '\0', len) != NULL)
		return "it contains a NUL";
	switch (moa2_sasl_check_text(name, len, false)) {
	case MOA2_SASL_OK:
		break;
	case MOA2_SASL_ERR_BAD_UTF8:
		return "it is not UTF-8";
	default:
		return "it contains a control character";
	}
	for (size_t i = 0, n; i < len; i += n) {
		unsigned long cp = utf8_decode((const unsigned char *)name + i, &n);

		if (cp == ' ' && (allow & MOA2_IDENTITY_ALLOW_SPACE) == 0)
			return "it contains a space";
		if (cp == '/' && (allow & MOA2_IDENTITY_ALLOW_SLASH) == 0)
			return "it contains '/'";
		if (cp == '\\' && (allow & MOA2_IDENTITY_ALLOW_BACKSLASH) == 0)
			return "it contains '\\'";
		if (is_unicode_space_or_control(cp))
			return "it contains a non-ASCII space or control character";
	}
	if (has_dot_segment(name, len))
		return "it contains a '.' or '..' segment";
	return NULL;
}

enum moa2_identity_status
moa2_identity_normalize(const char *name, size_t name_len,
			const struct moa2_identity_rules *rules,
			char **identity_r, const char **why_r)
{
	size_t len, total;
	bool append;
	char *out;

	*identity_r = NULL;
	*why_r = NULL;
	if (name_len == 0)
		return MOA2_IDENTITY_ABSENT;
	/* checked before the domain rules too: a stripped or appended domain
	   must not hide anything */
	if ((*why_r = refused_because(name, name_len, rules->allow)) != NULL)
		return MOA2_IDENTITY_BAD;
	len = len_without_stripped_domain(name, name_len, rules->domain_strip);
	append = rules->domain_append != NULL && memchr(name, '@', len) == NULL;
	total = len + (append ? 1 + strlen(rules->domain_append) : 0);
	out = malloc(total + 1);
	if (out == NULL)
		abort();
	memcpy(out, name, len);
	if (append) {
		out[len] = '@';
		strcpy(out + len + 1, rules->domain_append);
	}
	out[total] = '\0';
	if (rules->lowercase) {
		for (char *p = out; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		}
	}
	if ((*why_r = refused_because(out, total, rules->allow)) != NULL) {
		free(out);
		return MOA2_IDENTITY_BAD;
	}
	*identity_r = out;
	return MOA2_IDENTITY_OK;
}

enum moa2_identity_status
moa2_identity_from_claims(const struct moa2_json *claims,
			  const struct moa2_identity_rules *rules,
			  char **identity_r, const char **claim_r,
			  const char **why_r)
{
	*identity_r = NULL;
	*claim_r = NULL;
	*why_r = NULL;
	for (const char *const *name = rules->claims; name != NULL && *name != NULL; name++) {
		const struct moa2_json *value;
		const char *bytes;
		size_t len;

		if (moa2_json_get(claims, *name, &value) == 0)
			continue;
		/* the first claim present decides: a malformed one does not
		   fall through to the next */
		*claim_r = *name;
		if ((bytes = moa2_json_string_bytes(value, &len)) == NULL)
			return MOA2_IDENTITY_NOT_STRING;
		/* with its length: an embedded NUL is refused, not cut at */
		return moa2_identity_normalize(bytes, len, rules, identity_r, why_r);
	}
	return MOA2_IDENTITY_ABSENT;
}

/* strcasecmp() without the locale */
static bool
ascii_case_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
		char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;

		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

enum moa2_identity_status
moa2_identity_matches(const char *asserted, const char *identity,
		      const struct moa2_identity_rules *rules, bool *equal_r,
		      const char **why_r)
{
	enum moa2_identity_status status;
	char *normalized;

	*equal_r = false;
	status = moa2_identity_normalize(asserted, strlen(asserted), rules,
					 &normalized, why_r);
	if (status != MOA2_IDENTITY_OK)
		return status;
	*equal_r = ascii_case_equal(normalized, identity);
	free(normalized);
	return MOA2_IDENTITY_OK;
}

int
moa2_identity_allow_parse(const char *const *words, unsigned int count,
			  unsigned int *allow_r, const char **bad_r)
{
	*allow_r = 0;
	for (unsigned int i = 0; i < count; i++) {
		if (strcmp(words[i], "space") == 0)
			*allow_r |= MOA2_IDENTITY_ALLOW_SPACE;
		else if (strcmp(words[i], "slash") == 0)
			*allow_r |= MOA2_IDENTITY_ALLOW_SLASH;
		else if (strcmp(words[i], "backslash") == 0)
			*allow_r |= MOA2_IDENTITY_ALLOW_BACKSLASH;
		else {
			*bad_r = words[i];
			return -1;
		}
	}
	return 0;
}
