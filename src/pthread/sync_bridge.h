/* The shim's calls into the sync layer that differ from the public API.
 *
 * Process-shared objects need no separate calls: their pairs carry
 * F2_NODE_SHARED, and the sync layer derives unprivate kernel futex flags from
 * it (sync_impl.h). What remains: glibc's prefer-reader rwlock kind, the
 * process-shared barrier (barrier_count.c: f2_barrier_t parks a round's
 * threads on one thread's stack, which other processes cannot see), and
 * condvar waits that can be cancelled or whose mutex glibc owns
 * (f2_cond_wait_ext, sync_impl.h). */
#ifndef F2_PTHREAD_SYNC_BRIDGE_H
#define F2_PTHREAD_SYNC_BRIDGE_H

#include "shim.h"
#include "../sync/sync_impl.h"

static inline int f2p_bridge_rdlock(f2_rwlock_t *l, int prefer_reader,
				    const struct timespec *abs, clockid_t clk)
{
	if (prefer_reader)
		return f2_rwlock_rdlock_pref(l, abs, clk, 0);
	if (!abs)
		return f2_rwlock_rdlock(l);
	return f2_rwlock_timedrdlock(l, abs, clk);
}
static inline int f2p_bridge_tryrdlock(f2_rwlock_t *l, int prefer_reader)
{
	if (prefer_reader)
		return f2_rwlock_rdlock_pref(l, NULL, CLOCK_MONOTONIC, 1);
	return f2_rwlock_tryrdlock(l);
}
static inline int f2p_bridge_wrlock(f2_rwlock_t *l, const struct timespec *abs, clockid_t clk)
{
	if (!abs)
		return f2_rwlock_wrlock(l);
	return f2_rwlock_timedwrlock(l, abs, clk);
}

/* barrier_count.c: the counting barrier (shim.h), shared or not. */
f2_hidden void f2p_count_barrier_init(struct f2p_count_barrier *b, unsigned count);
f2_hidden int f2p_count_barrier_wait(struct f2p_count_barrier *b, int shared);
f2_hidden int f2p_count_barrier_destroy(struct f2p_count_barrier *b);

#endif
