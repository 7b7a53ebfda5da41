/* SPDX-License-Identifier: MIT */
/* The base64 forms on the wire (see sasl-codec.h): the initial client
   response a client sends, and the failure challenge a server sends
   (SMTP 334, IMAP +). Failure behaviour: strict base64 only, length capped
   before decoding; buffers that held a token are wiped. */
#include "config.h"
#include "mail-oauth2/sasl-codec.h"
#include "support/base64.h"

#include <stdlib.h>
#include <string.h>

int
moa2_sasl_build_base64(enum moa2_sasl_mech mech,
		       const struct moa2_sasl_client_params *params,
		       char **b64_r, enum moa2_sasl_error *error_r)
{
	char *raw;
	size_t raw_len;

	*b64_r = NULL;
	if (moa2_sasl_build(mech, params, &raw, &raw_len, error_r) < 0)
		return -1;
	*b64_r = moa2_base64_encode(raw, raw_len);
	moa2_secret_free(raw, raw_len + 1);
	if (*b64_r == NULL)
		abort();
	return 0;
}

int
moa2_sasl_challenge_parse_base64(const char *b64, size_t len,
				 struct moa2_sasl_challenge *challenge_r,
				 char **json_r, enum moa2_sasl_error *error_r)
{
	size_t max = moa2_base64_decoded_max(len), json_len;
	unsigned char *json;
	int ret;

	memset(challenge_r, 0, sizeof(*challenge_r));
	if (json_r != NULL)
		*json_r = NULL;
	if (len > MOA2_SASL_MAX_RESPONSE_BASE64) {
		*error_r = MOA2_SASL_ERR_TOO_LONG;
		return -1;
	}
	if ((json = malloc(max + 1)) == NULL)
		abort();
	if (len == 0 || moa2_base64_decode(b64, len, json, max, &json_len) < 0) {
		free(json);
		*error_r = len == 0 ? MOA2_SASL_ERR_EMPTY : MOA2_SASL_ERR_BASE64;
		return -1;
	}
	json[json_len] = '\0';
	ret = moa2_sasl_challenge_parse(json, json_len, challenge_r, error_r);
	if (json_r != NULL)
		*json_r = (char *)json; /* also when it is not a challenge */
	else
		free(json);
	return ret;
}
