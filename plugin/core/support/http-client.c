/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 over http-conn.c: the request API of the only HTTP code of the
   project (http-client-private.h lists its files). A request is one
   exchange: its target and bytes (http-request.c), the proxy of the
   environment (http-proxy.c), a new or the kept-alive connection, the
   response (http-response.c).

   Failure behaviour: fails closed (see http-client.h). A URL is checked
   once, by the strict parser of url.c, before anything is sent; a failed
   exchange closes its connection and is tried again only when a kept-alive
   connection turned out closed before any of the response came back.
   Error strings are built here and name at most the host and port. Buffers
   that held secrets (request, read buffer, response body, proxy
   credentials) are wiped before they are freed or reused. */
#include "config.h"
#include "support/http-client-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

int
moa2_http_client_fail(struct moa2_http_client *client, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(client->error, sizeof(client->error), fmt, args);
	va_end(args);
	return -1;
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

static void
conn_id_make(char *id, const struct moa2_http_target *target,
	     const struct moa2_http_proxy *proxy)
{
	snprintf(id, MOA2_HTTP_CONN_ID_MAX, "%s %s %u %s %u",
		 target->url->https ? "https" : "http", target->url->host,
		 target->port, proxy->host, proxy->port);
}

static int
conn_open(struct moa2_http_transfer *t, const struct moa2_http_target *target,
	  const struct moa2_http_proxy *proxy)
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
	if ((via_proxy && moa2_http_proxy_tunnel(t, target, proxy) < 0) ||
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
conn_reuse(struct moa2_http_client *c, const struct moa2_http_target *target,
	   const struct moa2_http_proxy *proxy)
{
	char id[MOA2_HTTP_CONN_ID_MAX];

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
exchange(struct moa2_http_transfer *t, const struct moa2_http_target *target,
	 const struct moa2_http_proxy *proxy, const struct moa2_buf *request)
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
		    moa2_http_response_read(t, &keep) == 0) {
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

/* ------------------------------------------------------------ requests */

static int
http_perform(struct moa2_http_client *client, const struct moa2_http_request *req,
	     struct moa2_http_response *resp_r, const char **error_r)
{
	int64_t now = moa2_http_now_ms();
	struct moa2_http_transfer transfer = {
		.client = client,
		.resp = resp_r,
		.deadline = now + client->total_timeout_ms,
	};
	struct moa2_http_target target;
	struct moa2_http_proxy proxy = { .host = "" };
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
	moa2_http_target_init(&target, &info, req->url);
	if (moa2_http_proxy_for(&target, &proxy, error_r) < 0 ||
	    moa2_http_request_build(client, req, &target, &request, error_r) < 0)
		goto out;
	if (client->rx == NULL && (client->rx = malloc(MOA2_HTTP_RX_SIZE)) == NULL)
		abort();
	ret = exchange(&transfer, &target, &proxy, &request);
	if (ret < 0)
		*error_r = client->error;
out:
	if (request.data != NULL)
		moa2_buf_free(&request);
	moa2_http_proxy_clear(&proxy);
	if (client->rx != NULL)
		OPENSSL_cleanse(client->rx, MOA2_HTTP_RX_SIZE);
	if (ret < 0)
		moa2_http_response_clear(resp_r);
	return ret;
}

int
moa2_http_get(struct moa2_http_client *client, const char *url,
	      const char *bearer_token, struct moa2_http_response *resp_r,
	      const char **error_r)
{
	const struct moa2_http_request req = {
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
	const struct moa2_http_request req = {
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
	moa2_http_response_headers_clear(resp);
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

int
moa2_http_client_clone(const struct moa2_http_client *c,
		       struct moa2_http_client **clone_r, const char **error_r)
{
	const struct moa2_http_settings set = {
		.connect_timeout_ms = c->connect_timeout_ms,
		.total_timeout_ms = c->total_timeout_ms,
		.max_response = c->max_response,
		.ca_file = c->ca_file,
		.ca_dir = c->ca_dir,
		.ca_blob = c->ca_blob,
		.ca_blob_len = c->ca_blob_len,
		.allow_http_loopback = c->allow_http_loopback,
		.user_agent = c->user_agent,
	};

	if (moa2_http_client_create(&set, clone_r, error_r) < 0)
		return -1;
	/* the blob is gone once the context is built: share the context */
	if (c->tls != NULL)
		(*clone_r)->tls = moa2_http_tls_ref(c->tls);
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
		moa2_secret_free(c->rx, MOA2_HTTP_RX_SIZE);
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
