/* SPDX-License-Identifier: MIT */
/* A growing text buffer that wipes what it held (see token-buf.h).
   Failure behaviour: out of memory aborts. */

#include "config.h"
#include "support/buf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define BUF_MIN_SIZE 256

void
moa2_buf_init(struct moa2_buf *buf)
{
	buf->size = BUF_MIN_SIZE;
	buf->len = 0;
	buf->data = malloc(buf->size);
	if (buf->data == NULL)
		abort();
	buf->data[0] = '\0';
}

void
moa2_buf_free(struct moa2_buf *buf)
{
	moa2_secret_free(buf->data, buf->size);
	buf->data = NULL;
	buf->len = buf->size = 0;
}

char *
moa2_buf_steal(struct moa2_buf *buf, size_t *len_r)
{
	char *data = buf->data;

	if (len_r != NULL)
		*len_r = buf->len;
	buf->data = NULL;
	buf->len = buf->size = 0;
	return data;
}

/* Grows to hold extra more bytes and the NUL; the old block is wiped. */
static void
buf_reserve(struct moa2_buf *buf, size_t extra)
{
	size_t need, size;
	char *data;

	if (extra > SIZE_MAX / 2 - buf->len)
		abort();
	need = buf->len + extra + 1;
	if (need <= buf->size)
		return;
	for (size = buf->size; size < need; size *= 2)
		;
	data = malloc(size);
	if (data == NULL)
		abort();
	memcpy(data, buf->data, buf->len + 1);
	moa2_secret_free(buf->data, buf->size);
	buf->data = data;
	buf->size = size;
}

void
moa2_buf_append(struct moa2_buf *buf, const void *data, size_t len)
{
	buf_reserve(buf, len);
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
moa2_buf_append_str(struct moa2_buf *buf, const char *str)
{
	moa2_buf_append(buf, str, strlen(str));
}

void
moa2_buf_printf(struct moa2_buf *buf, const char *fmt, ...)
{
	char small[256];
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(small, sizeof(small), fmt, args);
	va_end(args);
	if (len < 0)
		abort();
	if ((size_t)len < sizeof(small)) {
		moa2_buf_append(buf, small, (size_t)len);
		OPENSSL_cleanse(small, sizeof(small));
		return;
	}
	buf_reserve(buf, (size_t)len);
	va_start(args, fmt);
	vsnprintf(buf->data + buf->len, (size_t)len + 1, fmt, args);
	va_end(args);
	buf->len += (size_t)len;
}

void
moa2_buf_json_string(struct moa2_buf *buf, const char *str)
{
	static const char hex[] = "0123456789abcdef";

	moa2_buf_append(buf, "\"", 1);
	for (const unsigned char *s = (const unsigned char *)str; *s != '\0'; s++) {
		char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

		if (*s == '"' || *s == '\\') {
			esc[1] = (char)*s;
			moa2_buf_append(buf, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			esc[4] = hex[*s >> 4];
			esc[5] = hex[*s & 0xf];
			moa2_buf_append(buf, esc, 6);
		} else {
			moa2_buf_append(buf, s, 1);
		}
	}
	moa2_buf_append(buf, "\"", 1);
}

static void
json_member_key(struct moa2_buf *buf, bool *first, const char *key)
{
	if (!*first)
		moa2_buf_append(buf, ",", 1);
	*first = false;
	moa2_buf_json_string(buf, key);
	moa2_buf_append(buf, ":", 1);
}

void
moa2_buf_json_member_str(struct moa2_buf *buf, bool *first, const char *key,
			 const char *value)
{
	if (value == NULL)
		return;
	json_member_key(buf, first, key);
	moa2_buf_json_string(buf, value);
}

void
moa2_buf_json_member_int(struct moa2_buf *buf, bool *first, const char *key,
			 int64_t value)
{
	json_member_key(buf, first, key);
	moa2_buf_printf(buf, "%" PRId64, value);
}
