/* SPDX-License-Identifier: MIT */
/* libFuzzer target of the HTTP/1.1 response reader (support/http-response.c):
   each input is everything a server sends back, on a real TCP connection
   over loopback (plain http, with the loopback opt-in). A thread of this
   program accepts it, reads the request, writes the input and closes.
   Checks: a response (0) has a status of 200..999, a NUL-terminated body
   of at most max_response bytes and captured headers that are strings; a
   failure (-1) has a sentence and no body; the client stays usable. */

#include "fuzz-common.h"

#include "support/http-client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RESPONSE 4096

static int listen_fd = -1;
static char url[64];
static const uint8_t *input;
static size_t input_len;
static sem_t go, done;

/* libFuzzer's -timeout alarm (SIGALRM) interrupts sem_wait(): returning
   early would let the input be freed while the server still sends it. */
static void
sem_wait_uninterrupted(sem_t *sem)
{
	while (sem_wait(sem) != 0)
		FUZZ_CHECK(errno == EINTR);
}

/* One connection per input: read the request head, send the input, close. */
static void *
server_main(void *context)
{
	(void)context;
	for (;;) {
		char request[8192];
		size_t len = 0;
		int fd;

		sem_wait_uninterrupted(&go);
		fd = accept(listen_fd, NULL, NULL);
		FUZZ_CHECK(fd >= 0);
		while (len < sizeof(request) - 1) {
			ssize_t n = recv(fd, request + len, sizeof(request) - 1 - len, 0);

			if (n <= 0)
				break;
			len += (size_t)n;
			request[len] = '\0';
			if (strstr(request, "\r\n\r\n") != NULL)
				break;
		}
		for (size_t sent = 0; sent < input_len;) {
			ssize_t n = send(fd, input + sent, input_len - sent, MSG_NOSIGNAL);

			if (n <= 0)
				break; /* the client gave up: it may */
			sent += (size_t)n;
		}
		close(fd);
		sem_post(&done);
	}
	return NULL;
}

static void
server_start(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof(addr);
	pthread_t tid;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(listen_fd >= 0);
	FUZZ_CHECK(bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	FUZZ_CHECK(listen(listen_fd, 4) == 0);
	FUZZ_CHECK(getsockname(listen_fd, (struct sockaddr *)&addr, &addr_len) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x?q=1", ntohs(addr.sin_port));
	FUZZ_CHECK(sem_init(&go, 0, 0) == 0 && sem_init(&done, 0, 0) == 0);
	FUZZ_CHECK(pthread_create(&tid, NULL, server_main, NULL) == 0);
}

static void
check_header(const char *value)
{
	if (value != NULL)
		FUZZ_CHECK(strlen(value) <= 2 * 1024);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct moa2_http_settings settings = {
		.allow_http_loopback = true,
		.max_response = MAX_RESPONSE,
		.total_timeout_ms = 2000,
	};
	struct moa2_http_client *client;
	struct moa2_http_response resp;
	const char *error = NULL;
	int ret;

	if (listen_fd < 0)
		server_start();
	FUZZ_CHECK(moa2_http_client_create(&settings, &client, &error) == 0);
	input = data;
	input_len = size;
	sem_post(&go);
	ret = moa2_http_get(client, url, "fuzz-token", &resp, &error);
	sem_wait_uninterrupted(&done);
	if (ret == 0) {
		FUZZ_CHECK(resp.status >= 200 && resp.status <= 999);
		FUZZ_CHECK(resp.body != NULL && resp.body_len <= MAX_RESPONSE);
		FUZZ_CHECK(resp.body[resp.body_len] == '\0');
		FUZZ_CHECK(resp.new_connections == 1);
		check_header(resp.cache_control);
		check_header(resp.content_type);
		check_header(resp.retry_after);
	} else {
		FUZZ_CHECK(ret == -1 && error != NULL && error[0] != '\0');
		FUZZ_CHECK(resp.body == NULL);
		FUZZ_CHECK(strstr(error, "fuzz-token") == NULL && strstr(error, "q=1") == NULL);
	}
	moa2_http_response_clear(&resp);
	moa2_http_client_destroy(&client);
	return 0;
}
