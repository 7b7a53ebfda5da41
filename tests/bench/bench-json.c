/* SPDX-License-Identifier: MIT */
/* Benchmark of the core's JSON parser, a program and not a timed test: it
   prints figures measured side by side in one run.

   The same documents parsed over and over by moa2_json_parse() (then freed)
   and by json-c as the core used it before (a json_tokener per document,
   depth 16, STRICT | VALIDATE_UTF8, then json_object_put()): an 824-byte
   Keycloak access-token payload, a 3 KB Keycloak JWKS (two RSA keys with
   their x5c certificates), and the payload again with the member lookups a
   verification makes. The two parsers are interleaved, A B A B, best of
   ROUNDS rounds of about ROUND_SECONDS each, so machine noise hits both
   alike. Target (issue 3): at most 1.5 us for the payload. */

#include "config.h"
#include "support/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#define ROUNDS 5
#define ROUND_SECONDS 0.2
#define TARGET_PAYLOAD_US 1.5

/* A Keycloak access token's claims, as Keycloak 2x sends them. */
static const char payload[] =
	"{\"exp\":1700003600,\"iat\":1700003300,\"auth_time\":1700003290,\"jt" \
	"i\":\"onrtac:3f6c2a9e-8b0d-4c7e-9a51-2d3f4e5a6b7c\",\"iss\":\"https:" \
	"//sso.example.com/realms/mail\",\"aud\":[\"mail-server\",\"account\"" \
	"],\"sub\":\"f3b2c1d0-1234-4abc-9def-0123456789ab\",\"typ\":\"Bearer\"" \
	",\"azp\":\"thunderbird\",\"nonce\":\"kZ2xV9qP4mN7\",\"sid\":\"0a1b2c" \
	"3d-4e5f-6071-8293-a4b5c6d7e8f9\",\"session_state\":\"0a1b2c3d-4e5f-6" \
	"071-8293-a4b5c6d7e8f9\",\"acr\":\"1\",\"allowed-origins\":[\"https:/" \
	"/webmail.example.com\"],\"realm_access\":{\"roles\":[\"offline_acces" \
	"s\",\"default-roles-mail\",\"uma_authorization\"]},\"resource_access" \
	"\":{\"account\":{\"roles\":[\"manage-account\",\"manage-account-link" \
	"s\",\"view-profile\"]}},\"scope\":\"openid email profile offline_acc" \
	"ess\",\"email_verified\":true,\"name\":\"Alice Example\",\"preferred" \
	"_username\":\"alice\",\"given_name\":\"Alice\",\"family_name\":\"Exa" \
	"mple\",\"email\":\"alice@example.com\"}";

/* A Keycloak realm's JWKS: a signing and an encryption RSA-2048 key, each
   with its self-signed certificate. */
