/* SPDX-License-Identifier: MIT */
/* Unit tests of the verification engine (verifier.h) with a pinned clock.

   Local part: keys generated here, published as a JWKS file (jwks_file, no
   network); a table of tokens, each with the exact outcome and reason the
   engine must give (RFC 8725 negatives, claims policy, identity), plus the
   positive algorithm matrix and the result fields.

   Network part: the project's fault-injecting server
   (tests/support/fault-server.py) on loopback plain http, started
   and stopped per test: the unknown-kid refetch limit, cached keys while
   the provider is down, stale keys with a provider that never answers
   (served at once, one background refresh per process also across
   threads, an unknown kid a bounded temporary failure, the failed attempt
   recorded in cache_dir for the next process), symlinks and hard links
   planted in cache_dir, provider names as cache file names, and
   introspection (active must be exactly true, results cached, HTTP 500 is
   a temporary failure). python3 is required: without it these tests
   fail. */

#include "config.h"
#include "test-common.h"
#include "test-jose-sign.h"

#include "support/http-client.h"
#include "support/json.h"
#include "mail-oauth2/verdict.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The pinned clock: 2023-11-14 22:13:20 UTC. */
#define NOW 1700000000
#define ISSUER "https://idp.test/realms/mail"
#define HMAC_SECRET "0123456789abcdef0123456789abcdef-hmac"
#define ALL_ASYM "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"

/* Claims of a good token; times relative to NOW. */
#define C_ISS "\"iss\":\"" ISSUER "\""
#define C_AUD "\"aud\":\"mail\""
#define C_EXP "\"exp\":1700003600"	/* NOW + 3600 */
#define C_IAT "\"iat\":1699999990"	/* NOW - 10 */
#define C_USER "\"preferred_username\":\"alice\""
#define C_BASE C_ISS "," C_AUD "," C_EXP "," C_IAT
#define GOOD_CLAIMS "{" C_BASE "," C_USER "}"

#define TMP_DIR_MAX 1024
#define CONFIG_MAX 8192
#define URL_MAX 256
#define FLOOD_TOKENS 50
#define LOG_MAX 65536

static char tmp_dir[TMP_DIR_MAX];
static char root_dir[TMP_DIR_MAX + 8];
static char jwks_path[TMP_DIR_MAX + 16];
static char small_jwks_path[TMP_DIR_MAX + 32];
static char small_pem_path[TMP_DIR_MAX + 32];

enum key_id {
	KEY_RSA, KEY_EC256, KEY_EC384, KEY_EC521, KEY_ED, KEY_ATTACKER,
	KEY_RSA_SMALL, KEY_COUNT
};
static EVP_PKEY *keys[KEY_COUNT];
static const char *const key_kids[KEY_COUNT] = {
	"rsa1", "ec256", "ec384", "ec521", "ed1", "attacker", "small"
};
static char *rsa_pem;       /* the public PEM of KEY_RSA */
static char *attacker_jwk;  /* the public JWK of KEY_ATTACKER */

static time_t pinned_now = NOW;
/* cache_dir of the engine under test: never the system default */
static char cache_dir[TMP_DIR_MAX + 48];
static unsigned int cache_serial;
static char log_text[LOG_MAX];

/* ------------------------------------------------------------ helpers */

static void
write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	size_t len = strlen(data);

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "test-verifier: cannot write %s: %s\n", path,
			strerror(errno));
		exit(EXIT_FAILURE);
	}
}

static void
write_root_file(const char *name, const char *data)
{
	char path[TMP_DIR_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", root_dir, name);
	write_file(path, data);
}

static time_t
test_clock(void *context)
{
	return *(const time_t *)context;
}

static void
collect_log(void *context, enum moa2_log_level level, const char *message)
{
	size_t used = strlen(log_text);

	(void)context;
	snprintf(log_text + used, sizeof(log_text) - used, "%s: %s\n",
		 moa2_log_level_name(level), message);
}

struct engine {
	struct moa2_verify_config *cfg;
	struct moa2_verifier *verifier;
};

/* Loads a config from text and creates a verifier on the pinned clock;
   the current test fails if either step fails. */
static void
engine_create(struct engine *e, const char *text)
{
	static const struct moa2_logger logger = { collect_log, NULL, true, NULL };
	char *error = NULL;

	memset(e, 0, sizeof(*e));
	ck_assert_msg(moa2_verify_config_load_string("test.conf", text, strlen(text),
						      &e->cfg, &error) == 0,
		      "config refused: %s\n%s", error, text);
	ck_assert_msg(moa2_verifier_create(e->cfg, &logger, &e->verifier, &error) == 0,
		      "verifier refused: %s\n%s", error, text);
	moa2_verifier_set_clock(e->verifier, test_clock, &pinned_now);
}

static void
engine_destroy(struct engine *e)
{
	moa2_verifier_destroy(&e->verifier);
	ck_assert_ptr_null(e->verifier);
	moa2_verify_config_free(&e->cfg);
}

/* Creation must fail (config or verifier); returns the message. */
static char *
engine_create_fails(const char *text)
{
	struct moa2_verify_config *cfg = NULL;
	struct moa2_verifier *verifier = NULL;
	char *error = NULL;

	if (moa2_verify_config_load_string("test.conf", text, strlen(text),
					   &cfg, &error) == 0) {
		int ret = moa2_verifier_create(cfg, NULL, &verifier, &error);

		moa2_verifier_destroy(&verifier);
		moa2_verify_config_free(&cfg);
		ck_assert_msg(ret < 0, "verifier accepted:\n%s", text);
	}
	ck_assert_ptr_nonnull(error);
	return error;
}

/* Whether lines (one "key = value" per line) sets key. */
static bool
lines_set(const char *lines, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = lines; p != NULL && *p != '\0'; ) {
		if (strncmp(p, key, klen) == 0 && (p[klen] == ' ' || p[klen] == '='))
			return true;
		p = strchr(p, '\n');
		p = p == NULL ? NULL : p + 1;
	}
	return false;
}

/* A fresh cache_dir for the next engine (persisted key sets must not
   leak from one test into another, nor into /var/lib). */
static void
new_cache_dir(void)
{
	/* tests may run in forked children: the pid keeps the names apart */
	snprintf(cache_dir, sizeof(cache_dir), "%s/cache-%ld-%u", tmp_dir, (long)getpid(),
		 cache_serial++);
}

/* The local provider "test": these defaults, each unless overrides sets
   the same key, then overrides. */
static void
local_config(char *buf, size_t size, const char *overrides)
{
	const char *defaults[][2] = {
		{ "mode", "jwt" },
		{ "issuer", ISSUER },
		{ "jwks_file", jwks_path },
		{ "audience", "mail" },
		{ "algorithms", ALL_ASYM },
		{ "username_claims", "preferred_username email sub" },
		{ "leeway", "60" },
	};
	size_t used;

	new_cache_dir();
	used = (size_t)snprintf(buf, size, "cache_dir = %s\n[provider test]\n", cache_dir);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (!lines_set(overrides, defaults[i][0]))
			used += (size_t)snprintf(buf + used, size - used, "%s = %s\n",
						 defaults[i][0], defaults[i][1]);
	}
	if (overrides != NULL)
		used += (size_t)snprintf(buf + used, size - used, "%s\n", overrides);
	ck_assert_uint_lt(used, size);
}

static void
verify(struct engine *e, const char *token, const char *user,
       struct moa2_verify_result *result)
{
	moa2_verify_token(e->verifier, token, strlen(token), user, result);
}

static void
assert_result(const struct moa2_verify_result *r, enum moa2_verify_outcome outcome,
	      enum moa2_verify_reason reason, const char *what)
{
	ck_assert_msg(r->outcome == outcome && r->reason == reason,
		      "%s: expected %s/%s, got %s/%s (%s)", what,
		      moa2_verify_outcome_name(outcome), moa2_verify_reason_name(reason),
		      moa2_verify_outcome_name(r->outcome),
		      moa2_verify_reason_name(r->reason), r->detail);
	if (outcome == MOA2_OUTCOME_ACCEPTED)
		ck_assert_ptr_nonnull(r->identity);
	else
		ck_assert_ptr_null(r->identity);
	if (outcome != MOA2_OUTCOME_ACCEPTED)
		ck_assert_msg(r->detail[0] != '\0', "%s: no detail", what);
}

/* ------------------------------------------------------------ tokens */

enum signer {
	SIGN_KEY,          /* alg with keys[key] */
	SIGN_DER,          /* ES* with a DER signature */
	SIGN_HMAC,         /* alg with HMAC_SECRET */
	SIGN_HMAC_RSA_PEM, /* alg with the RSA public key PEM as the secret */
	SIGN_EMPTY,        /* no signature at all */
	SIGN_ZERO_RS,      /* ES256 with r = s = 0 */
	SIGN_VERBATIM,     /* payload is the whole token */
};

static char *
make_token(enum signer signer, const char *alg, enum key_id key,
	   const char *header, const char *payload)
{
	char header_buf[1024];
	unsigned char zero[64] = { 0 };

	if (header == NULL) {
		snprintf(header_buf, sizeof(header_buf), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
			 alg, key_kids[key]);
		header = header_buf;
	}
	if (payload == NULL)
		payload = GOOD_CLAIMS;
	switch (signer) {
	case SIGN_KEY:
		return test_jose_sign(alg, keys[key], header, payload);
	case SIGN_DER:
		return test_jose_sign_der(alg, keys[key], header, payload);
	case SIGN_HMAC:
		return test_jose_sign_hmac(alg, HMAC_SECRET, strlen(HMAC_SECRET),
					   header, payload);
	case SIGN_HMAC_RSA_PEM:
		return test_jose_sign_hmac(alg, rsa_pem, strlen(rsa_pem), header, payload);
	case SIGN_EMPTY:
		return test_jose_compact(header, payload, strlen(payload), "", 0);
	case SIGN_ZERO_RS:
		return test_jose_compact(header, payload, strlen(payload), zero, sizeof(zero));
	case SIGN_VERBATIM:
		return strdup(payload);
	}
	return NULL;
}

/* ------------------------------------------------------------ the table */

struct vcase {
	const char *name;
	const char *config;     /* provider lines overriding the defaults */
	enum signer signer;
	const char *alg;
	enum key_id key;
	const char *header;     /* NULL: {"alg":ALG,"kid":KID} */
	const char *payload;    /* NULL: GOOD_CLAIMS */
	const char *user;       /* the asserted user, or NULL */
	enum moa2_verify_outcome outcome;
	enum moa2_verify_reason reason;
	const char *identity;   /* accepted: the expected identity */
};

#define ACCEPT(id) MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, id
#define REJECT(r) MOA2_OUTCOME_REJECTED, MOA2_VERIFY_##r, NULL
#define RS256_OK SIGN_KEY, "RS256", KEY_RSA, NULL
#define BIG_CLAIM_LEN 13000

static char big_payload[BIG_CLAIM_LEN + 256];

