/* SPDX-License-Identifier: MIT */
/* Shared helpers of the unit test programs: vector files, unescaping, a
   reproducible PRNG, the fault-injecting HTTP server and the Check runner. */

#include "test-common.h"

#include "support/config-parser.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef TEST_DATA_DIR
#  error "TEST_DATA_DIR must be defined by the build"
#endif
#define FAULT_SERVER TEST_SUPPORT_DIR "/fault-server.py"
#define FAULT_SERVER_START_TIMEOUT_MS 15000
#define FAULT_SERVER_MAX_ROUTES 32

#define TC_MAX_FILES 32

static struct tc_vector_file *loaded_files[TC_MAX_FILES];
static unsigned int loaded_count;
static uint64_t prng_state;

static void *
xmalloc(size_t size)
{
	void *ptr = malloc(size == 0 ? 1 : size);

	if (ptr == NULL) {
		fprintf(stderr, "test: out of memory\n");
		exit(EXIT_FAILURE);
	}
	return ptr;
}

static char *
xstrdup(const char *str)
{
	size_t len = strlen(str);
	char *copy = xmalloc(len + 1);

	memcpy(copy, str, len + 1);
	return copy;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
tc_unescape(const char *in, unsigned char **out_r, size_t *len_r)
{
	size_t in_len = strlen(in), n = 0;
	unsigned char *out = xmalloc(in_len + 1);

	for (size_t i = 0; i < in_len; i++) {
		if (in[i] != '\\') {
			out[n++] = (unsigned char)in[i];
			continue;
		}
		if (++i == in_len)
			goto bad;
		switch (in[i]) {
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case '0': out[n++] = '\0'; break;
		case '\\': out[n++] = '\\'; break;
		case 'x': {
			int hi, lo;

			if (in_len - i < 3) /* "x" and two hex digits */
				goto bad;
			hi = hex_value(in[i + 1]);
			lo = hi < 0 ? -1 : hex_value(in[i + 2]);
			if (lo < 0)
				goto bad;
			out[n++] = (unsigned char)(hi * 16 + lo);
			i += 2;
			break;
		}
		default:
			goto bad;
		}
	}
	out[n] = '\0';
	*out_r = out;
	*len_r = n;
	return 0;
bad:
	free(out);
	*out_r = NULL;
	*len_r = 0;
	return -1;
}

static void
split_line(struct tc_vector *v, char *line)
{
	unsigned int ncols = 1;
	char *p, *start;

	for (p = line; *p != '\0'; p++) {
		if (*p == '\t')
			ncols++;
	}
	v->cols = xmalloc(ncols * sizeof(*v->cols));
	v->ncols = 0;
	for (start = p = line;; p++) {
		if (*p == '\t' || *p == '\0') {
			bool end = *p == '\0';

			*p = '\0';
			v->cols[v->ncols++] = xstrdup(start);
			if (end)
				break;
			start = p + 1;
		}
	}
}

const struct tc_vector_file *
tc_vectors_load(const char *rel_path, unsigned int min_cols)
{
	struct tc_vector_file *file;
	char path[4096], *line = NULL;
	size_t line_size = 0, alloc = 0;
	unsigned int lineno = 0;
	ssize_t got;
	FILE *fp;

	if (loaded_count == TC_MAX_FILES) {
		fprintf(stderr, "test: too many vector files\n");
		exit(EXIT_FAILURE);
	}
	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, rel_path);
	fp = fopen(path, "r");
	if (fp == NULL) {
		fprintf(stderr, "test: cannot open %s: %s\n", path,
			strerror(errno));
		exit(EXIT_FAILURE);
	}
	file = xmalloc(sizeof(*file));
	file->name = xstrdup(rel_path);
	file->count = 0;
	file->vectors = NULL;
	while ((got = getline(&line, &line_size, fp)) != -1) {
		struct tc_vector *v;

		lineno++;
		if (got > 0 && line[got - 1] == '\n')
			line[--got] = '\0';
		if (got == 0 || line[0] == '#')
			continue;
		if (file->count == alloc) {
			struct tc_vector *grown;

			alloc = alloc == 0 ? 64 : alloc * 2;
			grown = realloc(file->vectors,
					alloc * sizeof(*file->vectors));
			if (grown == NULL) {
				fprintf(stderr, "test: out of memory\n");
				exit(EXIT_FAILURE);
			}
			file->vectors = grown;
		}
		v = &file->vectors[file->count++];
		v->line = lineno;
		split_line(v, line);
		if (v->ncols < min_cols) {
			fprintf(stderr, "test: %s:%u: %u columns, expected %u\n",
				path, lineno, v->ncols, min_cols);
			exit(EXIT_FAILURE);
		}
	}
	free(line);
	fclose(fp);
	loaded_files[loaded_count++] = file;
	return file;
}

