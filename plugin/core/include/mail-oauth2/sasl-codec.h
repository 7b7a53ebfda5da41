/* SPDX-License-Identifier: MIT */
#ifndef MOA2_SASL_CODEC_H
#define MOA2_SASL_CODEC_H

/* The SASL codec for XOAUTH2 and OAUTHBEARER (RFC 7628), both directions.
   Pure: no I/O, no logging, no host headers.

   XOAUTH2:     "user=" U ^A "auth=Bearer " T ^A ^A
   OAUTHBEARER: gs2-header ^A *(key "=" value ^A) ^A
                gs2-header = ("n" / "y") "," ["a=" saslname] ","
   (^A = 0x01). The server side is strict: every failure has its own
   error code and a sentence for the admin's log. Size caps are applied
   before anything is decoded. */

#include "mail-oauth2/common.h"

enum moa2_sasl_mech {
	MOA2_MECH_UNKNOWN = 0, /* parse: detect from the content */
	MOA2_MECH_XOAUTH2,
	MOA2_MECH_OAUTHBEARER,
};

#define MOA2_SASL_MAX_TOKEN 16384 /* bytes; a larger JWT is refused */
#define MOA2_SASL_MAX_USER 512
#define MOA2_SASL_MAX_FIELDS 16
#define MOA2_SASL_MAX_RESPONSE (MOA2_SASL_MAX_TOKEN + 4096)
#define MOA2_SASL_MAX_RESPONSE_BASE64 (((MOA2_SASL_MAX_RESPONSE + 2) / 3) * 4)

/* Parse flags. */
#define MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64 0x1 /* interop opt-in */

/* Stable error codes; names (moa2_sasl_error_name) appear in logs and tests. */
enum moa2_sasl_error {
	MOA2_SASL_OK = 0,
	/* whole response */
	MOA2_SASL_ERR_EMPTY,            /* empty */
	MOA2_SASL_ERR_TOO_LONG,         /* over MOA2_SASL_MAX_RESPONSE(_BASE64) */
	MOA2_SASL_ERR_BASE64,           /* not strict base64 */
	MOA2_SASL_ERR_DOUBLE_BASE64,    /* base64 of a valid base64 response */
	MOA2_SASL_ERR_FAILURE_ACK,      /* the post-failure reply, not credentials */
	MOA2_SASL_ERR_UNKNOWN_FORMAT,   /* neither XOAUTH2 nor OAUTHBEARER */
	MOA2_SASL_ERR_MECH_MISMATCH,    /* the other mechanism's format */
	MOA2_SASL_ERR_NUL,              /* a NUL byte */
	MOA2_SASL_ERR_CRLF,             /* CR or LF */
	MOA2_SASL_ERR_CONTROL_CHAR,     /* another control character */
	MOA2_SASL_ERR_BAD_UTF8,         /* invalid UTF-8 */
	MOA2_SASL_ERR_NO_TERMINATOR,    /* missing the final ^A */
	MOA2_SASL_ERR_TRAILING_DATA,    /* bytes after the final ^A^A */
	/* key=value fields */
	MOA2_SASL_ERR_FIELD_NO_EQUALS,
	MOA2_SASL_ERR_FIELD_BAD_KEY,    /* empty or not ALPHA */
	MOA2_SASL_ERR_FIELD_DUPLICATE,
	MOA2_SASL_ERR_TOO_MANY_FIELDS,
	/* auth= */
	MOA2_SASL_ERR_AUTH_MISSING,
	MOA2_SASL_ERR_AUTH_NOT_BEARER,
	MOA2_SASL_ERR_TOKEN_EMPTY,
	MOA2_SASL_ERR_TOKEN_CHARSET,    /* outside RFC 6750 b64token */
	MOA2_SASL_ERR_TOKEN_TOO_LONG,
	/* XOAUTH2 user= */
	MOA2_SASL_ERR_USER_MISSING,
	MOA2_SASL_ERR_USER_EMPTY,
	MOA2_SASL_ERR_USER_TOO_LONG,
	/* OAUTHBEARER GS2 header and fields */
	MOA2_SASL_ERR_GS2_HEADER,       /* not "n," / "y," / "p=..," */
	MOA2_SASL_ERR_GS2_CHANNEL_BINDING, /* p=: not supported */
	MOA2_SASL_ERR_GS2_NONSTD,       /* leading "F,": not supported */
	MOA2_SASL_ERR_GS2_AUTHZID,      /* second part is not "a=..." */
	MOA2_SASL_ERR_GS2_NO_SEPARATOR, /* header not followed by ^A */
	MOA2_SASL_ERR_AUTHZID_EMPTY,
	MOA2_SASL_ERR_AUTHZID_ESCAPE,   /* '=' not starting =2C or =3D */
	MOA2_SASL_ERR_HOST_INVALID,
	MOA2_SASL_ERR_PORT_INVALID,
	/* failure challenge */
	MOA2_SASL_ERR_CHALLENGE_JSON,   /* not a JSON object */
	MOA2_SASL_ERR_CHALLENGE_STATUS, /* no string "status" */

	MOA2_SASL_ERR_COUNT
};

