/* SPDX-License-Identifier: MIT */
#ifndef MOA2_OIDC_DISCOVERY_H
#define MOA2_OIDC_DISCOVERY_H

/* The discovery metadata of one issuer (OpenID Connect Discovery 1.0,
   RFC 8414), for the verifier and the token client alike: fetched and kept
   as a remote document (remote-doc.h: freshness from Cache-Control within
   [cache_min, cache_max], at most one fetch per retry_interval, the last
   good copy served for stale_max and persisted when cache_path is set),
   checked, and its endpoints handed out.

   A document is accepted only when
   - it is a JSON object;
   - its issuer is exactly the expected one, when one is expected (RFC 8414
     §3.3, OIDC Discovery §4.3: else another issuer's metadata could
     redirect our keys or our token requests);
   - each endpoint member below is absent, null, or a string that is an
     allowed URL (https://, or http:// to loopback with
     allow_http_loopback). One rule for a malformed member, whichever user
     needs it: a member that is present but not a string, or a URL we would
     not fetch, makes the whole document invalid.

   Failure behaviour: an invalid or unreachable document never replaces the
   good copy (the cached one is kept and served within stale_max); without
   any good copy the caller gets -1 and a reason, which it turns into a
   temporary failure. The reason names the member, never a token. */

#include "support/remote-doc.h"

/* The endpoint members we use; NULL when the document has none. */
struct moa2_oidc_endpoints {
	/* the verifier */
	const char *jwks_uri;
	const char *introspection_endpoint;
	const char *userinfo_endpoint;
	/* the token client */
	const char *token_endpoint;
	const char *device_authorization_endpoint;
	const char *authorization_endpoint;
};

struct moa2_oidc_discovery_settings {
	/* the URL, owner, cache path and policy; what and the validator are
	   the module's */
	struct moa2_remote_doc_settings doc;
	const char *issuer;     /* expected issuer; NULL: not checked */
	bool allow_http_loopback;
};

/* The policy of a user without its own options (the token client): the
   verifier's defaults (jwks_cache_min, jwks_cache_max,
   jwks_refetch_interval, jwks_stale_max). */
#define MOA2_OIDC_DISCOVERY_CACHE_MIN 300
#define MOA2_OIDC_DISCOVERY_CACHE_MAX 86400
#define MOA2_OIDC_DISCOVERY_RETRY_INTERVAL 60
#define MOA2_OIDC_DISCOVERY_STALE_MAX (7 * 86400)

struct moa2_oidc_discovery;

/* Nothing is fetched until the first moa2_oidc_discovery_get(). */
struct moa2_oidc_discovery *
moa2_oidc_discovery_create(const struct moa2_oidc_discovery_settings *settings,
			   struct moa2_http_client *http,
			   const struct moa2_logger *logger);
void moa2_oidc_discovery_destroy(struct moa2_oidc_discovery **discovery);

/* The endpoints of the current good copy, fetching first as
   moa2_remote_doc_get() does (flags: enum moa2_remote_doc_flags).
   Returns 1 when the copy changed since the previous call, 0 when it is
   the same, -1 when there is no usable copy (error_r says why). The
   endpoints stay valid until the next call or destroy. */
int moa2_oidc_discovery_get(struct moa2_oidc_discovery *discovery, time_t now,
			    unsigned int flags,
			    const struct moa2_oidc_endpoints **endpoints_r,
			    const char **error_r);

/* Whether the last fetch attempt failed (the copy, if any, is stale). */
bool moa2_oidc_discovery_last_fetch_failed(const struct moa2_oidc_discovery *discovery);

/* The check above, on a document's text (exposed for tests): 0 with the
   endpoints in a malloc()ed struct (moa2_oidc_endpoints_free), or -1 with
   a reason in the caller's buffer. */
int moa2_oidc_discovery_parse(const char *body, size_t len, const char *issuer,
			      bool allow_http_loopback,
			      struct moa2_oidc_endpoints **endpoints_r,
			      char *error, size_t error_size);
void moa2_oidc_endpoints_free(struct moa2_oidc_endpoints **endpoints);

#endif
