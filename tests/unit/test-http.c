/* SPDX-License-Identifier: MIT */
/* Unit tests of the HTTP layer (http-client.h): URL encoding and URL checks
   from the tables in tests/data/http, and live transfers against the
   project's fault-injecting server (tests/support/fault-server.py),
   which each test starts on loopback with a throwaway CA and stops at
   teardown. python3 is required: without it these tests fail. */

#include "test-common.h"

#include "support/http-client.h"
#include "support/json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifndef TEST_SUPPORT_DIR
#define TEST_SUPPORT_DIR TEST_DATA_DIR "/../integration/lib"
#endif
#define MAKE_CA TEST_SUPPORT_DIR "/make-ca.sh"

#define SMALL_JSON "{\"issuer\":\"https://idp.example.com\",\"keys\":[]}\n"
#define GARBAGE_BODY "<html><body>this is not JSON {"
#define BOUNDARY_SIZE 1000
#define BIG_SIZE 100000
#define LONG_HEADER 20000
#define URL_MAX 512
#define PROXY_USER "user"
#define PROXY_PASS "p@ss"
#define RANDOM_ENCODE_ITERATIONS 1000

/* Made once by main(): a CA and a server certificate, another CA that
   signed nothing here, and the document root. */
#define TMP_DIR_MAX 1024
static char tmp_dir[TMP_DIR_MAX];
static char ca_dir[TMP_DIR_MAX + 8];
static char ca_file[TMP_DIR_MAX + 16];
static char other_ca_file[TMP_DIR_MAX + 32];
static char root_dir[TMP_DIR_MAX + 8];

static struct tc_fault_server tls_server;
static struct tc_fault_server plain_server;
static struct tc_fault_server proxy_server;
static struct tc_fault_server v6_server;
static struct tc_fault_server other_name_server;

static const struct tc_vector_file *encode_file;
static const struct tc_vector_file *allowed_file;

/* ------------------------------------------------------------ helpers */

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "test-http: cannot write %s\n", path);
		exit(EXIT_FAILURE);
	}
}

/* ------------------------------------------------------------ the server */

static const char *const server_routes[] = {
	"--route=/echo=echo",
	"--route=/slow={\"mode\":\"slow\",\"delay\":3,\"file\":\"small.json\"}",
	"--route=/huge=huge",
	"--route=/huge-nolength=huge:nolength",
	"--route=/redirect={\"mode\":\"status\",\"status\":302,\"location\":\"/small.json\"}",
	"--route=/boom=status:500",
	"--route=/unavailable={\"mode\":\"status\",\"status\":503,\"retry_after\":\"7\"}",
	"--route=/down=down",
	"--route=/garbage=garbage",
	"--route=/cached={\"file\":\"small.json\",\"cache_control\":\"max-age=123\"}",
	/* what the HTTP/1.1 reader must take */
	"--route=/chunked={\"mode\":\"chunked\",\"file\":\"exact.json\",\"chunk\":7}",
	"--route=/chunked-big={\"mode\":\"chunked\",\"file\":\"big.bin\",\"chunk\":4096}",
	"--route=/interim={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 100 Continue\\r\\n\\r\\n"
	"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\n\\r\\nok\"}",
	"--route=/eof-body={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Connection: close\\r\\n\\r\\n{\\\"complete\\\":true}\"}",
	/* and what it must refuse */
	"--route=/truncated={\"mode\":\"raw\",\"abort\":true,\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Connection: close\\r\\n\\r\\n{\\\"complete\\\":tr\"}",
	"--route=/short-body={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Content-Length: 10\\r\\n\\r\\nabc\"}",
	"--route=/two-lengths={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Content-Length: 2\\r\\nContent-Length: 3\\r\\n\\r\\nok\"}",
	"--route=/bad-length={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Content-Length: +2\\r\\n\\r\\nok\"}",
	"--route=/gzip={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Transfer-Encoding: gzip, chunked\\r\\n\\r\\n0\\r\\n\\r\\n\"}",
	"--route=/folded={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\nX-A: 1\\r\\n"
	" folded\\r\\nContent-Length: 2\\r\\n\\r\\nok\"}",
	"--route=/control-char={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\nX-A: a\\u0001b\\r\\n"
	"Content-Length: 2\\r\\n\\r\\nok\"}",
	"--route=/not-http={\"mode\":\"raw\",\"raw\":\"SSH-2.0-OpenSSH_9.2\\r\\n\"}",
	"--route=/bad-chunk={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Transfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\nok\\r\\n0\\r\\n\\r\\n\"}",
	"--route=/long-chunk={\"mode\":\"raw\",\"raw\":\"HTTP/1.1 200 OK\\r\\n"
	"Transfer-Encoding: chunked\\r\\n\\r\\n2\\r\\nokk\\r\\n0\\r\\n\\r\\n\"}",
	NULL
};

/* server_routes and the ones made at start (fixtures_create) */
static char long_header_route[LONG_HEADER + 256];
static const char *all_routes[64];

/* Responses the reader must refuse: a transport failure each. */
static const char *const malformed_paths[] = {
	"/truncated", "/short-body", "/two-lengths", "/bad-length", "/gzip",
	"/folded", "/control-char", "/not-http", "/bad-chunk", "/long-chunk",
	"/long-header",
};

static void
server_start(struct tc_fault_server *srv, bool tls)
{
	tc_fault_server_start(srv, tmp_dir, root_dir, tls ? ca_dir : NULL,
			      all_routes);
}

static void
server_stop(struct tc_fault_server *srv)
{
	tc_fault_server_stop(srv);
}

static void
live_setup(void)
{
	memset(&plain_server, 0, sizeof(plain_server));
	memset(&proxy_server, 0, sizeof(proxy_server));
	memset(&v6_server, 0, sizeof(v6_server));
	memset(&other_name_server, 0, sizeof(other_name_server));
	server_start(&tls_server, true);
}

static void
live_teardown(void)
{
	server_stop(&tls_server);
	server_stop(&plain_server);
	server_stop(&proxy_server);
	server_stop(&v6_server);
	server_stop(&other_name_server);
}

/* A plain fault-server that is also a CONNECT proxy, with credentials. */
static void
proxy_start(void)
{
	static const char *const args[] = {
		"--proxy", "--proxy-auth=" PROXY_USER ":" PROXY_PASS, NULL,
	};

	tc_fault_server_start(&proxy_server, tmp_dir, root_dir, NULL, args);
}

static const char *
tls_url(const char *path)
{
	static char url[URL_MAX];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", tls_server.port, path);
	return url;
}

/* ------------------------------------------------------------ clients */

static struct moa2_http_client *
client_new(const struct moa2_http_settings *settings)
{
	struct moa2_http_client *client;
	const char *error = NULL;

	ck_assert_msg(moa2_http_client_create(settings, &client, &error) == 0,
		      "client create failed: %s", error);
	ck_assert_ptr_nonnull(client);
	return client;
}

static struct moa2_http_client *
client_with_ca(void)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.total_timeout_ms = 10000,
	};

	return client_new(&settings);
}

