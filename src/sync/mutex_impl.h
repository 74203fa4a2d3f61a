/* The mutex protocol shared by f2_mutex_t (32-bit word) and f2_mutex8_t
 * (8-bit word). One implementation, parameterised by the word size; the fast
 * paths are inline so that a constant size folds the size switch away.
 *
 * The word (the value half of the NUMA pair { word; node; }) is a set of bits:
 *   HELD    1   somebody owns the mutex
 *   PARKED  2   waiters may be parked: the unlock must wake one (a hint:
 *               it may outlive the last waiter, costing one empty wake)
 *   STARVE  4   a starving waiter (one that waited longer than handoff_ns)
 *               has reserved the next turn; nobody else may take the mutex
 *   RMW_UNLOCK 8 the word has had a waiter: its unlock
 *               always takes the RMW path. Every transition keeps it except
 *               the quiet-unlock decay (mutex_core.c: one in 64 per thread).
 *               While it is clear, an uncontended owner may release with a
 *               plain store (store_unlock.h); a waiter that sets bits on a
 *               word that is exactly HELD sets it and calls f2_su_fence().
 *   GEN     bits 4 and up (bits 4-31 of the 32-bit word, 4-7 of the 8-bit
 *               one), set only together with STARVE: the fork generation
 *               (mutex_core.c) of the process whose thread set STARVE. A
 *               STARVE whose GEN is not this process's generation was
 *               copied from a parent by fork(): its starver does not exist
 *               here, so the first waiter that meets it drops it.
 * Legal values:
 *   0                      UNLOCKED
 *   HELD                   locked, nobody parked: unlock is one release CAS
 *   HELD|PARKED            locked, waiters may be parked
 *   HELD|PARKED|STARVE|GEN locked, the next turn is reserved for the starver
 *   STARVE|GEN             free, reserved: only the starver may take it
 *   each of the above | RMW_UNLOCK
 * Transitions (RMW_UNLOCK, where set, is carried through every one):
 *   lock      0 -> HELD (fast path); a waiter that has parked or spun takes
 *             0 -> HELD|PARKED, as it cannot know whether others are parked.
 *   park      HELD -> HELD|PARKED, then futex wait (mask WAIT_NORMAL).
 *   starve    HELD|x -> HELD|PARKED|STARVE|GEN (at most one starver owns
 *             STARVE), then futex wait with mask WAIT_STARVING.
 *   claim     STARVE|GEN -> HELD|PARKED, by the starver only.
 *   unlock    HELD -> 0 by a store (store_unlock.h), or
 *             fetch_and(STARVE | GEN | RMW_UNLOCK): HELD -> 0, HELD|PARKED -> 0,
 *             HELD|PARKED|STARVE|GEN -> STARVE|GEN; then wake one WAIT_STARVING
 *             waiter if STARVE was set, else one waiter if PARKED was set.
 *   give up   a starver that times out clears STARVE|GEN (HELD|PARKED|STARVE|GEN
 *             -> HELD|PARKED) or claims the mutex if it is already reserved.
 *   orphan    a waiter that finds STARVE with a foreign GEN clears STARVE|GEN.
 * The starver is always either parked with WAIT_STARVING or running in its
 * lock loop, so a reserved turn is never orphaned; and while STARVE is set
 * no barging is possible, so the starver gets the very next turn. That is the
 * eventual fairness: nobody waits much longer than handoff_ns plus one
 * critical section per thread ahead of it in that turn.
 * Store unlock and marks: an owner that read exactly HELD may still commit
 * its store (word = 0) after a waiter's mark, wiping PARKED or STARVE. The
 * fence makes that happen before the marker's futex wait, which then fails on
 * the changed word: the marker is still awake and will take the mutex with
 * PARKED set (or mark again), so it carries the wake-up owed to any waiter
 * that parked on its mark; a starver whose STARVE was wiped queues again.
 * If a fence fails (store unlock LOST, store_unlock.h), nothing makes the
 * wiping store happen before the marker's sleep any more: every sleep in the
 * lock loop is then bounded and a waiter that times out wakes one in its
 * place (mutex_core.c; proof in docs/design/mutex.md, "Losing membarrier").
 * Condvar waiters wait on their cond word with WAIT_NORMAL: after a requeue
 * onto the mutex word they are ordinary mutex waiters.
 */
#ifndef F2_SYNC_MUTEX_IMPL_H
#define F2_SYNC_MUTEX_IMPL_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "f2sync/futex2.h"
#include "sync_impl.h"
#include "store_unlock.h"
#include "../internal/atomic.h"
#include "../internal/atomic_sized.h"