static const struct vcase cases[] = {
	/* --- the positive algorithm matrix: one RSA key serves RS* and PS* */
	{ "RS256", NULL, RS256_OK, NULL, NULL, ACCEPT("alice") },
	{ "RS384", NULL, SIGN_KEY, "RS384", KEY_RSA, NULL, NULL, NULL, ACCEPT("alice") },
	{ "RS512", NULL, SIGN_KEY, "RS512", KEY_RSA, NULL, NULL, NULL, ACCEPT("alice") },
	{ "PS256", NULL, SIGN_KEY, "PS256", KEY_RSA, NULL, NULL, NULL, ACCEPT("alice") },
	{ "PS384", NULL, SIGN_KEY, "PS384", KEY_RSA, NULL, NULL, NULL, ACCEPT("alice") },
	{ "PS512", NULL, SIGN_KEY, "PS512", KEY_RSA, NULL, NULL, NULL, ACCEPT("alice") },
	{ "ES256", NULL, SIGN_KEY, "ES256", KEY_EC256, NULL, NULL, NULL, ACCEPT("alice") },
	{ "ES384", NULL, SIGN_KEY, "ES384", KEY_EC384, NULL, NULL, NULL, ACCEPT("alice") },
	{ "ES512", NULL, SIGN_KEY, "ES512", KEY_EC521, NULL, NULL, NULL, ACCEPT("alice") },
	{ "EdDSA", NULL, SIGN_KEY, "EdDSA", KEY_ED, NULL, NULL, NULL, ACCEPT("alice") },
	{ "HS256 with hmac_secret",
	  "algorithms = HS256\nhmac_secret = " HMAC_SECRET,
	  SIGN_HMAC, "HS256", KEY_RSA, "{\"alg\":\"HS256\"}", NULL, NULL, ACCEPT("alice") },
	{ "HS256 with the wrong secret",
	  "algorithms = HS256\nhmac_secret = " HMAC_SECRET "-other",
	  SIGN_HMAC, "HS256", KEY_RSA, "{\"alg\":\"HS256\"}", NULL, NULL, REJECT(BAD_SIGNATURE) },
	{ "RS256 with the asserted user", NULL, RS256_OK, NULL, "alice", ACCEPT("alice") },

	/* --- RFC 8725: the server decides the algorithm and the key */
	{ "alg none", NULL, SIGN_EMPTY, "none", KEY_RSA, "{\"alg\":\"none\"}", NULL, NULL,
	  REJECT(ALG_NOT_ALLOWED) },
	{ "alg None", NULL, SIGN_EMPTY, "None", KEY_RSA, "{\"alg\":\"None\"}", NULL, NULL,
	  REJECT(ALG_NOT_ALLOWED) },
	{ "alg none with a signature", NULL, SIGN_HMAC, "HS256", KEY_RSA,
	  "{\"alg\":\"none\",\"kid\":\"rsa1\"}", NULL, NULL, REJECT(ALG_NOT_ALLOWED) },
	{ "HS256 keyed with the RSA public PEM", NULL, SIGN_HMAC_RSA_PEM, "HS256", KEY_RSA,
	  NULL, NULL, NULL, REJECT(ALG_NOT_ALLOWED) },
	{ "HS256 keyed with the RSA PEM, HS256 allowed",
	  "algorithms = RS256 HS256\nhmac_secret = " HMAC_SECRET,
	  SIGN_HMAC_RSA_PEM, "HS256", KEY_RSA, NULL, NULL, NULL, REJECT(KEY_TYPE_MISMATCH) },
	{ "HS256 keyed with the RSA PEM, HS256 allowed, no kid",
	  "algorithms = RS256 HS256\nhmac_secret = " HMAC_SECRET,
	  SIGN_HMAC_RSA_PEM, "HS256", KEY_RSA, "{\"alg\":\"HS256\"}", NULL, NULL,
	  REJECT(BAD_SIGNATURE) },
	{ "alg not in the allow-list", "algorithms = ES256", RS256_OK, NULL, NULL,
	  REJECT(ALG_NOT_ALLOWED) },
	{ "ES256 header with the RSA kid", NULL, SIGN_KEY, "ES256", KEY_EC256,
	  "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", NULL, NULL, REJECT(KEY_TYPE_MISMATCH) },
	{ "RS256 header with an EC kid", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"ec256\"}", NULL, NULL, REJECT(KEY_TYPE_MISMATCH) },
	{ "EdDSA header with an EC kid", NULL, SIGN_KEY, "EdDSA", KEY_ED,
	  "{\"alg\":\"EdDSA\",\"kid\":\"ec256\"}", NULL, NULL, REJECT(KEY_TYPE_MISMATCH) },
	{ "wrong crv: ES384 with the P-256 kid", NULL, SIGN_KEY, "ES384", KEY_EC384,
	  "{\"alg\":\"ES384\",\"kid\":\"ec256\"}", NULL, NULL, REJECT(KEY_TYPE_MISMATCH) },
	{ "wrong crv: ES256 with the P-521 kid", NULL, SIGN_KEY, "ES256", KEY_EC256,
	  "{\"alg\":\"ES256\",\"kid\":\"ec521\"}", NULL, NULL, REJECT(KEY_TYPE_MISMATCH) },
	{ "DER-encoded ES256 signature", NULL, SIGN_DER, "ES256", KEY_EC256, NULL, NULL,
	  NULL, REJECT(BAD_SIGNATURE) },
	{ "DER-encoded ES384 signature", NULL, SIGN_DER, "ES384", KEY_EC384, NULL, NULL,
	  NULL, REJECT(BAD_SIGNATURE) },
	{ "ES256 r = s = 0", NULL, SIGN_ZERO_RS, "ES256", KEY_EC256, NULL, NULL, NULL,
	  REJECT(BAD_SIGNATURE) },
	{ "signed by another key under a known kid", NULL, SIGN_KEY, "RS256", KEY_ATTACKER,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", NULL, NULL, REJECT(BAD_SIGNATURE) },
	{ "unknown crit", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"],\"exp\":1700003600}",
	  NULL, NULL, REJECT(UNSUPPORTED_CRIT) },
	{ "crit b64 (RFC 7797, not supported)", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"b64\":true,\"crit\":[\"b64\"]}",
	  NULL, NULL, REJECT(UNSUPPORTED_CRIT) },
	/* keys are never taken from the token: the attacker's key is in the
	   header (jwk), behind a URL (jku, x5u) */
	{ "embedded jwk, attacker kid", NULL, SIGN_KEY, "RS256", KEY_ATTACKER,
	  NULL /* built in the test */, NULL, NULL, REJECT(UNKNOWN_KEY) },
	{ "embedded jwk, victim kid", NULL, SIGN_KEY, "RS256", KEY_ATTACKER,
	  NULL /* built in the test */, NULL, NULL, REJECT(BAD_SIGNATURE) },
	{ "jku header", NULL, SIGN_KEY, "RS256", KEY_ATTACKER,
	  "{\"alg\":\"RS256\",\"kid\":\"attacker\",\"jku\":\"https://evil.test/jwks.json\"}",
	  NULL, NULL, REJECT(UNKNOWN_KEY) },
	{ "x5u header", NULL, SIGN_KEY, "RS256", KEY_ATTACKER,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x5u\":\"https://evil.test/cert.pem\"}",
	  NULL, NULL, REJECT(BAD_SIGNATURE) },

	/* --- shape and size */
	{ "one dot (2 parts)", NULL, SIGN_VERBATIM, NULL, KEY_RSA, NULL,
	  "eyJhbGciOiJSUzI1NiJ9.e30", NULL, REJECT(MALFORMED) },
	{ "three dots (4 parts)", NULL, SIGN_VERBATIM, NULL, KEY_RSA, NULL,
	  "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln", NULL, REJECT(MALFORMED) },
	{ "four dots (5 parts, a JWE)", NULL, SIGN_VERBATIM, NULL, KEY_RSA, NULL,
	  "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn", NULL, REJECT(MALFORMED) },
	{ "two dots, empty parts", NULL, SIGN_VERBATIM, NULL, KEY_RSA, NULL, "..", NULL,
	  REJECT(MALFORMED) },
	{ "no signature", NULL, SIGN_EMPTY, "RS256", KEY_RSA, NULL, NULL, NULL,
	  REJECT(MALFORMED) },
	{ "payload not JSON", NULL, SIGN_KEY, "RS256", KEY_RSA, NULL, "alice", NULL,
	  REJECT(MALFORMED) },
	{ "payload a JSON array", NULL, SIGN_KEY, "RS256", KEY_RSA, NULL, "[" C_ISS "]",
	  NULL, REJECT(MALFORMED) },
	{ "oversized (> 16 KiB)", NULL, RS256_OK, NULL /* big_payload */, NULL,
	  REJECT(TOO_LARGE) },

	/* --- time, leeway 60 s */
	{ "expired", NULL, RS256_OK,
	  "{" C_ISS "," C_AUD "," C_USER ",\"exp\":1699999000}", NULL, REJECT(EXPIRED) },
	{ "expired by exactly the leeway", NULL, RS256_OK,
	  "{" C_ISS "," C_AUD "," C_USER ",\"exp\":1699999940}", NULL, REJECT(EXPIRED) },
	{ "expired, just inside the leeway", NULL, RS256_OK,
	  "{" C_ISS "," C_AUD "," C_USER ",\"exp\":1699999941}", NULL, ACCEPT("alice") },
	{ "exp missing", NULL, RS256_OK, "{" C_ISS "," C_AUD "," C_USER "}", NULL,
	  REJECT(MISSING_CLAIM) },
	{ "exp a string", NULL, RS256_OK,
	  "{" C_ISS "," C_AUD "," C_USER ",\"exp\":\"1700003600\"}", NULL, REJECT(MALFORMED) },
	{ "nbf in the future", NULL, RS256_OK,
	  "{" C_BASE "," C_USER ",\"nbf\":1700000061}", NULL, REJECT(NOT_YET_VALID) },
	{ "nbf just inside the leeway", NULL, RS256_OK,
	  "{" C_BASE "," C_USER ",\"nbf\":1700000060}", NULL, ACCEPT("alice") },
	{ "iat in the future", NULL, RS256_OK,
	  "{" C_ISS "," C_AUD "," C_EXP "," C_USER ",\"iat\":1700000061}", NULL,
	  REJECT(ISSUED_IN_FUTURE) },
	{ "iat older than max_token_age", "max_token_age = 3600", RS256_OK,
	  "{" C_ISS "," C_AUD "," C_EXP "," C_USER ",\"iat\":1699996399}", NULL,
	  REJECT(EXPIRED) },
	{ "leeway 0: exp now", "leeway = 0", RS256_OK,
	  "{" C_ISS "," C_AUD "," C_USER ",\"exp\":1700000000}", NULL, REJECT(EXPIRED) },

	/* --- issuer */
	{ "wrong iss", NULL, RS256_OK,
	  "{\"iss\":\"https://evil.test/realms/mail\"," C_AUD "," C_EXP "," C_USER "}",
	  NULL, REJECT(WRONG_ISSUER) },
	{ "iss with a trailing slash", NULL, RS256_OK,
	  "{\"iss\":\"" ISSUER "/\"," C_AUD "," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_ISSUER) },
	{ "iss missing", NULL, RS256_OK, "{" C_AUD "," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_ISSUER) },
	{ "iss with an embedded NUL", NULL, RS256_OK,
	  "{\"iss\":\"" ISSUER "\\u0000x\"," C_AUD "," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_ISSUER) },

	/* --- audience */
	{ "aud missing", NULL, RS256_OK, "{" C_ISS "," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_AUDIENCE) },
	{ "aud wrong", NULL, RS256_OK,
	  "{" C_ISS ",\"aud\":\"webmail\"," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_AUDIENCE) },
	{ "aud a prefix of ours", NULL, RS256_OK,
	  "{" C_ISS ",\"aud\":\"mai\"," C_EXP "," C_USER "}", NULL, REJECT(WRONG_AUDIENCE) },
	{ "aud array without ours", NULL, RS256_OK,
	  "{" C_ISS ",\"aud\":[\"webmail\",\"account\"]," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_AUDIENCE) },
	{ "aud array with ours", NULL, RS256_OK,
	  "{" C_ISS ",\"aud\":[\"account\",\"mail\"]," C_EXP "," C_USER "}", NULL,
	  ACCEPT("alice") },
	{ "aud with an embedded NUL", NULL, RS256_OK,
	  "{" C_ISS ",\"aud\":\"mail\\u0000evil\"," C_EXP "," C_USER "}", NULL,
	  REJECT(WRONG_AUDIENCE) },
	{ "aud a number", NULL, RS256_OK, "{" C_ISS ",\"aud\":7," C_EXP "," C_USER "}",
	  NULL, REJECT(WRONG_AUDIENCE) },
	{ "second configured audience", "audience = imap mail", RS256_OK, NULL, NULL,
	  ACCEPT("alice") },
	{ "audience_check = no", "audience_check = no\naudience = ", RS256_OK,
	  "{" C_ISS "," C_EXP "," C_USER "}", NULL, ACCEPT("alice") },

	/* --- scope */
	{ "scope string lacks the scope", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scope\":\"openid profile\"}", NULL,
	  REJECT(INSUFFICIENT_SCOPE) },
	{ "scope string with a longer scope", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scope\":\"openid emails\"}", NULL,
	  REJECT(INSUFFICIENT_SCOPE) },
	{ "scope string grants it", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scope\":\"openid email profile\"}", NULL,
	  ACCEPT("alice") },
	{ "scope missing", "required_scopes = email", RS256_OK, NULL, NULL,
	  REJECT(INSUFFICIENT_SCOPE) },
	{ "scp array lacks the scope", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scp\":[\"openid\",\"profile\"]}", NULL,
	  REJECT(INSUFFICIENT_SCOPE) },
	{ "scp array grants it", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scp\":[\"openid\",\"email\"]}", NULL, ACCEPT("alice") },
	{ "scp string grants it", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scp\":\"email\"}", NULL, ACCEPT("alice") },
	{ "scp not a scope claim here", "required_scopes = email\nscope_claims = scope",
	  RS256_OK, "{" C_BASE "," C_USER ",\"scp\":\"email\"}", NULL,
	  REJECT(INSUFFICIENT_SCOPE) },
	{ "one of two required scopes", "required_scopes = email imap", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scope\":\"email\"}", NULL, REJECT(INSUFFICIENT_SCOPE) },
	{ "scope array with a non-string", "required_scopes = email", RS256_OK,
	  "{" C_BASE "," C_USER ",\"scope\":[1,null,\"email\"]}", NULL, ACCEPT("alice") },

	/* --- typ policy */
	{ "typ_required, no typ", "typ_required = yes", RS256_OK, NULL, NULL,
	  REJECT(WRONG_TYPE) },
	{ "typ not accepted", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JOSE\"}", NULL, NULL,
	  REJECT(WRONG_TYPE) },
	{ "typ JWT when only at+jwt", "typ = at+jwt", SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}", NULL, NULL,
	  REJECT(WRONG_TYPE) },
	{ "typ application/at+jwt accepted as at+jwt", "typ = at+jwt\ntyp_required = yes",
	  SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"application/at+jwt\"}", NULL, NULL,
	  ACCEPT("alice") },
	{ "typ AT+JWT (case-insensitive)", "typ = at+jwt", SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"AT+JWT\"}", NULL, NULL,
	  ACCEPT("alice") },
	{ "typ not a string", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":1}", NULL, NULL, REJECT(MALFORMED) },

	/* --- required claims */
	{ "required claim missing", "required_claim = email_verified=true", RS256_OK,
	  NULL, NULL, REJECT(MISSING_CLAIM) },
	{ "required claim mismatch", "required_claim = email_verified=true", RS256_OK,
	  "{" C_BASE "," C_USER ",\"email_verified\":false}", NULL, REJECT(CLAIM_MISMATCH) },
	{ "required claim matches", "required_claim = email_verified=true", RS256_OK,
	  "{" C_BASE "," C_USER ",\"email_verified\":true}", NULL, ACCEPT("alice") },
	{ "required claim in an array", "required_claim = groups=mail", RS256_OK,
	  "{" C_BASE "," C_USER ",\"groups\":[\"staff\",\"mail\"]}", NULL, ACCEPT("alice") },
	{ "required claim not in the array", "required_claim = groups=mail", RS256_OK,
	  "{" C_BASE "," C_USER ",\"groups\":[\"staff\",\"mailer\"]}", NULL,
	  REJECT(CLAIM_MISMATCH) },
	{ "required claim an object", "required_claim = groups=mail", RS256_OK,
	  "{" C_BASE "," C_USER ",\"groups\":{\"mail\":true}}", NULL,
	  REJECT(CLAIM_MISMATCH) },
	{ "two required claims, second fails",
	  "required_claim = email_verified=true\nrequired_claim = tenant=42", RS256_OK,
	  "{" C_BASE "," C_USER ",\"email_verified\":true,\"tenant\":43}", NULL,
	  REJECT(CLAIM_MISMATCH) },
	{ "required number claim", "required_claim = tenant=42", RS256_OK,
	  "{" C_BASE "," C_USER ",\"tenant\":42}", NULL, ACCEPT("alice") },

	/* --- identity and user binding */
	{ "user mismatch", NULL, RS256_OK, NULL, "bob", REJECT(USER_MISMATCH) },
	/* the host may have case-folded the asserted user (Dovecot's
	   auth_username_format): the host still gets the token's spelling */
	{ "user differs in case", NULL, RS256_OK, NULL, "Alice", ACCEPT("alice") },
	{ "user differs in more than case", NULL, RS256_OK, NULL, "Alicf", REJECT(USER_MISMATCH) },
	{ "user with a domain the token lacks", NULL, RS256_OK, NULL, "alice@example.com",
	  REJECT(USER_MISMATCH) },
	{ "lowercase", "username_lowercase = yes", RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"Alice.Smith\"}", "ALICE.smith",
	  ACCEPT("alice.smith") },
	{ "domain strip", "username_domain_strip = example.com", RS256_OK,
	  "{" C_BASE ",\"email\":\"alice@example.com\"}", "alice", ACCEPT("alice") },
	{ "domain strip, other domain kept", "username_domain_strip = example.com",
	  RS256_OK, "{" C_BASE ",\"email\":\"alice@example.org\"}", NULL,
	  ACCEPT("alice@example.org") },
	{ "domain strip, asserted user normalised too",
	  "username_domain_strip = example.com", RS256_OK,
	  "{" C_BASE ",\"email\":\"alice@example.com\"}", "alice@example.com",
	  ACCEPT("alice") },
	{ "domain append", "username_domain_append = example.com", RS256_OK, NULL,
	  "alice@example.com", ACCEPT("alice@example.com") },
	{ "domain append, asserted bare user", "username_domain_append = example.com",
	  RS256_OK, NULL, "alice", ACCEPT("alice@example.com") },
	{ "domain append not to a name with @", "username_domain_append = example.com",
	  RS256_OK, "{" C_BASE ",\"email\":\"alice@example.org\"}", NULL,
	  ACCEPT("alice@example.org") },
	{ "lowercase, strip and append",
	  "username_lowercase = yes\nusername_domain_strip = Example.COM\n"
	  "username_domain_append = mail.example.com", RS256_OK,
	  "{" C_BASE ",\"email\":\"Bob@EXAMPLE.com\"}", "BOB", ACCEPT("bob@mail.example.com") },
	{ "the first configured claim present decides", NULL, RS256_OK,
	  "{" C_BASE ",\"sub\":\"1234\",\"email\":\"carol@example.com\"}", NULL,
	  ACCEPT("carol@example.com") },
	{ "claim order from the config", "username_claims = sub email", RS256_OK,
	  "{" C_BASE ",\"sub\":\"1234\",\"email\":\"carol@example.com\"}", NULL,
	  ACCEPT("1234") },
	{ "no identity", NULL, RS256_OK, "{" C_BASE ",\"name\":\"Alice\"}", NULL,
	  REJECT(NO_IDENTITY) },
	{ "identity claim a number", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":42}", NULL, REJECT(NO_IDENTITY) },
	{ "identity claim empty", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"\"}", NULL, REJECT(NO_IDENTITY) },
	{ "identity with a control character", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\\nadmin\"}", NULL,
	  REJECT(BAD_IDENTITY) },
	/* a NUL inside a claim must not truncate into another identity */
	{ "identity with an embedded NUL", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\\u0000@evil.test\"}", NULL,
	  REJECT(BAD_IDENTITY) },
	{ "identity with an embedded NUL, asserted prefix", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\\u0000@evil.test\"}", "alice",
	  REJECT(BAD_IDENTITY) },
	{ "identity with an embedded NUL, fallback claim present", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"admin\\u0000\",\"email\":\"alice@example.com\"}",
	  "admin", REJECT(BAD_IDENTITY) },
	/* --- issue 9, 1: names that could leave the mail root never reach a
	   host; username_allow widens the set, never past a dot segment */
	{ "identity walking up the tree", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"x/../../escaped@example.test\"}", NULL,
	  REJECT(BAD_IDENTITY) },
	{ "identity walking up the tree, asserted the same", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"x/../../escaped@example.test\"}",
	  "x/../../escaped@example.test", REJECT(BAD_IDENTITY) },
	{ "identity with a space", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice smith\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity with a space, username_allow = space", "username_allow = space", RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice smith\"}", "alice smith",
	  ACCEPT("alice smith") },
	{ "identity with a leading space (never trimmed)", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\" alice\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity with a tab", "username_allow = space", RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\\tsmith\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity with a no-break space", "username_allow = space", RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\\u00a0smith\"}", NULL,
	  REJECT(BAD_IDENTITY) },
	{ "identity with a slash", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"mail/alice\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity with a slash, username_allow = slash", "username_allow = slash", RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"mail/alice\"}", NULL, ACCEPT("mail/alice") },
	{ "dot segment, username_allow = slash", "username_allow = slash space backslash",
	  RS256_OK, "{" C_BASE ",\"preferred_username\":\"x/../escaped\"}", NULL,
	  REJECT(BAD_IDENTITY) },
	{ "identity with a backslash", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"CORP\\\\alice\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity with a backslash, username_allow = backslash", "username_allow = backslash",
	  RS256_OK, "{" C_BASE ",\"preferred_username\":\"CORP\\\\alice\"}", NULL,
	  ACCEPT("CORP\\alice") },
	{ "identity .. as the local part", NULL, RS256_OK,
	  "{" C_BASE ",\"email\":\"..@example.test\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity .. as the domain", NULL, RS256_OK,
	  "{" C_BASE ",\"email\":\"alice@..\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "identity .", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\".\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "dots inside a name are fine", NULL, RS256_OK,
	  "{" C_BASE ",\"email\":\"a..b.@example.test\"}", NULL, ACCEPT("a..b.@example.test") },
	{ "identity DEL", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\\u007f\"}", NULL, REJECT(BAD_IDENTITY) },
	{ "asserted user with a space", NULL, RS256_OK, NULL, "alice smith",
	  REJECT(BAD_IDENTITY) },
	/* one normalisation rule: one token, one user, whatever the client
	   asserted (XOAUTH2 user=, OAUTHBEARER with or without a=) */
	{ "ALICE, nothing asserted", "username_claims = email", RS256_OK,
	  "{" C_BASE ",\"email\":\"ALICE@EXAMPLE.TEST\"}", NULL, ACCEPT("ALICE@EXAMPLE.TEST") },
	{ "ALICE, asserted as is", "username_claims = email", RS256_OK,
	  "{" C_BASE ",\"email\":\"ALICE@EXAMPLE.TEST\"}", "ALICE@EXAMPLE.TEST",
	  ACCEPT("ALICE@EXAMPLE.TEST") },
	{ "ALICE, asserted lowercased by the host", "username_claims = email", RS256_OK,
	  "{" C_BASE ",\"email\":\"ALICE@EXAMPLE.TEST\"}", "alice@example.test",
	  ACCEPT("ALICE@EXAMPLE.TEST") },
	{ "ALICE lowercased, nothing asserted", "username_claims = email\nusername_lowercase = yes",
	  RS256_OK, "{" C_BASE ",\"email\":\"ALICE@EXAMPLE.TEST\"}", NULL,
	  ACCEPT("alice@example.test") },
	{ "ALICE lowercased, asserted as is", "username_claims = email\nusername_lowercase = yes",
	  RS256_OK, "{" C_BASE ",\"email\":\"ALICE@EXAMPLE.TEST\"}", "ALICE@EXAMPLE.TEST",
	  ACCEPT("alice@example.test") },
	/* --- issue 9, 3: a service token names no user; an ID token is not
	   an access token */
	{ "client_credentials token (sub = client_id)", NULL, RS256_OK,
	  "{" C_BASE ",\"sub\":\"mail-verifier\",\"client_id\":\"mail-verifier\","
	  "\"scope\":\"mail\"}", NULL, REJECT(NO_IDENTITY) },
	{ "client_credentials token asserting the client", NULL, RS256_OK,
	  "{" C_BASE ",\"sub\":\"mail-verifier\",\"client_id\":\"mail-verifier\"}",
	  "mail-verifier", REJECT(NO_IDENTITY) },
	{ "service token (sub = azp)", NULL, RS256_OK,
	  "{" C_BASE ",\"sub\":\"relay\",\"azp\":\"relay\"}", NULL, REJECT(NO_IDENTITY) },
	{ "Keycloak service account (service-account-CLIENT)", NULL, RS256_OK,
	  "{" C_BASE ",\"sub\":\"6f1c-uuid\",\"azp\":\"relay\","
	  "\"preferred_username\":\"service-account-relay\"}", NULL, REJECT(NO_IDENTITY) },
	{ "Entra ID app-only token (idtyp app)", "username_claims = upn oid", RS256_OK,
	  "{" C_BASE ",\"oid\":\"9b2e-oid\",\"azp\":\"0a1b-app\",\"idtyp\":\"app\"}",
	  NULL, REJECT(NO_IDENTITY) },
	{ "service token, allow_service_tokens = yes", "allow_service_tokens = yes", RS256_OK,
	  "{" C_BASE ",\"sub\":\"mail-verifier\",\"client_id\":\"mail-verifier\"}", NULL,
	  ACCEPT("mail-verifier") },
	{ "user token of a client (sub is the user)", NULL, RS256_OK,
	  "{" C_BASE ",\"sub\":\"alice\",\"client_id\":\"mail-device\"}", NULL,
	  ACCEPT("alice") },
	{ "ID token (at_hash)", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}",
	  "{" C_BASE "," C_USER ",\"at_hash\":\"x3yD0f8wLqRzGf5l4Xw1VA\"}", NULL,
	  REJECT(WRONG_TYPE) },
	{ "ID token (nonce, no typ)", NULL, RS256_OK,
	  "{" C_BASE "," C_USER ",\"nonce\":\"n-0S6_WzA2Mj\"}", NULL, REJECT(WRONG_TYPE) },
	{ "ID token (Keycloak typ claim ID)", NULL, RS256_OK,
	  "{" C_BASE "," C_USER ",\"typ\":\"ID\"}", NULL, REJECT(WRONG_TYPE) },
	{ "ID token, accept_id_tokens = yes", "accept_id_tokens = yes", RS256_OK,
	  "{" C_BASE "," C_USER ",\"nonce\":\"n-0S6_WzA2Mj\"}", NULL, ACCEPT("alice") },
	{ "at+jwt with a nonce is an access token", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"at+jwt\"}",
	  "{" C_BASE "," C_USER ",\"nonce\":\"n-0S6_WzA2Mj\"}", NULL, ACCEPT("alice") },
	/* --- issue 9, 4: one member name, one value */
	{ "duplicate claim", NULL, RS256_OK,
	  "{" C_BASE ",\"preferred_username\":\"alice\",\"preferred_username\":\"admin\"}",
	  NULL, REJECT(MALFORMED) },
	{ "duplicate iss", NULL, RS256_OK,
	  "{" C_BASE "," C_USER ",\"iss\":\"https://evil.test\"}", NULL, REJECT(MALFORMED) },
	{ "duplicate nested member", NULL, RS256_OK,
	  "{" C_BASE "," C_USER ",\"cnf\":{\"jkt\":\"a\",\"jkt\":\"b\"}}", NULL,
	  REJECT(MALFORMED) },
	{ "duplicate header member", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"kid\":\"ec256\"}", NULL, NULL,
	  REJECT(MALFORMED) },
	{ "duplicate alg", NULL, SIGN_KEY, "RS256", KEY_RSA,
	  "{\"alg\":\"none\",\"kid\":\"rsa1\",\"alg\":\"RS256\"}", NULL, NULL,
	  REJECT(MALFORMED) },
	{ "required claim with an embedded NUL", "required_claim = role=admin", RS256_OK,
	  "{" C_BASE "," C_USER ",\"role\":\"admin\\u0000x\"}", NULL,
	  REJECT(CLAIM_MISMATCH) },
};

