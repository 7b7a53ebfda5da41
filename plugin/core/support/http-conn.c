/* SPDX-License-Identifier: MIT */
/* TCP and TLS connections for the HTTP layer (see http-conn.h; the layer's
   other files are listed in http-conn-private.h).

   Failure behaviour: fails closed (no unverified peer, no TLS below 1.2),
   every wait bounded by the caller's deadline, one sentence per failure
   that names at most the host and port. OpenSSL's error queue is cleared
   after each call that may fill it, so that the host (Postfix's TLS,
   Dovecot) never finds our errors in it. */
#include "config.h"
#include "support/http-conn-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CONNECT_STAGGER_MS 250   /* RFC 8305 section 5 */
#define CONNECT_MAX_ATTEMPTS 16

struct moa2_http_conn {
	int fd;
	SSL *ssl;
	bool eof;    /* the socket read returned 0 (for BIO_eof) */
	bool broken; /* an I/O error happened: no close_notify at close */
};

/* ------------------------------------------------------------ helpers */

int64_t
moa2_http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ms_left(int64_t deadline_ms)
{
	int64_t left = deadline_ms - moa2_http_now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

int
moa2_http_conn_fail(char *err, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(err, MOA2_HTTP_ERR_SIZE, fmt, args);
	va_end(args);
	return -1;
}

/* The reason of the last OpenSSL error, and an empty queue. */
const char *
moa2_http_openssl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *reason = code == 0 ? NULL : ERR_reason_error_string(code);

	ERR_clear_error();
	return reason != NULL ? reason : "unknown error";
}

bool
moa2_http_ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 ||
		inet_pton(AF_INET6, host, addr) == 1;
}

/* Waits until fd is ready for events; 0, or -1 (timeout: err says so). */
static int
wait_fd(int fd, short events, int64_t deadline_ms, const char *what,
	char *err)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int ret = poll(&pfd, 1, ms_left(deadline_ms));

		if (ret > 0)
			return 0;
		if (ret == 0)
			return moa2_http_conn_fail(err, "timeout while %s", what);
		if (errno != EINTR)
			return moa2_http_conn_fail(err, "poll failed: %s", strerror(errno));
	}
}

/* ------------------------------------------------------------ TCP */

/* Starts a non-blocking connect: the socket (connected_r: already), or -1
   with errno. */
static int
connect_start(const struct addrinfo *ai, bool *connected_r)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	int saved;

	if (fd < 0)
		return -1;
	*connected_r = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
	if (*connected_r || errno == EINPROGRESS)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Of the attempts that poll() saw ready, the first connected one (removed
   from pfds), or -1; the failed ones are closed and removed. */
static int
connect_ready(struct pollfd *pfds, unsigned int *n, int *last_errno)
{
	for (unsigned int i = 0; i < *n;) {
		int fd = pfds[i].fd, so_error = 0;
		socklen_t len = sizeof(so_error);

		if (pfds[i].revents == 0) {
			i++;
			continue;
		}
		pfds[i] = pfds[--*n];
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
			so_error = errno;
		if (so_error == 0)
			return fd;
		*last_errno = so_error;
		close(fd);
	}
	return -1;
}

/* A connection to the first of the addresses that answers. They are tried
   in their order (getaddrinfo's, RFC 6724), one more every
   CONNECT_STAGGER_MS while none has answered and at once when one fails
   (RFC 8305's attempt delay): an address that drops packets, as a broken
   IPv6 route does, costs that delay, not the connect timeout. Returns the
   socket, or -1 with errno (ETIMEDOUT at the deadline). */
