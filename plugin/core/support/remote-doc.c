/* SPDX-License-Identifier: MIT */
/* Fetched provider documents with freshness, rate limit, stale-if-error,
   background refresh, one fetch in flight per process, attempts recorded
   for other processes (see remote-doc.h); the files of the cache dir are
   remote-doc-file.c's.
   Failure behaviour: nothing here replaces a good copy with a bad one; a
   file of the cache dir that cannot be written costs the persistence only
   (logged), one that cannot be read is ignored. */
#include "config.h"
#include "support/remote-doc-private.h"
#include "support/http-client.h"
#include "support/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------ process-wide state */

static unsigned long long
usecs_since(const struct timespec *start)
{
	struct timespec now;
	long long usecs;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	usecs = (long long)(now.tv_sec - start->tv_sec) * 1000000LL +
		(now.tv_nsec - start->tv_nsec) / 1000;
	return usecs > 0 ? (unsigned long long)usecs : 0;
}

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t state_cond = PTHREAD_COND_INITIALIZER;
static struct doc_shared *state_list;

static struct doc_shared *
shared_get(const char *url, const char *cache_path)
{
	char *key = moa2_strdup_printf("%s\n%s", url != NULL ? url : "",
				       cache_path != NULL ? cache_path : "");
	struct doc_shared *s;

	pthread_mutex_lock(&state_lock);
	for (s = state_list; s != NULL; s = s->next) {
		if (strcmp(s->key, key) == 0)
			break;
	}
	if (s != NULL) {
		free(key);
	} else {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			abort();
		s->key = key;
		s->next = state_list;
		state_list = s;
	}
	s->refs++;
	pthread_mutex_unlock(&state_lock);
	return s;
}

static void
shared_unref(struct doc_shared **_s)
{
	struct doc_shared *s = *_s, **p;

	*_s = NULL;
	pthread_mutex_lock(&state_lock);
	if (--s->refs > 0) {
		pthread_mutex_unlock(&state_lock);
		return;
	}
	for (p = &state_list; *p != s; p = &(*p)->next)
		;
	*p = s->next;
	pthread_mutex_unlock(&state_lock);
	free(s->key);
	free(s->body);
	free(s->cache_control);
	free(s);
}

/* ------------------------------------------------ the document */

static void adopt_shared(struct moa2_remote_doc *doc);

struct moa2_remote_doc *
moa2_remote_doc_create(const struct moa2_remote_doc_settings *settings,
		       struct moa2_http_client *http,
		       const struct moa2_logger *logger)
{
	struct moa2_remote_doc *doc = calloc(1, sizeof(*doc));

	if (doc == NULL)
		abort();
	doc->set = *settings;
	doc->set.url = doc->url = moa2_strdup(settings->url);
	doc->set.cache_path = doc->cache_path = moa2_strdup(settings->cache_path);
	doc->set.what = doc->what = moa2_strdup(settings->what);
	doc->set.owner = doc->owner = moa2_strdup(settings->owner);
	doc->set.stale_max_name = doc->stale_max_name =
		moa2_strdup(settings->stale_max_name != NULL ? settings->stale_max_name :
			    "its stale limit");
	if (doc->cache_path != NULL)
		doc->retry_path = moa2_strdup_printf("%s.retry", doc->cache_path);
	doc->http = http;
	doc->logger = logger;
	/* generation 0: the first call adopts what the process fetched */
	doc->shared = shared_get(doc->url, doc->cache_path);
	return doc;
}

void
moa2_remote_doc_destroy(struct moa2_remote_doc **_doc)
{
	struct moa2_remote_doc *doc = *_doc;

	if (doc == NULL)
		return;
	/* a background thread still running ends first (its code may be
	   unloaded after us), and its outcome is kept */
	pthread_mutex_lock(&state_lock);
	while (doc->shared->threads > 0)
		pthread_cond_wait(&state_cond, &state_lock);
	pthread_mutex_unlock(&state_lock);
	if (doc->loaded_from_disk)
		adopt_shared(doc);
	shared_unref(&doc->shared);
	free(doc->body);
	free(doc->url);
	free(doc->cache_path);
	free(doc->retry_path);
	free(doc->what);
	free(doc->owner);
	free(doc->stale_max_name);
	free(doc);
	*_doc = NULL;
}

