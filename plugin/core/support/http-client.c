/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 over http-conn.c: the only file of the project that speaks HTTP.

   Failure behaviour: fails closed (see http-client.h). A URL is parsed once,
   by the strict parser of url.c, and the request line, the Host header and
   the connection are made from that parse: there is no second parser to
   disagree with it. A response is read strictly: an HTTP/1.x status line,
   header lines of token names without folding or control characters, a
   Content-Length that is digits only (repeated: the same), no transfer
   coding but chunked; anything else is a transport failure. The body is
   capped while it is read (a Content-Length over the cap fails before it
   is read), and a body delimited by the end of the connection needs the
   TLS close_notify, so a truncated one is never taken for a whole one.
   Error strings are built here and name at most the host and port. Buffers
   that held secrets (request, read buffer, response body, proxy
   credentials) are wiped before they are freed or reused. */
#include "config.h"
#include "support/http-client.h"
#include "support/base64.h"
#include "support/buf.h"
#include "support/http-conn.h"
#include "support/url.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define HTTP_RX_SIZE 16384          /* read buffer; the longest header line */
#define HTTP_MAX_HEAD (64 * 1024)   /* status line and headers of a response */
#define HTTP_MAX_INTERIM 8          /* 1xx responses before the final one */
#define HTTP_MAX_HEADER_VALUE 1024  /* longer captured headers are ignored */
#define HTTP_MIN_BODY_ALLOC 4096
#define HTTP_PROXY_DEFAULT_PORT 1080 /* as libcurl's */
#define HTTP_HOST_MAX 256
#define HTTP_CONN_ID_MAX (2 * HTTP_HOST_MAX + 32)

struct moa2_http_client {
	unsigned int connect_timeout_ms;
	unsigned int total_timeout_ms;
	size_t max_response;
	char *ca_file;
	char *ca_dir;
	void *ca_blob;       /* freed once the TLS context is built */
	size_t ca_blob_len;
	char *user_agent;
	bool allow_http_loopback;
	struct moa2_http_tls *tls;   /* at the first https request */
	struct moa2_http_conn *conn; /* kept alive between requests */
	char conn_id[HTTP_CONN_ID_MAX];
	char *rx;            /* HTTP_RX_SIZE bytes; wiped after each request */
	size_t rx_start, rx_end;
	char error[MOA2_HTTP_ERR_SIZE];
};

/* One request and the secrets it carries. */
struct http_request {
	const char *url;
	const char *bearer_token;
	bool post;
	const struct moa2_http_form_field *fields;
	size_t field_count;
	const struct moa2_http_basic_auth *auth;
};

/* Where a request goes, from the URL's strict parse. */
struct http_target {
	const struct moa2_url *url;
	unsigned int port;
	const char *path;    /* path and query, without the fragment */
	size_t path_len;
	char authority[HTTP_HOST_MAX + 8]; /* Host header and CONNECT target */
};

/* The proxy of the environment, for one request; host[0] == '\0': none. */
struct http_proxy {
	char host[HTTP_HOST_MAX];
	unsigned int port;
	char *authorization; /* "Basic ..." (a secret) or NULL */
};

/* State of one exchange. */
struct http_transfer {
	struct moa2_http_client *client;
	struct moa2_http_response *resp;
	int64_t connect_deadline;
	int64_t deadline;
	size_t body_alloc;
	size_t received;     /* bytes read on this connection for the request */
};

/* What the head of a response says about its body and the connection. */
struct http_head {
	unsigned int minor;  /* HTTP/1.minor */
	long status;
	bool chunked;
	bool has_length;
	uint64_t length;
	bool close;
	size_t bytes;
};

static int MOA2_ATTR_FORMAT(2, 3)
client_fail(struct moa2_http_client *client, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(client->error, sizeof(client->error), fmt, args);
	va_end(args);
	return -1;
}

/* ------------------------------------------------------------ characters */

