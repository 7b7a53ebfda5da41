/* SPDX-License-Identifier: MIT */
#ifndef MOA2_TOKEN_STORE_H
#define MOA2_TOKEN_STORE_H

/* The token store: one JSON file per account, e.g.

     {"version":1,"account":"m365","token_type":"Bearer",
      "access_token":"...","expires_at":1700003600,
      "access_token_at":1700000000,"scope":"...",
      "refresh_token":"...","refresh_token_at":1700000000,
      "refresh_token_expires_at":1707776000,
      "last_request":{"at":1700000000,"ok":true,"duration_ms":312},
      "last_ok_at":1700000000,"updated_at":1700000000}

   (access_token_at, refresh_token_expires_at, last_request and last_ok_at
   are absent from stores written before they existed; such stores still
   load: the token's lifetime, the refresh token's expiry and the last
   request count as unknown). last_request is the outcome of the last
   token request any process made for the account, without any secret: a
   failed one is {"at":...,"ok":false,"temporary":false,"error":
   "invalid_grant","http_status":400,"description":"...","duration_ms":...},
   so that `mail-oauth2 token check` can tell that mail is deferred.

   The store's directory is opened when the store is opened and every later
   operation is relative to that descriptor (openat, renameat, fsync), so a
   store opened before Postfix's smtp chroots keeps working inside the
   chroot. Locking is flock(2) on FILE.lock beside the store (an open file
   description lock: a host process that opens and closes the same file
   elsewhere cannot drop it, as it could an fcntl lock). When the lock file
   cannot be created (read-only directory) the directory itself is locked.

   Failure behaviour: a write goes to FILE.tmp, is fsync()ed, renamed over
   FILE, and the directory is fsync()ed: a crash leaves the old or the new
   store, never a mix. The mode and owner of an existing store are kept; a
   new store is created 0600 (owned by the directory's owner when created
   by root). A store that does not parse is never overwritten before a copy
   of it is kept as FILE.corrupt. Messages never contain a token. */

#include "mail-oauth2/common.h"

#include <time.h>

#define MOA2_TOKEN_STORE_VERSION 1
#define MOA2_TOKEN_STORE_MAX_SIZE ((size_t)64 * 1024)

/* The outcome of a token request (no secret in it). */
struct moa2_token_outcome {
	int64_t at;             /* when it was made; 0 = none recorded */
	bool ok;
	bool temporary;         /* failed, and retrying later may succeed
				   (provider unreachable or unavailable) */
	long http_status;       /* 0: no HTTP answer */
	char *error;            /* failed: the OAuth error code ("invalid_grant"),
				   else no_response, invalid_response or
				   http_error; NULL when ok */
	char *description;      /* the provider's error_description or the
				   reason, printable; may be NULL */
	unsigned int duration_ms;
};

/* The store's content. Tokens are secrets: moa2_token_state_clear wipes. */
struct moa2_token_state {
	char *account;
	char *token_type;
	char *access_token;     /* NULL: none (dropped or never obtained) */
	int64_t expires_at;     /* of the access token; 0 = unknown */
	int64_t access_token_at; /* when it was obtained; 0 = unknown */
	char *scope;
	char *refresh_token;    /* NULL: none */
	int64_t refresh_token_at; /* when the refresh token was obtained */
	int64_t refresh_token_expires_at; /* from refresh_token_expires_in; 0 = unknown */
	struct moa2_token_outcome last;   /* the last token request */
	int64_t last_ok_at;     /* the last successful token request; 0 = unknown */
	int64_t updated_at;
};

void moa2_token_state_clear(struct moa2_token_state *state);
/* Deep copy (aborts on ENOMEM). */
void moa2_token_state_copy(struct moa2_token_state *dest,
			   const struct moa2_token_state *src);
/* Replaces *field with a copy of value (NULL allowed), wiping the old. */
void moa2_token_state_set(char **field, const char *value);
void moa2_token_outcome_clear(struct moa2_token_outcome *outcome);
void moa2_token_outcome_copy(struct moa2_token_outcome *dest,
			     const struct moa2_token_outcome *src);