unsigned int
moa2_cache_control_ttl(const char *cc, unsigned int min, unsigned int max)
{
	const char *p;
	unsigned long ttl;
	char *end;

	if (cc == NULL || strcasestr(cc, "no-store") != NULL ||
	    strcasestr(cc, "no-cache") != NULL ||
	    (p = strcasestr(cc, "max-age=")) == NULL)
		return min;
	errno = 0;
	ttl = strtoul(p + 8, &end, 10);
	if (end == p + 8 || errno != 0)
		return min;
	return ttl < min ? min : ttl > max ? max : (unsigned int)ttl;
}

void
moa2_remote_doc_replace_body(struct moa2_remote_doc *doc, const char *body, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		abort();
	memcpy(copy, body, len);
	copy[len] = '\0';
	free(doc->body);
	doc->body = copy;
	doc->len = len;
	doc->changed = true;
}

static bool
retry_backoff(struct moa2_remote_doc *doc, char *text, time_t now, bool usable)
{
	struct doc_shared *s = doc->shared;
	char state[16], *nl;
	long long when;
	bool failed;

	if (sscanf(text, "%15s %lld", state, &when) != 2 ||
	    now < when || now - when >= (long long)doc->set.retry_interval)
		return false;
	failed = strcmp(state, "failed") == 0;
	if (!failed && !(usable && strcmp(state, "pending") == 0))
		return false;
	if ((nl = strchr(text, '\n')) != NULL) {
		nl++;
		nl[strcspn(nl, "\n")] = '\0';
		for (char *p = nl; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		}
	}
	/* a record no newer than this process's own attempt is (most likely)
	   that attempt's: the process state knows better */
	pthread_mutex_lock(&state_lock);
	if (!s->attempted || when > s->last_attempt) {
		s->attempted = true;
		s->last_attempt = (time_t)when;
		s->last_failed = true;
		snprintf(s->error, sizeof(s->error), "%s %llds ago (not retried for %us): %s",
			 failed ? "an attempt failed" : "an attempt is under way since",
			 now - when, doc->set.retry_interval,
			 nl != NULL && *nl != '\0' ? nl : "no reason recorded");
	}
	snprintf(doc->error, sizeof(doc->error), "%s", s->error);
	pthread_mutex_unlock(&state_lock);
	return true;
}

/* Claims the next attempt for every process: false when a recorded one
   forbids it (live: never), else "pending NOW" is recorded. Without a
   usable PATH.retry attempts are not coordinated (true). */
static bool
claim_attempt(struct moa2_remote_doc *doc, time_t now, bool usable, bool live)
{
	char text[64 + REMOTE_DOC_ERROR_MAX];
	bool backoff = false;
	ssize_t n;
	int fd;

	if (doc->retry_path == NULL || (fd = moa2_remote_doc_retry_open(doc->retry_path)) < 0)
		return true;
	n = pread(fd, text, sizeof(text) - 1, 0);
	text[n < 0 ? 0 : n] = '\0';
	if (!live)
		backoff = retry_backoff(doc, text, now, usable);
	if (!backoff)
		moa2_remote_doc_retry_write(fd, "pending", now, NULL);
	close(fd);
	return !backoff;
}

/* ------------------------------------------------ fetching */

static bool
may_attempt(const struct doc_shared *s, const struct moa2_remote_doc *doc, time_t now)
{
	return !s->attempted || now < s->last_attempt ||
		now - s->last_attempt >= (time_t)doc->set.retry_interval;
}

/* Takes the process's fetch slot (state_lock held): false when a fetch
   is in flight or retry_interval forbids one. */
static bool
take_slot(struct moa2_remote_doc *doc, time_t now, bool live)
{
	struct doc_shared *s = doc->shared;

	if (s->busy || (!live && !may_attempt(s, doc, now)))
		return false;
	s->busy = true;
	return true;
}