/* Headers that need the attacker's JWK, built once by main(). */
static char *jwk_header_attacker_kid;
static char *jwk_header_victim_kid;

static const char *
case_header(const struct vcase *c)
{
	if (strcmp(c->name, "embedded jwk, attacker kid") == 0)
		return jwk_header_attacker_kid;
	if (strcmp(c->name, "embedded jwk, victim kid") == 0)
		return jwk_header_victim_kid;
	return c->header;
}

static const char *
case_payload(const struct vcase *c)
{
	if (strcmp(c->name, "oversized (> 16 KiB)") == 0)
		return big_payload;
	return c->payload;
}

START_TEST(test_case)
{
	const struct vcase *c = &cases[_i];
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *token = make_token(c->signer, c->alg, c->key, case_header(c),
				 case_payload(c));

	ck_assert_msg(token != NULL, "%s: cannot build the token", c->name);
	local_config(config, sizeof(config), c->config);
	engine_create(&e, config);
	verify(&e, token, c->user, &r);
	assert_result(&r, c->outcome, c->reason, c->name);
	if (c->outcome == MOA2_OUTCOME_ACCEPTED) {
		ck_assert_msg(strcmp(r.identity, c->identity) == 0,
			      "%s: identity %s, expected %s", c->name, r.identity, c->identity);
		ck_assert_str_eq(r.provider, "test");
		ck_assert(!r.from_cache);
	}
	/* rejections are stable: the same token gives the same answer */
	moa2_verify_result_clear(&r);
	verify(&e, token, c->user, &r);
	ck_assert_int_eq(r.outcome, c->outcome);
	ck_assert_int_eq(r.reason, c->reason);
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(token);
}
END_TEST