/* GET that must succeed; returns the status. */
static long
get_ok(struct moa2_http_client *client, const char *url,
       struct moa2_http_response *resp)
{
	const char *error = NULL;

	ck_assert_msg(moa2_http_get(client, url, NULL, resp, &error) == 0,
		      "GET %s failed: %s", url, error);
	ck_assert_ptr_nonnull(resp->body);
	return resp->status;
}

/* GET that must fail; returns the error string (owned by the client). */
static const char *
get_fails(struct moa2_http_client *client, const char *url,
	  const char *bearer)
{
	struct moa2_http_response resp;
	const char *error = NULL;
	int ret = moa2_http_get(client, url, bearer, &resp, &error);

	ck_assert_msg(ret == -1, "GET %s: expected a transport failure, got "
		      "%d (status %ld)", url, ret, resp.status);
	ck_assert_ptr_null(resp.body);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(error[0] != '\0', "empty error string");
	moa2_http_response_clear(&resp);
	return error;
}

/* The number of requests a server saw for path (query excluded), asked
   at stats_url with client. */
static int64_t
stats_count(struct moa2_http_client *client, const char *stats_url,
	    const char *path)
{
	struct moa2_http_response resp;
	struct moa2_json *json;
	const char *error;
	int64_t count = 0;

	ck_assert_int_eq(get_ok(client, stats_url, &resp), 200);
	ck_assert_msg(moa2_json_parse(resp.body, resp.body_len, &json, &error) == 0,
		      "/_stats: %s", error);
	ck_assert_int_ge(moa2_json_get_int64(json, path, &count), 0);
	moa2_json_free(&json);
	moa2_http_response_clear(&resp);
	return count;
}

/* The same for the TLS server, with a client of its own. */
static int64_t
server_count(const char *path)
{
	struct moa2_http_client *client = client_with_ca();
	int64_t count = stats_count(client, tls_url("/_stats"), path);

	moa2_http_client_destroy(&client);
	return count;
}

/* The echo server's JSON, parsed. */
static struct moa2_json *
echo_parse(const struct moa2_http_response *resp)
{
	struct moa2_json *json;
	const char *error;

	ck_assert_int_eq(resp->status, 200);
	ck_assert_msg(moa2_json_parse(resp->body, resp->body_len, &json, &error) == 0,
		      "echo reply: %s", error);
	return json;
}

static const char *
echo_header(const struct moa2_json *echo, const char *name)
{
	const struct moa2_json *headers;
	const char *value = NULL;

	ck_assert_int_eq(moa2_json_get(echo, "headers", &headers), 1);
	if (moa2_json_get_string(headers, name, &value) != 1)
		return NULL;
	return value;
}

static const char *
echo_string(const struct moa2_json *echo, const char *key)
{
	const char *value = NULL;

	ck_assert_msg(moa2_json_get_string(echo, key, &value) == 1,
		      "echo reply has no string %s", key);
	return value;
}

/* ------------------------------------------------------------ moa2_url_encode */

START_TEST(test_url_encode_vector)
{
	const struct tc_vector *v = &encode_file->vectors[_i];
	size_t input_len, expected_len;
	unsigned char *input = tc_vector_col(encode_file, v, 0, &input_len);
	unsigned char *expected = tc_vector_col(encode_file, v, 1, &expected_len);
	char *encoded = moa2_url_encode((const char *)input);

	ck_assert_ptr_nonnull(encoded);
	ck_assert_msg(strcmp(encoded, (const char *)expected) == 0,
		      "%s:%u: got %s, expected %s", encode_file->name, v->line,
		      encoded, expected);
	free(encoded);
	free(input);
	free(expected);
}
END_TEST

START_TEST(test_url_encode_empty)
{
	char *encoded = moa2_url_encode("");

	ck_assert_ptr_nonnull(encoded);
	ck_assert_str_eq(encoded, "");
	free(encoded);
}
END_TEST

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower case is not what we emit */
}

/* Random byte strings: the encoding uses only unreserved characters and
   upper-case %XX, escapes every reserved byte, and decodes back. */
START_TEST(test_url_encode_random_round_trip)
{
	uint64_t seed = tc_seed_init();

	for (unsigned int iter = 0; iter < RANDOM_ENCODE_ITERATIONS; iter++) {
		char input[64], decoded[64];
		size_t len = (size_t)tc_rand_below(sizeof(input) - 1), n = 0;
		char *encoded;

		for (size_t i = 0; i < len; i++)
			input[i] = (char)(1 + tc_rand_below(255));
		input[len] = '\0';
		encoded = moa2_url_encode(input);
		ck_assert_ptr_nonnull(encoded);
		for (const char *p = encoded; *p != '\0'; p++) {
			if (*p == '%') {
				int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);

				ck_assert_msg(hi >= 0 && lo >= 0,
					      "seed %llu: bad escape in %s",
					      (unsigned long long)seed, encoded);
				decoded[n] = (char)(hi * 16 + lo);
				ck_assert_msg(strchr("-._~", decoded[n]) == NULL &&
					      !((decoded[n] >= '0' && decoded[n] <= '9') ||
						(decoded[n] >= 'a' && decoded[n] <= 'z') ||
						(decoded[n] >= 'A' && decoded[n] <= 'Z')),
					      "seed %llu: unreserved byte escaped",
					      (unsigned long long)seed);
				p += 2;
			} else {
				ck_assert_msg(strchr("-._~", *p) != NULL ||
					      (*p >= '0' && *p <= '9') ||
					      (*p >= 'a' && *p <= 'z') ||
					      (*p >= 'A' && *p <= 'Z'),
					      "seed %llu: reserved byte 0x%02x not escaped",
					      (unsigned long long)seed, (unsigned char)*p);
				decoded[n] = *p;
			}
			n++;
		}
		ck_assert_uint_eq(n, len);
		ck_assert_msg(memcmp(decoded, input, len) == 0,
			      "seed %llu: round trip differs", (unsigned long long)seed);
		free(encoded);
	}
}
END_TEST

/* A query string's parameters (an OAuth redirect's): percent-decoded,
   '+' as a space, whole names only; and what moa2_url_encode() makes
   comes back. */
