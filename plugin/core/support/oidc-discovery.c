/* SPDX-License-Identifier: MIT */
/* Discovery metadata of one issuer (see oidc-discovery.h): the check of a
   document, on top of the remote document's cache policy. Failure
   behaviour: a document that fails the check is refused as a whole and the
   good copy kept. */
#include "config.h"
#include "support/oidc-discovery.h"

#include "support/json.h"
#include "support/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct moa2_oidc_discovery {
	struct moa2_remote_doc *doc;
	char *issuer;
	bool allow_http_loopback;
	struct moa2_oidc_endpoints *endpoints; /* of the current good copy */
	char error[192];
};

static const struct {
	const char *key;
	size_t offset;
} endpoint_members[] = {
	{ "jwks_uri", offsetof(struct moa2_oidc_endpoints, jwks_uri) },
	{ "introspection_endpoint", offsetof(struct moa2_oidc_endpoints, introspection_endpoint) },
	{ "userinfo_endpoint", offsetof(struct moa2_oidc_endpoints, userinfo_endpoint) },
	{ "token_endpoint", offsetof(struct moa2_oidc_endpoints, token_endpoint) },
	{ "device_authorization_endpoint",
	  offsetof(struct moa2_oidc_endpoints, device_authorization_endpoint) },
	{ "authorization_endpoint", offsetof(struct moa2_oidc_endpoints, authorization_endpoint) },
};
#define ENDPOINT_MEMBERS (sizeof(endpoint_members) / sizeof(endpoint_members[0]))

static const char **
endpoint_slot(struct moa2_oidc_endpoints *endpoints, unsigned int i)
{
	return (const char **)(void *)((char *)endpoints + endpoint_members[i].offset);
}

void
moa2_oidc_endpoints_free(struct moa2_oidc_endpoints **_endpoints)
{
	struct moa2_oidc_endpoints *endpoints = *_endpoints;

	if (endpoints == NULL)
		return;
	for (unsigned int i = 0; i < ENDPOINT_MEMBERS; i++)
		free((char *)*endpoint_slot(endpoints, i));
	free(endpoints);
	*_endpoints = NULL;
}

/* One endpoint member: 0 absent (or null) or copied, -1 malformed. */
static int
parse_endpoint(const struct moa2_json *doc, const char *key, bool allow_http_loopback,
	       const char **slot, char *error, size_t error_size)
{
	const struct moa2_json *value;
	const char *url, *reason;

	if (moa2_json_get(doc, key, &value) <= 0 || moa2_json_type(value) == MOA2_JSON_NULL)
		return 0;
	if (moa2_json_get_string(doc, key, &url) <= 0) {
		snprintf(error, error_size, "its %s is not a string", key);
		return -1;
	}
	if (!moa2_url_is_allowed(url, allow_http_loopback, &reason)) {
		snprintf(error, error_size, "its %s is not a URL we may fetch: %s", key, reason);
		return -1;
	}
	*slot = moa2_strdup(url);
	return 0;
}

int
moa2_oidc_discovery_parse(const char *body, size_t len, const char *issuer,
			  bool allow_http_loopback,
			  struct moa2_oidc_endpoints **endpoints_r,
			  char *error, size_t error_size)
{
	struct moa2_oidc_endpoints *endpoints;
	struct moa2_json *doc;
	const char *reason, *doc_issuer;
	int ret = 0;

	*endpoints_r = NULL;
	if (moa2_json_parse(body, len, &doc, &reason) < 0) {
		snprintf(error, error_size, "%s", reason);
		return -1;
	}
	if (!moa2_json_is_object(doc)) {
		snprintf(error, error_size, "not a JSON object");
		moa2_json_free(&doc);
		return -1;
	}
	if (issuer != NULL && (moa2_json_get_string(doc, "issuer", &doc_issuer) <= 0 ||
			       strcmp(doc_issuer, issuer) != 0)) {
		snprintf(error, error_size, "its issuer differs from the configured issuer");
		moa2_json_free(&doc);
		return -1;
	}
	if ((endpoints = calloc(1, sizeof(*endpoints))) == NULL)
		abort();
	for (unsigned int i = 0; i < ENDPOINT_MEMBERS && ret == 0; i++)
		ret = parse_endpoint(doc, endpoint_members[i].key, allow_http_loopback,
				     endpoint_slot(endpoints, i), error, error_size);
	moa2_json_free(&doc);
	if (ret < 0) {
		moa2_oidc_endpoints_free(&endpoints);
		return -1;
	}
	*endpoints_r = endpoints;
	return 0;
}

/* The remote document's validator: the remote document takes a body the
   validator accepts, so its endpoints become the current ones here. */
static int
validate(void *context, const char *body, size_t len, const char **error_r)
{
	struct moa2_oidc_discovery *d = context;
	struct moa2_oidc_endpoints *endpoints;

	if (moa2_oidc_discovery_parse(body, len, d->issuer, d->allow_http_loopback,
				      &endpoints, d->error, sizeof(d->error)) < 0) {
		*error_r = d->error;
		return -1;
	}
	moa2_oidc_endpoints_free(&d->endpoints);
	d->endpoints = endpoints;
	return 0;
}

struct moa2_oidc_discovery *
moa2_oidc_discovery_create(const struct moa2_oidc_discovery_settings *settings,
			   struct moa2_http_client *http,
			   const struct moa2_logger *logger)
{
	struct moa2_oidc_discovery *d = calloc(1, sizeof(*d));
	struct moa2_remote_doc_settings set = settings->doc;

	if (d == NULL)
		abort();
	set.what = "discovery document";
	set.validate = validate;
	set.validate_context = d;
	d->issuer = moa2_strdup(settings->issuer);
	d->allow_http_loopback = settings->allow_http_loopback;
	d->doc = moa2_remote_doc_create(&set, http, logger);
	return d;
}

void
moa2_oidc_discovery_destroy(struct moa2_oidc_discovery **_d)
{
	struct moa2_oidc_discovery *d = *_d;

	if (d == NULL)
		return;
	moa2_remote_doc_destroy(&d->doc);
	moa2_oidc_endpoints_free(&d->endpoints);
	free(d->issuer);
	free(d);
	*_d = NULL;
}

int
moa2_oidc_discovery_get(struct moa2_oidc_discovery *d, time_t now, unsigned int flags,
			const struct moa2_oidc_endpoints **endpoints_r,
			const char **error_r)
{
	const char *body;
	size_t len;
	int ret = moa2_remote_doc_get(d->doc, now, flags, &body, &len, error_r);

	*endpoints_r = ret < 0 ? NULL : d->endpoints;
	return ret;
}

bool
moa2_oidc_discovery_last_fetch_failed(const struct moa2_oidc_discovery *d)
{
	return moa2_remote_doc_last_fetch_failed(d->doc);
}
