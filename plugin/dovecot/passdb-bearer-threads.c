/* SPDX-License-Identifier: MIT */
/* blocking=threads: verification threads inside the auth process (see
   passdb-bearer-threads.h).

   Why: with warm keys a verification is pure CPU (the RSA check is most of
   it), and Dovecot's auth process is single-threaded, so in-process
   verification caps the whole process at one core, while auth-workers pay
   a process round trip per token. Threads put the verification on the
   other cores and leave only Dovecot's request handling on the main one.

   Thread rules: Dovecot's lib is not thread-safe, so a verification thread
   touches nothing of Dovecot (no pools, no events, no logging, not the
   request): it gets plain malloc()ed copies of the token and the asserted
   user, its own struct moa2_verifier (the opaque-token result cache per
   thread; the fetched key sets and discovery documents, their one fetch
   in flight and the on-disk cache shared by the process: support/
   remote-doc.c), a logger that
   buffers lines into the job, and every signal blocked. Everything else
   happens on the main thread. Each verifier has its own HTTP client; the
   clients share one TLS context (the parsed CAs), built at the first HTTPS
   request of any of them (support/http-conn.h). OpenSSL 3 is thread-safe.

   Failure behaviour: a job that cannot be finished (shutdown) fails with
   PASSDB_RESULT_INTERNAL_FAILURE (a temporary failure for the client);
   a log line that cannot be buffered (out of memory, or past
   BEARER_THREAD_LOG_MAX lines) is counted and reported instead. Tokens are
   wiped from job buffers as soon as they are verified. */

#include "auth-common.h"
#include "ioloop.h"
#include "fd-util.h"
#include "passdb.h"
#include "auth-request.h"

#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"

#include "dovecot-log.h"
#include "passdb-bearer-threads.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* a verification logs a handful of lines; more means something loops */
#define BEARER_THREAD_LOG_MAX 64
/* verification needs little stack; keeps the auth process's VSZ small */
#define BEARER_THREAD_STACK_SIZE (1024 * 1024)

struct bearer_log_line {
	struct bearer_log_line *next;
	enum moa2_log_level level;
	/* not NULL: a core event (a key fetch), not a line */
	struct moa2_event *event;
	char text[];
};

struct bearer_job {
	struct bearer_job *next;

	/* main thread only */
	struct auth_request *request;
	verify_plain_callback_t *callback;
	/* the request's mail-oauth2 event, created when the job is queued:
	   Dovecot's duration of the verdict's event spans the queueing */
	struct event *event;

	/* the verification thread's, from queueing until completion */
	char *token;
	size_t token_len;
	char *asserted_user;
	struct moa2_verify_result result;
	struct bearer_log_line *log_head, **log_tail;
	unsigned int log_count, log_dropped;
};

struct bearer_thread {
	struct bearer_threads *threads;
	struct moa2_verifier *verifier;
	/* the job being verified: where the logger buffers lines */
	struct bearer_job *job;
	pthread_t tid;
	bool running;
};

struct bearer_threads {
	bearer_threads_apply_t *apply;
	struct bearer_thread *thread;
	unsigned int count;

	/* the pipe that wakes the main thread: [0] read, [1] write */
	int notify_fd[2];
	struct io *io;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock: */
	struct bearer_job *queue_head, **queue_tail;
	struct bearer_job *done_head, **done_tail;
	bool notified;  /* a wake-up byte is in the pipe, not yet drained */
	bool stopping;
};

/* ------------------------------------------------------------ jobs */

static void
bearer_job_free(struct bearer_job **_job)
{
	struct bearer_job *job = *_job;
	struct bearer_log_line *line;

	*_job = NULL;
	if (job->token != NULL)
		moa2_secret_free(job->token, job->token_len);
	free(job->asserted_user);
	while ((line = job->log_head) != NULL) {
		job->log_head = line->next;
		free(line->event);
		free(line);
	}
	moa2_verify_result_clear(&job->result);
	if (job->event != NULL)
		event_unref(&job->event);
	free(job);
}

static void
bearer_job_list_append(struct bearer_job ***tail, struct bearer_job *job)
{
	job->next = NULL;
	**tail = job;
	*tail = &job->next;
}

