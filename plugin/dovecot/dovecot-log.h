/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_LOG_H
#define DOVECOT_LOG_H

/* The bridge from the core's moa2_logger to Dovecot's events. Everything
   the plugin logs carries the event category "mail-oauth2" (a child of
   "auth"), so `log_debug = category=mail-oauth2` selects it.

   Levels: the core's debug lines go to e_debug (shown with auth_debug=yes,
   or always when the verify config says log_debug = yes); user-caused
   rejections are logged at info with their reason code; degraded service
   at warning; internal failures (provider down, bad config) at error.
   Tokens never appear, only their fingerprint "sha256:XXXXXXXX".

   The core has no notion of a request, so its messages go to the event of
   the request being verified (moa2_dovecot_log_request_begin), else to the
   plugin's global event. */

#include "mail-oauth2/log.h"

struct event;

/* Creates the global event (a child of auth_event). force_debug: the verify
   config's log_debug. Idempotent; the first call decides force_debug. */
void moa2_dovecot_log_init(bool force_debug);
void moa2_dovecot_log_deinit(void);

/* The plugin's global event (start-up, config, no request). */
struct event *moa2_dovecot_log_event(void);
/* True when debug lines would be shown somewhere: passed to the core so
   that it does not format debug lines nobody reads. */
bool moa2_dovecot_log_want_debug(void);

/* A child event of parent (a request's passdb or mechanism event) with the
   plugin's category. Release with event_unref(). */
struct event *moa2_dovecot_log_event_create(struct event *parent);

/* While a request is verified, the core's messages go to its event. */
void moa2_dovecot_log_request_begin(struct event *event);
void moa2_dovecot_log_request_end(void);

/* Logs text on event at the core's level (a verdict line of verdict.h). */
void moa2_dovecot_log_line(struct event *event, enum moa2_log_level level,
			   const char *text);

/* Names event as the core's event from and adds its fields (the core
   decides them: log.h, verdict.h), for Dovecot's metric { } blocks. */
void moa2_dovecot_event_copy(struct event *event, const struct moa2_event *from);
/* Emits a core event (a key fetch) as a child of the request's event, or
   of the global one, with its debug line. */
void moa2_dovecot_log_core_event(const struct moa2_event *from);

/* The logger to hand to moa2_verifier_create(); its events go to
   moa2_dovecot_log_core_event(). */
const struct moa2_logger *moa2_dovecot_logger(void);

#endif