/* ------------------------------------------------------------ local tests */

/* The fields of an accepted result. */
START_TEST(test_result_fields)
{
	char config[CONFIG_MAX], fp[MOA2_FINGERPRINT_LEN + 1];
	struct engine e;
	struct moa2_verify_result r;
	char *token = test_jose_sign("ES256", keys[KEY_EC256],
				     "{\"alg\":\"ES256\",\"kid\":\"ec256\"}",
				     "{" C_BASE ",\"preferred_username\":\"alice\","
				     "\"email\":\"alice@example.com\",\"groups\":[\"staff\",\"mail\"],"
				     "\"email_verified\":true,\"scope\":\"openid email\"}");

	local_config(config, sizeof(config),
		     "claims_export = email groups email_verified absent\n"
		     "required_scopes = email");
	engine_create(&e, config);
	/* checks are formatted only on request (the CLI's explain) */
	verify(&e, token, "alice", &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "result fields");
	ck_assert_str_eq(r.checks, "");
	moa2_verify_result_clear(&r);
	moa2_verifier_set_explain(e.verifier, true);
	verify(&e, token, "alice", &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "result fields");
	ck_assert_str_eq(r.identity, "alice");
	ck_assert_str_eq(r.provider, "test");
	ck_assert_int_eq(r.expires_at, 1700003600);
	ck_assert(!r.from_cache);
	ck_assert_str_eq(r.scope, "email");
	moa2_token_fingerprint(token, strlen(token), fp);
	ck_assert_str_eq(r.fingerprint, fp);
	ck_assert_uint_eq(r.claims_count, 3);
	ck_assert_str_eq(r.claims[0].name, "email");
	ck_assert_str_eq(r.claims[0].value, "alice@example.com");
	ck_assert_str_eq(r.claims[1].name, "groups");
	ck_assert_str_eq(r.claims[1].value, "staff mail");
	ck_assert_str_eq(r.claims[2].name, "email_verified");
	ck_assert_str_eq(r.claims[2].value, "true");
	/* the CLI prints the checks: each one made is named */
	ck_assert_ptr_nonnull(strstr(r.checks, "signature: ES256, key ec256"));
	ck_assert_ptr_nonnull(strstr(r.checks, "iss: " ISSUER));
	ck_assert_ptr_nonnull(strstr(r.checks, "aud: contains mail"));
	ck_assert_ptr_nonnull(strstr(r.checks, "identity: alice"));
	moa2_verify_result_clear(&r);
	ck_assert_ptr_null(r.identity);
	ck_assert_ptr_null(r.claims);
	ck_assert_uint_eq(r.claims_count, 0);

	/* a rejection carries no identity, claims or expiry-derived access */
	verify(&e, token, "bob", &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_USER_MISMATCH, "bob");
	ck_assert_ptr_nonnull(strstr(r.detail, "bob"));
	ck_assert_str_eq(r.provider, "test");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(token);
}
END_TEST

/* Host binding (Dovecot's username rules): the asserted user is only
   normalised, the host's names decide; a rejected token still names the
   identity it claims, for the log. */
START_TEST(test_host_binding)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *token = test_jose_sign("ES256", keys[KEY_EC256],
				     "{\"alg\":\"ES256\",\"kid\":\"ec256\"}",
				     "{" C_BASE ",\"preferred_username\":\"ALICE\"}");

	local_config(config, sizeof(config), NULL);
	engine_create(&e, config);
	/* without host binding: the core compares (ASCII case aside) */
	verify(&e, token, "alice", &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "no host binding, case aside");
	moa2_verify_result_clear(&r);
	verify(&e, token, "bob", &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_USER_MISMATCH, "no host binding");
	ck_assert_str_eq(r.claimed_identity, "ALICE");
	moa2_verify_result_clear(&r);

	moa2_verifier_set_host_binding(e.verifier, true);
	verify(&e, token, "alice", &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "host binding");
	ck_assert_str_eq(r.asserted_identity, "alice");
	/* the host lowercases both: one user */
	moa2_verify_result_bind_host(&r, "alice", "alice", NULL);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "bound");
	ck_assert_str_eq(r.identity, "alice");
	moa2_verify_result_clear(&r);

	verify(&e, token, "bob", &r);
	moa2_verify_result_bind_host(&r, "alice", "bob", NULL);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_USER_MISMATCH, "bob");
	ck_assert_ptr_nonnull(strstr(r.detail, "bob"));
	moa2_verify_result_clear(&r);

	/* the host refuses the asserted name, or the identity */
	verify(&e, token, "alice", &r);
	moa2_verify_result_bind_host(&r, "alice", NULL, "bad chars");
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_USER_MISMATCH, "asserted refused");
	moa2_verify_result_clear(&r);
	verify(&e, token, NULL, &r);
	ck_assert_ptr_null(r.asserted_identity);
	moa2_verify_result_bind_host(&r, NULL, NULL, "bad chars");
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_NO_IDENTITY, "identity refused");
	ck_assert_ptr_nonnull(strstr(r.detail, "bad chars"));
	moa2_verify_result_clear(&r);

	/* no-op on a rejection; the claimed identity survives it */
	pinned_now = 1700003600 + 120;
	verify(&e, token, NULL, &r);
	moa2_verify_result_bind_host(&r, "alice", NULL, NULL);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_EXPIRED, "expired");
	ck_assert_str_eq(r.claimed_identity, "ALICE");
	moa2_verify_result_clear(&r);
	ck_assert_ptr_null(r.claimed_identity);
	pinned_now = NOW;
	engine_destroy(&e);
	free(token);
}
END_TEST

/* The token (or its signature) never appears in a log line or a detail. */
START_TEST(test_token_never_logged)
{
	static const char *const users[] = { NULL, "bob" };
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *token = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	const char *sig = strrchr(token, '.') + 1;

	log_text[0] = '\0';
	local_config(config, sizeof(config), NULL);
	engine_create(&e, config);
	for (size_t i = 0; i < 2; i++) {
		verify(&e, token, users[i], &r);
		ck_assert_ptr_null(strstr(r.detail, sig));
		ck_assert_ptr_null(strstr(r.checks, sig));
		moa2_verify_result_clear(&r);
	}
	ck_assert_ptr_null(strstr(log_text, sig));
	ck_assert_ptr_null(strstr(log_text, token));
	engine_destroy(&e);
	free(token);
}
END_TEST

/* RSA under 2048 bits: a PEM key file holding one is refused at start. */
START_TEST(test_small_rsa_pem_refused)
{
	char config[CONFIG_MAX], line[TMP_DIR_MAX + 64];
	char *error;

	snprintf(line, sizeof(line), "jwks_file = %s", small_pem_path);
	local_config(config, sizeof(config), line);
	error = engine_create_fails(config);
	ck_assert_msg(strstr(error, "jwks_file") != NULL, "error: %s", error);
	free(error);
}
END_TEST

/* RSA under 2048 bits in a JWKS file: the key is never usable, and a file
   whose only key is too small is refused at start. */
