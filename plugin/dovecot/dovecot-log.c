/* SPDX-License-Identifier: MIT */
/* The moa2_logger -> Dovecot events bridge (see dovecot-log.h).
   Failure behaviour: logging never fails a request; a message logged while
   no event exists yet goes to i_error/i_info with the plugin's prefix. */

#include "auth-common.h"
#include "dovecot-api.h"
#include "dovecot-log.h"

static struct event_category event_category_mail_oauth2 = {
	.parent = &event_category_auth,
	.name = "mail-oauth2",
};

static struct event *moa2_global_event;
static struct event *moa2_request_event;
static bool moa2_force_debug;

void
moa2_dovecot_log_init(bool force_debug)
{
	if (moa2_global_event != NULL)
		return;
	moa2_force_debug = force_debug;
	moa2_global_event = event_create(auth_event);
	event_add_category(moa2_global_event, &event_category_mail_oauth2);
	event_set_append_log_prefix(moa2_global_event, "bearer: ");
	if (force_debug)
		event_set_forced_debug(moa2_global_event, TRUE);
}

void
moa2_dovecot_log_deinit(void)
{
	moa2_request_event = NULL;
	if (moa2_global_event != NULL)
		event_unref(&moa2_global_event);
}

struct event *
moa2_dovecot_log_event(void)
{
	return moa2_global_event;
}

bool
moa2_dovecot_log_want_debug(void)
{
	return moa2_force_debug ||
		moa2_dovecot_auth_debug() ||
		(moa2_global_event != NULL && event_want_debug_log(moa2_global_event));
}

struct event *
moa2_dovecot_log_event_create(struct event *parent)
{
	struct event *event = event_create(parent);

	event_add_category(event, &event_category_mail_oauth2);
	if (moa2_force_debug)
		event_set_forced_debug(event, TRUE);
	return event;
}

void
moa2_dovecot_log_request_begin(struct event *event)
{
	moa2_request_event = event;
}

void
moa2_dovecot_log_request_end(void)
{
	moa2_request_event = NULL;
}

void
moa2_dovecot_log_line(struct event *event, enum moa2_log_level level,
		      const char *text)
{
	if (event == NULL) {
		/* before init: cannot happen in practice, but never drop
		   an error */
		if (level >= MOA2_LOG_WARNING)
			i_error("mail-oauth2: %s", text);
		return;
	}
	switch (level) {
	case MOA2_LOG_DEBUG:
		e_debug(event, "%s", text);
		break;
	case MOA2_LOG_INFO:
		e_info(event, "%s", text);
		break;
	case MOA2_LOG_WARNING:
		e_warning(event, "%s", text);
		break;
	case MOA2_LOG_ERROR:
	default:
		e_error(event, "%s", text);
		break;
	}
}

void
moa2_dovecot_event_copy(struct event *event, const struct moa2_event *from)
{
	event_set_name(event, from->name);
	for (unsigned int i = 0; i < from->fields_count; i++) {
		const struct moa2_event_field *field = &from->fields[i];

		if (field->str != NULL)
			event_add_str(event, field->name, field->str);
		else
			event_add_int(event, field->name, field->num);
	}
}

void
moa2_dovecot_log_core_event(const struct moa2_event *from)
{
	struct event *event = event_create(moa2_request_event != NULL ?
					   moa2_request_event : moa2_global_event);

	moa2_dovecot_event_copy(event, from);
	e_debug(event, "%s", from->text);
	event_unref(&event);
}

static void
moa2_dovecot_event_callback(void *context ATTR_UNUSED,
			    const struct moa2_event *from)
{
	moa2_dovecot_log_core_event(from);
}

static void
moa2_dovecot_log_callback(void *context ATTR_UNUSED,
			  enum moa2_log_level level, const char *message)
{
	moa2_dovecot_log_line(moa2_request_event != NULL ?
			      moa2_request_event : moa2_global_event,
			      level, message);
}

const struct moa2_logger *
moa2_dovecot_logger(void)
{
	static struct moa2_logger logger;

	logger.func = moa2_dovecot_log_callback;
	logger.context = NULL;
	logger.event = moa2_dovecot_event_callback;
	logger.debug = moa2_dovecot_log_want_debug();
	return &logger;
}