/* The slot taken, then the claim of all processes: the attempt is on
   (true), or the slot is given back (false). */
static bool
begin_attempt(struct moa2_remote_doc *doc, time_t now, bool usable, bool live)
{
	struct doc_shared *s = doc->shared;
	bool claimed = claim_attempt(doc, now, usable, live);

	pthread_mutex_lock(&state_lock);
	if (claimed) {
		s->attempted = true;
		s->last_attempt = now;
		(void)clock_gettime(CLOCK_MONOTONIC, &s->attempt_start);
	} else {
		s->busy = false;
		pthread_cond_broadcast(&state_cond);
	}
	pthread_mutex_unlock(&state_lock);
	if (claimed)
		doc->fetch_count++;
	return claimed;
}

/* One GET: 0 with a 200 answer in resp, -1 with a reason in error. */
static int
http_fetch(struct moa2_http_client *http, const char *url,
	   struct moa2_http_response *resp, char *error, size_t size)
{
	const char *reason = NULL;

	if (moa2_http_get(http, url, NULL, resp, &reason) < 0) {
		snprintf(error, size, "%s", reason);
		return -1;
	}
	if (resp->status != 200) {
		snprintf(error, size, "HTTP status %ld", resp->status);
		moa2_http_response_clear(resp);
		return -1;
	}
	return 0;
}

/* Publishes a fetch's outcome to every document of the process and frees
   the fetch slot. */
static void
finish_attempt(struct doc_shared *s, time_t started, const struct moa2_http_response *resp,
	       const char *error)
{
	pthread_mutex_lock(&state_lock);
	if (resp != NULL) {
		free(s->body);
		free(s->cache_control);
		if ((s->body = malloc(resp->body_len + 1)) == NULL)
			abort();
		memcpy(s->body, resp->body, resp->body_len);
		s->body[resp->body_len] = '\0';
		s->len = resp->body_len;
		s->cache_control = moa2_strdup(resp->cache_control);
		s->fetched_at = started;
		s->body_generation++;
		s->persisted = false;
		s->last_failed = false;
	} else {
		s->last_failed = true;
		s->failure_logged = false;
		snprintf(s->error, sizeof(s->error), "%s", error);
	}
	s->last_fetch_usecs = usecs_since(&s->attempt_start);
	s->fetch_unreported = true;
	s->busy = false;
	atomic_fetch_add(&s->generation, 1);
	pthread_cond_broadcast(&state_cond);
	pthread_mutex_unlock(&state_lock);
}

static void
log_fetch_failure(struct moa2_remote_doc *doc, const char *error)
{
	moa2_log(doc->logger, MOA2_LOG_ERROR, "%s: fetching the %s from %s failed: %s",
		 doc->owner, doc->what, doc->url, error);
}

/* Takes the outcome of the process's last fetch when it is new to this
   document: validates and adopts a new body (the first document to adopt
   it persists it), logs a failure once per process. */