START_TEST(test_small_rsa_jwks_refused)
{
	char config[CONFIG_MAX], line[TMP_DIR_MAX + 64];
	char *error;

	snprintf(line, sizeof(line), "jwks_file = %s", small_jwks_path);
	local_config(config, sizeof(config), line);
	error = engine_create_fails(config);
	ck_assert_msg(strstr(error, "jwks_file") != NULL, "error: %s", error);
	free(error);
}
END_TEST

/* Alongside a good key, the small key never verifies a token. */
START_TEST(test_small_rsa_never_used)
{
	char config[CONFIG_MAX], path[TMP_DIR_MAX + 32], line[TMP_DIR_MAX + 64];
	char *jwk_good = test_jose_public_jwk(keys[KEY_RSA], "rsa1", NULL);
	char *jwk_small = test_jose_public_jwk(keys[KEY_RSA_SMALL], "small", NULL);
	const char *parts[] = { jwk_good, jwk_small, NULL };
	char *jwks = test_jose_jwks(parts);
	char *token = make_token(SIGN_KEY, "RS256", KEY_RSA_SMALL, NULL, NULL);
	struct engine e;
	struct moa2_verify_result r;

	snprintf(path, sizeof(path), "%s/mixed-jwks.json", tmp_dir);
	write_file(path, jwks);
	snprintf(line, sizeof(line), "jwks_file = %s", path);
	local_config(config, sizeof(config), line);
	engine_create(&e, config);
	verify(&e, token, NULL, &r);
	ck_assert_int_eq(r.outcome, MOA2_OUTCOME_REJECTED);
	ck_assert_msg(r.reason == MOA2_VERIFY_UNKNOWN_KEY || r.reason == MOA2_VERIFY_BAD_SIGNATURE,
		      "reason %s", moa2_verify_reason_name(r.reason));
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(token);
	free(jwks);
	free(jwk_good);
	free(jwk_small);
}
END_TEST

/* HS* is never allowed without a configured secret. */
START_TEST(test_hmac_needs_secret)
{
	char config[CONFIG_MAX];
	char *error;

	local_config(config, sizeof(config), "algorithms = HS256");
	error = engine_create_fails(config);
	ck_assert_msg(strstr(error, "algorithms") != NULL, "error: %s", error);
	free(error);
	local_config(config, sizeof(config), "algorithms = none");
	error = engine_create_fails(config);
	ck_assert_msg(strstr(error, "algorithms") != NULL, "error: %s", error);
	free(error);
	/* and no audience without the explicit opt-out */
	local_config(config, sizeof(config), "audience = ");
	error = engine_create_fails(config);
	ck_assert_msg(strstr(error, "audience") != NULL, "error: %s", error);
	free(error);
}
END_TEST

/* A JWT is routed by iss: two providers with their own keys and policy. */
START_TEST(test_route_by_issuer)
{
	char config[CONFIG_MAX], other[2 * CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *token_a = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	char *token_b = make_token(SIGN_HMAC, "HS256", KEY_RSA, "{\"alg\":\"HS256\"}",
				   "{\"iss\":\"https://other.test\",\"aud\":\"imap\","
				   C_EXP ",\"email\":\"Dave@Other.Test\"}");
	/* other's secret does not let a token claim the first issuer */
	char *token_c = make_token(SIGN_HMAC, "HS256", KEY_RSA, "{\"alg\":\"HS256\"}", NULL);

	local_config(config, sizeof(config), NULL);
	snprintf(other, sizeof(other), "%s[provider other]\nmode = jwt\n"
		 "issuer = https://other.test\nalgorithms = HS256\nhmac_secret = %s\n"
		 "audience = imap\nusername_claims = email\nusername_lowercase = yes\n",
		 config, HMAC_SECRET);
	engine_create(&e, other);
	verify(&e, token_a, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "provider test");
	ck_assert_str_eq(r.provider, "test");
	moa2_verify_result_clear(&r);
	verify(&e, token_b, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "provider other");
	ck_assert_str_eq(r.provider, "other");
	ck_assert_str_eq(r.identity, "dave@other.test");
	moa2_verify_result_clear(&r);
	verify(&e, token_c, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_ALG_NOT_ALLOWED, "HS256 for test");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(token_a);
	free(token_b);
	free(token_c);
}
END_TEST

/* Opaque tokens with no opaque mode configured are malformed, not
   tempfail; an empty token is refused. */
START_TEST(test_opaque_without_opaque_mode)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;

	local_config(config, sizeof(config), NULL);
	engine_create(&e, config);
	verify(&e, "ya29.opaque-google-token", NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_MALFORMED, "opaque");
	moa2_verify_result_clear(&r);
	verify(&e, "", NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_MALFORMED, "empty");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
}
END_TEST

/* ------------------------------------------------------------ network */

static struct tc_fault_server server;

static const char *const server_routes[] = {
	"--route=/boom=status:500",
	"--route=/introspect-unauthorized=status:401",
	"--route=/introspect-garbage=garbage",
	NULL
};

static void
net_setup(void)
{
	tc_fault_server_start(&server, tmp_dir, root_dir, NULL, server_routes);
}

static void
net_teardown(void)
{
	tc_fault_server_stop(&server);
}

static const char *
server_url(const char *path)
{
	static char url[URL_MAX];

	if (snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", server.port, path) >=
	    (int)sizeof(url))
		abort();
	return url;
}

static struct moa2_http_client *
control_client(void)
{
	struct moa2_http_settings settings = {
		.total_timeout_ms = 5000, .allow_http_loopback = true,
	};
	struct moa2_http_client *client;
	const char *error = NULL;

	ck_assert_msg(moa2_http_client_create(&settings, &client, &error) == 0,
		      "client: %s", error);
	return client;
}

/* The number of requests the server saw for path. */
static int64_t
server_count(const char *path)
{
	struct moa2_http_client *client = control_client();
	struct moa2_http_response resp;
	struct moa2_json *json;
	const char *error = NULL;
	int64_t count = 0;

	ck_assert_msg(moa2_http_get(client, server_url("/_stats"), NULL, &resp, &error) == 0,
		      "/_stats: %s", error);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_msg(moa2_json_parse(resp.body, resp.body_len, &json, &error) == 0,
		      "/_stats: %s", error);
	ck_assert_int_ge(moa2_json_get_int64(json, path, &count), 0);
	moa2_json_free(&json);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
	return count;
}

static void
server_control(const char *query)
{
	struct moa2_http_client *client = control_client();
	struct moa2_http_response resp;
	const char *error = NULL;
	char path[URL_MAX];

	snprintf(path, sizeof(path), "/_control?%s", query);
	ck_assert_msg(moa2_http_get(client, server_url(path), NULL, &resp, &error) == 0,
		      "/_control: %s", error);
	ck_assert_int_eq(resp.status, 200);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}

/* A provider whose keys come from the server; the cache_dir is the
   current one (new_cache_dir() for a fresh one). */
static void
jwks_uri_config(char *buf, size_t size)
{
	snprintf(buf, size,
		 "allow_http_loopback = yes\nhttp_timeout = 5s\ncache_dir = %s\n"
		 "[provider net]\nmode = jwt\nissuer = " ISSUER "\n"
		 "jwks_uri = %s\naudience = mail\n", cache_dir, server_url("/jwks.json"));
}

static char *
unknown_kid_token(void)
{
	char header[128];

	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"k-%016llx\"}",
		 (unsigned long long)tc_rand());
	return make_token(SIGN_KEY, "RS256", KEY_RSA, header, NULL);
}

static void
verify_unknown_kids(struct engine *e, unsigned int count)
{
	struct moa2_verify_result r;

	for (unsigned int i = 0; i < count; i++) {
		char *token = unknown_kid_token();

		verify(e, token, NULL, &r);
		assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_UNKNOWN_KEY, "unknown kid");
		moa2_verify_result_clear(&r);
		free(token);
	}
}

static unsigned int key_fetch_events;
static char key_fetch_fields[256];

static void
collect_event(void *context, const struct moa2_event *event)
{
	size_t used = 0;

	(void)context;
	if (strcmp(event->name, MOA2_EVENT_KEY_FETCH_FINISHED) != 0)
		return;
	key_fetch_events++;
	key_fetch_fields[0] = '\0';
	for (unsigned int i = 0; i < event->fields_count; i++) {
		const struct moa2_event_field *f = &event->fields[i];

		used += (size_t)snprintf(key_fetch_fields + used,
					 sizeof(key_fetch_fields) - used, "%s%s=%s",
					 i > 0 ? " " : "", f->name,
					 f->str != NULL ? f->str : "N");
	}
}

/* Every JWKS fetch is an event for the host's metrics. */
START_TEST(test_key_fetch_event)
{
	static const struct moa2_logger logger = { collect_log, NULL, true, collect_event };
	char config[CONFIG_MAX];
	struct moa2_verify_config *cfg;
	struct moa2_verifier *verifier;
	struct moa2_verify_result r;
	char *token = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	char *error = NULL;

	pinned_now = NOW;
	new_cache_dir();
	jwks_uri_config(config, sizeof(config));
	ck_assert_int_eq(moa2_verify_config_load_string("test.conf", config, strlen(config),
							&cfg, &error), 0);
	ck_assert_int_eq(moa2_verifier_create(cfg, &logger, &verifier, &error), 0);
	moa2_verifier_set_clock(verifier, test_clock, &pinned_now);
	key_fetch_events = 0;
	moa2_verify_token(verifier, token, strlen(token), NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "first");
	moa2_verify_result_clear(&r);
	moa2_verify_token(verifier, token, strlen(token), NULL, &r);
	moa2_verify_result_clear(&r);
	ck_assert_uint_eq(key_fetch_events, 1);
	ck_assert_int_eq(moa2_verifier_jwks_fetch_count(verifier), 1);
	ck_assert_str_eq(key_fetch_fields, "provider=net result=ok duration_usecs=N");
	moa2_verifier_destroy(&verifier);
	moa2_verify_config_free(&cfg);
	free(token);
}
END_TEST

/* A flood of unknown kids is not a flood of JWKS requests. */
START_TEST(test_unknown_kid_refetch_limit)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *known = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	int64_t fetches;

	pinned_now = NOW;
	new_cache_dir();
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify_unknown_kids(&e, FLOOD_TOKENS);
	fetches = server_count("/jwks.json");
	ck_assert_msg(fetches >= 1 && fetches <= 2, "%lld JWKS fetches for %d unknown kids",
		      (long long)fetches, FLOOD_TOKENS);
	ck_assert_int_eq(moa2_verifier_jwks_fetch_count(e.verifier), fetches);

	/* the keys are there: a known kid verifies with no new fetch */
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "known kid");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/jwks.json"), fetches);

	/* one refetch interval later (default 60 s): one more fetch at most */
	pinned_now = NOW + 61;
	verify_unknown_kids(&e, FLOOD_TOKENS);
	ck_assert_int_eq(server_count("/jwks.json"), fetches + 1);
	pinned_now = NOW;
	engine_destroy(&e);
	free(known);
}
END_TEST

/* Provider down after the first fetch: a known kid still verifies from the
   cached keys, an unknown kid is a temporary failure (the key may exist). */
START_TEST(test_provider_down_cached_keys)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *known = make_token(SIGN_KEY, "ES256", KEY_EC256, NULL, NULL);
	char *unknown = unknown_kid_token();

	pinned_now = NOW;
	new_cache_dir();
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "known kid, provider up");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/jwks.json"), 1);

	server_control("down=1");
	pinned_now = NOW + 61; /* past the refetch interval, keys still fresh */
	verify(&e, unknown, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "unknown kid, down");
	ck_assert_str_eq(r.provider, "net");
	moa2_verify_result_clear(&r);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "known kid, provider down");
	moa2_verify_result_clear(&r);
	/* past the key set's freshness too: the stale keys still serve */
	pinned_now = NOW + 3600;
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "known kid, stale keys");
	moa2_verify_result_clear(&r);
	pinned_now = NOW;
	engine_destroy(&e);
	free(known);
	free(unknown);
}
END_TEST

/* Never fetched and the provider down: a temporary failure, never a
   rejection. */
START_TEST(test_provider_down_from_start)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *known = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);

	pinned_now = NOW;
	server_control("down=1");
	new_cache_dir();
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "down from start");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(known);
}
END_TEST

/* A restart while the provider is down: the key set persisted in
   cache_dir by the previous process still verifies. */
