/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERIFY_CONFIG_H
#define MOA2_VERIFY_CONFIG_H

/* The verifier's configuration: its schema (the single source of truth for
   option names, types, defaults and one-line docs), the structs it loads
   into, and the cross-field checks run after parsing.

   Failure behaviour: a config that fails any check is not loaded at all;
   the error is one line "FILE:LINE: key 'KEY': ..." (see support/config-parser.h).
   Loaded strings and lists are borrowed from the parsed file and live as
   long as the struct moa2_verify_config; secrets are wiped on free. */

#include "mail-oauth2/options.h"

struct moa2_config;
struct moa2_config_section;

enum moa2_verify_mode {
	MOA2_VERIFY_MODE_NONE = 0, /* opaque_mode not set */
	MOA2_VERIFY_MODE_JWT,
	MOA2_VERIFY_MODE_INTROSPECTION,
	MOA2_VERIFY_MODE_USERINFO,
	MOA2_VERIFY_MODE_TOKENINFO,
	MOA2_VERIFY_MODE_AUTO,
};

enum moa2_client_auth {
	MOA2_CLIENT_AUTH_BASIC = 0, /* client_secret_basic */
	MOA2_CLIENT_AUTH_POST,      /* client_secret_post */
};

/* One "required_claim = name=value"; the value is compared by the verifier
   as a string, a bool (true/false) or a number, as the claim's type says. */
struct moa2_required_claim {
	const char *name;
	const char *value;
	unsigned int line;
};

/* One [provider NAME] section. Durations in seconds. */
struct moa2_provider_config {
	const char *name;
	unsigned int line;                 /* of the [provider NAME] header */
	const struct moa2_config_section *section; /* for moa2_verify_config_line() */

	enum moa2_verify_mode mode;
	const char *issuer;                /* NULL when unset or "none" */
	bool issuer_none;                  /* "issuer = none": no iss check */
	bool discovery;
	const char *discovery_url;         /* set whenever discovery is on */
	const char *jwks_uri;
	const char *jwks_file;
	struct moa2_config_list algorithms; /* validated JOSE names, never "none" */
	const char *hmac_secret;           /* secret; HS* allowed only when set */

	struct moa2_config_list audience;
	bool audience_check;
	struct moa2_config_list required_scopes;
	struct moa2_config_list scope_claims;
	struct moa2_config_list typ;
	bool typ_required;
	struct moa2_required_claim *required_claims;
	unsigned int required_claims_count;

	struct moa2_config_list username_claims;
	bool username_lowercase;
	const char *username_domain_append;
	struct moa2_config_list username_domain_strip;
	struct moa2_config_list username_allow;
	unsigned int username_allow_flags; /* username_allow as MOA2_IDENTITY_ALLOW_* */
	bool allow_service_tokens;         /* sub == client_id/azp may be a user */
	bool accept_id_tokens;             /* OpenID ID tokens pass as access tokens */
	struct moa2_config_list opaque_token_prefix; /* routes opaque tokens here */

	unsigned int leeway;
	unsigned int max_token_age;        /* 0 = off */
	unsigned int jwks_cache_min;
	unsigned int jwks_cache_max;
	unsigned int jwks_refetch_interval;
	unsigned int jwks_stale_max;

	const char *introspection_url;     /* NULL: from discovery */
	const char *userinfo_url;          /* NULL: from discovery */
	const char *tokeninfo_url;
	const char *client_id;
	const char *client_secret;         /* secret */
	enum moa2_client_auth client_auth;
	enum moa2_verify_mode opaque_mode; /* NONE, INTROSPECTION, USERINFO or TOKENINFO */
	struct moa2_config_list claims_export;

	/* The mode that verifies opaque (non-JWT) tokens: mode itself for
	   introspection/userinfo/tokeninfo, opaque_mode for auto, else NONE. */
	enum moa2_verify_mode opaque_verifier;
	char *discovery_url_owned;         /* private */
};

struct moa2_verify_config {
	const char *file;

	const char *cache_dir;
	const char *ca_file;
	const char *ca_dir;
	unsigned int http_connect_timeout; /* milliseconds */
	unsigned int http_timeout;         /* milliseconds */
	size_t http_max_response;          /* bytes */
	bool allow_http_loopback;
	unsigned int opaque_cache_entries;
	unsigned int opaque_cache_max_ttl;      /* seconds */
	unsigned int opaque_cache_negative_ttl; /* seconds */
	bool log_debug;

	struct moa2_provider_config *providers;
	unsigned int providers_count;

	struct moa2_config *parsed;        /* private: owns the strings */
};

/* The schema, for moa2_config_option_iter_*() (CLI listing, docs test). */
const struct moa2_config_schema *moa2_verify_config_schema(void);

/* Loads and checks a config file. Returns 0, or -1 with a malloc()ed
   one-line message in error_r. */
int moa2_verify_config_load(const char *path,
			    struct moa2_verify_config **config_r, char **error_r);
/* The same from memory (name is used in messages). */
int moa2_verify_config_load_string(const char *name, const char *data,
				   size_t len,
				   struct moa2_verify_config **config_r,
				   char **error_r);
void moa2_verify_config_free(struct moa2_verify_config **config);

/* The provider whose issuer is exactly iss, else the one with
   "issuer = none", else NULL. */
const struct moa2_provider_config *
moa2_verify_config_find_issuer(const struct moa2_verify_config *config,
			       const char *iss);
const struct moa2_provider_config *
moa2_verify_config_find_provider(const struct moa2_verify_config *config,
				 const char *name);

/* The line where key was set in provider's section (the section header
   when it was defaulted), for "FILE:LINE: key 'KEY': ..." messages in
   later (runtime) errors. */
unsigned int moa2_verify_config_line(const struct moa2_provider_config *provider,
				     const char *key);

const char *moa2_verify_mode_name(enum moa2_verify_mode mode);

#endif
