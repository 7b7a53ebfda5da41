/* SPDX-License-Identifier: MIT */
/* The TLS contexts of the HTTP layer (see http-conn.h): one per CA setting,
   shared process-wide by every client with the same CAs, built at the
   first TLS connection that needs it and freed with its last reference.

   Failure behaviour: fails closed. Every context verifies the peer and
   refuses TLS below 1.2. A context that cannot be built (a CA file or
   directory that cannot be used, a bundle in memory without a usable
   certificate, no system store) fails the acquire with one sentence that
   names the file; nothing is cached then, so the next request tries again.
   OpenSSL's error queue is cleared. */
#include "config.h"
#include "support/http-conn-private.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

struct moa2_http_tls {
	struct moa2_http_tls *next;
	unsigned int refs;
	unsigned char key[SHA256_DIGEST_LENGTH];
	SSL_CTX *ctx;
};

static pthread_mutex_t tls_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct moa2_http_tls *tls_cache;

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
		return moa2_http_conn_fail(err, "the CA bundle holds no usable certificate");
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
		return moa2_http_conn_fail(err, "CA file %s cannot be loaded: %s",
					   config->ca_file, moa2_http_openssl_reason());
	}
	if (config->ca_dir != NULL &&
	    SSL_CTX_load_verify_dir(ctx, config->ca_dir) != 1)
		return moa2_http_conn_fail(err, "CA directory %s cannot be used: %s",
					   config->ca_dir, moa2_http_openssl_reason());
	if (config->ca_blob == NULL && config->ca_file == NULL &&
	    config->ca_dir == NULL &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1)
		return moa2_http_conn_fail(err, "the system CA store cannot be loaded: %s",
					   moa2_http_openssl_reason());
	ERR_clear_error(); /* a missing default file or dir is not an error */
	return 0;
}

static SSL_CTX *
tls_ctx_new(const struct moa2_http_tls_config *config, char *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		moa2_http_conn_fail(err, "TLS context: %s", moa2_http_openssl_reason());
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    tls_load_cas(ctx, config, err) < 0) {
		if (err[0] == '\0')
			moa2_http_conn_fail(err, "TLS context: %s", moa2_http_openssl_reason());
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
		return moa2_http_conn_fail(err, "out of memory");
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
		moa2_http_conn_fail(err, "out of memory");
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

struct moa2_http_tls *
moa2_http_tls_ref(struct moa2_http_tls *tls)
{
	pthread_mutex_lock(&tls_cache_lock);
	tls->refs++;
	pthread_mutex_unlock(&tls_cache_lock);
	return tls;
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

SSL_CTX *
moa2_http_tls_ctx(const struct moa2_http_tls *tls)
{
	return tls->ctx;
}
