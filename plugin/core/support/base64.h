/* SPDX-License-Identifier: MIT */
#ifndef MOA2_BASE64_H
#define MOA2_BASE64_H

/* Strict base64 (RFC 4648 §4, padded) and base64url (§5, unpadded, as JOSE
   uses it). Decoders refuse whitespace, bad characters, bad or missing
   padding and non-zero trailing bits, so one byte string has exactly one
   accepted encoding. */

#include "mail-oauth2/common.h"

/* Length of the encoding of len bytes, without the NUL. */
size_t moa2_base64_encoded_len(size_t len);
size_t moa2_base64url_encoded_len(size_t len);
/* Upper bound of the decoded size of in_len characters. */
size_t moa2_base64_decoded_max(size_t in_len);

/* Encode into a malloc()ed NUL-terminated string; NULL only on ENOMEM. */
char *moa2_base64_encode(const void *data, size_t len);
char *moa2_base64url_encode(const void *data, size_t len);

/* Decode into out (out_size >= moa2_base64_decoded_max(in_len)).
   Returns 0 and the decoded length in out_len_r, or -1 if the input is not
   strictly valid (or out is too small). */
int moa2_base64_decode(const char *in, size_t in_len,
		       unsigned char *out, size_t out_size, size_t *out_len_r);
int moa2_base64url_decode(const char *in, size_t in_len,
			  unsigned char *out, size_t out_size, size_t *out_len_r);

/* True if every character is in the base64 alphabet (with '=' padding) and
   the length is a non-zero multiple of 4: a cheap pre-check only. */
bool moa2_base64_looks_valid(const char *in, size_t in_len);

#endif
