/* SPDX-License-Identifier: MIT */
/* Benchmark of the verification engine, a program and not a timed test:
   it prints figures measured side by side in one run.

   Speed: for RS256, PS256, ES256 and EdDSA, the same token verified over
   and over through moa2_verify_token() (the whole engine: parse, signature,
   claims, identity; keys loaded once, JWTs are never result-cached) against
   the bare OpenSSL check of the same signature with the same kind of key
   (EVP_DigestVerifyInit + EVP_DigestVerify on one reused EVP_MD_CTX).
   The two are interleaved, A B A B, best of ROUNDS rounds of about
   ROUND_SECONDS each, so machine noise hits both alike. Target (issue 3):
   the engine's cost per RS256 token is at most 1.25x the raw check.

   Memory: VmRSS after loading 100 RSA-2048 keys, and after storing 10,000
   opaque-token results in the result cache. */

#include "config.h"
#include "test-jose-sign.h"

#include "support/base64.h"
#include "jose/jose-jwk.h"
#include "mail-oauth2/common.h"
#include "verify/result-cache.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#define ROUNDS 5
#define ROUND_SECONDS 0.3
#define TARGET_RATIO 1.25
#define MEM_KEYS 100
#define MEM_RESULTS 10000
#define NOW 1700000000
#define ISSUER "https://idp.bench.test/realms/mail"

/* A Keycloak-like access token: the claims a real provider sends. */
#define CLAIMS \
	"{\"exp\":1700003600,\"iat\":1699999700,\"auth_time\":1699999690," \
	"\"jti\":\"6f1c2a9e-8b0d-4c7e-9a51-2d3f4e5a6b7c\",\"iss\":\"" ISSUER "\"," \
	"\"aud\":[\"mail\",\"account\"],\"sub\":\"f3b2c1d0-1234-4abc-9def-0123456789ab\"," \
	"\"typ\":\"Bearer\",\"azp\":\"thunderbird\"," \
	"\"session_state\":\"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\"," \
	"\"acr\":\"1\",\"realm_access\":{\"roles\":[\"offline_access\"," \
	"\"default-roles-mail\",\"uma_authorization\"]}," \
	"\"scope\":\"openid email profile\",\"sid\":\"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\"," \
	"\"email_verified\":true,\"name\":\"Alice Example\"," \
	"\"preferred_username\":\"alice\",\"given_name\":\"Alice\"," \
	"\"family_name\":\"Example\",\"email\":\"alice@example.com\"}"
/* The least a token the engine accepts here can carry. */
#define MIN_CLAIMS \
	"{\"exp\":1700003600,\"iss\":\"" ISSUER "\",\"aud\":\"mail\"," \
	"\"scope\":\"email\",\"preferred_username\":\"alice\"}"

static char dir[256];
static time_t pinned_now = NOW;

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "bench-verify: %s\n", what);
	exit(EXIT_FAILURE);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static time_t
pinned_clock(void *context)
{
	return *(const time_t *)context;
}

static void
write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	size_t len = strlen(data);

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("cannot write a temporary file");
}

/* Bytes of heap in use, mmap()ed blocks included (glibc), -1 elsewhere. */
static long
heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();

	return (long)(mi.uordblks + mi.hblkhd);
#else
	return -1;
#endif
}

/* VmRSS of this process in KiB. */
static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

struct engine {
	struct moa2_verify_config *cfg;
	struct moa2_verifier *verifier;
};

/* opaque_entries: the size of the verifier's opaque-token result cache,
   allocated at creation (no opaque token is verified here). */
static void
engine_create(struct engine *e, const char *jwks_path, const char *algs,
	      unsigned int opaque_entries)
{
	char text[1024], *error = NULL;

	snprintf(text, sizeof(text), "opaque_cache_entries = %u\n"
		 "[provider bench]\nmode = jwt\nissuer = " ISSUER "\n"
		 "jwks_file = %s\naudience = mail\nalgorithms = %s\n"
		 "required_scopes = email\n"
		 "username_claims = preferred_username email\n", opaque_entries,
		 jwks_path, algs);
	if (moa2_verify_config_load_string("bench.conf", text, strlen(text),
					   &e->cfg, &error) < 0 ||
	    moa2_verifier_create(e->cfg, NULL, &e->verifier, &error) < 0) {
		fprintf(stderr, "bench-verify: %s\n", error);
		exit(EXIT_FAILURE);
	}
	moa2_verifier_set_clock(e->verifier, pinned_clock, &pinned_now);
}

