/* SPDX-License-Identifier: MIT */
#ifndef DOVECOT_STUB_H
#define DOVECOT_STUB_H

/* A stand-in for the few functions of Dovecot's auth process that the
   Dovecot adapter (plugin/dovecot) calls, so that the adapter runs in a unit
   test without a running Dovecot, as mod_auth_openidc's test/stub.c and
   liboauth2's check_apache.c do for Apache. Dovecot's generic library (pools,
   strings, events, logging) is the real one: the test links libdovecot.so.

   This file is the Dovecot 2.3 auth API (auth-request.h, passdb.h, mech.h
   of 2.3.13 to 2.3.21); the Dovecot 2.4 adapter gets a sibling stub with
   the same recording interface below, chosen by tests/unit/Makefile.am.

   Every call of a stubbed function is recorded in stub; the test case
   then checks what the adapter asked of Dovecot. Nothing here decides
   anything: auth_request_verify_plain() only records its callback, the test
   calls it with the passdb result it wants. */

/* the request's fields writable, as for Dovecot's own unit tests */
#define AUTH_REQUEST_FIELDS_CONST

#include "auth-common.h"
#include "auth-request.h"
#include "auth-worker-server.h"
#include "passdb.h"

#define STUB_FIELDS_MAX 32
#define STUB_LOG_MAX 32768

/* Dovecot's struct auth_fields is private to auth-fields.c: ours records. */
struct auth_fields {
	unsigned int count;
	char *key[STUB_FIELDS_MAX];
	char *value[STUB_FIELDS_MAX];
};

struct stub_state {
	/* passdb_register_module() */
	struct passdb_module_interface *passdb_iface;

	/* auth_request_verify_plain() */
	unsigned int verify_plain_calls;
	char *verify_plain_password;
	char *verify_plain_user;  /* request->fields.user at the call */
	verify_plain_callback_t *verify_plain_callback;

	/* the request's outcome */
	unsigned int success_calls, fail_calls, internal_failure_calls;
	/* auth_request_handler_reply_continue(): the last one */
	unsigned int continue_calls;
	char *continue_data;
	size_t continue_size;

	/* auth_request_set_field(): every call, in order */
	struct auth_fields set_fields;

	/* auth_worker_call(): the command, and how to answer it */
	char *worker_command;
	auth_worker_callback_t *worker_callback;
	void *worker_context;
	/* passdb_blocking_auth_worker_reply_parse(): the reply it got */
	char *worker_reply;

	/* every log line: "Info: <prefix><message>\n" */
	char log[STUB_LOG_MAX];
};

extern struct stub_state stub;

/* Once per process: lib_init(), an ioloop, auth_event and the failure
   handlers that fill stub.log. stub_deinit() undoes it (and frees what
   stub recorded). */
void stub_init(void);
void stub_deinit(void);
/* Before each case: a fresh mechanism register, worker = FALSE, default
   auth settings, no records. */
void stub_case_begin(void);
/* Forgets every record (between two steps of a case); a registered
   passdb stays registered. */
void stub_reset(void);

/* A request as auth-request.c would make it for mech (NULL: a passdb
   lookup without our mechanism, e.g. PLAIN) with mech_name, from source
   address ip, running passdb (may be NULL; its lookup event logs as
   "bearer(?,IP): "). Free with stub_request_free. */
struct auth_request *stub_request_new(const struct mech_module *mech,
				      const char *mech_name, const char *ip,
				      struct auth_passdb *passdb);
void stub_request_free(struct auth_request **request);

/* The value of field key that the adapter set with
   auth_request_set_field() / auth_fields_add(), or NULL. */
const char *stub_field(const struct auth_fields *fields, const char *key);

/* Dovecot's register of mechanisms: a copy of the built-in XOAUTH2 and
   OAUTHBEARER modules (auth_continue of their own), which the passdb's
   init() replaces with ours. */
const struct mech_module *stub_registered_mech(const char *name);
bool stub_mech_is_builtin(const struct mech_module *mech);

#endif
