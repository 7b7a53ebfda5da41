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

   Failure behaviour: a fetch that fails or yields a document the validator
   refuses never replaces the good copy. No copy at all means "unavailable",
   which callers turn into a temporary failure. */

#include "mail-oauth2/common.h"
#include "mail-oauth2/log.h"
#include <time.h>

struct moa2_http_client;

/* Checks a fetched body before it is accepted: 0 ok, -1 with a reason. */
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

struct moa2_remote_doc;

struct moa2_remote_doc *
moa2_remote_doc_create(const struct moa2_remote_doc_settings *settings,
		       struct moa2_http_client *http,
		       const struct moa2_logger *logger);
void moa2_remote_doc_destroy(struct moa2_remote_doc **doc);

/* The current copy, fetching first when there is none, it is no longer
   fresh, or refresh is asked for — each subject to retry_interval.
   Returns 1 with a copy that changed since the previous call, 0 with the
   same copy, -1 when no usable copy exists (error_r says why). */
int moa2_remote_doc_get(struct moa2_remote_doc *doc, time_t now, bool refresh,
			const char **body_r, size_t *len_r, const char **error_r);

/* Number of HTTP fetches made so far (for tests and the CLI). */
unsigned int moa2_remote_doc_fetch_count(const struct moa2_remote_doc *doc);
/* Whether the last fetch attempt failed (the copy, if any, is stale). */
bool moa2_remote_doc_last_fetch_failed(const struct moa2_remote_doc *doc);

/* max-age of a Cache-Control value, clamped; no-store/no-cache/absent:
   min. Exposed for tests. */
unsigned int moa2_cache_control_ttl(const char *cache_control,
				    unsigned int min, unsigned int max);

#endif
