/* SPDX-License-Identifier: MIT */
/* The Dovecot 2.3 auth-process functions the adapter calls, recording
   (see dovecot-stub.h). Each does what the test needs to observe, nothing
   that would decide for the adapter; where the real one does more (username
   translation, passdb chains, auth-worker processes), the test plays that
   part by calling the recorded callback. */

#include "dovecot-stub.h"

#include "ioloop.h"
#include "str.h"
#include "auth-fields.h"
#include "auth-request.h"
#include "auth-request-handler.h"
#include "auth-settings.h"
#include "auth-worker-server.h"
#include "mech.h"
#include "passdb.h"
#include "passdb-blocking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stub_state stub;

/* the globals of Dovecot's auth process that the adapter reads */
bool worker;
struct event *auth_event;
struct event_category event_category_auth = { .name = "auth" };
static struct auth_settings stub_auth_settings;
struct auth_settings *global_auth_settings = &stub_auth_settings;

static struct ioloop *stub_ioloop;
static struct auth stub_auth;
static struct mechanisms_register stub_reg;
static struct mech_module_list stub_mech_list[2];

/* ------------------------------------------------------------ records */

static char *
stub_strdup(const char *str)
{
	char *copy = str == NULL ? NULL : strdup(str);

	if (str != NULL && copy == NULL)
		abort();
	return copy;
}

static void
stub_fields_clear(struct auth_fields *fields)
{
	for (unsigned int i = 0; i < fields->count; i++) {
		free(fields->key[i]);
		free(fields->value[i]);
	}
	memset(fields, 0, sizeof(*fields));
}

static void
stub_fields_add(struct auth_fields *fields, const char *key, const char *value)
{
	if (fields->count == STUB_FIELDS_MAX)
		i_panic("stub: more than %u fields", STUB_FIELDS_MAX);
	fields->key[fields->count] = stub_strdup(key);
	fields->value[fields->count] = stub_strdup(value != NULL ? value : "");
	fields->count++;
}

const char *
stub_field(const struct auth_fields *fields, const char *key)
{
	/* the last one wins, as in Dovecot */
	for (unsigned int i = fields->count; i > 0; i--) {
		if (strcmp(fields->key[i - 1], key) == 0)
			return fields->value[i - 1];
	}
	return NULL;
}

void
stub_reset(void)
{
	/* a registration is the module's state, not a record */
	struct passdb_module_interface *iface = stub.passdb_iface;

	free(stub.verify_plain_password);
	free(stub.verify_plain_user);
	free(stub.continue_data);
	free(stub.worker_command);
	free(stub.worker_reply);
	stub_fields_clear(&stub.set_fields);
	memset(&stub, 0, sizeof(stub));
	stub.passdb_iface = iface;
}

/* ------------------------------------------------------------ logging */

static void
stub_log_handler(const struct failure_context *ctx, const char *format,
		 va_list args) ATTR_FORMAT(2, 0);
static void
stub_log_handler(const struct failure_context *ctx, const char *format,
		 va_list args)
{
	size_t used = strlen(stub.log);
	int n;

	n = snprintf(stub.log + used, sizeof(stub.log) - used, "%s%s",
		     failure_log_type_prefixes[ctx->type],
		     ctx->log_prefix != NULL ? ctx->log_prefix : "");
	if (n < 0 || (size_t)n >= sizeof(stub.log) - used)
		return;
	used += (size_t)n;
	n = vsnprintf(stub.log + used, sizeof(stub.log) - used, format, args);
	if (n < 0 || (size_t)n >= sizeof(stub.log) - used - 1)
		return;
	used += (size_t)n;
	stub.log[used] = '\n';
	stub.log[used + 1] = '\0';
}

/* ------------------------------------------------------------ set-up */

/* The built-ins' stand-in: never called (the adapter must replace it). */
static void
stub_builtin_auth_continue(struct auth_request *request,
			   const unsigned char *data ATTR_UNUSED,
			   size_t data_size ATTR_UNUSED)
{
	i_panic("stub: the built-in %s ran", request->mech->mech_name);
}