static void
engine_destroy(struct engine *e)
{
	moa2_verifier_destroy(&e->verifier);
	moa2_verify_config_free(&e->cfg);
}

/* ------------------------------------------------------------ memory */

/* Writes a JWKS of count fresh RSA-2048 keys. Done in a child process so
   that key generation leaves nothing in this process's heap. */
static void
write_big_jwks(const char *path, unsigned int count)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		die("fork failed");
	if (pid == 0) {
		char **jwk = calloc(count + 1, sizeof(*jwk)), *jwks;

		for (unsigned int i = 0; i < count; i++) {
			EVP_PKEY *key = test_jose_keygen_rsa(2048);
			char kid[32];

			snprintf(kid, sizeof(kid), "key-%03u", i);
			if (key == NULL || (jwk[i] = test_jose_public_jwk(key, kid, "RS256")) == NULL)
				_exit(1);
			EVP_PKEY_free(key);
		}
		jwks = test_jose_jwks((const char *const *)jwk);
		if (jwks == NULL)
			_exit(1);
		write_file(path, jwks);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("generating the JWKS failed");
}

struct memory_figures {
	long start, keys, results;           /* VmRSS, KiB */
	long heap_start, heap_keys, heap_results; /* heap in use, bytes */
	unsigned int results_count;
};

static void
measure_memory(struct memory_figures *m)
{
	char path[512];
	struct engine e;
	struct moa2_result_cache *cache;

	snprintf(path, sizeof(path), "%s/jwks-1.json", dir);
	write_big_jwks(path, 1);
	/* warm up first (OpenSSL providers, json-c, the config parser), so
	   that the figures are those of the keys, not of one-time set-up */
	engine_create(&e, path, "RS256", 0);
	engine_destroy(&e);
	unlink(path);
	snprintf(path, sizeof(path), "%s/jwks-100.json", dir);
	write_big_jwks(path, MEM_KEYS);

	m->start = rss_kib();
	m->heap_start = heap_bytes();
	/* keys only: the verifier's own result cache is measured below */
	engine_create(&e, path, "RS256", 0);
	m->keys = rss_kib();
	m->heap_keys = heap_bytes();

	/* the verifier fills its cache only with providers' answers (network),
	   so the cache API directly: the same structure, the same sizes */
	cache = moa2_result_cache_create(MEM_RESULTS);
	for (unsigned int i = 0; i < MEM_RESULTS; i++) {
		unsigned char key[MOA2_RESULT_CACHE_KEY_LEN];
		char token[64], identity[64];
		struct moa2_cached_result result = {
			.reason = 0, .provider = 0, .expires_at = NOW + 3600,
			.identity = identity,
		};

		snprintf(token, sizeof(token), "opaque-token-%08u-Zm9vYmFy", i);
		snprintf(identity, sizeof(identity), "firstname.lastname%05u@example.com", i);
		moa2_result_cache_key(token, strlen(token), key);
		moa2_result_cache_store(cache, key, &result, NOW + 300);
	}
	m->results = rss_kib();
	m->heap_results = heap_bytes();
	m->results_count = moa2_result_cache_count(cache);
	moa2_result_cache_destroy(&cache);
	engine_destroy(&e);
	unlink(path);
}

/* ------------------------------------------------------------ speed */

struct bench_alg {
	const char *label;
	const char *alg;
	const char *kid;
	const char *md;        /* NULL: EdDSA */
	bool pss;
	bool ecdsa;
	const char *claims;
};

static const struct bench_alg bench_algs[] = {
	{ "RS256", "RS256", "rsa1", "SHA256", false, false, CLAIMS },
	{ "PS256", "PS256", "rsa1", "SHA256", true, false, CLAIMS },
	{ "ES256", "ES256", "ec1", "SHA256", false, true, CLAIMS },
	{ "EdDSA", "EdDSA", "ed1", NULL, false, false, CLAIMS },
	/* the same check with a minimal token: how the overhead scales */
	{ "RS256-min", "RS256", "rsa1", "SHA256", false, false, MIN_CLAIMS },
};
#define ALG_COUNT (sizeof(bench_algs) / sizeof(bench_algs[0]))

struct engine_op {
	struct moa2_verifier *verifier;
	const char *token;
	size_t len;
};

struct raw_op {
	EVP_MD_CTX *ctx;
	EVP_MD *md;
	EVP_PKEY *pkey;
	bool pss;
	const unsigned char *input;
	size_t input_len;
	unsigned char *sig;
	size_t sig_len;
};

