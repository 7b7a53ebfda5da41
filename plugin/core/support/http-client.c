/* HTTP over libcurl: the only file of the project that talks to libcurl.

   Failure behaviour: fails closed (see http-client.h). A URL is checked by a
   strict parser of our own and then parsed again by libcurl, and the request
   is refused unless both read the same scheme and host. Transport failures
   return -1 with a message built from libcurl's, dropped in favour of the
   generic one when it could quote the URL's path or query, the token or a
   form value. Buffers that held secrets (form body, Authorization header,
   response body) are wiped before they are freed. */
#include "config.h"
#include "support/http-client.h"
#include "support/base64.h"
#include "support/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#define HTTP_MAX_HEADER_VALUE 1024 /* longer captured headers are ignored */
#define HTTP_ERROR_SIZE 320
#define HTTP_HOST_MAX 253
#define HTTP_MIN_BODY_ALLOC 4096

#define CURL_VERSION_HAS_PROTOCOLS_STR (LIBCURL_VERSION_NUM >= 0x075500)
#define CURL_VERSION_HAS_CAINFO_BLOB (LIBCURL_VERSION_NUM >= 0x074d00)

struct moa2_http_client {
	CURL *curl;
	unsigned int connect_timeout_ms;
	unsigned int total_timeout_ms;
	size_t max_response;
	char *ca_file;
	char *ca_dir;
	void *ca_blob;
	size_t ca_blob_len;
	char *user_agent;
	bool allow_http_loopback;
	char curl_error[CURL_ERROR_SIZE];
	char error[HTTP_ERROR_SIZE];
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

/* State shared with the libcurl callbacks during one transfer. */
struct http_transfer {
	struct moa2_http_response *resp;
	size_t max_response;
	size_t body_alloc;
	bool too_large;
	bool out_of_memory;
};

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

/* Parses the URL again with libcurl's parser, which is what the transfer
   uses, and refuses it unless scheme and host read the same. */
static bool
curlu_host_matches(CURLU *curlu, const struct moa2_url *info)
{
	char *scheme = NULL, *host = NULL;
	bool match = false;

	if (curl_url_get(curlu, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(curlu, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, info->https ? "https" : "http") != 0)
		goto out;
	if (info->ipv6) {
		struct in6_addr ours, theirs;
		size_t host_len = strlen(host);
		char inner[INET6_ADDRSTRLEN];

		if (host_len < 3 || host_len - 2 >= sizeof(inner) ||
		    host[0] != '[' || host[host_len - 1] != ']')
			goto out;
		memcpy(inner, host + 1, host_len - 2);
		inner[host_len - 2] = '\0';
		match = inet_pton(AF_INET6, inner, &theirs) == 1 &&
			inet_pton(AF_INET6, info->host, &ours) == 1 &&
			memcmp(&ours, &theirs, sizeof(ours)) == 0;
	} else {
		match = strcasecmp(host, info->host) == 0;
	}
out:
	curl_free(scheme);
	curl_free(host);
	return match;
}

static int
http_curlu_create(const char *url, const struct moa2_url *info,
		  CURLU **curlu_r, const char **error_r)
{
	CURLU *curlu = curl_url();

	*curlu_r = NULL;
	if (curlu == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	if (curl_url_set(curlu, CURLUPART_URL, url, 0) != CURLUE_OK) {
		*error_r = "URL refused by libcurl's URL parser";
		curl_url_cleanup(curlu);
		return -1;
	}
	if (!curlu_host_matches(curlu, info)) {
		*error_r = "URL is ambiguous: libcurl reads another scheme or host";
		curl_url_cleanup(curlu);
		return -1;
	}
	*curlu_r = curlu;
	return 0;
}

/* ------------------------------------------------------------ callbacks */

/* Grows the body buffer; the old one may hold a token, so it is wiped
   rather than realloc()ed. */
static int
body_reserve(struct http_transfer *transfer, size_t extra)
{
	struct moa2_http_response *resp = transfer->resp;
	size_t need = resp->body_len + extra + 1;
	size_t new_alloc;
	char *body;

	if (need <= transfer->body_alloc)
		return 0;
	new_alloc = transfer->body_alloc < HTTP_MIN_BODY_ALLOC / 2 ?
		HTTP_MIN_BODY_ALLOC : transfer->body_alloc * 2;
	if (new_alloc < need)
		new_alloc = need;
	if (new_alloc > transfer->max_response + 1)
		new_alloc = transfer->max_response + 1;
	body = malloc(new_alloc);
	if (body == NULL)
		return -1;
	if (resp->body != NULL) {
		memcpy(body, resp->body, resp->body_len);
		moa2_secret_free(resp->body, transfer->body_alloc);
	}
	resp->body = body;
	transfer->body_alloc = new_alloc;
	return 0;
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *context)
{
	struct http_transfer *transfer = context;
	struct moa2_http_response *resp = transfer->resp;
	size_t len = size * nmemb;

	if (len > transfer->max_response - resp->body_len) {
		transfer->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (body_reserve(transfer, len) < 0) {
		transfer->out_of_memory = true;
		return 0;
	}
	memcpy(resp->body + resp->body_len, data, len);
	resp->body_len += len;
	resp->body[resp->body_len] = '\0';
	return len;
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

static int
header_store(char **slot, const char *value, size_t len, bool join)
{
	size_t old_len = join && *slot != NULL ? strlen(*slot) : 0;
	char *str;

	if (old_len > 0 && old_len + len > HTTP_MAX_HEADER_VALUE)
		return 0; /* keep what we have */
	str = malloc(old_len + 2 + len + 1);
	if (str == NULL)
		return -1;
	if (old_len > 0) {
		memcpy(str, *slot, old_len);
		memcpy(str + old_len, ", ", 2);
		old_len += 2;
	}
	memcpy(str + old_len, value, len);
	str[old_len + len] = '\0';
	free(*slot);
	*slot = str;
	return 0;
}

static size_t
http_header_cb(char *data, size_t size, size_t nitems, void *context)
{
	struct http_transfer *transfer = context;
	size_t len = size * nitems;
	const char *colon, *value, *end;
	char **slot;
	bool join;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* a new response (after a 1xx or a proxy's CONNECT reply) */
		response_headers_clear(transfer->resp);
		return len;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return len;
	slot = response_header_slot(transfer->resp, data,
				    (size_t)(colon - data), &join);
	if (slot == NULL)
		return len;
	value = colon + 1;
	end = data + len;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value && (end[-1] == '\r' || end[-1] == '\n' ||
			       end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - value) > HTTP_MAX_HEADER_VALUE)
		return len; /* no legitimate value is that long */
	if (header_store(slot, value, (size_t)(end - value), join) < 0) {
		transfer->out_of_memory = true;
		return 0;
	}
	return len;
}

/* ------------------------------------------------------------ headers, body */

static int
headers_append(struct curl_slist **headers, const char *line)
{
	struct curl_slist *list = curl_slist_append(*headers, line);

	if (list == NULL)
		return -1;
	*headers = list;
	return 0;
}

/* curl_slist_append copies the lines: wipe the copies (Authorization). */
static void
headers_free(struct curl_slist **headers)
{
	for (struct curl_slist *node = *headers; node != NULL; node = node->next)
		OPENSSL_cleanse(node->data, strlen(node->data));
	curl_slist_free_all(*headers);
	*headers = NULL;
}

/* Appends "prefix value" as a header line, wiping the temporary copy. */
static int
headers_append_secret(struct curl_slist **headers, const char *prefix,
		      const char *value)
{
	size_t prefix_len = strlen(prefix), value_len = strlen(value);
	size_t len = prefix_len + value_len + 1;
	char *line = malloc(len);
	int ret;

	if (line == NULL)
		return -1;
	memcpy(line, prefix, prefix_len);
	memcpy(line + prefix_len, value, value_len + 1);
	ret = headers_append(headers, line);
	moa2_secret_free(line, len);
	return ret;
}

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
		return NULL;
	p = url_encode_to(plain, auth->client_id);
	*p++ = ':';
	*url_encode_to(p, auth->client_secret) = '\0';
	encoded = moa2_base64_encode(plain, len);
	moa2_secret_free(plain, len + 1);
	return encoded;
}

static int
http_build_headers(const struct http_request *req,
		   struct curl_slist **headers_r, const char **error_r)
{
	*error_r = "out of memory";
	if (headers_append(headers_r, "Accept: application/json") < 0)
		return -1;
	if (req->post &&
	    (headers_append(headers_r, "Content-Type: application/x-www-form-urlencoded") < 0 ||
	     headers_append(headers_r, "Expect:") < 0))
		return -1;
	if (req->bearer_token != NULL) {
		if (!header_value_safe(req->bearer_token)) {
			*error_r = "bearer token is empty or has characters not allowed in an HTTP header";
			return -1;
		}
		if (headers_append_secret(headers_r, "Authorization: Bearer ",
					  req->bearer_token) < 0)
			return -1;
	}
	if (req->auth != NULL) {
		char *credentials;
		int ret;

		if (req->auth->client_id == NULL ||
		    req->auth->client_secret == NULL) {
			*error_r = "client id or secret missing";
			return -1;
		}
		credentials = basic_auth_credentials(req->auth);
		if (credentials == NULL)
			return -1;
		ret = headers_append_secret(headers_r, "Authorization: Basic ",
					    credentials);
		moa2_secret_str_free(&credentials);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* name=value&name=value, both URL-encoded; fields whose value is NULL are
   left out. */
static int
form_build_body(const struct moa2_http_form_field *fields, size_t count,
		char **body_r, size_t *len_r)
{
	size_t len = 0;
	char *body, *p;

	for (size_t i = 0; i < count; i++) {
		if (fields[i].name == NULL || fields[i].value == NULL)
			continue;
		len += (len > 0 ? 1 : 0) + url_encoded_len(fields[i].name) +
			1 + url_encoded_len(fields[i].value);
	}
	body = malloc(len + 1);
	if (body == NULL)
		return -1;
	p = body;
	for (size_t i = 0; i < count; i++) {
		if (fields[i].name == NULL || fields[i].value == NULL)
			continue;
		if (p != body)
			*p++ = '&';
		p = url_encode_to(p, fields[i].name);
		*p++ = '=';
		p = url_encode_to(p, fields[i].value);
	}
	*p = '\0';
	*body_r = body;
	*len_r = len;
	return 0;
}

/* ------------------------------------------------------------ errors */

static bool
text_contains(const char *text, const char *needle)
{
	return needle != NULL && needle[0] != '\0' && strstr(text, needle) != NULL;
}

/* True if libcurl's message could quote something secret: then only the
   generic message for the error code is used. */
static bool
error_may_leak(const char *text, const struct http_request *req)
{
	const char *authority = strstr(req->url, "://");
	const char *tail = authority == NULL ? NULL :
		authority + 3 + strcspn(authority + 3, "/?#");

	if (strchr(text, '?') != NULL)
		return true;
	if (tail != NULL && strcmp(tail, "/") != 0 && text_contains(text, tail))
		return true;
	if (text_contains(text, req->bearer_token))
		return true;
	for (size_t i = 0; i < req->field_count; i++) {
		if (text_contains(text, req->fields[i].value))
			return true;
	}
	return req->auth != NULL &&
		(text_contains(text, req->auth->client_id) ||
		 text_contains(text, req->auth->client_secret));
}

static const char *
http_transfer_error(struct moa2_http_client *client, CURLcode code,
		    const struct http_transfer *transfer,
		    const struct http_request *req)
{
	const char *what = curl_easy_strerror(code);
	size_t len;

	if (transfer->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		snprintf(client->error, sizeof(client->error),
			 "response body larger than the maximum of %zu bytes",
			 client->max_response);
		return client->error;
	}
	if (transfer->out_of_memory)
		return "out of memory while receiving the response";
	len = strlen(client->curl_error);
	while (len > 0 && (client->curl_error[len - 1] == '\n' ||
			   client->curl_error[len - 1] == '\r'))
		client->curl_error[--len] = '\0';
	if (len == 0 || error_may_leak(client->curl_error, req))
		return what;
	snprintf(client->error, sizeof(client->error), "%s: %s", what,
		 client->curl_error);
	return client->error;
}

/* ------------------------------------------------------------ transfer */

static bool
http_apply_options(struct moa2_http_client *client,
		   const struct moa2_url *info, CURLU *curlu,
		   struct http_transfer *transfer, struct curl_slist *headers)
{
	CURL *curl = client->curl;
	bool ok = true;

	ok = ok && curl_easy_setopt(curl, CURLOPT_CURLU, curlu) == CURLE_OK;
#if CURL_VERSION_HAS_PROTOCOLS_STR
	ok = ok && curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
				    info->https ? "https" : "http") == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR,
				    info->https ? "https" : "http") == CURLE_OK;
#else
	ok = ok && curl_easy_setopt(curl, CURLOPT_PROTOCOLS,
				    info->https ? CURLPROTO_HTTPS : CURLPROTO_HTTP) == CURLE_OK;
#endif
	ok = ok && curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_SSLVERSION,
				    (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
				    (long)client->connect_timeout_ms) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
				    (long)client->total_timeout_ms) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
				    (curl_off_t)client->max_response) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_USERAGENT, client->user_agent) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, client->curl_error) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write_cb) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_WRITEDATA, transfer) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http_header_cb) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_HEADERDATA, transfer) == CURLE_OK;
	if (info->loopback) {
		/* never send a loopback request to a proxy from the environment */
		ok = ok && curl_easy_setopt(curl, CURLOPT_PROXY, "") == CURLE_OK;
	}
	if (client->ca_file != NULL)
		ok = ok && curl_easy_setopt(curl, CURLOPT_CAINFO, client->ca_file) == CURLE_OK;
	if (client->ca_dir != NULL)
		ok = ok && curl_easy_setopt(curl, CURLOPT_CAPATH, client->ca_dir) == CURLE_OK;
