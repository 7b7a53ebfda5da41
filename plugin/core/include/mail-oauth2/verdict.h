/* SPDX-License-Identifier: MIT */
#ifndef MOA2_VERDICT_H
#define MOA2_VERDICT_H

/* What every host tells the client and the administrator about a
   verification: the failure challenge and the log line. One rule for all
   hosts, so that the same token gives the same answer from Dovecot and from
   the Cyrus SASL plugin; the hosts only send and log what this returns.

   The failure challenge (sent after a rejection; the client acknowledges it
   and the host then fails the login) is a JSON object with, in this order:

     status   OAUTHBEARER: the RFC 6750 section 3.1 error code, as RFC 7628
              section 3.2.2 asks: "insufficient_scope" when the token lacks
              a required scope, "invalid_token" for every other rejection
              (expired, revoked, malformed or invalid for other reasons).
              XOAUTH2: the HTTP status RFC 6750 section 3.1 gives that error
              code, as a string (Google's XOAUTH2 page, Dovecot's built-in
              mechanism): "403" for insufficient_scope, "401" otherwise.
     schemes  "bearer", XOAUTH2 only (Google's form; RFC 7628 has none).
     scope    the provider's required scopes, space-separated; left out
              when the provider requires none (RFC 7628 reads an empty scope
              as "unscoped tokens required", which would be false).
     openid-configuration
              the provider's discovery URL, for both mechanisms, when known.

   A malformed client response gets no challenge (the host fails at once:
   a client that sent garbage would not understand one), nor does an
   accepted token or a temporary failure. Microsoft's servers send no
   challenge at all, and Gmail has been seen sending "400" where its page
   shows "401": clients act on the failed login, not on the status, so one
   rule from the RFCs serves every host.

   Log lines never contain a token, only its fingerprint:
     debug  [MECH ]accepted user=U provider=P token=sha256:F expires_in=Ns[ (cached)]
     info   [MECH ]rejected reason=R token=sha256:F: DETAIL (provider=P)
     error  [MECH ]temporary failure reason=R token=sha256:F: DETAIL (provider=P)
     info   MECH response refused: ERROR: SENTENCE
     debug  the client answered the MECH failure challenge with an empty response instead of ^A
     info   the client did not acknowledge the failure challenge as MECH requires
     info   MECH accepted a doubly base64-encoded response (OPTION): ...
   (P is "-" when no provider judged, F "-" when the verifier computed no
   fingerprint.) The double base64 explanation is one sentence, the codec's
   (moa2_sasl_error_sentence(MOA2_SASL_ERR_DOUBLE_BASE64)).

   Failure behaviour: pure functions; an allocation failure aborts, as
   everywhere in the core. */

#include "mail-oauth2/common.h"
#include "mail-oauth2/log.h"
#include "mail-oauth2/sasl-codec.h"
#include "mail-oauth2/verifier.h"
#include "mail-oauth2/verify-reason.h"
#include <time.h>

/* The reason of a rejection the host was not told: another passdb judged
   the token (Dovecot's own oauth2), or an auth-worker named a reason this
   build does not know. Its name is "unknown"; its challenge is that of an
   invalid token. */
#define MOA2_VERDICT_REASON_UNKNOWN MOA2_VERIFY_REASON_COUNT

/* The failure challenge JSON for a token rejected for reason, as the rule
   above says, from what a host has at hand (in Dovecot's auth-worker mode
   the master gets only the reason, scope and discovery URL back). scope
   and openid_configuration may be NULL; "" counts as absent. Returns a
   malloc()ed string (free()), or NULL when there is no challenge to send:
   mech MOA2_MECH_UNKNOWN, or reason MOA2_VERIFY_OK or
   MOA2_VERIFY_UNAVAILABLE (a temporary failure). */
char *moa2_verdict_challenge(enum moa2_sasl_mech mech,
			     enum moa2_verify_reason reason, const char *scope,
			     const char *openid_configuration);
/* The same from a verification result: NULL unless it is a rejection. */
char *moa2_verdict_result_challenge(enum moa2_sasl_mech mech,
				    const struct moa2_verify_result *result);

/* A finished log line: the host logs text at level. */
#define MOA2_VERDICT_LOG_MAX 1024
struct moa2_verdict_log {
	enum moa2_log_level level;
	char text[MOA2_VERDICT_LOG_MAX];
};

/* The verification event: every host emits it once per verification
   (Dovecot: an event of this name, with the verdict line), so metrics
   count verifications by outcome, reason and provider:
     outcome         accepted | rejected | tempfail
     reason          the reason code (verify-reason.h; "ok" when accepted)
     provider        the provider that judged, "-" when none did
     mode            where the host verified: MOA2_VERDICT_MODE_*
     mechanism       the SASL mechanism as the host names it ("XOAUTH2",
                     "OAUTHBEARER", "PLAIN"), "-" when unknown
     duration_usecs  the verification's wall time in microseconds (the
                     core's own clock: in Dovecot's threads and workers it
                     excludes the queueing) */
#define MOA2_EVENT_VERIFY_FINISHED "mail_oauth2_verify_finished"
#define MOA2_VERDICT_MODE_THREADS "threads" /* a thread of the host process */
#define MOA2_VERDICT_MODE_WORKER "worker"   /* a helper process (auth-worker) */
#define MOA2_VERDICT_MODE_MAIN "main"       /* the host's main thread */
void moa2_verdict_event(const struct moa2_verify_result *result,
			const char *mechanism, const char *mode,
			struct moa2_event *event_r);

/* The log line of a verification result. mech is the mechanism's name as
   the host knows it ("XOAUTH2", "PLAIN"), or NULL; now is the host's clock
   (for expires_in). */
void moa2_verdict_log_result(const struct moa2_verify_result *result,
			     const char *mech, time_t now,
			     struct moa2_verdict_log *log_r);
/* The log line of a client response the codec refused (info). For
   double_base64 it adds how to accept such responses: double_base64_option
   names the host's opt-in ("the passdb args allow_double_base64=yes"). */
void moa2_verdict_log_codec_error(enum moa2_sasl_mech mech,
				  enum moa2_sasl_error error,
				  const char *double_base64_option,
				  struct moa2_verdict_log *log_r);
/* The log line of the client's answer to a failure challenge: returns -1
   when there is nothing to log (the acknowledgement the mechanism asks
   for: XOAUTH2 an empty response, OAUTHBEARER ^A), else 0 with the line.
   An empty answer to OAUTHBEARER's challenge (msmtp and Mail::IMAPClient
   answer so) is common and harmless: debug, so a failed login is not also
   a complaint about the client; any other answer: info. Either way the
   host then fails the login. */
int moa2_verdict_log_failure_ack(enum moa2_sasl_mech mech, const void *data,
				 size_t len, struct moa2_verdict_log *log_r);
/* The log line of a doubly encoded response accepted because the host's
   double_base64_option is on (info). */
void moa2_verdict_log_double_base64(enum moa2_sasl_mech mech,
				    const char *double_base64_option,
				    struct moa2_verdict_log *log_r);

#endif