static const char jwks[] =
	"{\"keys\":[{\"kid\":\"Xq3vJ5oQ7m2nR8sT1uW4yZ6aB9cD0eF2gH5iK8lM3nP\"," \
	"\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"1XBLrJkyor" \
	"WEMYFGklOXdtVtJSmwXSLXkXKmZE3ca-vFZwo9G8IfPHgrQcqf37nkM7Rir30PjqQ2nc" \
	"4jq9tkEjaDmmRmursHCQoT-q5MZVQa0Xcsjid4O5gJ65I9Zu1raNhJW6_v2MqkUTy2_T" \
	"T3-ReaS1YwAjHVFNzhYJAi30CqO2DvVFyDev8MequWvR65D1ZwFkWx9ojQrNVRNZWpU9" \
	"h7V9_X-MtUQ02zFaBH2mG8cHEF8A4doio05C2Sc5kPMGfkpn0jifnWX0nhkLaNDZMZLu" \
	"OuPMi6JqNIMS8nJfjKlAdMq6iaYZ3VfKShzcPI2fw9LDIxxa6VcyitrrMJew\",\"e\"" \
	":\"AQAB\",\"x5c\":[\"MIIC/zCCAeegAwIBAgIUc19BeLPd1g3mOUo+77Ct6DkXml4" \
	"wDQYJKoZIhvcNAQELBQAwDzENMAsGA1UEAwwEbWFpbDAeFw0yNjExMjEyMzA5MTFaFw0" \
	"zNjExMTgyMzA5MTFaMA8xDTALBgNVBAMMBG1haWwwggEiMA0GCSqGSIb3DQEBAQUAA4I" \
	"BDwAwggEKAoIBAQDVcEusmTKitYQxgUaSU5d21W0lKbBdIteRcqZkTdxr68VnCj0bwh8" \
	"8eCtByp/fueQztGKvfQ+OpDadziOr22QSNoOaZGa6uwcJChP6rkxlVBrRdyyOJ3g7mAn" \
	"rkj1m7Wto2Elbr+/YyqRRPLb9NPf5F5pLVjACMdUU3OFgkCLfQKo7YO9UXIN6/wx6q5a" \
	"9HrkPVnAWRbH2iNCs1VE1lalT2HtX39f4y1RDTbMVoEfaYbxwcQXwDh2iKjTkLZJzmQ8" \
	"wZ+SmfSOJ+dZfSeGQto0Nkxku4648yLomo0gxLycl+MqUB0yrqJphndV8pKHNw8jZ/D0" \
	"sMjHFrpVzKK2uswl7AgMBAAGjUzBRMB0GA1UdDgQWBBTGfH77OETzU9K1frgHS/4Ub6L" \
	"2cjAfBgNVHSMEGDAWgBTGfH77OETzU9K1frgHS/4Ub6L2cjAPBgNVHRMBAf8EBTADAQH" \
	"/MA0GCSqGSIb3DQEBCwUAA4IBAQCaj/FqjOL7Vxj4BWsdBFYB/5GVsMIrAl1egZal5oj" \
	"J6ZmKXE2rCeBEl73LjKm5qtP3/CgNsqYh/kTrcW+Bts/cLNO9tYDU8GpBAxiJmHfITIJ" \
	"dRaNLEuf1qt1q5Um1PIcilf1T7/a6rmsV5ofG+d428u+BTal0NRcbfSwfrQJ7YreWisZ" \
	"ns6Bo2mn9lHj2b2p1Fe57LWAxdoaeEcRIPB/zSY0RQhBWqZQ5nH7RBS44eZxQsbKm0KL" \
	"uGbtovURu9rsh9Wew0vmnUioY8L1bz3OAaS30iFtrj53FhXh2n1sxg2BlreMBb7JLtly" \
	"X5qS9v8cU2YpH88UlZXRysSop+MKf\"],\"x5t\":\"E6HgDbo9WntGqctQrWfcaw0my" \
	"i4\",\"x5t#S256\":\"HdyZ9jgN0t84PqvcsYGLpnOsw6cvhQOgTA8rGd3Jd_Q\"},{" \
	"\"kid\":\"pL7kM2nQ9rS4tU6vW8xY1zA3bC5dE7fG9hJ0kL2mN4o\",\"kty\":\"RS" \
	"A\",\"alg\":\"RSA-OAEP\",\"use\":\"enc\",\"n\":\"sjVo25mm0XEoT3SF2uc" \
	"7VwVOXMqEBZx-OKLrXAG4ccXeVt9772eJOVh09UAxEKCr3UzdHzZhCykBzkEUXWke5Xi" \
	"B5tISbaaHNixOvM1abJQYcnDJxBGnnOR4SrLCOQklPr6hDJAFE5zg-06npEKZA5yIfAd" \
	"jpmqpILqoyXLYZFhfYJ5t0Djf5ivKjveyhKZ8AkEErnX8jWPJA4vjgsWL0caGx8ClKi9" \
	"2AI16cqvD_SBJtmxbcCuvP_gUxHF2I6cyDWabvm3A0dSg41mPuulEAkdD0oWyUq5x1qm" \
	"UGNqVxU6KfypOFFMrgEQlmR6f0_NRwjERbp3Qiv9YEztZB8zSDQ\",\"e\":\"AQAB\"" \
	",\"x5c\":[\"MIIC/zCCAeegAwIBAgIUNt8vvVrqFZ51fBul9kOkNrLFbi4wDQYJKoZI" \
	"hvcNAQELBQAwDzENMAsGA1UEAwwEbWFpbDAeFw0yNjExMjEyMzA5MTFaFw0zNjExMTgy" \
	"MzA5MTFaMA8xDTALBgNVBAMMBG1haWwwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEK" \
	"AoIBAQCyNWjbmabRcShPdIXa5ztXBU5cyoQFnH44outcAbhxxd5W33vvZ4k5WHT1QDEQ" \
	"oKvdTN0fNmELKQHOQRRdaR7leIHm0hJtpoc2LE68zVpslBhycMnEEaec5HhKssI5CSU+" \
	"vqEMkAUTnOD7TqekQpkDnIh8B2OmaqkguqjJcthkWF9gnm3QON/mK8qO97KEpnwCQQSu" \
	"dfyNY8kDi+OCxYvRxobHwKUqL3YAjXpyq8P9IEm2bFtwK68/+BTEcXYjpzINZpu+bcDR" \
	"1KDjWY+66UQCR0PShbJSrnHWqZQY2pXFTop/Kk4UUyuARCWZHp/T81HCMRFundCK/1gT" \
	"O1kHzNINAgMBAAGjUzBRMB0GA1UdDgQWBBSTsCwtwOV50BMnha6poxjF2INDwTAfBgNV" \
	"HSMEGDAWgBSTsCwtwOV50BMnha6poxjF2INDwTAPBgNVHRMBAf8EBTADAQH/MA0GCSqG" \
	"SIb3DQEBCwUAA4IBAQBM7njIQO2G7rM85edMkEXCzObtM+Gf4U0ivhl9mlg72Y37PSM9" \
	"W9FIPN5/W4BuUZF3Zv9BhE17E7HP+0YS/ojSE05zxvPn+yLQfH3GSvkOe7QMEtMM4c+6" \
	"ptH0lGOlGuFe1cuFRR1rMz92FKACgGgf+gvcoX8KJ6l/ZRy2JB1+75fPYAhISjSK/SF2" \
	"KB0EbMEpf4yIJyt5n9+VUJQFW+rDopUaR/ylWRyvYus5KVP+S4DLa84CaR+0RGILK5sN" \
	"twN9iFy6O6j1HMeH7cgKQMpVj1Ta18khGqA2b9+RZQ6l896smQY9eVlpzKPcE+Ct5qwT" \
	"KVFImzhi/yW7mj/8LgMZ\"],\"x5t\":\"A0o0Y49g_xNRhk1y1aX587CJocM\",\"x5" \
	"t#S256\":\"6XC5K-tF_M7j82U0ySocuTl2TBjBe6gQHcJQelMwd8w\"}]}";