static bool
ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
ascii_alnum(char c)
{
	return ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
url_unreserved(unsigned char c)
{
	return ascii_alnum((char)c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 9110 tchar: the characters of a header name. */
static bool
http_tchar(char c)
{
	return ascii_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
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

static int
hex_value(char c)
{
	if (ascii_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ------------------------------------------------------------ URL encoding */

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

static void
target_init(struct http_target *target, const struct moa2_url *url,
	    const char *url_str)
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

/* ------------------------------------------------------------ proxy */

/* As libcurl reads them for an https:// URL. */
static const char *
proxy_env(void)
{
	static const char *const names[] = {
		"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *value = getenv(names[i]);

		if (value != NULL && value[0] != '\0')
			return value;
	}
	return NULL;
}

/* no_proxy: "*", or names and addresses separated by commas or spaces; a
   name also matches its subdomains; a leading dot is ignored. */
static bool
no_proxy_matches(const char *host)
{
	const char *list = getenv("no_proxy");
	size_t host_len = strlen(host);

	if (list == NULL || list[0] == '\0')
		list = getenv("NO_PROXY");
	while (list != NULL && *list != '\0') {
		size_t len;

		list += strspn(list, ", \t");
		len = strcspn(list, ", \t");
		if (len == 1 && list[0] == '*')
			return true;
		if (len > 0 && list[0] == '.') {
			list++;
			len--;
		}
		if (len > 2 && list[0] == '[' && list[len - 1] == ']' &&
		    len - 2 == host_len && strncasecmp(list + 1, host, host_len) == 0)
			return true;
		if (len > 0 && (len == host_len ||
				(len < host_len && host[host_len - len - 1] == '.')) &&
		    strncasecmp(list, host + host_len - len, len) == 0)
			return true;
		list += len;
	}
	return false;
}

/* Decodes %XX in [s, s + len) into a malloc()ed string; NULL when bad. */
static char *
percent_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
		lo = hi < 0 ? -1 : hex_value(s[i + 2]);
		if (lo < 0) {
			moa2_secret_free(out, len + 1);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* "Basic base64(user:password)" from the proxy URL's userinfo. */
static int
proxy_credentials(struct http_proxy *proxy, const char *info, size_t len)
{
	const char *colon = memchr(info, ':', len);
	size_t user_len = colon == NULL ? len : (size_t)(colon - info);
	char *user = percent_decode(info, user_len);
	char *pass = colon == NULL ? moa2_strdup("") :
		percent_decode(colon + 1, len - user_len - 1);
	char *plain, *encoded;
	int ret = -1;

	if (user != NULL && pass != NULL) {
		plain = moa2_strdup_printf("%s:%s", user, pass);
		encoded = moa2_base64_encode(plain, strlen(plain));
		if (encoded != NULL) {
			proxy->authorization = moa2_strdup_printf("Basic %s", encoded);
			ret = 0;
		}
		moa2_secret_str_free(&encoded);
		moa2_secret_str_free(&plain);
	}
	moa2_secret_str_free(&user);
	moa2_secret_str_free(&pass);
	return ret;
}

static bool
proxy_host_ok(const char *host, bool ipv6)
{
	if (host[0] == '\0')
		return false;
	for (const char *p = host; *p != '\0'; p++) {
		if (!ascii_alnum(*p) && *p != '-' && *p != '.' && *p != '_' &&
		    !(ipv6 && *p == ':'))
			return false;
	}
	return true;
}

/* [http://][user[:password]@]host[:port][/]; the messages never quote it
   (it may hold the password). */
static int
proxy_parse(const char *value, struct http_proxy *proxy, const char **error_r)
{
	const char *p = strstr(value, "://"), *end, *at, *host, *host_end;
	unsigned long port = HTTP_PROXY_DEFAULT_PORT;
	bool ipv6;

	*error_r = "the proxy of the environment (https_proxy, all_proxy) is not a valid http:// proxy URL";
	if (p != NULL) {
		if (p - value != 4 || strncasecmp(value, "http", 4) != 0) {
			*error_r = "the proxy of the environment (https_proxy, all_proxy) is not an http:// proxy: only those are supported";
			return -1;
		}
		p += 3;
	} else {
		p = value;
	}
	end = p + strcspn(p, "/?#");
	at = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '@')
			at = q;
	}
	if (at != NULL && proxy_credentials(proxy, p, (size_t)(at - p)) < 0)
		return -1;
	host = at != NULL ? at + 1 : p;
	ipv6 = *host == '[';
	if (ipv6) {
		host++;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL)
			return -1;
	} else {
		host_end = memchr(host, ':', (size_t)(end - host));
		if (host_end == NULL)
			host_end = end;
	}
	if ((size_t)(host_end - host) >= sizeof(proxy->host))
		return -1;
	memcpy(proxy->host, host, (size_t)(host_end - host));
	proxy->host[host_end - host] = '\0';
	p = host_end + (ipv6 ? 1 : 0);
	if (p < end) {
		char *port_end;

		if (*p != ':' || !ascii_digit(p[1]))
			return -1;
		port = strtoul(p + 1, &port_end, 10);
		if (port_end != end || port == 0 || port > 65535)
			return -1;
	}
	proxy->port = (unsigned int)port;
	return proxy_host_ok(proxy->host, ipv6) ? 0 : -1;
}

/* The proxy for target, if any: https:// only, never to a loopback address
   or a no_proxy host. */
static int
proxy_for(const struct http_target *target, struct http_proxy *proxy,
	  const char **error_r)
{
	const char *value = target->url->https && !target->url->loopback ?
		proxy_env() : NULL;

	memset(proxy, 0, sizeof(*proxy));
	if (value == NULL || no_proxy_matches(target->url->host))
		return 0;
	if (proxy_parse(value, proxy, error_r) < 0) {
		moa2_secret_str_free(&proxy->authorization);
		memset(proxy, 0, sizeof(*proxy));
		return -1;
	}
	return 0;
}

static void
proxy_clear(struct http_proxy *proxy)
{
	moa2_secret_str_free(&proxy->authorization);
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
request_auth(const struct http_request *req, struct moa2_buf *buf,
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
static int
request_build(const struct moa2_http_client *client,
	      const struct http_request *req, const struct http_target *target,
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

/* ------------------------------------------------------------ reading */

/* Reads more of the response into the read buffer: 1, 0 at the end of the
   stream, -1 on a failure (client->error). */
static int
rx_fill(struct http_transfer *t)
{
	struct moa2_http_client *c = t->client;
	ssize_t n;

	if (c->rx_start == c->rx_end) {
		c->rx_start = c->rx_end = 0;
	} else if (c->rx_end == HTTP_RX_SIZE && c->rx_start > 0) {
		memmove(c->rx, c->rx + c->rx_start, c->rx_end - c->rx_start);
		c->rx_end -= c->rx_start;
		c->rx_start = 0;
	}
	n = moa2_http_conn_read(c->conn, c->rx + c->rx_end,
				HTTP_RX_SIZE - c->rx_end, t->deadline, c->error);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	c->rx_end += (size_t)n;
	t->received += (size_t)n;
	return 1;
}

/* The next line, without its CRLF (or bare LF), valid until the next read:
   1, 0 when the stream ended first, -1 on a failure. */
static int
rx_line(struct http_transfer *t, const char **line_r, size_t *len_r)
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
		if (c->rx_start == 0 && c->rx_end == HTTP_RX_SIZE)
			return client_fail(c, "malformed response: a line longer than %d bytes",
					   HTTP_RX_SIZE);
		if ((ret = rx_fill(t)) <= 0)
			return ret;
	}
}

static bool
status_line_parse(const char *line, size_t len, struct http_head *head)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
	    !ascii_digit(line[9]) || !ascii_digit(line[10]) ||
	    !ascii_digit(line[11]) || (len > 12 && line[12] != ' ') ||
	    !http_value_ok(line, len))
		return false;
	head->minor = (unsigned int)(line[7] - '0');
	head->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	return head->status >= 100;
}

static void
response_headers_clear(struct moa2_http_response *resp)
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
content_length_parse(struct moa2_http_client *c, struct http_head *head,
		     const char *value, size_t len)
{
	uint64_t length = 0;

	if (len == 0 || len > 15)
		return client_fail(c, "malformed response: bad Content-Length");
	for (size_t i = 0; i < len; i++) {
		if (!ascii_digit(value[i]))
			return client_fail(c, "malformed response: bad Content-Length");
		length = length * 10 + (uint64_t)(value[i] - '0');
	}
	if (head->has_length && head->length != length)
		return client_fail(c, "malformed response: two different Content-Lengths");
	head->has_length = true;
	head->length = length;
	return 0;
}

static int
head_header(struct http_transfer *t, struct http_head *head,
	    const char *line, size_t len)
{
	struct moa2_http_client *c = t->client;
	const char *colon = memchr(line, ':', len), *value, *end = line + len;
	size_t name_len;
	char **slot;
	bool join;

	if (colon == NULL || colon == line)
		return client_fail(c, "malformed response: a header line without a name");
	name_len = (size_t)(colon - line);
	for (size_t i = 0; i < name_len; i++) {
		if (!http_tchar(line[i]))
			return client_fail(c, "malformed response: a bad header name or a folded line");
	}
	value = colon + 1;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (!http_value_ok(value, (size_t)(end - value)))
		return client_fail(c, "malformed response: a control character in a header");
	if (name_is(line, name_len, "Content-Length"))
		return content_length_parse(c, head, value, (size_t)(end - value));
	if (name_is(line, name_len, "Transfer-Encoding")) {
		if (head->chunked || !name_is(value, (size_t)(end - value), "chunked"))
			return client_fail(c, "malformed response: a transfer coding other than chunked");
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
static int
head_read(struct http_transfer *t, struct http_head *head)
{
	struct moa2_http_client *c = t->client;

	for (unsigned int interim = 0;; interim++) {
		const char *line;
		size_t len;
		int ret;

		memset(head, 0, sizeof(*head));
		response_headers_clear(t->resp);
		if ((ret = rx_line(t, &line, &len)) <= 0)
			return ret < 0 ? -1 :
				client_fail(c, "connection closed by the server before the response");
		if (!status_line_parse(line, len, head))
			return client_fail(c, "malformed response: not an HTTP/1.x status line");
		head->bytes = len;
		while ((ret = rx_line(t, &line, &len)) > 0 && len > 0) {
			head->bytes += len;
			if (head->bytes > HTTP_MAX_HEAD)
				return client_fail(c, "malformed response: more than %d bytes of headers",
						   HTTP_MAX_HEAD);
			if (head_header(t, head, line, len) < 0)
				return -1;
		}
		if (ret <= 0)
			return ret < 0 ? -1 :
				client_fail(c, "connection closed by the server in the response headers");
		if (head->status >= 200)
			return 0;
		if (head->status == 101 || interim >= HTTP_MAX_INTERIM)
			return client_fail(c, "malformed response: unexpected 1xx responses");
	}
}

/* Grows the body buffer; the old one may hold a token, so it is wiped
   rather than realloc()ed. */
static void
body_reserve(struct http_transfer *t, size_t extra)
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
	return client_fail(c, "response body larger than the maximum of %zu bytes",
			   c->max_response);
}

/* Moves up to want bytes from the read buffer to the body. */
static size_t
body_take(struct http_transfer *t, uint64_t want)
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
body_read_length(struct http_transfer *t, uint64_t length)
{
	struct moa2_http_client *c = t->client;
	int ret;

	if (length > c->max_response - t->resp->body_len)
		return body_too_large(c);
	while (length > 0) {
		if (c->rx_start == c->rx_end && (ret = rx_fill(t)) <= 0)
			return ret < 0 ? -1 :
				client_fail(c, "connection closed by the server before the end of the response body");
		length -= body_take(t, length);
	}
	return 0;
}

/* A body delimited by the end of the connection (for TLS: close_notify). */
static int
body_read_to_end(struct http_transfer *t)
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

	for (; i < len && hex_value(line[i]) >= 0; i++) {
		if (size > (UINT64_MAX >> 4))
			return client_fail(c, "malformed response: chunk size too large");
		size = size << 4 | (uint64_t)hex_value(line[i]);
	}
	if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
		return client_fail(c, "malformed response: bad chunk size");
	*size_r = size;
	return 0;
}

static int
body_read_chunked(struct http_transfer *t)
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
			return client_fail(c, "malformed response: chunk data longer than its size");
	}
	while ((ret = rx_line(t, &line, &len)) > 0 && len > 0) {
		trailer_bytes += len;
		if (trailer_bytes > HTTP_MAX_HEAD)
			return client_fail(c, "malformed response: trailer too large");
	}
	if (ret > 0)
		return 0;
ended:
	return ret < 0 ? -1 :
		client_fail(c, "connection closed by the server before the end of the response body");
}

/* Reads one response; keep_r: the connection can carry another request. */
static int
response_read(struct http_transfer *t, bool *keep_r)
{
	struct moa2_http_client *c = t->client;
	struct http_head head;
	bool no_body;
	int ret;

	*keep_r = false;
	if (head_read(t, &head) < 0)
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

/* ------------------------------------------------------------ connection */

static int
tls_ready(struct moa2_http_client *c)
{
	const struct moa2_http_tls_config config = {
		.ca_blob = c->ca_blob,
		.ca_blob_len = c->ca_blob_len,
		.ca_file = c->ca_file,
		.ca_dir = c->ca_dir,
	};

	if (c->tls != NULL)
		return 0;
	if (moa2_http_tls_acquire(&config, &c->tls, c->error) < 0)
		return -1;
	/* the context holds the CAs now */
	free(c->ca_blob);
	c->ca_blob = NULL;
	return 0;
}

/* CONNECT through the proxy, on the connection to it. */
static int
proxy_tunnel(struct http_transfer *t, const struct http_target *target,
	     const struct http_proxy *proxy)
{
	struct moa2_http_client *c = t->client;
	struct moa2_http_response scratch = { 0 };
	struct http_transfer pt = {
		.client = c,
		.resp = &scratch,
		.deadline = t->connect_deadline,
	};
	struct http_head head;
	char hostport[HTTP_HOST_MAX + 8];
	struct moa2_buf req;
	int ret;

	snprintf(hostport, sizeof(hostport), "%s%s%s:%u", target->url->ipv6 ? "[" : "",
		 target->url->host, target->url->ipv6 ? "]" : "", target->port);
	moa2_buf_init(&req);
	moa2_buf_printf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n",
			hostport, hostport, c->user_agent);
	if (proxy->authorization != NULL)
		moa2_buf_printf(&req, "Proxy-Authorization: %s\r\n", proxy->authorization);
	moa2_buf_append_str(&req, "\r\n");
	ret = moa2_http_conn_write(c->conn, req.data, req.len, pt.deadline, c->error);
	moa2_buf_free(&req);
	if (ret == 0)
		ret = head_read(&pt, &head);
	response_headers_clear(&scratch);
	if (ret < 0)
		return -1;
	if (head.status / 100 != 2)
		return client_fail(c, "the proxy %s port %u refused the tunnel to %s port %u: HTTP %ld",
				   proxy->host, proxy->port, target->url->host, target->port,
				   head.status);
	if (c->rx_start != c->rx_end)
		return client_fail(c, "the proxy %s port %u sent data before the TLS handshake",
				   proxy->host, proxy->port);
	return 0;
}

static void
conn_id_make(char *id, const struct http_target *target,
	     const struct http_proxy *proxy)
{
	snprintf(id, HTTP_CONN_ID_MAX, "%s %s %u %s %u",
		 target->url->https ? "https" : "http", target->url->host,
		 target->port, proxy->host, proxy->port);
}

static int
conn_open(struct http_transfer *t, const struct http_target *target,
	  const struct http_proxy *proxy)
{
	struct moa2_http_client *c = t->client;
	bool via_proxy = proxy->host[0] != '\0';

	if (target->url->https && tls_ready(c) < 0)
		return -1;
	if (moa2_http_conn_connect(via_proxy ? proxy->host : target->url->host,
				   via_proxy ? proxy->port : target->port,
				   t->connect_deadline, &c->conn, c->error) < 0)
		return -1;
	t->resp->new_connections++;
	if ((via_proxy && proxy_tunnel(t, target, proxy) < 0) ||
	    (target->url->https &&
	     moa2_http_conn_start_tls(c->conn, c->tls, target->url->host,
				      t->connect_deadline, c->error) < 0)) {
		moa2_http_conn_close(&c->conn);
		return -1;
	}
	conn_id_make(c->conn_id, target, proxy);
	return 0;
}

/* The kept-alive connection, if it goes where this request goes and is
   still usable: true. Otherwise it is closed. */
static bool
conn_reuse(struct moa2_http_client *c, const struct http_target *target,
	   const struct http_proxy *proxy)
{
	char id[HTTP_CONN_ID_MAX];

	if (c->conn == NULL)
		return false;
	conn_id_make(id, target, proxy);
	if (strcmp(id, c->conn_id) == 0 && moa2_http_conn_reusable(c->conn))
		return true;
	moa2_http_conn_close(&c->conn);
	return false;
}

/* Sends the request and reads the response, on the kept-alive connection
   when there is one: when the server closed that one meanwhile (nothing of
   a response came back), once more on a new connection, as libcurl does. */
static int
exchange(struct http_transfer *t, const struct http_target *target,
	 const struct http_proxy *proxy, const struct moa2_buf *request)
{
	struct moa2_http_client *c = t->client;

	for (unsigned int attempt = 0;; attempt++) {
		bool reused = conn_reuse(c, target, proxy), keep = false;

		if (!reused && conn_open(t, target, proxy) < 0)
			return -1;
		c->rx_start = c->rx_end = 0;
		t->received = 0;
		if (moa2_http_conn_write(c->conn, request->data, request->len,
					 t->deadline, c->error) == 0 &&
		    response_read(t, &keep) == 0) {
			if (!keep)
				moa2_http_conn_close(&c->conn);
			return 0;
		}
		moa2_http_conn_close(&c->conn);
		if (!reused || t->received > 0 || attempt > 0 ||
		    moa2_http_now_ms() >= t->deadline)
			return -1;
		moa2_http_response_clear(t->resp);
		t->body_alloc = 0;
	}
}

static int
http_perform(struct moa2_http_client *client, const struct http_request *req,
	     struct moa2_http_response *resp_r, const char **error_r)
{
	int64_t now = moa2_http_now_ms();
	struct http_transfer transfer = {
		.client = client,
		.resp = resp_r,
		.deadline = now + client->total_timeout_ms,
	};
	struct http_target target;
	struct http_proxy proxy = { .host = "" };
	struct moa2_buf request = { 0 };
	struct moa2_url info;
	int ret = -1;

	memset(resp_r, 0, sizeof(*resp_r));
	client->error[0] = '\0';
	transfer.connect_deadline = now + client->connect_timeout_ms;
	if (transfer.connect_deadline > transfer.deadline)
		transfer.connect_deadline = transfer.deadline;
	if (moa2_url_check(req->url, client->allow_http_loopback, &info, error_r) < 0)
		return -1;
	target_init(&target, &info, req->url);
	if (proxy_for(&target, &proxy, error_r) < 0 ||
	    request_build(client, req, &target, &request, error_r) < 0)
		goto out;
	if (client->rx == NULL && (client->rx = malloc(HTTP_RX_SIZE)) == NULL)
		abort();
	ret = exchange(&transfer, &target, &proxy, &request);
	if (ret < 0)
		*error_r = client->error;
out:
	if (request.data != NULL)
		moa2_buf_free(&request);
	proxy_clear(&proxy);
	if (client->rx != NULL)
		OPENSSL_cleanse(client->rx, HTTP_RX_SIZE);
	if (ret < 0)
		moa2_http_response_clear(resp_r);
	return ret;
}

int
moa2_http_get(struct moa2_http_client *client, const char *url,
	      const char *bearer_token, struct moa2_http_response *resp_r,
	      const char **error_r)
{
	const struct http_request req = {
		.url = url,
		.bearer_token = bearer_token,
	};

	return http_perform(client, &req, resp_r, error_r);
}

int
moa2_http_post_form(struct moa2_http_client *client, const char *url,
		    const struct moa2_http_form_field *fields, size_t count,
		    const struct moa2_http_basic_auth *auth,
		    struct moa2_http_response *resp_r, const char **error_r)
{
	const struct http_request req = {
		.url = url,
		.post = true,
		.fields = fields,
		.field_count = count,
		.auth = auth,
	};

	return http_perform(client, &req, resp_r, error_r);
}

void
moa2_http_response_clear(struct moa2_http_response *resp)
{
	if (resp == NULL)
		return;
	if (resp->body != NULL)
		moa2_secret_free(resp->body, resp->body_len);
	response_headers_clear(resp);
	memset(resp, 0, sizeof(*resp));
}

/* ------------------------------------------------------------ client */

static int
str_dup_opt(const char *src, char **dest_r)
{
	*dest_r = NULL;
	if (src == NULL)
		return 0;
	*dest_r = strdup(src);
	return *dest_r == NULL ? -1 : 0;
}

static int
http_client_copy_settings(struct moa2_http_client *client,
			  const struct moa2_http_settings *set,
			  const char **error_r)
{
	const char *agent = set->user_agent != NULL ? set->user_agent :
		PACKAGE_NAME "/" PACKAGE_VERSION;

	client->connect_timeout_ms = set->connect_timeout_ms != 0 ?
		set->connect_timeout_ms : MOA2_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	client->total_timeout_ms = set->total_timeout_ms != 0 ?
		set->total_timeout_ms : MOA2_HTTP_DEFAULT_TOTAL_TIMEOUT_MS;
	client->max_response = set->max_response != 0 ?
		set->max_response : MOA2_HTTP_DEFAULT_MAX_RESPONSE;
	client->allow_http_loopback = set->allow_http_loopback;
	for (const char *p = agent; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			*error_r = "user agent has characters not allowed in an HTTP header";
			return -1;
		}
	}
	*error_r = "out of memory";
	if (str_dup_opt(set->ca_file, &client->ca_file) < 0 ||
	    str_dup_opt(set->ca_dir, &client->ca_dir) < 0 ||
	    str_dup_opt(agent, &client->user_agent) < 0)
		return -1;
	if (set->ca_blob != NULL) {
		if (set->ca_blob_len == 0) {
			*error_r = "CA bundle in memory is empty";
			return -1;
		}
		client->ca_blob = malloc(set->ca_blob_len);
		if (client->ca_blob == NULL)
			return -1;
		memcpy(client->ca_blob, set->ca_blob, set->ca_blob_len);
		client->ca_blob_len = set->ca_blob_len;
	}
	return 0;
}