START_TEST(test_url_query_param)
{
	static const struct {
		const char *query, *name, *value;
	} cases[] = {
		{ "code=c%2B1&state=a+b", "code", "c+1" },
		{ "code=c%2B1&state=a+b", "state", "a b" },
		{ "codex=1&code=2", "code", "2" },
		{ "cod=1", "code", NULL },
		{ "code", "code", NULL },
		{ "", "code", NULL },
		{ "code=", "code", "" },
		{ "code=%zz%4", "code", "%zz%4" },
		{ "code=%41%61&x=1#frag", "code", "Aa" },
		{ "x=1#code=2", "code", NULL },
		{ "code=a b", "code", "a" },
	};
	uint64_t seed = tc_seed_init();

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *value = moa2_url_query_param(cases[i].query, cases[i].name);

		if (cases[i].value == NULL)
			ck_assert_msg(value == NULL, "case %u: %s", i, value);
		else
			ck_assert_msg(value != NULL && strcmp(value, cases[i].value) == 0,
				      "case %u: %s", i, value != NULL ? value : "(absent)");
		free(value);
	}
	for (unsigned int iter = 0; iter < RANDOM_ENCODE_ITERATIONS; iter++) {
		char input[64], *encoded, *query, *value;
		size_t len = (size_t)tc_rand_below(sizeof(input) - 1);

		for (size_t i = 0; i < len; i++)
			input[i] = (char)(1 + tc_rand_below(255));
		input[len] = '\0';
		encoded = moa2_url_encode(input);
		query = tc_strdup_printf("a=1&v=%s&b=2", encoded);
		value = moa2_url_query_param(query, "v");
		ck_assert_msg(value != NULL && strcmp(value, input) == 0,
			      "seed %llu: %s", (unsigned long long)seed, query);
		free(value);
		free(query);
		free(encoded);
	}
}
END_TEST

/* ------------------------------------------------------------ moa2_url_is_allowed */

START_TEST(test_url_allowed_vector)
{
	const struct tc_vector *v = &allowed_file->vectors[_i];
	bool expect_allowed = strcmp(v->cols[0], "allowed") == 0;
	bool opt_in = strcmp(v->cols[1], "1") == 0;
	size_t url_len;
	unsigned char *url = tc_vector_col(allowed_file, v, 2, &url_len);
	const char *error = NULL;
	bool allowed;

	ck_assert_msg(expect_allowed || strcmp(v->cols[0], "refused") == 0,
		      "%s:%u: first column must be allowed or refused",
		      allowed_file->name, v->line);
	allowed = moa2_url_is_allowed((const char *)url, opt_in, &error);
	ck_assert_msg(allowed == expect_allowed, "%s:%u: %s was %s (%s)",
		      allowed_file->name, v->line, v->cols[2],
		      allowed ? "allowed" : "refused",
		      allowed ? "-" : error);
	if (!allowed) {
		const char *rest = strstr((const char *)url, "://");

		ck_assert_ptr_nonnull(error);
		/* the reason never quotes the URL */
		if (rest != NULL && rest[3] != '\0')
			ck_assert_ptr_null(strstr(error, rest + 3));
	}
	free(url);
}
END_TEST

START_TEST(test_url_allowed_null_and_long)
{
	const char *error = NULL;
	char *url = malloc(MOA2_HTTP_MAX_URL + 2);

	ck_assert(!moa2_url_is_allowed(NULL, true, &error));
	ck_assert(!moa2_url_is_allowed("", true, &error));
	ck_assert_ptr_nonnull(url);
	strcpy(url, "https://idp.example.com/");
	memset(url + strlen(url), 'a', MOA2_HTTP_MAX_URL + 1 - strlen(url));
	url[MOA2_HTTP_MAX_URL + 1] = '\0';
	ck_assert(!moa2_url_is_allowed(url, false, &error));
	url[MOA2_HTTP_MAX_URL] = '\0';
	ck_assert_msg(moa2_url_is_allowed(url, false, &error), "%s", error);
	free(url);
}
END_TEST

/* A refused URL carrying a token in its query: the reason has no part of
   it, and nothing is sent. */
START_TEST(test_url_refused_error_has_no_secret)
{
	static const char *const urls[] = {
		"http://evil@idp.example.com/tokeninfo?access_token=SECRETQUERY",
		"http://idp.example.com/tokeninfo?access_token=SECRETQUERY",
		"https://idp.example.com:99999/tokeninfo?access_token=SECRETQUERY",
	};
	struct moa2_http_client *client = client_new(NULL);

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		const char *error = get_fails(client, urls[i], "SECRETBEARER");

		ck_assert_ptr_null(strstr(error, "SECRET"));
		ck_assert_ptr_null(strstr(error, "idp.example.com"));
	}
	moa2_http_client_destroy(&client);
	ck_assert_ptr_null(client);
}
END_TEST

/* ------------------------------------------------------------ live: TLS */

START_TEST(test_get_ok_with_test_ca)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	ck_assert_uint_eq(resp.body_len, strlen(SMALL_JSON));
	ck_assert_str_eq(resp.body, SMALL_JSON);
	ck_assert_pstr_eq(resp.content_type, "application/json");
	ck_assert_ptr_null(resp.cache_control);
	ck_assert_ptr_null(resp.retry_after);
	moa2_http_response_clear(&resp);
	ck_assert_ptr_null(resp.body);
	ck_assert_ptr_null(resp.content_type);
	ck_assert_int_eq(server_count("/small.json"), 1);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_get_ok_with_ca_blob)
{
	struct moa2_http_settings settings = { 0 };
	struct moa2_http_client *client;
	struct moa2_http_response resp;
	const char *error = NULL;
	void *blob;
	size_t len;

	ck_assert_msg(moa2_http_load_ca_file(ca_file, &blob, &len, &error) == 0,
		      "%s", error);
	ck_assert_uint_gt(len, 0);
	settings.ca_blob = blob;
	settings.ca_blob_len = len;
	client = client_new(&settings);
	/* the client keeps its own copy */
	memset(blob, 0, len);
	free(blob);
	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	ck_assert_str_eq(resp.body, SMALL_JSON);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

/* ca_dir: a directory with the CA under its subject hash. */
START_TEST(test_get_ok_with_ca_dir)
{
	char dir[TMP_DIR_MAX + 32], link_path[TMP_DIR_MAX + 128], cmd[PATH_MAX];
	char hash[32] = "";
	struct moa2_http_settings settings = { 0 };
	struct moa2_http_client *client;
	struct moa2_http_response resp;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "openssl x509 -hash -noout -in '%s'", ca_file);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(hash, sizeof(hash), p));
	ck_assert_int_eq(pclose(p), 0);
	hash[strcspn(hash, "\n")] = '\0';
	ck_assert_uint_eq(strlen(hash), 8);

	snprintf(dir, sizeof(dir), "%s/cadir-%ld", tmp_dir, (long)getpid());
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(link_path, sizeof(link_path), "%s/%s.0", dir, hash);
	ck_assert_int_eq(symlink(ca_file, link_path), 0);

	/* no ca_file: the system bundle does not know the test CA, the dir does */
	settings.ca_dir = dir;
	client = client_new(&settings);
	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
	unlink(link_path);
	rmdir(dir);
}
END_TEST

START_TEST(test_tls_fails_without_the_ca)
{
	struct moa2_http_settings other = { .ca_file = other_ca_file };
	struct moa2_http_client *client = client_new(NULL);
	const char *error;

	/* the system store does not know the test CA */
	error = get_fails(client, tls_url("/small.json"), NULL);
	ck_assert_ptr_nonnull(strstr(error, "certificate"));
	moa2_http_client_destroy(&client);

	client = client_new(&other);
	error = get_fails(client, tls_url("/small.json"), NULL);
	ck_assert_ptr_nonnull(strstr(error, "certificate"));
	moa2_http_client_destroy(&client);

	/* the handshake failed: no request reached the server */
	ck_assert_int_eq(server_count("/small.json"), 0);
}
END_TEST

