/* SPDX-License-Identifier: MIT */
/* Name resolution for the HTTP layer (see http-conn.h): getaddrinfo() in a
   detached thread, so that the connect deadline holds for it too (a libc
   resolver call cannot be interrupted).

   Failure behaviour: a name not resolved by the deadline, or not at all,
   fails with one sentence naming the host ("timeout while resolving host
   ..." or getaddrinfo's reason); the thread that is still running then
   frees its job when it is done. The thread runs with every signal
   blocked, so that the host's signals reach the host's threads. */
#include "config.h"
#include "support/http-conn-private.h"
#include "support/thread.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ------------------------------------------------------------ resolver */

/* One getaddrinfo() call in its own thread. Two references: the waiter's,
   dropped when it stops waiting (done or timed out), and the thread's. */
struct resolve_job {
	atomic_uint refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int gai_error;
	int sys_errno;
	struct addrinfo *result;
	char host[MOA2_HTTP_CONN_HOST_MAX];
	char port[8];
};

static void
resolve_job_unref(struct resolve_job *job)
{
	if (atomic_fetch_sub(&job->refs, 1) != 1)
		return;
	if (job->result != NULL)
		freeaddrinfo(job->result);
	pthread_cond_destroy(&job->cond);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

static void *
resolve_main(void *context)
{
	struct resolve_job *job = context;
	const struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *result = NULL;
	int ret = getaddrinfo(job->host, job->port, &hints, &result);
	int sys_errno = errno;

	pthread_mutex_lock(&job->lock);
	job->gai_error = ret;
	job->sys_errno = sys_errno;
	job->result = ret == 0 ? result : NULL;
	job->done = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	resolve_job_unref(job);
	return NULL;
}

static struct resolve_job *
resolve_job_new(const char *host, const char *port)
{
	struct resolve_job *job = calloc(1, sizeof(*job));
	pthread_condattr_t cond_attr;

	if (job == NULL)
		return NULL;
	atomic_init(&job->refs, 2);
	snprintf(job->host, sizeof(job->host), "%s", host);
	snprintf(job->port, sizeof(job->port), "%s", port);
	pthread_condattr_init(&cond_attr);
	pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&job->lock, NULL) != 0 ||
	    pthread_cond_init(&job->cond, &cond_attr) != 0) {
		pthread_condattr_destroy(&cond_attr);
		free(job);
		return NULL;
	}
	pthread_condattr_destroy(&cond_attr);
	return job;
}

/* Waits for the job until the deadline: true when it is done. */
static bool
resolve_wait(struct resolve_job *job, int64_t deadline_ms)
{
	struct timespec until = {
		.tv_sec = (time_t)(deadline_ms / 1000),
		.tv_nsec = (long)(deadline_ms % 1000) * 1000000,
	};
	bool done;

	pthread_mutex_lock(&job->lock);
	while (!job->done &&
	       pthread_cond_timedwait(&job->cond, &job->lock, &until) != ETIMEDOUT)
		;
	done = job->done;
	pthread_mutex_unlock(&job->lock);
	return done;
}

int
moa2_http_resolve(const char *host, unsigned int port, int64_t deadline_ms,
		  struct addrinfo **result_r, char *err)
{
	const struct addrinfo literal_hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct resolve_job *job;
	char port_str[8];
	int gai_error, sys_errno;

	*result_r = NULL;
	snprintf(port_str, sizeof(port_str), "%u", port);
	if (moa2_http_ip_literal(host))
		return getaddrinfo(host, port_str, &literal_hints, result_r) == 0 ? 0 :
			moa2_http_conn_fail(err, "cannot use the address %s", host);
	job = resolve_job_new(host, port_str);
	if (job == NULL)
		return moa2_http_conn_fail(err, "out of memory");
	if (moa2_thread_start_detached(resolve_main, job) < 0) {
		atomic_store(&job->refs, 1);
		resolve_job_unref(job);
		return moa2_http_conn_fail(err, "cannot start the resolver thread");
	}
	if (!resolve_wait(job, deadline_ms)) {
		resolve_job_unref(job); /* the thread frees it when done */
		return moa2_http_conn_fail(err, "timeout while resolving host %s", host);
	}
	*result_r = job->result;
	job->result = NULL;
	gai_error = job->gai_error;
	sys_errno = job->sys_errno;
	resolve_job_unref(job);
	if (gai_error == 0)
		return 0;
	return moa2_http_conn_fail(err, "cannot resolve host %s: %s", host,
				   gai_error == EAI_SYSTEM ? strerror(sys_errno) :
				   gai_strerror(gai_error));
}
