/* SPDX-License-Identifier: MIT */
/* What loading the Cyrus SASL client plugins costs a new process, as it
   costs every Postfix smtp(8) process at start: sasl_client_init() dlopen()s
   every plugin of SASL_PATH and runs its sasl_client_plug_init (ours reads
   MAIL_OAUTH2_CONF then, as in smtp, before the chroot).

   Each measurement is a fresh process (fork + exec of this program with
   -C): like smtp, it is linked with libsasl2, libssl and libcrypto and has
   OpenSSL initialised before the plugins load. It reports two times: init,
   sasl_client_init() measured inside the child, and process, fork to exit
   as the parent sees it (exec, dynamic linking, init, and the unmapping at
   exit). Variants run interleaved, one process each per round, on the same
   machine at the same time; the medians are printed.

     bench-sasl-load [-n ROUNDS] NAME[,CONF]=SASL_PATH...
   CONF: the MAIL_OAUTH2_CONF of that variant (default: the inherited one).
   Output: one line per variant:
     load NAME init_us=MEDIAN process_us=MEDIAN p90_init_us=P90 rounds=N
   Exit status: 0, or 1 when a child failed (its message on stderr). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <sasl/sasl.h>

#define MAX_VARIANTS 8
#define DEFAULT_ROUNDS 200

struct variant {
	const char *name;
	const char *conf;
	const char *sasl_path;
	double *init_us;
	double *process_us;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The child: prints the microseconds of sasl_client_init() to fd 1. */
static int
child_main(void)
{
	double start, end;
	int ret;

	OPENSSL_init_ssl(0, NULL);
	start = now_us();
	ret = sasl_client_init(NULL);
	end = now_us();
	if (ret != SASL_OK) {
		fprintf(stderr, "bench-sasl-load: sasl_client_init: %s\n",
			sasl_errstring(ret, NULL, NULL));
		return 1;
	}
	printf("%.1f\n", end - start);
	return 0;
}

/* One child for variant v: its init time and the fork-to-exit time. */
static int
measure(const char *self, const struct variant *v, double *init_r,
	double *process_r)
{
	char out[64] = "";
	int fds[2], status;
	double start = now_us();
	ssize_t len;
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		setenv("SASL_PATH", v->sasl_path, 1);
		if (v->conf != NULL)
			setenv("MAIL_OAUTH2_CONF", v->conf, 1);
		execl("/proc/self/exe", self, "-C", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	len = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*process_r = now_us() - start;
	if (len <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-sasl-load: %s: the child failed\n", v->name);
		return -1;
	}
	out[len] = '\0';
	*init_r = strtod(out, NULL);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
quantile(double *values, unsigned int n, double q)
{
	qsort(values, n, sizeof(*values), cmp_double);
	return values[(unsigned int)(q * (n - 1) + 0.5)];
}

int
main(int argc, char **argv)
{
	struct variant variants[MAX_VARIANTS];
	unsigned int rounds = DEFAULT_ROUNDS, count = 0;
	int opt;

	while ((opt = getopt(argc, argv, "Cn:")) != -1) {
		switch (opt) {
		case 'C':
			return child_main();
		case 'n':
			rounds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '='), *comma;

		if (eq == NULL || count == MAX_VARIANTS)
			goto usage;
		*eq = '\0';
		comma = strchr(argv[i], ',');
		variants[count].conf = NULL;
		if (comma != NULL) {
			*comma = '\0';
			variants[count].conf = comma + 1;
		}
		variants[count].name = argv[i];
		variants[count].sasl_path = eq + 1;
		variants[count].init_us = calloc(rounds, sizeof(double));
		variants[count].process_us = calloc(rounds, sizeof(double));
		if (variants[count].init_us == NULL || variants[count].process_us == NULL)
			return 1;
		count++;
	}
	if (count == 0 || rounds == 0)
		goto usage;
	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int v = 0; v < count; v++) {
			if (measure(argv[0], &variants[v], &variants[v].init_us[r],
				    &variants[v].process_us[r]) < 0)
				return 1;
		}
	}
	for (unsigned int v = 0; v < count; v++) {
		struct variant *var = &variants[v];
		double p90 = quantile(var->init_us, rounds, 0.9);
		double init = quantile(var->init_us, rounds, 0.5);

		printf("load %s init_us=%.0f process_us=%.0f p90_init_us=%.0f rounds=%u\n",
		       var->name, init, quantile(var->process_us, rounds, 0.5), p90,
		       rounds);
		free(var->init_us);
		free(var->process_us);
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench-sasl-load [-n ROUNDS] NAME[,CONF]=SASL_PATH...\n");
	return 1;
}
