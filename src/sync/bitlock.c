/* Header-bit locks: a lock in two bits of a word the caller owns.
 *
 * Bits (L = 1 << lock_bit, W = 1 << wait_bit); all other bits are foreign:
 *   L=0 W=0   free
 *   L=1 W=0   held, nobody parked: unlock clears L and wakes nobody
 *   L=1 W=1   held, waiters may be parked: unlock clears both and wakes one
 *   L=0 W=1   never left behind: unlock clears W together with L
 * lock:   CAS (x & ~L) -> x | L; else spin; else CAS x -> x | W and park on the
 *         whole word's current value with mask L. A woken waiter spins again
 *         and takes the lock as L|W, since others may still be parked behind
 *         it.
 * unlock: CAS x -> x & ~(L|W) (release); if W was set, wake one waiter of L.
 * A change of a foreign bit between the load and the park makes the wait
 * return -EAGAIN: the waiter reloads, so no wakeup is lost. The wake mask L
 * keeps locks that share a word from waking each other's waiters. */
#include <errno.h>

#include "f2sync/futex2.h"
#include "f2sync/runtime.h"
#include "sync_impl.h"
#include "../internal/atomic_sized.h"
#include "../internal/test_hooks.h"
#include "../internal/time.h"

#ifdef F2SYNC_TEST_HOOKS
/* Attempts made by spin_take after the caller's first one (read by the
 * tests: test_hooks.h). */
f2_hidden uint64_t f2_bl_spin_reads;
#endif

struct bits {
	void *word;
	unsigned flags;
	uint64_t l, w;
};

static int bits_init(struct bits *b, void *word, unsigned size, unsigned lock_bit,
                     unsigned wait_bit)
{
	if (!word || size > F2_SIZE_U64)
		return EINVAL;
	unsigned nbits = 8u << size;
	if (lock_bit >= nbits || wait_bit >= nbits || lock_bit == wait_bit)
		return EINVAL;
	if ((uintptr_t)word & ((1u << size) - 1))
		return EINVAL;
	*b = (struct bits){ word, size | F2_PRIVATE, 1ull << lock_bit, 1ull << wait_bit };
	return 0;
}

static uint64_t load(const struct bits *b)
{
	/* relaxed: only a guess for the CAS below, which orders. */
	return f2_sized_load(b->word, b->flags & F2_SIZE_MASK, memory_order_relaxed);
}

/* CAS with acq_rel: acquire when taking the lock (pairs with the release of
 * the unlock CAS), release when dropping it (pairs with the acquire of the
 * next lock CAS). */
static int cas(const struct bits *b, uint64_t *old, uint64_t new)
{
	/* acq_rel: see above */
	return f2_sized_cas(b->word, b->flags & F2_SIZE_MASK, old, new, memory_order_acq_rel);
}

/* One attempt to take L, setting extra bits with it; 0 or EBUSY. */
static int try_take(const struct bits *b, uint64_t extra)
{
	uint64_t x = load(b);
	while (!(x & b->l))
		if (cas(b, &x, x | b->l | extra))
			return 0;
	return EBUSY;
}

/* Bounded spinning, as a mutex locker spins (mutex_core.c, spin_acquire):
 * F2_TUNE_SPIN x F2_SPIN_UNIT_NS in all, one attempt per gap by the clock,
 * taking L with extra. An arrival (gap F2_MX_SPIN_GAP_NS) reads rarely: each
 * read of a held word pulls the line from the owner, which here is also the
 * runtime's own header word (type, hash and GC bits), so read rarely, the
 * owner's unlock and its updates of foreign bits hit its cache. A woken
 * waiter (gap 0: every 8 pauses) reads densely: an unlock has just woken it,
 * and without a spin it would lose nearly every race to a running owner and
 * park again (docs/design/bitlock.md, "Spin"). 0 if taken, else EBUSY. */
static int spin_take(const struct bits *b, uint64_t extra, uint64_t gap)
{
	/* knob: see tuning.c */
	uint64_t budget = (uint64_t)f2_load_relaxed(&f2_tuning()->spin) * F2_SPIN_UNIT_NS;
	uint64_t t0, t;

	if (!budget)
		return EBUSY;
	t = t0 = f2_now_ns(CLOCK_MONOTONIC);
	for (;;) {
		t = f2_spin_until(t + gap);
		F2_TEST_COUNT(f2_bl_spin_reads, 1);
		if (!try_take(b, extra))
			return 0;
		if (t - t0 >= budget)
			return EBUSY;
	}
}

static int lock_slow(const struct bits *b, const struct timespec *abs, clockid_t clk)
{
	if (!spin_take(b, 0, F2_MX_SPIN_GAP_NS))
		return 0;
	for (;;) {
		uint64_t x = load(b);
		if (!(x & b->l)) {
			if (cas(b, &x, x | b->l | b->w))
				return 0;
			continue;
		}
		if (!(x & b->w) && !cas(b, &x, x | b->w))
			continue;
		int r = f2_park(b->word, x | b->w, b->l, b->flags, abs, clk);
		if (r == -ETIMEDOUT)
			return ETIMEDOUT;
		if (r && r != -EAGAIN)
			return -r;
		/* woken (or a spurious return): others may still be parked behind
		 * us, so take L with W */
		if (!r && !spin_take(b, b->w, 0))
			return 0;
	}
}

int f2_bitlock_trylock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit)
{
	struct bits b;
	int r = bits_init(&b, word, size, lock_bit, wait_bit);
	return r ? r : try_take(&b, 0);
}

int f2_bitlock_lock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit)
{
	struct bits b;
	int r = bits_init(&b, word, size, lock_bit, wait_bit);
	if (r || !try_take(&b, 0))
		return r;
	return lock_slow(&b, NULL, CLOCK_MONOTONIC);
}

int f2_bitlock_timedlock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit,
                         const struct timespec *abstime, clockid_t clock)
{
	struct bits b;
	int r = bits_init(&b, word, size, lock_bit, wait_bit);
	if (r)
		return r;
	if (!abstime || f2_deadline_check(abstime, clock))
		return EINVAL;
	if (!try_take(&b, 0))
		return 0;
	return lock_slow(&b, abstime, clock);
}

int f2_bitlock_unlock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit)
{
	struct bits b;
	int r = bits_init(&b, word, size, lock_bit, wait_bit);
	if (r)
		return r;
	uint64_t x = load(&b);
	do {
		if (!(x & b.l))
			return EPERM;
	} while (!cas(&b, &x, x & ~(b.l | b.w)));
	/* The word may be freed from here on: the wake only hashes its address. */
	if (x & b.w)
		f2_futex_wake(word, b.l, 1, b.flags);
	return 0;
}
