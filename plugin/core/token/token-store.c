/* SPDX-License-Identifier: MIT */
/* The per-account token store (see token-store.h). Failure behaviour:
   writes are atomic and durable or fail with the old store intact; a
   corrupt store is copied to FILE.corrupt before anything may replace it;
   locks time out instead of hanging a mail delivery. */

#include "config.h"
#include "mail-oauth2/token-store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define LOCK_SUFFIX ".lock"
#define TMP_SUFFIX ".tmp"
#define CORRUPT_SUFFIX ".corrupt"
#define LOCK_POLL_MS 10

struct moa2_token_store {
	char *path;       /* as given, for messages */
	char *name;       /* base name inside dir_fd */
	char *lock_name;
	char *tmp_name;
	char *corrupt_name;
	int dir_fd;
	int lock_fd;      /* -1 when not locked */
	bool dir_locked;  /* the lock is on dir_fd */
};

/* ----------------------------------------------------------------- files */

int
moa2_token_store_open(const char *path, struct moa2_token_store **store_r,
		      char **error_r)
{
	struct moa2_token_store *store;
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	*store_r = NULL;
	if (path[0] != '/' || slash == NULL || slash[1] == '\0' ||
	    strlen(path) > PATH_MAX - 16) {
		*error_r = moa2_strdup_printf("token store '%s': not an absolute file path", path);
		errno = EINVAL;
		return -1;
	}
	dir = slash == path ? moa2_strdup("/") : strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		abort();
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		*error_r = moa2_strdup_printf("token store %s: cannot open its directory %s: %s",
					      path, dir, strerror(err));
		free(dir);
		errno = err;
		return -1;
	}
	free(dir);
	store = calloc(1, sizeof(*store));
	if (store == NULL)
		abort();
	store->path = moa2_strdup(path);
	store->name = moa2_strdup(slash + 1);
	store->lock_name = moa2_strdup_printf("%s" LOCK_SUFFIX, store->name);
	store->tmp_name = moa2_strdup_printf("%s" TMP_SUFFIX, store->name);
	store->corrupt_name = moa2_strdup_printf("%s" CORRUPT_SUFFIX, store->name);
	store->dir_fd = fd;
	store->lock_fd = -1;
	*store_r = store;
	return 0;
}

void
moa2_token_store_close(struct moa2_token_store **_store)
{
	struct moa2_token_store *store = *_store;

	if (store == NULL)
		return;
	*_store = NULL;
	moa2_token_store_unlock(store);
	close(store->dir_fd);
	free(store->path);
	free(store->name);
	free(store->lock_name);
	free(store->tmp_name);
	free(store->corrupt_name);
	free(store);
}

const char *
moa2_token_store_path(const struct moa2_token_store *store)
{
	return store->path;
}

