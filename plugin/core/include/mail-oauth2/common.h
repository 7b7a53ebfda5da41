/* SPDX-License-Identifier: MIT */
#ifndef MOA2_COMMON_H
#define MOA2_COMMON_H

/* Shared definitions of the mail-oauth2 core. The core includes no Dovecot
   or Cyrus header; hosts link it statically (built -fvisibility=hidden). */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOA2_ATTR_NODISCARD __attribute__((warn_unused_result))
#define MOA2_ATTR_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))

/* strdup() that aborts on ENOMEM (as every allocation in the core does);
   NULL stays NULL. */
char *moa2_strdup(const char *str);
/* A malloc()ed formatted string; aborts on ENOMEM. */
char *moa2_strdup_printf(const char *fmt, ...) MOA2_ATTR_FORMAT(1, 2);
char *moa2_strdup_vprintf(const char *fmt, va_list args) MOA2_ATTR_FORMAT(1, 0);

/* Reads from fd into buf until size bytes or the end of the file,
   retrying on EINTR: 0 with the count in len_r, or -1 with errno set. */
int moa2_read_all(int fd, void *buf, size_t size, size_t *len_r);

/* Wipes a secret (OPENSSL_cleanse) and frees it. NULL-safe. */
void moa2_secret_free(void *ptr, size_t len);
/* Wipes and frees a NUL-terminated secret string and NULLs the pointer. */
void moa2_secret_str_free(char **str);

/* Writes the log fingerprint of a token: first 8 hex digits of its SHA-256,
   NUL-terminated. Tokens never appear in logs, only this. */
#define MOA2_FINGERPRINT_LEN 8
void moa2_token_fingerprint(const void *token, size_t len,
			    char out[MOA2_FINGERPRINT_LEN + 1]);

#endif
