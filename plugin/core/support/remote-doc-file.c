/* SPDX-License-Identifier: MIT */
/* The files of a remote document in the cache dir (remote-doc-private.h):
   the last good copy and its freshness, read back by other processes, and
   the record of fetch attempts that every process of the host shares.
   Failure behaviour: a file that cannot be written costs the persistence
   only (the caller logs it); one that cannot be read, or is a link, is
   ignored; nothing is ever written through a planted link. */
#include "config.h"
#include "support/remote-doc-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
int
moa2_remote_doc_persist(struct moa2_remote_doc *doc, const char **error_r)
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
void
moa2_remote_doc_load_from_disk(struct moa2_remote_doc *doc)
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
	moa2_remote_doc_replace_body(doc, body, (size_t)n);
	free(body);
	doc->fetched_at = st.st_mtime;
	doc->fresh_until = load_freshness(doc, st.st_mtime);
	moa2_log(doc->logger, MOA2_LOG_DEBUG, "%s: loaded the cached %s from %s",
		 doc->owner, doc->what, doc->cache_path);
}

/* Another process may have refreshed the persisted copy since we read or
   wrote it: one lstat() tells. */
void
moa2_remote_doc_reload_if_changed(struct moa2_remote_doc *doc)
{
	struct stat st;

	if (doc->cache_path == NULL || lstat(doc->cache_path, &st) < 0 ||
	    !S_ISREG(st.st_mode) || file_id_equal(&doc->disk, &st))
		return;
	moa2_remote_doc_load_from_disk(doc);
}

/* ------------------------------------------------ attempts of all processes */

/* PATH.retry: "pending TIME" when an attempt starts, "failed TIME\nERROR"
   when it failed; removed when one succeeded. Updated in place under an
   flock(), so that deciding whether to attempt and recording the attempt
   is one step for all processes. Opened never through a symlink, and
   never when it has other links (a hard link planted to a victim file). */
int
moa2_remote_doc_retry_open(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && make_parent_dir(path) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
		goto fail;
	/* a signal (Postfix's and Dovecot's timers) may interrupt the wait */
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

void
moa2_remote_doc_retry_write(int fd, const char *state, time_t when, const char *error)
{
	char text[64 + REMOTE_DOC_ERROR_MAX];
	int len = snprintf(text, sizeof(text), "%s %lld\n%s\n", state, (long long)when,
			   error != NULL ? error : "");

	if (len >= (int)sizeof(text))
		len = (int)sizeof(text) - 1;
	if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)len, 0) != len)
		(void)ftruncate(fd, 0);
}

void
moa2_remote_doc_record_attempt(const char *retry_path, const char *state, time_t when, const char *error)
{
	int fd;

	if (retry_path == NULL || (fd = moa2_remote_doc_retry_open(retry_path)) < 0)
		return;
	moa2_remote_doc_retry_write(fd, state, when, error);
	close(fd);
}

/* Whether the recorded attempt (text) forbids one now: one within
   retry_interval, failed, or pending (it may have been cut short by its
   process's exit) when the caller has a usable copy to serve. Merges it
   into the process state. */
