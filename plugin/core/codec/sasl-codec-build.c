/* SPDX-License-Identifier: MIT */
/* Client side of the codec: building initial responses, and the field
   checks the parser shares. */
#include "config.h"
#include "codec/sasl-codec-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool
moa2_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0) lo = 0xa0;
			if (c == 0xed) hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0) lo = 0x90;
			if (c == 0xf4) hi = 0x8f;
		} else
			return false;
		if (len - i <= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		}
		i += n + 1;
	}
	return true;
}

enum moa2_sasl_error
moa2_sasl_check_text(const char *str, size_t len, bool allow_tab)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];

		if (c == '\0')
			return MOA2_SASL_ERR_NUL;
		if (c == '\r' || c == '\n')
			return MOA2_SASL_ERR_CRLF;
		if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f)
			return MOA2_SASL_ERR_CONTROL_CHAR;
	}
	return moa2_utf8_valid(str, len) ? MOA2_SASL_OK : MOA2_SASL_ERR_BAD_UTF8;
}

/* RFC 6750 b64token characters other than the trailing '=' padding */
static bool
is_b64token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		c == '~' || c == '+' || c == '/';
}

enum moa2_sasl_error
moa2_sasl_check_token(const char *token, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return MOA2_SASL_ERR_TOKEN_EMPTY;
	if (len > MOA2_SASL_MAX_TOKEN)
		return MOA2_SASL_ERR_TOKEN_TOO_LONG;
	while (i < len && is_b64token_char((unsigned char)token[i]))
		i++;
	if (i == 0)
		return MOA2_SASL_ERR_TOKEN_CHARSET;
	while (i < len && token[i] == '=')
		i++;
	return i == len ? MOA2_SASL_OK : MOA2_SASL_ERR_TOKEN_CHARSET;
}

enum moa2_sasl_error
moa2_sasl_check_host(const char *host, size_t len)
{
	enum moa2_sasl_error error;

	if (len == 0 || len > 255 || memchr(host, ' ', len) != NULL)
		return MOA2_SASL_ERR_HOST_INVALID;
	error = moa2_sasl_check_text(host, len, false);
	return error == MOA2_SASL_ERR_CONTROL_CHAR ? MOA2_SASL_ERR_HOST_INVALID : error;
}

enum moa2_sasl_error
moa2_sasl_check_user(const char *user, size_t len,
		     enum moa2_sasl_error empty_error)
{
	if (len == 0)
		return empty_error;
	if (len > MOA2_SASL_MAX_USER)
		return MOA2_SASL_ERR_USER_TOO_LONG;
	return moa2_sasl_check_text(user, len, false);
}

/* saslname: ',' becomes =2C and '=' becomes =3D. */
static size_t
escape_authzid(const char *in, char *out)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		if (*in == ',' || *in == '=') {
			memcpy(out + o, *in == ',' ? "=2C" : "=3D", 3);
			o += 3;
		} else {
			out[o++] = *in;
		}
	}
	return o;
}

static enum moa2_sasl_error
check_params(enum moa2_sasl_mech mech, const struct moa2_sasl_client_params *params)
{
	enum moa2_sasl_error error;

	if (mech == MOA2_MECH_XOAUTH2 && params->user == NULL)
		return MOA2_SASL_ERR_USER_MISSING;
	if (params->user != NULL &&
	    (error = moa2_sasl_check_user(params->user, strlen(params->user),
					  mech == MOA2_MECH_XOAUTH2 ?
					  MOA2_SASL_ERR_USER_EMPTY :
					  MOA2_SASL_ERR_AUTHZID_EMPTY)) != MOA2_SASL_OK)
		return error;
	if (mech == MOA2_MECH_OAUTHBEARER && params->host != NULL &&
	    (error = moa2_sasl_check_host(params->host, strlen(params->host))) != MOA2_SASL_OK)
		return error;
	if (mech == MOA2_MECH_OAUTHBEARER && params->port > 65535)
		return MOA2_SASL_ERR_PORT_INVALID;
	if (params->token == NULL)
		return MOA2_SASL_ERR_TOKEN_EMPTY;
	return moa2_sasl_check_token(params->token, strlen(params->token));
}

int
moa2_sasl_build(enum moa2_sasl_mech mech,
		const struct moa2_sasl_client_params *params,
		char **out_r, size_t *out_len_r,
		enum moa2_sasl_error *error_r)
{
	size_t size, len = 0;
	char *out;

	*out_r = NULL;
	*out_len_r = 0;
	if (mech != MOA2_MECH_XOAUTH2 && mech != MOA2_MECH_OAUTHBEARER) {
		*error_r = MOA2_SASL_ERR_UNKNOWN_FORMAT;
		return -1;
	}
	if ((*error_r = check_params(mech, params)) != MOA2_SASL_OK)
		return -1;
	/* every part bounded by its check: users tripled by escaping */
	size = 64 + strlen(params->token) +
		(params->user == NULL ? 0 : 3 * strlen(params->user)) +
		(params->host == NULL ? 0 : strlen(params->host));
	out = malloc(size);
	if (out == NULL)
		abort();
	if (mech == MOA2_MECH_XOAUTH2) {
		len = (size_t)snprintf(out, size, "user=%s\001", params->user);
	} else {
		memcpy(out, "n,", 2);
		len = 2;
		if (params->user != NULL) {
			memcpy(out + len, "a=", 2);
			len += 2 + escape_authzid(params->user, out + len + 2);
		}
		out[len++] = ',';
		out[len++] = '\001';
		if (params->host != NULL)
			len += (size_t)snprintf(out + len, size - len, "host=%s\001", params->host);
		if (params->port != 0)
			len += (size_t)snprintf(out + len, size - len, "port=%u\001", params->port);
	}
	len += (size_t)snprintf(out + len, size - len, "auth=Bearer %s\001\001", params->token);
	*out_r = out;
	*out_len_r = len;
	return 0;
}
