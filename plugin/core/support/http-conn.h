/* SPDX-License-Identifier: MIT */
#ifndef MOA2_HTTP_CONN_H
#define MOA2_HTTP_CONN_H

/* The connections under the HTTP layer: name resolution, TCP and TLS, each
   step bounded by a deadline (in http-conn.c, http-resolve.c and
   http-tls.c: see http-conn-private.h). Used by the HTTP client only
   (http-client-private.h), which speaks the HTTP (including a proxy's
   CONNECT) over them.

   Failure behaviour: fails closed. The peer certificate is always verified
   against the configured CAs (or the system store), and its name or IP
   address against the host; TLS 1.2 at least. Every function that can fail
   returns -1 with one sentence in err (MOA2_HTTP_ERR_SIZE bytes): a host
   name and port at most, never a path, a query or data. A timeout is
   reported as one (the word "timeout" is in the sentence).

   Why not libcurl: the Cyrus plugin is loaded by every Postfix smtp(8)
   process, which chroots before a token is fetched, so the HTTP stack must
   be loaded before the chroot; libcurl and the ~20 libraries it pulls in
   cost ~2.4 ms per process and ~4.4 MB of RSS in Dovecot's auth process,
   while OpenSSL and libc, used here, are loaded by both hosts anyway.

   Name resolution runs getaddrinfo() in a detached thread with every signal
   blocked, so that the connect deadline holds for it too (a libc resolver
   call cannot be interrupted); an address literal is not resolved. When
   chrooted (Postfix smtp), the resolver reads /etc/resolv.conf, /etc/hosts
   and /etc/nsswitch.conf under the chroot, as Postfix itself does.

   The TLS contexts (CA store and settings) are shared process-wide by all
   clients with the same CA settings, and built at the first TLS
   connection: parsing a system CA bundle costs ~16 ms and ~1.3 MB, once,
   not once per client or per connection. Writes never raise SIGPIPE
   (MSG_NOSIGNAL, also under TLS). */

#include "mail-oauth2/common.h"

#include <sys/types.h>

#define MOA2_HTTP_ERR_SIZE 320

/* Milliseconds of CLOCK_MONOTONIC: the clock of the deadlines. */
int64_t moa2_http_now_ms(void);

/* ------------------------------------------------------------ TLS context */

struct moa2_http_tls;

/* The CAs to trust: ca_blob (PEM in memory) or ca_file, and/or ca_dir (a
   hashed directory); when none is given, OpenSSL's default store (the
   system's, SSL_CERT_FILE / SSL_CERT_DIR honoured). */
struct moa2_http_tls_config {
	const void *ca_blob;
	size_t ca_blob_len;
	const char *ca_file;
	const char *ca_dir;
};

/* The shared context for config, built on first use. Thread-safe. */
int moa2_http_tls_acquire(const struct moa2_http_tls_config *config,
			  struct moa2_http_tls **tls_r, char *err);
void moa2_http_tls_release(struct moa2_http_tls **tls);
/* One more reference to a context (released with moa2_http_tls_release).
   Thread-safe. */
struct moa2_http_tls *moa2_http_tls_ref(struct moa2_http_tls *tls);

/* ------------------------------------------------------------ connection */

struct moa2_http_conn;

/* Resolves host (a name, or an IPv4/IPv6 literal without brackets) and
   connects to the first of its addresses that answers, trying them in
   getaddrinfo's order with one more attempt every 250 ms while none has
   answered (RFC 8305): a dropped SYN (a broken IPv6 route) costs 250 ms,
   not the connect timeout. */
int moa2_http_conn_connect(const char *host, unsigned int port,
			   int64_t deadline_ms, struct moa2_http_conn **conn_r,
			   char *err) MOA2_ATTR_NODISCARD;

/* TLS over the connection, verifying the certificate for host (SNI sent
   for a name, not for an address literal). */
int moa2_http_conn_start_tls(struct moa2_http_conn *conn,
			     struct moa2_http_tls *tls, const char *host,
			     int64_t deadline_ms, char *err) MOA2_ATTR_NODISCARD;

/* Writes all of data. */
int moa2_http_conn_write(struct moa2_http_conn *conn, const void *data,
			 size_t len, int64_t deadline_ms,
			 char *err) MOA2_ATTR_NODISCARD;

/* Reads up to size bytes: their count, 0 at the end of the stream (for TLS:
   the peer's close_notify; a TCP close without it is an error), or -1. */
ssize_t moa2_http_conn_read(struct moa2_http_conn *conn, void *buf,
			    size_t size, int64_t deadline_ms,
			    char *err) MOA2_ATTR_NODISCARD;

/* True if an idle kept-alive connection can carry another request: the peer
   has neither closed it nor sent anything unasked. */
bool moa2_http_conn_reusable(struct moa2_http_conn *conn);

/* Closes (TLS close_notify, not waited for) and frees. NULL-safe. */
void moa2_http_conn_close(struct moa2_http_conn **conn);

#endif
