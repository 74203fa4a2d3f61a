/* Internal interface of the sync layer. */
#ifndef F2_SYNC_IMPL_H
#define F2_SYNC_IMPL_H

#include <stdint.h>
#include <time.h>

#if !defined(F2_LAYER) || F2_LAYER < 3
#error "sync_impl.h: for the sync layer and the pthread shim above it (F2_LAYER >= 3)"
#endif

#include "f2sync/futex2.h"
#include "../futex2/bound.h"
#include "../internal/compiler.h"
#include "../internal/time.h"

/* placement.c --------------------------------------------------------------
 * Every sync futex word is a NUMA pair { uN word; sN node; }. Before a word's
 * first futex call, the sync layer resolves its node: F2_NODE_AUTO (-1) is
 * replaced, with a compare-and-swap so every thread agrees, by the node of the
 * calling thread (f2_place_node()). The node is then fixed for the object's
 * life, so the flags derived from it are the same for waiters and wakers. */

/* The node for the calling thread: hwloc binding if within one node, else the
 * current CPU's node; F2SYNC_NUMA=off|auto|<node> overrides. -1 when off. */
f2_hidden int f2_place_node(void);

/* Resolves the pair's node (see above) and returns the futex2 flags to use on
 * it: F2_PRIVATE | size | F2_NUMA, without F2_NUMA when placement is off or the
 * futex2 layer would refuse the recorded node (a lock never fails on a node).
 * size is F2_SIZE_U8 .. F2_SIZE_U64. */
f2_hidden unsigned f2_pair_flags(void *pair, unsigned size);

/* A pair whose node is F2_NODE_SHARED belongs to a process-shared object (the
 * pthread shim sets it at init): f2_pair_flags returns the bare size for it,
 * without F2_PRIVATE or F2_NUMA, so the word takes the kernel's shared futex
 * path. Every primitive derives its futex flags through f2_pair_flags, so this
 * one check makes all of them process-shared without a second code path or any
 * cost on the fast paths (which make no futex call). The value never comes
 * from the public initializers (-1) or zeroed memory (0). */
#define F2_NODE_SHARED (-2)
/* tuning.c -----------------------------------------------------------------
 * Process-wide knobs, read from the environment once (F2SYNC_SPIN,
 * F2SYNC_HANDOFF_NS, F2SYNC_REQUEUE) and settable from code. */
struct f2_tuning {
	unsigned spin;        /* spin budget before parking (F2_SPIN_UNIT_NS units
	                       * for mutexes, header-bit locks and the barrier;
	                       * reads for the rwlock writer's drain) */
	uint64_t handoff_ns;  /* a waiter parked longer than this gets the lock handed to it */
	int requeue;          /* condvar broadcast requeues (1) or wakes all (0) */
};
f2_hidden const struct f2_tuning *f2_tuning(void);
/* The spin knob's unit where a spin is timed (mutex_core.c, bitlock.c,
 * barrier.c): 100
 * units, 30 us, outlast a futex wait and wake round trip of a VM (5-10 us
 * each way measured here). */
#define F2_SPIN_UNIT_NS 300u
/* A spinning mutex or header-bit locker reads the word once per gap
 * (docs/design/mutex.md, "Read the word rarely"). */
#define F2_MX_SPIN_GAP_NS 2400u
/* Pauses until CLOCK_MONOTONIC reaches next (at least once), and returns the
 * time read last: a spinner's wait between two reads of a lock word, timed
 * by the clock, not by a count of pauses, whose cost differs tenfold between
 * CPUs. 8 pauses between clock reads: 25-300 ns; a clock read ~25. */
static inline uint64_t f2_spin_until(uint64_t next)
{
	uint64_t t;

	do {
		for (int i = 0; i < 8; i++)
			f2_cpu_relax();
		t = f2_now_ns(CLOCK_MONOTONIC);
	} while (t < next);
	return t;
}
#ifdef F2SYNC_TEST_HOOKS
/* Test build only (../internal/test_hooks.h): replaces all three knobs;
 * EINVAL (nothing changed) if spin > 1e6, handoff_ns > 60 s or requeue is not
 * 0 or 1. Readers load each field with f2_load_relaxed: the knobs are
 * independent hints. */
f2_hidden int f2_test_tuning_replace(const struct f2_tuning *t);
#endif

/* park.c -------------------------------------------------------------------
 * f2_futex_wait wrapped in the runtime's park hooks (runtime.h). Every place
 * where the sync layer sleeps calls this, never f2_futex_wait directly. */
f2_hidden int f2_park(void *addr, uint64_t val, uint64_t mask, unsigned flags,
                      const struct timespec *abs, clockid_t clk);
/* The same for a bound word (futex2/bound.h); val, mask and the deadline
 * must be valid for it. */
f2_hidden int f2_park_bound(const struct f2_bound *p, uint64_t val, uint64_t mask,
                            const struct timespec *abs, clockid_t clk);

/* cond.c: the condvar wait with the pthread shim's extensions.
 *   abort_wait  if set, called after the waiter has read the sequence,
 *               counted itself in (both seq_cst) and released the mutex,
 *               just before it would sleep: nonzero ends the wait at once (a
 *               spurious wakeup; the count stays behind as a surplus, cond.c).
 *               Any broadcast after the count sees it and ends the sleep, so a
 *               flag that a waker sets before broadcasting is never missed
 *               (cancellation).
 *   m == NULL   the caller's lock is not an f2_mutex_t: unlock(arg) releases
 *               it once the sequence is read (its error is returned at once),
 *               lock(arg) retakes it after the wait (its error is returned);
 *               broadcast then wakes instead of requeueing these waiters.
 * Otherwise as f2_cond_wait / f2_cond_timedwait (abstime NULL: no deadline). */
struct f2_cond;
struct f2_mutex;
struct f2_cond_ext {
	int (*abort_wait)(void);
	int (*unlock)(void *arg);
	int (*lock)(void *arg);
	void *arg;
};
f2_hidden int f2_cond_wait_ext(struct f2_cond *c, struct f2_mutex *m,
			       const struct timespec *abstime, clockid_t clock,
			       const struct f2_cond_ext *x);
/* 1 if a thread sleeps in a wait on c that no signal or broadcast has woken
 * (for pthread_cond_destroy's EBUSY). A woken waiter, one that broadcast
 * moved onto the mutex, and a surplus count (cond.c) do not count; nor does
 * a waiter between releasing the mutex and falling asleep. */
f2_hidden int f2_cond_has_sleepers(struct f2_cond *c);

/* rwlock.c: a read lock that passes queued writers whenever other readers hold
 * the lock (glibc's PTHREAD_RWLOCK_PREFER_READER_NP, for the pthread shim).
 * abstime NULL: no deadline; try: EBUSY instead of waiting. */
struct f2_rwlock;
f2_hidden int f2_rwlock_rdlock_pref(struct f2_rwlock *rw, const struct timespec *abstime,
				    clockid_t clock, int try);

#endif