START_TEST(test_restart_provider_down_persisted_keys)
{
	char config[CONFIG_MAX], claims[256], header[128];
	struct engine e;
	struct moa2_verify_result r;
	/* the persisted copy is dated by its file's mtime: the real clock */
	time_t t0 = time(NULL);
	char *known, *unknown;

	snprintf(claims, sizeof(claims), "{" C_ISS "," C_AUD "," C_USER ",\"exp\":%lld}",
		 (long long)t0 + 7200);
	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"k-%016llx\"}",
		 (unsigned long long)tc_rand());
	known = make_token(SIGN_KEY, "EdDSA", KEY_ED, NULL, claims);
	unknown = make_token(SIGN_KEY, "RS256", KEY_RSA, header, claims);
	pinned_now = t0;
	new_cache_dir();
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "first process");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	ck_assert_int_eq(server_count("/jwks.json"), 1);

	server_control("down=1");
	pinned_now = t0 + 600; /* later, past the key set's freshness */
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "restarted, provider down");
	moa2_verify_result_clear(&r);
	verify(&e, unknown, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "restarted, unknown kid");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);

	/* without the persisted copy the same restart is a temporary failure */
	new_cache_dir();
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "no persisted copy");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	pinned_now = NOW;
	free(known);
	free(unknown);
}
END_TEST

/* ------------------------------------------------ a slow or dead provider */

/* A file's text (malloc()ed), or NULL when it cannot be read. */
static char *
read_file_or_null(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static void
write_text_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* Milliseconds since t0 (monotonic). */
static int64_t
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* verify, timed: the result in r, the milliseconds returned */
static int64_t
verify_timed(struct engine *e, const char *token, struct moa2_verify_result *r)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	verify(e, token, NULL, r);
	return ms_since(&t0);
}

/* The provider accepts connections to path and never answers (within
   any timeout of these tests). */
static void
server_hang(const char *path)
{
	char query[URL_MAX];

	snprintf(query, sizeof(query), "path=%s&mode=slow&delay=120", path);
	server_control(query);
}

/* Waits (at most 5 s) until the server has seen n requests for path. */
static void
wait_server_count(const char *path, int64_t n)
{
	for (int i = 0; i < 500 && server_count(path) < n; i++)
		tc_sleep_ms(10);
	ck_assert_int_eq(server_count(path), n);
}

/* An RS256 token valid for two hours from t0 (kid: KEY_RSA's, or kid). */
static char *
real_clock_token(time_t t0, const char *kid)
{
	char claims[256], header[128];

	snprintf(claims, sizeof(claims), "{" C_ISS "," C_AUD "," C_USER ",\"exp\":%lld}",
		 (long long)t0 + 7200);
	if (kid != NULL)
		snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
	return make_token(SIGN_KEY, "RS256", KEY_RSA, kid != NULL ? header : NULL, claims);
}

#define HANG_TIMEOUT_MS 2000
/* A login that cached keys can serve: far below the HTTP timeout */
#define FAST_MS 500

static void
hang_config(char *buf, size_t size)
{
	snprintf(buf, size,
		 "allow_http_loopback = yes\nhttp_connect_timeout = 1s\nhttp_timeout = 2s\n"
		 "cache_dir = %s\n[provider net]\nmode = jwt\nissuer = " ISSUER "\n"
		 "jwks_uri = %s\naudience = mail\n", cache_dir, server_url("/jwks.json"));
}

static void
assert_fast_accept(struct engine *e, const char *token, const char *what)
{
	struct moa2_verify_result r;
	int64_t ms = verify_timed(e, token, &r);

	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, what);
	moa2_verify_result_clear(&r);
	ck_assert_msg(ms < FAST_MS, "%s: %lld ms", what, (long long)ms);
}

/* Issue 9 item 5: keys cached but stale, the provider accepts the
   connection and never answers. Logins the keys can serve never wait for
   it (the refresh runs in the background, once); an unknown kid is a
   temporary failure after at most that one bounded attempt; the failed
   attempt is remembered in the cache dir, so a new process (a restart)
   does not try again at once either. */
START_TEST(test_stale_keys_provider_hangs)
{
	char config[CONFIG_MAX], path[TMP_DIR_MAX + 128], *text;
	struct engine e;
	struct moa2_verify_result r;
	/* the persisted copy is dated by its file's mtime: the real clock */
	time_t t0 = time(NULL);
	char *known = real_clock_token(t0, NULL);
	char *unknown = real_clock_token(t0, "k-unknown");
	int64_t ms;

	pinned_now = t0;
	new_cache_dir();
	hang_config(config, sizeof(config));
	engine_create(&e, config);
	assert_fast_accept(&e, known, "provider up");
	ck_assert_int_eq(server_count("/jwks.json"), 1);

	server_hang("/jwks.json");
	pinned_now = t0 + 1800; /* past the keys' freshness, within jwks_stale_max */
	for (int i = 0; i < 20; i++)
		assert_fast_accept(&e, known, "stale keys, provider hangs");
	/* exactly one refresh went out, in the background */
	wait_server_count("/jwks.json", 2);
	ck_assert_uint_eq(moa2_verifier_jwks_fetch_count(e.verifier), 2);

	/* an unknown kid waits for the attempt in flight (bounded), never
	   starts another, and is a temporary failure */
	ms = verify_timed(&e, unknown, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "unknown kid, hangs");
	moa2_verify_result_clear(&r);
	ck_assert_msg(ms < HANG_TIMEOUT_MS + 1000, "unknown kid: %lld ms", (long long)ms);
	/* then at once: the failure is remembered for jwks_refetch_interval */
	ms = verify_timed(&e, unknown, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "unknown kid again");
	moa2_verify_result_clear(&r);
	ck_assert_msg(ms < FAST_MS, "unknown kid again: %lld ms", (long long)ms);
	assert_fast_accept(&e, known, "stale keys after the failed refresh");
	ck_assert_int_eq(server_count("/jwks.json"), 2);
	ck_assert_msg(strstr(log_text, "fetching the JWKS from") != NULL, "%s", log_text);
	engine_destroy(&e);

	/* a new process: the failed attempt is recorded beside the keys */
	snprintf(path, sizeof(path), "%s/net.jwks.json.retry", cache_dir);
	text = read_file_or_null(path);
	ck_assert_msg(text != NULL && strncmp(text, "failed ", 7) == 0, "%s: %s", path,
		      text != NULL ? text : "(missing)");
	free(text);
	pinned_now = t0 + 1810;
	engine_create(&e, config);
	assert_fast_accept(&e, known, "new process, stale keys, recorded failure");
	ms = verify_timed(&e, unknown, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "new process, unknown kid");
	moa2_verify_result_clear(&r);
	ck_assert_msg(ms < FAST_MS, "new process, unknown kid: %lld ms", (long long)ms);
	ck_assert_int_eq(server_count("/jwks.json"), 2);
	ck_assert_uint_eq(moa2_verifier_jwks_fetch_count(e.verifier), 0);
	/* past jwks_refetch_interval: one new attempt (in the background) */
	pinned_now = t0 + 1810 + 61;
	assert_fast_accept(&e, known, "new process, after the back-off");
	wait_server_count("/jwks.json", 3);
	engine_destroy(&e);
	pinned_now = NOW;
	free(known);
	free(unknown);
}
END_TEST

/* Stale keys, the provider answers: the login does not wait, the
   background refresh's keys are adopted (fresh again: no further fetch)
   and persisted, and no attempt stays recorded. */
START_TEST(test_stale_keys_refreshed_in_background)
{
	char config[CONFIG_MAX], path[TMP_DIR_MAX + 128];
	struct engine e;
	time_t t0 = time(NULL);
	char *known = real_clock_token(t0, NULL);
	struct stat before, after;

	pinned_now = t0;
	new_cache_dir();
	hang_config(config, sizeof(config));
	engine_create(&e, config);
	assert_fast_accept(&e, known, "first fetch");
	snprintf(path, sizeof(path), "%s/net.jwks.json", cache_dir);
	ck_assert_int_eq(stat(path, &before), 0);
	server_control("path=/jwks.json&mode=slow&delay=0.3");
	pinned_now = t0 + 1800;
	assert_fast_accept(&e, known, "stale keys, slow provider");
	wait_server_count("/jwks.json", 2);
	/* taken by a later login once the fetch is done (at most 5 s) */
	for (int i = 0; i < 100; i++) {
		tc_sleep_ms(50);
		assert_fast_accept(&e, known, "while refreshing");
		ck_assert_int_eq(stat(path, &after), 0);
		if (after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
		    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
			break;
	}
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_msg(after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
		      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec,
		      "the refreshed key set was not persisted");
	/* fresh again: 100 s later (past jwks_refetch_interval) no fetch */
	pinned_now = t0 + 1900;
	assert_fast_accept(&e, known, "refreshed keys");
	tc_sleep_ms(100);
	ck_assert_int_eq(server_count("/jwks.json"), 2);
	ck_assert_uint_eq(moa2_verifier_jwks_fetch_count(e.verifier), 2);
	snprintf(path, sizeof(path), "%s/net.jwks.json.retry", cache_dir);
	ck_assert_msg(access(path, F_OK) < 0, "%s left behind", path);
	engine_destroy(&e);
	pinned_now = NOW;
	free(known);
}
END_TEST

/* No usable copy and a failed attempt recorded by another process: a
   temporary failure at once, without a request. */
START_TEST(test_recorded_failure_no_copy)
{
	char config[CONFIG_MAX], path[TMP_DIR_MAX + 128], text[64];
	struct engine e;
	struct moa2_verify_result r;
	char *known = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	int64_t ms;

	pinned_now = NOW;
	new_cache_dir();
	ck_assert_int_eq(mkdir(cache_dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/net.jwks.json.retry", cache_dir);
	snprintf(text, sizeof(text), "failed %lld\nconnection timed out\n", (long long)NOW - 5);
	write_text_file(path, text);
	hang_config(config, sizeof(config));
	engine_create(&e, config);
	ms = verify_timed(&e, known, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "recorded failure");
	ck_assert_msg(strstr(r.detail, "connection timed out") != NULL, "%s", r.detail);
	moa2_verify_result_clear(&r);
	ck_assert_msg(ms < FAST_MS, "recorded failure: %lld ms", (long long)ms);
	ck_assert_int_eq(server_count("/jwks.json"), 0);
	/* a "pending" record (its process may have died) does not stop a
	   process that has no copy */
	snprintf(text, sizeof(text), "pending %lld\n\n", (long long)NOW + 60);
	write_text_file(path, text);
	pinned_now = NOW + 61;
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "pending record, no copy");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/jwks.json"), 1);
	/* success removes the record */
	ck_assert_int_eq(access(path, F_OK), -1);
	engine_destroy(&e);
	pinned_now = NOW;
	free(known);
}
END_TEST

#define HANG_THREADS 4
#define HANG_LOGINS 25

struct hang_thread {
	const struct moa2_verify_config *cfg;
	const char *token;
	pthread_t tid;
	unsigned int accepted;
	int64_t max_ms;
};

static void *
hang_thread_main(void *context)
{
	struct hang_thread *t = context;
	struct moa2_verifier *v;
	char *error = NULL;

	if (moa2_verifier_create(t->cfg, NULL, &v, &error) < 0)
		return NULL;
	moa2_verifier_set_clock(v, test_clock, &pinned_now);
	for (int i = 0; i < HANG_LOGINS; i++) {
		struct moa2_verify_result r;
		struct timespec t0;
		int64_t ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		moa2_verify_token(v, t->token, strlen(t->token), NULL, &r);
		ms = ms_since(&t0);
		if (r.outcome == MOA2_OUTCOME_ACCEPTED)
			t->accepted++;
		if (ms > t->max_ms)
			t->max_ms = ms;
		moa2_verify_result_clear(&r);
	}
	moa2_verifier_destroy(&v);
	return NULL;
}

/* Threads mode (one verifier per thread, the cache dir shared): stale
   keys, a provider that never answers: every thread's logins are served
   at once, and one refresh goes out for the whole process. */
START_TEST(test_stale_keys_threads_one_refresh)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct hang_thread threads[HANG_THREADS];
	time_t t0 = time(NULL);
	char *known = real_clock_token(t0, NULL);

	pinned_now = t0;
	new_cache_dir();
	hang_config(config, sizeof(config));
	engine_create(&e, config);
	assert_fast_accept(&e, known, "provider up");
	engine_destroy(&e);
	ck_assert_int_eq(server_count("/jwks.json"), 1);

	server_hang("/jwks.json");
	pinned_now = t0 + 1800;
	engine_create(&e, config);
	for (unsigned int i = 0; i < HANG_THREADS; i++) {
		threads[i] = (struct hang_thread){ .cfg = e.cfg, .token = known };
		ck_assert_int_eq(pthread_create(&threads[i].tid, NULL, hang_thread_main,
						&threads[i]), 0);
	}
	for (unsigned int i = 0; i < HANG_THREADS; i++) {
		ck_assert_int_eq(pthread_join(threads[i].tid, NULL), 0);
		ck_assert_uint_eq(threads[i].accepted, HANG_LOGINS);
		ck_assert_msg(threads[i].max_ms < FAST_MS, "thread %u: slowest login %lld ms", i,
			      (long long)threads[i].max_ms);
	}
	wait_server_count("/jwks.json", 2);
	tc_sleep_ms(200);
	ck_assert_int_eq(server_count("/jwks.json"), 2);
	engine_destroy(&e);
	pinned_now = NOW;
	free(known);
}
END_TEST

/* ------------------------------------------------ the cache dir */

/* Symlinks planted in the cache dir redirect no write (the temp files
   are created O_EXCL|O_NOFOLLOW) and feed no keys (read O_NOFOLLOW). */
START_TEST(test_cache_dir_symlinks)
{
	char config[CONFIG_MAX], victim[TMP_DIR_MAX + 64], victim2[TMP_DIR_MAX + 64];
	char lpath[TMP_DIR_MAX + 160], *text, *unknown;
	struct engine e;
	struct moa2_verify_result r;
	char *known = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);

	pinned_now = NOW;
	new_cache_dir();
	ck_assert_int_eq(mkdir(cache_dir, 0755), 0);
	snprintf(victim, sizeof(victim), "%s/victim-%ld", tmp_dir, (long)getpid());
	write_text_file(victim, "precious\n");
	for (unsigned int i = 0; i < 64; i++) {
		snprintf(lpath, sizeof(lpath), "%s/net.jwks.json.tmp.%ld.%u", cache_dir,
			 (long)getpid(), i);
		ck_assert_int_eq(symlink(victim, lpath), 0);
		snprintf(lpath, sizeof(lpath), "%s/net.jwks.json.fresh.tmp.%ld.%u", cache_dir,
			 (long)getpid(), i);
		ck_assert_int_eq(symlink(victim, lpath), 0);
		snprintf(lpath, sizeof(lpath), "%s/net.jwks.json.retry.tmp.%ld.%u", cache_dir,
			 (long)getpid(), i);
		ck_assert_int_eq(symlink(victim, lpath), 0);
	}
	/* the attempt record, updated in place: a hard lpath is refused too */
	snprintf(victim2, sizeof(victim2), "%s/victim2-%ld", tmp_dir, (long)getpid());
	write_text_file(victim2, "precious\n");
	snprintf(lpath, sizeof(lpath), "%s/net.jwks.json.retry", cache_dir);
	ck_assert_int_eq(link(victim2, lpath), 0);
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "planted temp names");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	text = read_file_or_null(victim);
	ck_assert_str_eq(text, "precious\n");
	free(text);
	text = read_file_or_null(victim2);
	ck_assert_str_eq(text, "precious\n");
	free(text);
	/* a symlink as the attempt record is not followed either (an unknown
	   kid makes an attempt, which is recorded) */
	unlink(lpath);
	ck_assert_int_eq(symlink(victim2, lpath), 0);
	unknown = unknown_kid_token();
	engine_create(&e, config);
	verify(&e, unknown, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_UNKNOWN_KEY, "unknown kid");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(unknown);
	ck_assert_int_eq(server_count("/jwks.json"), 2);
	text = read_file_or_null(victim2);
	ck_assert_str_eq(text, "precious\n");
	free(text);

	/* the cache file itself a symlink to a key set: not read */
	new_cache_dir();
	ck_assert_int_eq(mkdir(cache_dir, 0755), 0);
	snprintf(lpath, sizeof(lpath), "%s/net.jwks.json", cache_dir);
	ck_assert_int_eq(symlink(jwks_path, lpath), 0);
	server_control("down=1");
	jwks_uri_config(config, sizeof(config));
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "symlinked cache file");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	pinned_now = NOW;
	free(known);
}
END_TEST