static bool
engine_once(void *context)
{
	struct engine_op *op = context;
	struct moa2_verify_result r;
	bool ok;

	moa2_verify_token(op->verifier, op->token, op->len, NULL, &r);
	ok = r.outcome == MOA2_OUTCOME_ACCEPTED;
	moa2_verify_result_clear(&r);
	return ok;
}

static bool
raw_once(void *context)
{
	struct raw_op *op = context;
	EVP_PKEY_CTX *pctx = NULL;

	if (EVP_DigestVerifyInit(op->ctx, &pctx, op->md, NULL, op->pkey) != 1)
		return false;
	if (op->pss &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, op->md) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		return false;
	return EVP_DigestVerify(op->ctx, op->sig, op->sig_len, op->input,
				op->input_len) == 1;
}

typedef bool op_fn(void *context);

/* Seconds for n operations; every one must succeed. */
static double
time_ops(op_fn *fn, void *context, unsigned long n)
{
	double start = now_seconds();

	for (unsigned long i = 0; i < n; i++) {
		if (!fn(context))
			die("a verification failed during the benchmark");
	}
	return now_seconds() - start;
}

/* Operations for about ROUND_SECONDS, from a short trial. */
static unsigned long
calibrate(op_fn *fn, void *context)
{
	unsigned long n = 16;
	double t;

	while ((t = time_ops(fn, context, n)) < 0.05)
		n *= 2;
	n = (unsigned long)((double)n * ROUND_SECONDS / t);
	return n < 1 ? 1 : n;
}

/* The raw check's inputs: the token's signing input and signature,
   ECDSA R||S converted to DER once (OpenSSL wants DER; the engine
   converts on every call, which is part of its cost). */
static void
raw_prepare(struct raw_op *raw, const struct bench_alg *a, const char *token,
	    EVP_PKEY *pkey)
{
	const char *dot2 = strrchr(token, '.');
	size_t b64_len = strlen(dot2 + 1), len;
	unsigned char *sig = malloc(b64_len);

	if (sig == NULL || moa2_base64url_decode(dot2 + 1, b64_len, sig, b64_len, &len) < 0)
		die("cannot decode the signature");
	memset(raw, 0, sizeof(*raw));
	raw->input = (const unsigned char *)token;
	raw->input_len = (size_t)(dot2 - token);
	raw->pkey = pkey;
	raw->pss = a->pss;
	raw->ctx = EVP_MD_CTX_new();
	if (raw->ctx == NULL)
		die("EVP_MD_CTX_new failed");
	if (a->md != NULL && (raw->md = EVP_MD_fetch(NULL, a->md, NULL)) == NULL)
		die("EVP_MD_fetch failed");
	if (a->ecdsa) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, (int)len / 2, NULL);
		BIGNUM *s = BN_bin2bn(sig + len / 2, (int)len / 2, NULL);
		unsigned char *der = NULL;
		int der_len = 0;

		if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1 ||
		    (der_len = i2d_ECDSA_SIG(es, &der)) <= 0)
			die("cannot convert the ECDSA signature");
		ECDSA_SIG_free(es);
		raw->sig = malloc((size_t)der_len);
		if (raw->sig == NULL)
			die("out of memory");
		memcpy(raw->sig, der, (size_t)der_len);
		raw->sig_len = (size_t)der_len;
		OPENSSL_free(der);
		free(sig);
	} else {
		raw->sig = sig;
		raw->sig_len = len;
	}
}

static void
raw_free(struct raw_op *raw)
{
	EVP_MD_CTX_free(raw->ctx);
	EVP_MD_free(raw->md);
	free(raw->sig);
}

struct speed_figures {
	double engine_us, raw_us;
	unsigned long engine_n, raw_n;
	size_t token_len;
};

/* The engine must give the expected answer for this token and refuse it
   with a flipped signature bit: proof that it really verifies. */
static void
check_engine_verifies(struct moa2_verifier *verifier, const char *token)
{
	struct moa2_verify_result r;
	char *bad = strdup(token);
	char *last = bad + strlen(bad) - 2;

	moa2_verify_token(verifier, token, strlen(token), "alice", &r);
	if (r.outcome != MOA2_OUTCOME_ACCEPTED || r.from_cache)
		die("the engine does not accept the benchmark token");
	moa2_verify_result_clear(&r);
	*last = *last == 'A' ? 'B' : 'A';
	moa2_verify_token(verifier, bad, strlen(bad), NULL, &r);
	if (r.outcome != MOA2_OUTCOME_REJECTED || r.reason != MOA2_VERIFY_BAD_SIGNATURE)
		die("the engine accepts a token with a broken signature");
	moa2_verify_result_clear(&r);
	free(bad);
}

