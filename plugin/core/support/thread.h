/* SPDX-License-Identifier: MIT */
#ifndef MOA2_SUPPORT_THREAD_H
#define MOA2_SUPPORT_THREAD_H

/* Starts fn(arg) in a detached thread with every signal blocked (the
   host's signals must reach the host's threads). 0, or -1 when no thread
   could be started (fn is then not called). */
int moa2_thread_start_detached(void *(*fn)(void *), void *arg);

#endif
