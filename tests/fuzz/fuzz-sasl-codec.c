/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the SASL codec: every server-side parser on the same
   bytes (all three mechanism values, with and without the double-base64
   opt-in), the challenge parser, and the client builder on bytes cut into
   its parameters. What parses is rebuilt and parsed again: any difference
   in the fields abort()s. */

#include "fuzz-common.h"

#include "support/base64.h"
#include "mail-oauth2/sasl-codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_error(int ret, enum moa2_sasl_error error)
{
	if (ret == 0) {
		FUZZ_CHECK(error == MOA2_SASL_OK || error == MOA2_SASL_ERR_COUNT);
		return;
	}
	FUZZ_CHECK(ret == -1);
	FUZZ_CHECK(error > MOA2_SASL_OK && error < MOA2_SASL_ERR_COUNT);
	FUZZ_CHECK(moa2_sasl_error_name(error) != NULL);
	FUZZ_CHECK(moa2_sasl_error_sentence(error) != NULL);
}

static void
check_zeroed(const struct moa2_sasl_response *resp)
{
	FUZZ_CHECK(resp->mech == MOA2_MECH_UNKNOWN && resp->user == NULL &&
		   resp->authzid == NULL && resp->host == NULL &&
		   resp->port == NULL && resp->token == NULL &&
		   resp->token_len == 0 && resp->buf == NULL);
}

/* Invariants of an accepted response, then: build it again, parse the
   result, and compare. */
static void
check_accepted(enum moa2_sasl_mech asked, unsigned int flags,
	       const struct moa2_sasl_response *resp)
{
	struct moa2_sasl_client_params params;
	struct moa2_sasl_response again;
	enum moa2_sasl_error error = MOA2_SASL_ERR_COUNT;
	unsigned long port = 0;
	char *out = NULL;
	size_t out_len = 0;

	FUZZ_CHECK(resp->mech == MOA2_MECH_XOAUTH2 ||
		   resp->mech == MOA2_MECH_OAUTHBEARER);
	FUZZ_CHECK(asked == MOA2_MECH_UNKNOWN || resp->mech == asked);
	FUZZ_CHECK(resp->token != NULL && resp->token_len > 0 &&
		   resp->token_len <= MOA2_SASL_MAX_TOKEN &&
		   strlen(resp->token) == resp->token_len);
	FUZZ_CHECK(!resp->double_base64 ||
		   (flags & MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64) != 0);
	if (resp->mech == MOA2_MECH_XOAUTH2) {
		FUZZ_CHECK(resp->user != NULL && resp->user[0] != '\0' &&
			   strlen(resp->user) <= MOA2_SASL_MAX_USER);
		FUZZ_CHECK(resp->authzid == NULL && resp->host == NULL &&
			   resp->port == NULL);
	} else {
		FUZZ_CHECK(resp->user == NULL);
		FUZZ_CHECK(resp->authzid == NULL || resp->authzid[0] != '\0');
		FUZZ_CHECK(resp->host == NULL || resp->host[0] != '\0');
	}
	if (resp->port != NULL) {
		char *end;

		port = strtoul(resp->port, &end, 10);
		FUZZ_CHECK(resp->port[0] >= '0' && resp->port[0] <= '9' &&
			   *end == '\0' && port <= 65535);
	}

	params = (struct moa2_sasl_client_params){
		.user = moa2_sasl_response_asserted_user(resp),
		.host = resp->host, .port = (unsigned int)port,
		.token = resp->token,
	};
	if (moa2_sasl_build(resp->mech, &params, &out, &out_len, &error) < 0) {
		fprintf(stderr, "accepted response not rebuildable: %s\n",
			moa2_sasl_error_name(error));
		abort();
	}
	FUZZ_CHECK(out[out_len] == '\0');
	memset(&again, 0, sizeof(again));
	if (moa2_sasl_parse(resp->mech, out, out_len, 0, &again, &error) < 0) {
		fprintf(stderr, "rebuilt response refused: %s\n",
			moa2_sasl_error_name(error));
		abort();
	}
	FUZZ_CHECK(again.mech == resp->mech);
	FUZZ_CHECK(str_eq(again.user, resp->user));
	FUZZ_CHECK(str_eq(again.authzid, resp->authzid));
	FUZZ_CHECK(str_eq(again.host, resp->host));
	/* the port is compared as a number ("0143" is rebuilt as "143");
	   port 0 means "omitted" to the builder */
	if (port != 0)
		FUZZ_CHECK(again.port != NULL &&
			   strtoul(again.port, NULL, 10) == port);
	else
		FUZZ_CHECK(again.port == NULL);
	FUZZ_CHECK(again.token_len == resp->token_len &&
		   memcmp(again.token, resp->token, resp->token_len) == 0);
	FUZZ_CHECK(!again.double_base64);
	moa2_sasl_response_clear(&again);
	moa2_secret_free(out, out_len + 1);
}