/* The certificate names 127.0.0.1, ::1 and localhost, not 127.0.0.2. */
START_TEST(test_tls_fails_on_host_mismatch)
{
	struct moa2_http_client *client = client_with_ca();
	char url[URL_MAX];
	const char *error;

	snprintf(url, sizeof(url), "https://127.0.0.2:%u/small.json",
		 tls_server.port);
	error = get_fails(client, url, NULL);
	/* refused connection (server bound to 127.0.0.1) or name mismatch;
	   both are transport failures, never a response */
	ck_assert_ptr_nonnull(error);
	moa2_http_client_destroy(&client);
}
END_TEST

/* A certificate of the right CA for another name (other.test only): both
   an address and a name are checked against it. */
START_TEST(test_tls_fails_on_name_mismatch)
{
	char cert_arg[TMP_DIR_MAX + 64], key_arg[TMP_DIR_MAX + 64], url[URL_MAX];
	const char *args[] = { cert_arg, key_arg, NULL };
	struct moa2_http_client *client = client_with_ca();
	const char *error;

	snprintf(cert_arg, sizeof(cert_arg), "--cert=%s/other-name.pem", tmp_dir);
	snprintf(key_arg, sizeof(key_arg), "--key=%s/other-name.key", tmp_dir);
	tc_fault_server_start(&other_name_server, tmp_dir, root_dir, ca_dir, args);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/small.json", other_name_server.port);
	error = get_fails(client, url, NULL);
	ck_assert_msg(strstr(error, "certificate not accepted") != NULL &&
		      strstr(error, "IP address mismatch") != NULL, "%s", error);
	snprintf(url, sizeof(url), "https://localhost:%u/small.json", other_name_server.port);
	error = get_fails(client, url, NULL);
	ck_assert_msg(strstr(error, "certificate not accepted") != NULL &&
		      strstr(error, "hostname mismatch") != NULL, "%s", error);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_load_ca_file_errors)
{
	char path[TMP_DIR_MAX + 32];
	const char *error = NULL;
	void *blob = (void *)1;
	size_t len = 1;

	ck_assert_int_eq(moa2_http_load_ca_file("/nonexistent/ca.pem", &blob,
						&len, &error), -1);
	ck_assert_ptr_null(blob);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(strstr(error, "not found"));
	ck_assert_int_eq(moa2_http_load_ca_file(tmp_dir, &blob, &len, &error), -1);
	snprintf(path, sizeof(path), "%s/small.json", root_dir);
	ck_assert_int_eq(moa2_http_load_ca_file(path, &blob, &len, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "PEM"));
	snprintf(path, sizeof(path), "%s/empty.pem", root_dir);
	ck_assert_int_eq(moa2_http_load_ca_file(path, &blob, &len, &error), -1);
}
END_TEST

/* ------------------------------------------------------------ live: faults */

START_TEST(test_slow_past_total_timeout)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.total_timeout_ms = 1000,
	};
	struct moa2_http_client *client = client_new(&settings);
	double start = now_seconds(), elapsed;
	const char *error;

	error = get_fails(client, tls_url("/slow"), NULL);
	elapsed = now_seconds() - start;
	ck_assert_msg(elapsed >= 0.9 && elapsed < 2.0,
		      "timed out after %.2f s, expected about 1 s", elapsed);
	ck_assert_ptr_nonnull(strstr(error, "imeout"));
	moa2_http_client_destroy(&client);
}
END_TEST

static void
assert_too_large(const char *path)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.max_response = 64 * 1024,
	};
	struct moa2_http_client *client = client_new(&settings);
	const char *error = get_fails(client, tls_url(path), NULL);

	ck_assert_msg(strstr(error, "larger than the maximum of 65536") != NULL,
		      "%s: %s", path, error);
	moa2_http_client_destroy(&client);
}

START_TEST(test_huge_body_refused)
{
	assert_too_large("/huge");          /* Content-Length: 10 MiB */
	assert_too_large("/huge-nolength"); /* no length: the write callback */
	ck_assert_int_eq(server_count("/huge"), 1);
	ck_assert_int_eq(server_count("/huge-nolength"), 1);
}
END_TEST

/* The default maximum (1 MiB) also refuses 10 MiB. */
START_TEST(test_huge_body_refused_by_default)
{
	struct moa2_http_client *client = client_with_ca();
	const char *error = get_fails(client, tls_url("/huge-nolength"), NULL);

	ck_assert_ptr_nonnull(strstr(error, "larger than the maximum"));
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_body_size_boundary)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.max_response = BOUNDARY_SIZE,
	};
	struct moa2_http_client *client = client_new(&settings);
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/exact.json"), &resp), 200);
	ck_assert_uint_eq(resp.body_len, BOUNDARY_SIZE);
	ck_assert_uint_eq(strlen(resp.body), BOUNDARY_SIZE);
	moa2_http_response_clear(&resp);
	get_fails(client, tls_url("/exact-plus-one.json"), NULL);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_redirect_not_followed)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/redirect"), &resp), 302);
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(server_count("/redirect"), 1);
	ck_assert_int_eq(server_count("/small.json"), 0);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_error_statuses_are_responses)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/boom"), &resp), 500);
	ck_assert_ptr_nonnull(strstr(resp.body, "injected"));
	ck_assert_ptr_null(resp.retry_after);
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(get_ok(client, tls_url("/unavailable"), &resp), 503);
	ck_assert_pstr_eq(resp.retry_after, "7");
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(get_ok(client, tls_url("/missing.json"), &resp), 404);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_headers_captured)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/cached"), &resp), 200);
	ck_assert_pstr_eq(resp.cache_control, "max-age=123");
	ck_assert_pstr_eq(resp.content_type, "application/json");
	ck_assert_str_eq(resp.body, SMALL_JSON);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

/* The HTTP layer hands a non-JSON body over as it came. */
START_TEST(test_garbage_body_passed_on)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/garbage"), &resp), 200);
	ck_assert_str_eq(resp.body, GARBAGE_BODY);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_down_route_fails)
{
	struct moa2_http_client *client = client_with_ca();
	const char *error = get_fails(client, tls_url("/down"), NULL);

	ck_assert_ptr_null(strstr(error, "/down"));
	ck_assert_int_eq(server_count("/down"), 1);
	moa2_http_client_destroy(&client);
}
END_TEST