/* A provider's name reaches the cache dir only as one file name in it:
   section names are [A-Za-z0-9_.-], so no '/' and no way out. */
START_TEST(test_cache_file_names)
{
	char config[CONFIG_MAX], path[TMP_DIR_MAX + 128];
	struct engine e;
	struct moa2_verify_result r;
	char *known = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	char *error;

	pinned_now = NOW;
	new_cache_dir();
	snprintf(config, sizeof(config),
		 "allow_http_loopback = yes\nhttp_timeout = 5s\ncache_dir = %s/sub\n"
		 "[provider ..]\nmode = jwt\nissuer = " ISSUER "\n"
		 "jwks_uri = %s\naudience = mail\n", cache_dir, server_url("/jwks.json"));
	ck_assert_int_eq(mkdir(cache_dir, 0755), 0);
	engine_create(&e, config);
	verify(&e, known, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "provider ..");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	snprintf(path, sizeof(path), "%s/sub/...jwks.json", cache_dir);
	ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
	snprintf(path, sizeof(path), "%s/.jwks.json", cache_dir);
	ck_assert_msg(access(path, F_OK) < 0, "%s written outside the cache dir", path);

	error = engine_create_fails("[provider a/../../b]\nmode = jwt\njwks_file = /x\n"
				    "audience = mail\n");
	ck_assert_msg(strstr(error, "invalid section name") != NULL, "%s", error);
	free(error);
	error = engine_create_fails("[provider a\\b]\nmode = jwt\njwks_file = /x\n"
				    "audience = mail\n");
	ck_assert_msg(strstr(error, "invalid section name") != NULL, "%s", error);
	free(error);
	free(known);
}
END_TEST

static void
introspection_config(char *buf, size_t size, const char *path)
{
	new_cache_dir();
	snprintf(buf, size,
		 "allow_http_loopback = yes\nhttp_timeout = 5s\ncache_dir = %s\n"
		 "[provider idp]\nmode = introspection\nintrospection_url = %s\n"
		 "client_id = dovecot\nclient_secret = s3cret\naudience = mail\n"
		 "username_claims = username\n", cache_dir, server_url(path));
}

struct introspection_case {
	const char *file;
	const char *body;
	enum moa2_verify_outcome outcome;
	enum moa2_verify_reason reason;
	const char *identity;
};

#define ACTIVE_REST "\"username\":\"alice\",\"aud\":\"mail\",\"exp\":1700003600"

static const struct introspection_case introspection_cases[] = {
	{ "/inactive.json", "{\"active\":false}", REJECT(INACTIVE) },
	{ "/inactive-with-user.json", "{\"active\":false," ACTIVE_REST "}", REJECT(INACTIVE) },
	{ "/no-active.json", "{" ACTIVE_REST "}", REJECT(INACTIVE) },
	{ "/active-string.json", "{\"active\":\"true\"," ACTIVE_REST "}", REJECT(INACTIVE) },
	{ "/active-one.json", "{\"active\":1," ACTIVE_REST "}", REJECT(INACTIVE) },
	{ "/active-null.json", "{\"active\":null," ACTIVE_REST "}", REJECT(INACTIVE) },
	{ "/active-expired.json",
	  "{\"active\":true,\"username\":\"alice\",\"aud\":\"mail\",\"exp\":1699990000}",
	  REJECT(EXPIRED) },
	{ "/active-wrong-aud.json",
	  "{\"active\":true,\"username\":\"alice\",\"aud\":\"web\",\"exp\":1700003600}",
	  REJECT(WRONG_AUDIENCE) },
	{ "/active-no-user.json", "{\"active\":true,\"aud\":\"mail\",\"exp\":1700003600}",
	  REJECT(NO_IDENTITY) },
	{ "/active.json", "{\"active\":true," ACTIVE_REST "}", ACCEPT("alice") },
};

START_TEST(test_introspection)
{
	const struct introspection_case *c = &introspection_cases[_i];
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	static const char token[] = "opaque-access-token-0001";

	pinned_now = NOW;
	write_root_file(c->file + 1, c->body);
	introspection_config(config, sizeof(config), c->file);
	engine_create(&e, config);
	verify(&e, token, NULL, &r);
	assert_result(&r, c->outcome, c->reason, c->file);
	ck_assert_str_eq(r.provider, "idp");
	ck_assert(!r.from_cache);
	if (c->outcome == MOA2_OUTCOME_ACCEPTED) {
		ck_assert_str_eq(r.identity, c->identity);
		ck_assert_int_eq(r.expires_at, 1700003600);
	}
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count(c->file), 1);

	/* the same token again: answered from the result cache */
	verify(&e, token, NULL, &r);
	assert_result(&r, c->outcome, c->reason, c->file);
	ck_assert_msg(r.from_cache, "%s: second answer not from the cache", c->file);
	if (c->outcome == MOA2_OUTCOME_ACCEPTED)
		ck_assert_str_eq(r.identity, "alice");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count(c->file), 1);
	engine_destroy(&e);
}
END_TEST

/* A cached acceptance still binds the user, and never outlives exp. */
START_TEST(test_introspection_cache_bounds)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	static const char token[] = "opaque-access-token-0002";

	pinned_now = NOW;
	write_root_file("active-short.json",
			"{\"active\":true,\"username\":\"alice\",\"aud\":\"mail\",\"exp\":1700000100}");
	introspection_config(config, sizeof(config), "/active-short.json");
	engine_create(&e, config);
	verify(&e, token, "alice", &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "first");
	moa2_verify_result_clear(&r);
	verify(&e, token, "bob", &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_USER_MISMATCH, "cached, bob");
	ck_assert(r.from_cache);
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/active-short.json"), 1);
	/* exp passed: the cache must not answer; the provider is asked and
	   the claims check refuses it */
	pinned_now = NOW + 100 + 61;
	verify(&e, token, "alice", &r);
	ck_assert(!r.from_cache);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_EXPIRED, "after exp");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/active-short.json"), 2);
	pinned_now = NOW;
	engine_destroy(&e);
}
END_TEST

/* Provider errors are temporary failures, never rejections, and are not
   cached. */
START_TEST(test_introspection_errors_tempfail)
{
	static const char *const paths[] = {
		"/boom", "/introspect-unauthorized", "/introspect-garbage", "/missing.json",
		"/introspect-duplicate.json",
	};
	static const char token[] = "opaque-access-token-0003";
	const char *path = paths[_i];
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;

	pinned_now = NOW;
	/* which "active" counts? neither: the answer is unusable */
	write_root_file("introspect-duplicate.json",
			"{\"active\":false,\"active\":true," ACTIVE_REST "}");
	introspection_config(config, sizeof(config), path);
	engine_create(&e, config);
	for (int i = 0; i < 2; i++) {
		verify(&e, token, NULL, &r);
		assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, path);
		ck_assert(!r.from_cache);
		moa2_verify_result_clear(&r);
	}
	ck_assert_int_eq(server_count(path), 2);
	engine_destroy(&e);
}
END_TEST

/* Provider unreachable: tempfail. */
START_TEST(test_introspection_down_tempfail)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;

	pinned_now = NOW;
	write_root_file("active.json", "{\"active\":true," ACTIVE_REST "}");
	introspection_config(config, sizeof(config), "/active.json");
	server_control("down=1");
	engine_create(&e, config);
	verify(&e, "opaque-access-token-0004", NULL, &r);
	assert_result(&r, MOA2_OUTCOME_TEMPFAIL, MOA2_VERIFY_UNAVAILABLE, "down");
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
}
END_TEST

/* ------------------------------------------------- issue 9: one provider */

/* Two providers, a jwt one (local keys) and an introspection one whose
   tokens are JWTs: each JWT goes to the provider of its iss, whatever
   that provider's mode, and only there. */