static void
measure_alg(const struct bench_alg *a, struct moa2_verifier *verifier,
	    const struct moa2_jwks *keys, EVP_PKEY *signer,
	    struct speed_figures *f)
{
	char header[128], *token;
	struct engine_op eop;
	struct raw_op rop;
	struct moa2_jwk *jwk;

	snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		 a->alg, a->kid);
	token = test_jose_sign(a->alg, signer, header, a->claims);
	if (token == NULL)
		die("signing failed");
	check_engine_verifies(verifier, token);
	/* the public key imported by the core from the same JWKS file */
	if ((jwk = moa2_jwks_find_kid(keys, a->kid)) == NULL)
		die("kid not in the key set");
	eop = (struct engine_op){ verifier, token, strlen(token) };
	raw_prepare(&rop, a, token, moa2_jwk_pkey(jwk));
	if (!raw_once(&rop))
		die("the raw check refuses the benchmark token");

	f->token_len = strlen(token);
	f->engine_n = calibrate(engine_once, &eop);
	f->raw_n = calibrate(raw_once, &rop);
	f->engine_us = f->raw_us = 1e30;
	for (int round = 0; round < ROUNDS; round++) {
		double te = time_ops(engine_once, &eop, f->engine_n) / (double)f->engine_n;
		double tr = time_ops(raw_once, &rop, f->raw_n) / (double)f->raw_n;

		if (te * 1e6 < f->engine_us)
			f->engine_us = te * 1e6;
		if (tr * 1e6 < f->raw_us)
			f->raw_us = tr * 1e6;
	}
	raw_free(&rop);
	free(token);
}

/* --profile ALG N: only the engine loop, N times, for perf/callgrind. */
static int
profile_engine(struct moa2_verifier *verifier, const char *alg_name,
	       unsigned long n, EVP_PKEY *rsa, EVP_PKEY *ec, EVP_PKEY *ed)
{
	for (size_t i = 0; i < ALG_COUNT; i++) {
		const struct bench_alg *a = &bench_algs[i];
		EVP_PKEY *signer = a->ecdsa ? ec : a->md == NULL ? ed : rsa;
		struct engine_op op;
		char header[128], *token;
		double t;

		if (strcmp(a->label, alg_name) != 0)
			continue;
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
			 a->alg, a->kid);
		if ((token = test_jose_sign(a->alg, signer, header, a->claims)) == NULL)
			die("signing failed");
		op = (struct engine_op){ verifier, token, strlen(token) };
		t = time_ops(engine_once, &op, n);
		printf("%s: %lu engine verifications, %.2f us each\n", a->label, n,
		       t * 1e6 / (double)n);
		free(token);
		return EXIT_SUCCESS;
	}
	die("--profile: unknown algorithm (RS256, PS256, ES256, EdDSA or RS256-min)");
}

