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

/* A structured event for the host's metrics (Dovecot: a named event with
   these fields, counted by its metric { } blocks). The core decides the
   name, the fields and their values; a host copies them as they are. Names
   and string values are static or live as long as the verify config. */
#define MOA2_EVENT_FIELDS_MAX 8
struct moa2_event_field {
	const char *name;
	const char *str;   /* NULL: the field is the number num */
	long long num;
};
struct moa2_event {
	const char *name;
	unsigned int fields_count;
	struct moa2_event_field fields[MOA2_EVENT_FIELDS_MAX];
	/* the debug line a host logs with the event (never NULL) */
	char text[256];
};
typedef void moa2_event_func_t(void *context, const struct moa2_event *event);

/* The key fetch event: every HTTP fetch of a provider's key set (JWKS).
     provider        the provider's name
     result          ok | failed
     duration_usecs  the fetch's wall time in microseconds */
#define MOA2_EVENT_KEY_FETCH_FINISHED "mail_oauth2_key_fetch_finished"

struct moa2_logger {
	moa2_log_func_t *func; /* NULL: discard */
	void *context;
	bool debug;            /* also pass debug messages */
	moa2_event_func_t *event; /* NULL: no events (same context) */
};

/* Hands event to the host's event callback, if it has one. */
void moa2_log_event(const struct moa2_logger *logger,
		    const struct moa2_event *event);
/* Builds an event: fields are added with moa2_event_add_str/_int. */
void moa2_event_init(struct moa2_event *event, const char *name);
void moa2_event_add_str(struct moa2_event *event, const char *name,
			const char *value);
void moa2_event_add_int(struct moa2_event *event, const char *name,
			long long value);

void moa2_log(const struct moa2_logger *logger, enum moa2_log_level level,
	      const char *fmt, ...) MOA2_ATTR_FORMAT(3, 4);
void moa2_logv(const struct moa2_logger *logger, enum moa2_log_level level,
	       const char *fmt, va_list args) MOA2_ATTR_FORMAT(3, 0);
const char *moa2_log_level_name(enum moa2_log_level level);

#endif
