/* f2_rwlock_t: a phase-fair reader-writer lock on one futex word.
 *
 * The word is the value half of the NUMA pair { state; node; } (layout in
 * rwlock_word.h):
 *   WRPHASE  bit 0   write phase; clear: read phase
 *   WGRANT   bit 1   write phase handed to "the next writer", not taken yet
 *   RPARKED  bit 2   readers may be parked on the word (futex mask READER)
 *   WPARKED  bit 3   writers may be parked on the word (futex mask WRITER)
 *   W        11 bits writers: the one holding it (write phase) + the waiting
 *   R        17 bits read phase: readers holding the lock;
 *                    write phase: readers queued for the next read phase
 * The states and what each count means in them:
 *   FREE       read phase, R == 0, W == 0 (the all-zero word)
 *   READ       read phase, R > 0 readers hold it; W > 0 writers wait for them
 *              to drain, and new readers wait behind those writers
 *   WRITE      write phase, one writer holds it (counted in W, W >= 1);
 *              R readers queued, W - 1 writers waiting
 *   GRANTED    write phase + WGRANT: no holder yet; the first waiting writer
 *              to clear WGRANT holds it (W >= 1 counts it)
 * Transitions (all with a CAS on the whole word):
 *   rdlock   READ/FREE with W == 0 -> R + 1. READ with W > 0 -> set RPARKED,
 *            park unregistered (a reader already holding a read lock enters
 *            instead, R + 1, so recursive read locks never deadlock).
 *            WRITE/GRANTED -> R + 1 (queued) and wait until the phase flips;
 *            the flip itself makes it a holder. R == R_MAX -> EAGAIN.
 *   wrlock   FREE -> WRITE with W = 1. Else W + 1 and wait until WGRANT is
 *            set, then clear WGRANT (GRANTED -> WRITE). W == W_MAX: poll.
 *   unlock   READ: R - 1; the last reader with W > 0 makes it GRANTED.
 *            WRITE: W - 1; then queued readers (R > 0) -> READ (they all hold
 *            it now: phase alternation); else waiting writers -> GRANTED;
 *            else FREE.
 *   timeout  a queued reader or a waiting writer takes back its count unless
 *            the lock became its own meanwhile (then it returns 0). The last
 *            writer leaving a READ phase frees the readers parked behind it.
 * Parked unregistered readers are woken at READ -> GRANTED and queue in that
 * write phase, so a reader waits for at most two write phases and a writer
 * for one read phase plus the writers queued before it (the kernel and the
 * emulation wake waiters in FIFO order).
 *
 * Waking only sleepers: a waiter spins a bounded while first (the phase it
 * waits for is often shorter than a sleep and a wake), and sets RPARKED or
 * WPARKED only right before it parks. Every change that ends a phase or lets
 * parked readers in clears RPARKED and, if it was set, wakes all readers. A
 * GRANTED made while WPARKED is set clears it and wakes one writer; as that
 * one wake may reach a writer while others still sleep, a writer that has
 * slept sets WPARKED again whenever it leaves the waiting writers (taking the
 * grant, or timing out) with other writers counted: at worst one needless
 * wake. WPARKED is cleared whenever W becomes 0 (parked writers are counted).
 *
 * Self-synchronised destruction: once an unlock's releasing CAS is done,
 * another thread may own, unlock and free the lock. So an unlock that must
 * wake binds the futex word (routes it, reads its node: sync_impl.h) before
 * that CAS, while it still holds the lock, and afterwards only hands the
 * bound address to the futex layer, which reads nothing of the pair. An
 * unlock with nobody to wake is a single CAS. Nothing waits for a wake to
 * finish: acquirers and the threads an unlock made holders go on at once,
 * and a late wake is at worst a spurious one (every waiter rechecks).
 */
#include <errno.h>
#include <sched.h>

#include "f2sync/rwlock.h"
#include "rwlock_word.h"
#include "sync_impl.h"
#include "../internal/atomic.h"
#include "../internal/time.h"

/* Read locks the calling thread holds, on any rwlock: lets a reader that
 * already holds one pass queued writers (see rdlock above). */
static __thread unsigned rd_held __attribute__((tls_model("initial-exec")));

struct rw_call {
	f2_rwlock_t *rw;
	const struct timespec *abs;  /* NULL: no deadline */
	clockid_t clk;
	unsigned flags;              /* futex flags of the pair; 0 until needed */
	int prefer_reader;           /* readers pass queued writers (pthread shim) */
};

