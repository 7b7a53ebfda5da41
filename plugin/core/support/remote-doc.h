/* SPDX-License-Identifier: MIT */
#ifndef MOA2_REMOTE_DOC_H
#define MOA2_REMOTE_DOC_H

/* A document fetched from an identity provider (discovery metadata, a
   JWKS) and kept: fresh for the Cache-Control max-age clamped to
   [cache_min, cache_max]; refetched at most once per retry_interval however
   often a refresh is asked for (an unknown-kid flood is not a request
   flood); after failed fetches the last good copy is served for at most
   stale_max; the last good copy is persisted (written atomically) so that a
   restart while the provider is down still has it.

   A slow or dead provider never holds a caller that a copy can serve:
   - a copy that is no longer fresh but within stale_max is returned at
     once, and refreshed by a background thread (its own HTTP client; it
     touches nothing but the document's process-wide state below);
   - every document of the process with the same URL and cache path
     (threads mode: one verifier per thread) shares one state: at most one
     fetch of it is in flight at a time, a caller that needs the result
     (no usable copy, or refresh asked for) waits for the fetch in flight
     instead of starting another, and every document adopts the result;
   - an attempt is recorded in PATH.retry of the cache dir ("pending" when
     it starts, "failed" when it failed; removed when it succeeded; read
     and claimed under an flock(), so two processes never both start one),
     and another process does not retry within retry_interval either: with
     a usable copy it serves the copy, without one it fails at once after
     a recorded failure.

   Failure behaviour: a fetch that fails or yields a document the validator
   refuses never replaces the good copy. No copy at all means "unavailable",
   which callers turn into a temporary failure. Files of the cache dir are
   written through temp files created with O_EXCL|O_NOFOLLOW and renamed,
   and read with O_NOFOLLOW; PATH.retry is opened O_NOFOLLOW and refused
   when it has other links: a symlink or hard link planted there never
   redirects a write. */

#include "mail-oauth2/common.h"
#include "mail-oauth2/log.h"
#include <time.h>

struct moa2_http_client;

/* Checks a fetched body before it is accepted: 0 ok, -1 with a reason.
   Always called in the thread of the document's caller. */
typedef int moa2_remote_doc_validate_t(void *context, const char *body,
				       size_t len, const char **error_r);

struct moa2_remote_doc_settings {
	const char *what;        /* "JWKS", "discovery document" (for logs) */
	const char *owner;       /* "provider NAME", "account NAME" (for logs) */
	const char *url;
	const char *cache_path;  /* NULL: not persisted */
	unsigned int cache_min, cache_max, retry_interval, stale_max; /* seconds */
	const char *stale_max_name; /* the option behind stale_max (messages) */
	moa2_remote_doc_validate_t *validate;
	void *validate_context;
};

/* Flags of moa2_remote_doc_get(). */
enum moa2_remote_doc_flags {
	/* fetch now, in the caller's thread (an unknown kid), subject to
	   retry_interval and the recorded attempts; a fetch in flight is
	   waited for instead */
	MOA2_REMOTE_DOC_REFRESH = 0x01,
	/* with REFRESH: ignore retry_interval and the recorded attempts
	   (`mail-oauth2 discover`, the admin's live check) */
	MOA2_REMOTE_DOC_LIVE = 0x02,
};

struct moa2_remote_doc;

struct moa2_remote_doc *
moa2_remote_doc_create(const struct moa2_remote_doc_settings *settings,
		       struct moa2_http_client *http,
		       const struct moa2_logger *logger);
/* Waits for a background fetch of the document still in flight (bounded
   by the HTTP timeouts: a host may unload the code it runs right after)
   and takes its outcome, so that a process about to end (the CLI) keeps
   it: a new copy persisted, a failure recorded. */
void moa2_remote_doc_destroy(struct moa2_remote_doc **doc);

/* The current copy, fetching when there is none, it is no longer fresh
   (in the background when the copy is still usable), or a refresh is
   asked for (flags) — each subject to retry_interval. Returns 1 with a
   copy that changed since the previous call, 0 with the same copy, -1
   when no usable copy exists (error_r says why). */
int moa2_remote_doc_get(struct moa2_remote_doc *doc, time_t now, unsigned int flags,
			const char **body_r, size_t *len_r, const char **error_r);

/* Number of HTTP fetches this document started (for tests and the CLI). */
unsigned int moa2_remote_doc_fetch_count(const struct moa2_remote_doc *doc);
/* A fetch of this document's URL finished since the last report, in this
   or a background thread, by this or another document of the process:
   true once per fetch, with its outcome and duration (for the host's
   key fetch event). */
bool moa2_remote_doc_fetch_report(const struct moa2_remote_doc *doc, bool *failed_r,
				  unsigned long long *usecs_r);
/* Whether the last fetch attempt failed, or one is recorded as failed or
   still pending (the copy, if any, is stale). */
bool moa2_remote_doc_last_fetch_failed(const struct moa2_remote_doc *doc);

/* max-age of a Cache-Control value, clamped; no-store/no-cache/absent:
   min. Exposed for tests. */
unsigned int moa2_cache_control_ttl(const char *cache_control,
				    unsigned int min, unsigned int max);

#endif