/* The whole server down (connections closed at accept), then up again. */
START_TEST(test_server_down_and_up)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;
	const char *error = NULL;
	int ret = -1;

	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(get_ok(client, tls_url("/_control?down=1"), &resp), 200);
	moa2_http_response_clear(&resp);
	/* the kept-alive connection is no way around it */
	get_fails(client, tls_url("/small.json"), NULL);
	/* nor is a new one */
	get_fails(client, tls_url("/small.json"), NULL);

	ck_assert_int_eq(kill(tls_server.pid, SIGUSR2), 0);
	for (unsigned int waited = 0; waited < 5000 && ret != 0; waited += 100) {
		tc_sleep_ms(100);
		ret = moa2_http_get(client, tls_url("/small.json"), NULL, &resp, &error);
		if (ret == 0)
			ck_assert_int_eq(resp.status, 200);
		moa2_http_response_clear(&resp);
	}
	ck_assert_msg(ret == 0, "server still down after SIGUSR2: %s", error);
	moa2_http_client_destroy(&client);
}
END_TEST

/* A listener whose accept queue is full drops SYNs, as a black-holed route
   does: the connect timeout holds. */
START_TEST(test_connect_timeout_on_dropped_syn)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.connect_timeout_ms = 500,
		.total_timeout_ms = 5000,
	};
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof(addr);
	struct moa2_http_client *client;
	int listener, fillers[8];
	double start, elapsed;
	const char *error;
	char url[URL_MAX];

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(listener, 0);
	ck_assert_int_eq(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(listener, 0), 0);
	ck_assert_int_eq(getsockname(listener, (struct sockaddr *)&addr, &addr_len), 0);
	for (size_t i = 0; i < sizeof(fillers) / sizeof(fillers[0]); i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fillers[i], 0);
		(void)connect(fillers[i], (struct sockaddr *)&addr, sizeof(addr));
	}
	tc_sleep_ms(100);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/small.json", ntohs(addr.sin_port));
	client = client_new(&settings);
	start = now_seconds();
	error = get_fails(client, url, NULL);
	elapsed = now_seconds() - start;
	ck_assert_msg(strstr(error, "timeout while connecting") != NULL, "%s", error);
	ck_assert_msg(elapsed >= 0.45 && elapsed < 1.5, "gave up after %.2f s, expected 0.5 s",
		      elapsed);
	moa2_http_client_destroy(&client);
	for (size_t i = 0; i < sizeof(fillers) / sizeof(fillers[0]); i++)
		close(fillers[i]);
	close(listener);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct moa2_http_client *client = client_with_ca();
	char url[URL_MAX];

	snprintf(url, sizeof(url), "%s", tls_url("/small.json"));
	server_stop(&tls_server);
	get_fails(client, url, NULL);
	moa2_http_client_destroy(&client);
}
END_TEST

/* Transport errors never quote a token or the query. */
START_TEST(test_transport_errors_have_no_secret)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.total_timeout_ms = 800,
		.connect_timeout_ms = 800,
	};
	struct moa2_http_client *client = client_new(&settings);
	const char *paths[] = {
		"/down?access_token=SECRETQUERY",
		"/slow?access_token=SECRETQUERY",
		"/huge-nolength?access_token=SECRETQUERY",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *error = get_fails(client, tls_url(paths[i]),
					      "SECRETBEARER");

		ck_assert_msg(strstr(error, "SECRET") == NULL &&
			      strstr(error, "access_token") == NULL,
			      "leaks: %s", error);
	}
	get_fails(client, "https://nonexistent.invalid/x?access_token=SECRETQUERY",
		  NULL);
	moa2_http_client_destroy(&client);
}
END_TEST

/* ------------------------------------------------------------ live: plain http */

START_TEST(test_plain_http_needs_opt_in)
{
	struct moa2_http_settings refuse = { .total_timeout_ms = 5000 };
	struct moa2_http_settings allow = {
		.total_timeout_ms = 5000,
		.allow_http_loopback = true,
	};
	struct moa2_http_client *client;
	struct moa2_http_response resp;
	struct moa2_json *echo;
	const char *error;
	char url[URL_MAX], stats[URL_MAX];

	server_start(&plain_server, false);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", plain_server.port);

	client = client_new(&refuse);
	error = get_fails(client, url, NULL);
	ck_assert_ptr_nonnull(strstr(error, "opt-in"));
	moa2_http_client_destroy(&client);

	client = client_new(&allow);
	snprintf(stats, sizeof(stats), "http://127.0.0.1:%u/_stats",
		 plain_server.port);
	/* the refused request never reached the server */
	ck_assert_int_eq(stats_count(client, stats, "/echo"), 0);
	ck_assert_int_eq(get_ok(client, url, &resp), 200);
	echo = echo_parse(&resp);
	ck_assert_str_eq(echo_string(echo, "method"), "GET");
	moa2_json_free(&echo);
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(stats_count(client, stats, "/echo"), 1);
	/* the opt-in does not make https talk plain http */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/echo", plain_server.port);
	get_fails(client, url, NULL);
	moa2_http_client_destroy(&client);
}
END_TEST

/* ------------------------------------------------------------ live: requests */

START_TEST(test_post_form_url_encoded)
{
	static const struct moa2_http_form_field fields[] = {
		{ "grant_type", "refresh_token" },
		{ "refresh_token", "1//0g+Ab&c=d%e f/==" },
		{ "client_secret", "s3cr:t@+&=%/ \xc3\xa9" },
		{ "optional", NULL },
		{ "scope", "https://outlook.office365.com/.default offline_access" },
	};
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;
	struct moa2_json *echo;
	const struct moa2_json *form;
	const char *error = NULL, *value;

	ck_assert_msg(moa2_http_post_form(client, tls_url("/echo"), fields,
					  sizeof(fields) / sizeof(fields[0]),
					  NULL, &resp, &error) == 0, "%s", error);
	echo = echo_parse(&resp);
	ck_assert_str_eq(echo_string(echo, "method"), "POST");
	ck_assert_str_eq(echo_string(echo, "body"),
			 "grant_type=refresh_token"
			 "&refresh_token=1%2F%2F0g%2BAb%26c%3Dd%25e%20f%2F%3D%3D"
			 "&client_secret=s3cr%3At%40%2B%26%3D%25%2F%20%C3%A9"
			 "&scope=https%3A%2F%2Foutlook.office365.com%2F.default%20offline_access");
	ck_assert_pstr_eq(echo_header(echo, "content-type"),
			  "application/x-www-form-urlencoded");
	ck_assert_ptr_null(echo_header(echo, "authorization"));
	ck_assert_ptr_null(echo_header(echo, "expect"));
	/* the server's form parser gets the values back byte for byte */
	ck_assert_int_eq(moa2_json_get(echo, "form", &form), 1);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		int found = moa2_json_get_string(form, fields[i].name, &value);

		if (fields[i].value == NULL) {
			ck_assert_int_eq(found, 0);
			continue;
		}
		ck_assert_int_eq(found, 1);
		ck_assert_str_eq(value, fields[i].value);
	}
	moa2_json_free(&echo);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_post_basic_auth)
{
	static const struct moa2_http_form_field fields[] = {
		{ "token", "opaque-token" },
	};
	const struct moa2_http_basic_auth auth = {
		.client_id = "mail server+1",
		.client_secret = "p@ss:w+rd&=%/ \xc3\xa9",
	};
	/* RFC 6749 2.3.1: form-urlencode both, then id:secret in base64 */
	static const char plain[] =
		"mail%20server%2B1:p%40ss%3Aw%2Brd%26%3D%25%2F%20%C3%A9";
	unsigned char b64[sizeof(plain) * 2];
	char expected[sizeof(b64) + 16];
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;
	struct moa2_json *echo;
	const char *error = NULL;

	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)strlen(plain));
	snprintf(expected, sizeof(expected), "Basic %s", b64);
	ck_assert_msg(moa2_http_post_form(client, tls_url("/echo"), fields, 1,
					  &auth, &resp, &error) == 0, "%s", error);
	echo = echo_parse(&resp);
	ck_assert_pstr_eq(echo_header(echo, "authorization"), expected);
	ck_assert_str_eq(echo_string(echo, "body"), "token=opaque-token");
	moa2_json_free(&echo);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_get_bearer_and_headers)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.user_agent = "test-agent/1",
	};
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;
	struct moa2_json *echo;
	const char *error = NULL, *agent;

	ck_assert_msg(moa2_http_get(client, tls_url("/echo?x=1"), "abc.DEF-ghi_~+/=",
				    &resp, &error) == 0, "%s", error);
	echo = echo_parse(&resp);
	ck_assert_str_eq(echo_string(echo, "method"), "GET");
	ck_assert_str_eq(echo_string(echo, "query"), "x=1");
	ck_assert_pstr_eq(echo_header(echo, "authorization"),
			  "Bearer abc.DEF-ghi_~+/=");
	ck_assert_pstr_eq(echo_header(echo, "accept"), "application/json");
	agent = echo_header(echo, "user-agent");
	ck_assert_msg(agent != NULL && strncmp(agent, "mail-oauth2/", 12) == 0,
		      "user agent %s", agent);
	moa2_json_free(&echo);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);

	client = client_new(&settings);
	ck_assert_int_eq(get_ok(client, tls_url("/echo"), &resp), 200);
	echo = echo_parse(&resp);
	ck_assert_pstr_eq(echo_header(echo, "user-agent"), "test-agent/1");
	ck_assert_ptr_null(echo_header(echo, "authorization"));
	moa2_json_free(&echo);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

