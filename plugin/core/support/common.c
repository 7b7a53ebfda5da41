/* SPDX-License-Identifier: MIT */
/* Secrets and fingerprints shared by every part of the core. */
#include "config.h"
#include "mail-oauth2/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

char *
moa2_strdup(const char *str)
{
	char *copy;

	if (str == NULL)
		return NULL;
	if ((copy = strdup(str)) == NULL)
		abort();
	return copy;
}

char *
moa2_strdup_vprintf(const char *fmt, va_list args)
{
	va_list copy;
	char *str;
	int len;

	va_copy(copy, args);
	len = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (len < 0 || (str = malloc((size_t)len + 1)) == NULL)
		abort();
	vsnprintf(str, (size_t)len + 1, fmt, args);
	return str;
}

char *
moa2_strdup_printf(const char *fmt, ...)
{
	va_list args;
	char *str;

	va_start(args, fmt);
	str = moa2_strdup_vprintf(fmt, args);
	va_end(args);
	return str;
}

int
moa2_read_all(int fd, void *buf, size_t size, size_t *len_r)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = read(fd, (char *)buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*len_r = len;
	return 0;
}

void
moa2_secret_free(void *ptr, size_t len)
{
	if (ptr == NULL)
		return;
	OPENSSL_cleanse(ptr, len);
	free(ptr);
}

void
moa2_secret_str_free(char **str)
{
	if (*str == NULL)
		return;
	OPENSSL_cleanse(*str, strlen(*str));
	free(*str);
	*str = NULL;
}

void
moa2_token_fingerprint(const void *token, size_t len,
		       char out[MOA2_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	if (EVP_Digest(token, len, digest, &digest_len, EVP_sha256(), NULL) != 1) {
		memcpy(out, "????????", MOA2_FINGERPRINT_LEN + 1);
		return;
	}
	for (size_t i = 0; i < MOA2_FINGERPRINT_LEN / 2; i++) {
		out[i * 2] = hex[digest[i] >> 4];
		out[i * 2 + 1] = hex[digest[i] & 0xf];
	}
	out[MOA2_FINGERPRINT_LEN] = '\0';
}
