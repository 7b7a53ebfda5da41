/* SPDX-License-Identifier: MIT */
#ifndef PASSDB_BEARER_THREADS_H
#define PASSDB_BEARER_THREADS_H

/* blocking=threads: tokens verified in threads of the auth process.

   The main thread (Dovecot's ioloop) queues a job (a copy of the token and
   of the asserted user), a verification thread verifies it with a verifier
   of its own and queues the result back, a pipe wakes the ioloop, and the
   main thread logs and applies the result and calls the passdb callback.
   Verification threads never call Dovecot: their log lines are buffered in
   the job and replayed on the main thread. */

#include "passdb.h"
#include "mail-oauth2/verifier.h"

struct bearer_threads;
struct moa2_verify_config;

/* Applies a finished verification on the main thread (passdb-bearer.c,
   the same code as in-process verification): event is the request's
   mail-oauth2 event; result is cleared by the callee. */
typedef enum passdb_result
bearer_threads_apply_t(struct auth_request *request, struct event *event,
		       struct moa2_verify_result *result);

/* Creates count verifiers for config (which must outlive them); no thread
   runs yet. Returns 0, or -1 with a malloc()ed message in error_r. */
int bearer_threads_create(const struct moa2_verify_config *config,
			  unsigned int count, bearer_threads_apply_t *apply,
			  struct bearer_threads **threads_r, char **error_r);
/* Starts the threads and watches their completions in the current ioloop. */
void bearer_threads_start(struct bearer_threads *threads);
/* Stops and joins the threads, fails every job not applied yet with
   PASSDB_RESULT_INTERNAL_FAILURE, destroys the verifiers. */
void bearer_threads_destroy(struct bearer_threads **threads);

/* Queues request for verification; callback runs later, on the main
   thread. asserted_user may be NULL (identity from the token alone). */
void bearer_threads_verify(struct bearer_threads *threads,
			   struct auth_request *request, const char *token,
			   const char *asserted_user,
			   verify_plain_callback_t *callback);

#endif
