/* SPDX-License-Identifier: MIT */
/* Fetched provider documents with freshness, rate limit, stale-if-error,
   background refresh, one fetch in flight per process, attempts recorded
   for other processes, and on-disk persistence (see remote-doc.h).
   Failure behaviour: nothing here replaces a good copy with a bad one; a
   file of the cache dir that cannot be written costs the persistence only
   (logged), one that cannot be read is ignored. */
#include "config.h"
#include "support/remote-doc.h"
#include "support/http-client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMOTE_DOC_MAX_FILE (4 * 1024 * 1024)
#define REMOTE_DOC_ERROR_MAX 256

/* ------------------------------------------------ process-wide state */

/* One per URL and cache path, shared by every document of the process
   that has them (one verifier per thread). Fields under state_lock. */
struct doc_shared {
	struct doc_shared *next;
	unsigned int refs;
	char *key;

	bool busy;                /* a fetch in flight */
	unsigned int threads;     /* background threads still running */
	bool attempted, last_failed, failure_logged;
	time_t last_attempt;
	char error[REMOTE_DOC_ERROR_MAX];

	/* the last 200 answer of a fetch of this process, not validated yet */
	char *body, *cache_control;
	size_t len;
	time_t fetched_at;
	unsigned int body_generation;
	bool persisted;           /* claimed by the document that persists it */
	/* bumped by every finished fetch; read without the lock first */
	atomic_uint generation;
	/* the last finished fetch, for the one report of it (fetch_report) */
	struct timespec attempt_start;
	unsigned long long last_fetch_usecs;
	bool fetch_unreported;
};

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

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct moa2_remote_doc {
	struct moa2_remote_doc_settings set;
	char *url, *cache_path, *retry_path, *what, *owner, *stale_max_name;
	struct moa2_http_client *http;
	const struct moa2_logger *logger;
	struct doc_shared *shared;

	char *body;
	size_t len;
	time_t fetched_at, fresh_until;
	bool loaded_from_disk, changed;
	struct file_id disk;          /* the cache file as last read or written */
	unsigned int generation, body_generation; /* of shared, adopted */
	unsigned int fetch_count;
	char error[REMOTE_DOC_ERROR_MAX];
};

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

static void
replace_body(struct moa2_remote_doc *doc, const char *body, size_t len)
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

/* ------------------------------------------------ files of the cache dir */

/* Creates the cache directory (one level, 0755) when it is missing. */
static int
make_parent_dir(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return -1;
	*slash = '\0';
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* A new temp file beside path, created exclusively and never through a
   symlink (O_EXCL|O_NOFOLLOW: a name planted in the cache dir makes the
   open fail, it never redirects the write). The name is unique per process
   and call: verifiers in threads of one process (Dovecot's
   blocking=threads) may persist the same document at the same time.
   Returns the fd, or -1 with errno set. */
static int
tmp_create(const char *path, char *tmp, size_t size)
{
	static atomic_uint seq;
	int fd;

	for (int i = 0; i < 2; i++) {
		snprintf(tmp, size, "%s.tmp.%ld.%u", path, (long)getpid(),
			 atomic_fetch_add(&seq, 1));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != ENOENT || make_parent_dir(path) < 0)
			return fd;
	}
	return -1;
}

