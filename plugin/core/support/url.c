/* SPDX-License-Identifier: MIT */
/* The one strict URL parser of the project: configuration checks and the
   HTTP client both use it, so what the config accepts is what is fetched. */
#include "config.h"
#include "support/url.h"
#include "support/ascii.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_HOST_MAX 253

/* A strict dotted quad: four decimal parts 0-255 without leading zeros. */
static bool
parse_ipv4(const char *s, size_t len, unsigned char octets_r[4])
{
	size_t i = 0;

	for (unsigned int part = 0; part < 4; part++) {
		unsigned int value = 0;
		size_t digits = 0;

		for (; i < len && moa2_ascii_digit(s[i]); i++, digits++) {
			if (digits > 0 && value == 0)
				return false;
			value = value * 10 + (unsigned int)(s[i] - '0');
			if (value > 255)
				return false;
		}
		if (digits == 0)
			return false;
		octets_r[part] = (unsigned char)value;
		if (part < 3) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

/* LDH labels (plus '_', seen in container names), none empty. */
static bool
hostname_valid(const char *host, size_t len)
{
	size_t label_len = 0;

	if (len == 0 || len > URL_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (c == '.') {
			if (label_len == 0 || host[i - 1] == '-')
				return false;
			label_len = 0;
		} else if (moa2_ascii_alnum(c) || c == '_' ||
			   (c == '-' && label_len > 0)) {
			if (++label_len > 63)
				return false;
		} else {
			return false;
		}
	}
	return label_len > 0 && host[len - 1] != '-';
}

/* A host whose last label is numeric is read as an IPv4 address by URL
   parsers and inet_aton (127.1, 0x7f.1, 2130706433): only a strict dotted
   quad is accepted for those. */
static bool
hostname_looks_numeric(const char *host, size_t len)
{
	size_t start = len;

	while (start > 0 && host[start - 1] != '.')
		start--;
	if (len - start >= 2 && host[start] == '0' &&
	    (host[start + 1] == 'x' || host[start + 1] == 'X'))
		return true;
	for (size_t i = start; i < len; i++) {
		if (!moa2_ascii_digit(host[i]))
			return false;
	}
	return true;
}

static bool
parse_port(const char *s, size_t len, unsigned int *port_r)
{
	unsigned long value = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!moa2_ascii_digit(s[i]))
			return false;
		value = value * 10 + (unsigned long)(s[i] - '0');
	}
	*port_r = (unsigned int)value;
	return value <= 65535;
}

static int
url_parse_ipv6(const char *authority, size_t len, struct moa2_url *info,
	       const char **error_r)
{
	const char *close = memchr(authority, ']', len);
	size_t addr_len, rest;
	struct in6_addr addr;

	if (close == NULL) {
		*error_r = "invalid IPv6 address";
		return -1;
	}
	addr_len = (size_t)(close - authority) - 1;
	if (addr_len == 0 || addr_len >= INET6_ADDRSTRLEN) {
		*error_r = "invalid IPv6 address";
		return -1;
	}
	memcpy(info->host, authority + 1, addr_len);
	info->host[addr_len] = '\0';
	/* inet_pton also refuses zone ids ("%25eth0") */
	if (inet_pton(AF_INET6, info->host, &addr) != 1) {
		*error_r = "invalid IPv6 address";
		return -1;
	}
	rest = len - addr_len - 2;
	if (rest > 0 && (close[1] != ':' || !parse_port(close + 2, rest - 1, &info->port))) {
		*error_r = "invalid port";
		return -1;
	}
	info->ipv6 = true;
	info->loopback = IN6_IS_ADDR_LOOPBACK(&addr);
	return 0;
}

