/* SPDX-License-Identifier: MIT */
/* bench-auth: a load generator for Dovecot's auth-client socket. It signs
   N distinct RS256 access tokens (so no result cache can help), then runs
   XOAUTH2 authentications over C connections in parallel, each with one
   request in flight, and prints auths/s, p50/p99 latency and the CPU time
   per auth of the auth and auth-worker processes (from /proc).

   bench-auth [-k] [-m MASTER_PID] [-t TOKEN_FILE]
              SOCKET KEY.pem KID ISSUER AUDIENCE COUNT CONCURRENCY [USER-DOMAIN]

   The tokens carry typ "JWT", sub, email (userN@DOMAIN), exp (1 h), iat,
   jti: what Dovecot's built-in oauth2 passdb needs too, so both are
   measured with the same tokens.
   -m: count only the auth processes whose parent is MASTER_PID (the
       Dovecot instance under test; without it every "dovecot/auth" process
       of the machine is counted).
   -t: the signed XOAUTH2 responses (base64, one a line) are read from
       TOKEN_FILE when it holds at least COUNT of them, else signed and
       written there: several runs then share one signing pass. With
       SOCKET "-", only that (no connection, no figures).
   -k: keep going after a failed authentication (to measure failures; set
       auth_failure_delay = 0, and expect Dovecot's auth penalty to delay
       repeated failures by up to 15 s). Without it the first failure ends
       the run: a benchmark of failures is worthless.
   Exit status: 0 when every authentication succeeded, 2 when one did not,
   1 on an error, 64 on a usage error. */

#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "support/base64.h"
#include "mail-oauth2/sasl-codec.h"
#include "test-jose-sign.h"

#define MAX_CONNS 256
#define MAX_PROCS 64

struct conn {
	int fd;
	char buf[8192];
	size_t len;
	unsigned int next_id;
	double started;
	size_t request;      /* index of the request in flight */
	bool busy;
};

struct proc_cpu {
	int pid;
	char name[32];
	unsigned long long ticks_before, ticks_after;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *msg)
{
	perror(msg);
	exit(1);
}

static int
proc_ppid(const char *pid)
{
	char path[300], line[1024], *p;
	int ppid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* after the ")" of the command: state, then ppid */
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* "dovecot/auth" or "dovecot/auth-worker" processes, from /proc: the
   children of master_pid, or all of them when master_pid is 0. */
static unsigned int
find_auth_procs(struct proc_cpu *procs, int master_pid)
{
	DIR *dir = opendir("/proc");
	struct dirent *d;
	unsigned int n = 0;

	if (dir == NULL)
		die("/proc");
	while ((d = readdir(dir)) != NULL && n < MAX_PROCS) {
		char path[300], cmd[256];
		FILE *f;
		size_t len;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		cmd[len] = '\0';
		if (strncmp(cmd, "dovecot/auth", 12) != 0)
			continue;
		if (master_pid != 0 && proc_ppid(d->d_name) != master_pid)
			continue;
		procs[n].pid = atoi(d->d_name);
		/* Dovecot 2.3 starts workers as "auth -w": the title is then
		   "dovecot/auth" with argv[1] "-w" (NUL-separated) */
		snprintf(procs[n].name, sizeof(procs[n].name), "%s",
			 strncmp(cmd, "dovecot/auth-worker", 19) == 0 ||
			 strncmp(cmd, "dovecot/auth -w", 15) == 0 ||
			 (strcmp(cmd, "dovecot/auth") == 0 && len > 13 &&
			  strcmp(cmd + 13, "-w") == 0) ? "auth-worker" : "auth");
		n++;
	}
	closedir(dir);
	return n;
}

static unsigned long long
proc_ticks(int pid)
{
	char path[64], line[1024], *p;
	unsigned long long utime = 0, stime = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* fields after the ")" of the command: state is field 3, utime 14 */
	if ((p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &utime, &stime) != 2)
		return 0;
	return utime + stime;
}

static long
proc_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

static char **
make_responses(const char *key_path, const char *kid, const char *issuer,
	       const char *audience, const char *domain, size_t count)
{
	FILE *f = fopen(key_path, "r");
	EVP_PKEY *pkey;
	char **resp = calloc(count, sizeof(*resp));
	char header[256];
	time_t now = time(NULL);

	if (f == NULL || resp == NULL)
		die(key_path);
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		fprintf(stderr, "bench-auth: %s: not a PEM private key\n", key_path);
		exit(1);
	}
	snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
	for (size_t i = 0; i < count; i++) {
		char payload[1024], user[128], *token, *raw;
		size_t raw_len;
		struct moa2_sasl_client_params params = { .user = user };
		enum moa2_sasl_error error;

		snprintf(user, sizeof(user), "user%zu@%s", i % 100, domain);
		snprintf(payload, sizeof(payload),
			 "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"s%zu\",\"email\":\"%s\","
			 "\"preferred_username\":\"%s\",\"scope\":\"openid email\","
			 "\"iat\":%lld,\"exp\":%lld,\"jti\":\"bench-%zu\"}",
			 issuer, audience, i % 100, user, user, (long long)now,
			 (long long)now + 3600, i);
		token = test_jose_sign("RS256", pkey, header, payload);
		params.token = token;
		if (token == NULL || moa2_sasl_build(MOA2_MECH_XOAUTH2, &params, &raw, &raw_len, &error) < 0) {
			fprintf(stderr, "bench-auth: cannot build token %zu\n", i);
			exit(1);
		}
		resp[i] = moa2_base64_encode(raw, raw_len);
		free(raw);
		free(token);
	}
	EVP_PKEY_free(pkey);
	return resp;
}

