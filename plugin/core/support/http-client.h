/* SPDX-License-Identifier: MIT */
#ifndef MOA2_HTTP_CLIENT_H
#define MOA2_HTTP_CLIENT_H

/* The HTTP layer: the only code of the project that speaks HTTP (HTTP/1.1,
   in the files that http-client-private.h lists, over support/http-conn.h:
   TCP and TLS with OpenSSL; no libcurl, see http-conn.h for why).

   Failure behaviour: fails closed. Only https:// is fetched (plain http://
   only to a loopback address and only with the explicit opt-in), the peer
   certificate and host name are always verified, redirects are never
   followed, every transfer has a connect and a total timeout and a cap on the
   response body. A request returns 0 when an HTTP response arrived, whatever
   its status (the caller interprets it; a 3xx means "not followed"), and -1 on
   a transport failure with a short error string that never contains a token,
   a secret or the URL's path or query string.

   A client keeps its last connection alive for the next request to the same
   host. A client is not thread-safe: use one per thread; clients with the
   same CA settings share one TLS context (the parsed CAs), built at the
   first https request. A closed peer never raises SIGPIPE. A proxy from the environment (https_proxy,
   HTTPS_PROXY, all_proxy, ALL_PROXY; http:// proxies only, through CONNECT,
   with user:password@ sent as Proxy-Authorization) is used for https://
   URLs, except to loopback addresses and the hosts of no_proxy / NO_PROXY
   ("*", or names that also match their subdomains, and addresses). */

#include "mail-oauth2/common.h"
#include "support/url.h"

#define MOA2_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define MOA2_HTTP_DEFAULT_TOTAL_TIMEOUT_MS 10000u
#define MOA2_HTTP_DEFAULT_MAX_RESPONSE ((size_t)1024 * 1024)
#define MOA2_HTTP_MAX_CA_FILE ((size_t)16 * 1024 * 1024)
#define MOA2_HTTP_MAX_URL MOA2_URL_MAX_LEN

struct moa2_http_client;

/* Everything is copied by moa2_http_client_create(); the caller may free
   its strings and blob afterwards. Zero means "default" for the numbers. */
struct moa2_http_settings {
	unsigned int connect_timeout_ms;
	unsigned int total_timeout_ms;
	size_t max_response;		/* body bytes */
	const char *ca_file;		/* PEM bundle */
	const char *ca_dir;		/* hashed dir (c_rehash) */
	const void *ca_blob;		/* PEM in memory, overrides ca_file */
	size_t ca_blob_len;
	bool allow_http_loopback;	/* opt-in: http:// to 127/8, ::1, localhost */
	const char *user_agent;		/* NULL: "mail-oauth2/VERSION" */
};

struct moa2_http_form_field {
	const char *name;
	const char *value;
};

/* client_secret_basic (RFC 6749 §2.3.1): both are form-urlencoded, joined
   with ':' and base64-encoded. */
struct moa2_http_basic_auth {
	const char *client_id;
	const char *client_secret;
};

struct moa2_http_response {
	long status;
	/* NUL-terminated, never NULL after a request returned 0. It may hold
	   tokens (token endpoint replies): moa2_http_response_clear wipes it. */
	char *body;
	size_t body_len;
	/* Header values, NULL when absent. A repeated Cache-Control is joined
	   with ", ". */
	char *cache_control;
	char *content_type;
	char *retry_after;
	/* Connections opened for this request: 0 when one was reused. */
	long new_connections;
};

/* Creates a client. Returns 0, or -1 with a static reason in error_r. */
int moa2_http_client_create(const struct moa2_http_settings *settings,
			    struct moa2_http_client **client_r,
			    const char **error_r) MOA2_ATTR_NODISCARD;
void moa2_http_client_destroy(struct moa2_http_client **client);
/* A new client with the settings (and the TLS context, once built) of
   client, for another thread: the copy shares nothing else with it.
   Returns 0, or -1 with a static reason in error_r. */
int moa2_http_client_clone(const struct moa2_http_client *client,
			   struct moa2_http_client **clone_r,
			   const char **error_r) MOA2_ATTR_NODISCARD;

/* GET url, with "Authorization: Bearer" when bearer_token is not NULL.
   Returns 0 with a response (any status) or -1 with a reason in error_r,
   valid until the next request on this client or its destruction. resp_r is
   always initialised; moa2_http_response_clear it after either result. */
int moa2_http_get(struct moa2_http_client *client, const char *url,
		  const char *bearer_token,
		  struct moa2_http_response *resp_r,
		  const char **error_r) MOA2_ATTR_NODISCARD;

/* POST an application/x-www-form-urlencoded body built from fields (names and
   values URL-encoded), with client_secret_basic when auth is not NULL. The
   body and the Authorization header are wiped after the transfer. Same
   returns as moa2_http_get. */
int moa2_http_post_form(struct moa2_http_client *client, const char *url,
			const struct moa2_http_form_field *fields,
			size_t count,
			const struct moa2_http_basic_auth *auth,
			struct moa2_http_response *resp_r,
			const char **error_r) MOA2_ATTR_NODISCARD;

/* Wipes and frees what the response holds and zeroes it. NULL-safe. */
void moa2_http_response_clear(struct moa2_http_response *resp);

/* RFC 3986 percent-encoding: the unreserved characters (ALPHA DIGIT - . _ ~)
   are kept, every other byte becomes %XX (upper-case hex; a space is %20).
   Valid both for query strings and form bodies. Returns a malloc()ed string,
   NULL on ENOMEM. Wipe it (moa2_secret_str_free) when it encoded a secret. */
char *moa2_url_encode(const char *s);

/* moa2_url_is_allowed() and the URL rules: url.h */

/* Reads a PEM CA bundle into memory, for settings.ca_blob: Postfix's smtp
   runs chrooted, so the plugin loads the bundle at init, before the chroot.
   Returns 0 with a malloc()ed blob (free() it), or -1 with a static reason. */
int moa2_http_load_ca_file(const char *path, void **blob_r, size_t *len_r,
			   const char **error_r) MOA2_ATTR_NODISCARD;

#endif