#if CURL_VERSION_HAS_CAINFO_BLOB
	if (client->ca_blob != NULL) {
		struct curl_blob blob = {
			.data = client->ca_blob,
			.len = client->ca_blob_len,
			.flags = CURL_BLOB_NOCOPY,
		};
		ok = ok && curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK;
	}
#endif
	return ok;
}

static bool
http_apply_post(CURL *curl, const char *body, size_t body_len)
{
	return curl_easy_setopt(curl, CURLOPT_POST, 1L) == CURLE_OK &&
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)body_len) == CURLE_OK &&
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) == CURLE_OK;
}

static int
http_response_finish(struct moa2_http_client *client,
		     struct moa2_http_response *resp)
{
	if (curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE,
			      &resp->status) != CURLE_OK ||
	    curl_easy_getinfo(client->curl, CURLINFO_NUM_CONNECTS,
			      &resp->new_connections) != CURLE_OK)
		return -1;
	if (resp->body == NULL) {
		resp->body = calloc(1, 1);
		if (resp->body == NULL)
			return -1;
	}
	return 0;
}

static int
http_perform(struct moa2_http_client *client, const struct http_request *req,
	     struct moa2_http_response *resp_r, const char **error_r)
{
	struct http_transfer transfer = {
		.resp = resp_r,
		.max_response = client->max_response,
	};
	struct curl_slist *headers = NULL;
	struct moa2_url info;
	CURLU *curlu = NULL;
	char *body = NULL;
	size_t body_len = 0;
	CURLcode code;
	int ret = -1;