/* Stable snake_case name ("gs2_channel_binding") and a sentence for humans. */
const char *moa2_sasl_error_name(enum moa2_sasl_error error);
const char *moa2_sasl_error_sentence(enum moa2_sasl_error error);
const char *moa2_sasl_mech_name(enum moa2_sasl_mech mech); /* "XOAUTH2" */

/* ------------------------------------------------------------ server side */

struct moa2_sasl_response {
	enum moa2_sasl_mech mech;
	const char *user;    /* XOAUTH2 user=; NULL for OAUTHBEARER */
	const char *authzid; /* OAUTHBEARER a=, unescaped; NULL when absent */
	const char *host;    /* OAUTHBEARER host=; NULL when absent */
	const char *port;    /* OAUTHBEARER port= (digits, <= 65535); NULL when absent */
	const char *token;   /* the bearer token, NUL-terminated */
	size_t token_len;
	bool double_base64;  /* accepted only through ALLOW_DOUBLE_BASE64 */

	/* private: one buffer owns every string above; wiped on clear */
	char *buf;
	size_t buf_size;
};

/* The user the client asserted: XOAUTH2 user= or OAUTHBEARER authzid,
   NULL when the identity must come from the token alone. */
static inline const char *
moa2_sasl_response_asserted_user(const struct moa2_sasl_response *resp)
{
	return resp->user != NULL ? resp->user : resp->authzid;
}

/* Parses a decoded client response. mech MOA2_MECH_UNKNOWN detects the
   format. Returns 0 and fills resp_r (release with
   moa2_sasl_response_clear), or -1 with error_r set and resp_r zeroed. */
int moa2_sasl_parse(enum moa2_sasl_mech mech, const void *data, size_t len,
		    unsigned int flags, struct moa2_sasl_response *resp_r,
		    enum moa2_sasl_error *error_r);
/* The same for the base64 text of a response (as sent on the wire);
   the length cap is applied before decoding. */
int moa2_sasl_parse_base64(enum moa2_sasl_mech mech, const char *b64,
			   size_t b64_len, unsigned int flags,
			   struct moa2_sasl_response *resp_r,
			   enum moa2_sasl_error *error_r);
/* Wipes the token and frees the strings. Safe on a zeroed struct. */
void moa2_sasl_response_clear(struct moa2_sasl_response *resp);

/* True for the client's reply to a failure challenge: empty for XOAUTH2,
   a single ^A for OAUTHBEARER. */
bool moa2_sasl_is_failure_ack(enum moa2_sasl_mech mech, const void *data,
			      size_t len);

/* ------------------------------------------------------------ client side */

struct moa2_sasl_client_params {
	const char *user;  /* XOAUTH2: required. OAUTHBEARER: authzid, optional */
	const char *host;  /* OAUTHBEARER only, optional */
	unsigned int port; /* OAUTHBEARER only, 0 = omitted */
	const char *token;
};

/* Builds the initial client response (raw, not base64; NUL-terminated for
   convenience). Returns 0 with a malloc()ed buffer (it holds the token:
   release with moa2_secret_free(out, len + 1)), or -1 with error_r. */
int moa2_sasl_build(enum moa2_sasl_mech mech,
		    const struct moa2_sasl_client_params *params,
		    char **out_r, size_t *out_len_r,
		    enum moa2_sasl_error *error_r);

/* The same as sent on the wire: the base64 of the response. Returns 0 with
   a malloc()ed NUL-terminated string (it holds the token: release with
   moa2_secret_str_free), or -1 with error_r. */
int moa2_sasl_build_base64(enum moa2_sasl_mech mech,
			   const struct moa2_sasl_client_params *params,
			   char **b64_r, enum moa2_sasl_error *error_r);

/* ------------------------------------------------------ failure challenge */

/* {"status":..,"schemes":..,"scope":..,"openid-configuration":..};
   NULL members are left out. Which members a server sends for which
   rejection is decided in one place, verdict.h (moa2_verdict_challenge);
   this is the JSON both ways. */
struct moa2_sasl_challenge {
	char *status;
	char *schemes;
	char *scope;
	char *openid_configuration;
};

/* Returns the challenge JSON (malloc()ed), NULL on ENOMEM. */
char *moa2_sasl_challenge_build(const struct moa2_sasl_challenge *challenge);
/* Parses a challenge; unknown members are ignored. Returns 0 with
   malloc()ed members (moa2_sasl_challenge_clear), or -1 with error_r. */
int moa2_sasl_challenge_parse(const void *json, size_t len,
			      struct moa2_sasl_challenge *challenge_r,
			      enum moa2_sasl_error *error_r);
/* The same for the base64 text of a challenge as a server sends it (SMTP
   334, IMAP +): strict base64, at most MOA2_SASL_MAX_RESPONSE_BASE64
   characters. json_r (may be NULL) gets the decoded text (malloc()ed,
   NUL-terminated) whenever the base64 is valid, also when it is not a
   challenge, so that a tool can show what the server sent. */
int moa2_sasl_challenge_parse_base64(const char *b64, size_t len,
				     struct moa2_sasl_challenge *challenge_r,
				     char **json_r, enum moa2_sasl_error *error_r);
void moa2_sasl_challenge_clear(struct moa2_sasl_challenge *challenge);

#endif