unsigned char *
tc_vector_col(const struct tc_vector_file *file, const struct tc_vector *v,
	      unsigned int col, size_t *len_r)
{
	unsigned char *out;

	ck_assert_msg(col < v->ncols, "%s:%u: no column %u", file->name,
		      v->line, col + 1);
	if (tc_unescape(v->cols[col], &out, len_r) < 0)
		ck_abort_msg("%s:%u: bad escape in column %u", file->name,
			     v->line, col + 1);
	return out;
}

char *
tc_vector_col_str_or_null(const struct tc_vector_file *file,
			  const struct tc_vector *v, unsigned int col)
{
	size_t len;

	ck_assert_msg(col < v->ncols, "%s:%u: no column %u", file->name,
		      v->line, col + 1);
	if (strcmp(v->cols[col], "-") == 0)
		return NULL;
	return (char *)tc_vector_col(file, v, col, &len);
}

static void
vector_file_free(struct tc_vector_file *file)
{
	for (unsigned int i = 0; i < file->count; i++) {
		for (unsigned int c = 0; c < file->vectors[i].ncols; c++)
			free(file->vectors[i].cols[c]);
		free(file->vectors[i].cols);
	}
	free(file->vectors);
	free(file->name);
	free(file);
}

/* splitmix64: small, and the same sequence on every platform. */
uint64_t
tc_rand(void)
{
	uint64_t z = (prng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t
tc_rand_below(uint64_t n)
{
	return tc_rand() % n;
}

uint64_t
tc_seed_init(void)
{
	const char *env = getenv("MOA2_TEST_SEED");
	uint64_t seed;

	if (env != NULL && *env != '\0') {
		char *end;

		errno = 0;
		seed = strtoull(env, &end, 0);
		if (errno != 0 || *end != '\0') {
			fprintf(stderr, "test: bad MOA2_TEST_SEED '%s'\n", env);
			exit(EXIT_FAILURE);
		}
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^
			((uint64_t)getpid() << 40);
	}
	prng_state = seed;
	return seed;
}

void
tc_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool
read_port_file(const char *path, unsigned int *port_r)
{
	FILE *f = fopen(path, "r");
	unsigned int port = 0;
	bool ok;

	if (f == NULL)
		return false;
	ok = fscanf(f, "%u", &port) == 1 && port > 0 && port < 65536;
	fclose(f);
	*port_r = port;
	return ok;
}

void
tc_fault_server_start(struct tc_fault_server *srv, const char *work_dir,
		      const char *root_dir, const char *tls_dir,
		      const char *const *routes)
{
	static unsigned int serial;
	char parent[32];
	const char *argv[16 + FAULT_SERVER_MAX_ROUTES];
	unsigned int argc = 0;
	pid_t pid;
	int status;

	memset(srv, 0, sizeof(*srv));
	snprintf(srv->port_file, sizeof(srv->port_file), "%s/port-%s-%ld-%u",
		 work_dir, tls_dir != NULL ? "tls" : "plain", (long)getpid(),
		 serial++);
	unlink(srv->port_file);
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());

	argv[argc++] = "python3";
	argv[argc++] = FAULT_SERVER;
	argv[argc++] = "--root";
	argv[argc++] = root_dir;
	argv[argc++] = "--port-file";
	argv[argc++] = srv->port_file;
	argv[argc++] = "--parent-pid";
	argv[argc++] = parent;
	if (tls_dir != NULL) {
		argv[argc++] = "--tls-dir";
		argv[argc++] = tls_dir;
	} else {
		argv[argc++] = "--plain";
	}
	for (unsigned int i = 0; routes != NULL && routes[i] != NULL; i++) {
		ck_assert_msg(i < FAULT_SERVER_MAX_ROUTES, "too many fault-server routes");
		argv[argc++] = routes[i];
	}
	argv[argc++] = NULL;

	pid = fork();
	ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
	if (pid == 0) {
#ifdef __linux__
		/* a test that dies must not leave the server behind */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	srv->pid = pid;
	for (unsigned int waited = 0; ; waited += 20) {
		if (read_port_file(srv->port_file, &srv->port))
			return;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			srv->pid = 0;
			ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127),
				      "python3 not found in PATH: these tests need it "
				      "(the project's install script installs python3)");
			ck_abort_msg("fault-server.py exited at startup (status %d)",
				     status);
		}
		ck_assert_msg(waited < FAULT_SERVER_START_TIMEOUT_MS,
			      "fault-server.py did not write its port file in %u ms",
			      FAULT_SERVER_START_TIMEOUT_MS);
		tc_sleep_ms(20);
	}
}