int
moa2_http_client_create(const struct moa2_http_settings *settings,
			struct moa2_http_client **client_r,
			const char **error_r)
{
	static const struct moa2_http_settings defaults;
	struct moa2_http_client *client;

	*client_r = NULL;
	client = calloc(1, sizeof(*client));
	if (client == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	if (http_client_copy_settings(client, settings != NULL ? settings :
				      &defaults, error_r) < 0) {
		moa2_http_client_destroy(&client);
		return -1;
	}
	*client_r = client;
	return 0;
}

void
moa2_http_client_destroy(struct moa2_http_client **client)
{
	struct moa2_http_client *c = *client;

	if (c == NULL)
		return;
	*client = NULL;
	moa2_http_conn_close(&c->conn);
	moa2_http_tls_release(&c->tls);
	if (c->rx != NULL)
		moa2_secret_free(c->rx, HTTP_RX_SIZE);
	free(c->ca_file);
	free(c->ca_dir);
	free(c->ca_blob);
	free(c->user_agent);
	free(c);
}

/* ------------------------------------------------------------ CA bundle */

static const char *
ca_open_error(int err)
{
	switch (err) {
	case ENOENT:
		return "CA file not found (when chrooted, it must be loaded before the chroot)";
	case EACCES:
		return "CA file not readable: permission denied";
	default:
		return "CA file cannot be opened";
	}
}

int
moa2_http_load_ca_file(const char *path, void **blob_r, size_t *len_r,
		       const char **error_r)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	*blob_r = NULL;
	*len_r = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*error_r = ca_open_error(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "CA file is not a regular file";
		goto fail;
	}
	if ((unsigned long long)st.st_size > MOA2_HTTP_MAX_CA_FILE) {
		*error_r = "CA file too large";
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		*error_r = "out of memory";
		goto fail;
	}
	if (moa2_read_all(fd, buf, (size_t)st.st_size, &len) < 0) {
		*error_r = "CA file cannot be read";
		goto fail;
	}
	buf[len] = '\0';
	if (strstr(buf, "-----BEGIN CERTIFICATE-----") == NULL) {
		*error_r = "CA file holds no PEM certificate";
		goto fail;
	}
	close(fd);
	*blob_r = buf;
	*len_r = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}