/* Buffers one line into the job of the calling verification thread. */
static struct bearer_log_line *
bearer_job_log(struct bearer_job *job, enum moa2_log_level level,
	       const char *message)
{
	size_t len = strlen(message);
	struct bearer_log_line *line;

	if (job->log_count >= BEARER_THREAD_LOG_MAX ||
	    (line = malloc(sizeof(*line) + len + 1)) == NULL) {
		job->log_dropped++;
		return NULL;
	}
	line->next = NULL;
	line->level = level;
	line->event = NULL;
	memcpy(line->text, message, len + 1);
	*job->log_tail = line;
	job->log_tail = &line->next;
	job->log_count++;
	return line;
}

/* Buffers a core event like a line (its strings are static or the
   config's: the copy stays valid). */
static void
bearer_job_event(struct bearer_job *job, const struct moa2_event *event)
{
	struct moa2_event *copy = malloc(sizeof(*copy));
	struct bearer_log_line *line;

	if (copy == NULL) {
		job->log_dropped++;
		return;
	}
	*copy = *event;
	if ((line = bearer_job_log(job, MOA2_LOG_DEBUG, "")) == NULL)
		free(copy);
	else
		line->event = copy;
}

static void
bearer_thread_event(void *context, const struct moa2_event *event)
{
	struct bearer_thread *thread = context;

	if (thread->job != NULL)
		bearer_job_event(thread->job, event);
	else
		moa2_dovecot_log_core_event(event);
}

/* The logger of a thread's verifier. Outside a job it runs on the main
   thread (creating or destroying the verifier): straight to Dovecot. */
static void
bearer_thread_log(void *context, enum moa2_log_level level,
		  const char *message)
{
	struct bearer_thread *thread = context;
	const struct moa2_logger *host;

	if (thread->job != NULL) {
		(void)bearer_job_log(thread->job, level, message);
		return;
	}
	host = moa2_dovecot_logger();
	host->func(host->context, level, message);
}

/* ------------------------------------------------------------ threads */

static void
bearer_thread_verify(struct bearer_thread *thread, struct bearer_job *job)
{
	thread->job = job;
	moa2_verify_token(thread->verifier, job->token, job->token_len,
			  job->asserted_user, &job->result);
	thread->job = NULL;
	/* wiped now: no reason to keep it until the main thread runs */
	moa2_secret_free(job->token, job->token_len);
	job->token = NULL;
}

static void
bearer_thread_notify(struct bearer_threads *threads)
{
	static const char byte = 1;
	ssize_t ret;

	/* the pipe is non-blocking and holds at most a few bytes: the main
	   thread drains it before it clears notified */
	do {
		ret = write(threads->notify_fd[1], &byte, 1);
	} while (ret < 0 && errno == EINTR);
}

/* SCHED_BATCH (Linux; no privilege needed, same nice level): a thread
   woken for a job does not preempt the running main thread, whose request
   handling is the serial part of every login. Measured with
   tests/bench/bench-dovecot on 2 CPUs: 37-39k auths/s instead of 31-35k. */
static void
bearer_thread_set_batch(void)
{
#ifdef SCHED_BATCH
	struct sched_param param;

	memset(&param, 0, sizeof(param));
	/* best effort: the default policy works, only a little slower */
	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
#endif
}

static void *
bearer_thread_main(void *context)
{
	struct bearer_thread *thread = context;
	struct bearer_threads *threads = thread->threads;
	struct bearer_job *job;
	bool notify;

	bearer_thread_set_batch();
	pthread_mutex_lock(&threads->lock);
	for (;;) {
		while (!threads->stopping && threads->queue_head == NULL)
			pthread_cond_wait(&threads->cond, &threads->lock);
		if (threads->stopping)
			break;
		job = threads->queue_head;
		threads->queue_head = job->next;
		if (threads->queue_head == NULL)
			threads->queue_tail = &threads->queue_head;
		pthread_mutex_unlock(&threads->lock);

		bearer_thread_verify(thread, job);

		pthread_mutex_lock(&threads->lock);
		bearer_job_list_append(&threads->done_tail, job);
		/* one wake-up per batch: the main thread takes every
		   completion queued until it drains the pipe */
		notify = !threads->notified;
		threads->notified = TRUE;
		if (notify) {
			pthread_mutex_unlock(&threads->lock);
			bearer_thread_notify(threads);
			pthread_mutex_lock(&threads->lock);
		}
	}
	pthread_mutex_unlock(&threads->lock);
	return NULL;
}

