/* SPDX-License-Identifier: MIT */
/* Name resolution, TCP and TLS for the HTTP layer (see http-conn.h).

   Failure behaviour: fails closed (no unverified peer, no TLS below 1.2),
   every wait bounded by the caller's deadline, one sentence per failure
   that names at most the host and port. OpenSSL's error queue is cleared
   after each call that may fill it, so that the host (Postfix's TLS,
   Dovecot) never finds our errors in it. */
#include "config.h"
#include "support/http-conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HOST_MAX 256
#define CONNECT_STAGGER_MS 250   /* RFC 8305 section 5 */
#define CONNECT_MAX_ATTEMPTS 16

struct moa2_http_conn {
	int fd;
	SSL *ssl;
	bool eof;    /* the socket read returned 0 (for BIO_eof) */
	bool broken; /* an I/O error happened: no close_notify at close */
};

struct moa2_http_tls {
	struct moa2_http_tls *next;
	unsigned int refs;
	unsigned char key[SHA256_DIGEST_LENGTH];
	SSL_CTX *ctx;
};

static pthread_mutex_t tls_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct moa2_http_tls *tls_cache;

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

static int MOA2_ATTR_FORMAT(2, 3)
conn_fail(char *err, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(err, MOA2_HTTP_ERR_SIZE, fmt, args);
	va_end(args);
	return -1;
}

/* The reason of the last OpenSSL error, and an empty queue. */
static const char *
openssl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *reason = code == 0 ? NULL : ERR_reason_error_string(code);

	ERR_clear_error();
	return reason != NULL ? reason : "unknown error";
}

static bool
ip_literal(const char *host)
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
			return conn_fail(err, "timeout while %s", what);
		if (errno != EINTR)
			return conn_fail(err, "poll failed: %s", strerror(errno));
	}
}

/* ------------------------------------------------------------ TLS context */

static void
digest_part(EVP_MD_CTX *md, char tag, const void *data, size_t len)
{
	uint64_t len64 = data == NULL ? UINT64_MAX : (uint64_t)len;

	EVP_DigestUpdate(md, &tag, 1);
	EVP_DigestUpdate(md, &len64, sizeof(len64));
	if (data != NULL)
		EVP_DigestUpdate(md, data, len);
}

/* Clients with the same CAs share a context: keyed by a digest of them. */
static int
tls_key(const struct moa2_http_tls_config *config,
	unsigned char key[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ret = -1;

	if (md == NULL)
		return -1;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
		digest_part(md, 'b', config->ca_blob, config->ca_blob_len);
		digest_part(md, 'f', config->ca_file,
			    config->ca_file == NULL ? 0 : strlen(config->ca_file));
		digest_part(md, 'd', config->ca_dir,
			    config->ca_dir == NULL ? 0 : strlen(config->ca_dir));
		ret = EVP_DigestFinal_ex(md, key, &len) == 1 ? 0 : -1;
	}
	EVP_MD_CTX_free(md);
	return ret;
}

static int
tls_load_blob(SSL_CTX *ctx, const void *blob, size_t len, char *err)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_INFO) *infos = NULL;
	BIO *bio = len > INT_MAX ? NULL : BIO_new_mem_buf(blob, (int)len);
	int added = 0;

	if (bio != NULL)
		infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);

		if (info->x509 != NULL && X509_STORE_add_cert(store, info->x509) == 1)
			added++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	ERR_clear_error();
	if (added == 0)
		return conn_fail(err, "the CA bundle holds no usable certificate");
	return 0;
}

static int
tls_load_cas(SSL_CTX *ctx, const struct moa2_http_tls_config *config,
	     char *err)
{
	if (config->ca_blob != NULL) {
		if (tls_load_blob(ctx, config->ca_blob, config->ca_blob_len, err) < 0)
			return -1;
	} else if (config->ca_file != NULL &&
		   SSL_CTX_load_verify_file(ctx, config->ca_file) != 1) {
		return conn_fail(err, "CA file %s cannot be loaded: %s",
				 config->ca_file, openssl_reason());
	}
	if (config->ca_dir != NULL &&
	    SSL_CTX_load_verify_dir(ctx, config->ca_dir) != 1)
		return conn_fail(err, "CA directory %s cannot be used: %s",
				 config->ca_dir, openssl_reason());
	if (config->ca_blob == NULL && config->ca_file == NULL &&
	    config->ca_dir == NULL &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1)
		return conn_fail(err, "the system CA store cannot be loaded: %s",
				 openssl_reason());
	ERR_clear_error(); /* a missing default file or dir is not an error */
	return 0;
}

