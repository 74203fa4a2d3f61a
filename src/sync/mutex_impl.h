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
 * Legal values:
 *   0                      UNLOCKED
 *   HELD                   locked, nobody parked: unlock is one release CAS
 *   HELD|PARKED            locked, waiters may be parked
 *   HELD|PARKED|STARVE     locked, the next turn is reserved for the starver
 *   STARVE                 free, reserved: only the starver may take it
 * Transitions:
 *   lock      0 -> HELD (fast path); a waiter that has parked or spun takes
 *             0 -> HELD|PARKED, as it cannot know whether others are parked.
 *   park      HELD -> HELD|PARKED, then futex wait (mask WAIT_NORMAL).
 *   starve    HELD|x -> HELD|PARKED|STARVE (at most one starver owns STARVE),
 *             then futex wait with mask WAIT_STARVING.
 *   claim     STARVE -> HELD|PARKED, by the starver only.
 *   unlock    fetch_and(STARVE): HELD -> 0, HELD|PARKED -> 0,
 *             HELD|PARKED|STARVE -> STARVE; then wake one WAIT_STARVING
 *             waiter if STARVE was set, else one waiter if PARKED was set.
 *   give up   a starver that times out clears STARVE (HELD|PARKED|STARVE ->
 *             HELD|PARKED) or claims the mutex if it is already reserved.
 * The starver is always either parked with WAIT_STARVING or running in its
 * lock loop, so a reserved turn is never orphaned; and while STARVE is set
 * no barging is possible, so the starver gets the very next turn. That is the
 * eventual fairness: nobody waits much longer than handoff_ns plus one
 * critical section per thread ahead of it in that turn.
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
#include "../internal/atomic.h"

#define F2_MX_UNLOCKED 0u
#define F2_MX_HELD     1u
#define F2_MX_PARKED   2u
#define F2_MX_STARVE   4u

/* futex bitset masks */
#define F2_MX_WAIT_NORMAL   1u
#define F2_MX_WAIT_STARVING 2u
#define F2_MX_WAKE_ANY      (F2_MX_WAIT_NORMAL | F2_MX_WAIT_STARVING)

#define f2_always_inline inline __attribute__((always_inline))

/* Size-generic atomics on the word (size is F2_SIZE_U8 or F2_SIZE_U32). */
static f2_always_inline unsigned f2_mx_load(void *w, unsigned size)
{
	if (size == F2_SIZE_U8)
		return f2_load_relaxed((uint8_t *)w);
	return f2_load_relaxed((uint32_t *)w);
}

/* Acquire CAS: pairs with the release in f2_mx_unlock / f2_mx_unlock_slow. */
static f2_always_inline int f2_mx_cas_acquire(void *w, unsigned size, unsigned *exp,
                                              unsigned desired)
{
	int ok;
	if (size == F2_SIZE_U8) {
		uint8_t e = (uint8_t)*exp;
		ok = f2_cas_acquire((uint8_t *)w, &e, (uint8_t)desired);
		*exp = e;
	} else {
		uint32_t e = *exp;
		ok = f2_cas_acquire((uint32_t *)w, &e, desired);
		*exp = e;
	}
	return ok;
}

/* Relaxed CAS for bit changes that grant no ownership (PARKED, STARVE). */
static f2_always_inline int f2_mx_cas_relaxed(void *w, unsigned size, unsigned *exp,
                                              unsigned desired)
{
	int ok;
	if (size == F2_SIZE_U8) {
		uint8_t e = (uint8_t)*exp;
		ok = f2_cas_relaxed((uint8_t *)w, &e, (uint8_t)desired);
		*exp = e;
	} else {
		uint32_t e = *exp;
		ok = f2_cas_relaxed((uint32_t *)w, &e, desired);
		*exp = e;
	}
	return ok;
}

/* Slow paths (mutex_core.c). abs NULL: no deadline. contended: take the
 * mutex as HELD|PARKED even uncontended (requeued condvar waiters). */
f2_hidden int f2_mx_lock_slow(void *w, unsigned size, const struct timespec *abs,
                              clockid_t clk, int contended);
f2_hidden int f2_mx_unlock_slow(void *w, unsigned size);
f2_hidden int f2_mx_timedlock(void *w, unsigned size, const struct timespec *abs,
                              clockid_t clk);

static f2_always_inline int f2_mx_lock(void *w, unsigned size)
{
	unsigned v = F2_MX_UNLOCKED;
	if (f2_likely(f2_mx_cas_acquire(w, size, &v, F2_MX_HELD)))
		return 0;
	return f2_mx_lock_slow(w, size, NULL, CLOCK_MONOTONIC, 0);
}

static f2_always_inline int f2_mx_trylock(void *w, unsigned size)
{
	unsigned v = F2_MX_UNLOCKED;
	return f2_mx_cas_acquire(w, size, &v, F2_MX_HELD) ? 0 : EBUSY;
}

static f2_always_inline int f2_mx_unlock(void *w, unsigned size)
{
	if (size == F2_SIZE_U8) {
		uint8_t e = F2_MX_HELD;
		/* release: pairs with the acquire CAS of the next owner */
		if (f2_likely(f2_cas_release((uint8_t *)w, &e, F2_MX_UNLOCKED)))
			return 0;
	} else {
		uint32_t e = F2_MX_HELD;
		/* release: pairs with the acquire CAS of the next owner */
		if (f2_likely(f2_cas_release((uint32_t *)w, &e, F2_MX_UNLOCKED)))
			return 0;
	}
	return f2_mx_unlock_slow(w, size);
}

#endif