/* ------------------------------------------------------------ main thread */

static void
bearer_job_replay_log(const struct bearer_job *job)
{
	const struct moa2_logger *host = moa2_dovecot_logger();
	const struct bearer_log_line *line;

	for (line = job->log_head; line != NULL; line = line->next) {
		if (line->event != NULL)
			moa2_dovecot_log_core_event(line->event);
		else
			host->func(host->context, line->level, line->text);
	}
	if (job->log_dropped > 0) {
		host->func(host->context, MOA2_LOG_WARNING, t_strdup_printf(
			"%u log lines of this verification were dropped "
			"(out of memory or over %u lines)",
			job->log_dropped, BEARER_THREAD_LOG_MAX));
	}
}

/* Logs and applies a verified job, as the in-process path does. */
static void
bearer_job_finish(struct bearer_threads *threads, struct bearer_job *job)
{
	struct auth_request *request = job->request;
	enum passdb_result ret;

	moa2_dovecot_log_request_begin(job->event);
	bearer_job_replay_log(job);
	moa2_dovecot_log_request_end();

	ret = threads->apply(request, job->event, &job->result);
	job->callback(ret, request);
	auth_request_unref(&request);
	bearer_job_free(&job);
}

static void
bearer_job_fail(struct bearer_job *job)
{
	struct auth_request *request = job->request;

	e_error(authdb_event(request), "verification aborted: "
		"the auth process is shutting down");
	job->callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
	auth_request_unref(&request);
	bearer_job_free(&job);
}

static void
bearer_threads_drain_pipe(struct bearer_threads *threads)
{
	char buf[64];
	ssize_t ret;

	/* one read: the pipe holds a byte or two (see notified); anything
	   left wakes the ioloop once more, harmlessly */
	do {
		ret = read(threads->notify_fd[0], buf, sizeof(buf));
	} while (ret < 0 && errno == EINTR);
	if (ret == 0 || (ret < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		i_fatal("bearer: read(verification thread pipe) failed: %s",
			ret == 0 ? "EOF" : strerror(errno));
}

static struct bearer_job *
bearer_threads_take_done(struct bearer_threads *threads)
{
	struct bearer_job *list;

	pthread_mutex_lock(&threads->lock);
	list = threads->done_head;
	threads->done_head = NULL;
	threads->done_tail = &threads->done_head;
	threads->notified = FALSE;
	pthread_mutex_unlock(&threads->lock);
	return list;
}

static void
bearer_threads_completed(struct bearer_threads *threads)
{
	struct bearer_job *job, *next;

	/* drained first: a job completed after the take below writes a new
	   byte (notified is FALSE again by then) */
	bearer_threads_drain_pipe(threads);
	for (job = bearer_threads_take_done(threads); job != NULL; job = next) {
		next = job->next;
		T_BEGIN {
			bearer_job_finish(threads, job);
		} T_END;
	}
}

void
bearer_threads_verify(struct bearer_threads *threads,
		      struct auth_request *request, const char *token,
		      const char *asserted_user,
		      verify_plain_callback_t *callback)
{
	/* malloc(), not Dovecot's allocators: the thread frees the token */
	struct bearer_job *job = calloc(1, sizeof(*job));
	size_t token_len = strlen(token);

	if (job == NULL || (job->token = malloc(token_len + 1)) == NULL ||
	    (asserted_user != NULL &&
	     (job->asserted_user = strdup(asserted_user)) == NULL))
		i_fatal_status(FATAL_OUTOFMEM, "bearer: out of memory");
	job->request = request;
	job->callback = callback;
	job->event = moa2_dovecot_log_event_create(authdb_event(request));
	memcpy(job->token, token, token_len + 1);
	job->token_len = token_len;
	job->log_tail = &job->log_head;
	auth_request_ref(request);

	pthread_mutex_lock(&threads->lock);
	bearer_job_list_append(&threads->queue_tail, job);
	pthread_cond_signal(&threads->cond);
	pthread_mutex_unlock(&threads->lock);
}

/* ------------------------------------------------------------ life cycle */

int
bearer_threads_create(const struct moa2_verify_config *config,
		      unsigned int count, bearer_threads_apply_t *apply,
		      struct bearer_threads **threads_r, char **error_r)
{
	struct bearer_threads *threads = i_new(struct bearer_threads, 1);
	struct moa2_logger logger = {
		.func = bearer_thread_log,
		.event = bearer_thread_event,
		.debug = moa2_dovecot_logger()->debug,
	};

	threads->apply = apply;
	threads->count = count;
	threads->thread = i_new(struct bearer_thread, count);
	threads->notify_fd[0] = threads->notify_fd[1] = -1;
	threads->queue_tail = &threads->queue_head;
	threads->done_tail = &threads->done_head;
	if (pthread_mutex_init(&threads->lock, NULL) != 0 ||
	    pthread_cond_init(&threads->cond, NULL) != 0)
		i_fatal("bearer: pthread_mutex/cond_init() failed");
	*threads_r = threads;

	for (unsigned int i = 0; i < count; i++) {
		threads->thread[i].threads = threads;
		logger.context = &threads->thread[i];
		if (moa2_verifier_create(config, &logger,
					 &threads->thread[i].verifier,
					 error_r) < 0) {
			bearer_threads_destroy(threads_r);
			return -1;
		}
		/* Dovecot's username rules apply on the main thread */
		moa2_verifier_set_host_binding(threads->thread[i].verifier,
					       TRUE);
	}
	return 0;
}

static void
bearer_threads_start_one(struct bearer_thread *thread, unsigned int idx)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	/* Dovecot's signal handlers belong to the main thread */
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0 ||
	    pthread_attr_init(&attr) != 0)
		i_fatal("bearer: pthread_sigmask/attr_init() failed");
	(void)pthread_attr_setstacksize(&attr, BEARER_THREAD_STACK_SIZE);
	ret = pthread_create(&thread->tid, &attr, bearer_thread_main, thread);
	pthread_attr_destroy(&attr);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
		i_fatal("bearer: pthread_sigmask() failed");
	if (ret != 0) {
		i_fatal("bearer: cannot start verification thread %u: %s",
			idx + 1, strerror(ret));
	}
	thread->running = TRUE;
}