/* The claims the verification engine looks up in a payload. */
static const char *const lookups[] = {
	"exp", "nbf", "iat", "iss", "aud", "azp", "typ", "scope", "scp",
	"preferred_username", "email", "sub",
};

struct doc {
	const char *label;
	const char *text;
	size_t len;
	bool lookups;
};

static volatile size_t sink;

static void
die(const char *what)
{
	fprintf(stderr, "bench-json: %s\n", what);
	exit(EXIT_FAILURE);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
parse_new(const struct doc *d)
{
	struct moa2_json *json;
	const struct moa2_json *value;
	const char *error;

	if (moa2_json_parse(d->text, d->len, &json, &error) < 0)
		die(error);
	if (d->lookups) {
		for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
			sink += (size_t)moa2_json_get(json, lookups[i], &value);
	}
	moa2_json_free(&json);
}

/* What the core's json.c did with json-c before this parser. */
static void
parse_jsonc(const struct doc *d)
{
	struct json_tokener *tok = json_tokener_new_ex(MOA2_JSON_MAX_DEPTH);
	struct json_object *obj, *value;

	if (tok == NULL)
		die("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, d->text, (int)d->len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != d->len)
		die("json-c refused a benchmark document");
	if (d->lookups) {
		for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
			sink += (size_t)json_object_object_get_ex(obj, lookups[i], &value);
	}
	json_object_put(obj);
	json_tokener_free(tok);
}

/* Microseconds per call of one run of n calls. */
static double
run(void (*parse)(const struct doc *), const struct doc *d, unsigned long n)
{
	double start = now_seconds();

	for (unsigned long i = 0; i < n; i++)
		parse(d);
	return (now_seconds() - start) * 1e6 / (double)n;
}

/* Calls that take about ROUND_SECONDS / 2. */
static unsigned long
calibrate(void (*parse)(const struct doc *), const struct doc *d)
{
	unsigned long n = 16;
	double us;

	while ((us = run(parse, d, n)) * (double)n < 20000.0)
		n *= 2;
	return (unsigned long)(ROUND_SECONDS / 2 * 1e6 / us) + 1;
}

int
main(void)
{
	struct doc docs[] = {
		{ "payload", payload, sizeof(payload) - 1, false },
		{ "jwks", jwks, sizeof(jwks) - 1, false },
		{ "payload+get", payload, sizeof(payload) - 1, true },
	};
	double best_new[3], best_jsonc[3];

	printf("mail-oauth2 bench-json: moa2_json_parse() against json-c %s, "
	       "parse and free, best of %d interleaved rounds\n",
	       json_c_version(), ROUNDS);
	printf("  %-12s %6s  %12s %12s  %10s\n", "document", "size",
	       "new us", "json-c us", "json-c/new");
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		unsigned long n_new = calibrate(parse_new, &docs[i]);
		unsigned long n_jsonc = calibrate(parse_jsonc, &docs[i]);

		best_new[i] = best_jsonc[i] = 1e9;
		for (int round = 0; round < ROUNDS; round++) {
			double a = run(parse_new, &docs[i], n_new);
			double b = run(parse_jsonc, &docs[i], n_jsonc);

			if (a < best_new[i])
				best_new[i] = a;
			if (b < best_jsonc[i])
				best_jsonc[i] = b;
		}
		printf("  %-12s %4zu B  %12.3f %12.3f  %9.2fx\n", docs[i].label,
		       docs[i].len, best_new[i], best_jsonc[i],
		       best_jsonc[i] / best_new[i]);
	}
	printf("\n  payload+get: the payload parsed, %zu member lookups "
	       "(the verifier's), freed\n",
	       sizeof(lookups) / sizeof(lookups[0]));
	printf("  target: payload parse <= %.2f us: %.3f us %s\n",
	       TARGET_PAYLOAD_US, best_new[0],
	       best_new[0] <= TARGET_PAYLOAD_US ? "(met)" : "(MISSED)");
	return 0;
}
