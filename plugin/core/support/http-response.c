/* SPDX-License-Identifier: MIT */
/* The HTTP client's response reader: the status line, the headers and the
   body of one response, from the client's read buffer and its connection.

   Failure behaviour: fails closed. A response is read strictly: an
   HTTP/1.x status line, header lines of token names without folding or
   control characters, a Content-Length that is digits only (repeated: the
   same), no transfer coding but chunked; anything else is a transport
   failure (-1, client->error). The body is capped while it is read (a
   Content-Length over the cap fails before it is read), and a body
   delimited by the end of the connection needs the TLS close_notify, so a
   truncated one is never taken for a whole one. A body buffer that is
   outgrown is wiped, not realloc()ed: it may hold a token. */
#include "config.h"
#include "support/http-client-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_HEAD (64 * 1024)   /* status line and headers of a response */
#define HTTP_MAX_INTERIM 8          /* 1xx responses before the final one */
#define HTTP_MAX_HEADER_VALUE 1024  /* longer captured headers are ignored */
#define HTTP_MIN_BODY_ALLOC 4096

/* ------------------------------------------------------------ characters */

/* RFC 9110 tchar: the characters of a header name. */
static bool
http_tchar(char c)
{
	return moa2_ascii_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Control characters other than HTAB are refused in header values. */
static bool
http_value_ok(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ read buffer */

/* Reads more of the response into the read buffer: 1, 0 at the end of the
   stream, -1 on a failure (client->error). */
static int
rx_fill(struct moa2_http_transfer *t)
{
	struct moa2_http_client *c = t->client;
	ssize_t n;

	if (c->rx_start == c->rx_end) {
		c->rx_start = c->rx_end = 0;
	} else if (c->rx_end == MOA2_HTTP_RX_SIZE && c->rx_start > 0) {
		memmove(c->rx, c->rx + c->rx_start, c->rx_end - c->rx_start);
		c->rx_end -= c->rx_start;
		c->rx_start = 0;
	}
	n = moa2_http_conn_read(c->conn, c->rx + c->rx_end,
				MOA2_HTTP_RX_SIZE - c->rx_end, t->deadline, c->error);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	c->rx_end += (size_t)n;
	t->received += (size_t)n;
	return 1;
}

/* The next line, without its CRLF (or bare LF), valid until the next read:
   1, 0 when the stream ended first, -1 on a failure. */
static int
rx_line(struct moa2_http_transfer *t, const char **line_r, size_t *len_r)
{
	struct moa2_http_client *c = t->client;

	for (;;) {
		const char *start = c->rx + c->rx_start;
		const char *nl = memchr(start, '\n', c->rx_end - c->rx_start);
		int ret;

		if (nl != NULL) {
			size_t len = (size_t)(nl - start);

			if (len > 0 && start[len - 1] == '\r')
				len--;
			*line_r = start;
			*len_r = len;
			c->rx_start = (size_t)(nl + 1 - c->rx);
			return 1;
		}
		if (c->rx_start == 0 && c->rx_end == MOA2_HTTP_RX_SIZE)
			return moa2_http_client_fail(c, "malformed response: a line longer than %d bytes",
						     MOA2_HTTP_RX_SIZE);
		if ((ret = rx_fill(t)) <= 0)
			return ret;
	}
}

/* ------------------------------------------------------------ head */

static bool
status_line_parse(const char *line, size_t len, struct moa2_http_head *head)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
	    !moa2_ascii_digit(line[9]) || !moa2_ascii_digit(line[10]) ||
	    !moa2_ascii_digit(line[11]) || (len > 12 && line[12] != ' ') ||
	    !http_value_ok(line, len))
		return false;
	head->minor = (unsigned int)(line[7] - '0');
	head->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	return head->status >= 100;
}

