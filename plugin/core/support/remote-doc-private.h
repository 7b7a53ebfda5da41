/* SPDX-License-Identifier: MIT */
#ifndef MOA2_REMOTE_DOC_PRIVATE_H
#define MOA2_REMOTE_DOC_PRIVATE_H

/* What remote-doc.c (freshness, fetching, the process-wide state) and
   remote-doc-file.c (the files of the cache dir: the copy, its freshness,
   the record of attempts) share. */

#include "support/remote-doc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#define REMOTE_DOC_MAX_FILE (4 * 1024 * 1024)
#define REMOTE_DOC_ERROR_MAX 256

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

/* Replaces the document's copy (remote-doc.c). */
void moa2_remote_doc_replace_body(struct moa2_remote_doc *doc, const char *body, size_t len);

/* remote-doc-file.c */
/* Writes the copy and its freshness into the cache dir (O_EXCL|O_NOFOLLOW
   temp file, renamed). 0, or -1 with error_r. */
int moa2_remote_doc_persist(struct moa2_remote_doc *doc, const char **error_r);
/* Reads the copy of the cache dir, if any and valid, once. */
void moa2_remote_doc_load_from_disk(struct moa2_remote_doc *doc);
/* Reads the cache file again when another process replaced it. */
void moa2_remote_doc_reload_if_changed(struct moa2_remote_doc *doc);
/* The record of attempts (path.retry), opened and locked (flock): an fd,
   or -1 (a link or unreadable record refused). */
int moa2_remote_doc_retry_open(const char *path);
/* Rewrites the locked record: STATE WHEN [ERROR]. */
void moa2_remote_doc_retry_write(int fd, const char *state, time_t when, const char *error);
/* Opens, writes and closes the record (no path: nothing). */
void moa2_remote_doc_record_attempt(const char *retry_path, const char *state, time_t when,
				    const char *error);

#endif
