/* SPDX-License-Identifier: MIT */
/* Opaque-token result cache: a chained hash table over a ring of entries.
   The ring gives FIFO eviction with no per-lookup bookkeeping. */
#include "config.h"
#include "verify/result-cache.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#define NO_ENTRY UINT32_MAX

struct entry {
	unsigned char key[MOA2_RESULT_CACHE_KEY_LEN];
	uint32_t next;           /* next entry in the bucket chain */
	bool used;
	time_t valid_until;
	struct moa2_cached_result result;
	char *strings;           /* identity and detail, one allocation */
};

struct moa2_result_cache {
	struct entry *entries;
	uint32_t *buckets;
	uint32_t max_entries, bucket_mask, next_slot, count;
};

struct moa2_result_cache *
moa2_result_cache_create(unsigned int max_entries)
{
	struct moa2_result_cache *cache = calloc(1, sizeof(*cache));
	uint32_t buckets = 16;

	if (cache == NULL)
		abort();
	cache->max_entries = max_entries;
	if (max_entries == 0)
		return cache;
	while (buckets < max_entries && buckets < (1U << 30))
		buckets <<= 1;
	cache->entries = calloc(max_entries, sizeof(*cache->entries));
	cache->buckets = malloc(buckets * sizeof(*cache->buckets));
	if (cache->entries == NULL || cache->buckets == NULL)
		abort();
	memset(cache->buckets, 0xff, buckets * sizeof(*cache->buckets));
	cache->bucket_mask = buckets - 1;
	return cache;
}

void
moa2_result_cache_destroy(struct moa2_result_cache **_cache)
{
	struct moa2_result_cache *cache = *_cache;

	if (cache == NULL)
		return;
	for (uint32_t i = 0; i < cache->max_entries; i++)
		free(cache->entries[i].strings);
	free(cache->entries);
	free(cache->buckets);
	free(cache);
	*_cache = NULL;
}

void
moa2_result_cache_key(const void *token, size_t len,
		      unsigned char key_r[MOA2_RESULT_CACHE_KEY_LEN])
{
	unsigned int out_len;

	if (EVP_Digest(token, len, key_r, &out_len, EVP_sha256(), NULL) != 1)
		abort();
}

static uint32_t *
bucket_of(struct moa2_result_cache *cache, const unsigned char *key)
{
	uint32_t h;

	/* the key is a SHA-256: its first bytes are already uniform */
	memcpy(&h, key, sizeof(h));
	return &cache->buckets[h & cache->bucket_mask];
}

static struct entry *
find(struct moa2_result_cache *cache, const unsigned char *key)
{
	for (uint32_t i = *bucket_of(cache, key); i != NO_ENTRY;
	     i = cache->entries[i].next) {
		if (memcmp(cache->entries[i].key, key, MOA2_RESULT_CACHE_KEY_LEN) == 0)
			return &cache->entries[i];
	}
	return NULL;
}

static void
unlink_entry(struct moa2_result_cache *cache, struct entry *entry)
{
	uint32_t idx = (uint32_t)(entry - cache->entries);
	uint32_t *link = bucket_of(cache, entry->key);

	while (*link != idx)
		link = &cache->entries[*link].next;
	*link = entry->next;
	free(entry->strings);
	memset(entry, 0, sizeof(*entry));
	cache->count--;
}

int
moa2_result_cache_lookup(struct moa2_result_cache *cache,
			 const unsigned char key[MOA2_RESULT_CACHE_KEY_LEN],
			 time_t now, struct moa2_cached_result *result_r)
{
	struct entry *entry;

	if (cache->max_entries == 0 || (entry = find(cache, key)) == NULL)
		return 0;
	if (now >= entry->valid_until) {
		unlink_entry(cache, entry);
		return 0;
	}
	*result_r = entry->result;
	return 1;
}

static char *
copy_strings(struct moa2_cached_result *result)
{
	size_t ilen = result->identity == NULL ? 0 : strlen(result->identity) + 1;
	size_t dlen = result->detail == NULL ? 0 : strlen(result->detail) + 1;
	char *buf = malloc(ilen + dlen + 1);

	if (buf == NULL)
		abort();
	if (ilen > 0) {
		memcpy(buf, result->identity, ilen);
		result->identity = buf;
	}
	if (dlen > 0) {
		memcpy(buf + ilen, result->detail, dlen);
		result->detail = buf + ilen;
	}
	return buf;
}

void
moa2_result_cache_store(struct moa2_result_cache *cache,
			const unsigned char key[MOA2_RESULT_CACHE_KEY_LEN],
			const struct moa2_cached_result *result,
			time_t valid_until)
{
	struct entry *entry;
	uint32_t *bucket;

	if (cache->max_entries == 0)
		return;
	if ((entry = find(cache, key)) != NULL)
		unlink_entry(cache, entry);
	entry = &cache->entries[cache->next_slot];
	if (entry->used)
		unlink_entry(cache, entry);
	cache->next_slot = (cache->next_slot + 1) % cache->max_entries;

	memcpy(entry->key, key, MOA2_RESULT_CACHE_KEY_LEN);
	entry->used = true;
	entry->valid_until = valid_until;
	entry->result = *result;
	entry->strings = copy_strings(&entry->result);
	bucket = bucket_of(cache, key);
	entry->next = *bucket;
	*bucket = (uint32_t)(entry - cache->entries);
	cache->count++;
}

unsigned int
moa2_result_cache_count(const struct moa2_result_cache *cache)
{
	return cache->count;
}