static int
connect_any(const struct addrinfo *ai, int64_t deadline_ms)
{
	struct pollfd pfds[CONNECT_MAX_ATTEMPTS];
	unsigned int n = 0, started = 0;
	int64_t next_start = 0;
	int fd = -1, last_errno = ETIMEDOUT, one = 1;
	bool timed_out = false;

	while (fd < 0) {
		int64_t now = moa2_http_now_ms();
		bool more = ai != NULL && started < CONNECT_MAX_ATTEMPTS, connected;
		int wait;

		if (now >= deadline_ms) {
			timed_out = n > 0;
			break;
		}
		if (more && now >= next_start) {
			int s = connect_start(ai, &connected);

			ai = ai->ai_next;
			started++;
			if (s < 0)
				last_errno = errno;
			else if (connected)
				fd = s;
			else
				pfds[n++] = (struct pollfd){ .fd = s, .events = POLLOUT };
			next_start = s < 0 ? now : now + CONNECT_STAGGER_MS;
			continue;
		}
		if (n == 0)
			break; /* every address failed */
		wait = ms_left(deadline_ms);
		if (more && next_start - now < wait)
			wait = (int)(next_start - now);
		if (poll(pfds, n, wait) < 0 && errno != EINTR) {
			last_errno = errno;
			break;
		}
		if ((fd = connect_ready(pfds, &n, &last_errno)) < 0 && n == 0)
			next_start = now; /* a failure starts the next one at once */
	}
	for (unsigned int i = 0; i < n; i++)
		close(pfds[i].fd);
	if (fd < 0) {
		errno = timed_out ? ETIMEDOUT : last_errno;
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
moa2_http_conn_connect(const char *host, unsigned int port,
		       int64_t deadline_ms, struct moa2_http_conn **conn_r,
		       char *err)
{
	struct addrinfo *result;
	int fd;

	*conn_r = NULL;
	if (moa2_http_resolve(host, port, deadline_ms, &result, err) < 0)
		return -1;
	fd = connect_any(result, deadline_ms);
	freeaddrinfo(result);
	if (fd < 0 && errno == ETIMEDOUT)
		return moa2_http_conn_fail(err, "timeout while connecting to %s port %u", host, port);
	if (fd < 0)
		return moa2_http_conn_fail(err, "cannot connect to %s port %u: %s", host, port,
					   strerror(errno));
	*conn_r = calloc(1, sizeof(**conn_r));
	if (*conn_r == NULL) {
		close(fd);
		return moa2_http_conn_fail(err, "out of memory");
	}
	(*conn_r)->fd = fd;
	return 0;
}

/* ------------------------------------------------------------ socket BIO */

/* OpenSSL's socket BIO writes with write(): a peer that closed the
   connection would raise SIGPIPE in a host that does not ignore it. This
   one sends with MSG_NOSIGNAL. */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int
nosig_write(BIO *bio, const char *data, int len)
{
	struct moa2_http_conn *conn = BIO_get_data(bio);
	ssize_t ret = send(conn->fd, data, (size_t)len, MSG_NOSIGNAL);

	BIO_clear_retry_flags(bio);
	if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(bio);
	return (int)ret;
}

static int
nosig_read(BIO *bio, char *buf, int len)
{
	struct moa2_http_conn *conn = BIO_get_data(bio);
	ssize_t ret = recv(conn->fd, buf, (size_t)len, 0);

	BIO_clear_retry_flags(bio);
	if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(bio);
	if (ret == 0)
		conn->eof = true;
	return (int)ret;
}

static long
nosig_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct moa2_http_conn *conn = BIO_get_data(bio);

	(void)num;
	(void)ptr;
	if (cmd == BIO_CTRL_FLUSH)
		return 1;
	if (cmd == BIO_CTRL_EOF)
		return conn != NULL && conn->eof;
	return 0;
}

static int
nosig_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

static void
nosig_method_init(void)
{
	BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
					  "mail-oauth2 socket");

	if (method == NULL || BIO_meth_set_write(method, nosig_write) != 1 ||
	    BIO_meth_set_read(method, nosig_read) != 1 ||
	    BIO_meth_set_ctrl(method, nosig_ctrl) != 1 ||
	    BIO_meth_set_create(method, nosig_create) != 1) {
		BIO_meth_free(method);
		return;
	}
	nosig_method = method;
}

static BIO *
nosig_bio_new(struct moa2_http_conn *conn)
{
	BIO *bio;

	pthread_once(&nosig_once, nosig_method_init);
	if (nosig_method == NULL || (bio = BIO_new(nosig_method)) == NULL)
		return NULL;
	BIO_set_data(bio, conn);
	return bio;
}

/* ------------------------------------------------------------ TLS */

/* Waits as OpenSSL asks after a call that returned ret; 0 to call again,
   -1 with err on a failure or the deadline. */
static int
tls_wait(struct moa2_http_conn *conn, int ret, int64_t deadline_ms,
	 const char *what, char *err)
{
	int ssl_error = SSL_get_error(conn->ssl, ret);

	if (ssl_error == SSL_ERROR_WANT_READ)
		return wait_fd(conn->fd, POLLIN, deadline_ms, what, err);
	if (ssl_error == SSL_ERROR_WANT_WRITE)
		return wait_fd(conn->fd, POLLOUT, deadline_ms, what, err);
	conn->broken = true;
	if (ssl_error == SSL_ERROR_ZERO_RETURN)
		return moa2_http_conn_fail(err, "connection closed by the peer while %s", what);
	if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		ERR_clear_error();
		return moa2_http_conn_fail(err, "connection closed by the peer while %s%s%s", what,
					   errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	}
	return moa2_http_conn_fail(err, "TLS error while %s: %s", what, moa2_http_openssl_reason());
}