/* The speed figures, then every figure printed. */
static void
run_and_print(struct moa2_verifier *verifier, const struct moa2_jwks *keys,
	      EVP_PKEY *rsa, EVP_PKEY *ec, EVP_PKEY *ed,
	      const struct memory_figures *m)
{
	struct speed_figures speed[ALG_COUNT];
	double rs256_ratio;

	for (size_t i = 0; i < ALG_COUNT; i++) {
		const struct bench_alg *a = &bench_algs[i];
		EVP_PKEY *signer = a->ecdsa ? ec : a->md == NULL ? ed : rsa;

		measure_alg(a, verifier, keys, signer, &speed[i]);
	}

	printf("mail-oauth2 bench-verify: warm keys, one token per algorithm verified "
	       "repeatedly;\n  interleaved engine/raw, best of %d rounds of ~%.1f s each\n\n",
	       ROUNDS, ROUND_SECONDS);
	printf("  %-9s %6s  %12s %12s  %12s %12s  %10s\n", "alg", "token",
	       "engine ops/s", "engine us/op", "raw ops/s", "raw us/op", "engine/raw");
	for (size_t i = 0; i < ALG_COUNT; i++) {
		const struct speed_figures *f = &speed[i];

		printf("  %-9s %4zu B  %12.0f %12.2f  %12.0f %12.2f  %9.3fx\n",
		       bench_algs[i].label, f->token_len, 1e6 / f->engine_us, f->engine_us,
		       1e6 / f->raw_us, f->raw_us, f->engine_us / f->raw_us);
	}
	rs256_ratio = speed[0].engine_us / speed[0].raw_us;
	printf("\n  engine = moa2_verify_token(): parse, signature, claims (exp, iat, iss,\n"
	       "  aud, scope), identity; raw = EVP_DigestVerifyInit + EVP_DigestVerify\n"
	       "  (one reused EVP_MD_CTX, the core's imported EVP_PKEY; ES256 raw is\n"
	       "  given the DER signature, the engine converts R||S itself).\n"
	       "  Tokens: a Keycloak-like access token (19 claims); RS256-min has the\n"
	       "  5 claims the policy needs. Engine overhead per RS256 token: %.2f us\n"
	       "  (RS256-min: %.2f us)\n\n",
	       speed[0].engine_us - speed[0].raw_us,
	       speed[ALG_COUNT - 1].engine_us - speed[ALG_COUNT - 1].raw_us);
	printf("  target: engine cost per RS256 token <= %.2fx raw: %.3fx %s\n\n",
	       TARGET_RATIO, rs256_ratio, rs256_ratio <= TARGET_RATIO ? "PASS" : "FAIL");

	printf("  memory (after a warm-up verifier; VmRSS, and glibc heap in use):\n");
	printf("    before loading keys:            %6ld KiB  heap %6ld KiB\n",
	       m->start, m->heap_start / 1024);
	printf("    verifier with %d RSA-2048 keys: %6ld KiB  heap %+6ld KiB  "
	       "(RSS %+ld KiB, %.1f KiB/key; heap %.1f KiB/key)\n",
	       MEM_KEYS, m->keys, (m->heap_keys - m->heap_start) / 1024,
	       m->keys - m->start, (double)(m->keys - m->start) / MEM_KEYS,
	       (double)(m->heap_keys - m->heap_start) / 1024.0 / MEM_KEYS);
	printf("    + %u opaque-token results:    %6ld KiB  heap %+6ld KiB  "
	       "(RSS %+ld KiB, %.0f B/result; heap %.0f B/result)\n",
	       m->results_count, m->results, (m->heap_results - m->heap_keys) / 1024,
	       m->results - m->keys, (double)(m->results - m->keys) * 1024.0 / MEM_RESULTS,
	       (double)(m->heap_results - m->heap_keys) / MEM_RESULTS);

}

int
main(int argc, char **argv)
{
	struct memory_figures mem = { 0 };
	EVP_PKEY *rsa, *ec, *ed;
	char *jwk[4], *jwks, path[512], errbuf[256];
	const char *error;
	struct moa2_jwks *keys;
	struct engine e;
	const char *tmp = getenv("TMPDIR"), *profile = NULL;
	int ret = EXIT_SUCCESS;

	if (argc == 4 && strcmp(argv[1], "--profile") == 0)
		profile = argv[2];
	else if (argc != 1)
		die("usage: bench-verify [--profile RS256|PS256|ES256|EdDSA|RS256-min N]");
	snprintf(dir, sizeof(dir), "%s/bench-verify.XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp failed");
	if (profile == NULL)
		measure_memory(&mem);

	rsa = test_jose_keygen_rsa(2048);
	ec = test_jose_keygen_ec("P-256");
	ed = test_jose_keygen_ed25519();
	if (rsa == NULL || ec == NULL || ed == NULL)
		die("key generation failed");
	jwk[0] = test_jose_public_jwk(rsa, "rsa1", NULL);
	jwk[1] = test_jose_public_jwk(ec, "ec1", "ES256");
	jwk[2] = test_jose_public_jwk(ed, "ed1", "EdDSA");
	jwk[3] = NULL;
	jwks = test_jose_jwks((const char *const *)jwk);
	snprintf(path, sizeof(path), "%s/jwks.json", dir);
	write_file(path, jwks);
	if (moa2_jwks_load_file(path, &keys, NULL, NULL, NULL, errbuf, sizeof(errbuf),
				&error) < 0)
		die(error);
	engine_create(&e, path, "RS256 PS256 ES256 EdDSA", MEM_RESULTS);
	if (profile != NULL)
		ret = profile_engine(e.verifier, profile, strtoul(argv[3], NULL, 10),
				     rsa, ec, ed);
	else
		run_and_print(e.verifier, keys, rsa, ec, ed, &mem);

	engine_destroy(&e);
	moa2_jwks_free(&keys);
	for (int i = 0; i < 3; i++)
		free(jwk[i]);
	free(jwks);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	unlink(path);
	rmdir(dir);
	return ret;
}
