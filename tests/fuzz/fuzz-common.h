/* SPDX-License-Identifier: MIT */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

/* What every libFuzzer target of tests/fuzz shares: the entry point's
   prototype and FUZZ_CHECK, which abort()s (a finding for libFuzzer) with
   the failed condition when a property does not hold. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			__LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif
