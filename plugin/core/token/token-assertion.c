/* SPDX-License-Identifier: MIT */
/* RFC 7523 JWT bearer assertions signed RS256 with EVP_DigestSign.
   Failure behaviour: fails closed; keys that are weak, not RSA or
   readable by others are refused at load; the key file's bytes are wiped
   after parsing and never quoted in a message. */

#include "config.h"
#include "token/token-assertion.h"

#include "support/base64.h"
#include "support/json.h"
#include "support/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define JTI_BYTES 16

struct moa2_assertion_key {
	EVP_PKEY *pkey;
	char *client_email;
	char *key_id;
	char *token_uri;
};

void
moa2_assertion_key_free(struct moa2_assertion_key **_key)
{
	struct moa2_assertion_key *key = *_key;

	if (key == NULL)
		return;
	*_key = NULL;
	EVP_PKEY_free(key->pkey);
	free(key->client_email);
	free(key->key_id);
	free(key->token_uri);
	free(key);
}

const char *
moa2_assertion_key_client_email(const struct moa2_assertion_key *key)
{
	return key->client_email;
}

const char *
moa2_assertion_key_id(const struct moa2_assertion_key *key)
{
	return key->key_id;
}

const char *
moa2_assertion_key_token_uri(const struct moa2_assertion_key *key)
{
	return key->token_uri;
}

/* Parses a PEM private key and checks it can sign RS256 safely. */
static int
key_from_pem(const char *name, const char *pem, size_t len, EVP_PKEY **pkey_r,
	     char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey;

	if (bio == NULL)
		abort();
	/* a NULL password callback would prompt on a terminal: refuse instead */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = moa2_strdup_printf("%s: not a PEM private key (expected an "
					      "unencrypted RSA key, BEGIN PRIVATE KEY)", name);
		return -1;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		*error_r = moa2_strdup_printf("%s: the private key is not RSA (RS256 "
					      "assertions need an RSA key)", name);
		return -1;
	}
	if (EVP_PKEY_get_bits(pkey) < MOA2_ASSERTION_MIN_RSA_BITS) {
		*error_r = moa2_strdup_printf("%s: the RSA key has %d bits (at least %d "
					      "required)", name, EVP_PKEY_get_bits(pkey),
					      MOA2_ASSERTION_MIN_RSA_BITS);
		EVP_PKEY_free(pkey);
		return -1;
	}
	*pkey_r = pkey;
	return 0;
}

/* A Google service-account key file: the PEM is inside the JSON. */
static int
key_from_service_account(const char *name, const char *data, size_t len,
			 struct moa2_assertion_key *key, char **error_r)
{
	struct moa2_json *doc;
	const char *type = NULL, *pem = NULL, *email = NULL, *kid = NULL,
		*uri = NULL, *reason;
	int ret = -1;

	if (moa2_json_parse(data, len, &doc, &reason) < 0) {
		*error_r = moa2_strdup_printf("%s: not valid JSON (%s)", name, reason);
		return -1;
	}
	if (moa2_json_get_string(doc, "type", &type) <= 0 ||
	    strcmp(type, "service_account") != 0) {
		*error_r = moa2_strdup_printf("%s: a JSON key file must have \"type\": "
					      "\"service_account\"", name);
	} else if (moa2_json_get_string(doc, "private_key", &pem) <= 0) {
		*error_r = moa2_strdup_printf("%s: no \"private_key\" in the service-account "
					      "key file", name);
	} else if (moa2_json_get_string(doc, "client_email", &email) < 0 ||
		   moa2_json_get_string(doc, "private_key_id", &kid) < 0 ||
		   moa2_json_get_string(doc, "token_uri", &uri) < 0) {
		*error_r = moa2_strdup_printf("%s: client_email, private_key_id and "
					      "token_uri must be strings", name);
	} else if (key_from_pem(name, pem, strlen(pem), &key->pkey, error_r) == 0) {
		key->client_email = moa2_strdup(email);
		key->key_id = moa2_strdup(kid);
		key->token_uri = moa2_strdup(uri);
		ret = 0;
	}
	/* the JSON document's copy of the PEM is wiped by moa2_json_free() */
	moa2_json_free(&doc);
	return ret;
}

int
moa2_assertion_key_load_mem(const char *name, const char *data, size_t len,
			    struct moa2_assertion_key **key_r, char **error_r)
{
	struct moa2_assertion_key *key = calloc(1, sizeof(*key));
	size_t skip = strspn(data, " \t\r\n");
	int ret;

	if (key == NULL)
		abort();
	*key_r = NULL;
	if (skip < len && data[skip] == '{')
		ret = key_from_service_account(name, data, len, key, error_r);
	else
		ret = key_from_pem(name, data, len, &key->pkey, error_r);
	if (ret < 0) {
		moa2_assertion_key_free(&key);
		return -1;
	}
	*key_r = key;
	return 0;
}

static int
read_key_file(const char *path, char **data_r, size_t *len_r, char **error_r)
{
	struct stat st;
	size_t len = 0;
	char *data;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*error_r = moa2_strdup_printf("%s: cannot open the key file: %s", path,
					      strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > MOA2_ASSERTION_MAX_FILE) {
		*error_r = moa2_strdup_printf("%s: not a regular file of at most %zu bytes",
					      path, MOA2_ASSERTION_MAX_FILE);
		close(fd);
		return -1;
	}
	if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
		*error_r = moa2_strdup_printf("%s: the private key file has mode %04o and is "
					      "readable by group or others (chmod 600 %s)",
					      path, (unsigned int)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	data = malloc(MOA2_ASSERTION_MAX_FILE + 1);
	if (data == NULL)
		abort();
	if (moa2_read_all(fd, data, MOA2_ASSERTION_MAX_FILE, &len) < 0) {
		*error_r = moa2_strdup_printf("%s: cannot read the key file: %s",
					      path, strerror(errno));
		close(fd);
		moa2_secret_free(data, MOA2_ASSERTION_MAX_FILE + 1);
		return -1;
	}
	close(fd);
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

int
moa2_assertion_key_load(const char *path, struct moa2_assertion_key **key_r,
			char **error_r)
{
	char *data;
	size_t len;
	int ret;

	*key_r = NULL;
	if (read_key_file(path, &data, &len, error_r) < 0)
		return -1;
	ret = moa2_assertion_key_load_mem(path, data, len, key_r, error_r);
	moa2_secret_free(data, MOA2_ASSERTION_MAX_FILE + 1);
	return ret;
}

/* ---------------------------------------------------------------- signing */

static void
append_b64url(struct moa2_buf *buf, const void *data, size_t len)
{
	char *enc = moa2_base64url_encode(data, len);

	if (enc == NULL)
		abort();
	moa2_buf_append_str(buf, enc);
	free(enc);
}

static void
build_header(struct moa2_buf *out, const char *kid)
{
	struct moa2_buf header;
	bool first = true;

	moa2_buf_init(&header);
	moa2_buf_append_str(&header, "{");
	moa2_buf_json_member_str(&header, &first, "alg", "RS256");
	moa2_buf_json_member_str(&header, &first, "typ", "JWT");
	moa2_buf_json_member_str(&header, &first, "kid", kid);
	moa2_buf_append_str(&header, "}");
	append_b64url(out, header.data, header.len);
	moa2_buf_free(&header);
}

static int
build_claims(struct moa2_buf *out, const struct moa2_assertion_claims *c,
	     const char **error_r)
{
	unsigned char jti_bytes[JTI_BYTES];
	char jti[JTI_BYTES * 2 + 1];
	struct moa2_buf claims;
	bool first = true;

	if (RAND_bytes(jti_bytes, sizeof(jti_bytes)) != 1) {
		*error_r = "no random bytes for the assertion's jti";
		return -1;
	}
	for (size_t i = 0; i < JTI_BYTES; i++)
		snprintf(jti + i * 2, 3, "%02x", jti_bytes[i]);
	moa2_buf_init(&claims);
	moa2_buf_append_str(&claims, "{");
	moa2_buf_json_member_str(&claims, &first, "iss", c->issuer);
	moa2_buf_json_member_str(&claims, &first, "sub", c->subject);
	moa2_buf_json_member_str(&claims, &first, "aud", c->audience);
	moa2_buf_json_member_str(&claims, &first, "scope", c->scope);
	moa2_buf_json_member_int(&claims, &first, "iat", c->issued_at);
	moa2_buf_json_member_int(&claims, &first, "exp",
				 c->issued_at + (int64_t)c->lifetime);
	moa2_buf_json_member_str(&claims, &first, "jti", jti);
	moa2_buf_append_str(&claims, "}");
	append_b64url(out, claims.data, claims.len);
	moa2_buf_free(&claims);
	return 0;
}

static int
sign_rs256(EVP_PKEY *pkey, const char *input, size_t len, unsigned char **sig_r,
	   size_t *sig_len_r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int ret = -1;

	if (ctx == NULL)
		abort();
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, len) == 1 &&
	    (sig = malloc(sig_len)) != NULL &&
	    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, len) == 1)
		ret = 0;
	EVP_MD_CTX_free(ctx);
	if (ret < 0) {
		free(sig);
		return -1;
	}
	*sig_r = sig;
	*sig_len_r = sig_len;
	return 0;
}

int
moa2_assertion_sign(const struct moa2_assertion_key *key,
		    const struct moa2_assertion_claims *claims, char **jwt_r,
		    const char **error_r)
{
	struct moa2_buf jwt;
	unsigned char *sig;
	size_t sig_len;

	*jwt_r = NULL;
	if (claims->issuer == NULL || claims->audience == NULL ||
	    claims->lifetime == 0) {
		*error_r = "an assertion needs an issuer, an audience and a lifetime";
		return -1;
	}
	moa2_buf_init(&jwt);
	build_header(&jwt, claims->key_id);
	moa2_buf_append_str(&jwt, ".");
	if (build_claims(&jwt, claims, error_r) < 0) {
		moa2_buf_free(&jwt);
		return -1;
	}
	if (sign_rs256(key->pkey, jwt.data, jwt.len, &sig, &sig_len) < 0) {
		moa2_buf_free(&jwt);
		*error_r = "signing the assertion failed (OpenSSL)";
		return -1;
	}
	moa2_buf_append_str(&jwt, ".");
	append_b64url(&jwt, sig, sig_len);
	free(sig);
	*jwt_r = moa2_buf_steal(&jwt, NULL);
	return 0;
}