void
moa2_http_response_headers_clear(struct moa2_http_response *resp)
{
	free(resp->cache_control);
	free(resp->content_type);
	free(resp->retry_after);
	resp->cache_control = NULL;
	resp->content_type = NULL;
	resp->retry_after = NULL;
}

/* The slot for a captured header, NULL for the others. */
static char **
response_header_slot(struct moa2_http_response *resp, const char *name,
		     size_t name_len, bool *join_r)
{
	*join_r = false;
	if (name_len == 13 && strncasecmp(name, "Cache-Control", 13) == 0) {
		*join_r = true;
		return &resp->cache_control;
	}
	if (name_len == 12 && strncasecmp(name, "Content-Type", 12) == 0)
		return &resp->content_type;
	if (name_len == 11 && strncasecmp(name, "Retry-After", 11) == 0)
		return &resp->retry_after;
	return NULL;
}

static void
header_store(char **slot, const char *value, size_t len, bool join)
{
	size_t old_len = join && *slot != NULL ? strlen(*slot) : 0;
	char *str;

	if (len > HTTP_MAX_HEADER_VALUE ||
	    (old_len > 0 && old_len + len > HTTP_MAX_HEADER_VALUE))
		return; /* no legitimate value is that long: keep what we have */
	str = malloc(old_len + 2 + len + 1);
	if (str == NULL)
		abort();
	if (old_len > 0) {
		memcpy(str, *slot, old_len);
		memcpy(str + old_len, ", ", 2);
		old_len += 2;
	}
	memcpy(str + old_len, value, len);
	str[old_len + len] = '\0';
	free(*slot);
	*slot = str;
}

static bool
name_is(const char *name, size_t len, const char *expected)
{
	return len == strlen(expected) && strncasecmp(name, expected, len) == 0;
}

/* True if the comma-separated list value holds token. */
static bool
list_has(const char *value, size_t len, const char *token)
{
	const char *end = value + len;
	size_t token_len = strlen(token);

	while (value < end) {
		const char *item_end = memchr(value, ',', (size_t)(end - value));
		const char *a = value, *b;

		if (item_end == NULL)
			item_end = end;
		b = item_end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if ((size_t)(b - a) == token_len && strncasecmp(a, token, token_len) == 0)
			return true;
		if (item_end == end)
			break;
		value = item_end + 1;
	}
	return false;
}

static int
content_length_parse(struct moa2_http_client *c, struct moa2_http_head *head,
		     const char *value, size_t len)
{
	uint64_t length = 0;

	if (len == 0 || len > 15)
		return moa2_http_client_fail(c, "malformed response: bad Content-Length");
	for (size_t i = 0; i < len; i++) {
		if (!moa2_ascii_digit(value[i]))
			return moa2_http_client_fail(c, "malformed response: bad Content-Length");
		length = length * 10 + (uint64_t)(value[i] - '0');
	}
	if (head->has_length && head->length != length)
		return moa2_http_client_fail(c, "malformed response: two different Content-Lengths");
	head->has_length = true;
	head->length = length;
	return 0;
}

static int
head_header(struct moa2_http_transfer *t, struct moa2_http_head *head,
	    const char *line, size_t len)
{
	struct moa2_http_client *c = t->client;
	const char *colon = memchr(line, ':', len), *value, *end = line + len;
	size_t name_len;
	char **slot;
	bool join;

	if (colon == NULL || colon == line)
		return moa2_http_client_fail(c, "malformed response: a header line without a name");
	name_len = (size_t)(colon - line);
	for (size_t i = 0; i < name_len; i++) {
		if (!http_tchar(line[i]))
			return moa2_http_client_fail(c, "malformed response: a bad header name or a folded line");
	}
	value = colon + 1;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (!http_value_ok(value, (size_t)(end - value)))
		return moa2_http_client_fail(c, "malformed response: a control character in a header");
	if (name_is(line, name_len, "Content-Length"))
		return content_length_parse(c, head, value, (size_t)(end - value));
	if (name_is(line, name_len, "Transfer-Encoding")) {
		if (head->chunked || !name_is(value, (size_t)(end - value), "chunked"))
			return moa2_http_client_fail(c, "malformed response: a transfer coding other than chunked");
		head->chunked = true;
		return 0;
	}
	if (name_is(line, name_len, "Connection")) {
		head->close = head->close || list_has(value, (size_t)(end - value), "close");
		return 0;
	}
	slot = response_header_slot(t->resp, line, name_len, &join);
	if (slot != NULL)
		header_store(slot, value, (size_t)(end - value), join);
	return 0;
}