	memset(resp_r, 0, sizeof(*resp_r));
	client->curl_error[0] = '\0';
	if (moa2_url_check(req->url, client->allow_http_loopback, &info, error_r) < 0 ||
	    http_curlu_create(req->url, &info, &curlu, error_r) < 0 ||
	    http_build_headers(req, &headers, error_r) < 0)
		goto out;
	if (req->post &&
	    form_build_body(req->fields, req->field_count, &body, &body_len) < 0) {
		*error_r = "out of memory";
		goto out;
	}
	curl_easy_reset(client->curl);
	if (!http_apply_options(client, &info, curlu, &transfer, headers) ||
	    (req->post && !http_apply_post(client->curl, body, body_len))) {
		*error_r = "libcurl refused an option";
		goto out;
	}
	code = curl_easy_perform(client->curl);
	if (code != CURLE_OK) {
		*error_r = http_transfer_error(client, code, &transfer, req);
		goto out;
	}
	if (http_response_finish(client, resp_r) < 0) {
		*error_r = "out of memory";
		goto out;
	}
	ret = 0;
out:
	/* drop libcurl's pointers to what is freed below; connections stay */
	curl_easy_reset(client->curl);
	headers_free(&headers);
	moa2_secret_free(body, body_len + 1);
	curl_url_cleanup(curlu);
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

/* curl_global_init is not thread-safe in older libcurl: the first caller
   runs it, any concurrent one waits. Never undone: a library must not call
   curl_global_cleanup under its host. */
static int
http_global_init(void)
{
	enum { INIT_NONE, INIT_RUNNING, INIT_DONE, INIT_FAILED };
	static atomic_int state = INIT_NONE;
	int expected = INIT_NONE, now;

	if (atomic_compare_exchange_strong(&state, &expected, INIT_RUNNING)) {
		now = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ?
			INIT_DONE : INIT_FAILED;
		atomic_store(&state, now);
	}
	while ((now = atomic_load(&state)) == INIT_RUNNING)
		sched_yield();
	return now == INIT_DONE ? 0 : -1;
}

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
#if CURL_VERSION_HAS_CAINFO_BLOB
		if (set->ca_blob_len == 0) {
			*error_r = "CA bundle in memory is empty";
			return -1;
		}
		client->ca_blob = malloc(set->ca_blob_len);
		if (client->ca_blob == NULL)
			return -1;
		memcpy(client->ca_blob, set->ca_blob, set->ca_blob_len);
		client->ca_blob_len = set->ca_blob_len;
#else
		*error_r = "a CA bundle in memory needs libcurl 7.77 or later";
		return -1;
#endif
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
	if (http_global_init() < 0) {
		*error_r = "libcurl initialisation failed";
		return -1;
	}
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
	client->curl = curl_easy_init();
	if (client->curl == NULL) {
		*error_r = "libcurl handle creation failed";
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
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
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