static SSL_CTX *
tls_ctx_new(const struct moa2_http_tls_config *config, char *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		conn_fail(err, "TLS context: %s", openssl_reason());
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    tls_load_cas(ctx, config, err) < 0) {
		if (err[0] == '\0')
			conn_fail(err, "TLS context: %s", openssl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int
moa2_http_tls_acquire(const struct moa2_http_tls_config *config,
		      struct moa2_http_tls **tls_r, char *err)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	struct moa2_http_tls *tls;

	*tls_r = NULL;
	err[0] = '\0';
	if (tls_key(config, key) < 0)
		return conn_fail(err, "out of memory");
	/* held while a context is built: another thread wanting the same one
	   waits for it instead of parsing the same CAs again */
	pthread_mutex_lock(&tls_cache_lock);
	for (tls = tls_cache; tls != NULL; tls = tls->next) {
		if (memcmp(tls->key, key, sizeof(key)) == 0)
			break;
	}
	if (tls != NULL) {
		tls->refs++;
	} else if ((tls = calloc(1, sizeof(*tls))) == NULL) {
		conn_fail(err, "out of memory");
	} else if ((tls->ctx = tls_ctx_new(config, err)) == NULL) {
		free(tls);
		tls = NULL;
	} else {
		memcpy(tls->key, key, sizeof(key));
		tls->refs = 1;
		tls->next = tls_cache;
		tls_cache = tls;
	}
	pthread_mutex_unlock(&tls_cache_lock);
	*tls_r = tls;
	return tls == NULL ? -1 : 0;
}

void
moa2_http_tls_release(struct moa2_http_tls **_tls)
{
	struct moa2_http_tls *tls = *_tls, **p;
	bool last;

	if (tls == NULL)
		return;
	*_tls = NULL;
	pthread_mutex_lock(&tls_cache_lock);
	last = --tls->refs == 0;
	for (p = &tls_cache; last && *p != NULL; p = &(*p)->next) {
		if (*p == tls) {
			*p = tls->next;
			break;
		}
	}
	pthread_mutex_unlock(&tls_cache_lock);
	if (last) {
		SSL_CTX_free(tls->ctx);
		free(tls);
	}
}

/* ------------------------------------------------------------ resolver */

/* One getaddrinfo() call in its own thread. Two references: the waiter's,
   dropped when it stops waiting (done or timed out), and the thread's. */
struct resolve_job {
	atomic_uint refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int gai_error;
	int sys_errno;
	struct addrinfo *result;
	char host[HOST_MAX];
	char port[8];
};

static void
resolve_job_unref(struct resolve_job *job)
{
	if (atomic_fetch_sub(&job->refs, 1) != 1)
		return;
	if (job->result != NULL)
		freeaddrinfo(job->result);
	pthread_cond_destroy(&job->cond);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

static void *
resolve_main(void *context)
{
	struct resolve_job *job = context;
	const struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *result = NULL;
	int ret = getaddrinfo(job->host, job->port, &hints, &result);
	int sys_errno = errno;

	pthread_mutex_lock(&job->lock);
	job->gai_error = ret;
	job->sys_errno = sys_errno;
	job->result = ret == 0 ? result : NULL;
	job->done = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	resolve_job_unref(job);
	return NULL;
}

static struct resolve_job *
resolve_job_new(const char *host, const char *port)
{
	struct resolve_job *job = calloc(1, sizeof(*job));
	pthread_condattr_t cond_attr;

	if (job == NULL)
		return NULL;
	atomic_init(&job->refs, 2);
	snprintf(job->host, sizeof(job->host), "%s", host);
	snprintf(job->port, sizeof(job->port), "%s", port);
	pthread_condattr_init(&cond_attr);
	pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&job->lock, NULL) != 0 ||
	    pthread_cond_init(&job->cond, &cond_attr) != 0) {
		pthread_condattr_destroy(&cond_attr);
		free(job);
		return NULL;
	}
	pthread_condattr_destroy(&cond_attr);
	return job;
}

