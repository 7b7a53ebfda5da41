/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_CONFIG_PRIVATE_H
#define MOA2_VERIFY_CONFIG_PRIVATE_H

/* What the files of verify.conf share: the schema
   (verify-config-schema.c), the checks of a provider's key and answer
   sources (verify-config-check.c), and the loader with the policy checks
   (verify-config.c). Failure behaviour: every check records the first
   error, one line naming file, line and key, and returns -1. */

#include "mail-oauth2/verify-config.h"
#include "support/config-parser.h"

#include <stdarg.h>

struct moa2_verify_check {
	struct moa2_verify_config *config;
	struct moa2_provider_config *provider;
	const struct moa2_config_section *section;
	char *error;
};

/* Records the first error at key's line (of the current section).
   Always returns -1. */
int moa2_verify_check_verror(struct moa2_verify_check *ctx, const char *key,
			     const char *fmt, va_list args) MOA2_ATTR_FORMAT(3, 0);

/* issuer, discovery, the key source, the opaque mode and its endpoints */
int moa2_verify_check_sources(struct moa2_verify_check *ctx);
/* every URL of the provider: https, or http to loopback by opt-in */
int moa2_verify_check_urls(struct moa2_verify_check *ctx);

#endif