/* The status line and headers of one response (after any 1xx ones). */
int
moa2_http_head_read(struct moa2_http_transfer *t, struct moa2_http_head *head)
{
	struct moa2_http_client *c = t->client;

	for (unsigned int interim = 0;; interim++) {
		const char *line;
		size_t len;
		int ret;

		memset(head, 0, sizeof(*head));
		moa2_http_response_headers_clear(t->resp);
		if ((ret = rx_line(t, &line, &len)) <= 0)
			return ret < 0 ? -1 :
				moa2_http_client_fail(c, "connection closed by the server before the response");
		if (!status_line_parse(line, len, head))
			return moa2_http_client_fail(c, "malformed response: not an HTTP/1.x status line");
		head->bytes = len;
		while ((ret = rx_line(t, &line, &len)) > 0 && len > 0) {
			head->bytes += len;
			if (head->bytes > HTTP_MAX_HEAD)
				return moa2_http_client_fail(c, "malformed response: more than %d bytes of headers",
							     HTTP_MAX_HEAD);
			if (head_header(t, head, line, len) < 0)
				return -1;
		}
		if (ret <= 0)
			return ret < 0 ? -1 :
				moa2_http_client_fail(c, "connection closed by the server in the response headers");
		if (head->status >= 200)
			return 0;
		if (head->status == 101 || interim >= HTTP_MAX_INTERIM)
			return moa2_http_client_fail(c, "malformed response: unexpected 1xx responses");
	}
}

/* ------------------------------------------------------------ body */

/* Grows the body buffer; the old one may hold a token, so it is wiped
   rather than realloc()ed. */
static void
body_reserve(struct moa2_http_transfer *t, size_t extra)
{
	struct moa2_http_response *resp = t->resp;
	size_t need = resp->body_len + extra + 1;
	size_t new_alloc;
	char *body;

	if (need <= t->body_alloc)
		return;
	new_alloc = t->body_alloc < HTTP_MIN_BODY_ALLOC / 2 ?
		HTTP_MIN_BODY_ALLOC : t->body_alloc * 2;
	if (new_alloc < need)
		new_alloc = need;
	if (new_alloc > t->client->max_response + 1)
		new_alloc = t->client->max_response + 1;
	body = malloc(new_alloc);
	if (body == NULL)
		abort();
	if (resp->body != NULL) {
		memcpy(body, resp->body, resp->body_len);
		moa2_secret_free(resp->body, t->body_alloc);
	}
	resp->body = body;
	t->body_alloc = new_alloc;
}

static int
body_too_large(struct moa2_http_client *c)
{
	return moa2_http_client_fail(c, "response body larger than the maximum of %zu bytes",
				     c->max_response);
}

/* Moves up to want bytes from the read buffer to the body. */
static size_t
body_take(struct moa2_http_transfer *t, uint64_t want)
{
	struct moa2_http_client *c = t->client;
	struct moa2_http_response *resp = t->resp;
	size_t len = c->rx_end - c->rx_start;

	if (want < len)
		len = (size_t)want;
	body_reserve(t, len);
	memcpy(resp->body + resp->body_len, c->rx + c->rx_start, len);
	resp->body_len += len;
	resp->body[resp->body_len] = '\0';
	c->rx_start += len;
	return len;
}