/* A token that would split the header line is refused before sending. */
START_TEST(test_bearer_header_injection_refused)
{
	static const char *const tokens[] = {
		"abc\r\nX-Injected: 1", "abc def", "abc\n", "", "t\xc3\xa9",
	};
	struct moa2_http_client *client = client_with_ca();

	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		get_fails(client, tls_url("/echo"), tokens[i]);
	ck_assert_int_eq(server_count("/echo"), 0);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_bad_user_agent_refused)
{
	struct moa2_http_settings settings = { .user_agent = "x\r\nX-Injected: 1" };
	struct moa2_http_client *client = (void *)1;
	const char *error = NULL;

	ck_assert_int_eq(moa2_http_client_create(&settings, &client, &error), -1);
	ck_assert_ptr_null(client);
	ck_assert_ptr_nonnull(error);
}
END_TEST

START_TEST(test_connection_reused)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response first, second;
	struct moa2_json *echo1, *echo2;
	int64_t port1 = 0, port2 = -1, requests = 0;

	ck_assert_int_eq(get_ok(client, tls_url("/echo"), &first), 200);
	ck_assert_int_eq(first.new_connections, 1);
	ck_assert_int_eq(get_ok(client, tls_url("/echo"), &second), 200);
	ck_assert_int_eq(second.new_connections, 0);
	echo1 = echo_parse(&first);
	echo2 = echo_parse(&second);
	ck_assert_int_eq(moa2_json_get_int64(echo1, "client_port", &port1), 1);
	ck_assert_int_eq(moa2_json_get_int64(echo2, "client_port", &port2), 1);
	ck_assert_int_eq(port1, port2);
	ck_assert_int_eq(moa2_json_get_int64(echo2, "connection_requests",
					     &requests), 1);
	ck_assert_int_eq(requests, 2);
	moa2_json_free(&echo1);
	moa2_json_free(&echo2);
	moa2_http_response_clear(&first);
	moa2_http_response_clear(&second);
	moa2_http_client_destroy(&client);
}
END_TEST

/* Settings are copied: the caller's strings may go away. */
START_TEST(test_settings_copied)
{
	char *path = strdup(ca_file);
	struct moa2_http_settings settings = { .ca_file = path };
	struct moa2_http_client *client;
	struct moa2_http_response resp;

	ck_assert_ptr_nonnull(path);
	client = client_new(&settings);
	memset(path, 'x', strlen(path));
	free(path);
	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
	moa2_http_client_destroy(&client); /* NULL-safe */
	moa2_http_response_clear(NULL);
}
END_TEST

/* ------------------------------------------------------------ live: HTTP/1.1 */

START_TEST(test_chunked_body)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;
	char expected[BOUNDARY_SIZE + 1];

	memset(expected, 'a', BOUNDARY_SIZE);
	expected[BOUNDARY_SIZE] = '\0';
	/* 143 chunks of 7 bytes with extensions, then a trailer */
	ck_assert_int_eq(get_ok(client, tls_url("/chunked"), &resp), 200);
	ck_assert_uint_eq(resp.body_len, BOUNDARY_SIZE);
	ck_assert_str_eq(resp.body, expected);
	moa2_http_response_clear(&resp);
	/* the connection stays usable after a chunked body */
	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	ck_assert_int_eq(resp.new_connections, 0);
	ck_assert_str_eq(resp.body, SMALL_JSON);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_chunked_body_capped)
{
	struct moa2_http_settings settings = {
		.ca_file = ca_file,
		.max_response = 64 * 1024,
	};
	struct moa2_http_client *client = client_new(&settings);
	struct moa2_http_response resp;
	const char *error = get_fails(client, tls_url("/chunked-big"), NULL);

	ck_assert_msg(strstr(error, "larger than the maximum of 65536") != NULL, "%s", error);
	moa2_http_client_destroy(&client);
	client = client_with_ca();
	ck_assert_int_eq(get_ok(client, tls_url("/chunked-big"), &resp), 200);
	ck_assert_uint_eq(resp.body_len, BIG_SIZE);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_interim_response_skipped)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/interim"), &resp), 200);
	ck_assert_str_eq(resp.body, "ok");
	ck_assert_pstr_eq(resp.content_type, "text/plain");
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

/* A body up to the end of the connection counts when TLS ended with
   close_notify; the next request opens a new connection. */
START_TEST(test_close_delimited_body)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	ck_assert_int_eq(get_ok(client, tls_url("/eof-body"), &resp), 200);
	ck_assert_str_eq(resp.body, "{\"complete\":true}");
	ck_assert_int_eq(resp.new_connections, 1);
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	ck_assert_int_eq(resp.new_connections, 1);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