#define F2_MX_UNLOCKED  0u
#define F2_MX_HELD      1u
#define F2_MX_PARKED    2u
#define F2_MX_STARVE    4u
#define F2_MX_RMW_UNLOCK 8u
#define F2_MX_GEN_SHIFT 4
#define F2_MX_GEN       0xfffffff0u /* of an 8-bit word, only bits 4-7 exist */

/* futex bitset masks */
#define F2_MX_WAIT_NORMAL   1u
#define F2_MX_WAIT_STARVING 2u
#define F2_MX_WAKE_ANY      (F2_MX_WAIT_NORMAL | F2_MX_WAIT_STARVING)

/* The word's size, F2_SIZE_U8 or F2_SIZE_U32, written so that the compiler
 * sees only those two: where the size is known only at run time
 * (mutex_core.c), the word's atomics (atomic_sized.h) then test for two
 * widths, not four. */
static f2_always_inline unsigned f2_mx_size(unsigned size)
{
	return size == F2_SIZE_U8 ? F2_SIZE_U8 : F2_SIZE_U32;
}

static f2_always_inline unsigned f2_mx_load(void *w, unsigned size)
{
	/* relaxed: a guess; the CAS that uses it orders */
	return (unsigned)f2_sized_load(w, f2_mx_size(size), memory_order_relaxed);
}

static f2_always_inline int f2_mx_cas(void *w, unsigned size, unsigned *exp, unsigned desired,
                                      memory_order mo)
{
	uint64_t e = *exp;
	int ok = f2_sized_cas(w, f2_mx_size(size), &e, desired, mo);

	*exp = (unsigned)e;
	return ok;
}

/* Acquire CAS: pairs with the release in f2_mx_unlock / f2_mx_unlock_slow. */
static f2_always_inline int f2_mx_cas_acquire(void *w, unsigned size, unsigned *exp,
                                              unsigned desired)
{
	return f2_mx_cas(w, size, exp, desired, memory_order_acquire);
}

/* Relaxed CAS for bit changes that grant no ownership (PARKED, STARVE). */
static f2_always_inline int f2_mx_cas_relaxed(void *w, unsigned size, unsigned *exp,
                                              unsigned desired)
{
	return f2_mx_cas(w, size, exp, desired, memory_order_relaxed);
}

/* Slow paths (mutex_core.c). abs NULL: no deadline. contended: take the
 * mutex as HELD|PARKED even uncontended (requeued condvar waiters). */
f2_hidden int f2_mx_lock_slow(void *w, unsigned size, const struct timespec *abs,
                              clockid_t clk, int contended);
f2_hidden int f2_mx_unlock_slow(void *w, unsigned size);
f2_hidden int f2_mx_timedlock(void *w, unsigned size, const struct timespec *abs,
                              clockid_t clk);

/* The uncontended acquire: 0 -> HELD, or RMW_UNLOCK -> RMW_UNLOCK|HELD on a
 * word that has had waiters. */
static f2_always_inline int f2_mx_take(void *w, unsigned size)
{
	unsigned v = F2_MX_UNLOCKED;
	if (f2_likely(f2_mx_cas_acquire(w, size, &v, F2_MX_HELD)))
		return 1;
	return v == F2_MX_RMW_UNLOCK &&
	       f2_mx_cas_acquire(w, size, &v, F2_MX_RMW_UNLOCK | F2_MX_HELD);
}

static f2_always_inline int f2_mx_lock(void *w, unsigned size)
{
	if (f2_likely(f2_mx_take(w, size)))
		return 0;
	return f2_mx_lock_slow(w, size, NULL, CLOCK_MONOTONIC, 0);
}

static f2_always_inline int f2_mx_trylock(void *w, unsigned size)
{
	return f2_mx_take(w, size) ? 0 : EBUSY;
}

static f2_always_inline int f2_mx_unlock(void *w, unsigned size)
{
	if (f2_likely(f2_load_relaxed(&f2_su_state) == F2_SU_ON)) {
		if (f2_likely(f2_su_release(w, size, F2_MX_HELD)))
			return 0;
	} else {
		unsigned e = F2_MX_HELD;
		/* release: pairs with the acquire CAS of the next owner */
		if (f2_likely(f2_mx_cas(w, size, &e, F2_MX_UNLOCKED, memory_order_release)))
			return 0;
	}
	return f2_mx_unlock_slow(w, size);
}

#endif
