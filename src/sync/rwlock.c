/* f2_rwlock_t: a barging reader-writer lock on one futex word, with eventual
 * fairness both ways. This file: the protocol, the readers and the unlock;
 * rwlock_writer.c the writers; rwlock_wait.c/.h what both share (the call
 * state, the wakes a releasing transition owes, spin and park).
 *
 * The word is the value half of the NUMA pair { state; node; } (layout and
 * predicates in rwlock_word.h):
 *   WRITER   bit 0   a writer holds the lock
 *   WAKING   bit 1   an unlock woke one counted writer, which has not yet come
 *                    back to the word: no other writer is woken meanwhile
 *   RPARKED  bit 2   readers may be parked (futex mask READER)
 *   WSTARVE  bit 3   a writer that waited longer than handoff_ns reserved the
 *                    next write turn: new readers and other writers stay out
 *   RSTARVE  bit 4   a reader that waited longer than handoff_ns reserved the
 *                    next read turn: no writer takes the lock
 *   RT       bit 5   a real-time (SCHED_FIFO/RR) waiter may be parked: the
 *                    lock is handed out in priority order (below)
 *   W        9 bits  writers counted as parked (mask WRITER), not the starver
 *   R        17 bits readers holding the lock
 * States: FREE (R == 0, no WRITER), READ (R > 0), WRITE (WRITER, R == 0);
 * the other bits ride along in each.
 * Who may take it (everyone barges; nobody is ever made a holder by another):
 *   reader   no WRITER; and W == 0 and no WSTARVE, unless it owns RSTARVE,
 *            already holds a read lock on this lock (rwlock_held.h), or, while
 *            RT is clear, is a prefer-reader (pthread shim) and R > 0, or is
 *            real-time and finds no WSTARVE. R + 1; the owner clears
 *            RSTARVE. (A parked writer keeps new readers out so that R only
 *            falls while it sleeps: else its futex wait fails at every read
 *            lock and unlock.)
 *   writer   R == 0, no WRITER, no RSTARVE, and no WSTARVE unless it owns it.
 *            Sets WRITER; a counted writer leaves W (W - 1), the owner of
 *            WSTARVE clears it.
 * Waiting: spin a bounded while, only while nobody waits (W == 0, no
 * RPARKED, no reservation: the mutex's rule, so a thread does not spin on a
 * lock whose holder may be off the CPU). Then a reader sets RPARKED and
 * parks, with mask READER and a timer until it has waited handoff_ns, then
 * with mask RLATE; a writer counts itself in W and parks (mask WRITER) with a
 * timer at its start + handoff_ns. A writer that has waited that long and
 * finds WSTARVE clear moves from W to WSTARVE and parks with mask WSTARVE; a
 * reader that has waited that long sets RSTARVE when it finds it clear and
 * the lock held by a writer, or free and not reserved by WSTARVE (never
 * ahead of a reserving writer, never while readers drain). Both reservers
 * then take the very next turn of their kind.
 * Releasing transitions (unlock, a timed-out waiter leaving) owe wakes, all
 * computed with the CAS (rw_owed):
 *   readers  RPARKED was set and the change lets plain readers in (clears
 *            WRITER, or the last of W and WSTARVE): clear RPARKED, wake
 *            every reader. A write unlock that still keeps plain readers
 *            out wakes only mask RLATE (those past handoff_ns, which may
 *            reserve; RPARKED stays).
 *   starver  WSTARVE stays set and the change lets its owner in: wake it.
 *   writer   the result lets any writer in, W > 0 and WAKING is clear: set
 *            WAKING, wake one writer. A counted writer clears WAKING in its
 *            first CAS after any return from its futex wait (taking the
 *            lock, starving, parking again or leaving): the designated waker
 *            of nsync, so one writer at a time is on its way and the others
 *            sleep until it has competed.
 *   all      RT was set and the change opens the lock (clears WRITER, drops
 *            R to 0, or owes any wake above): clear RT and RPARKED, set
 *            WAKING if W > 0, wake every writer, then every reader.
 * Real-time waiters: a waiter that would park asks its policy once
 * (sched_getscheduler); a real-time one sets RT with its mark, never
 * reserves, and a real-time reader may pass counted writers while RT is
 * clear (no real-time waiter sleeps: it ran since the last release). Since
 * every release under RT wakes all, the scheduler runs the woken in priority
 * order, and writers, woken first, ahead of readers of equal priority; the
 * first to run takes the lock. The common path never reads the policy.
 * No lost wakeup: each waiter parks on a value that blocks it and that shows
 * it (RPARKED, its count in W, WSTARVE); the change that unblocks it is a
 * releasing CAS, which sees that mark and wakes. WAKING never strands W:
 * it is set only while W > 0, and each writer counted then either sleeps (the
 * wake reaches a counted sleeper) or has not yet slept and finds the word
 * changed (-EAGAIN); either way a counted writer comes back and clears it.
 * A real-time waiter sleeps only under RT, which only a transition that
 * wakes every sleeper clears.
 * docs/design/rwlock.md has the proof case by case.
 *
 * Self-synchronised destruction: once a releasing CAS is done, another
 * thread may own, unlock and free the lock. So a transition that must wake
 * binds the futex word (routes it, reads its node: sync_impl.h) before its
 * CAS, while the caller still holds the lock or is still a counted waiter,
 * and afterwards only hands the bound address to the futex layer, which reads
 * nothing of the pair. An unlock with nobody to wake is a single CAS.
 */
