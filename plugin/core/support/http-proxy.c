/* SPDX-License-Identifier: MIT */
/* The proxy of the environment for the HTTP client (see http-client.h for
   which variables and hosts), and the CONNECT tunnel through it.

   Failure behaviour: fails closed. A proxy variable that is not a valid
   http:// proxy URL fails the request (it is never bypassed for a direct
   connection), and no message quotes it: it may hold the proxy password.
   The decoded credentials and the Proxy-Authorization value are wiped
   before they are freed. A tunnel that the proxy refuses (not a 2xx) or a
   proxy that speaks before the TLS handshake fails the request, naming
   the proxy's and the target's host and port. */
#include "config.h"
#include "support/http-client-private.h"
#include "support/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_PROXY_DEFAULT_PORT 1080 /* as libcurl's */

/* ------------------------------------------------------------ environment */

/* As libcurl reads them for an https:// URL. */
static const char *
proxy_env(void)
{
	static const char *const names[] = {
		"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *value = getenv(names[i]);

		if (value != NULL && value[0] != '\0')
			return value;
	}
	return NULL;
}

/* no_proxy: "*", or names and addresses separated by commas or spaces; a
   name also matches its subdomains; a leading dot is ignored. */
static bool
no_proxy_matches(const char *host)
{
	const char *list = getenv("no_proxy");
	size_t host_len = strlen(host);

	if (list == NULL || list[0] == '\0')
		list = getenv("NO_PROXY");
	while (list != NULL && *list != '\0') {
		size_t len;

		list += strspn(list, ", \t");
		len = strcspn(list, ", \t");
		if (len == 1 && list[0] == '*')
			return true;
		if (len > 0 && list[0] == '.') {
			list++;
			len--;
		}
		if (len > 2 && list[0] == '[' && list[len - 1] == ']' &&
		    len - 2 == host_len && strncasecmp(list + 1, host, host_len) == 0)
			return true;
		if (len > 0 && (len == host_len ||
				(len < host_len && host[host_len - len - 1] == '.')) &&
		    strncasecmp(list, host + host_len - len, len) == 0)
			return true;
		list += len;
	}
	return false;
}

/* Decodes %XX in [s, s + len) into a malloc()ed string; NULL when bad. */
static char *
percent_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = i + 2 < len ? moa2_ascii_hex_value(s[i + 1]) : -1;
		lo = hi < 0 ? -1 : moa2_ascii_hex_value(s[i + 2]);
		if (lo < 0) {
			moa2_secret_free(out, len + 1);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* "Basic base64(user:password)" from the proxy URL's userinfo. */
static int
proxy_credentials(struct moa2_http_proxy *proxy, const char *info, size_t len)
{
	const char *colon = memchr(info, ':', len);
	size_t user_len = colon == NULL ? len : (size_t)(colon - info);
	char *user = percent_decode(info, user_len);
	char *pass = colon == NULL ? moa2_strdup("") :
		percent_decode(colon + 1, len - user_len - 1);
	char *plain, *encoded;
	int ret = -1;

	if (user != NULL && pass != NULL) {
		plain = moa2_strdup_printf("%s:%s", user, pass);
		encoded = moa2_base64_encode(plain, strlen(plain));
		if (encoded != NULL) {
			proxy->authorization = moa2_strdup_printf("Basic %s", encoded);
			ret = 0;
		}
		moa2_secret_str_free(&encoded);
		moa2_secret_str_free(&plain);
	}
	moa2_secret_str_free(&user);
	moa2_secret_str_free(&pass);
	return ret;
}

static bool
proxy_host_ok(const char *host, bool ipv6)
{
	if (host[0] == '\0')
		return false;
	for (const char *p = host; *p != '\0'; p++) {
		if (!moa2_ascii_alnum(*p) && *p != '-' && *p != '.' && *p != '_' &&
		    !(ipv6 && *p == ':'))
			return false;
	}
	return true;
}

/* [http://][user[:password]@]host[:port][/]; the messages never quote it
   (it may hold the password). */
static int
proxy_parse(const char *value, struct moa2_http_proxy *proxy, const char **error_r)
{
	const char *p = strstr(value, "://"), *end, *at, *host, *host_end;
	unsigned long port = HTTP_PROXY_DEFAULT_PORT;
	bool ipv6;

	*error_r = "the proxy of the environment (https_proxy, all_proxy) is not a valid http:// proxy URL";
	if (p != NULL) {
		if (p - value != 4 || strncasecmp(value, "http", 4) != 0) {
			*error_r = "the proxy of the environment (https_proxy, all_proxy) is not an http:// proxy: only those are supported";
			return -1;
		}
		p += 3;
	} else {
		p = value;
	}
	end = p + strcspn(p, "/?#");
	at = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '@')
			at = q;
	}
	if (at != NULL && proxy_credentials(proxy, p, (size_t)(at - p)) < 0)
		return -1;
	host = at != NULL ? at + 1 : p;
	ipv6 = *host == '[';
	if (ipv6) {
		host++;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL)
			return -1;
	} else {
		host_end = memchr(host, ':', (size_t)(end - host));
		if (host_end == NULL)
			host_end = end;
	}
	if ((size_t)(host_end - host) >= sizeof(proxy->host))
		return -1;
	memcpy(proxy->host, host, (size_t)(host_end - host));
	proxy->host[host_end - host] = '\0';
	p = host_end + (ipv6 ? 1 : 0);
	if (p < end) {
		char *port_end;

		if (*p != ':' || !moa2_ascii_digit(p[1]))
			return -1;
		port = strtoul(p + 1, &port_end, 10);
		if (port_end != end || port == 0 || port > 65535)
			return -1;
	}
	proxy->port = (unsigned int)port;
	return proxy_host_ok(proxy->host, ipv6) ? 0 : -1;
}