/* The freshness rule of a stored access token, the only one: the token
   client asks it before every use. The margin before expiry at which the
   token is refreshed is the account's refresh_margin, but at most a
   quarter of the token's lifetime (expires_at - access_token_at, when the
   store knows it) and no less than MOA2_TOKEN_MIN_REMAINING unless
   refresh_margin itself is less. So a token that lives 60 s or 5 min
   (Keycloak's default) is reused for three quarters of its life whatever
   refresh_margin says, and a long-lived one is refreshed refresh_margin
   before it expires. A token with MOA2_TOKEN_MIN_REMAINING seconds or
   less left is never sent. */
#define MOA2_TOKEN_MARGIN_SHARE 4    /* margin <= lifetime / this */
#define MOA2_TOKEN_MIN_REMAINING 10  /* seconds */

enum moa2_token_freshness {
	MOA2_TOKEN_FRESH,    /* more than the margin left: use it */
	MOA2_TOKEN_DUE,      /* within the margin: refresh; should that fail,
				it may still be used */
	MOA2_TOKEN_UNUSABLE, /* none, expiry unknown, or about to expire:
				refresh, and never send it */
};

/* The margin that applies to this token (seconds). */
unsigned int moa2_token_margin(const struct moa2_token_state *state,
			       unsigned int refresh_margin);
enum moa2_token_freshness
moa2_token_freshness(const struct moa2_token_state *state, time_t now,
		     unsigned int refresh_margin);
/* moa2_token_freshness() != MOA2_TOKEN_FRESH */
bool moa2_token_needs_refresh(const struct moa2_token_state *state, time_t now,
			      unsigned int refresh_margin);

/* Serialises / parses the JSON form (exposed for tests and the CLI).
   Parse returns 0, or -1 with a static reason. */
char *moa2_token_state_to_json(const struct moa2_token_state *state,
			       size_t *len_r);
int moa2_token_state_from_json(const char *data, size_t len,
			       struct moa2_token_state *state_r,
			       const char **error_r);

struct moa2_token_store;

/* Opens the store at path (absolute): its directory must exist. Nothing
   else is touched. Returns 0, or -1 with a malloc()ed message and errno
   set (ENOENT: no such directory, EACCES: not allowed to open it). */
int moa2_token_store_open(const char *path, struct moa2_token_store **store_r,
			  char **error_r);
void moa2_token_store_close(struct moa2_token_store **store);
const char *moa2_token_store_path(const struct moa2_token_store *store);

enum moa2_store_read {
	MOA2_STORE_READ_OK = 1,
	MOA2_STORE_READ_MISSING = 0,  /* no store file yet */
	MOA2_STORE_READ_ERROR = -1,   /* I/O error */
	MOA2_STORE_READ_CORRUPT = -2, /* the file does not parse */
};

/* Reads the store. On ERROR and CORRUPT error_r gets a malloc()ed message
   (for CORRUPT after a copy was kept as FILE.corrupt, which the message
   says). state_r is zeroed unless OK. */
enum moa2_store_read
moa2_token_store_read(struct moa2_token_store *store,
		      struct moa2_token_state *state_r, char **error_r);

/* Atomically replaces the store (see above). Call it under the lock.
   Returns 0, or -1 with a malloc()ed message. */
int moa2_token_store_write(struct moa2_token_store *store,
			   const struct moa2_token_state *state, char **error_r);

enum moa2_store_lock {
	MOA2_STORE_LOCKED = 0,
	MOA2_STORE_LOCKED_DIR = 1,    /* lock file unusable: the directory is locked */
	MOA2_STORE_LOCK_FAILED = -1,
};

/* Whether this process (its effective uid and gids) could replace the
   store: its directory must be writable and searchable, and an existing
   store owned by this process's uid (only root may replace another
   user's store, keeping its owner). Returns 0, or -1 with a malloc()ed
   message (naming the uid) and errno set. Nothing is written. */
int moa2_token_store_check_writable(struct moa2_token_store *store,
				    char **error_r);

/* Takes the exclusive lock, waiting at most timeout_ms. */
enum moa2_store_lock
moa2_token_store_lock(struct moa2_token_store *store, unsigned int timeout_ms,
		      char **error_r);
void moa2_token_store_unlock(struct moa2_token_store *store);

#endif