void
tc_fault_server_stop(struct tc_fault_server *srv)
{
	int status;

	if (srv->pid <= 0)
		return;
	kill(srv->pid, SIGTERM);
	for (unsigned int waited = 0; waited < 3000; waited += 20) {
		if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
			srv->pid = 0;
			return;
		}
		tc_sleep_ms(20);
	}
	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, &status, 0);
	srv->pid = 0;
}

/* ------------------------------------------------ config schema and docs */

char *
tc_strdup_printf(const char *fmt, ...)
{
	va_list args, copy;
	char *str;
	int len;

	va_start(args, fmt);
	va_copy(copy, args);
	len = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	ck_assert(len >= 0);
	str = xmalloc((size_t)len + 1);
	vsnprintf(str, (size_t)len + 1, fmt, args);
	va_end(args);
	return str;
}

#define TC_MAX_SCHEMA_KEYS 64

static unsigned int
key_index(const char *const *keys, const char *key)
{
	for (unsigned int i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], key) == 0)
			return i;
	}
	ck_abort_msg("option '%s' is not in the expected list", key);
	return 0;
}

/* Marks key as seen in keys; fails if it is not listed or seen before. */
static void
key_seen(const char *const *keys, bool *seen, const char *key)
{
	unsigned int idx = key_index(keys, key);

	ck_assert(idx < TC_MAX_SCHEMA_KEYS);
	ck_assert_msg(!seen[idx], "%s twice", key);
	seen[idx] = true;
}

static void
keys_all_seen(const char *const *keys, const bool *seen)
{
	for (unsigned int i = 0; keys[i] != NULL; i++)
		ck_assert_msg(i < TC_MAX_SCHEMA_KEYS && seen[i], "%s missing", keys[i]);
}

void
tc_check_schema_options(const struct moa2_config_schema *schema,
			const char *const *global_keys,
			const char *section_kind,
			const char *const *section_keys,
			unsigned int *n_global_r, unsigned int *n_section_r)
{
	const struct moa2_config_section_kind *kind;
	const struct moa2_config_option *option;
	struct moa2_config_option_iter iter;
	bool seen_global[TC_MAX_SCHEMA_KEYS] = { false };
	bool seen_section[TC_MAX_SCHEMA_KEYS] = { false };

	*n_global_r = *n_section_r = 0;
	moa2_config_option_iter_init(&iter, schema);
	while ((option = moa2_config_option_iter_next(&iter, &kind)) != NULL) {
		ck_assert_ptr_nonnull(option->description);
		ck_assert_msg(option->description[0] != '\0' &&
			      strchr(option->description, '\n') == NULL,
			      "%s: description must be one line", option->key);
		ck_assert_msg(option->default_value == NULL || option->default_doc == NULL,
			      "%s: both a default and a default doc", option->key);
		if (kind->name == NULL) {
			key_seen(global_keys, seen_global, option->key);
			(*n_global_r)++;
		} else {
			ck_assert_str_eq(kind->name, section_kind);
			key_seen(section_keys, seen_section, option->key);
			(*n_section_r)++;
		}
	}
	ck_assert_ptr_null(kind);
	ck_assert_ptr_null(moa2_config_option_iter_next(&iter, &kind));
	keys_all_seen(global_keys, seen_global);
	keys_all_seen(section_keys, seen_section);
}

/* The options an example config mentions, as "kind/key". */
struct documented {
	const char *example_path;
	char *names[256];
	unsigned int count;
};

static bool
documented_has(const struct documented *doc, const char *kind, const char *key)
{
	char *name = tc_strdup_printf("%s/%s", kind == NULL ? "" : kind, key);
	bool found = false;

	for (unsigned int i = 0; i < doc->count && !found; i++)
		found = strcmp(doc->names[i], name) == 0;
	free(name);
	return found;
}