/* Starts the thread with every signal blocked: the host's signals must
   reach the host's threads. */
static int
resolve_thread_start(struct resolve_job *job)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	int ret;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&tid, &attr, resolve_main, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ret == 0 ? 0 : -1;
}

/* Waits for the job until the deadline: true when it is done. */
static bool
resolve_wait(struct resolve_job *job, int64_t deadline_ms)
{
	struct timespec until = {
		.tv_sec = (time_t)(deadline_ms / 1000),
		.tv_nsec = (long)(deadline_ms % 1000) * 1000000,
	};
	bool done;

	pthread_mutex_lock(&job->lock);
	while (!job->done &&
	       pthread_cond_timedwait(&job->cond, &job->lock, &until) != ETIMEDOUT)
		;
	done = job->done;
	pthread_mutex_unlock(&job->lock);
	return done;
}

static int
resolve(const char *host, unsigned int port, int64_t deadline_ms,
	struct addrinfo **result_r, char *err)
{
	const struct addrinfo literal_hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct resolve_job *job;
	char port_str[8];
	int gai_error, sys_errno;

	*result_r = NULL;
	snprintf(port_str, sizeof(port_str), "%u", port);
	if (ip_literal(host))
		return getaddrinfo(host, port_str, &literal_hints, result_r) == 0 ? 0 :
			conn_fail(err, "cannot use the address %s", host);
	job = resolve_job_new(host, port_str);
	if (job == NULL)
		return conn_fail(err, "out of memory");
	if (resolve_thread_start(job) < 0) {
		atomic_store(&job->refs, 1);
		resolve_job_unref(job);
		return conn_fail(err, "cannot start the resolver thread");
	}
	if (!resolve_wait(job, deadline_ms)) {
		resolve_job_unref(job); /* the thread frees it when done */
		return conn_fail(err, "timeout while resolving host %s", host);
	}
	*result_r = job->result;
	job->result = NULL;
	gai_error = job->gai_error;
	sys_errno = job->sys_errno;
	resolve_job_unref(job);
	if (gai_error == 0)
		return 0;
	return conn_fail(err, "cannot resolve host %s: %s", host,
			 gai_error == EAI_SYSTEM ? strerror(sys_errno) :
			 gai_strerror(gai_error));
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
	if (resolve(host, port, deadline_ms, &result, err) < 0)
		return -1;
	fd = connect_any(result, deadline_ms);
	freeaddrinfo(result);
	if (fd < 0 && errno == ETIMEDOUT)
		return conn_fail(err, "timeout while connecting to %s port %u", host, port);
	if (fd < 0)
		return conn_fail(err, "cannot connect to %s port %u: %s", host, port,
				 strerror(errno));
	*conn_r = calloc(1, sizeof(**conn_r));
	if (*conn_r == NULL) {
		close(fd);
		return conn_fail(err, "out of memory");
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
		return conn_fail(err, "connection closed by the peer while %s", what);
	if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		ERR_clear_error();
		return conn_fail(err, "connection closed by the peer while %s%s%s", what,
				 errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	}
	return conn_fail(err, "TLS error while %s: %s", what, openssl_reason());
}

static int
tls_set_peer(SSL *ssl, const char *host)
{
	if (ip_literal(host))
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
	char what[HOST_MAX + 32];
	BIO *bio;
	int ret;

	ERR_clear_error();
	conn->ssl = SSL_new(tls->ctx);
	if (conn->ssl == NULL || (bio = nosig_bio_new(conn)) == NULL)
		return conn_fail(err, "TLS set-up for %s failed: %s", host,
				 openssl_reason());
	SSL_set_bio(conn->ssl, bio, bio);
	if (tls_set_peer(conn->ssl, host) < 0)
		return conn_fail(err, "TLS set-up for %s failed: %s", host,
				 openssl_reason());
	SSL_set_connect_state(conn->ssl);
	snprintf(what, sizeof(what), "in the TLS handshake with %s", host);
	while ((ret = SSL_connect(conn->ssl)) != 1) {
		long verify = SSL_get_verify_result(conn->ssl);

		if (verify != X509_V_OK) {
			conn->broken = true;
			ERR_clear_error();
			return conn_fail(err, "TLS handshake with %s failed: server "
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
		return conn_fail(err, "connection error while %s: %s", what,
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
