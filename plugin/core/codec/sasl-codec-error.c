/* SPDX-License-Identifier: MIT */
/* Names and sentences of the codec's error codes. */
#include "config.h"
#include "mail-oauth2/sasl-codec.h"

struct error_text {
	const char *name;
	const char *sentence;
};

static const struct error_text error_texts[MOA2_SASL_ERR_COUNT] = {
	[MOA2_SASL_OK] = { "ok", "the response is valid" },
	[MOA2_SASL_ERR_EMPTY] = { "empty", "the client sent an empty response" },
	[MOA2_SASL_ERR_TOO_LONG] = { "too_long",
		"the response is longer than the size limit (tokens over 16 KiB are refused)" },
	[MOA2_SASL_ERR_BASE64] = { "base64", "the response is not valid base64" },
	[MOA2_SASL_ERR_DOUBLE_BASE64] = { "double_base64",
		/* the one explanation of double base64: every host's log line
		   and the CLI use it (verdict.h) */
		"the client base64-encoded its response twice (a bug of some clients, "
		"e.g. the widely copied Python imaplib example whose callback returns "
		"base64 although imaplib.authenticate() encodes it again)" },
	[MOA2_SASL_ERR_FAILURE_ACK] = { "failure_ack",
		"the client sent the reply to a failure challenge instead of credentials" },
	[MOA2_SASL_ERR_UNKNOWN_FORMAT] = { "unknown_format",
		"the response is neither an XOAUTH2 nor an OAUTHBEARER string" },
	[MOA2_SASL_ERR_MECH_MISMATCH] = { "mech_mismatch",
		"the response is in the other mechanism's format (XOAUTH2 vs OAUTHBEARER)" },
	[MOA2_SASL_ERR_NUL] = { "nul_byte", "the response contains a NUL byte" },
	[MOA2_SASL_ERR_CRLF] = { "crlf", "the response contains a CR or LF character" },
	[MOA2_SASL_ERR_CONTROL_CHAR] = { "control_char",
		"the response contains a control character" },
	[MOA2_SASL_ERR_BAD_UTF8] = { "bad_utf8", "a field is not valid UTF-8" },
	[MOA2_SASL_ERR_NO_TERMINATOR] = { "no_terminator",
		"the response does not end with the final ^A (0x01) separator" },
	[MOA2_SASL_ERR_TRAILING_DATA] = { "trailing_data",
		"data follows the final ^A^A of the response" },
	[MOA2_SASL_ERR_FIELD_NO_EQUALS] = { "field_no_equals",
		"a field is not of the form key=value" },
	[MOA2_SASL_ERR_FIELD_BAD_KEY] = { "field_bad_key",
		"a field name is empty or contains characters other than letters" },
	[MOA2_SASL_ERR_FIELD_DUPLICATE] = { "field_duplicate",
		"a field appears more than once" },
	[MOA2_SASL_ERR_TOO_MANY_FIELDS] = { "too_many_fields",
		"the response has too many fields" },
	[MOA2_SASL_ERR_AUTH_MISSING] = { "auth_missing", "the response has no auth= field" },
	[MOA2_SASL_ERR_AUTH_NOT_BEARER] = { "auth_not_bearer",
		"the auth= field is not of the form \"Bearer <token>\"" },
	[MOA2_SASL_ERR_TOKEN_EMPTY] = { "token_empty", "the bearer token is empty" },
	[MOA2_SASL_ERR_TOKEN_CHARSET] = { "token_charset",
		"the bearer token contains characters not allowed in an RFC 6750 b64token" },
	[MOA2_SASL_ERR_TOKEN_TOO_LONG] = { "token_too_long",
		"the bearer token is longer than 16 KiB" },
	[MOA2_SASL_ERR_USER_MISSING] = { "user_missing",
		"the XOAUTH2 response has no user= field" },
	[MOA2_SASL_ERR_USER_EMPTY] = { "user_empty", "the user= field is empty" },
	[MOA2_SASL_ERR_USER_TOO_LONG] = { "user_too_long",
		"the user name is longer than 512 bytes" },
	[MOA2_SASL_ERR_GS2_HEADER] = { "gs2_header",
		"the OAUTHBEARER GS2 header is malformed (expected \"n,\" or \"y,\", "
		"an optional \"a=user\", and \",\")" },
	[MOA2_SASL_ERR_GS2_CHANNEL_BINDING] = { "gs2_channel_binding",
		"the client requested channel binding (p=), which OAUTHBEARER does not support" },
	[MOA2_SASL_ERR_GS2_NONSTD] = { "gs2_nonstd",
		"the client set the non-standard GSS-API flag (F,), which is not supported" },
	[MOA2_SASL_ERR_GS2_AUTHZID] = { "gs2_authzid",
		"the GS2 header's second part is not an authorization identity (a=...)" },
	[MOA2_SASL_ERR_GS2_NO_SEPARATOR] = { "gs2_no_separator",
		"the GS2 header is not followed by the ^A (0x01) separator" },
	[MOA2_SASL_ERR_AUTHZID_EMPTY] = { "authzid_empty",
		"the authorization identity (a=) is empty" },
	[MOA2_SASL_ERR_AUTHZID_ESCAPE] = { "authzid_escape",
		"the authorization identity has an '=' that is not the escape =2C or =3D" },
	[MOA2_SASL_ERR_HOST_INVALID] = { "host_invalid", "the host= field is empty or invalid" },
	[MOA2_SASL_ERR_PORT_INVALID] = { "port_invalid",
		"the port= field is not a number from 1 to 65535" },
	[MOA2_SASL_ERR_CHALLENGE_JSON] = { "challenge_json",
		"the failure challenge is not a JSON object" },
	[MOA2_SASL_ERR_CHALLENGE_STATUS] = { "challenge_status",
		"the failure challenge has no string \"status\" member" },
};

const char *
moa2_sasl_error_name(enum moa2_sasl_error error)
{
	if ((unsigned int)error >= MOA2_SASL_ERR_COUNT)
		return "unknown_error";
	return error_texts[error].name;
}

const char *
moa2_sasl_error_sentence(enum moa2_sasl_error error)
{
	if ((unsigned int)error >= MOA2_SASL_ERR_COUNT)
		return "unknown error";
	return error_texts[error].sentence;
}

const char *
moa2_sasl_mech_name(enum moa2_sasl_mech mech)
{
	switch (mech) {
	case MOA2_MECH_XOAUTH2:
		return "XOAUTH2";
	case MOA2_MECH_OAUTHBEARER:
		return "OAUTHBEARER";
	case MOA2_MECH_UNKNOWN:
		break;
	}
	return "unknown";
}
