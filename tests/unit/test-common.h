/* SPDX-License-Identifier: MIT */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

/* Helpers shared by the unit test programs: table-driven vector files under
   TEST_DATA_DIR, C-style unescaping, a seeded PRNG, the fault-injecting
   HTTP server and the suite runner. */

#include <check.h>
#include <limits.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unescapes \xHH, \n, \r, \t, \0, \\ into a malloc()ed buffer (NUL-terminated
   for convenience, the NUL not counted in *len_r). Returns 0, or -1 on an
   unknown or truncated escape. */
int tc_unescape(const char *in, unsigned char **out_r, size_t *len_r);

/* One case of a vector file: the tab-separated columns of one line. */
struct tc_vector {
	unsigned int line;  /* 1-based line number in the file */
	unsigned int ncols;
	char **cols;        /* raw (still escaped) column text */
};

struct tc_vector_file {
	char *name;         /* path relative to TEST_DATA_DIR */
	unsigned int count;
	struct tc_vector *vectors;
};

/* Loads TEST_DATA_DIR/rel_path: one case per line, columns separated by
   one tab, blank lines and lines starting with '#' skipped. Exits the
   program with a message if the file cannot be read or a line has fewer
   than min_cols columns. The file stays loaded until tc_run_suite returns. */
const struct tc_vector_file *tc_vectors_load(const char *rel_path,
					     unsigned int min_cols);
/* Column col of v unescaped (see tc_unescape); aborts the current test with
   file:line if the escape is malformed. Release with free(). */
unsigned char *tc_vector_col(const struct tc_vector_file *file,
			     const struct tc_vector *v, unsigned int col,
			     size_t *len_r);
/* Column col as a string, NULL for the placeholder "-". Release with free(). */
char *tc_vector_col_str_or_null(const struct tc_vector_file *file,
				const struct tc_vector *v, unsigned int col);

/* Seed for property tests: MOA2_TEST_SEED when set, else time and pid.
   Seeds the PRNG below as well. */
uint64_t tc_seed_init(void);
uint64_t tc_rand(void);
/* Uniform in [0, n), n > 0. */
uint64_t tc_rand_below(uint64_t n);

/* The project's fault-injecting HTTP server
   (tests/support/fault-server.py), run by a test on loopback. */
struct tc_fault_server {
	pid_t pid;              /* 0 when not running */
	unsigned int port;
	char port_file[PATH_MAX];
};

/* Starts the server with document root root_dir, writing its port file
   under work_dir: TLS with tls_dir/server.pem and server.key (make-ca.sh),
   or plain http when tls_dir is NULL. routes is a NULL-terminated list of
   "--route=PATH=SPEC" arguments (may be NULL). The server dies with the
   test process. Fails the current test if python3 is missing or the
   server does not come up. */
void tc_fault_server_start(struct tc_fault_server *srv, const char *work_dir,
			   const char *root_dir, const char *tls_dir,
			   const char *const *routes);
/* Stops it (SIGTERM, then SIGKILL) and reaps it; no-op when not running. */
void tc_fault_server_stop(struct tc_fault_server *srv);
void tc_sleep_ms(unsigned int ms);

/* A malloc()ed formatted string; fails the current test on error. */
char *tc_strdup_printf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Config schemas (config-parser.h) against their documentation. */
struct moa2_config_schema;

/* Checks every option of schema: a one-line description, not both a
   default and a default doc, its key listed exactly once in global_keys
   (global section) or section_keys (the section kind named section_kind);
   every listed key must be seen and the iterator must stay at its end.
   The lists are NULL-terminated. Stores how many options each part has in
   *n_global_r and *n_section_r. Fails the current test otherwise. */
void tc_check_schema_options(const struct moa2_config_schema *schema,
			     const char *const *global_keys,
			     const char *section_kind,
			     const char *const *section_keys,
			     unsigned int *n_global_r, unsigned int *n_section_r);

/* The docs drift check (DESIGN.md: every option in code is documented in
   the shipped config snippets): the example config at example_path
   mentions ("key = value" or "#key = value") every option of schema, and
   KEY_file for each secret, and nothing else; the first commented-out
   mention of an option with a default shows that default. Fails the
   current test when they drift apart in either direction. */
void tc_check_docs_drift(const struct moa2_config_schema *schema,
			 const char *example_path);

/* Runs the suite (verbosity from CK_VERBOSITY, fork mode from CK_FORK),
   frees every loaded vector file and returns the exit status for main. */
int tc_run_suite(Suite *suite);

#endif
