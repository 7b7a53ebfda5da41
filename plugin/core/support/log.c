/* SPDX-License-Identifier: MIT */
/* Logging through the host's callback. */
#include "config.h"
#include "mail-oauth2/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
moa2_log_event(const struct moa2_logger *logger, const struct moa2_event *event)
{
	if (logger != NULL && logger->event != NULL)
		logger->event(logger->context, event);
}

void
moa2_event_init(struct moa2_event *event, const char *name)
{
	memset(event, 0, sizeof(*event));
	event->name = name;
}

static struct moa2_event_field *
event_field(struct moa2_event *event, const char *name)
{
	struct moa2_event_field *field;

	/* the core's own events: a field too many is a bug, not input */
	if (event->fields_count >= MOA2_EVENT_FIELDS_MAX)
		abort();
	field = &event->fields[event->fields_count++];
	field->name = name;
	return field;
}

void
moa2_event_add_str(struct moa2_event *event, const char *name,
		   const char *value)
{
	event_field(event, name)->str = value != NULL && *value != '\0' ?
		value : "-";
}

void
moa2_event_add_int(struct moa2_event *event, const char *name, long long value)
{
	event_field(event, name)->num = value;
}
