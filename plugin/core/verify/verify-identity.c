/* SPDX-License-Identifier: MIT */
/* Identity extraction, normalisation and user binding. */
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
		    strcasecmp(name + len - dlen, *domains) == 0)
			return len - dlen - 1;
	}
	return len;
}

int
moa2_identity_normalize(const char *name,
			const struct moa2_identity_rules *rules,
			char **identity_r)
{
	size_t len = len_without_stripped_domain(name, strlen(name),
						 rules->domain_strip);
	bool append = rules->domain_append != NULL &&
		memchr(name, '@', len) == NULL;
	size_t total = len + (append ? 1 + strlen(rules->domain_append) : 0);
	char *out;

	*identity_r = NULL;
	if (len == 0 || total > MOA2_IDENTITY_MAX_LEN ||
	    moa2_sasl_check_text(name, len, false) != MOA2_SASL_OK)
		return -1;
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
	*identity_r = out;
	return 0;
}

int
moa2_identity_from_claims(const struct moa2_json *claims,
			  const struct moa2_identity_rules *rules,
			  char **identity_r, const char **claim_r)
{
	*identity_r = NULL;
	*claim_r = NULL;
	for (const char *const *name = rules->claims; name != NULL && *name != NULL; name++) {
		const char *value;
		int ret = moa2_json_get_string(claims, *name, &value);

		if (ret == 0)
			continue;
		/* the first claim present decides: a malformed one does not
		   fall through to the next */
		*claim_r = *name;
		if (ret < 0)
			return -1;
		return moa2_identity_normalize(value, rules, identity_r);
	}
	return -1;
}

bool
moa2_identity_matches(const char *asserted, const char *identity,
		      const struct moa2_identity_rules *rules)
{
	char *normalized;
	bool equal;

	if (moa2_identity_normalize(asserted, rules, &normalized) < 0)
		return false;
	equal = strcmp(normalized, identity) == 0;
	free(normalized);
	return equal;
}
