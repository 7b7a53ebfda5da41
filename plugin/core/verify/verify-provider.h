/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_PROVIDER_H
#define MOA2_VERIFY_PROVIDER_H

/* One configured provider: its set-up (algorithms, local keys), its
   discovery document and key sets (fetched on first use, with the cache
   policy of remote-doc.h), and the live check of `mail-oauth2 discover`.
   A discovery document or key set past its freshness but within
   jwks_stale_max is used at once and refreshed in the background; every
   verifier of the process (one per thread) shares each document's fetch
   state, so one fetch at a time goes out, and a failed one is not retried
   within jwks_refetch_interval by any thread or process (remote-doc.h).
   Failure behaviour: no usable discovery or key set is a temporary
   failure (-1 and a reason), never a rejection. */

#include "verify/verify-engine.h"

/* Sets up v->providers[idx]. Returns 0, or -1 with a malloc()ed message
   naming the config line. */
int moa2_provider_init(struct moa2_verifier *v, unsigned int idx, char **error_r);
void moa2_provider_deinit(struct moa2_provider *p);

/* Resolves endpoints from discovery when configured; flags as for
   moa2_remote_doc_get() (MOA2_REMOTE_DOC_REFRESH fetches now, subject to
   the retry interval; without it a stale copy is served at once and
   refreshed in the background). 0 or -1 (tempfail). */
int moa2_provider_discover(struct moa2_provider *p, unsigned int flags, const char **error_r);

/* The provider's fetched key set (NULL when it has none: jwks_file or an
   HMAC secret only), fetching as needed. Returns 0, or -1 when no usable
   key set exists (a temporary failure). flags: as for discover, for the
   key set (discovery itself is never forced by an unknown kid). */
int moa2_provider_keys(struct moa2_provider *p, unsigned int flags,
		       const struct moa2_jwks **remote_r, const char **error_r);

/* Fetches discovery and keys now and describes them into buf (appended).
   Returns whether everything could be fetched. */
bool moa2_provider_report(struct moa2_provider *p, char *buf, size_t size);

/* HTTP fetches of the provider's key set so far (tests, benchmarks). */
unsigned int moa2_provider_jwks_fetch_count(const struct moa2_provider *p);

#endif