static int
tls_set_peer(SSL *ssl, const char *host)
{
	if (moa2_http_ip_literal(host))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set_tlsext_host_name(ssl, host) == 1 &&
		SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

int
moa2_http_conn_start_tls(struct moa2_http_conn *conn,
			 struct moa2_http_tls *tls, const char *host,
			 int64_t deadline_ms, char *err)
{
	char what[MOA2_HTTP_CONN_HOST_MAX + 32];
	BIO *bio;
	int ret;

	ERR_clear_error();
	conn->ssl = SSL_new(moa2_http_tls_ctx(tls));
	if (conn->ssl == NULL || (bio = nosig_bio_new(conn)) == NULL)
		return moa2_http_conn_fail(err, "TLS set-up for %s failed: %s", host,
					   moa2_http_openssl_reason());
	SSL_set_bio(conn->ssl, bio, bio);
	if (tls_set_peer(conn->ssl, host) < 0)
		return moa2_http_conn_fail(err, "TLS set-up for %s failed: %s", host,
					   moa2_http_openssl_reason());
	SSL_set_connect_state(conn->ssl);
	snprintf(what, sizeof(what), "in the TLS handshake with %s", host);
	while ((ret = SSL_connect(conn->ssl)) != 1) {
		long verify = SSL_get_verify_result(conn->ssl);

		if (verify != X509_V_OK) {
			conn->broken = true;
			ERR_clear_error();
			return moa2_http_conn_fail(err, "TLS handshake with %s failed: server "
						   "certificate not accepted: %s", host,
						   X509_verify_cert_error_string(verify));
		}
		if (tls_wait(conn, ret, deadline_ms, what, err) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ I/O */

/* After send() or recv() failed on the plain socket: 0 to call it again
   (interrupted, or ready now), -1 with err. */
static int
plain_wait(struct moa2_http_conn *conn, short events, int64_t deadline_ms,
	   const char *what, char *err)
{
	if (errno == EINTR)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		conn->broken = true;
		return moa2_http_conn_fail(err, "connection error while %s: %s", what,
					   strerror(errno));
	}
	return wait_fd(conn->fd, events, deadline_ms, what, err);
}

int
moa2_http_conn_write(struct moa2_http_conn *conn, const void *data,
		     size_t len, int64_t deadline_ms, char *err)
{
	const char *p = data;

	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		ssize_t ret;

		if (conn->ssl != NULL) {
			ERR_clear_error();
			ret = SSL_write(conn->ssl, p, chunk);
			if (ret <= 0) {
				if (tls_wait(conn, (int)ret, deadline_ms,
					     "sending the request", err) < 0)
					return -1;
				continue;
			}
		} else {
			ret = send(conn->fd, p, (size_t)chunk, MSG_NOSIGNAL);
			if (ret < 0) {
				if (plain_wait(conn, POLLOUT, deadline_ms,
					       "sending the request", err) < 0)
					return -1;
				continue;
			}
		}
		p += ret;
		len -= (size_t)ret;
	}
	return 0;
}

ssize_t
moa2_http_conn_read(struct moa2_http_conn *conn, void *buf, size_t size,
		    int64_t deadline_ms, char *err)
{
	int chunk = size > INT_MAX ? INT_MAX : (int)size;

	for (;;) {
		ssize_t ret;

		if (conn->ssl != NULL) {
			ERR_clear_error();
			ret = SSL_read(conn->ssl, buf, chunk);
			if (ret > 0)
				return ret;
			if (SSL_get_error(conn->ssl, (int)ret) == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (tls_wait(conn, (int)ret, deadline_ms,
				     "waiting for the response", err) < 0)
				return -1;
			continue;
		}
		ret = recv(conn->fd, buf, (size_t)chunk, 0);
		if (ret >= 0)
			return ret;
		if (plain_wait(conn, POLLIN, deadline_ms,
			       "waiting for the response", err) < 0)
			return -1;
	}
}

bool
moa2_http_conn_reusable(struct moa2_http_conn *conn)
{
	struct pollfd pfd = { .fd = conn->fd, .events = POLLIN };

	if (conn->broken || (conn->ssl != NULL && SSL_pending(conn->ssl) > 0))
		return false;
	/* readable while idle: closed by the peer, or unasked data */
	return poll(&pfd, 1, 0) == 0;
}

void
moa2_http_conn_close(struct moa2_http_conn **_conn)
{
	struct moa2_http_conn *conn = *_conn;

	if (conn == NULL)
		return;
	*_conn = NULL;
	if (conn->ssl != NULL) {
		if (!conn->broken && SSL_is_init_finished(conn->ssl))
			(void)SSL_shutdown(conn->ssl); /* close_notify, not waited for */
		SSL_free(conn->ssl);
		ERR_clear_error();
	}
	close(conn->fd);
	free(conn);
}
