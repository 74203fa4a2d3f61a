/* cancel_first_use: a thread whose cancel is pending (deferred, enabled) makes
 * the process's first futex2 calls, whose one-time set-up reads sysfs (the
 * node counts, the emulation's table size). f2sync makes those reads as raw
 * system calls: glibc's open, read and close are cancellation points, and
 * would unwind the thread out of the middle of the call (a shim condvar
 * waiter did, and left its wait without the mutex: conf_dlopen). The thread
 * must come back from every call and be cancelled at its own
 * pthread_testcancel(). Run in a fresh process, once per backend. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "f2sync/futex2.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", \
	__FILE__, __LINE__, #c); exit(1); } } while (0)

static int returned, results[5];

static void *first_calls(void *arg)
{
	static uint8_t b;
	static uint16_t h = 1;
	static uint32_t w;
	static _Alignas(8) struct { uint32_t v; int32_t node; } pair = { 0, F2_NODE_AUTO };
	static const struct timespec past = { 0, 0 };

	(void)arg;
	CHECK(pthread_cancel(pthread_self()) == 0); /* deferred: now pending */
	results[0] = f2_futex_wake(&b, 0xff, 1, F2_SIZE_U8 | F2_PRIVATE);
	results[1] = f2_futex_wait(&h, 0, 0xffff, F2_SIZE_U16 | F2_PRIVATE, NULL, CLOCK_MONOTONIC);
	results[2] = f2_futex_wake(&w, 0xffffffff, 1, F2_SIZE_U32 | F2_PRIVATE);
	results[3] = f2_futex_wake(&pair, 0xffffffff, 1, F2_SIZE_U32 | F2_NUMA | F2_PRIVATE);
	results[4] = f2_futex_wait(&w, 0, 0xffffffff, F2_SIZE_U32 | F2_PRIVATE, &past, CLOCK_MONOTONIC);
	returned = 1;
	pthread_testcancel();
	return NULL;
}

int main(void)
{
	pthread_t t;
	void *ret;

	CHECK(pthread_create(&t, NULL, first_calls, NULL) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	CHECK(ret == PTHREAD_CANCELED);
	CHECK(returned == 1);
	CHECK(results[0] == 0 && results[2] == 0 && results[3] == 0);
	CHECK(results[1] == -EAGAIN);
	CHECK(results[4] == -ETIMEDOUT);
	printf("cancel_first_use: the first calls came back, the cancel came after (backend %s)\n",
	       f2_futex_backend(F2_SIZE_U32 | F2_PRIVATE));
	return 0;
}