static const struct moa2_config_option *
schema_find(const struct moa2_config_section_kind *kind, const char *key,
	    bool *file_variant_r)
{
	size_t len = strlen(key);

	*file_variant_r = false;
	for (unsigned int i = 0; i < kind->options_count; i++) {
		const struct moa2_config_option *option = &kind->options[i];
		size_t klen = strlen(option->key);

		if (strcmp(option->key, key) == 0)
			return option;
		if (option->type == MOA2_CONFIG_SECRET && len == klen + 5 &&
		    strncmp(key, option->key, klen) == 0 &&
		    strcmp(key + klen, "_file") == 0) {
			*file_variant_r = true;
			return option;
		}
	}
	return NULL;
}

static const struct moa2_config_section_kind *
example_section(const struct moa2_config_schema *schema, const char *s,
		unsigned int lineno)
{
	size_t len = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz");

	for (unsigned int i = 0; i < schema->sections_count; i++) {
		if (strlen(schema->sections[i].name) == len &&
		    strncmp(s + 1, schema->sections[i].name, len) == 0)
			return &schema->sections[i];
	}
	ck_abort_msg("example:%u: unknown section kind", lineno);
	return NULL;
}

/* One "#key = value" or "key = value" line of the example. */
static void
example_setting(const struct moa2_config_section_kind *kind, const char *s,
		bool commented, unsigned int lineno, struct documented *doc)
{
	size_t key_len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
	const char *after = s + key_len + strspn(s + key_len, " ");
	const struct moa2_config_option *option;
	char key[128];
	bool file_variant;

	if (key_len == 0 || key_len >= sizeof(key) || *after != '=')
		return; /* prose */
	memcpy(key, s, key_len);
	key[key_len] = '\0';
	option = schema_find(kind, key, &file_variant);
	ck_assert_msg(option != NULL, "example:%u: documents '%s' in %s, which is not "
		      "an option there", lineno, key,
		      kind->name == NULL ? "the global section" : kind->name);
	if (documented_has(doc, kind->name, key))
		return;
	/* the first commented-out mention shows the default */
	if (commented && !file_variant && option->default_value != NULL) {
		const char *value = after + 1 + strspn(after + 1, " ");

		ck_assert_msg(strcmp(value, option->default_value) == 0,
			      "example:%u: '%s' shows '%s', the default is '%s'",
			      lineno, key, value, option->default_value);
	}
	ck_assert(doc->count < sizeof(doc->names) / sizeof(doc->names[0]));
	doc->names[doc->count++] = tc_strdup_printf("%s/%s", kind->name == NULL ? "" :
						    kind->name, key);
}

static void
read_example(const struct moa2_config_schema *schema, struct documented *doc)
{
	const struct moa2_config_section_kind *kind = &schema->global;
	FILE *fp = fopen(doc->example_path, "r");
	unsigned int lineno = 0;
	char line[1024];

	ck_assert_msg(fp != NULL, "%s: %s", doc->example_path, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		bool commented = line[0] == '#';
		const char *s = commented ? line + 1 : line;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (s[0] == '[')
			kind = example_section(schema, s, lineno);
		else
			example_setting(kind, s, commented, lineno, doc);
	}
	fclose(fp);
}

void
tc_check_docs_drift(const struct moa2_config_schema *schema,
		    const char *example_path)
{
	const struct moa2_config_section_kind *kind;
	const struct moa2_config_option *option;
	struct moa2_config_option_iter iter;
	struct documented doc = { .example_path = example_path, .count = 0 };
	unsigned int expected = 0;

	read_example(schema, &doc);
	moa2_config_option_iter_init(&iter, schema);
	while ((option = moa2_config_option_iter_next(&iter, &kind)) != NULL) {
		ck_assert_msg(documented_has(&doc, kind->name, option->key),
			      "option '%s' of %s is missing from %s", option->key,
			      kind->name == NULL ? "the global section" : kind->name,
			      example_path);
		expected++;
		if (option->type == MOA2_CONFIG_SECRET) {
			char *file_key = tc_strdup_printf("%s_file", option->key);

			ck_assert_msg(documented_has(&doc, kind->name, file_key),
				      "option '%s' is missing from the example", file_key);
			free(file_key);
			expected++;
		}
	}
	/* nothing documented beyond the schema (each mention was checked) */
	ck_assert_uint_eq(doc.count, expected);
	for (unsigned int i = 0; i < doc.count; i++)
		free(doc.names[i]);
}

/* ------------------------------------------------------------------ run */

int
tc_run_suite(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	int failed;

	srunner_run_all(runner, CK_ENV);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	while (loaded_count > 0)
		vector_file_free(loaded_files[--loaded_count]);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
