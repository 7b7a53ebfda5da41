/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_CHECK_H
#define MOA2_TOKEN_CHECK_H

/* The health of an account's tokens for a monitoring system (`mail-oauth2
   token check`), judged from its token store alone: no request goes to the
   provider and nothing is written (but the FILE.corrupt copy every read of
   a store that does not parse keeps). Statuses and exit codes are those of
   the Nagios plugin guidelines:

     CRITICAL  mail is deferred until an admin acts: the last token request
               was refused (invalid_grant: authorize again; invalid_client,
               invalid_scope ...: fix client.conf); a refresh_token account
               is not authorized, its store holds no refresh token or does
               not parse; its refresh token has expired, or expires within
               the critical threshold
     WARNING   the refresh token expires within the warning threshold; the
               user the check runs as cannot replace the store; the last
               token request failed for a reason that passes (the provider
               was unreachable or said it is unavailable)
     UNKNOWN   no such account, or this user cannot read its store
     OK        otherwise

   Several accounts: the worst status wins, in the order OK < UNKNOWN <
   WARNING < CRITICAL (a known problem outranks an unknown state). The
   sentences are those of the token client's messages (what failed and
   what to run). Failure behaviour: every check ends in a status (nothing
   is left unjudged); no message holds a token or a secret. */

#include "mail-oauth2/token-client.h"

#include <time.h>

enum moa2_check_status {
	MOA2_CHECK_OK = 0,
	MOA2_CHECK_WARNING = 1,
	MOA2_CHECK_CRITICAL = 2,
	MOA2_CHECK_UNKNOWN = 3,
};

/* Thresholds before a known refresh-token expiry (seconds). */
#define MOA2_CHECK_WARNING_DEFAULT (7 * 24 * 3600)
#define MOA2_CHECK_CRITICAL_DEFAULT 0 /* CRITICAL once it has expired */

struct moa2_check_settings {
	int64_t warning;
	int64_t critical;
};

#define MOA2_CHECK_MAX_FINDINGS 6

struct moa2_check_finding {
	enum moa2_check_status status;
	const char *code;        /* stable: not_authorized, request_refused, ... */
	char *text;              /* one sentence, malloc()ed */
};

struct moa2_check_result {
	char *account;
	const char *grant;       /* refresh_token, ... (NULL: unknown account) */
	char *store;             /* the store's path */
	enum moa2_check_status status; /* the worst finding's */
	struct moa2_check_finding findings[MOA2_CHECK_MAX_FINDINGS];
	unsigned int findings_count;
	/* what the store told (valid when store_read) */
	bool store_read;
	int store_writable;      /* 1 yes, 0 no, -1 not checked */
	bool access_token;
	int64_t access_token_expires_at;
	bool refresh_token;
	int64_t refresh_token_expires_at; /* 0: unknown */
	struct moa2_token_outcome last;
	int64_t last_ok_at;
	int64_t now;
};

/* Judges the account (by name) at now. Always fills result_r (clear it
   with moa2_check_result_clear); returns its status. */
enum moa2_check_status
moa2_token_check(struct moa2_token_client *client, const char *account,
		 const struct moa2_check_settings *settings, time_t now,
		 struct moa2_check_result *result_r);
void moa2_check_result_clear(struct moa2_check_result *result);

enum moa2_check_status moa2_check_worst(enum moa2_check_status a,
					enum moa2_check_status b);
/* "OK", "WARNING", "CRITICAL", "UNKNOWN" */
const char *moa2_check_status_name(enum moa2_check_status status);

/* The Nagios status line (no newline), malloc()ed:
     TOKEN CRITICAL - m365: SENTENCE; SENTENCE / app: OK | m365_access_token=0s ...
   accounts with a problem first (worst first), then the others. The
   performance data: each account's seconds left of its access token and,
   when known, of its refresh token (with the thresholds). */
char *moa2_check_line(const struct moa2_check_result *results, unsigned int count,
		      const struct moa2_check_settings *settings);
/* The same as a JSON document (one line), malloc()ed. */
char *moa2_check_json(const struct moa2_check_result *results, unsigned int count,
		      const struct moa2_check_settings *settings,
		      const char *config_file);
/* "TOKEN UNKNOWN - MESSAGE" and its JSON, for a check that could not run
   (a config error, a usage error). */
char *moa2_check_error_line(const char *message);
char *moa2_check_error_json(const char *message);

/* Who the check runs as, for its messages: "postfix (uid 107)". */
void moa2_check_identity(char *buf, size_t size);

#endif