static unsigned rw_flags(struct rw_call *c)
{
	if (!c->flags)
		c->flags = f2_pair_flags(c->rw, F2_SIZE_U32);
	return c->flags;
}

/* Spins a bounded while for the word to leave v; returns the current value. */
static uint32_t rw_spin(const f2_rwlock_t *rw, uint32_t v)
{
	unsigned n = f2_load_relaxed(&f2_tuning()->spin); /* knob, no ordering */
	uint32_t now = v;

	for (unsigned i = 0; i < n && now == v; i++) {
		f2_cpu_relax();
		now = f2_load_relaxed(&rw->state); /* a hint; the CAS that follows orders */
	}
	return now;
}

/* Sleeps while the word is v; 0 to retry, ETIMEDOUT at the deadline. When no
 * backend can park the word it yields instead: slower, never wrong. */
static int rw_park(struct rw_call *c, uint32_t v, unsigned mask)
{
	int r = f2_park(&c->rw->state, v, mask, rw_flags(c), c->abs, c->clk);

	if (r == 0 || r == -EAGAIN || r == -EINTR)
		return 0;
	if (r == -ETIMEDOUT || (c->abs && f2_deadline_passed(c->abs, c->clk)))
		return ETIMEDOUT;
	sched_yield();
	return 0;
}

/* Sets bit (RPARKED or WPARKED) if missing, right before parking. Returns
 * the word to park on, or 0 if it changed. */
static uint32_t rw_mark_parked(f2_rwlock_t *rw, uint32_t v, uint32_t bit)
{
	if (v & bit)
		return v;
	if (f2_cas_relaxed(&rw->state, &v, v | bit)) /* no data: a flag for unlock */
		return v | bit;
	return 0;
}

/* ---- readers ------------------------------------------------------------ */

/* A queued reader's deadline passed: leave the queue, unless the phase
 * flipped and the lock is ours. */
static int rd_dequeue(f2_rwlock_t *rw)
{
	for (;;) {
		/* acquire: pairs with the release CAS of the unlock that flipped
		 * the phase, which made us a holder */
		uint32_t v = f2_load_acquire(&rw->state);
		if (!(v & RW_WRPHASE))
			return 0;
		if (f2_cas_relaxed(&rw->state, &v, v - RW_READER)) /* no data */
			return ETIMEDOUT;
	}
}

/* Queued in a write phase: the writer's unlock that ends it makes us holders. */
static int rd_wait_phase(struct rw_call *c)
{
	f2_rwlock_t *rw = c->rw;

	for (;;) {
		uint32_t v = f2_load_acquire(&rw->state); /* pairs with the release CAS in unlock */
		if (!(v & RW_WRPHASE))
			return 0;
		if (rw_spin(rw, v) != v)
			continue;
		v = rw_mark_parked(rw, v, RW_RPARKED);
		if (v && rw_park(c, v, RW_MASK_READER))
			return rd_dequeue(rw);
	}
}

static int rd_lock(struct rw_call *c, int try)
{
	f2_rwlock_t *rw = c->rw;
	uint32_t v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */

	for (;;) {
		if (!(v & RW_WRPHASE)) {
			if (rw_writers(v) == 0 || ((rd_held || c->prefer_reader) && rw_readers(v) > 0)) {
				if (rw_readers(v) == RW_READERS_MAX)
					return EAGAIN;
				/* acquire: pairs with the release CAS of the previous unlock */
				if (f2_cas_weak_acquire(&rw->state, &v, v + RW_READER))
					return 0;
				continue;
			}
			if (try)
				return EBUSY;
			/* writers queued ahead: wait, unregistered, for the phase to move */
			uint32_t now = rw_spin(rw, v);
			if (now == v && (now = rw_mark_parked(rw, v, RW_RPARKED)) != 0 &&
			    rw_park(c, now, RW_MASK_READER))
				return ETIMEDOUT;
			v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
			continue;
		}
		if (try)
			return EBUSY;
		if (rw_readers(v) == RW_READERS_MAX)
			return EAGAIN;
		/* queue for the next read phase; rd_wait_phase acquires */
		if (f2_cas_relaxed(&rw->state, &v, v + RW_READER))
			return rd_wait_phase(c);
	}
}

