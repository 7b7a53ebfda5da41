/* SPDX-License-Identifier: MIT */
/* Fetched provider documents with freshness, rate limit, stale-if-error
   and on-disk persistence. */
#include "config.h"
#include "support/remote-doc.h"
#include "support/http-client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMOTE_DOC_MAX_FILE (4 * 1024 * 1024)

struct moa2_remote_doc {
	struct moa2_remote_doc_settings set;
	char *url, *cache_path, *what, *owner, *stale_max_name;
	struct moa2_http_client *http;
	const struct moa2_logger *logger;

	char *body;
	size_t len;
	time_t fetched_at, fresh_until, last_attempt;
	bool attempted, last_failed, loaded_from_disk, changed;
	unsigned int fetch_count;
	char error[256];
};

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
	doc->http = http;
	doc->logger = logger;
	return doc;
}

void
moa2_remote_doc_destroy(struct moa2_remote_doc **_doc)
{
	struct moa2_remote_doc *doc = *_doc;

	if (doc == NULL)
		return;
	free(doc->body);
	free(doc->url);
	free(doc->cache_path);
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

/* A temp file name no other writer uses: verifiers in threads of one
   process (Dovecot's blocking=threads) may persist the same document at
   the same time. */
static void
tmp_path(char *buf, size_t size, const char *path)
{
	static atomic_uint seq;

	snprintf(buf, size, "%s.tmp.%ld.%u", path, (long)getpid(),
		 atomic_fetch_add(&seq, 1));
}

/* The freshness the provider granted (Cache-Control) is kept beside the
   copy, in PATH.fresh, as seconds after the copy's mtime, so that a new
   process honours it too. Best effort: without it the copy counts as fresh
   for cache_min after its mtime. */
static void
persist_freshness(struct moa2_remote_doc *doc)
{
	char path[4096], tmp[4200], text[32];
	int fd, len;

	if (snprintf(path, sizeof(path), "%s.fresh", doc->cache_path) >= (int)sizeof(path))
		return;
	tmp_path(tmp, sizeof(tmp), path);
	len = snprintf(text, sizeof(text), "%lld\n",
		       (long long)(doc->fresh_until - doc->fetched_at));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, text, (size_t)len) != len || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

/* The persisted freshness after the copy's mtime, bounded by cache_min and
   cache_max (a forged .fresh file cannot extend it more). */
static time_t
load_freshness(const struct moa2_remote_doc *doc, time_t mtime)
{
	char path[4096], text[32];
	long long value;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s.fresh", doc->cache_path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mtime + doc->set.cache_min;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n < 0 ? 0 : n] = '\0';
	if (sscanf(text, "%lld", &value) != 1 || value < (long long)doc->set.cache_min)
		return mtime + doc->set.cache_min;
	return mtime + (value > (long long)doc->set.cache_max ?
			(time_t)doc->set.cache_max : (time_t)value);
}

/* Writes the copy to a temp file, fsyncs, renames over the cache file and
   fsyncs the directory, so a reader never sees half a document. */
static int
persist(struct moa2_remote_doc *doc, const char **error_r)
{
	char tmp[4096], dir[4096];
	char *slash;
	int fd, ret = 0;

	/* room for ".tmp.PID.SEQ" */
	if (strlen(doc->cache_path) + 40 >= sizeof(tmp)) {
		*error_r = "path too long";
		return -1;
	}
	tmp_path(tmp, sizeof(tmp), doc->cache_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && make_parent_dir(doc->cache_path) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (write(fd, doc->body, doc->len) != (ssize_t)doc->len || fsync(fd) < 0) {
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

/* Loads the persisted copy once; it counts as fetched at its mtime. */
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
	if ((fd = open(doc->cache_path, O_RDONLY | O_CLOEXEC)) < 0) {
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

static int
fetch(struct moa2_remote_doc *doc, time_t now)
{
	struct moa2_http_response resp;
	const char *error = NULL;
	int ret = -1;

	doc->attempted = true;
	doc->last_attempt = now;
	doc->fetch_count++;
	if (moa2_http_get(doc->http, doc->url, NULL, &resp, &error) < 0) {
		/* error already says what failed */
	} else if (resp.status != 200) {
		snprintf(doc->error, sizeof(doc->error), "HTTP status %ld", resp.status);
		error = doc->error;
	} else if (doc->set.validate != NULL &&
		   doc->set.validate(doc->set.validate_context, resp.body,
				     resp.body_len, &error) < 0) {
		/* error set by the validator */
	} else {
		replace_body(doc, resp.body, resp.body_len);
		doc->fetched_at = now;
		doc->fresh_until = now + moa2_cache_control_ttl(resp.cache_control,
			doc->set.cache_min, doc->set.cache_max);
		ret = 0;
	}
	if (ret < 0 && error != doc->error)
		snprintf(doc->error, sizeof(doc->error), "%s", error);
	moa2_http_response_clear(&resp);
	doc->last_failed = ret < 0;
	if (ret < 0) {
		moa2_log(doc->logger, MOA2_LOG_ERROR, "%s: fetching the %s from %s failed: %s",
			 doc->owner, doc->what, doc->url, doc->error);
	} else if (doc->cache_path != NULL && persist(doc, &error) < 0) {
		moa2_log(doc->logger, MOA2_LOG_WARNING,
			 "%s: cannot save the %s to %s: %s (a restart during a provider outage will not have it)",
			 doc->owner, doc->what, doc->cache_path, error);
	}
	return ret;
}

int
moa2_remote_doc_get(struct moa2_remote_doc *doc, time_t now, bool refresh,
		    const char **body_r, size_t *len_r, const char **error_r)
{
	bool want = refresh || doc->body == NULL || now >= doc->fresh_until;
	bool may = !doc->attempted || now - doc->last_attempt >= (time_t)doc->set.retry_interval;

	if (!doc->loaded_from_disk) {
		load_from_disk(doc);
		want = refresh || doc->body == NULL || now >= doc->fresh_until;
	}
	if (want && may)
		(void)fetch(doc, now);
	if (doc->body == NULL) {
		*error_r = doc->attempted ? doc->error : "not fetched yet";
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
moa2_remote_doc_last_fetch_failed(const struct moa2_remote_doc *doc)
{
	return doc->last_failed;
}
