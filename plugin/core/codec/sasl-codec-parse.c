/* SPDX-License-Identifier: MIT */
/* Server side of the codec: strict parsing of XOAUTH2 and OAUTHBEARER
   client responses. Fails closed: anything not exactly valid is refused
   with its own error code. */
#include "config.h"
#include "codec/sasl-codec-private.h"
#include "support/base64.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/* A byte range of the input. */
struct span {
	const char *p;
	size_t len;
};

struct parse_state {
	enum moa2_sasl_mech mech;
	const char *data;
	size_t len, pos;
	struct span user, authzid, host, port, auth;
	bool have_user, have_authzid, have_host, have_port, have_auth;
};

static bool
span_eq(struct span s, const char *str)
{
	return s.len == strlen(str) && memcmp(s.p, str, s.len) == 0;
}

static const char *
find_byte(const char *p, const char *end, char c)
{
	return memchr(p, c, (size_t)(end - p));
}

/* gs2-header = ("n" / "y") "," [ "a=" saslname ] "," followed by ^A */
static enum moa2_sasl_error
parse_gs2_header(struct parse_state *st)
{
	const char *p = st->data, *end = st->data + st->len, *comma;

	if (st->len >= 2 && p[0] == 'F' && p[1] == ',')
		return MOA2_SASL_ERR_GS2_NONSTD;
	if (st->len >= 2 && p[0] == 'p' && p[1] == '=')
		return MOA2_SASL_ERR_GS2_CHANNEL_BINDING;
	if (st->len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		return MOA2_SASL_ERR_GS2_HEADER;
	p += 2;
	comma = find_byte(p, end, ',');
	if (comma == NULL || find_byte(p, comma, MOA2_SASL_KVSEP) != NULL)
		return MOA2_SASL_ERR_GS2_HEADER;
	if (comma != p) {
		if (comma - p < 2 || p[0] != 'a' || p[1] != '=')
			return MOA2_SASL_ERR_GS2_AUTHZID;
		st->authzid = (struct span){ p + 2, (size_t)(comma - p - 2) };
		st->have_authzid = true;
		if (st->authzid.len == 0)
			return MOA2_SASL_ERR_AUTHZID_EMPTY;
	}
	p = comma + 1;
	if (p == end || *p != MOA2_SASL_KVSEP)
		return MOA2_SASL_ERR_GS2_NO_SEPARATOR;
	st->pos = (size_t)(p + 1 - st->data);
	return MOA2_SASL_OK;
}

static bool
is_alpha_key(struct span key)
{
	if (key.len == 0)
		return false;
	for (size_t i = 0; i < key.len; i++) {
		char c = key.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

/* Records a known field; unknown ones are ignored (RFC 7628 §3.1). */
static enum moa2_sasl_error
store_field(struct parse_state *st, struct span key, struct span value)
{
	struct span *slot = NULL;
	bool *have = NULL;

	if (span_eq(key, "auth")) {
		slot = &st->auth; have = &st->have_auth;
	} else if (st->mech == MOA2_MECH_XOAUTH2 && span_eq(key, "user")) {
		slot = &st->user; have = &st->have_user;
	} else if (st->mech == MOA2_MECH_OAUTHBEARER && span_eq(key, "host")) {
		slot = &st->host; have = &st->have_host;
	} else if (st->mech == MOA2_MECH_OAUTHBEARER && span_eq(key, "port")) {
		slot = &st->port; have = &st->have_port;
	}
	if (slot == NULL)
		return MOA2_SASL_OK;
	if (*have)
		return MOA2_SASL_ERR_FIELD_DUPLICATE;
	*slot = value;
	*have = true;
	return MOA2_SASL_OK;
}

static bool
key_seen_before(const struct span *keys, unsigned int count, struct span key)
{
	for (unsigned int i = 0; i < count; i++) {
		if (keys[i].len == key.len && memcmp(keys[i].p, key.p, key.len) == 0)
			return true;
	}
	return false;
}

/* *(key "=" value ^A) ^A, and nothing after it. */
static enum moa2_sasl_error
parse_fields(struct parse_state *st)
{
	const char *p = st->data + st->pos, *end = st->data + st->len;
	struct span keys[MOA2_SASL_MAX_FIELDS];
	unsigned int count = 0;
	enum moa2_sasl_error error;

	while (p < end && *p != MOA2_SASL_KVSEP) {
		const char *sep = find_byte(p, end, MOA2_SASL_KVSEP);
		const char *eq;
		struct span key, value;

		if (sep == NULL)
			return MOA2_SASL_ERR_NO_TERMINATOR;
		eq = find_byte(p, sep, '=');
		if (eq == NULL)
			return MOA2_SASL_ERR_FIELD_NO_EQUALS;
		key = (struct span){ p, (size_t)(eq - p) };
		value = (struct span){ eq + 1, (size_t)(sep - eq - 1) };
		if (!is_alpha_key(key))
			return MOA2_SASL_ERR_FIELD_BAD_KEY;
		if (key_seen_before(keys, count, key))
			return MOA2_SASL_ERR_FIELD_DUPLICATE;
		if (count == MOA2_SASL_MAX_FIELDS)
			return MOA2_SASL_ERR_TOO_MANY_FIELDS;
		keys[count++] = key;
		if ((error = store_field(st, key, value)) != MOA2_SASL_OK)
			return error;
		p = sep + 1;
	}
	if (p == end)
		return MOA2_SASL_ERR_NO_TERMINATOR;
	if (p + 1 != end)
		return MOA2_SASL_ERR_TRAILING_DATA;
	return MOA2_SASL_OK;
}

/* auth-value = "Bearer" 1*SP b64token, "Bearer" in any case */
static enum moa2_sasl_error
parse_auth_value(struct span auth, struct span *token_r)
{
	static const char scheme[] = "bearer";
	size_t i = sizeof(scheme) - 1;

	if (auth.len < i || OPENSSL_strncasecmp(auth.p, scheme, i) != 0 ||
	    (auth.len > i && auth.p[i] != ' '))
		return MOA2_SASL_ERR_AUTH_NOT_BEARER;
	while (i < auth.len && auth.p[i] == ' ')
		i++;
	*token_r = (struct span){ auth.p + i, auth.len - i };
	return moa2_sasl_check_token(token_r->p, token_r->len);
}

static enum moa2_sasl_error
check_port(struct span port)
{
	unsigned long n = 0;

	if (port.len == 0 || port.len > 5)
		return MOA2_SASL_ERR_PORT_INVALID;
	for (size_t i = 0; i < port.len; i++) {
		if (port.p[i] < '0' || port.p[i] > '9')
			return MOA2_SASL_ERR_PORT_INVALID;
		n = n * 10 + (unsigned long)(port.p[i] - '0');
	}
	return n == 0 || n > 65535 ? MOA2_SASL_ERR_PORT_INVALID : MOA2_SASL_OK;
}

/* Validates the collected fields in a fixed order, so each input maps to
   one error code. */
static enum moa2_sasl_error
check_fields(const struct parse_state *st, struct span *token_r)
{
	enum moa2_sasl_error error;

	if (st->mech == MOA2_MECH_XOAUTH2) {
		if (!st->have_user)
			return MOA2_SASL_ERR_USER_MISSING;
		error = moa2_sasl_check_user(st->user.p, st->user.len,
					     MOA2_SASL_ERR_USER_EMPTY);
		if (error != MOA2_SASL_OK)
			return error;
	}
	if (st->have_host &&
	    (error = moa2_sasl_check_host(st->host.p, st->host.len)) != MOA2_SASL_OK)
		return error;
	if (st->have_port && (error = check_port(st->port)) != MOA2_SASL_OK)
		return error;
	if (!st->have_auth)
		return MOA2_SASL_ERR_AUTH_MISSING;
	return parse_auth_value(st->auth, token_r);
}

/* Copies authzid into out with =2C and =3D unescaped. */
static enum moa2_sasl_error
unescape_authzid(struct span in, char *out, size_t *out_len_r)
{
	size_t o = 0;

	for (size_t i = 0; i < in.len; i++) {
		if (in.p[i] != '=') {
			out[o++] = in.p[i];
			continue;
		}
		if (i + 2 >= in.len)
			return MOA2_SASL_ERR_AUTHZID_ESCAPE;
		if (in.p[i + 1] == '2' && in.p[i + 2] == 'C')
			out[o++] = ',';
		else if (in.p[i + 1] == '3' && in.p[i + 2] == 'D')
			out[o++] = '=';
		else
			return MOA2_SASL_ERR_AUTHZID_ESCAPE;
		i += 2;
	}
	*out_len_r = o;
	return MOA2_SASL_OK;
}

static const char *
copy_span(char **dest, struct span s)
{
	const char *start = *dest;

	memcpy(*dest, s.p, s.len);
	(*dest)[s.len] = '\0';
	*dest += s.len + 1;
	return start;
}

/* Copies the fields into one owned buffer (their total is below len + 5). */
static enum moa2_sasl_error
fill_response(const struct parse_state *st, struct span token,
	      struct moa2_sasl_response *resp)
{
	char *p;
	size_t authzid_len;
	enum moa2_sasl_error error;

	resp->buf_size = st->len + 5;
	resp->buf = p = malloc(resp->buf_size);
	if (p == NULL)
		abort();
	resp->mech = st->mech;
	if (st->have_authzid) {
		error = unescape_authzid(st->authzid, p, &authzid_len);
		if (error == MOA2_SASL_OK)
			error = moa2_sasl_check_user(p, authzid_len,
						     MOA2_SASL_ERR_AUTHZID_EMPTY);
		if (error != MOA2_SASL_OK)
			return error;
		p[authzid_len] = '\0';
		resp->authzid = p;
		p += authzid_len + 1;
	}
	if (st->have_user)
		resp->user = copy_span(&p, st->user);
	if (st->have_host)
		resp->host = copy_span(&p, st->host);
	if (st->have_port)
		resp->port = copy_span(&p, st->port);
	resp->token = copy_span(&p, token);
	resp->token_len = token.len;
	return MOA2_SASL_OK;
}

static enum moa2_sasl_error
parse_mech(enum moa2_sasl_mech mech, const char *data, size_t len,
	   struct moa2_sasl_response *resp)
{
	struct parse_state st = { .mech = mech, .data = data, .len = len };
	struct span token;
	enum moa2_sasl_error error;

	if (mech == MOA2_MECH_OAUTHBEARER &&
	    (error = parse_gs2_header(&st)) != MOA2_SASL_OK)
		return error;
	if ((error = parse_fields(&st)) != MOA2_SASL_OK ||
	    (error = check_fields(&st, &token)) != MOA2_SASL_OK)
		return error;
	error = fill_response(&st, token, resp);
	if (error != MOA2_SASL_OK)
		moa2_sasl_response_clear(resp);
	return error;
}

/* Which format the bytes claim to be: a GS2 flag means OAUTHBEARER,
   a leading "key=" means XOAUTH2. */
static enum moa2_sasl_mech
detect_mech(const char *data, size_t len)
{
	size_t i = 0;

	if (len >= 2 && strchr("nyF", data[0]) != NULL && data[1] == ',')
		return MOA2_MECH_OAUTHBEARER;
	if (len >= 2 && data[0] == 'p' && data[1] == '=')
		return MOA2_MECH_OAUTHBEARER;
	while (i < len && ((data[i] >= 'a' && data[i] <= 'z') ||
			   (data[i] >= 'A' && data[i] <= 'Z')))
		i++;
	return i > 0 && i < len && data[i] == '=' ?
		MOA2_MECH_XOAUTH2 : MOA2_MECH_UNKNOWN;
}

/* One pass over the response (it is on every login's path): printable
   ASCII, nearly all of it, costs one compare. The errors are those of
   separate scans in this order: the first NUL or CR/LF, then any other
   control character, then invalid UTF-8 (checked only when a byte is
   non-ASCII). */
static enum moa2_sasl_error
check_bytes(const char *data, size_t len)
{
	bool control = false, non_ascii = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c >= 0x20 && c < 0x7f)
			continue;
		if (c >= 0x80)
			non_ascii = true;
		else if (c == '\0')
			return MOA2_SASL_ERR_NUL;
		else if (c == '\r' || c == '\n')
			return MOA2_SASL_ERR_CRLF;
		else if (c != MOA2_SASL_KVSEP && c != '\t')
			control = true; /* 0x7f too */
	}
	if (control)
		return MOA2_SASL_ERR_CONTROL_CHAR;
	if (non_ascii && !moa2_utf8_valid(data, len))
		return MOA2_SASL_ERR_BAD_UTF8;
	return MOA2_SASL_OK;
}

static enum moa2_sasl_error
parse_once(enum moa2_sasl_mech mech, const char *data, size_t len,
	   struct moa2_sasl_response *resp)
{
	enum moa2_sasl_mech detected = detect_mech(data, len);
	enum moa2_sasl_mech other;
	enum moa2_sasl_error error;
	struct moa2_sasl_response probe;

	if ((error = check_bytes(data, len)) != MOA2_SASL_OK)
		return error;
	if (mech == MOA2_MECH_UNKNOWN) {
		if (detected == MOA2_MECH_UNKNOWN)
			return MOA2_SASL_ERR_UNKNOWN_FORMAT;
		mech = detected;
	}
	error = parse_mech(mech, data, len, resp);
	if (error == MOA2_SASL_OK || detected == mech || detected == MOA2_MECH_UNKNOWN)
		return error;
	/* Name the real mistake when it is a valid string of the other kind. */
	other = mech == MOA2_MECH_XOAUTH2 ? MOA2_MECH_OAUTHBEARER : MOA2_MECH_XOAUTH2;
	memset(&probe, 0, sizeof(probe));
	if (parse_mech(other, data, len, &probe) == MOA2_SASL_OK) {
		moa2_sasl_response_clear(&probe);
		return MOA2_SASL_ERR_MECH_MISMATCH;
	}
	return error;
}

/* Is data the base64 text of a valid response? Then it was encoded twice. */
static bool
parse_double_base64(enum moa2_sasl_mech mech, const char *data, size_t len,
		    struct moa2_sasl_response *resp)
{
	size_t max = moa2_base64_decoded_max(len), inner_len;
	unsigned char *inner;
	bool ok = false;

	if (!moa2_base64_looks_valid(data, len))
		return false;
	inner = malloc(max);
	if (inner == NULL)
		abort();
	if (moa2_base64_decode(data, len, inner, max, &inner_len) == 0 &&
	    inner_len > 0)
		ok = parse_once(mech, (const char *)inner, inner_len, resp) == MOA2_SASL_OK;
	moa2_secret_free(inner, max);
	return ok;
}

int
moa2_sasl_parse(enum moa2_sasl_mech mech, const void *data, size_t len,
		unsigned int flags, struct moa2_sasl_response *resp_r,
		enum moa2_sasl_error *error_r)
{
	enum moa2_sasl_error error;

	memset(resp_r, 0, sizeof(*resp_r));
	if (len == 0)
		error = MOA2_SASL_ERR_EMPTY;
	else if (len > MOA2_SASL_MAX_RESPONSE)
		error = MOA2_SASL_ERR_TOO_LONG;
	else if (mech != MOA2_MECH_XOAUTH2 &&
		 moa2_sasl_is_failure_ack(MOA2_MECH_OAUTHBEARER, data, len))
		error = MOA2_SASL_ERR_FAILURE_ACK;
	else
		error = parse_once(mech, data, len, resp_r);

	if (error != MOA2_SASL_OK && error != MOA2_SASL_ERR_EMPTY &&
	    error != MOA2_SASL_ERR_TOO_LONG &&
	    parse_double_base64(mech, data, len, resp_r)) {
		if ((flags & MOA2_SASL_FLAG_ALLOW_DOUBLE_BASE64) != 0) {
			resp_r->double_base64 = true;
			error = MOA2_SASL_OK;
		} else {
			moa2_sasl_response_clear(resp_r);
			error = MOA2_SASL_ERR_DOUBLE_BASE64;
		}
	}
	*error_r = error;
	return error == MOA2_SASL_OK ? 0 : -1;
}

int
moa2_sasl_parse_base64(enum moa2_sasl_mech mech, const char *b64,
		       size_t b64_len, unsigned int flags,
		       struct moa2_sasl_response *resp_r,
		       enum moa2_sasl_error *error_r)
{
	size_t max, len;
	unsigned char *raw;
	int ret;

	memset(resp_r, 0, sizeof(*resp_r));
	if (b64_len == 0) {
		*error_r = MOA2_SASL_ERR_EMPTY;
		return -1;
	}
	if (b64_len > MOA2_SASL_MAX_RESPONSE_BASE64) {
		*error_r = MOA2_SASL_ERR_TOO_LONG;
		return -1;
	}
	max = moa2_base64_decoded_max(b64_len);
	raw = malloc(max);
	if (raw == NULL)
		abort();
	if (moa2_base64_decode(b64, b64_len, raw, max, &len) < 0) {
		*error_r = MOA2_SASL_ERR_BASE64;
		ret = -1;
	} else {
		ret = moa2_sasl_parse(mech, raw, len, flags, resp_r, error_r);
	}
	moa2_secret_free(raw, max);
	return ret;
}

void
moa2_sasl_response_clear(struct moa2_sasl_response *resp)
{
	moa2_secret_free(resp->buf, resp->buf_size);
	memset(resp, 0, sizeof(*resp));
}

bool
moa2_sasl_is_failure_ack(enum moa2_sasl_mech mech, const void *data,
			 size_t len)
{
	if (mech == MOA2_MECH_XOAUTH2)
		return len == 0;
	return len == 1 && *(const char *)data == MOA2_SASL_KVSEP;
}
