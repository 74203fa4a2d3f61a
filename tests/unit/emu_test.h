/* Helpers shared by the emulation's unit and stress tests: futex words and
 * NUMA pairs of any size, waiter threads, and waiting for parked records. */
#ifndef F2_TEST_EMU_TEST_H
#define F2_TEST_EMU_TEST_H

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "f2sync/futex2.h"
#include "futex2/emu_impl.h"

/* A word or a pair of any size: aligned for the widest pair. */
struct slot {
	_Alignas(16) unsigned char b[16];
};

static inline uint64_t width_max(unsigned size)
{
	return size == F2_SIZE_U64 ? UINT64_MAX : (UINT64_C(1) << (8u << size)) - 1;
}

static inline uint64_t ld(void *p, unsigned size)
{
	switch (size) {
	case F2_SIZE_U8: return __atomic_load_n((uint8_t *)p, __ATOMIC_SEQ_CST);
	case F2_SIZE_U16: return __atomic_load_n((uint16_t *)p, __ATOMIC_SEQ_CST);
	case F2_SIZE_U32: return __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
	default: return __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
	}
}

static inline void st(void *p, unsigned size, uint64_t v)
{
	switch (size) {
	case F2_SIZE_U8: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U16: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U32: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST); break;
	default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); break;
	}
}

/* Node half of a pair (it follows the value, same width, signed). */
static inline void set_node(void *pair, unsigned size, int node)
{
	unsigned char *n = (unsigned char *)pair + (1u << size);
	switch (size) {
	case F2_SIZE_U8: __atomic_store_n((int8_t *)n, (int8_t)node, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U16: __atomic_store_n((int16_t *)n, (int16_t)node, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U32: __atomic_store_n((int32_t *)n, node, __ATOMIC_SEQ_CST); break;
	default: __atomic_store_n((int64_t *)n, node, __ATOMIC_SEQ_CST); break;
	}
}

static inline int get_node(void *pair, unsigned size)
{
	unsigned char *n = (unsigned char *)pair + (1u << size);
	switch (size) {
	case F2_SIZE_U8: return __atomic_load_n((int8_t *)n, __ATOMIC_SEQ_CST);
	case F2_SIZE_U16: return __atomic_load_n((int16_t *)n, __ATOMIC_SEQ_CST);
	case F2_SIZE_U32: return __atomic_load_n((int32_t *)n, __ATOMIC_SEQ_CST);
	default: return (int)__atomic_load_n((int64_t *)n, __ATOMIC_SEQ_CST);
	}
}

static inline int is_emulated(unsigned flags)
{
	const char *b = f2_futex_backend(flags);
	return b && strcmp(b, "emulated") == 0;
}

/* Records queued in every table. */
static inline int parked(void)
{
	int n = 0, nodes = f2_emu_node_count();
	for (int i = 0; i < nodes; i++)
		n += f2_emu_waiters_on_node(i);
	return n;
}

/* Sleeps until exactly n records are queued (a hang is caught by the
 * suite's timeout, never by a timing assert). */
static inline void wait_parked(int n)
{
	while (parked() != n)
		usleep(200);
}

static inline struct timespec deadline_in(clockid_t clk, long ns)
{
	struct timespec t;
	clock_gettime(clk, &t);
	t.tv_sec += ns / 1000000000L;
	t.tv_nsec += ns % 1000000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* A thread doing one f2_futex_wait. */
struct waiter {
	pthread_t th;
	void *addr;
	uint64_t val, mask;
	unsigned flags;
	int ret;
	int done;
};

static inline void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->ret = f2_futex_wait(w->addr, w->val, w->mask, w->flags, NULL, CLOCK_MONOTONIC);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static inline void waiter_start(struct waiter *w, void *addr, uint64_t val, uint64_t mask,
                                unsigned flags)
{
	*w = (struct waiter){ .addr = addr, .val = val, .mask = mask, .flags = flags };
	ck_assert_int_eq(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

static inline int waiter_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
}

static inline void waiter_join(struct waiter *w)
{
	ck_assert_int_eq(pthread_join(w->th, NULL), 0);
	ck_assert_int_eq(w->ret, 0);
}

#endif