static void
stub_register_init(void)
{
	static const char *const names[] = { "XOAUTH2", "OAUTHBEARER" };

	for (unsigned int i = 0; i < N_ELEMENTS(stub_mech_list); i++) {
		i_zero(&stub_mech_list[i]);
		stub_mech_list[i].module.mech_name = names[i];
		stub_mech_list[i].module.flags = MECH_SEC_PLAINTEXT;
		stub_mech_list[i].module.auth_continue = stub_builtin_auth_continue;
		stub_mech_list[i].next = i + 1 < N_ELEMENTS(stub_mech_list) ?
			&stub_mech_list[i + 1] : NULL;
	}
	i_zero(&stub_reg);
	stub_reg.modules = &stub_mech_list[0];
	i_zero(&stub_auth);
	stub_auth.reg = &stub_reg;
}

void
stub_init(void)
{
	lib_init();
	i_set_error_handler(stub_log_handler);
	i_set_info_handler(stub_log_handler);
	i_set_debug_handler(stub_log_handler);
	stub_ioloop = io_loop_create();
	auth_event = event_create(NULL);
	event_add_category(auth_event, &event_category_auth);
	stub_case_begin();
}

void
stub_case_begin(void)
{
	stub_register_init();
	i_zero(&stub_auth_settings);
	stub_auth_settings.master_user_separator = "";
	worker = FALSE;
	stub_reset();
	stub.passdb_iface = NULL;
}

void
stub_deinit(void)
{
	stub_reset();
	event_unref(&auth_event);
	io_loop_destroy(&stub_ioloop);
	lib_deinit();
}

const struct mech_module *
stub_registered_mech(const char *name)
{
	for (struct mech_module_list *l = stub_reg.modules; l != NULL; l = l->next) {
		if (strcmp(l->module.mech_name, name) == 0)
			return &l->module;
	}
	return NULL;
}

bool
stub_mech_is_builtin(const struct mech_module *mech)
{
	return mech->auth_continue == stub_builtin_auth_continue;
}

struct auth_request *
stub_request_new(const struct mech_module *mech, const char *mech_name,
		 const char *ip, struct auth_passdb *passdb)
{
	struct auth_request *request;
	pool_t pool;

	if (mech != NULL) {
		request = mech->auth_new();
	} else {
		pool = pool_alloconly_create("stub auth_request", 1024);
		request = p_new(pool, struct auth_request, 1);
		request->pool = pool;
	}
	request->refcount = 1;
	request->set = &stub_auth_settings;
	request->mech = mech;
	request->passdb = passdb;
	request->fields.mech_name = mech_name;
	request->fields.service = "imap";
	request->fields.extra_fields = p_new(request->pool, struct auth_fields, 1);
	/* the log prefix auth-request.c gives a request's events */
	request->event = event_create(auth_event);
	event_set_append_log_prefix(request->event,
		p_strdup_printf(request->pool, "stub(?,%s): ", ip));
	request->mech_event = event_create(request->event);
	event_set_append_log_prefix(request->mech_event,
		p_strdup_printf(request->pool, "%s: ",
				t_str_lcase(mech_name != NULL ? mech_name : "-")));
	p_array_init(&request->authdb_event, request->pool, 2);
	if (passdb != NULL) {
		/* as auth_request_passdb_lookup_begin() */
		struct event *event = event_create(request->event);

		event_replace_log_prefix(event, p_strdup_printf(request->pool,
			"bearer(?,%s): ", ip));
		array_push_back(&request->authdb_event, &event);
	}
	return request;
}

void
stub_request_free(struct auth_request **_request)
{
	struct auth_request *request = *_request;
	struct event *event, *mech_event;

	*_request = NULL;
	event = request->event;
	mech_event = request->mech_event;
	if (array_count(&request->authdb_event) > 0) {
		struct event *passdb_event = authdb_event(request);

		event_unref(&passdb_event);
	}
	stub_fields_clear(request->fields.extra_fields);
	if (request->mech != NULL)
		request->mech->auth_free(request);
	else
		pool_unref(&request->pool);
	event_unref(&mech_event);
	event_unref(&event);
}

/* ------------------------------------------------------------ auth process */

struct auth *
auth_request_get_auth(struct auth_request *request ATTR_UNUSED)
{
	return &stub_auth;
}

struct auth *
auth_default_service(void)
{
	return &stub_auth;
}

void
passdb_register_module(struct passdb_module_interface *iface)
{
	stub.passdb_iface = iface;
}

void
passdb_unregister_module(struct passdb_module_interface *iface)
{
	if (stub.passdb_iface == iface)
		stub.passdb_iface = NULL;
}

void
auth_request_ref(struct auth_request *request)
{
	request->refcount++;
}

void
auth_request_unref(struct auth_request **_request)
{
	struct auth_request *request = *_request;

	*_request = NULL;
	i_assert(request->refcount > 1); /* the test holds the last one */
	request->refcount--;
}

