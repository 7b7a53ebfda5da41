/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the key parsers: JWKS documents (as fetched: no HMAC
   key may come out) and PEM public keys. Checks: a refused document leaves
   no set; the skip callback is called once per skipped key, in order, with
   a reason; every key that comes out is usable for at least one algorithm,
   is never an HMAC key, and RSA keys have at least 2048 bits. */

#include "fuzz-common.h"

#include "jose/jose-jwk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct skip_state {
	size_t calls;
	size_t next_index;
};

static void
on_skip(void *context, size_t index, const char *kid, const char *reason)
{
	struct skip_state *state = context;

	FUZZ_CHECK(reason != NULL && reason[0] != '\0');
	FUZZ_CHECK(index >= state->next_index);
	if (kid != NULL)
		(void)strlen(kid);
	state->next_index = index + 1;
	state->calls++;
}

static void
check_key(const struct moa2_jwk *jwk, bool from_pem)
{
	bool usable = false;

	FUZZ_CHECK(moa2_jwk_kty(jwk) != MOA2_JWK_KTY_OCT);
	FUZZ_CHECK(moa2_jwk_pkey(jwk) != NULL);
	if (moa2_jwk_kty(jwk) == MOA2_JWK_KTY_RSA)
		FUZZ_CHECK(moa2_jwk_bits(jwk) >= MOA2_JWK_RSA_MIN_BITS);
	if (from_pem)
		FUZZ_CHECK(moa2_jwk_kid(jwk) == NULL);
	for (unsigned int alg = 0; alg < MOA2_JOSE_ALG_COUNT; alg++) {
		if (moa2_jwk_fits_alg(jwk, (enum moa2_jose_alg)alg)) {
			FUZZ_CHECK(!moa2_jose_alg_is_hmac((enum moa2_jose_alg)alg));
			usable = true;
		}
	}
	FUZZ_CHECK(usable);
}

static void
check_set(const struct moa2_jwks *jwks, bool from_pem)
{
	size_t count = moa2_jwks_count(jwks);
	const struct moa2_jwk *keys[4];
	size_t n;

	FUZZ_CHECK(count <= MOA2_JWKS_MAX_KEYS);
	for (size_t i = 0; i < count; i++) {
		const struct moa2_jwk *jwk = moa2_jwks_get(jwks, i);

		check_key(jwk, from_pem);
		if (moa2_jwk_kid(jwk) != NULL)
			FUZZ_CHECK(moa2_jwks_find_kid(jwks, moa2_jwk_kid(jwk)) != NULL);
	}
	FUZZ_CHECK(moa2_jwks_get(jwks, count) == NULL);
	/* no key set ever selects a key for an HMAC alg */
	FUZZ_CHECK(moa2_jwks_select(jwks, NULL, MOA2_JOSE_ALG_HS256, keys, 4, &n) !=
		   MOA2_VERIFY_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skip_state state = { 0, 0 };
	struct moa2_jwks *jwks = (struct moa2_jwks *)1;
	const char *error = NULL;
	size_t skipped = 0;

	if (moa2_jwks_parse((const char *)data, size, &jwks, &skipped, on_skip,
			    &state, &error) == 0) {
		FUZZ_CHECK(jwks != NULL);
		FUZZ_CHECK(skipped == state.calls);
		check_set(jwks, false);
		moa2_jwks_free(&jwks);
		FUZZ_CHECK(jwks == NULL);
	} else {
		FUZZ_CHECK(jwks == NULL && error != NULL);
	}

	jwks = (struct moa2_jwks *)1;
	if (moa2_jwks_parse_pem((const char *)data, size, &jwks, &error) == 0) {
		FUZZ_CHECK(jwks != NULL && moa2_jwks_count(jwks) > 0);
		check_set(jwks, true);
		moa2_jwks_free(&jwks);
	} else {
		FUZZ_CHECK(jwks == NULL && error != NULL);
	}
	return 0;
}