/* The proxy for target, if any: https:// only, never to a loopback address
   or a no_proxy host. */
int
moa2_http_proxy_for(const struct moa2_http_target *target,
		    struct moa2_http_proxy *proxy, const char **error_r)
{
	const char *value = target->url->https && !target->url->loopback ?
		proxy_env() : NULL;

	memset(proxy, 0, sizeof(*proxy));
	if (value == NULL || no_proxy_matches(target->url->host))
		return 0;
	if (proxy_parse(value, proxy, error_r) < 0) {
		moa2_secret_str_free(&proxy->authorization);
		memset(proxy, 0, sizeof(*proxy));
		return -1;
	}
	return 0;
}

void
moa2_http_proxy_clear(struct moa2_http_proxy *proxy)
{
	moa2_secret_str_free(&proxy->authorization);
}

/* ------------------------------------------------------------ CONNECT */

/* CONNECT through the proxy, on the connection to it. */
int
moa2_http_proxy_tunnel(struct moa2_http_transfer *t,
		       const struct moa2_http_target *target,
		       const struct moa2_http_proxy *proxy)
{
	struct moa2_http_client *c = t->client;
	struct moa2_http_response scratch = { 0 };
	struct moa2_http_transfer pt = {
		.client = c,
		.resp = &scratch,
		.deadline = t->connect_deadline,
	};
	struct moa2_http_head head;
	char hostport[MOA2_HTTP_HOST_MAX + 8];
	struct moa2_buf req;
	int ret;

	snprintf(hostport, sizeof(hostport), "%s%s%s:%u", target->url->ipv6 ? "[" : "",
		 target->url->host, target->url->ipv6 ? "]" : "", target->port);
	moa2_buf_init(&req);
	moa2_buf_printf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n",
			hostport, hostport, c->user_agent);
	if (proxy->authorization != NULL)
		moa2_buf_printf(&req, "Proxy-Authorization: %s\r\n", proxy->authorization);
	moa2_buf_append_str(&req, "\r\n");
	ret = moa2_http_conn_write(c->conn, req.data, req.len, pt.deadline, c->error);
	moa2_buf_free(&req);
	if (ret == 0)
		ret = moa2_http_head_read(&pt, &head);
	moa2_http_response_headers_clear(&scratch);
	if (ret < 0)
		return -1;
	if (head.status / 100 != 2)
		return moa2_http_client_fail(c, "the proxy %s port %u refused the tunnel to %s port %u: HTTP %ld",
					     proxy->host, proxy->port, target->url->host, target->port,
					     head.status);
	if (c->rx_start != c->rx_end)
		return moa2_http_client_fail(c, "the proxy %s port %u sent data before the TLS handshake",
					     proxy->host, proxy->port);
	return 0;
}
