/* SPDX-License-Identifier: MIT */
#ifndef MOA2_SASL_CODEC_PRIVATE_H
#define MOA2_SASL_CODEC_PRIVATE_H

/* Checks shared by the codec's parser and builder. */

#include "mail-oauth2/sasl-codec.h"

#define MOA2_SASL_KVSEP '\001'

bool moa2_utf8_valid(const char *str, size_t len);
/* Refuses NUL, CR/LF, other control characters (HTAB only if allow_tab)
   and invalid UTF-8; ^A is refused too (it is the field separator). */
enum moa2_sasl_error moa2_sasl_check_text(const char *str, size_t len,
					  bool allow_tab);
/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
enum moa2_sasl_error moa2_sasl_check_token(const char *token, size_t len);
/* host= value: 1..255 bytes of text without space or tab. */
enum moa2_sasl_error moa2_sasl_check_host(const char *host, size_t len);
/* A user / authzid: non-empty, capped, text without tabs. */
enum moa2_sasl_error moa2_sasl_check_user(const char *user, size_t len,
					  enum moa2_sasl_error empty_error);

#endif