START_TEST(test_malformed_response_refused)
{
	struct moa2_http_client *client = client_with_ca();
	const char *path = malformed_paths[_i];
	const char *error = get_fails(client, tls_url(path), NULL);

	ck_assert_msg(strstr(error, path) == NULL, "%s: %s", path, error);
	/* and the client is usable afterwards */
	ck_assert_int_eq(server_count(path), 1);
	moa2_http_client_destroy(&client);
}
END_TEST

/* The TLS context of one CA is never used for another: contexts are
   shared by the clients with the same CAs only. */
START_TEST(test_tls_context_per_ca)
{
	struct moa2_http_settings other = { .ca_file = other_ca_file };
	struct moa2_http_client *a = client_with_ca(), *b, *c;
	struct moa2_http_response resp;
	const char *error;

	ck_assert_int_eq(get_ok(a, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	b = client_new(&other);
	error = get_fails(b, tls_url("/small.json"), NULL);
	ck_assert_ptr_nonnull(strstr(error, "certificate"));
	c = client_with_ca();
	ck_assert_int_eq(get_ok(c, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&a);
	/* c's context outlives a */
	moa2_http_client_destroy(&c);
	c = client_with_ca();
	ck_assert_int_eq(get_ok(c, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&b);
	moa2_http_client_destroy(&c);
}
END_TEST

/* An IPv6 literal: the address is verified against the certificate's IP
   names and sent in brackets in the Host header. */
START_TEST(test_ipv6_literal)
{
	static const char *const args[] = { "--host=::1", "--route=/echo=echo", NULL };
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;
	struct moa2_json *echo;
	char url[URL_MAX], host[64];

	tc_fault_server_start(&v6_server, tmp_dir, root_dir, ca_dir, args);
	snprintf(url, sizeof(url), "https://[::1]:%u/echo", v6_server.port);
	snprintf(host, sizeof(host), "[::1]:%u", v6_server.port);
	ck_assert_int_eq(get_ok(client, url, &resp), 200);
	echo = echo_parse(&resp);
	ck_assert_pstr_eq(echo_header(echo, "host"), host);
	moa2_json_free(&echo);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
}
END_TEST

/* ------------------------------------------------------------ live: proxy */

/* A URL by name, which may go through a proxy (a loopback address never
   does): localhost is in the test certificate. */
static const char *
tls_url_by_name(const char *path)
{
	static char url[URL_MAX];

	snprintf(url, sizeof(url), "https://localhost:%u%s", tls_server.port, path);
	return url;
}

static void
proxy_env_set(const char *userinfo)
{
	char *value = tc_strdup_printf("http://%s127.0.0.1:%u", userinfo,
				       proxy_server.port);

	ck_assert_int_eq(setenv("https_proxy", value, 1), 0);
	free(value);
}

/* The proxy's /_stats, asked directly (plain http to loopback). */
static struct moa2_json *
proxy_stats(void)
{
	struct moa2_http_settings settings = { .allow_http_loopback = true };
	struct moa2_http_client *client = client_new(&settings);
	struct moa2_http_response resp;
	struct moa2_json *json;
	const char *error;
	char url[URL_MAX];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/_stats", proxy_server.port);
	ck_assert_int_eq(get_ok(client, url, &resp), 200);
	ck_assert_msg(moa2_json_parse(resp.body, resp.body_len, &json, &error) == 0,
		      "proxy /_stats: %s", error);
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
	return json;
}

static int64_t
proxy_tunnels(void)
{
	struct moa2_json *stats = proxy_stats();
	char key[64];
	int64_t count = 0;

	snprintf(key, sizeof(key), "CONNECT localhost:%u", tls_server.port);
	ck_assert_int_ge(moa2_json_get_int64(stats, key, &count), 0);
	moa2_json_free(&stats);
	return count;
}

START_TEST(test_proxy_connect)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response first, second;
	struct moa2_json *echo, *stats;
	const char *auth = NULL;
	char host[64];

	proxy_start();
	proxy_env_set(PROXY_USER ":p%40ss@");
	ck_assert_int_eq(get_ok(client, tls_url_by_name("/echo"), &first), 200);
	ck_assert_int_eq(first.new_connections, 1);
	ck_assert_int_eq(get_ok(client, tls_url_by_name("/echo"), &second), 200);
	ck_assert_int_eq(second.new_connections, 0);
	echo = echo_parse(&second);
	snprintf(host, sizeof(host), "localhost:%u", tls_server.port);
	ck_assert_pstr_eq(echo_header(echo, "host"), host);
	/* the credentials are the proxy's, never the server's */
	ck_assert_ptr_null(echo_header(echo, "proxy-authorization"));
	moa2_json_free(&echo);
	moa2_http_response_clear(&first);
	moa2_http_response_clear(&second);
	ck_assert_int_eq(proxy_tunnels(), 1);
	stats = proxy_stats();
	ck_assert_int_eq(moa2_json_get_string(stats, "_proxy_authorization", &auth), 1);
	/* base64("user:p@ss") */
	ck_assert_str_eq(auth, "Basic dXNlcjpwQHNz");
	moa2_json_free(&stats);
	moa2_http_client_destroy(&client);
	unsetenv("https_proxy");
}
END_TEST

START_TEST(test_proxy_refusal_is_a_transport_failure)
{
	struct moa2_http_client *client = client_with_ca();
	const char *error;

	proxy_start();
	proxy_env_set(PROXY_USER ":wrong" "@");
	error = get_fails(client, tls_url_by_name("/small.json"), NULL);
	ck_assert_msg(strstr(error, "refused the tunnel") != NULL &&
		      strstr(error, "407") != NULL, "%s", error);
	ck_assert_msg(strstr(error, "wrong") == NULL, "leaks: %s", error);
	ck_assert_int_eq(server_count("/small.json"), 0);
	moa2_http_client_destroy(&client);
	unsetenv("https_proxy");
}
END_TEST

START_TEST(test_no_proxy_and_loopback_go_direct)
{
	struct moa2_http_client *client = client_with_ca();
	struct moa2_http_response resp;

	proxy_start();
	/* no credentials: through the proxy this would be a 407 */
	proxy_env_set("");
	ck_assert_int_eq(setenv("no_proxy", "example.org, .localhost", 1), 0);
	ck_assert_int_eq(get_ok(client, tls_url_by_name("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	unsetenv("no_proxy");
	ck_assert_int_eq(get_ok(client, tls_url("/small.json"), &resp), 200);
	moa2_http_response_clear(&resp);
	ck_assert_int_eq(proxy_tunnels(), 0);
	get_fails(client, tls_url_by_name("/small.json"), NULL);
	ck_assert_int_eq(proxy_tunnels(), 1);
	moa2_http_client_destroy(&client);
	unsetenv("https_proxy");
}
END_TEST

START_TEST(test_proxy_url_refused)
{
	static const char *const proxies[] = {
		"socks5://127.0.0.1:1080", "https://127.0.0.1:3128",
		"http://user:SECRETPW@[::1", "http://user:SECRETPW@host:0",
		"http://user:SECRETPW@ho st",
	};
	struct moa2_http_client *client = client_with_ca();

	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++) {
		const char *error;

		ck_assert_int_eq(setenv("https_proxy", proxies[i], 1), 0);
		error = get_fails(client, tls_url_by_name("/small.json"), NULL);
		ck_assert_msg(strstr(error, "proxy") != NULL &&
			      strstr(error, "SECRETPW") == NULL, "%s: %s", proxies[i], error);
	}
	unsetenv("https_proxy");
	moa2_http_client_destroy(&client);
}
END_TEST

/* ------------------------------------------------------------ suite */

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("url");

	encode_file = tc_vectors_load("http/url-encode.txt", 2);
	allowed_file = tc_vectors_load("http/url-allowed.txt", 3);
	tcase_add_loop_test(tc, test_url_encode_vector, 0, (int)encode_file->count);
	tcase_add_test(tc, test_url_encode_empty);
	tcase_add_test(tc, test_url_query_param);
	tcase_add_test(tc, test_url_encode_random_round_trip);
	tcase_add_loop_test(tc, test_url_allowed_vector, 0, (int)allowed_file->count);
	tcase_add_test(tc, test_url_allowed_null_and_long);
	tcase_add_test(tc, test_url_refused_error_has_no_secret);
	tcase_add_test(tc, test_bad_user_agent_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("live");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, live_setup, live_teardown);
	tcase_add_test(tc, test_get_ok_with_test_ca);
	tcase_add_test(tc, test_get_ok_with_ca_blob);
	tcase_add_test(tc, test_get_ok_with_ca_dir);
	tcase_add_test(tc, test_tls_fails_without_the_ca);
	tcase_add_test(tc, test_tls_fails_on_host_mismatch);
	tcase_add_test(tc, test_tls_fails_on_name_mismatch);
	tcase_add_test(tc, test_load_ca_file_errors);
	tcase_add_test(tc, test_slow_past_total_timeout);
	tcase_add_test(tc, test_huge_body_refused);
	tcase_add_test(tc, test_huge_body_refused_by_default);
	tcase_add_test(tc, test_body_size_boundary);
	tcase_add_test(tc, test_redirect_not_followed);
	tcase_add_test(tc, test_error_statuses_are_responses);
	tcase_add_test(tc, test_headers_captured);
	tcase_add_test(tc, test_garbage_body_passed_on);
	tcase_add_test(tc, test_down_route_fails);
	tcase_add_test(tc, test_server_down_and_up);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_connect_timeout_on_dropped_syn);
	tcase_add_test(tc, test_transport_errors_have_no_secret);
	tcase_add_test(tc, test_plain_http_needs_opt_in);
	tcase_add_test(tc, test_post_form_url_encoded);
	tcase_add_test(tc, test_post_basic_auth);
	tcase_add_test(tc, test_get_bearer_and_headers);
	tcase_add_test(tc, test_bearer_header_injection_refused);
	tcase_add_test(tc, test_connection_reused);
	tcase_add_test(tc, test_settings_copied);
	tcase_add_test(tc, test_chunked_body);
	tcase_add_test(tc, test_chunked_body_capped);
	tcase_add_test(tc, test_interim_response_skipped);
	tcase_add_test(tc, test_close_delimited_body);
	tcase_add_loop_test(tc, test_malformed_response_refused, 0,
			    (int)(sizeof(malformed_paths) / sizeof(malformed_paths[0])));
	tcase_add_test(tc, test_tls_context_per_ca);
	tcase_add_test(tc, test_ipv6_literal);
	tcase_add_test(tc, test_proxy_connect);
	tcase_add_test(tc, test_proxy_refusal_is_a_transport_failure);
	tcase_add_test(tc, test_no_proxy_and_loopback_go_direct);
	tcase_add_test(tc, test_proxy_url_refused);
	suite_add_tcase(s, tc);
	return s;
}

/* The throwaway CAs and the document root, shared by every test. */
static void
fixtures_create(void)
{
	char cmd[PATH_MAX * 2], other_dir[TMP_DIR_MAX + 16];
	char body[BOUNDARY_SIZE + 1], *big;
	const char *base = getenv("TMPDIR");
	size_t len, n;

	snprintf(tmp_dir, sizeof(tmp_dir), "%s/test-http.XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmp_dir) == NULL) {
		perror("test-http: mkdtemp");
		exit(EXIT_FAILURE);
	}
	snprintf(ca_dir, sizeof(ca_dir), "%s/ca", tmp_dir);
	snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", ca_dir);
	snprintf(other_dir, sizeof(other_dir), "%s/other", tmp_dir);
	snprintf(other_ca_file, sizeof(other_ca_file), "%s/ca.pem", other_dir);
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' && sh '%s' '%s' && cd '%s' && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout other-name.key -out other-name.csr -subj /CN=other.test 2>/dev/null && "
		 "printf 'subjectAltName=DNS:other.test\\n' >other-name.ext && "
		 "openssl x509 -req -in other-name.csr -CA ca/ca.pem -CAkey ca/ca.key "
		 "-CAcreateserial -out other-name.pem -days 2 -extfile other-name.ext 2>/dev/null",
		 MAKE_CA, ca_dir, MAKE_CA, other_dir, tmp_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test-http: %s failed\n", cmd);
		exit(EXIT_FAILURE);
	}
	snprintf(root_dir, sizeof(root_dir), "%s/root", tmp_dir);
	if (mkdir(root_dir, 0700) < 0) {
		perror("test-http: mkdir");
		exit(EXIT_FAILURE);
	}
	write_file(root_dir, "small.json", SMALL_JSON, strlen(SMALL_JSON));
	write_file(root_dir, "empty.pem", "", 0);
	memset(body, 'a', sizeof(body));
	write_file(root_dir, "exact.json", body, BOUNDARY_SIZE);
	write_file(root_dir, "exact-plus-one.json", body, BOUNDARY_SIZE + 1);
	big = malloc(BIG_SIZE);
	if (big == NULL)
		exit(EXIT_FAILURE);
	memset(big, 'b', BIG_SIZE);
	write_file(root_dir, "big.bin", big, BIG_SIZE);
	free(big);
	/* a header line longer than the reader's buffer */
	len = (size_t)snprintf(long_header_route, sizeof(long_header_route),
			       "--route=/long-header={\"mode\":\"raw\",\"raw\":"
			       "\"HTTP/1.1 200 OK\\r\\nX-Long: ");
	memset(long_header_route + len, 'l', LONG_HEADER);
	snprintf(long_header_route + len + LONG_HEADER, sizeof(long_header_route) - len - LONG_HEADER,
		 "\\r\\nContent-Length: 2\\r\\n\\r\\nok\"}");
	for (n = 0; server_routes[n] != NULL; n++)
		all_routes[n] = server_routes[n];
	all_routes[n++] = long_header_route;
	all_routes[n] = NULL;
}

static void
fixtures_remove(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test-http: cannot remove %s\n", tmp_dir);
}

int
main(void)
{
	int ret;

	fixtures_create();
	ret = tc_run_suite(http_suite());
	fixtures_remove();
	return ret;
}