#include <errno.h>

#include "rwlock_held.h"
#include "rwlock_wait.h"
#include "../internal/time.h"

/* ---- readers ------------------------------------------------------------ */

static int rd_may(struct rw_call *c, uint32_t v)
{
	if (v & RW_WRITER)
		return 0;
	if (!rw_reader_kept_out(v))
		return 1;
	if (c->starving || rd_holds(c->rw))
		return 1;
	if (v & RW_RT) /* a real-time waiter sleeps: it goes first (priority order) */
		return 0;
	return (c->prefer_reader && rw_readers(v) > 0) || (c->rt > 0 && !(v & RW_WSTARVE));
}

/* CAS v -> holder. 1 if taken, 0 if v changed (reloaded), -1 if R is full. */
static int rd_take(struct rw_call *c, uint32_t *v)
{
	uint32_t want = *v + RW_READER;

	if (rw_readers(*v) == RW_READERS_MAX)
		return -1;
	if (c->starving)
		want &= ~RW_RSTARVE;
	/* acquire: pairs with the release CAS of the previous unlock */
	if (!f2_cas_weak_acquire(&c->rw->state, v, want))
		return 0;
	c->starving = 0;
	return 1;
}

/* The reader gives up with err (ETIMEDOUT: its deadline passed; EAGAIN: R
 * is full): on a timeout it takes the lock if it is open to it; else it
 * gives back RSTARVE if it owns it (with the wakes that may owe). */
static int rd_leave(struct rw_call *c, int err)
{
	f2_rwlock_t *rw = c->rw;
	uint32_t v = rw_load(rw);
	struct f2_bound b;
	struct rw_wake w;

	if (c->starving) /* bound now: our CAS may let a writer in, who may free it */
		f2_bind_word(&b, rw, f2_rw_flags(c));
	for (;;) {
		if (err == ETIMEDOUT && rd_may(c, v)) {
			int r = rd_take(c, &v);
			if (r > 0)
				return 0;
			if (r == 0)
				continue;
		}
		if (!c->starving)
			return err; /* nothing of ours on the word but a hint */
		uint32_t want = rw_owed(v, v & ~RW_RSTARVE, &w);
		if (f2_cas_relaxed(&rw->state, &v, want)) { /* no data: gives up a turn */
			c->starving = 0;
			if (rw_owes(&w))
				f2_rw_pay(&b, &w);
			return err;
		}
	}
}

/* One round of a waiting reader on the word v: 1 taken, 0 retry (word
 * changed), EAGAIN, ETIMEDOUT. */
static int rd_round(struct rw_call *c, uint32_t v)
{
	f2_rwlock_t *rw = c->rw;
	uint32_t mark;

	if (rd_may(c, v)) {
		int r = rd_take(c, &v);
		return r < 0 ? rd_leave(c, EAGAIN) : r;
	}
	if (c->rt < 0 && f2_rw_rt(c))
		return 0; /* look again: a real-time reader may pass counted writers */
	/* reserve the read turn after a writer's, or of a free lock that only
	 * counted writers wait for; never ahead of a reserving writer. A
	 * real-time reader never reserves: priority orders it. */
	if (!c->rt && !c->starving && !(v & RW_RSTARVE) &&
	    ((v & RW_WRITER) || (rw_readers(v) == 0 && !(v & RW_WSTARVE))) && f2_rw_expired(c)) {
		if (!f2_cas_relaxed(&rw->state, &v, v | RW_RSTARVE)) /* no data: a reservation */
			return 0;
		c->starving = 1;
		return 0;
	}
	mark = RW_RPARKED | (c->rt ? RW_RT : 0);
	if ((v & mark) != mark) {
		if (!f2_cas_relaxed(&rw->state, &v, v | mark)) /* no data: flags for unlock */
			return 0;
		v |= mark;
	}
	/* until handoff_ns a reader sleeps through write unlocks that still keep
	 * it out; then it wakes at each one, to reserve a read turn. A real-time
	 * reader is woken by every release while RT is set. */
	if (c->rt) {
		if (f2_rw_park(c, v, RW_MASK_READER, 0))
			return rd_leave(c, ETIMEDOUT) == 0 ? 1 : ETIMEDOUT;
	} else if (f2_rw_expired(c)) {
		if (f2_rw_park(c, v, RW_MASK_RLATE, 0))
			return rd_leave(c, ETIMEDOUT) == 0 ? 1 : ETIMEDOUT;
	} else if (f2_rw_park(c, v, RW_MASK_READER,
			   c->t0 + f2_load_relaxed(&f2_tuning()->handoff_ns))) { /* knob */
		return rd_leave(c, ETIMEDOUT) == 0 ? 1 : ETIMEDOUT;
	}
	return 0;
}