void
auth_request_success(struct auth_request *request ATTR_UNUSED,
		     const void *data ATTR_UNUSED, size_t data_size ATTR_UNUSED)
{
	stub.success_calls++;
}

void
auth_request_fail(struct auth_request *request ATTR_UNUSED)
{
	stub.fail_calls++;
}

void
auth_request_internal_failure(struct auth_request *request ATTR_UNUSED)
{
	stub.internal_failure_calls++;
}

void
auth_request_handler_reply_continue(struct auth_request *request ATTR_UNUSED,
				    const void *data, size_t data_size)
{
	stub.continue_calls++;
	free(stub.continue_data);
	stub.continue_data = malloc(data_size + 1);
	if (stub.continue_data == NULL)
		abort();
	memcpy(stub.continue_data, data, data_size);
	stub.continue_data[data_size] = '\0';
	stub.continue_size = data_size;
}

bool
auth_request_set_username(struct auth_request *request, const char *username,
			  const char **error_r)
{
	/* as auth_request_fix_username() with the default auth_username_chars */
	for (const char *p = username; *p != '\0'; p++) {
		if (strchr(" \t\r\n\"'", *p) != NULL) {
			*error_r = t_strdup_printf("Username character disallowed "
						   "by auth_username_chars: '%c'", *p);
			return FALSE;
		}
	}
	if (request->fields.original_username == NULL) {
		request->fields.original_username =
			p_strdup(request->pool, username);
	}
	request->fields.user = p_strdup(request->pool, username);
	return TRUE;
}

void
auth_request_set_username_forced(struct auth_request *request,
				 const char *username)
{
	request->fields.user = p_strdup(request->pool, username);
}

void
auth_request_set_field(struct auth_request *request ATTR_UNUSED,
		       const char *name, const char *value,
		       const char *default_scheme ATTR_UNUSED)
{
	stub_fields_add(&stub.set_fields, name, value);
}

void
auth_request_verify_plain(struct auth_request *request, const char *password,
			  verify_plain_callback_t *callback)
{
	stub.verify_plain_calls++;
	free(stub.verify_plain_password);
	free(stub.verify_plain_user);
	stub.verify_plain_password = stub_strdup(password);
	stub.verify_plain_user = stub_strdup(request->fields.user);
	stub.verify_plain_callback = callback;
	/* as auth-request.c: the mechanism's copy, wiped after the verdict */
	request->mech_password = p_strdup(request->pool, password);
}

void
auth_request_export(struct auth_request *request, string_t *dest)
{
	str_printfa(dest, "user=%s\tservice=%s", request->fields.user,
		    request->fields.service);
}

void
auth_fields_add(struct auth_fields *fields, const char *key, const char *value,
		enum auth_field_flags flags ATTR_UNUSED)
{
	stub_fields_add(fields, key, value);
}

bool
auth_fields_exists(struct auth_fields *fields, const char *key)
{
	return stub_field(fields, key) != NULL;
}

void
auth_worker_call(pool_t pool ATTR_UNUSED, const char *username ATTR_UNUSED,
		 const char *data, auth_worker_callback_t *callback,
		 void *context)
{
	free(stub.worker_command);
	stub.worker_command = stub_strdup(data);
	stub.worker_callback = callback;
	stub.worker_context = context;
}

enum passdb_result
passdb_blocking_auth_worker_reply_parse(struct auth_request *request ATTR_UNUSED,
					const char *reply)
{
	int result;

	free(stub.worker_reply);
	stub.worker_reply = stub_strdup(reply);
	/* "OK\tuser\tpassword\tfields" or "FAIL\tresult[...]" */
	if (strncmp(reply, "OK\t", 3) == 0)
		return PASSDB_RESULT_OK;
	if (strncmp(reply, "FAIL\t", 5) == 0 && sscanf(reply + 5, "%d", &result) == 1)
		return (enum passdb_result)result;
	return PASSDB_RESULT_INTERNAL_FAILURE;
}

/* mech.c's generic mechanism functions */
void
mech_generic_auth_initial(struct auth_request *request,
			  const unsigned char *data, size_t data_size)
{
	if (data == NULL)
		auth_request_handler_reply_continue(request, uchar_empty_ptr, 0);
	else
		request->mech->auth_continue(request, data, data_size);
}

void
mech_generic_auth_free(struct auth_request *request)
{
	pool_unref(&request->pool);
}