/* Exactly length more body bytes. */
static int
body_read_length(struct moa2_http_transfer *t, uint64_t length)
{
	struct moa2_http_client *c = t->client;
	int ret;

	if (length > c->max_response - t->resp->body_len)
		return body_too_large(c);
	while (length > 0) {
		if (c->rx_start == c->rx_end && (ret = rx_fill(t)) <= 0)
			return ret < 0 ? -1 :
				moa2_http_client_fail(c, "connection closed by the server before the end of the response body");
		length -= body_take(t, length);
	}
	return 0;
}

/* A body delimited by the end of the connection (for TLS: close_notify). */
static int
body_read_to_end(struct moa2_http_transfer *t)
{
	struct moa2_http_client *c = t->client;
	int ret;

	for (;;) {
		size_t avail = c->rx_end - c->rx_start;

		if (avail > c->max_response - t->resp->body_len)
			return body_too_large(c);
		body_take(t, avail);
		if ((ret = rx_fill(t)) <= 0)
			return ret;
	}
}

/* chunk-size [ chunk-ext ]: hex digits, then nothing or ';' or blanks. */
static int
chunk_size_parse(struct moa2_http_client *c, const char *line, size_t len,
		 uint64_t *size_r)
{
	uint64_t size = 0;
	size_t i = 0;

	for (; i < len && moa2_ascii_hex_value(line[i]) >= 0; i++) {
		if (size > (UINT64_MAX >> 4))
			return moa2_http_client_fail(c, "malformed response: chunk size too large");
		size = size << 4 | (uint64_t)moa2_ascii_hex_value(line[i]);
	}
	if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
		return moa2_http_client_fail(c, "malformed response: bad chunk size");
	*size_r = size;
	return 0;
}

static int
body_read_chunked(struct moa2_http_transfer *t)
{
	struct moa2_http_client *c = t->client;
	size_t trailer_bytes = 0;
	const char *line;
	uint64_t size = 0;
	size_t len;
	int ret;

	for (;;) {
		if ((ret = rx_line(t, &line, &len)) <= 0)
			goto ended;
		if (chunk_size_parse(c, line, len, &size) < 0)
			return -1;
		if (size == 0)
			break;
		if (body_read_length(t, size) < 0)
			return -1;
		if ((ret = rx_line(t, &line, &len)) <= 0)
			goto ended;
		if (len != 0)
			return moa2_http_client_fail(c, "malformed response: chunk data longer than its size");
	}
	while ((ret = rx_line(t, &line, &len)) > 0 && len > 0) {
		trailer_bytes += len;
		if (trailer_bytes > HTTP_MAX_HEAD)
			return moa2_http_client_fail(c, "malformed response: trailer too large");
	}
	if (ret > 0)
		return 0;
ended:
	return ret < 0 ? -1 :
		moa2_http_client_fail(c, "connection closed by the server before the end of the response body");
}

/* ------------------------------------------------------------ response */

/* Reads one response; keep_r: the connection can carry another request. */
int
moa2_http_response_read(struct moa2_http_transfer *t, bool *keep_r)
{
	struct moa2_http_client *c = t->client;
	struct moa2_http_head head;
	bool no_body;
	int ret;

	*keep_r = false;
	if (moa2_http_head_read(t, &head) < 0)
		return -1;
	t->resp->status = head.status;
	no_body = head.status == 204 || head.status == 304;
	if (no_body)
		ret = 0;
	else if (head.chunked)
		ret = body_read_chunked(t);
	else if (head.has_length)
		ret = body_read_length(t, head.length);
	else
		ret = body_read_to_end(t);
	if (ret < 0)
		return -1;
	if (t->resp->body == NULL) {
		body_reserve(t, 0);
		t->resp->body[0] = '\0';
	}
	*keep_r = head.minor == 1 && !head.close &&
		(no_body || head.chunked || head.has_length) &&
		c->rx_start == c->rx_end;
	return 0;
}
