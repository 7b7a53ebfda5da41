/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_BUF_H
#define MOA2_TOKEN_BUF_H

/* A growing text buffer for the token client: the token store's JSON and
   the claims of an RFC 7523 assertion. It may hold secrets, so every
   reallocation and the final free wipe the old memory. Out of memory
   aborts (as the rest of the core does in constructors): a half-written
   store must never reach the disk.

   JSON written here is not parsed by json-c: it is only produced, with
   strings escaped per RFC 8259 §7. */

#include "mail-oauth2/common.h"

struct moa2_buf {
	char *data; /* NUL-terminated, never NULL after moa2_buf_init */
	size_t len;
	size_t size;
};

void moa2_buf_init(struct moa2_buf *buf);
/* Wipes and frees; the buffer can be initialised again. */
void moa2_buf_free(struct moa2_buf *buf);
/* Takes the data (the caller frees it, wiped if secret); buf is reset. */
char *moa2_buf_steal(struct moa2_buf *buf, size_t *len_r);

void moa2_buf_append(struct moa2_buf *buf, const void *data, size_t len);
void moa2_buf_append_str(struct moa2_buf *buf, const char *str);
void moa2_buf_printf(struct moa2_buf *buf, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);

/* Appends str as a quoted JSON string. */
void moa2_buf_json_string(struct moa2_buf *buf, const char *str);
/* Appends `"key": "value"` (or `"key": number`) to an object being built;
   first says whether a comma is needed before it. NULL values are skipped
   (and do not clear *first). */
void moa2_buf_json_member_str(struct moa2_buf *buf, bool *first,
			      const char *key, const char *value);
void moa2_buf_json_member_int(struct moa2_buf *buf, bool *first,
			      const char *key, int64_t value);

#endif
