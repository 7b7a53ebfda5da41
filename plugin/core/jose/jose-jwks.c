/* SPDX-License-Identifier: MIT */
/* Key sets (jose-jwk.h): the keys of a set and the selection of the keys
   for a token, JWKS documents ({"keys": [...]}) and local key files (a
   JWKS or PEM).

   Failure behaviour: a JWKS document skips the keys it cannot use (each
   reported to the caller with its reason) but fails when it is not JSON or
   not a JWKS; it never yields an HMAC (kty "oct") key. A set holds at most
   MOA2_JWKS_MAX_KEYS keys. A local key file without a single usable key
   fails (the message names the file); a selection without a candidate
   says whether no key has the kid or none fits the algorithm. */
#include "config.h"
#include "jose/jose-jwk-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

struct moa2_jwks {
	struct moa2_jwk **keys;
	size_t count;
	size_t alloc;
};

/* ------------------------------------------------------------ key sets */

struct moa2_jwks *
moa2_jwks_new(void)
{
	return calloc(1, sizeof(struct moa2_jwks));
}

void
moa2_jwks_free(struct moa2_jwks **_jwks)
{
	struct moa2_jwks *jwks = *_jwks;

	if (jwks == NULL)
		return;
	*_jwks = NULL;
	for (size_t i = 0; i < jwks->count; i++)
		moa2_jwk_unref(&jwks->keys[i]);
	free(jwks->keys);
	free(jwks);
}

int
moa2_jwks_add(struct moa2_jwks *jwks, struct moa2_jwk *jwk)
{
	if (jwks->count >= MOA2_JWKS_MAX_KEYS)
		return -1;
	if (jwks->count == jwks->alloc) {
		size_t alloc = jwks->alloc == 0 ? 4 : jwks->alloc * 2;
		struct moa2_jwk **keys =
			realloc(jwks->keys, alloc * sizeof(*keys));

		if (keys == NULL)
			return -1;
		jwks->keys = keys;
		jwks->alloc = alloc;
	}
	jwks->keys[jwks->count++] = moa2_jwk_ref(jwk);
	return 0;
}

size_t
moa2_jwks_count(const struct moa2_jwks *jwks)
{
	return jwks->count;
}

struct moa2_jwk *
moa2_jwks_get(const struct moa2_jwks *jwks, size_t idx)
{
	return idx < jwks->count ? jwks->keys[idx] : NULL;
}

struct moa2_jwk *
moa2_jwks_find_kid(const struct moa2_jwks *jwks, const char *kid)
{
	for (size_t i = 0; i < jwks->count; i++) {
		if (jwks->keys[i]->kid != NULL &&
		    strcmp(jwks->keys[i]->kid, kid) == 0)
			return jwks->keys[i];
	}
	return NULL;
}

enum moa2_verify_reason
moa2_jwks_select(const struct moa2_jwks *jwks, const char *kid,
		 enum moa2_jose_alg alg, const struct moa2_jwk **keys_r,
		 size_t max_keys, size_t *count_r)
{
	size_t candidates = 0, count = 0;
	bool any_kid = kid == NULL;

	/* a kid selects the keys carrying it; keys without a kid (PEM files)
	   are candidates for any kid, but only when no key carries it */
	if (kid != NULL && moa2_jwks_find_kid(jwks, kid) == NULL)
		any_kid = true;
	for (size_t i = 0; i < jwks->count && count < max_keys; i++) {
		const struct moa2_jwk *jwk = jwks->keys[i];

		if (!any_kid && (jwk->kid == NULL || strcmp(jwk->kid, kid) != 0))
			continue;
		if (any_kid && kid != NULL && jwk->kid != NULL)
			continue;
		candidates++;
		if (moa2_jwk_fits_alg(jwk, alg))
			keys_r[count++] = jwk;
	}
	*count_r = count;
	if (count > 0)
		return MOA2_VERIFY_OK;
	return candidates == 0 ? MOA2_VERIFY_UNKNOWN_KEY :
		MOA2_VERIFY_KEY_TYPE_MISMATCH;
}

/* ------------------------------------------------------------ JWKS */

static void
jwks_skip(size_t *skipped, moa2_jwks_skip_callback_t *skip_cb,
	  void *context, size_t idx, const struct moa2_json *key_json,
	  const char *reason)
{
	const char *kid = NULL;

	(*skipped)++;
	if (skip_cb == NULL)
		return;
	if (moa2_json_is_object(key_json) &&
	    moa2_json_get_string(key_json, "kid", &kid) <= 0)
		kid = NULL;
	skip_cb(context, idx, kid, reason);
}

