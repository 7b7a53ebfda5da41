/* SPDX-License-Identifier: MIT */
#ifndef MOA2_ASCII_H
#define MOA2_ASCII_H

/* ASCII character classes, not the locale's: what the strict parsers of
   the wire formats (URLs, HTTP) accept does not depend on setlocale().

   Failure behaviour: none; a byte outside a class is false (or -1). */

#include <stdbool.h>

static inline bool
moa2_ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
moa2_ascii_alnum(char c)
{
	return moa2_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The value of a hex digit, or -1. */
static inline int
moa2_ascii_hex_value(char c)
{
	if (moa2_ascii_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
