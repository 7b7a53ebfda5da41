/* SPDX-License-Identifier: MIT */
/* passdb bearer: the password is an OAuth 2.0 bearer token, verified by
   the mail-oauth2 engine. Shared by every Dovecot API (dovecot-api.h): the
   API file reads the settings (2.3: args = ...; 2.4: keys of the passdb
   block) into struct moa2_dovecot_passdb_set and calls
   moa2_bearer_passdb_create(); everything after that is here.

   Works with our XOAUTH2/OAUTHBEARER (mech-oauth2-bearer.c, which replace
   Dovecot's when this module is loaded), with Dovecot 2.3's built-in ones
   (they pass the token as the password) and with PLAIN/LOGIN for clients
   that can only send a password.

   Failure behaviour: accepted -> PASSDB_RESULT_OK, the user becomes the
   token's identity through Dovecot's username rules (dovecot-username.c;
   a name they refuse is a rejection, no_identity) and the exported claims
   become extra (and userdb_) fields; rejected ->
   PASSDB_RESULT_PASSWORD_MISMATCH, logged at info with the reason code
   (without a client-named user, the request's user becomes the identity
   the token claims, for the log lines); provider or keys unreachable ->
   PASSDB_RESULT_INTERNAL_FAILURE (the client is told to try again later,
   never "wrong password"),
   logged at error. The log line of each outcome is the core's
   (verdict.h), the same as the Cyrus plugin's. A config error stops the
   auth process at start-up with FILE:LINE. Results are never put into
   Dovecot's auth cache (no cache key), so no cached success outlives the
   token's exp; the engine caches keys and opaque-token results itself,
   never past exp.

   blocking=threads (default): verification runs in threads=N threads of
   the auth process (passdb-bearer-threads.c; default N: CPUs - 1, 1 to 4),
   so it uses the other cores while the main thread goes on with Dovecot's
   request handling, and a key fetch stalls only the verifications queued
   behind it; threads=N alone implies blocking=threads. blocking=yes:
   verification runs in auth-worker processes, one request at a time each
   (a process round trip per login). blocking=no: verification runs on the
   auth process's main thread, so a key fetch blocks every login meanwhile.
   Key sets are cached in memory per thread or worker and shared on disk
   (cache_dir). */

#include "auth-common.h"
#include "ioloop.h"
#include "str.h"
#include "passdb.h"
#include "auth-request.h"
#include "auth-fields.h"

#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/verdict.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"

#include "dovecot-api.h"
#include "dovecot-log.h"
#include "dovecot-username.h"
#include "passdb-bearer.h"
#include "passdb-bearer-threads.h"

#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>

/* measured with tests/bench/bench-dovecot (2 CPUs, warm keys, RS256):
   threads=1 1.4-1.7x the built-in oauth2 passdb's auths/s, blocking=no
   1.1-1.3x, blocking=yes 1.1-1.2x; threads=2 1.36-1.52x */
/* the default threads=N is one per CPU but the main thread's, at most
   this: per login the main thread's work (Dovecot's request handling) is
   about as much as a thread's (the signature check) */
#define BEARER_DEFAULT_THREADS_MAX 4

struct bearer_passdb_module {
	struct passdb_module module;

	struct moa2_dovecot_passdb_set set;
	struct moa2_verify_config *config;
	/* blocking=no, and in auth-workers */
	struct moa2_verifier *verifier;
	/* blocking=threads, in the auth process */
	struct bearer_threads *threads;
	unsigned int threads_count;
};

static unsigned int bearer_module_count;

static unsigned int
bearer_default_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus <= 2)
		return 1;
	return (unsigned int)I_MIN(cpus - 1, BEARER_DEFAULT_THREADS_MAX);
}

/* ------------------------------------------------------------ claims */

/* Fields that Dovecot itself interprets in a passdb reply: a token must
   not be able to set them through claims_export. */