static int rd_entry(f2_rwlock_t *rw, const struct timespec *abs, clockid_t clk, int try,
		    int prefer_reader)
{
	struct rw_call c = { rw, abs, clk, 0, prefer_reader };
	int r;

	if (abs && f2_deadline_check(abs, clk))
		return EINVAL;
	r = rd_lock(&c, try);
	if (r == 0)
		rd_held++;
	return r;
}

int f2_rwlock_rdlock(f2_rwlock_t *rw)
{
	return rd_entry(rw, NULL, CLOCK_MONOTONIC, 0, 0);
}

int f2_rwlock_tryrdlock(f2_rwlock_t *rw)
{
	return rd_entry(rw, NULL, CLOCK_MONOTONIC, 1, 0);
}

int f2_rwlock_timedrdlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock)
{
	if (!abstime)
		return EINVAL;
	return rd_entry(rw, abstime, clock, 0, 0);
}

int f2_rwlock_rdlock_pref(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock,
			  int try)
{
	return rd_entry(rw, abstime, clock, try, 1);
}

/* ---- writers ------------------------------------------------------------ */

/* A writer that has slept may have taken the one wake of an unlock that
 * cleared WPARKED while other writers slept too. So when it leaves the
 * waiting writers (taking the grant or timing out) it sets WPARKED again if
 * any other writer is counted: at worst one needless wake later. */
static uint32_t wr_repark(uint32_t want, int parked, uint32_t others)
{
	return parked && others ? want | RW_WPARKED : want;
}

/* Clears WGRANT if set: the write phase is ours. 1 on success. parked: we
 * have slept (see wr_repark). */
static int wr_take_grant(f2_rwlock_t *rw, uint32_t *v, int parked)
{
	while (*v & RW_WGRANT) {
		uint32_t want = wr_repark(*v & ~RW_WGRANT, parked, rw_writers(*v) - 1);
		/* acquire: pairs with the release CAS in unlock that granted */
		if (f2_cas_weak_acquire(&rw->state, v, want))
			return 1;
	}
	return 0;
}

/* A waiting writer's deadline passed: leave, unless a grant is there to take.
 * Leaving a read phase as its last writer lets the readers behind it in. */
static int wr_dequeue(struct rw_call *c, int parked)
{
	f2_rwlock_t *rw = c->rw;
	uint32_t v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
	struct f2_bound b;

	/* bound now: once our CAS lets the readers in, they may free the lock */
	f2_bind_word(&b, rw, rw_flags(c));
	for (;;) {
		if (wr_take_grant(rw, &v, parked))
			return 0;
		uint32_t want = v - RW_WRITER;
		int wake = !(v & RW_WRPHASE) && rw_writers(want) == 0 && (v & RW_RPARKED);
		if (wake)
			want &= ~RW_RPARKED;
		if (rw_writers(want) == 0)
			want &= ~RW_WPARKED; /* nobody counted, so nobody parked */
		want = wr_repark(want, parked, rw_writers(want));
		if (f2_cas_relaxed(&rw->state, &v, want)) { /* no data */
			if (wake)
				f2_wake_bound(&b, RW_MASK_READER, INT32_MAX);
			return ETIMEDOUT;
		}
	}
}

/* Registered in W: wait until a grant can be taken. */
static int wr_wait_grant(struct rw_call *c)
{
	f2_rwlock_t *rw = c->rw;
	int parked = 0;

	for (;;) {
		uint32_t v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
		if (wr_take_grant(rw, &v, parked))
			return 0;
		if (rw_spin(rw, v) != v)
			continue;
		v = rw_mark_parked(rw, v, RW_WPARKED);
		if (!v)
			continue;
		parked = 1;
		if (rw_park(c, v, RW_MASK_WRITER))
			return wr_dequeue(c, parked);
	}
}

/* The writer count is full (RW_WRITERS_MAX waiting): sleep a millisecond,
 * bounded by the deadline, and try again. Nobody wakes RW_MASK_POLL. */
