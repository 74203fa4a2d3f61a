/* The mutex protocol shared by f2_mutex_t (32-bit word) and f2_mutex8_t
 * (8-bit word). One implementation, parameterised by the word size; the fast
 * paths are inline so that a constant size folds the size switch away.
 * Design and proofs: docs/design/mutex.md.
 *
 * The word (the value half of the NUMA pair { word; node; }) is a set of bits:
 *   HELD    1   somebody owns the mutex
 *   PARKED  2   waiters may be parked: the unlock must wake one, unless
 *               WAKER is set (a hint: it may outlive the last waiter)
 *   STARVE  4   a starving waiter (one that waited longer than handoff_ns)
 *               has reserved the next turn; nobody else may take the mutex
 *   RMW_UNLOCK 8 the word has had a waiter: its unlock always takes the RMW
 *               path. Every transition keeps it except the quiet-unlock
 *               decay (mutex_core.c: the 64th quiet unlock in a row of a
 *               thread that has not waited meanwhile). While it is
 *               clear, an uncontended owner may release with a plain store
 *               (store_unlock.h); a waiter that sets bits on a word that is
 *               exactly HELD sets it and calls f2_su_fence().
 *   WAKER   16  the designated waker: an unlock woke a waiter that has not
 *               run yet. Unlocks do not wake while it is set (at most one
 *               woken thread in flight). Cleared by every change a waiter
 *               that has slept makes (a "carrier", which takes with PARKED or
 *               marks PARKED, so the wake-up duty goes on), by a STARVE
 *               unlock, by a timed waiter giving up, and by the healer: the
 *               waiter that set PARKED next to WAKER sleeps at most HEAL_NS
 *               and clears a WAKER still set then (its wake found nobody).
 *   GEN     bits 5 and up (bits 5-30 of the 32-bit word, 5-7 of the 8-bit
 *               one), set only together with STARVE or WAKER: the fork
 *               generation (mutex_core.c) of the process whose thread set the
 *               later of them. A STARVE or WAKER whose GEN is not this
 *               process's generation was copied from a parent by fork(): its
 *               starver, woken waiter or healer does not exist here, so the
 *               first waiter that would sleep next to it drops it (orphan).
 *   PENDING bit 31, 32-bit word only: a condvar signal made under the mutex
 *               left its wake to the release (cond_defer.c). Set by CAS only
 *               on a HELD word with RMW_UNLOCK (or no store unlock); every
 *               release clears it, and its releaser then makes the wakes
 *               recorded for the word (f2_cd_flush). Never on a free word.
 * Legal values (any of them | RMW_UNLOCK):
 *   0                      UNLOCKED
 *   HELD                   locked, nobody parked: unlock is a store or one CAS
 *   HELD|PARKED            locked, waiters may be parked: unlock wakes one
 *   WAKER|GEN, HELD|WAKER|GEN   a woken waiter is on its way, nobody else parked
 *   PARKED|WAKER|GEN, HELD|PARKED|WAKER|GEN   parked ones wait for the woken
 *                          waiter or the healer; unlock wakes nobody
 *   HELD|PARKED|STARVE|GEN (|WAKER)   locked, next turn reserved
 *   STARVE|GEN             free, reserved: only the starver may take it
 *   any HELD one above | PENDING (32-bit word)   the same, and its release
 *                          makes a condvar's deferred wakes
 * Transitions (RMW_UNLOCK, where set, is carried through every one):
 *   lock      0 -> HELD (fast path). An arrival that spins takes any word
 *             without HELD or STARVE, keeping its bits (barging), and spins
 *             on through PARKED (a hint that outlives the sleepers) unless
 *             two reads in a row found it held, and stops at STARVE; a
 *             waiter that has slept spins again when
 *             woken and takes x -> (x|HELD|PARKED) & ~WAKER.
 *   park      HELD|x -> HELD|x|PARKED (a carrier also clears WAKER), then
 *             futex wait (mask WAIT_NORMAL); the healer's wait is bounded.
 *   starve    HELD|x -> HELD|PARKED|STARVE|GEN (at most one starver owns
 *             STARVE), spin a bounded while, then wait with WAIT_STARVING.
 *   claim     STARVE|GEN -> HELD|PARKED, by the starver only.
 *   unlock    HELD -> 0 by a store (store_unlock.h) or a CAS; otherwise a
 *             release CAS: STARVE: -> STARVE|GEN, wake one WAIT_STARVING;
 *             PARKED without WAKER: -> WAKER|GEN, wake one (any mask); else
 *             clear HELD only, no wake. PENDING goes with HELD in every case,
 *             and its wakes follow the release.
 *   defer     HELD|RMW_UNLOCK|x -> HELD|RMW_UNLOCK|x|PENDING (a signal).
 *   heal      PARKED|WAKER|x -> PARKED|x, by the healer after HEAL_NS.
 *   give up   a timed waiter clears WAKER (and a starver STARVE|GEN), sets
 *             PARKED if the mutex is held, or takes it if it is free for it.
 *   orphan    a waiter that finds STARVE with a foreign GEN clears
 *             STARVE|GEN|WAKER; one that would sleep next to a WAKER with a
 *             foreign GEN clears WAKER|GEN as a carrier does (it marks
 *             PARKED, or takes the mutex). Clearing WAKER never loses a
 *             wakeup: it only lets the next unlock wake.
 * No lost wakeup (docs/design/mutex.md): whenever a thread sleeps on the word,
 * PARKED is set and no WAKER holds it back for good, or a woken thread is on
 * its way and will leave PARKED set for the next unlock. A thread sleeps next
 * to WAKER only if its GEN is this process's, so fork() cannot hand the child
 * a WAKER that holds back its sleepers. The starver is always
 * either parked with WAIT_STARVING or running in its lock loop, so a reserved
 * turn is never orphaned; and while STARVE is set no barging is possible, so
 * the starver gets the very next turn (eventual fairness).
 * Store unlock and marks: an owner that read exactly HELD may still commit
 * its store (word = 0) after a waiter's mark, wiping PARKED or STARVE. The
 * fence makes that happen before the marker's futex wait, which then fails on
 * the changed word: the marker is still awake and will take the mutex with
 * PARKED set (or mark again), so it carries the wake-up owed to any waiter
 * that parked on its mark; a starver whose STARVE was wiped queues again.
 * WAKER is never set on a word that is exactly HELD, so a wipe never loses it.
 * If a fence fails (store unlock LOST, store_unlock.h), nothing makes the
 * wiping store happen before the marker's sleep any more: every sleep in the
 * lock loop is then bounded and a waiter that times out wakes one in its
 * place (mutex_core.c; proof in docs/design/mutex.md, "Losing membarrier").
 * Condvar waiters wait on their cond word with WAIT_NORMAL: after a requeue
 * onto the mutex word they are ordinary mutex waiters, and re-take the mutex
 * as carriers.
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
#define F2_MX_WAKER     16u
#define F2_MX_GEN_SHIFT 5
#define F2_MX_GEN       0x7fffffe0u /* of an 8-bit word, only bits 5-7 exist */
#define F2_MX_PENDING   0x80000000u /* 32-bit word only */

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
/* This process's fork generation as stored in GEN of a word of this size. */
f2_hidden unsigned f2_mx_gen_bits(unsigned size);
f2_hidden int f2_mx_timedlock(void *w, unsigned size, const struct timespec *abs,
                              clockid_t clk);

/* The acquire of a free word: 0 -> HELD, or, on a word that has had
 * waiters, x -> x|HELD for any x without HELD or STARVE (barging: the other
 * bits stay for the unlock). */
static f2_always_inline int f2_mx_take(void *w, unsigned size)
{
	unsigned v = F2_MX_UNLOCKED;
	if (f2_likely(f2_mx_cas_acquire(w, size, &v, F2_MX_HELD)))
		return 1;
	return !(v & (F2_MX_HELD | F2_MX_STARVE)) &&
	       f2_mx_cas_acquire(w, size, &v, v | F2_MX_HELD);
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
