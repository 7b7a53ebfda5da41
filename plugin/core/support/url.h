/* SPDX-License-Identifier: MIT */
#ifndef MOA2_URL_H
#define MOA2_URL_H

/* Strict http(s) URL checks. The authority is parsed strictly: no userinfo
   ('@'), no percent-encoding, no numeric host that is not a plain dotted
   quad (127.1, 0x7f.1, 0177... are refused), port 1-65535, no space,
   control, non-ASCII or backslash anywhere. Error strings are static and
   never quote the URL (it may carry a token in its query). */

#include "mail-oauth2/common.h"

#define MOA2_URL_MAX_LEN 8192

struct moa2_url {
	bool https;
	bool ipv6;
	bool loopback;        /* 127.0.0.0/8 or ::1; never a name */
	char host[256];       /* as written; IPv6 without brackets */
	unsigned int port;    /* 0 when absent */
};

/* Returns 0, or -1 with a static reason in error_r. */
int moa2_url_parse(const char *url, struct moa2_url *url_r,
		   const char **error_r);
/* moa2_url_parse, then: https:// to any host, or http:// to a loopback
   address only when allow_http_loopback is set. */
int moa2_url_check(const char *url, bool allow_http_loopback,
		   struct moa2_url *url_r, const char **error_r);
bool moa2_url_is_allowed(const char *url, bool allow_http_loopback,
			 const char **error_r);

/* The value of name in a query string (what follows '?', e.g. an OAuth
   redirect's), percent-decoded and '+' as a space; malloc()ed, or NULL
   when absent. An escape that is not %XX is kept as it is; the value ends
   at '&', '#', a space or a line end. */
char *moa2_url_query_param(const char *query, const char *name);

#endif
