/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_CONFIG_H
#define MOA2_TOKEN_CONFIG_H

/* The token client's configuration (/etc/mail-oauth2/client.conf): global
   settings, then one [account NAME] section per mailbox or application that
   sends mail through an OAuth relay. The schema is the single source of truth
   for option names, defaults and docs (conf.d/mail-oauth2-client.conf.example
   is checked against it by a unit test).

   Provider presets fill in what the admin would otherwise look up:
     microsoft  token  https://login.microsoftonline.com/TENANT/oauth2/v2.0/token
                device .../devicecode, authorize .../authorize
                scope  https://outlook.office365.com/.default (client_credentials)
                       https://outlook.office.com/SMTP.Send offline_access (else)
     google     token  https://oauth2.googleapis.com/token
                device https://oauth2.googleapis.com/device/code
                authorize https://accounts.google.com/o/oauth2/v2/auth
                scope  https://mail.google.com/
     generic    OpenID Connect discovery from issuer, or explicit endpoints
   An explicit endpoint or scope always wins over the preset.

   Failure behaviour: a config that fails any check is not loaded at all;
   the error is one line "FILE:LINE: key 'KEY': ..." (see support/config-parser.h).
   Everything read from disk that the plugin needs later (secrets, the
   assertion key) is read at load time, because Postfix's smtp chroots
   right after loading the plugin. */

#include "mail-oauth2/options.h"

struct moa2_config;
struct moa2_config_section;

enum moa2_token_provider {
	MOA2_TOKEN_PROVIDER_GENERIC = 0,
	MOA2_TOKEN_PROVIDER_MICROSOFT,
	MOA2_TOKEN_PROVIDER_GOOGLE,
};

enum moa2_token_grant {
	MOA2_TOKEN_GRANT_REFRESH_TOKEN = 0,   /* delegated: authorize once with the CLI */
	MOA2_TOKEN_GRANT_CLIENT_CREDENTIALS,  /* application: client_id + secret */
	MOA2_TOKEN_GRANT_JWT_BEARER,          /* RFC 7523 §2.1 signed assertion */
};

enum moa2_token_client_auth {
	MOA2_TOKEN_AUTH_POST = 0, /* client_secret_post (the default) */
	MOA2_TOKEN_AUTH_BASIC,    /* client_secret_basic */
	MOA2_TOKEN_AUTH_NONE,     /* public client: client_id only */
};

#define MOA2_TOKEN_GRANT_JWT_BEARER_URN "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define MOA2_TOKEN_GRANT_DEVICE_CODE_URN "urn:ietf:params:oauth:grant-type:device_code"

struct moa2_assertion_key;

/* One [account NAME] section, with presets applied. Strings are borrowed
   from the parsed file (or owned by the config) and live as long as it. */
struct moa2_token_account {
	const char *name;
	unsigned int line;                       /* of the [account NAME] header */
	const struct moa2_config_section *section;

	enum moa2_token_provider provider;
	enum moa2_token_grant grant;
	const char *tenant;                      /* microsoft */
	const char *issuer;                      /* generic: discovery */
	const char *discovery_url;               /* set when endpoints come from discovery */
	const char *token_endpoint;              /* NULL: from discovery */
	const char *device_authorization_endpoint; /* NULL: from discovery or none */
	const char *authorization_endpoint;      /* NULL: from discovery or none */
	const char *client_id;
	const char *client_secret;               /* secret; NULL for public clients */
	enum moa2_token_client_auth client_auth;
	const char *scope;                       /* space-separated, NULL: none sent */
	const char *resource;                    /* RFC 8707, NULL: none sent */
	const char *user;                        /* XOAUTH2 user= override, or NULL */
	const char *token_file;                  /* absolute path of the store */
	unsigned int refresh_margin;             /* seconds */

	/* jwt_bearer */
	struct moa2_assertion_key *assertion_key;
	const char *assertion_issuer;
	const char *assertion_subject;
	const char *assertion_audience;          /* NULL: the token endpoint */
	const char *assertion_key_id;
	unsigned int assertion_lifetime;         /* seconds */

	/* private: raw bound values and owned strings */
	struct moa2_config_list scope_list;
	const char *assertion_key_file;
	char *owned[6];
};

struct moa2_token_config {
	const char *file;

	const char *token_dir;
	const char *ca_file;                     /* NULL: the system bundle */
	unsigned int http_connect_timeout;       /* milliseconds */
	unsigned int http_timeout;               /* milliseconds */
	bool allow_http_loopback;
	unsigned int lock_timeout;               /* seconds */
	bool log_debug;
	bool without_secrets;                    /* loaded by ..._load_without_secrets */

	struct moa2_token_account *accounts;
	unsigned int accounts_count;

	struct moa2_config *parsed;              /* private: owns the strings */
};

/* The schema, for moa2_config_option_iter_*() (docs drift test, CLI). */
const struct moa2_config_schema *moa2_token_config_schema(void);

/* Loads and checks a config file. Returns 0, or -1 with a malloc()ed
   one-line message in error_r. */
int moa2_token_config_load(const char *path, struct moa2_token_config **config_r,
			   char **error_r);
/* The same without reading any secret file (KEY_file) or the assertion
   key: for `mail-oauth2 token check`, which needs no secret and may run
   as a user that cannot read them. A token client created from such a
   config refuses every token request. */
int moa2_token_config_load_without_secrets(const char *path,
					   struct moa2_token_config **config_r,
					   char **error_r);
/* The same from memory (name is used in messages). */
int moa2_token_config_load_string(const char *name, const char *data,
				  size_t len, struct moa2_token_config **config_r,
				  char **error_r);
/* Wipes the secrets and frees everything. NULL-safe; NULLs *config. */
void moa2_token_config_free(struct moa2_token_config **config);

/* The account named name, or NULL. */
const struct moa2_token_account *
moa2_token_config_find(const struct moa2_token_config *config, const char *name);
/* The account whose token_file is path, or NULL. */
const struct moa2_token_account *
moa2_token_config_find_file(const struct moa2_token_config *config,
			    const char *path);

const char *moa2_token_provider_name(enum moa2_token_provider provider);
const char *moa2_token_grant_name(enum moa2_token_grant grant);

#endif