static int
url_parse_host(const char *authority, size_t len, struct moa2_url *info,
	       const char **error_r)
{
	const char *colon = memchr(authority, ':', len);
	size_t host_len = colon == NULL ? len : (size_t)(colon - authority);
	unsigned char octets[4];

	if (colon != NULL &&
	    !parse_port(colon + 1, len - host_len - 1, &info->port)) {
		*error_r = "invalid port";
		return -1;
	}
	if (!hostname_valid(authority, host_len)) {
		*error_r = "invalid host name";
		return -1;
	}
	if (hostname_looks_numeric(authority, host_len)) {
		if (!parse_ipv4(authority, host_len, octets)) {
			*error_r = "invalid IPv4 address (expected four decimal numbers)";
			return -1;
		}
		info->loopback = octets[0] == 127;
	}
	/* a name is never loopback, not even "localhost": it may resolve
	   elsewhere */
	memcpy(info->host, authority, host_len);
	info->host[host_len] = '\0';
	return 0;
}

int
moa2_url_parse(const char *url, struct moa2_url *info_r, const char **error_r)
{
	const char *authority;
	size_t len, authority_len;

	memset(info_r, 0, sizeof(*info_r));
	if (url == NULL) {
		*error_r = "no URL";
		return -1;
	}
	len = strnlen(url, MOA2_URL_MAX_LEN + 1);
	if (len > MOA2_URL_MAX_LEN) {
		*error_r = "URL too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\') {
			*error_r = "contains a space or a character not allowed in a URL";
			return -1;
		}
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		info_r->https = true;
		authority = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		authority = url + 7;
	} else {
		*error_r = "not an http:// or https:// URL";
		return -1;
	}
	if (strchr(authority, '#') != NULL) {
		*error_r = "a fragment (#) is not allowed";
		return -1;
	}
	authority_len = strcspn(authority, "/?");
	if (authority_len == 0) {
		*error_r = "no host";
		return -1;
	}
	if (memchr(authority, '@', authority_len) != NULL) {
		*error_r = "user info (user@) is not allowed";
		return -1;
	}
	if (authority[0] == '[')
		return url_parse_ipv6(authority, authority_len, info_r, error_r);
	return url_parse_host(authority, authority_len, info_r, error_r);
}

int
moa2_url_check(const char *url, bool allow_http_loopback, struct moa2_url *info_r,
	  const char **error_r)
{
	if (moa2_url_parse(url, info_r, error_r) < 0)
		return -1;
	if (info_r->https)
		return 0;
	if (!info_r->loopback) {
		*error_r = "plain http:// refused: use https:// (http:// is possible only to a loopback address, by explicit opt-in)";
		return -1;
	}
	if (!allow_http_loopback) {
		*error_r = "plain http:// to a loopback address needs the explicit opt-in";
		return -1;
	}
	return 0;
}

bool
moa2_url_is_allowed(const char *url, bool allow_http_loopback,
		    const char **error_r)
{
	struct moa2_url info;

	return moa2_url_check(url, allow_http_loopback, &info, error_r) == 0;
}

/* ------------------------------------------------------------- queries */

char *
moa2_url_query_param(const char *query, const char *name)
{
	size_t name_len = strlen(name);

	while (query != NULL && *query != '\0') {
		size_t len = strcspn(query, "& #\r\n");

		if (len > name_len && strncmp(query, name, name_len) == 0 &&
		    query[name_len] == '=') {
			const char *v = query + name_len + 1, *end = query + len;
			char *out = malloc((size_t)(end - v) + 1), *o = out;
			int hi, lo;

			if (out == NULL)
				abort();
			for (; v < end; v++) {
				if (*v == '%' && end - v >= 3 &&
				    (hi = moa2_ascii_hex_value(v[1])) >= 0 &&
				    (lo = moa2_ascii_hex_value(v[2])) >= 0) {
					*o++ = (char)(hi * 16 + lo);
					v += 2;
				} else {
					*o++ = *v == '+' ? ' ' : *v;
				}
			}
			*o = '\0';
			return out;
		}
		query += len;
		if (*query != '&')
			break;
		query++;
	}
	return NULL;
}
