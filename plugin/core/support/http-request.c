/* SPDX-License-Identifier: MIT */
/* The request of the HTTP client: where it goes (its target, from the URL's
   one strict parse in url.c: the request line, the Host header and the
   connection are made from that parse, so there is no second parser to
   disagree with it) and its bytes: the head, the Authorization (a bearer
   token or client_secret_basic), the form body, and the RFC 3986
   URL-encoding of both.

   Failure behaviour: fails closed. A bearer token that would not stay one
   header line, or client credentials with a part missing, fail the request
   (-1, a static reason that quotes neither); out of memory aborts. The
   intermediate copies of secrets (the encoded credentials, the form's
   encoded names and values) are wiped before they are freed. */
#include "config.h"
#include "support/http-client-private.h"
#include "support/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ URL encoding */

static bool
url_unreserved(unsigned char c)
{
	return moa2_ascii_alnum((char)c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t
url_encoded_len(const char *s)
{
	size_t len = 0;

	for (; *s != '\0'; s++)
		len += url_unreserved((unsigned char)*s) ? 1 : 3;
	return len;
}

/* Writes the encoding of s at dest (no NUL); returns the end. */
static char *
url_encode_to(char *dest, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (url_unreserved(c)) {
			*dest++ = (char)c;
		} else {
			*dest++ = '%';
			*dest++ = hex[c >> 4];
			*dest++ = hex[c & 0x0f];
		}
	}
	return dest;
}

char *
moa2_url_encode(const char *s)
{
	size_t len = url_encoded_len(s);
	char *out = malloc(len + 1);

	if (out == NULL)
		return NULL;
	*url_encode_to(out, s) = '\0';
	return out;
}

/* ------------------------------------------------------------ target */

void
moa2_http_target_init(struct moa2_http_target *target,
		      const struct moa2_url *url, const char *url_str)
{
	const char *rest = strstr(url_str, "://");
	unsigned int default_port = url->https ? 443 : 80;

	target->url = url;
	target->port = url->port != 0 ? url->port : default_port;
	/* moa2_url_parse accepted it, so "://" and the authority are there */
	rest = rest == NULL ? "" : rest + 3;
	rest += strcspn(rest, "/?#");
	target->path = rest;
	target->path_len = strcspn(rest, "#");
	snprintf(target->authority, sizeof(target->authority), "%s%s%s",
		 url->ipv6 ? "[" : "", url->host, url->ipv6 ? "]" : "");
	if (target->port != default_port) {
		size_t len = strlen(target->authority);

		snprintf(target->authority + len, sizeof(target->authority) - len,
			 ":%u", target->port);
	}
}

/* ------------------------------------------------------------ request */

/* RFC 6750 b64token would be stricter; this is what keeps a header line a
   single header line. */
static bool
header_value_safe(const char *value)
{
	if (*value == '\0')
		return false;
	for (; *value != '\0'; value++) {
		if ((unsigned char)*value <= 0x20 || (unsigned char)*value >= 0x7f)
			return false;
	}
	return true;
}

/* base64(urlencode(id) ":" urlencode(secret)), RFC 6749 §2.3.1. */
static char *
basic_auth_credentials(const struct moa2_http_basic_auth *auth)
{
	size_t id_len = url_encoded_len(auth->client_id);
	size_t len = id_len + 1 + url_encoded_len(auth->client_secret);
	char *plain = malloc(len + 1), *p, *encoded;

	if (plain == NULL)
		abort();
	p = url_encode_to(plain, auth->client_id);
	*p++ = ':';
	*url_encode_to(p, auth->client_secret) = '\0';
	encoded = moa2_base64_encode(plain, len);
	moa2_secret_free(plain, len + 1);
	if (encoded == NULL)
		abort();
	return encoded;
}

/* name=value&name=value, both URL-encoded; fields whose value is NULL are
   left out. */
static void
form_append(struct moa2_buf *buf, const struct moa2_http_form_field *fields,
	    size_t count)
{
	bool first = true;

	for (size_t i = 0; i < count; i++) {
		char *name, *value;

		if (fields[i].name == NULL || fields[i].value == NULL)
			continue;
		name = moa2_url_encode(fields[i].name);
		value = moa2_url_encode(fields[i].value);
		if (name == NULL || value == NULL)
			abort();
		moa2_buf_printf(buf, "%s%s=%s", first ? "" : "&", name, value);
		moa2_secret_str_free(&name);
		moa2_secret_str_free(&value);
		first = false;
	}
}

static int
request_auth(const struct moa2_http_request *req, struct moa2_buf *buf,
	     const char **error_r)
{
	char *credentials;

	if (req->bearer_token != NULL) {
		if (!header_value_safe(req->bearer_token)) {
			*error_r = "bearer token is empty or has characters not allowed in an HTTP header";
			return -1;
		}
		moa2_buf_printf(buf, "Authorization: Bearer %s\r\n", req->bearer_token);
	}
	if (req->auth != NULL) {
		if (req->auth->client_id == NULL || req->auth->client_secret == NULL) {
			*error_r = "client id or secret missing";
			return -1;
		}
		credentials = basic_auth_credentials(req->auth);
		moa2_buf_printf(buf, "Authorization: Basic %s\r\n", credentials);
		moa2_secret_str_free(&credentials);
	}
	return 0;
}

/* The whole request, head and body, in buf (initialised here). */
int
moa2_http_request_build(const struct moa2_http_client *client,
			const struct moa2_http_request *req,
			const struct moa2_http_target *target,
			struct moa2_buf *buf, const char **error_r)
{
	struct moa2_buf body;

	moa2_buf_init(buf);
	moa2_buf_append_str(buf, req->post ? "POST " : "GET ");
	if (target->path_len == 0 || target->path[0] == '?')
		moa2_buf_append_str(buf, "/");
	moa2_buf_append(buf, target->path, target->path_len);
	moa2_buf_printf(buf, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
			"Accept: application/json\r\n", target->authority,
			client->user_agent);
	if (request_auth(req, buf, error_r) < 0)
		return -1;
	if (!req->post) {
		moa2_buf_append_str(buf, "\r\n");
		return 0;
	}
	moa2_buf_init(&body);
	form_append(&body, req->fields, req->field_count);
	moa2_buf_printf(buf, "Content-Type: application/x-www-form-urlencoded\r\n"
			"Content-Length: %zu\r\n\r\n", body.len);
	moa2_buf_append(buf, body.data, body.len);
	moa2_buf_free(&body);
	return 0;
}