static void
adopt_shared(struct moa2_remote_doc *doc)
{
	struct doc_shared *s = doc->shared;
	char *body = NULL, *cc = NULL;
	const char *error = NULL;
	bool log_failure = false, do_persist = false;
	time_t fetched_at = 0;
	size_t len = 0;

	if (atomic_load(&s->generation) == doc->generation)
		return;
	pthread_mutex_lock(&state_lock);
	doc->generation = atomic_load(&s->generation);
	if (s->body_generation != doc->body_generation && s->body != NULL) {
		doc->body_generation = s->body_generation;
		if ((body = malloc(s->len + 1)) == NULL)
			abort();
		memcpy(body, s->body, s->len + 1);
		len = s->len;
		cc = moa2_strdup(s->cache_control);
		fetched_at = s->fetched_at;
		do_persist = !s->persisted;
		s->persisted = true;
	}
	if (s->last_failed && !s->failure_logged) {
		log_failure = true;
		s->failure_logged = true;
	}
	snprintf(doc->error, sizeof(doc->error), "%s", s->error);
	pthread_mutex_unlock(&state_lock);

	if (log_failure)
		log_fetch_failure(doc, doc->error);
	if (body == NULL)
		return;
	if (doc->set.validate != NULL &&
	    doc->set.validate(doc->set.validate_context, body, len, &error) < 0) {
		pthread_mutex_lock(&state_lock);
		s->last_failed = true;
		s->failure_logged = true;
		snprintf(s->error, sizeof(s->error), "%s", error);
		snprintf(doc->error, sizeof(doc->error), "%s", error);
		pthread_mutex_unlock(&state_lock);
		if (do_persist) {
			log_fetch_failure(doc, doc->error);
			moa2_remote_doc_record_attempt(doc->retry_path, "failed", fetched_at, doc->error);
		}
	} else {
		moa2_remote_doc_replace_body(doc, body, len);
		doc->fetched_at = fetched_at;
		doc->fresh_until = fetched_at + moa2_cache_control_ttl(cc,
			doc->set.cache_min, doc->set.cache_max);
		if (do_persist && doc->cache_path != NULL) {
			if (moa2_remote_doc_persist(doc, &error) < 0)
				moa2_log(doc->logger, MOA2_LOG_WARNING,
					 "%s: cannot save the %s to %s: %s (a restart during a provider outage will not have it)",
					 doc->owner, doc->what, doc->cache_path, error);
			(void)unlink(doc->retry_path);
		}
	}
	free(body);
	free(cc);
}

/* Waits for the fetch in flight (state_lock held); it is bounded by its
   HTTP client's timeouts. */
static void
wait_idle_locked(struct doc_shared *s)
{
	while (s->busy)
		pthread_cond_wait(&state_cond, &state_lock);
}

/* A fetch in the caller's thread, or the result of the one in flight
   (which is this caller's one bounded attempt: it is waited for, never
   doubled). */
static void
fetch_now(struct moa2_remote_doc *doc, time_t now, bool usable, bool live)
{
	struct doc_shared *s = doc->shared;
	struct moa2_http_response resp;
	char error[REMOTE_DOC_ERROR_MAX];
	bool mine = false;

	pthread_mutex_lock(&state_lock);
	if (s->busy)
		wait_idle_locked(s);
	else
		mine = take_slot(doc, now, live);
	pthread_mutex_unlock(&state_lock);
	if (mine && begin_attempt(doc, now, usable, live)) {
		if (http_fetch(doc->http, doc->url, &resp, error, sizeof(error)) < 0) {
			moa2_remote_doc_record_attempt(doc->retry_path, "failed", now, error);
			finish_attempt(s, now, NULL, error);
		} else {
			finish_attempt(s, now, &resp, NULL);
			moa2_http_response_clear(&resp);
		}
	}
	adopt_shared(doc);
}

struct background_fetch {
	struct doc_shared *shared;
	struct moa2_http_client *http;
	char *url, *retry_path;
	time_t started;
};

static void
background_fetch_free(struct background_fetch *job)
{
	struct doc_shared *s = job->shared;

	moa2_http_client_destroy(&job->http);
	free(job->url);
	free(job->retry_path);
	free(job);
	/* the thread's last step: a document being destroyed waits for it */
	pthread_mutex_lock(&state_lock);
	s->threads--;
	pthread_cond_broadcast(&state_cond);
	pthread_mutex_unlock(&state_lock);
	shared_unref(&s);
}

/* The background thread: fetch, publish, record; it never logs (the
   host's logger belongs to the caller's thread): the next caller of a
   document logs the outcome. */
static void *
background_main(void *context)
{
	struct background_fetch *job = context;
	struct moa2_http_response resp;
	char error[REMOTE_DOC_ERROR_MAX];

	/* recorded before the outcome is published: a process that waits
	   for it (moa2_remote_doc_finish) and ends leaves the record */
	if (http_fetch(job->http, job->url, &resp, error, sizeof(error)) < 0) {
		moa2_remote_doc_record_attempt(job->retry_path, "failed", job->started, error);
		finish_attempt(job->shared, job->started, NULL, error);
	} else {
		finish_attempt(job->shared, job->started, &resp, NULL);
		moa2_http_response_clear(&resp);
	}
	background_fetch_free(job);
	return NULL;
}

