/* SPDX-License-Identifier: MIT */
/* The secrets of the config parser: a secret option's value given inline,
   or as KEY_file = PATH (see config-parser.h).

   Failure behaviour: fails closed. A secret file must be an absolute path
   to a regular file that neither group nor others may read, of at most
   64 KiB, holding one non-empty line without a NUL byte (its trailing
   newline is stripped); anything else, or a file that changed while it was
   read, is an error of the parse that names the key and the path, never
   the content. The read buffer is wiped before it is freed. */

#include "config.h"
#include "support/config-parser-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define SECRET_MAX_FILE_SIZE (64 * 1024)

/* --------------------------------------------------------------- secrets */

static int
secret_file_check(struct moa2_config_parser *p, const char *key, const char *path, int fd,
		  struct stat *st)
{
	if (fstat(fd, st) < 0)
		return moa2_config_fail(p, "key '%s': cannot stat secret file '%s': %s",
					key, path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return moa2_config_fail(p, "key '%s': secret file '%s' is not a regular file",
					key, path);
	if ((st->st_mode & (S_IRGRP | S_IROTH)) != 0)
		return moa2_config_fail(p, "key '%s': secret file '%s' has mode %04o and is "
					"readable by group or others (expected mode 0600 or "
					"0400: chmod 600 %s)", key, path,
					(unsigned int)(st->st_mode & 07777), path);
	if (st->st_size > SECRET_MAX_FILE_SIZE)
		return moa2_config_fail(p, "key '%s': secret file '%s' is larger than %u bytes",
					key, path, SECRET_MAX_FILE_SIZE);
	return 0;
}

/* Checks the content read from a secret file and strips trailing newlines. */
static int
secret_content_check(struct moa2_config_parser *p, const char *key, const char *path,
		     char *buf, size_t *len)
{
	while (*len > 0 && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		(*len)--;
	buf[*len] = '\0';
	if (*len == 0)
		return moa2_config_fail(p, "key '%s': secret file '%s' is empty "
					"(expected the secret on one line)", key, path);
	if (memchr(buf, '\0', *len) != NULL || strpbrk(buf, "\r\n") != NULL)
		return moa2_config_fail(p, "key '%s': secret file '%s' has more than one "
					"line or a NUL byte (expected the secret on one line)",
					key, path);
	return 0;
}

static int
read_secret_file(struct moa2_config_parser *p, struct moa2_config_setting *set,
		 const char *key, const char *path)
{
	char *buf;
	struct stat st;
	size_t len, size;
	int fd, ret = -1;

	if (path[0] != '/')
		return moa2_config_fail(p, "key '%s': relative path '%s' "
					"(expected an absolute path)", key, path);
	if ((p->flags & MOA2_CONFIG_SKIP_SECRET_FILES) != 0) {
		if ((set->str = strdup("")) == NULL || (set->secret_file = strdup(path)) == NULL)
			return moa2_config_oom(p);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return moa2_config_fail(p, "key '%s': cannot open secret file '%s': %s",
					key, path, strerror(errno));
	if (secret_file_check(p, key, path, fd, &st) < 0) {
		close(fd);
		return -1;
	}
	/* sized to the file (one byte more shows that it grew meanwhile) */
	size = (size_t)st.st_size + 2;
	buf = malloc(size);
	if (buf == NULL) {
		close(fd);
		return moa2_config_oom(p);
	}
	if (moa2_read_all(fd, buf, size - 1, &len) < 0)
		moa2_config_fail(p, "key '%s': cannot read secret file '%s': %s",
				 key, path, strerror(errno));
	else if (len > (size_t)st.st_size)
		moa2_config_fail(p, "key '%s': secret file '%s' changed while it was read",
				 key, path);
	else if (secret_content_check(p, key, path, buf, &len) == 0 &&
		 (set->str = strdup(buf)) != NULL &&
		 (set->secret_file = strdup(path)) != NULL)
		ret = 0;
	else if (p->error == NULL)
		moa2_config_oom(p);
	close(fd);
	OPENSSL_cleanse(buf, size);
	free(buf);
	return ret;
}

/* Stores the value of a secret given inline or as KEY_file. Takes value. */
int
moa2_config_store_secret(struct moa2_config_parser *p,
			 struct moa2_config_setting *set, const char *key,
			 char *value, bool from_file)
{
	int ret;

	if (*value == '\0') {
		free(value);
		return moa2_config_fail(p, "key '%s': empty value (expected a %s)", key,
					from_file ? "path" : "secret");
	}
	if (!from_file) {
		set->str = value;
		return 0;
	}
	ret = read_secret_file(p, set, key, value);
	free(value);
	return ret;
}