static int wr_poll_full(struct rw_call *c, uint32_t v)
{
	clockid_t clk = c->abs ? c->clk : CLOCK_MONOTONIC;
	struct timespec t;

	clock_gettime(clk, &t);
	t.tv_nsec += 1000000;
	if (t.tv_nsec >= F2_NSEC_PER_SEC) {
		t.tv_sec++;
		t.tv_nsec -= F2_NSEC_PER_SEC;
	}
	if (c->abs && f2_timespec_cmp(c->abs, &t) < 0)
		t = *c->abs;
	int r = f2_park(&c->rw->state, v, RW_MASK_POLL, rw_flags(c), &t, clk);
	if (r != 0 && r != -EAGAIN && r != -EINTR && r != -ETIMEDOUT)
		sched_yield();
	if (c->abs && f2_deadline_passed(c->abs, c->clk))
		return ETIMEDOUT;
	return 0;
}

static int wr_lock(struct rw_call *c, int try)
{
	f2_rwlock_t *rw = c->rw;
	uint32_t v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */

	for (;;) {
		if (!(v & RW_WRPHASE) && rw_readers(v) == 0 && rw_writers(v) == 0) {
			/* acquire: pairs with the release CAS of the previous unlock */
			if (f2_cas_weak_acquire(&rw->state, &v, v | RW_WRPHASE | RW_WRITER))
				return 0;
			continue;
		}
		if (try)
			return EBUSY;
		if (rw_writers(v) == RW_WRITERS_MAX) {
			if (wr_poll_full(c, v))
				return ETIMEDOUT;
			v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
			continue;
		}
		/* wait for a grant; wr_wait_grant acquires */
		if (f2_cas_relaxed(&rw->state, &v, v + RW_WRITER))
			return wr_wait_grant(c);
	}
}

static int wr_entry(f2_rwlock_t *rw, const struct timespec *abs, clockid_t clk, int try)
{
	struct rw_call c = { rw, abs, clk, 0, 0 };

	if (abs && f2_deadline_check(abs, clk))
		return EINVAL;
	return wr_lock(&c, try);
}

int f2_rwlock_wrlock(f2_rwlock_t *rw)
{
	return wr_entry(rw, NULL, CLOCK_MONOTONIC, 0);
}

int f2_rwlock_trywrlock(f2_rwlock_t *rw)
{
	return wr_entry(rw, NULL, CLOCK_MONOTONIC, 1);
}

int f2_rwlock_timedwrlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock)
{
	if (!abstime)
		return EINVAL;
	return wr_entry(rw, abstime, clock, 0);
}

/* ---- unlock ------------------------------------------------------------- */

/* The word after the holder of v leaves (see the transitions above). */
static uint32_t rw_release(uint32_t v)
{
	uint32_t next;

	if (!(v & RW_WRPHASE)) {
		next = v - RW_READER;
		if (rw_readers(next) == 0 && rw_writers(next) > 0)
			next = (next | RW_WRPHASE | RW_WGRANT) & ~(RW_RPARKED | RW_WPARKED);
		return next;
	}
	next = v - RW_WRITER;
	if (rw_readers(next) == 0 && rw_writers(next) > 0)
		return (next | RW_WGRANT) & ~RW_WPARKED;
	if (rw_writers(next) == 0)
		next &= ~RW_WPARKED; /* nobody counted, so nobody parked */
	return next & ~(RW_WRPHASE | RW_RPARKED);
}

int f2_rwlock_unlock(f2_rwlock_t *rw)
{
	struct f2_bound b;
	int bound = 0;
	uint32_t v = f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
	uint32_t next;
	int wake_readers, wake_writer;

	for (;;) {
		if ((v & RW_WRPHASE) ? (v & RW_WGRANT) != 0 : rw_readers(v) == 0)
			return EPERM; /* held in neither mode */
		next = rw_release(v);
		wake_readers = (v & RW_RPARKED) && !(next & RW_RPARKED);
		wake_writer = (next & RW_WGRANT) && (v & RW_WPARKED);
		if ((wake_readers || wake_writer) && !bound) {
			/* bound while we hold the lock (top of this file) */
			f2_bind_word(&b, rw, f2_pair_flags(rw, F2_SIZE_U32));
			bound = 1;
		}
		/* release: pairs with the acquire CAS of the next holder */
		if (f2_cas_weak_release(&rw->state, &v, next))
			break;
	}
	if (!(v & RW_WRPHASE) && rd_held)
		rd_held--;
	/* Self-synchronised destruction: another thread may own and free the
	 * lock from here on; only the bound wakes below, which read nothing. */
	if (wake_readers)
		f2_wake_bound(&b, RW_MASK_READER, INT32_MAX);
	if (wake_writer)
		f2_wake_bound(&b, RW_MASK_WRITER, 1);
	return 0;
}