static const char *const bearer_reserved_fields[] = {
	"user", "username", "domain", "login_user", "password",
	"password_noscheme", "nopassword", "noauthenticate", "nologin",
	"nodelay", "allow_nets", "allow_real_nets", "fail", "delay_until",
	"reason", "proxy", "proxy_maybe", "proxy_always", "proxy_timeout",
	"proxy_mech", "proxy_nopipelining", "proxy_noauth", "host",
	"hostip", "source_ip", "port", "destuser", "pass", "master", "ssl",
	"starttls", "k5principals", "passdb_import", "userdb_import",
	"director_tag", "code", "resp", "token", "forward_fields",
	NULL
};

static bool
bearer_claim_exportable(const char *name)
{
	const char *p;

	if (*name == '\0' || moa2_dovecot_str_begins(name, "userdb_") ||
	    moa2_dovecot_str_begins(name, "forward_") || moa2_dovecot_str_begins(name, "moa2_") ||
	    moa2_dovecot_str_begins(name, "proxy_") ||
	    str_array_find(bearer_reserved_fields, name))
		return FALSE;
	for (p = name; *p != '\0'; p++) {
		if (!i_isalnum(*p) && *p != '_' && *p != '-' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

static void
bearer_export_claims(struct auth_request *request, struct event *event,
		     const struct moa2_verify_result *result)
{
	for (unsigned int i = 0; i < result->claims_count; i++) {
		const char *name = result->claims[i].name;
		const char *value = result->claims[i].value;

		if (!bearer_claim_exportable(name)) {
			e_error(event, "claims_export: claim '%s' not exported: "
				"Dovecot interprets a field of that name itself", name);
			continue;
		}
		if (strpbrk(value, "\t\r\n\001") != NULL)
			continue;
		auth_request_set_field(request, name, value, NULL);
		auth_request_set_field(request, t_strconcat("userdb_", name, NULL),
				       value, NULL);
	}
}

/* ------------------------------------------------------------ verify */

static bool
bearer_user_from_token(const struct auth_request *request)
{
	if (worker) {
		/* set by our master process for this worker request only */
		return auth_fields_exists(request->fields.extra_fields,
					  MOA2_FIELD_USER_FROM_TOKEN);
	}
	return mech_oauth2_bearer_user_from_token(request);
}

/* The rejection's challenge data goes to our mechanism: directly in the
   auth process, as moa2_* fields from a worker. */
static void
bearer_report_rejection(struct auth_request *request,
			const struct moa2_verify_result *result)
{
	if (!worker) {
		mech_oauth2_bearer_set_rejection(request, result->reason,
						 result->scope,
						 result->openid_configuration);
		return;
	}
	auth_request_set_field(request, MOA2_FIELD_REASON,
			       moa2_verify_reason_name(result->reason), NULL);
	if (result->scope != NULL) {
		auth_request_set_field(request, MOA2_FIELD_SCOPE,
				       result->scope, NULL);
	}
	if (result->openid_configuration != NULL) {
		auth_request_set_field(request, MOA2_FIELD_OPENID_CONFIGURATION,
				       result->openid_configuration, NULL);
	}
}

/* A failed token without a user named by the client (OAUTHBEARER without
   authzid): the request's user becomes the identity the token names, when
   one could be read and Dovecot's username rules accept it, so that the
   auth and the login process lines (fail2ban) name who failed rather than
   the mechanism's placeholder. Never a login: the request fails. */
static void
bearer_name_failed_user(struct auth_request *request,
			const struct moa2_verify_result *result)
{
	const char *name, *error;

	if (result->outcome == MOA2_OUTCOME_ACCEPTED ||
	    result->claimed_identity == NULL || !bearer_user_from_token(request))
		return;
	name = moa2_dovecot_username(request, result->claimed_identity, &error);
	if (name == NULL)
		return;
	auth_request_set_username_forced(request, name);
	if (worker)
		auth_request_set_field(request, MOA2_FIELD_CLAIMED_USER, name, NULL);
}

static const char *
bearer_mode_name(const struct auth_request *request)
{
	const struct bearer_passdb_module *module =
		(const struct bearer_passdb_module *)request->passdb->passdb;

	if (worker)
		return MOA2_VERDICT_MODE_WORKER;
	return module->threads != NULL ? MOA2_VERDICT_MODE_THREADS :
		MOA2_VERDICT_MODE_MAIN;
}

/* The verdict line's event is the core's verification event
   (mail_oauth2_verify_finished, verdict.h): Dovecot's metrics count it. */
static void
bearer_verdict_event(struct auth_request *request, struct event *event,
		     const struct moa2_verify_result *result)
{
	struct moa2_event from;

	moa2_verdict_event(result, request->fields.mech_name,
			   bearer_mode_name(request), &from);
	moa2_dovecot_event_copy(event, &from);
}

/* The core's verdict line (verdict.h), then the outcome for Dovecot. */
static enum passdb_result
bearer_result(struct auth_request *request, struct event *event,
	      struct moa2_verify_result *result)
{
	struct moa2_verdict_log line;

	/* the identity becomes a user by Dovecot's own username rules */
	moa2_dovecot_bind_user(request, result);
	bearer_name_failed_user(request, result);
	moa2_verdict_log_result(result, request->fields.mech_name, ioloop_time,
				&line);
	bearer_verdict_event(request, event, result);
	moa2_dovecot_log_line(event, line.level, line.text);
	switch (result->outcome) {
	case MOA2_OUTCOME_ACCEPTED:
		auth_request_set_field(request, "user", result->identity, NULL);
		bearer_export_claims(request, event, result);
		return PASSDB_RESULT_OK;
	case MOA2_OUTCOME_REJECTED:
		bearer_report_rejection(request, result);
		return PASSDB_RESULT_PASSWORD_MISMATCH;
	case MOA2_OUTCOME_TEMPFAIL:
	default:
		return PASSDB_RESULT_INTERNAL_FAILURE;
	}
}

/* Logs and applies a finished verification and clears result: the same
   for in-process and threaded verification (bearer_threads_apply_t). */
static enum passdb_result
bearer_apply(struct auth_request *request, struct event *event,
	     struct moa2_verify_result *result)
{
	enum passdb_result ret;

	ret = bearer_result(request, event, result);
	moa2_verify_result_clear(result);
	return ret;
}

/* The user as the client sent it, or NULL: the engine normalises it with
   the config's username rules, then Dovecot's rules apply to both sides
   (host binding, moa2_dovecot_bind_user()). */
static const char *
bearer_asserted_user(const struct auth_request *request)
{
	if (bearer_user_from_token(request))
		return NULL;
	return request->fields.original_username != NULL ?
		request->fields.original_username : request->fields.user;
}

static enum passdb_result
bearer_verify(struct bearer_passdb_module *module,
	      struct auth_request *request, const char *token)
{
	struct moa2_verify_result result;
	struct event *event;
	enum passdb_result ret;

	event = moa2_dovecot_log_event_create(authdb_event(request));
	moa2_dovecot_log_request_begin(event);
	moa2_verify_token(module->verifier, token, strlen(token),
			  bearer_asserted_user(request), &result);
	moa2_dovecot_log_request_end();

	ret = bearer_apply(request, event, &result);
	event_unref(&event);
	return ret;
}

void
moa2_bearer_passdb_verify_plain(struct auth_request *request,
				const char *password,
				verify_plain_callback_t *callback)
{
	struct bearer_passdb_module *module =
		(struct bearer_passdb_module *)request->passdb->passdb;

	if (module->threads != NULL) {
		bearer_threads_verify(module->threads, request, password,
				      bearer_asserted_user(request), callback);
		return;
	}
	if (module->set.blocking == MOA2_DOVECOT_BLOCKING_WORKERS && !worker) {
		moa2_dovecot_worker_verify_plain(request,
			mech_oauth2_bearer_user_from_token(request) ?
			MOA2_FIELD_USER_FROM_TOKEN"=yes" : NULL,
			mech_oauth2_bearer_worker_field, callback);
		return;
	}
	callback(bearer_verify(module, request, password), request);
}

/* ------------------------------------------------------------ life cycle */

static void
bearer_check_set(const struct moa2_dovecot_passdb_set *set)
{
	if (set->threads > MOA2_DOVECOT_THREADS_MAX) {
		i_fatal("passdb bearer: threads=%u: expected a number from 1 "
			"to %u", set->threads, MOA2_DOVECOT_THREADS_MAX);
	}
	if (set->threads > 0 &&
	    set->blocking != MOA2_DOVECOT_BLOCKING_THREADS) {
		i_fatal("passdb bearer: threads=%u applies to "
			"blocking=threads only", set->threads);
	}
}

struct passdb_module *
moa2_bearer_passdb_create(pool_t pool, const struct moa2_dovecot_passdb_set *set)
{
	struct bearer_passdb_module *module;
	const char *path;
	char *error;
	int ret;

	bearer_check_set(set);
	module = p_new(pool, struct bearer_passdb_module, 1);
	module->set = *set;
	if (module->set.config_path == NULL || *module->set.config_path == '\0')
		module->set.config_path = MOA2_DOVECOT_DEFAULT_CONFIG;
	path = module->set.config_path;
	module->threads_count = set->threads > 0 ? set->threads :
		bearer_default_threads();

	/* as root, before privileges are dropped: the config may hold a
	   client secret readable only by root */
	if (moa2_verify_config_load(path, &module->config, &error) < 0) {
		const char *msg = t_strdup(error);

		free(error);
		i_fatal("passdb bearer: %s", msg);
	}
	moa2_dovecot_log_init(module->config->log_debug);
	/* verifiers too are created as root, before privileges are dropped
	   (ca_file is read now); threads start in init() */
	if (set->blocking == MOA2_DOVECOT_BLOCKING_THREADS && !worker) {
		ret = bearer_threads_create(module->config,
					    module->threads_count,
					    bearer_apply, &module->threads,
					    &error);
	} else {
		ret = moa2_verifier_create(module->config,
					   moa2_dovecot_logger(),
					   &module->verifier, &error);
		if (ret == 0)
			moa2_verifier_set_host_binding(module->verifier, TRUE);
	}
	if (ret < 0) {
		const char *msg = t_strdup(error);

		free(error);
		i_fatal("passdb bearer: %s: %s", path, msg);
	}
	bearer_module_count++;

	/* never cached by Dovecot: see the header comment */
	module->module.default_cache_key = NULL;
	module->module.default_pass_scheme = "PLAIN";
	/* not Dovecot's blocking: verify_plain calls the worker itself so
	   that a rejection's challenge data survives */
	module->module.blocking = FALSE;
	return &module->module;
}

void
moa2_bearer_passdb_init(struct passdb_module *_module)
{
	struct bearer_passdb_module *module =
		(struct bearer_passdb_module *)_module;

	if (module->threads != NULL) {
		bearer_threads_start(module->threads);
		e_debug(moa2_dovecot_log_event(), "verifying tokens in %u "
			"threads of the auth process", module->threads_count);
	}
	if (worker || module->set.builtin_mechanisms)
		return;
	moa2_dovecot_mechs_install(module->set.allow_double_base64 ?
				   MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64 : 0);
}

void
moa2_bearer_passdb_deinit(struct passdb_module *_module)
{
	struct bearer_passdb_module *module =
		(struct bearer_passdb_module *)_module;

	/* fails the requests still queued: Dovecot expects passdb deinit to
	   abort its pending requests */
	bearer_threads_destroy(&module->threads);
	moa2_verifier_destroy(&module->verifier);
	moa2_verify_config_free(&module->config);
	if (--bearer_module_count == 0)
		moa2_dovecot_log_deinit();
}