static int
write_fd(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Keeps the corrupt store as FILE.corrupt (a hard link, so the bytes are
   kept exactly; a copy where links are not possible). */
static int
keep_corrupt(struct moa2_token_store *store, const char *data, size_t len)
{
	int fd;

	(void)unlinkat(store->dir_fd, store->corrupt_name, 0);
	if (linkat(store->dir_fd, store->name, store->dir_fd, store->corrupt_name, 0) == 0)
		return 0;
	fd = openat(store->dir_fd, store->corrupt_name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_fd(fd, data, len) < 0 || fsync(fd) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static bool
corrupt_copy_matches(struct moa2_token_store *store, const char *data, size_t len)
{
	char *copy = malloc(MOA2_TOKEN_STORE_MAX_SIZE + 1);
	size_t copy_len = 0;
	bool same = false;
	int fd;

	if (copy == NULL)
		abort();
	fd = openat(store->dir_fd, store->corrupt_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		same = moa2_read_all(fd, copy, MOA2_TOKEN_STORE_MAX_SIZE + 1, &copy_len) == 0 &&
			copy_len == len && memcmp(copy, data, len) == 0;
		close(fd);
	}
	moa2_secret_free(copy, MOA2_TOKEN_STORE_MAX_SIZE + 1);
	return same;
}

static enum moa2_store_read
store_corrupt(struct moa2_token_store *store, const char *reason,
	      const char *data, size_t len, char **error_r)
{
	/* do not replace an identical copy: its time stamp tells when it broke */
	if (!corrupt_copy_matches(store, data, len) &&
	    keep_corrupt(store, data, len) < 0) {
		*error_r = moa2_strdup_printf("token store %s is corrupt (%s), and keeping a "
					      "copy as %s" CORRUPT_SUFFIX " failed: %s",
					      store->path, reason, store->path, strerror(errno));
		return MOA2_STORE_READ_CORRUPT;
	}
	*error_r = moa2_strdup_printf("token store %s is corrupt (%s); a copy is kept as "
				      "%s" CORRUPT_SUFFIX, store->path, reason, store->path);
	return MOA2_STORE_READ_CORRUPT;
}

enum moa2_store_read
moa2_token_store_read(struct moa2_token_store *store,
		      struct moa2_token_state *state_r, char **error_r)
{
	enum moa2_store_read ret = MOA2_STORE_READ_OK;
	const char *reason;
	struct stat st;
	size_t len;
	char *data;
	int fd;

	memset(state_r, 0, sizeof(*state_r));
	fd = openat(store->dir_fd, store->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return MOA2_STORE_READ_MISSING;
	if (fd < 0) {
		*error_r = moa2_strdup_printf("token store %s: cannot open: %s", store->path,
					      strerror(errno));
		return MOA2_STORE_READ_ERROR;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = moa2_strdup_printf("token store %s: not a regular file", store->path);
		close(fd);
		return MOA2_STORE_READ_ERROR;
	}
	data = malloc(MOA2_TOKEN_STORE_MAX_SIZE + 1);
	if (data == NULL)
		abort();
	if (moa2_read_all(fd, data, MOA2_TOKEN_STORE_MAX_SIZE + 1, &len) < 0) {
		*error_r = moa2_strdup_printf("token store %s: cannot read: %s", store->path,
					      strerror(errno));
		ret = MOA2_STORE_READ_ERROR;
	} else if (len > MOA2_TOKEN_STORE_MAX_SIZE) {
		ret = store_corrupt(store, "larger than 64 KiB", data,
				    MOA2_TOKEN_STORE_MAX_SIZE, error_r);
	} else if (moa2_token_state_from_json(data, len, state_r, &reason) < 0) {
		ret = store_corrupt(store, reason, data, len, error_r);
	}
	close(fd);
	moa2_secret_free(data, MOA2_TOKEN_STORE_MAX_SIZE + 1);
	return ret;
}

/* Mode and owner for the new file: the old store's, else 0600 owned by
   the directory's owner when we are root (the CLI run by root must leave
   a store the postfix user can update). */
static void
new_file_attrs(struct moa2_token_store *store, mode_t *mode_r, uid_t *uid_r,
	       gid_t *gid_r, bool *chown_r)
{
	struct stat st;

	*chown_r = false;
	*mode_r = 0600;
	if (fstatat(store->dir_fd, store->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		*mode_r = st.st_mode & 07777;
		*uid_r = st.st_uid;
		*gid_r = st.st_gid;
		*chown_r = st.st_uid != geteuid() || st.st_gid != getegid();
	} else if (geteuid() == 0 && fstat(store->dir_fd, &st) == 0 && st.st_uid != 0) {
		*uid_r = st.st_uid;
		*gid_r = st.st_gid;
		*chown_r = true;
	}
}

static int
write_tmp(struct moa2_token_store *store, const char *data, size_t len,
	  const char **step_r)
{
	mode_t mode;
	uid_t uid = 0;
	gid_t gid = 0;
	bool do_chown;
	int fd;

	new_file_attrs(store, &mode, &uid, &gid, &do_chown);
	*step_r = "create " TMP_SUFFIX " file";
	fd = openat(store->dir_fd, store->tmp_name,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	*step_r = "set mode/owner";
	if ((do_chown && fchown(fd, uid, gid) < 0) || fchmod(fd, mode) < 0)
		goto fail;
	*step_r = "write";
	if (write_fd(fd, data, len) < 0)
		goto fail;
	*step_r = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	*step_r = "close";
	return close(fd);
fail:
	close(fd);
	return -1;
}

int
moa2_token_store_write(struct moa2_token_store *store,
		       const struct moa2_token_state *state, char **error_r)
{
	const char *step;
	size_t len;
	char *data = moa2_token_state_to_json(state, &len);
	int err;

	if (write_tmp(store, data, len, &step) == 0) {
		step = "rename over the store";
		if (renameat(store->dir_fd, store->tmp_name, store->dir_fd, store->name) == 0) {
			step = "fsync the directory";
			if (fsync(store->dir_fd) == 0) {
				moa2_secret_free(data, len + 1);
				return 0;
			}
		}
	}
	err = errno;
	(void)unlinkat(store->dir_fd, store->tmp_name, 0);
	moa2_secret_free(data, len + 1);
	*error_r = moa2_strdup_printf("token store %s: cannot %s: %s", store->path, step,
				      strerror(err));
	return -1;
}

int
moa2_token_store_check_writable(struct moa2_token_store *store, char **error_r)
{
	uid_t uid = geteuid();
	struct stat st;
	int err;

	if (faccessat(store->dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		err = errno;
		*error_r = moa2_strdup_printf("the directory of the token store %s is not "
					      "writable by uid %u: %s", store->path,
					      (unsigned int)uid, strerror(err));
		errno = err;
		return -1;
	}
	/* write_tmp() gives a new store the old one's owner: only root can */
	if (uid != 0 && fstatat(store->dir_fd, store->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_uid != uid) {
		*error_r = moa2_strdup_printf("the token store %s is owned by uid %u: uid %u "
					      "cannot replace it (only its owner or root)",
					      store->path, (unsigned int)st.st_uid,
					      (unsigned int)uid);
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ lock */

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
lock_file_open(struct moa2_token_store *store)
{
	int fd = openat(store->dir_fd, store->lock_name,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	mode_t mode;
	uid_t uid = 0;
	gid_t gid = 0;
	bool do_chown;
	struct stat st;

	if (fd >= 0) {
		/* the first creator (maybe root running the CLI) must leave a
		   lock file the mail system's user can open as well */
		if (fstat(fd, &st) == 0 && st.st_size == 0 && geteuid() == 0) {
			new_file_attrs(store, &mode, &uid, &gid, &do_chown);
			/* a failure is harmless: the other user opens the
			   lock file read-only, which flock() accepts */
			if (do_chown && st.st_uid != uid && fchown(fd, uid, gid) < 0)
				errno = 0;
		}
		return fd;
	}
	/* read-only: an existing lock file can still be flock()ed */
	return openat(store->dir_fd, store->lock_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

enum moa2_store_lock
moa2_token_store_lock(struct moa2_token_store *store, unsigned int timeout_ms,
		      char **error_r)
{
	enum moa2_store_lock ret = MOA2_STORE_LOCKED;
	unsigned int waited = 0;
	int fd;

	if (store->lock_fd >= 0) {
		*error_r = moa2_strdup_printf("token store %s: already locked", store->path);
		return MOA2_STORE_LOCK_FAILED;
	}
	fd = lock_file_open(store);
	if (fd < 0) {
		/* a description of our own: flock belongs to it */
		fd = openat(store->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			*error_r = moa2_strdup_printf("token store %s: no lock: %s", store->path,
						      strerror(errno));
			return MOA2_STORE_LOCK_FAILED;
		}
		ret = MOA2_STORE_LOCKED_DIR;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			*error_r = moa2_strdup_printf("token store %s: cannot lock %s" LOCK_SUFFIX
						      ": %s", store->path, store->path,
						      strerror(errno));
			close(fd);
			return MOA2_STORE_LOCK_FAILED;
		}
		if (waited >= timeout_ms) {
			*error_r = moa2_strdup_printf("token store %s: still locked by another "
						      "process after %u ms", store->path, timeout_ms);
			close(fd);
			return MOA2_STORE_LOCK_FAILED;
		}
		sleep_ms(LOCK_POLL_MS);
		waited += LOCK_POLL_MS;
	}
	store->lock_fd = fd;
	store->dir_locked = ret == MOA2_STORE_LOCKED_DIR;
	return ret;
}

void
moa2_token_store_unlock(struct moa2_token_store *store)
{
	if (store->lock_fd < 0)
		return;
	(void)flock(store->lock_fd, LOCK_UN);
	close(store->lock_fd);
	store->lock_fd = -1;
	store->dir_locked = false;
}
