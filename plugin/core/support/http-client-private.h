/* SPDX-License-Identifier: MIT */
#ifndef MOA2_HTTP_CLIENT_PRIVATE_H
#define MOA2_HTTP_CLIENT_PRIVATE_H

/* The HTTP client's state, shared by its files (by role):

     http-client.c    the request API: one exchange, the kept-alive
                      connection and its reuse, the client, the CA bundle
     http-request.c   the request: its target (from the URL's one parse),
                      its head, the Authorization, the form body and the
                      URL-encoding
     http-response.c  the response reader: status line, headers, bodies
                      (chunked, Content-Length, close-delimited)
     http-proxy.c     the proxy of the environment (https_proxy, no_proxy)
                      and the CONNECT tunnel through it

   All of them over http-conn.h (DNS, TCP, TLS). Private to these files.

   Failure behaviour: as http-client.h, fails closed. A function here that
   can fail returns -1 with one sentence in client->error (written by
   moa2_http_client_fail(), naming at most the host and port) or a static
   one in error_r; whatever held a secret is wiped by its owner. */

#include "support/http-client.h"
#include "support/ascii.h"
#include "support/buf.h"
#include "support/http-conn.h"
#include "support/url.h"

#define MOA2_HTTP_RX_SIZE 16384     /* read buffer; the longest header line */
#define MOA2_HTTP_HOST_MAX 256
#define MOA2_HTTP_CONN_ID_MAX (2 * MOA2_HTTP_HOST_MAX + 32)

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
	char conn_id[MOA2_HTTP_CONN_ID_MAX];
	char *rx;            /* MOA2_HTTP_RX_SIZE bytes; wiped after each request */
	size_t rx_start, rx_end;
	char error[MOA2_HTTP_ERR_SIZE];
};

/* One request and the secrets it carries. */
struct moa2_http_request {
	const char *url;
	const char *bearer_token;
	bool post;
	const struct moa2_http_form_field *fields;
	size_t field_count;
	const struct moa2_http_basic_auth *auth;
};

/* Where a request goes, from the URL's strict parse. */
struct moa2_http_target {
	const struct moa2_url *url;
	unsigned int port;
	const char *path;    /* path and query, without the fragment */
	size_t path_len;
	char authority[MOA2_HTTP_HOST_MAX + 8]; /* Host header and CONNECT target */
};

/* The proxy of the environment, for one request; host[0] == '\0': none. */
struct moa2_http_proxy {
	char host[MOA2_HTTP_HOST_MAX];
	unsigned int port;
	char *authorization; /* "Basic ..." (a secret) or NULL */
};

/* State of one exchange. */
struct moa2_http_transfer {
	struct moa2_http_client *client;
	struct moa2_http_response *resp;
	int64_t connect_deadline;
	int64_t deadline;
	size_t body_alloc;
	size_t received;     /* bytes read on this connection for the request */
};

/* What the head of a response says about its body and the connection. */
struct moa2_http_head {
	unsigned int minor;  /* HTTP/1.minor */
	long status;
	bool chunked;
	bool has_length;
	uint64_t length;
	bool close;
	size_t bytes;
};

/* http-client.c: formats the error of the request into client->error.
   Always returns -1. */
int moa2_http_client_fail(struct moa2_http_client *client, const char *fmt, ...)
	MOA2_ATTR_FORMAT(2, 3);

/* http-request.c: the target of url_str, which moa2_url_check() parsed into
   url (kept by reference). */
void moa2_http_target_init(struct moa2_http_target *target,
			   const struct moa2_url *url, const char *url_str);
/* The whole request, head and body, in buf (initialised here). Returns 0,
   or -1 with a static reason in error_r (a bearer token or client
   credentials that cannot be sent). */
int moa2_http_request_build(const struct moa2_http_client *client,
			    const struct moa2_http_request *req,
			    const struct moa2_http_target *target,
			    struct moa2_buf *buf, const char **error_r);

/* http-response.c: the status line and headers of one response (after any
   1xx ones). Returns 0, or -1 (client->error). */
int moa2_http_head_read(struct moa2_http_transfer *t,
			struct moa2_http_head *head);
/* Reads one response into t->resp; keep_r: the connection can carry
   another request. Returns 0, or -1 (client->error). */
int moa2_http_response_read(struct moa2_http_transfer *t, bool *keep_r);
/* Frees the captured header values and NULLs them. */
void moa2_http_response_headers_clear(struct moa2_http_response *resp);

/* http-proxy.c: the proxy for target, if any (proxy->host[0] == '\0':
   none). Returns 0, or -1 with a static reason in error_r. */
int moa2_http_proxy_for(const struct moa2_http_target *target,
			struct moa2_http_proxy *proxy, const char **error_r);
/* Wipes the proxy's credentials. */
void moa2_http_proxy_clear(struct moa2_http_proxy *proxy);
/* CONNECT through the proxy, on the client's connection to it. Returns 0,
   or -1 (client->error). */
int moa2_http_proxy_tunnel(struct moa2_http_transfer *t,
			   const struct moa2_http_target *target,
			   const struct moa2_http_proxy *proxy);

#endif