/* The responses of token_path when it holds at least count lines. */
static char **
read_responses(const char *token_path, size_t count)
{
	FILE *f = fopen(token_path, "r");
	char **resp, *line = NULL;
	size_t n = 0, cap = 0;
	ssize_t len;

	if (f == NULL)
		return NULL;
	if ((resp = calloc(count, sizeof(*resp))) == NULL)
		die("calloc");
	while (n < count && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if ((resp[n++] = strdup(line)) == NULL)
			die("strdup");
	}
	free(line);
	fclose(f);
	if (n == count)
		return resp;
	while (n > 0)
		free(resp[--n]);
	free(resp);
	return NULL;
}

static void
write_responses(const char *token_path, char **resp, size_t count)
{
	FILE *f = fopen(token_path, "w");

	if (f == NULL)
		die(token_path);
	for (size_t i = 0; i < count; i++)
		fprintf(f, "%s\n", resp[i]);
	if (fclose(f) != 0)
		die(token_path);
}

static int
conn_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char hello[64];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(path);
	snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%d\n", (int)getpid());
	if (write(fd, hello, strlen(hello)) != (ssize_t)strlen(hello))
		die("write");
	return fd;
}

/* Reads until the handshake's DONE line. */
static void
conn_handshake(struct conn *c)
{
	while (strstr(c->buf, "\nDONE\n") == NULL) {
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

		if (n <= 0)
			die("handshake");
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
	c->len = 0;
	c->buf[0] = '\0';
}

static void
conn_send(struct conn *c, char **responses, size_t request)
{
	char line[4096 + 256];
	int len = snprintf(line, sizeof(line),
			   "AUTH\t%u\tXOAUTH2\tservice=imap\tsecured\tnologin\tresp=%s\n",
			   ++c->next_id, responses[request]);

	if (len >= (int)sizeof(line) || write(c->fd, line, (size_t)len) != len)
		die("AUTH");
	c->request = request;
	c->busy = true;
	c->started = now_s();
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS];
	struct proc_cpu procs[MAX_PROCS];
	unsigned int nprocs, nconns;
	size_t count, sent = 0, done = 0, ok = 0, failed = 0;
	double *lat, t0, elapsed, client_cpu;
	unsigned long long auth_ticks = 0, worker_ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	char **responses = NULL;
	const char *token_path = NULL;
	int master_pid = 0, opt;
	bool keep_going = false;
	struct rusage ru_before, ru_after;

	while ((opt = getopt(argc, argv, "km:t:")) != -1) {
		switch (opt) {
		case 'k':
			keep_going = true;
			break;
		case 'm':
			master_pid = atoi(optarg);
			break;
		case 't':
			token_path = optarg;
			break;
		default:
			return 64;
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 8) {
		fprintf(stderr, "usage: bench-auth [-k] [-m MASTER_PID] [-t TOKEN_FILE] "
			"SOCKET KEY.pem KID ISSUER AUDIENCE COUNT CONCURRENCY [DOMAIN]\n");
		return 64;
	}
	count = strtoul(argv[6], NULL, 10);
	nconns = (unsigned int)strtoul(argv[7], NULL, 10);
	if (count == 0 || nconns == 0 || nconns > MAX_CONNS)
		return 64;
	if (token_path != NULL)
		responses = read_responses(token_path, count);
	if (responses == NULL) {
		responses = make_responses(argv[2], argv[3], argv[4], argv[5],
					   argc > 8 ? argv[8] : "example.test", count);
		if (token_path != NULL)
			write_responses(token_path, responses, count);
	}
	if (strcmp(argv[1], "-") == 0)
		return 0;
	lat = calloc(count, sizeof(*lat));
	for (unsigned int i = 0; i < nconns; i++) {
		memset(&conns[i], 0, sizeof(conns[i]));
		conns[i].fd = conn_open(argv[1]);
		conn_handshake(&conns[i]);
		pfd[i].fd = conns[i].fd;
		pfd[i].events = POLLIN;
	}
	nprocs = find_auth_procs(procs, master_pid);
	if (nprocs == 0) {
		fprintf(stderr, "bench-auth: no dovecot/auth process found%s\n",
			master_pid != 0 ? " under that master" : "");
		return 1;
	}
	for (unsigned int i = 0; i < nprocs; i++)
		procs[i].ticks_before = proc_ticks(procs[i].pid);

	getrusage(RUSAGE_SELF, &ru_before);
	t0 = now_s();
	for (unsigned int i = 0; i < nconns && sent < count; i++)
		conn_send(&conns[i], responses, sent++);
	while (done < count) {
		if (poll(pfd, nconns, 30000) <= 0)
			die("poll (no answer in 30 s)");
		for (unsigned int i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			char *nl;
			ssize_t n;

			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
			if (n <= 0)
				die("read");
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			while ((nl = strchr(c->buf, '\n')) != NULL) {
				*nl = '\0';
				if (strncmp(c->buf, "CONT\t", 5) == 0) {
					/* a failure challenge: answer it with the empty ack */
					char ack[32];
					int len = snprintf(ack, sizeof(ack), "CONT\t%u\t\n", c->next_id);

					if (write(c->fd, ack, (size_t)len) != len)
						die("CONT");
					memmove(c->buf, nl + 1, strlen(nl + 1) + 1);
					c->len = strlen(c->buf);
					continue;
				}
				if (strncmp(c->buf, "OK\t", 3) == 0)
					ok++;
				else if (failed++ == 0) {
					/* FAIL, or anything unexpected */
					fprintf(stderr, "bench-auth: first failure: %.200s\n", c->buf);
					if (!keep_going) {
						fprintf(stderr, "bench-auth: stopped after "
							"%zu successes (-k keeps going)\n", ok);
						return 2;
					}
				}
				lat[done++] = now_s() - c->started;
				c->busy = false;
				memmove(c->buf, nl + 1, strlen(nl + 1) + 1);
				c->len = strlen(c->buf);
				if (sent < count)
					conn_send(c, responses, sent++);
			}
		}
	}
	elapsed = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru_after);
	client_cpu = (double)(ru_after.ru_utime.tv_sec - ru_before.ru_utime.tv_sec +
			      ru_after.ru_stime.tv_sec - ru_before.ru_stime.tv_sec) * 1e6 +
		     (double)(ru_after.ru_utime.tv_usec - ru_before.ru_utime.tv_usec +
			      ru_after.ru_stime.tv_usec - ru_before.ru_stime.tv_usec);
	{
		/* workers may have started meanwhile: they count from zero */
		struct proc_cpu before[MAX_PROCS];
		unsigned int nbefore = nprocs;

		memcpy(before, procs, sizeof(before));
		nprocs = find_auth_procs(procs, master_pid);
		for (unsigned int i = 0; i < nprocs; i++) {
			unsigned long long delta = proc_ticks(procs[i].pid);

			for (unsigned int j = 0; j < nbefore; j++) {
				if (before[j].pid == procs[i].pid)
					delta -= before[j].ticks_before;
			}
			if (strcmp(procs[i].name, "auth") == 0)
				auth_ticks += delta;
			else
				worker_ticks += delta;
		}
	}
	qsort(lat, count, sizeof(*lat), cmp_double);
	printf("auths=%zu ok=%zu failed=%zu seconds=%.3f auths_per_s=%.0f "
	       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", count, ok, failed, elapsed,
	       count / elapsed, lat[count / 2] * 1e3, lat[(size_t)(count * 0.99)] * 1e3,
	       lat[count - 1] * 1e3);
	printf("cpu_us_per_auth auth=%.1f auth_worker=%.1f total=%.1f client=%.1f\n",
	       auth_ticks * 1e6 / hz / count, worker_ticks * 1e6 / hz / count,
	       (auth_ticks + worker_ticks) * 1e6 / hz / count, client_cpu / count);
	for (unsigned int i = 0; i < nprocs; i++)
		printf("process pid=%d name=%s rss_kib=%ld\n", procs[i].pid, procs[i].name,
		       proc_rss_kib(procs[i].pid));
	return ok == count ? 0 : 2;
}