static void
fuzz_parse(enum moa2_sasl_mech mech, unsigned int flags, bool base64,
	   const uint8_t *data, size_t size)
{
	struct moa2_sasl_response resp;
	enum moa2_sasl_error error = MOA2_SASL_ERR_COUNT;
	int ret;

	memset(&resp, 0xa5, sizeof(resp));
	ret = base64 ?
		moa2_sasl_parse_base64(mech, (const char *)data, size, flags,
				       &resp, &error) :
		moa2_sasl_parse(mech, data, size, flags, &resp, &error);
	check_error(ret, error);
	if (ret == 0)
		check_accepted(mech, flags, &resp);
	else
		check_zeroed(&resp);
	moa2_sasl_response_clear(&resp);
}

static void
fuzz_challenge(const uint8_t *data, size_t size)
{
	struct moa2_sasl_challenge c, again;
	enum moa2_sasl_error error = MOA2_SASL_ERR_COUNT;
	char *json;

	memset(&c, 0, sizeof(c));
	if (moa2_sasl_challenge_parse(data, size, &c, &error) < 0) {
		FUZZ_CHECK(error == MOA2_SASL_ERR_CHALLENGE_JSON ||
			   error == MOA2_SASL_ERR_CHALLENGE_STATUS);
		return;
	}
	FUZZ_CHECK(c.status != NULL);
	json = moa2_sasl_challenge_build(&c);
	FUZZ_CHECK(json != NULL);
	memset(&again, 0, sizeof(again));
	if (moa2_sasl_challenge_parse(json, strlen(json), &again, &error) < 0) {
		fprintf(stderr, "rebuilt challenge refused: %s: %s\n",
			moa2_sasl_error_name(error), json);
		abort();
	}
	FUZZ_CHECK(str_eq(again.status, c.status));
	FUZZ_CHECK(str_eq(again.schemes, c.schemes));
	FUZZ_CHECK(str_eq(again.scope, c.scope));
	FUZZ_CHECK(str_eq(again.openid_configuration, c.openid_configuration));
	moa2_sasl_challenge_clear(&again);
	moa2_sasl_challenge_clear(&c);
	free(json);
}

/* The client side on hostile parameters: the bytes cut at NULs into
   token, user, host and port; whatever the builder accepts must parse
   back to the same fields. */
static void
fuzz_build(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *parts[4] = { NULL, NULL, NULL, NULL };
	unsigned int nparts = 0;
	size_t start = 0;

	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && nparts < 4; i++) {
		if (copy[i] == '\0') {
			parts[nparts++] = copy + start;
			start = i + 1;
		}
	}
	for (int m = MOA2_MECH_XOAUTH2; m <= MOA2_MECH_OAUTHBEARER; m++) {
		struct moa2_sasl_client_params params = {
			.token = parts[0], .user = parts[1], .host = parts[2],
			.port = parts[3] != NULL ?
				(unsigned int)strtoul(parts[3], NULL, 10) : 0,
		};
		enum moa2_sasl_error error = MOA2_SASL_ERR_COUNT;
		struct moa2_sasl_response resp;
		char *out = NULL;
		size_t out_len = 0;
		int ret;

		if (params.token == NULL)
			break;
		ret = moa2_sasl_build((enum moa2_sasl_mech)m, &params, &out,
				      &out_len, &error);
		check_error(ret, error);
		if (ret < 0)
			continue;
		memset(&resp, 0, sizeof(resp));
		if (moa2_sasl_parse((enum moa2_sasl_mech)m, out, out_len, 0,
				    &resp, &error) < 0) {
			fprintf(stderr, "built response refused: %s\n",
				moa2_sasl_error_name(error));
			abort();
		}
		FUZZ_CHECK(str_eq(moa2_sasl_response_asserted_user(&resp),
				  params.user));
		FUZZ_CHECK(strcmp(resp.token, params.token) == 0);
		if (m == MOA2_MECH_OAUTHBEARER) {
			FUZZ_CHECK(str_eq(resp.host, params.host));
			FUZZ_CHECK(params.port <= 65535);
			if (params.port == 0)
				FUZZ_CHECK(resp.port == NULL);
			else
				FUZZ_CHECK(resp.port != NULL &&
					   strtoul(resp.port, NULL, 10) ==
					   params.port);
		}
		moa2_sasl_response_clear(&resp);
		moa2_secret_free(out, out_len + 1);
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum moa2_sasl_mech mechs[] = {
		MOA2_MECH_UNKNOWN, MOA2_MECH_XOAUTH2, MOA2_MECH_OAUTHBEARER,
	};
	static const unsigned int flags[] = {
		0, MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64,
	};

	for (size_t m = 0; m < sizeof(mechs) / sizeof(mechs[0]); m++) {
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			fuzz_parse(mechs[m], flags[f], false, data, size);
			fuzz_parse(mechs[m], flags[f], true, data, size);
		}
		(void)moa2_sasl_is_failure_ack(mechs[m], data, size);
	}
	fuzz_challenge(data, size);
	fuzz_build(data, size);
	return 0;
}