void
bearer_threads_start(struct bearer_threads *threads)
{
	if (pipe(threads->notify_fd) < 0)
		i_fatal("bearer: pipe() failed: %m");
	fd_set_nonblock(threads->notify_fd[0], TRUE);
	fd_set_nonblock(threads->notify_fd[1], TRUE);
	fd_close_on_exec(threads->notify_fd[0], TRUE);
	fd_close_on_exec(threads->notify_fd[1], TRUE);
	threads->io = io_add(threads->notify_fd[0], IO_READ,
			     bearer_threads_completed, threads);
	for (unsigned int i = 0; i < threads->count; i++)
		bearer_threads_start_one(&threads->thread[i], i);
}

static void
bearer_threads_stop(struct bearer_threads *threads)
{
	pthread_mutex_lock(&threads->lock);
	threads->stopping = TRUE;
	pthread_cond_broadcast(&threads->cond);
	pthread_mutex_unlock(&threads->lock);
	/* a thread finishes the job it is verifying first */
	for (unsigned int i = 0; i < threads->count; i++) {
		if (threads->thread[i].running) {
			pthread_join(threads->thread[i].tid, NULL);
			threads->thread[i].running = FALSE;
		}
	}
}

static void
bearer_threads_fail_list(struct bearer_job *list)
{
	struct bearer_job *next;

	for (; list != NULL; list = next) {
		next = list->next;
		bearer_job_fail(list);
	}
}

void
bearer_threads_destroy(struct bearer_threads **_threads)
{
	struct bearer_threads *threads = *_threads;

	if (threads == NULL)
		return;
	*_threads = NULL;
	bearer_threads_stop(threads);
	/* no thread left: the lists are ours */
	bearer_threads_fail_list(threads->done_head);
	bearer_threads_fail_list(threads->queue_head);
	io_remove(&threads->io);
	i_close_fd(&threads->notify_fd[0]);
	i_close_fd(&threads->notify_fd[1]);
	for (unsigned int i = 0; i < threads->count; i++)
		moa2_verifier_destroy(&threads->thread[i].verifier);
	pthread_cond_destroy(&threads->cond);
	pthread_mutex_destroy(&threads->lock);
	i_free(threads->thread);
	i_free(threads);
}