int
moa2_jwks_parse_json(const struct moa2_json *doc, struct moa2_jwks **jwks_r,
		     size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		     void *context, const char **error_r)
{
	const struct moa2_json *keys;
	struct moa2_jwks *jwks;
	size_t count, skipped = 0;

	*jwks_r = NULL;
	if (!moa2_json_is_object(doc) || moa2_json_get(doc, "keys", &keys) == 0 ||
	    !moa2_json_is_array(keys)) {
		*error_r = "not a JWKS: no \"keys\" array";
		return -1;
	}
	if ((jwks = moa2_jwks_new()) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	count = moa2_json_array_len(keys);
	for (size_t i = 0; i < count; i++) {
		const struct moa2_json *key_json = moa2_json_array_get(keys, i);
		struct moa2_jwk *jwk;
		const char *reason;

		if (jwks->count >= MOA2_JWKS_MAX_KEYS) {
			jwks_skip(&skipped, skip_cb, context, i, key_json,
				  "too many keys in the JWKS");
			continue;
		}
		/* flags 0: a fetched document never yields an HMAC key */
		if (moa2_jwk_from_json(key_json, 0, &jwk, &reason) < 0) {
			jwks_skip(&skipped, skip_cb, context, i, key_json, reason);
			continue;
		}
		if (moa2_jwks_add(jwks, jwk) < 0) {
			moa2_jwk_unref(&jwk);
			moa2_jwks_free(&jwks);
			*error_r = "out of memory";
			return -1;
		}
		moa2_jwk_unref(&jwk);
	}
	if (skipped_r != NULL)
		*skipped_r = skipped;
	*jwks_r = jwks;
	return 0;
}

int
moa2_jwks_parse(const char *data, size_t len, struct moa2_jwks **jwks_r,
		size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		void *context, const char **error_r)
{
	struct moa2_json *doc;
	int ret;

	*jwks_r = NULL;
	if (moa2_json_parse(data, len, &doc, error_r) < 0)
		return -1;
	ret = moa2_jwks_parse_json(doc, jwks_r, skipped_r, skip_cb, context,
				   error_r);
	moa2_json_free(&doc);
	return ret;
}

/* ------------------------------------------------------------ files */

static int
read_small_file(const char *path, char **data_r, size_t *len_r,
		const char **what_r)
{
	struct stat st;
	char *data;
	size_t done = 0;
	int read_ret, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*what_r = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > MOA2_JWKS_FILE_MAX_SIZE) {
		*what_r = "not a regular file of at most 1 MiB";
		close(fd);
		return -1;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		*what_r = "out of memory";
		close(fd);
		return -1;
	}
	read_ret = moa2_read_all(fd, data, (size_t)st.st_size, &done);
	close(fd);
	if (read_ret < 0 || done != (size_t)st.st_size) {
		*what_r = "short read";
		free(data);
		return -1;
	}
	data[done] = '\0';
	*data_r = data;
	*len_r = done;
	return 0;
}

/* Forwards skip reports and keeps the first reason for an error message. */
struct load_skip_context {
	moa2_jwks_skip_callback_t *skip_cb;
	void *context;
	const char *first_reason;
};

static void
load_file_skip(void *context, size_t index, const char *kid, const char *reason)
{
	struct load_skip_context *ctx = context;

	if (ctx->first_reason == NULL)
		ctx->first_reason = reason;
	if (ctx->skip_cb != NULL)
		ctx->skip_cb(ctx->context, index, kid, reason);
}

int
moa2_jwks_load_file(const char *path, struct moa2_jwks **jwks_r,
		    size_t *skipped_r, moa2_jwks_skip_callback_t *skip_cb,
		    void *context, char *error_buf, size_t error_size,
		    const char **error_r)
{
	struct load_skip_context skip_ctx = { skip_cb, context, NULL };
	const char *what, *p;
	char *data;
	size_t len;
	int ret;

	*jwks_r = NULL;
	if (skipped_r != NULL)
		*skipped_r = 0;
	if (read_small_file(path, &data, &len, &what) < 0) {
		snprintf(error_buf, error_size, "%s: %s", path, what);
		*error_r = error_buf;
		return -1;
	}
	p = data + strspn(data, " \t\r\n");
	if (*p == '{') {
		ret = moa2_jwks_parse(data, len, jwks_r, skipped_r,
				      load_file_skip, &skip_ctx, &what);
		/* a local file is the administrator's choice: one without a
		   single usable key is a configuration error */
		if (ret == 0 && moa2_jwks_count(*jwks_r) == 0) {
			moa2_jwks_free(jwks_r);
			snprintf(error_buf, error_size,
				 "%s: no usable key in the JWKS%s%s", path,
				 skip_ctx.first_reason != NULL ? "; first key skipped: " : "",
				 skip_ctx.first_reason != NULL ? skip_ctx.first_reason : "");
			*error_r = error_buf;
			free(data);
			return -1;
		}
	} else {
		ret = moa2_jwks_parse_pem(data, len, jwks_r, &what);
	}
	free(data);
	if (ret < 0) {
		snprintf(error_buf, error_size, "%s: %s", path, what);
		*error_r = error_buf;
	}
	return ret;
}