static int rd_lock(struct rw_call *c, int try)
{
	uint32_t v = rw_load(c->rw);
	int r;

	for (;;) {
		if (!rd_may(c, v))
			break;
		r = rd_take(c, &v);
		if (r)
			return r > 0 ? 0 : EAGAIN;
	}
	if (try)
		return EBUSY;
	c->t0 = f2_now_ns(CLOCK_MONOTONIC);
	v = f2_rw_spin(c, v, rd_may);
	while ((r = rd_round(c, v)) == 0)
		v = rw_load(c->rw);
	return r == 1 ? 0 : r;
}

static int rd_entry(f2_rwlock_t *rw, const struct timespec *abs, clockid_t clk, int try,
		    int prefer_reader)
{
	struct rw_call c = { .rw = rw, .abs = abs, .clk = clk, .prefer_reader = prefer_reader,
			     .rt = -1 };
	int r;

	if (abs && f2_deadline_check(abs, clk))
		return EINVAL;
	r = rd_lock(&c, try);
	if (r == 0)
		rd_note(rw);
	return r;
}

/* The uncontended read lock: no writer, no reservation, room in R. The
 * first CAS guesses a free word instead of loading it: under contention a
 * load brings the cache line in shared and the CAS must fetch it again for
 * writing, while a CAS that fails still returns the word with the line held
 * for writing, so the retry is local. */
static inline int rd_fast(f2_rwlock_t *rw)
{
	uint32_t v = 0;

	do {
		/* acquire: pairs with the release CAS of the previous unlock */
		if (f2_cas_weak_acquire(&rw->state, &v, v + RW_READER)) {
			rd_note(rw);
			return 1;
		}
	} while (!rw_reader_kept_out(v) && rw_readers(v) < RW_READERS_MAX);
	return 0;
}

int f2_rwlock_rdlock(f2_rwlock_t *rw)
{
	if (f2_likely(rd_fast(rw)))
		return 0;
	return rd_entry(rw, NULL, CLOCK_MONOTONIC, 0, 0);
}

int f2_rwlock_tryrdlock(f2_rwlock_t *rw)
{
	if (f2_likely(rd_fast(rw)))
		return 0;
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

/* ---- unlock ------------------------------------------------------------- */

/* An unlock that may owe wakes: the wakes are bound before the release. */
static __attribute__((noinline)) int rw_unlock_slow(f2_rwlock_t *rw, uint32_t v)
{
	struct f2_bound b;
	struct rw_wake w;
	int bound = 0;
	uint32_t next;

	for (;;) {
		if (v & RW_WRITER)
			next = v & ~RW_WRITER;
		else if (rw_readers(v) > 0)
			next = v - RW_READER;
		else
			return EPERM; /* held in neither mode */
		next = rw_owed(v, next, &w);
		if (rw_owes(&w) && !bound) {
			/* bound while we hold the lock (top of this file) */
			f2_bind_word(&b, rw, f2_pair_flags(rw, F2_SIZE_U32));
			bound = 1;
		}
		/* release: pairs with the acquire CAS of the next holder */
		if (f2_cas_weak_release(&rw->state, &v, next))
			break;
	}
	if (!(v & RW_WRITER))
		rd_forget(rw); /* thread-local: touches nothing of the lock */
	/* Self-synchronised destruction: another thread may own and free the
	 * lock from here on; only the bound wakes below, which read nothing. */
	if (rw_owes(&w))
		f2_rw_pay(&b, &w);
	return 0;
}

/* Nothing waits: no waiter count, no parked readers, no reservation. */
#define RW_WAITING (RW_WAKING | RW_RPARKED | RW_WSTARVE | RW_RSTARVE | RW_RT | \
		    (RW_WRITERS_MAX << RW_WAITER_SHIFT))

/* The unlock of v owes no wake: nobody waits, or a reader leaves other
 * readers inside. */
static inline int rw_unlock_owes_nothing(uint32_t v)
{
	if (v & RW_WRITER)
		return !(v & RW_WAITING);
	return rw_readers(v) > 1 || (rw_readers(v) == 1 && !(v & RW_WAITING));
}

int f2_rwlock_unlock(f2_rwlock_t *rw)
{
	/* guess the word of a lock the caller holds alone with nobody waiting
	 * (thread-local: which mode it holds, found once for the guess and the
	 * release); a failed CAS returns the word with its line held for
	 * writing (see rd_fast) */
	struct rd_slot *s = rd_find(rw);
	uint32_t v = s || rd_table.spill ? RW_READER : RW_WRITER;

	while (rw_unlock_owes_nothing(v)) {
		uint32_t next = (v & RW_WRITER) ? v & ~RW_WRITER : v - RW_READER;
		/* release: pairs with the acquire CAS of the next holder */
		if (f2_cas_weak_release(&rw->state, &v, next)) {
			if (!(v & RW_WRITER))
				rd_forget_at(s); /* thread-local */
			return 0;
		}
	}
	return rw_unlock_slow(rw, v);
}
