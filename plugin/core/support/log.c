/* SPDX-License-Identifier: MIT */
/* Logging through the host's callback. */
#include "config.h"
#include "mail-oauth2/log.h"

#include <stdio.h>

void
moa2_logv(const struct moa2_logger *logger, enum moa2_log_level level,
	  const char *fmt, va_list args)
{
	char message[1024];

	if (logger == NULL || logger->func == NULL ||
	    (level == MOA2_LOG_DEBUG && !logger->debug))
		return;
	vsnprintf(message, sizeof(message), fmt, args);
	logger->func(logger->context, level, message);
}

void
moa2_log(const struct moa2_logger *logger, enum moa2_log_level level,
	 const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	moa2_logv(logger, level, fmt, args);
	va_end(args);
}

const char *
moa2_log_level_name(enum moa2_log_level level)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };

	return (unsigned int)level < 4 ? names[level] : "unknown";
}