/* A usable copy that is no longer fresh: refreshed by a background thread,
   when no fetch is in flight and none was attempted (by any process)
   within retry_interval. Never waits. */
static void
refresh_in_background(struct moa2_remote_doc *doc, time_t now)
{
	struct doc_shared *s = doc->shared;
	struct background_fetch *job;
	const char *error;
	bool mine;

	pthread_mutex_lock(&state_lock);
	mine = take_slot(doc, now, false);
	pthread_mutex_unlock(&state_lock);
	if (!mine || !begin_attempt(doc, now, true, false))
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		abort();
	job->url = moa2_strdup(doc->url);
	job->retry_path = moa2_strdup(doc->retry_path);
	job->started = now;
	pthread_mutex_lock(&state_lock);
	s->refs++;
	s->threads++;
	pthread_mutex_unlock(&state_lock);
	job->shared = s;
	if (moa2_http_client_clone(doc->http, &job->http, &error) < 0 ||
	    moa2_thread_start_detached(background_main, job) < 0) {
		finish_attempt(s, now, NULL, "cannot start a background fetch");
		background_fetch_free(job);
	}
}

static bool
usable(const struct moa2_remote_doc *doc, time_t now)
{
	return doc->body != NULL &&
		(now < doc->fresh_until || now - doc->fetched_at <= (time_t)doc->set.stale_max);
}

static bool
wants_fetch(const struct moa2_remote_doc *doc, time_t now, unsigned int flags)
{
	return (flags & (MOA2_REMOTE_DOC_REFRESH | MOA2_REMOTE_DOC_LIVE)) != 0 ||
		doc->body == NULL || now >= doc->fresh_until;
}

int
moa2_remote_doc_get(struct moa2_remote_doc *doc, time_t now, unsigned int flags,
		    const char **body_r, size_t *len_r, const char **error_r)
{
	bool live = (flags & MOA2_REMOTE_DOC_LIVE) != 0;

	if (!doc->loaded_from_disk)
		moa2_remote_doc_load_from_disk(doc);
	adopt_shared(doc);
	if (wants_fetch(doc, now, flags) && !live)
		moa2_remote_doc_reload_if_changed(doc);
	if (wants_fetch(doc, now, flags)) {
		if (usable(doc, now) && (flags & (MOA2_REMOTE_DOC_REFRESH | MOA2_REMOTE_DOC_LIVE)) == 0)
			refresh_in_background(doc, now);
		else
			fetch_now(doc, now, usable(doc, now), live);
	}
	if (doc->body == NULL) {
		*error_r = doc->error[0] != '\0' ? doc->error : "not fetched yet";
		return -1;
	}
	if (now - doc->fetched_at > (time_t)doc->set.stale_max && now >= doc->fresh_until) {
		snprintf(doc->error, sizeof(doc->error),
			 "the last good copy is older than %s", doc->stale_max_name);
		*error_r = doc->error;
		return -1;
	}
	*body_r = doc->body;
	*len_r = doc->len;
	if (!doc->changed)
		return 0;
	doc->changed = false;
	return 1;
}

unsigned int
moa2_remote_doc_fetch_count(const struct moa2_remote_doc *doc)
{
	return doc->fetch_count;
}

bool
moa2_remote_doc_fetch_report(const struct moa2_remote_doc *doc, bool *failed_r,
			     unsigned long long *usecs_r)
{
	struct doc_shared *s = doc->shared;
	bool report;

	pthread_mutex_lock(&state_lock);
	report = s->fetch_unreported;
	s->fetch_unreported = false;
	*failed_r = s->last_failed;
	*usecs_r = s->last_fetch_usecs;
	pthread_mutex_unlock(&state_lock);
	return report;
}

bool
moa2_remote_doc_last_fetch_failed(const struct moa2_remote_doc *doc)
{
	bool failed;

	pthread_mutex_lock(&state_lock);
	failed = doc->shared->last_failed;
	pthread_mutex_unlock(&state_lock);
	return failed;
}


