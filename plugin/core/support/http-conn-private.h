/* SPDX-License-Identifier: MIT */
#ifndef MOA2_HTTP_CONN_PRIVATE_H
#define MOA2_HTTP_CONN_PRIVATE_H

/* The files of the connection layer under the HTTP client (http-conn.h),
   by role, and what they share:

     http-conn.c     TCP connections, TLS over them, reads and writes; the
                     helpers below
     http-tls.c      the TLS contexts (CA store and settings), shared by
                     the clients with the same CA settings
     http-resolve.c  name resolution in a thread, bounded by the deadline

   These are the only files of the project that talk to the network
   (tests/unit/test-includes.sh checks it). Private to them.

   Failure behaviour: as http-conn.h, fails closed. Every function here
   that can fail returns -1 with one sentence in err (MOA2_HTTP_ERR_SIZE
   bytes, written by moa2_http_conn_fail()) that names at most the host and
   port; OpenSSL's error queue is left empty. */

#include "support/http-conn.h"

#include <openssl/types.h>

#define MOA2_HTTP_CONN_HOST_MAX 256

struct addrinfo;

/* http-conn.c: formats err. Always returns -1. */
int moa2_http_conn_fail(char *err, const char *fmt, ...) MOA2_ATTR_FORMAT(2, 3);
/* The reason of the last OpenSSL error, and an empty queue. */
const char *moa2_http_openssl_reason(void);
/* True if host is an IPv4 or IPv6 address literal (without brackets). */
bool moa2_http_ip_literal(const char *host);

/* http-tls.c: the OpenSSL context of tls, owned by it. */
SSL_CTX *moa2_http_tls_ctx(const struct moa2_http_tls *tls);

/* http-resolve.c: the addresses of host (a name, resolved in a thread
   until deadline_ms, or an address literal, not resolved) for a TCP
   connection to port. Returns 0 with a list to freeaddrinfo(), or -1 with
   err (a timeout says "timeout"). */
int moa2_http_resolve(const char *host, unsigned int port,
		      int64_t deadline_ms, struct addrinfo **result_r,
		      char *err) MOA2_ATTR_NODISCARD;

#endif
