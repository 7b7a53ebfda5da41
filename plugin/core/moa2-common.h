#ifndef MOA2_COMMON_H
#define MOA2_COMMON_H

/* Shared definitions of the mail-oauth2 core. The core includes no Dovecot
   or Cyrus header; hosts link it statically (built -fvisibility=hidden). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOA2_ATTR_NODISCARD __attribute__((warn_unused_result))
#define MOA2_ATTR_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))

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