START_TEST(test_route_jwt_to_introspection_provider)
{
	char config[2 * CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	/* signed by a key the jwt provider knows: it must not matter */
	char *intro_jwt = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL,
				     "{\"iss\":\"https://intro.test\",\"aud\":\"mail\"," C_EXP
				     ",\"sub\":\"b-1\"}");
	char *local_jwt = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	char *stranger = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL,
				    "{\"iss\":\"https://stranger.test\",\"aud\":\"mail\"," C_EXP
				    "," C_USER "}");

	pinned_now = NOW;
	write_root_file("intro-active.json", "{\"active\":true,\"username\":\"bob\","
			"\"aud\":\"mail\",\"exp\":1700003600}");
	new_cache_dir();
	snprintf(config, sizeof(config),
		 "allow_http_loopback = yes\nhttp_timeout = 5s\ncache_dir = %s\n"
		 "[provider local]\nmode = jwt\nissuer = " ISSUER "\njwks_file = %s\n"
		 "audience = mail\n"
		 "[provider intro]\nmode = introspection\nissuer = https://intro.test\n"
		 "discovery = no\n"
		 "introspection_url = %s\nclient_id = dovecot\nclient_secret = s3cret\n"
		 "audience = mail\n", cache_dir, jwks_path, server_url("/intro-active.json"));
	engine_create(&e, config);
	verify(&e, intro_jwt, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "the introspection provider's JWT");
	ck_assert_str_eq(r.provider, "intro");
	ck_assert_str_eq(r.identity, "bob"); /* RFC 7662 username, by default */
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/intro-active.json"), 1);

	verify(&e, local_jwt, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "the jwt provider's JWT");
	ck_assert_str_eq(r.provider, "local");
	moa2_verify_result_clear(&r);
	/* an unknown issuer goes nowhere: the introspection provider has an
	   issuer, so the token is not its */
	verify(&e, stranger, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_WRONG_ISSUER, "unknown issuer");
	moa2_verify_result_clear(&r);
	verify(&e, "opaque-token-for-intro", NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "opaque");
	ck_assert_str_eq(r.provider, "intro");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/intro-active.json"), 2);
	engine_destroy(&e);
	free(intro_jwt);
	free(local_jwt);
	free(stranger);
}
END_TEST

/* Two introspection providers: opaque tokens go by their prefix to one of
   them, the others to the one without a prefix; no endpoint sees another
   provider's token, and the result names the provider that decided. */
START_TEST(test_route_opaque_by_prefix)
{
	struct moa2_verdict_log line;
	char *jwt;
	char config[2 * CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;

	pinned_now = NOW;
	write_root_file("google.json", "{\"active\":false}");
	write_root_file("corp.json", "{\"active\":true,\"username\":\"carol\","
			"\"aud\":\"mail\",\"exp\":1700003600}");
	new_cache_dir();
	snprintf(config, sizeof(config),
		 "allow_http_loopback = yes\nhttp_timeout = 5s\ncache_dir = %s\n"
		 "[provider google]\nmode = introspection\nopaque_token_prefix = ya29.\n"
		 "introspection_url = %s\nclient_id = g\nclient_secret = gs\naudience = mail\n",
		 cache_dir, server_url("/google.json"));
	snprintf(config + strlen(config), sizeof(config) - strlen(config),
		 "[provider corp]\nmode = introspection\n"
		 "introspection_url = %s\nclient_id = c\nclient_secret = cs\naudience = mail\n",
		 server_url("/corp.json"));
	engine_create(&e, config);
	verify(&e, "ya29.a0AfH6SMBx-google-token", NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_INACTIVE, "google token");
	ck_assert_str_eq(r.provider, "google");
	/* the admin's line names the provider that decided */
	moa2_verdict_log_result(&r, "XOAUTH2", NOW, &line);
	ck_assert_msg(strstr(line.text, "provider=google") != NULL, "%s", line.text);
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/google.json"), 1);
	ck_assert_int_eq(server_count("/corp.json"), 0);

	verify(&e, "corp-opaque-token-0001", NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "corp token");
	ck_assert_str_eq(r.provider, "corp");
	ck_assert_str_eq(r.identity, "carol");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/google.json"), 1);
	ck_assert_int_eq(server_count("/corp.json"), 1);

	/* no provider checks JWTs locally: a JWT is a token to ask about,
	   and goes to the one provider without a prefix */
	jwt = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL, NULL);
	verify(&e, jwt, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_ACCEPTED, MOA2_VERIFY_OK, "a JWT for corp");
	ck_assert_str_eq(r.provider, "corp");
	moa2_verify_result_clear(&r);
	ck_assert_int_eq(server_count("/google.json"), 1);
	ck_assert_int_eq(server_count("/corp.json"), 2);
	free(jwt);
	engine_destroy(&e);
}
END_TEST

/* wrong_audience says what the token had and what was expected. */
START_TEST(test_wrong_audience_detail)
{
	char config[CONFIG_MAX];
	struct engine e;
	struct moa2_verify_result r;
	char *token = make_token(SIGN_KEY, "RS256", KEY_RSA, NULL,
				 "{" C_ISS ",\"aud\":[\"web\",\"https://api.test\"]," C_EXP
				 "," C_USER "}");

	local_config(config, sizeof(config), "audience = mail imap");
	engine_create(&e, config);
	verify(&e, token, NULL, &r);
	assert_result(&r, MOA2_OUTCOME_REJECTED, MOA2_VERIFY_WRONG_AUDIENCE, "aud");
	ck_assert_msg(strstr(r.detail, "[web, https://api.test]") != NULL &&
		      strstr(r.detail, "(mail, imap)") != NULL, "detail: %s", r.detail);
	moa2_verify_result_clear(&r);
	engine_destroy(&e);
	free(token);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *
verifier_suite(void)
{
	Suite *s = suite_create("verifier");
	TCase *tc;

	tc = tcase_create("table");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_case, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("local");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_result_fields);
	tcase_add_test(tc, test_host_binding);
	tcase_add_test(tc, test_token_never_logged);
	tcase_add_test(tc, test_small_rsa_pem_refused);
	tcase_add_test(tc, test_small_rsa_jwks_refused);
	tcase_add_test(tc, test_small_rsa_never_used);
	tcase_add_test(tc, test_hmac_needs_secret);
	tcase_add_test(tc, test_route_by_issuer);
	tcase_add_test(tc, test_opaque_without_opaque_mode);
	tcase_add_test(tc, test_wrong_audience_detail);
	suite_add_tcase(s, tc);

	tc = tcase_create("network");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, net_setup, net_teardown);
	tcase_add_test(tc, test_unknown_kid_refetch_limit);
	tcase_add_test(tc, test_key_fetch_event);
	tcase_add_test(tc, test_provider_down_cached_keys);
	tcase_add_test(tc, test_provider_down_from_start);
	tcase_add_test(tc, test_restart_provider_down_persisted_keys);
	tcase_add_test(tc, test_stale_keys_provider_hangs);
	tcase_add_test(tc, test_stale_keys_refreshed_in_background);
	tcase_add_test(tc, test_recorded_failure_no_copy);
	tcase_add_test(tc, test_stale_keys_threads_one_refresh);
	tcase_add_test(tc, test_cache_dir_symlinks);
	tcase_add_test(tc, test_cache_file_names);
	tcase_add_loop_test(tc, test_introspection, 0,
			    (int)(sizeof(introspection_cases) / sizeof(introspection_cases[0])));
	tcase_add_test(tc, test_introspection_cache_bounds);
	tcase_add_loop_test(tc, test_introspection_errors_tempfail, 0, 5);
	tcase_add_test(tc, test_introspection_down_tempfail);
	tcase_add_test(tc, test_route_jwt_to_introspection_provider);
	tcase_add_test(tc, test_route_opaque_by_prefix);
	suite_add_tcase(s, tc);
	return s;
}

/* Keys, the JWKS files and the server's document root, made once. */
static void
fixtures_create(void)
{
	const char *base = getenv("TMPDIR");
	char *jwk[KEY_COUNT], *jwks, *pem, *small_jwks;
	const char *parts[KEY_COUNT + 1];
	size_t n = 0, len;

	snprintf(tmp_dir, sizeof(tmp_dir), "%s/test-verifier.XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmp_dir) == NULL) {
		perror("test-verifier: mkdtemp");
		exit(EXIT_FAILURE);
	}
	snprintf(root_dir, sizeof(root_dir), "%s/root", tmp_dir);
	snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", tmp_dir);
	snprintf(small_jwks_path, sizeof(small_jwks_path), "%s/small-jwks.json", tmp_dir);
	snprintf(small_pem_path, sizeof(small_pem_path), "%s/small.pem", tmp_dir);
	if (mkdir(root_dir, 0700) < 0) {
		perror("test-verifier: mkdir");
		exit(EXIT_FAILURE);
	}

	keys[KEY_RSA] = test_jose_keygen_rsa(2048);
	keys[KEY_EC256] = test_jose_keygen_ec("P-256");
	keys[KEY_EC384] = test_jose_keygen_ec("P-384");
	keys[KEY_EC521] = test_jose_keygen_ec("P-521");
	keys[KEY_ED] = test_jose_keygen_ed25519();
	keys[KEY_ATTACKER] = test_jose_keygen_rsa(2048);
	keys[KEY_RSA_SMALL] = test_jose_keygen_rsa(1024);
	for (size_t i = 0; i < KEY_COUNT; i++) {
		jwk[i] = keys[i] == NULL ? NULL : test_jose_public_jwk(keys[i], key_kids[i], NULL);
		if (jwk[i] == NULL) {
			fprintf(stderr, "test-verifier: key %s failed\n", key_kids[i]);
			exit(EXIT_FAILURE);
		}
	}
	/* the provider's set: not the attacker's key, not the small one */
	for (size_t i = KEY_RSA; i <= KEY_ED; i++)
		parts[n++] = jwk[i];
	parts[n] = NULL;
	jwks = test_jose_jwks(parts);
	write_file(jwks_path, jwks);
	write_root_file("jwks.json", jwks);
	parts[0] = jwk[KEY_RSA_SMALL];
	parts[1] = NULL;
	small_jwks = test_jose_jwks(parts);
	write_file(small_jwks_path, small_jwks);
	pem = test_jose_public_pem(keys[KEY_RSA_SMALL]);
	write_file(small_pem_path, pem);
	rsa_pem = test_jose_public_pem(keys[KEY_RSA]);
	attacker_jwk = jwk[KEY_ATTACKER];
	jwk[KEY_ATTACKER] = NULL;
	if (rsa_pem == NULL || jwks == NULL || small_jwks == NULL || pem == NULL ||
	    asprintf(&jwk_header_attacker_kid, "{\"alg\":\"RS256\",\"kid\":\"attacker\",\"jwk\":%s}",
		     attacker_jwk) < 0 ||
	    asprintf(&jwk_header_victim_kid, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jwk\":%s}",
		     attacker_jwk) < 0) {
		fprintf(stderr, "test-verifier: fixtures failed\n");
		exit(EXIT_FAILURE);
	}
	/* a payload whose token is over 16 KiB (base64url grows it by 4/3) */
	len = (size_t)snprintf(big_payload, sizeof(big_payload), "{" C_BASE "," C_USER ",\"pad\":\"");
	memset(big_payload + len, 'x', BIG_CLAIM_LEN);
	strcpy(big_payload + len + BIG_CLAIM_LEN, "\"}");
	for (size_t i = 0; i < KEY_COUNT; i++)
		free(jwk[i]);
	free(jwks);
	free(small_jwks);
	free(pem);
}

static void
fixtures_remove(void)
{
	char cmd[TMP_DIR_MAX + 16];

	for (size_t i = 0; i < KEY_COUNT; i++)
		EVP_PKEY_free(keys[i]);
	free(rsa_pem);
	free(attacker_jwk);
	free(jwk_header_attacker_kid);
	free(jwk_header_victim_kid);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test-verifier: cannot remove %s\n", tmp_dir);
}

int
main(void)
{
	int ret;

	tc_seed_init();
	fixtures_create();
	ret = tc_run_suite(verifier_suite());
	fixtures_remove();
	return ret;
}
