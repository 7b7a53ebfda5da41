/* SPDX-License-Identifier: MIT */
#ifndef MOA2_RESULT_CACHE_H
#define MOA2_RESULT_CACHE_H

/* A bounded cache of verification results for opaque tokens (those the
   provider has to be asked about), keyed by the SHA-256 of the token, so
   the cache never holds a token. Entries expire at a time the caller sets
   (never past the token's exp; briefly for negative results); when full,
   the oldest entry goes first. Not thread-safe: one per verifier. */

#include "mail-oauth2/common.h"
#include <time.h>

#define MOA2_RESULT_CACHE_KEY_LEN 32

struct moa2_result_cache;

struct moa2_cached_result {
	int reason;              /* enum moa2_verify_reason */
	unsigned int provider;   /* index of the provider that judged */
	time_t expires_at;       /* the token's exp; 0 if unknown */
	const char *identity;    /* NULL for a rejection */
	const char *detail;      /* the rejection's sentence; NULL if none */
};

/* max_entries 0 disables the cache (every lookup misses). */
struct moa2_result_cache *moa2_result_cache_create(unsigned int max_entries);
void moa2_result_cache_destroy(struct moa2_result_cache **cache);

/* The SHA-256 of a token, the cache key. */
void moa2_result_cache_key(const void *token, size_t len,
			   unsigned char key_r[MOA2_RESULT_CACHE_KEY_LEN]);

/* Returns 1 and the entry (its strings valid until the next store), or 0
   when absent or expired at now. */
int moa2_result_cache_lookup(struct moa2_result_cache *cache,
			     const unsigned char key[MOA2_RESULT_CACHE_KEY_LEN],
			     time_t now, struct moa2_cached_result *result_r);
/* Stores result (strings copied) until valid_until, replacing an entry of
   the same key. */
void moa2_result_cache_store(struct moa2_result_cache *cache,
			     const unsigned char key[MOA2_RESULT_CACHE_KEY_LEN],
			     const struct moa2_cached_result *result,
			     time_t valid_until);
unsigned int moa2_result_cache_count(const struct moa2_result_cache *cache);

#endif
