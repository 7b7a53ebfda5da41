/* SPDX-License-Identifier: MIT */
/* Detached helper threads of the core (support/thread.h): the resolver's
   and the background document refreshes.
   Failure behaviour: -1 when pthread refuses; nothing is started then. */
#include "config.h"
#include "support/thread.h"

#include <pthread.h>
#include <signal.h>

int
moa2_thread_start_detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	int ret;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&tid, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ret == 0 ? 0 : -1;
}
