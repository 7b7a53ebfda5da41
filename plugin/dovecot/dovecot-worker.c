/* SPDX-License-Identifier: MIT */
/* The auth-worker protocol bits the adapters share (dovecot-worker.h).
   Checked against passdb-blocking.c and auth-worker-server.c of Dovecot
   2.3.19.1 and 2.4.1: PASSV <passdb id> <password> <exported request>, and
   replies OK user password [fields], NEXT user [fields],
   FAIL result [user password [fields]].
   Failure behaviour: none of its own; a malformed reply is left to
   passdb_blocking_auth_worker_reply_parse() (an internal failure). */

#include "auth-common.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "passdb.h"
#include "auth-request.h"

#include "dovecot-worker.h"

#define MOA2_WORKER_FIELD_PREFIX "moa2_"

const char *
moa2_dovecot_worker_passv(struct auth_request *request,
			  const char *extra_field)
{
	string_t *str = t_str_new(256);

	/* as passdb-blocking.c:passdb_blocking_verify_plain() */
	str_printfa(str, "PASSV\t%u\t", request->passdb->passdb->id);
	str_append_tabescaped(str, request->mech_password);
	str_append_c(str, '\t');
	auth_request_export(request, str);
	if (extra_field != NULL) {
		str_append(str, "\tpassdb_");
		str_append_tabescaped(str, extra_field);
	}
	return str_c(str);
}

/* Index of the first extra field of a worker reply. */
static unsigned int
worker_reply_fields_start(const char *const *args, unsigned int count)
{
	if (count == 0)
		return count;
	if (strcmp(args[0], "OK") == 0)
		return I_MIN(3, count);
	if (strcmp(args[0], "NEXT") == 0)
		return I_MIN(2, count);
	if (strcmp(args[0], "FAIL") == 0)
		return I_MIN(4, count);
	return count;
}

const char *const *
moa2_dovecot_worker_reply_filter(struct auth_request *request,
				 const char *const *args,
				 moa2_dovecot_worker_field_t *field_cb)
{
	unsigned int i, count = str_array_length(args);
	unsigned int start = worker_reply_fields_start(args, count);
	ARRAY_TYPE(const_string) kept;

	t_array_init(&kept, count + 1);
	for (i = 0; i < count; i++) {
		if (i >= start &&
		    moa2_dovecot_str_begins(args[i], MOA2_WORKER_FIELD_PREFIX)) {
			const char *value = strchr(args[i], '=');
			const char *key = value == NULL ? args[i] :
				t_strdup_until(args[i], value);

			field_cb(request, key, value == NULL ? "" : value + 1);
			continue;
		}
		array_push_back(&kept, &args[i]);
	}
	array_append_zero(&kept);
	return array_front(&kept);
}