/* Writes a small file atomically (temp file, rename); best effort. */
static void
write_small_file(const char *path, const char *text)
{
	char tmp[4200];
	size_t len = strlen(text);
	int fd;

	if (strlen(path) + 40 >= sizeof(tmp) || (fd = tmp_create(path, tmp, sizeof(tmp))) < 0)
		return;
	if (write(fd, text, len) != (ssize_t)len || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

/* Reads a small file (not through a symlink) into buf; -1 when missing. */
static int
read_small_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n < 0 ? -1 : 0;
}

/* The freshness the provider granted (Cache-Control) is kept beside the
   copy, in PATH.fresh, as seconds after the copy's mtime, so that a new
   process honours it too. Best effort: without it the copy counts as fresh
   for cache_min after its mtime. */
static void
persist_freshness(struct moa2_remote_doc *doc)
{
	char path[4096], text[32];

	if (snprintf(path, sizeof(path), "%s.fresh", doc->cache_path) >= (int)sizeof(path))
		return;
	snprintf(text, sizeof(text), "%lld\n", (long long)(doc->fresh_until - doc->fetched_at));
	write_small_file(path, text);
}

/* The persisted freshness after the copy's mtime, bounded by cache_min and
   cache_max (a forged .fresh file cannot extend it more). */
static time_t
load_freshness(const struct moa2_remote_doc *doc, time_t mtime)
{
	char path[4096], text[32];
	long long value;

	snprintf(path, sizeof(path), "%s.fresh", doc->cache_path);
	if (read_small_file(path, text, sizeof(text)) < 0 ||
	    sscanf(text, "%lld", &value) != 1 || value < (long long)doc->set.cache_min)
		return mtime + doc->set.cache_min;
	return mtime + (value > (long long)doc->set.cache_max ?
			(time_t)doc->set.cache_max : (time_t)value);
}

static void
file_id_set(struct file_id *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

static bool
file_id_equal(const struct file_id *a, const struct stat *st)
{
	return a->dev == st->st_dev && a->ino == st->st_ino && a->size == st->st_size &&
		a->mtime.tv_sec == st->st_mtim.tv_sec && a->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Writes the copy to a temp file, fsyncs, renames over the cache file and
   fsyncs the directory, so a reader never sees half a document. */
static int
persist(struct moa2_remote_doc *doc, const char **error_r)
{
	char tmp[4096], dir[4096];
	struct stat st;
	char *slash;
	int fd, ret = 0;

	/* room for ".tmp.PID.SEQ" */
	if (strlen(doc->cache_path) + 40 >= sizeof(tmp)) {
		*error_r = "path too long";
		return -1;
	}
	if ((fd = tmp_create(doc->cache_path, tmp, sizeof(tmp))) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (write(fd, doc->body, doc->len) != (ssize_t)doc->len || fsync(fd) < 0 ||
	    fstat(fd, &st) < 0) {
		*error_r = strerror(errno);
		ret = -1;
	}
	if (close(fd) < 0 && ret == 0) {
		*error_r = strerror(errno);
		ret = -1;
	}
	if (ret == 0 && rename(tmp, doc->cache_path) < 0) {
		*error_r = strerror(errno);
		ret = -1;
	}
	if (ret < 0) {
		unlink(tmp);
		return -1;
	}
	file_id_set(&doc->disk, &st);
	persist_freshness(doc);
	snprintf(dir, sizeof(dir), "%s", doc->cache_path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((fd = open(dir[0] == '\0' ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
	return 0;
}

/* Loads the persisted copy (not through a symlink); it counts as fetched
   at its mtime. */
static void
load_from_disk(struct moa2_remote_doc *doc)
{
	const char *error;
	struct stat st;
	char *body;
	ssize_t n;
	int fd;

	doc->loaded_from_disk = true;
	if (doc->cache_path == NULL)
		return;
	if ((fd = open(doc->cache_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			moa2_log(doc->logger, MOA2_LOG_WARNING,
				 "%s: cannot read the cached %s %s: %s",
				 doc->owner, doc->what, doc->cache_path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > REMOTE_DOC_MAX_FILE || (body = malloc((size_t)st.st_size)) == NULL) {
		close(fd);
		return;
	}
	file_id_set(&doc->disk, &st);
	n = read(fd, body, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size ||
	    (doc->set.validate != NULL &&
	     doc->set.validate(doc->set.validate_context, body, (size_t)n, &error) < 0)) {
		moa2_log(doc->logger, MOA2_LOG_WARNING,
			 "%s: ignoring the cached %s in %s: unreadable or invalid",
			 doc->owner, doc->what, doc->cache_path);
		free(body);
		return;
	}
	replace_body(doc, body, (size_t)n);
	free(body);
	doc->fetched_at = st.st_mtime;
	doc->fresh_until = load_freshness(doc, st.st_mtime);
	moa2_log(doc->logger, MOA2_LOG_DEBUG, "%s: loaded the cached %s from %s",
		 doc->owner, doc->what, doc->cache_path);
}

/* Another process may have refreshed the persisted copy since we read or
   wrote it: one lstat() tells. */
static void
reload_if_changed(struct moa2_remote_doc *doc)
{
	struct stat st;

	if (doc->cache_path == NULL || lstat(doc->cache_path, &st) < 0 ||
	    !S_ISREG(st.st_mode) || file_id_equal(&doc->disk, &st))
		return;
	load_from_disk(doc);
}

/* ------------------------------------------------ attempts of all processes */

/* PATH.retry: "pending TIME" when an attempt starts, "failed TIME\nERROR"
   when it failed; removed when one succeeded. Updated in place under an
   flock(), so that deciding whether to attempt and recording the attempt
   is one step for all processes. Opened never through a symlink, and
   never when it has other links (a hard link planted to a victim file). */
static int
retry_open_locked(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && make_parent_dir(path) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    flock(fd, LOCK_EX) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
retry_write(int fd, const char *state, time_t when, const char *error)
{
	char text[64 + REMOTE_DOC_ERROR_MAX];
	int len = snprintf(text, sizeof(text), "%s %lld\n%s\n", state, (long long)when,
			   error != NULL ? error : "");

	if (len >= (int)sizeof(text))
		len = (int)sizeof(text) - 1;
	if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)len, 0) != len)
		(void)ftruncate(fd, 0);
}

static void
record_attempt(const char *retry_path, const char *state, time_t when, const char *error)
{
	int fd;

	if (retry_path == NULL || (fd = retry_open_locked(retry_path)) < 0)
		return;
	retry_write(fd, state, when, error);
	close(fd);
}

/* Whether the recorded attempt (text) forbids one now: one within
   retry_interval, failed, or pending (it may have been cut short by its
   process's exit) when the caller has a usable copy to serve. Merges it
   into the process state. */
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

	if (doc->retry_path == NULL || (fd = retry_open_locked(doc->retry_path)) < 0)
		return true;
	n = pread(fd, text, sizeof(text) - 1, 0);
	text[n < 0 ? 0 : n] = '\0';
	if (!live)
		backoff = retry_backoff(doc, text, now, usable);
	if (!backoff)
		retry_write(fd, "pending", now, NULL);
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
			record_attempt(doc->retry_path, "failed", fetched_at, doc->error);
		}
	} else {
		replace_body(doc, body, len);
		doc->fetched_at = fetched_at;
		doc->fresh_until = fetched_at + moa2_cache_control_ttl(cc,
			doc->set.cache_min, doc->set.cache_max);
		if (do_persist && doc->cache_path != NULL) {
			if (persist(doc, &error) < 0)
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
			record_attempt(doc->retry_path, "failed", now, error);
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
		record_attempt(job->retry_path, "failed", job->started, error);
		finish_attempt(job->shared, job->started, NULL, error);
	} else {
		finish_attempt(job->shared, job->started, &resp, NULL);
		moa2_http_response_clear(&resp);
	}
	background_fetch_free(job);
	return NULL;
}

/* Starts a detached thread with every signal blocked (the host's signals
   must reach the host's threads). */
static int
background_start(struct background_fetch *job)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	int ret;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&tid, &attr, background_main, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ret == 0 ? 0 : -1;
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
	    background_start(job) < 0) {
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
		load_from_disk(doc);
	adopt_shared(doc);
	if (wants_fetch(doc, now, flags) && !live)
		reload_if_changed(doc);
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


