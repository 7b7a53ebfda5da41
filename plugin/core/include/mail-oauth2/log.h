/* SPDX-License-Identifier: MIT */
#ifndef MOA2_LOG_H
#define MOA2_LOG_H

/* Logging through a host-supplied callback: the core never writes to
   stderr or syslog itself. Messages never contain a token or a secret,
   only fingerprints (moa2_token_fingerprint). */

#include <stdarg.h>
#include "mail-oauth2/common.h"

enum moa2_log_level {
	MOA2_LOG_DEBUG,
	MOA2_LOG_INFO,    /* user-caused failures: a rejected token */
	MOA2_LOG_WARNING, /* degraded: serving stale keys, store not writable */
	MOA2_LOG_ERROR,   /* internal failures: provider down, bad config */
};

typedef void moa2_log_func_t(void *context, enum moa2_log_level level,
			     const char *message);

struct moa2_logger {
	moa2_log_func_t *func; /* NULL: discard */
	void *context;
	bool debug;            /* also pass debug messages */
};

void moa2_log(const struct moa2_logger *logger, enum moa2_log_level level,
	      const char *fmt, ...) MOA2_ATTR_FORMAT(3, 4);
void moa2_logv(const struct moa2_logger *logger, enum moa2_log_level level,
	       const char *fmt, va_list args) MOA2_ATTR_FORMAT(3, 0);
const char *moa2_log_level_name(enum moa2_log_level level);

#endif
