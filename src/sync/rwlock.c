/* f2_rwlock_t: a barging reader-writer lock on one futex word, with eventual
 * fairness both ways.
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
 *   BIAS     bit 6   readers may hold the lock through reader slots, not
 *                    counted in R (see "reader slots" below)
 *   W        8 bits  writers counted as parked (mask WRITER), not the starver
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
 * Waiting: no spin on the word (as glibc's and nsync's rwlocks: with more
 * threads than CPUs a spinner keeps its CPU on the lock's cache line while the
 * holder may have no CPU; measured in docs/design/rwlock.md). Once per wait,
 * before its first mark, a waiter that is not real-time backs off a bounded
 * while without touching the lock (rw_back_off) and looks again. A reader that
 * may not enter sets RPARKED and parks, with mask READER and a timer until it
 * has waited handoff_ns, then with mask RLATE; a writer counts itself in W
 * and parks (mask WRITER) with a timer at its start + handoff_ns. A writer
 * that has waited that long and finds WSTARVE clear moves from W to WSTARVE
 * and parks with mask WSTARVE; a reader that has waited that long sets
 * RSTARVE when it finds it clear and the lock held by a writer, or free and
 * not reserved by WSTARVE (never ahead of a reserving writer, never while
 * readers drain). Both reservers then take the very next turn of their kind.
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
 * nothing of the pair. An unlock with nobody to wake is a single CAS. A
 * read unlock through a reader slot touches only the slot and its row.
 */
#include <errno.h>
#include <sched.h>

#include "f2sync/rwlock.h"
#include "rwlock_held.h"
#include "rwlock_word.h"
#include "sync_impl.h"
#include "../internal/atomic.h"
#include "../internal/test_hooks.h"
#include "../internal/time.h"

#ifdef F2SYNC_TEST_HOOKS
/* Spins begun by writers draining reader slots, the rwlock's only spin:
 * waiters on the word never spin on it (read by the tests: test_hooks.h). */
f2_hidden uint64_t f2_rw_spins;
/* Back-offs begun by waiters on the word (rw_back_off). */
f2_hidden uint64_t f2_rw_backoffs;
#endif

/* A waiter's back-off before its first mark: RW_BACKOFF_PER_SPIN pauses per
 * unit of the spin knob, at most RW_BACKOFF_MAX (measured: docs/design/rwlock.md,
 * "The back-off before the first mark"). */
#define RW_BACKOFF_PER_SPIN 4u
#define RW_BACKOFF_MAX 4096u

struct rw_call {
	f2_rwlock_t *rw;
	const struct timespec *abs;  /* NULL: no deadline */
	clockid_t clk;
	unsigned flags;              /* futex flags of the pair; 0 until needed */
	int prefer_reader;           /* passes WSTARVE while R > 0 (pthread shim) */
	int starving;                /* owns RSTARVE (reader) or WSTARVE (writer) */
	int counted;                 /* writer: counted in W */
	int woken;                   /* writer: back from a futex wait, WAKING not yet cleared */
	int late;                    /* has waited handoff_ns (cached rw_expired) */
	int rt;                      /* real-time policy (SCHED_FIFO/RR); -1 until it would park */
	int revoke;                  /* writer: its taking CAS cleared BIAS (drain the slots) */
	uint64_t t0;                 /* CLOCK_MONOTONIC ns when it began to wait */
};

/* The wakes a releasing transition owes (see the top of this file). */
struct rw_wake {
	int readers, late, starver, writer, rt;
};

static unsigned rw_flags(struct rw_call *c)
{
	if (!c->flags)
		c->flags = f2_pair_flags(c->rw, F2_SIZE_U32);
	return c->flags;
}

static uint32_t rw_load(const f2_rwlock_t *rw)
{
	return f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
}

static inline int rw_owes(const struct rw_wake *w)
{
	return w->readers || w->late || w->starver || w->writer || w->rt;
}

/* A real-time waiter may sleep (RT) and the change opens the lock: wake
 * every sleeper, writers first, and let the scheduler order them (see the
 * top of this file). RPARKED and RT go; WAKING stands for the woken writers. */
static inline uint32_t rw_owed_rt(uint32_t next, struct rw_wake *w)
{
	w->readers = w->late = w->starver = w->writer = 0;
	w->rt = 1;
	next &= ~(RW_RT | RW_RPARKED);
	if (rw_writers(next) > 0)
		next |= RW_WAKING;
	return next;
}

/* Completes the releasing transition old -> next with the wakes it owes. */
static inline uint32_t rw_owed(uint32_t old, uint32_t next, struct rw_wake *w)
{
	int freed = (old & RW_WRITER) && !(next & RW_WRITER);
	int drained = rw_readers(old) > 0 && rw_readers(next) == 0;

	w->readers = (old & RW_RPARKED) && !rw_reader_kept_out(next) &&
		     (freed || rw_reader_kept_out(old));
	w->late = !w->readers && (old & RW_RPARKED) && freed;
	if (w->readers)
		next &= ~RW_RPARKED;
	w->starver = (old & RW_WSTARVE) && (next & RW_WSTARVE) && rw_starver_may(next) &&
		     !rw_starver_may(old);
	w->writer = rw_writer_may(next) && rw_writers(next) > 0 && !(next & RW_WAKING);
	if (w->writer)
		next |= RW_WAKING;
	w->rt = 0;
	if ((old & RW_RT) && (freed || drained || rw_owes(w)))
		return rw_owed_rt(next, w); /* every sleeper: includes the wakes above */
	return next;
}

/* After the releasing CAS: only the bound wakes, which read nothing. */
static void rw_pay(const struct f2_bound *b, const struct rw_wake *w)
{
	if (w->rt) {
		/* writers first: at equal priority the scheduler runs them first */
		f2_wake_bound(b, RW_MASK_WRITER | RW_MASK_WSTARVE, INT32_MAX);
		f2_wake_bound(b, RW_MASK_READER | RW_MASK_RLATE, INT32_MAX);
		return;
	}
	if (w->readers || w->late)
		f2_wake_bound(b, w->readers ? RW_MASK_READER | RW_MASK_RLATE : RW_MASK_RLATE,
			      INT32_MAX);
	if (w->starver)
		f2_wake_bound(b, RW_MASK_WSTARVE, 1);
	if (w->writer)
		f2_wake_bound(b, RW_MASK_WRITER, 1);
}

/* 1 once the caller has waited handoff_ns. */
static int rw_expired(struct rw_call *c)
{
	uint64_t limit = f2_load_relaxed(&f2_tuning()->handoff_ns); /* knob: see tuning.c */

	if (!c->late)
		c->late = f2_now_ns(CLOCK_MONOTONIC) - c->t0 >= limit;
	return c->late;
}

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* 1 if the caller runs under a real-time policy. Asked once per wait, when
 * it first would park: one system call beside the futex wait it precedes;
 * the uncontended and spinning paths never ask. */
static int rw_rt(struct rw_call *c)
{
	if (c->rt < 0) {
		int p = sched_getscheduler(0);
		p = p < 0 ? SCHED_OTHER : p & ~SCHED_RESET_ON_FORK;
		c->rt = p == SCHED_FIFO || p == SCHED_RR;
	}
	return c->rt;
}

/* Once per wait, when the caller first would mark the word and park, and
 * only if it is not real-time: pauses a bounded while without touching the
 * lock, then the caller looks again (docs/design/rwlock.md, "The back-off
 * before the first mark"). A mark makes every later unlock pay for a wake
 * and the waiter for a futex wait that mostly fails, while the sections are
 * short and the lock mostly open again a few microseconds later; unlike the
 * old spin it reads nothing, so it leaves the lock's cache line to the CPU
 * that holds it. The spin knob bounds it: 0 marks at once. */
static void rw_back_off(struct rw_call *c)
{
	unsigned n = f2_load_relaxed(&f2_tuning()->spin); /* knob, no ordering */

	if (rw_rt(c) || !n)
		return; /* a real-time waiter's order comes from its priority */
	n = n < RW_BACKOFF_MAX / RW_BACKOFF_PER_SPIN ? n * RW_BACKOFF_PER_SPIN : RW_BACKOFF_MAX;
	F2_TEST_COUNT(f2_rw_backoffs, 1);
	while (n--)
		f2_cpu_relax();
}

/* The caller's deadline as a CLOCK_MONOTONIC time in ns (an estimate for a
 * CLOCK_REALTIME deadline: only used to pick the earlier timer). */
static uint64_t rw_deadline_mono(const struct rw_call *c)
{
	uint64_t abs = (uint64_t)c->abs->tv_sec * F2_NSEC_PER_SEC + (uint64_t)c->abs->tv_nsec;
	uint64_t now;

	if (c->clk == CLOCK_MONOTONIC)
		return abs;
	now = f2_now_ns(c->clk);
	return f2_now_ns(CLOCK_MONOTONIC) + (abs > now ? abs - now : 0);
}

/* Sleeps while the word is v, until woken, the caller's deadline, or (fair
 * nonzero) CLOCK_MONOTONIC time fair ns. 0 to retry, ETIMEDOUT at the
 * caller's deadline. When no backend can park the word it yields instead:
 * slower, never wrong. */
static int rw_park(struct rw_call *c, uint32_t v, unsigned mask, uint64_t fair)
{
	const struct timespec *abs = c->abs;
	clockid_t clk = c->clk;
	struct timespec t;
	int r;

	if (fair && (!abs || fair < rw_deadline_mono(c))) {
		t.tv_sec = (time_t)(fair / F2_NSEC_PER_SEC);
		t.tv_nsec = (long)(fair % F2_NSEC_PER_SEC);
		abs = &t;
		clk = CLOCK_MONOTONIC;
	}
	r = f2_park(&c->rw->state, v, mask, rw_flags(c), abs, clk);
	if (r == 0 || r == -EAGAIN)
		return 0;
	if (c->abs && f2_deadline_passed(c->abs, c->clk))
		return ETIMEDOUT;
	if (r != -ETIMEDOUT)
		sched_yield();
	return 0;
}


/* ---- reader slots (BRAVO: Dice and Kogan, 2019) --------------------------
 * While BIAS is set, a reader may hold the lock without writing its word: it
 * publishes the lock's address in its reader slot, a cache line of its own in
 * a static table, and holds the lock if the word then still shows BIAS and
 * lets plain readers in. The slot is rb_slot[row(lock)][col(thread)], so a
 * writer scans one row. BIAS is set only by a word read lock that finds
 * nobody waiting, once the row's inhibit time has passed; only a CAS that
 * sets WRITER clears it, and that writer then drains the row: it waits until
 * no slot names the lock, parked on the row's futex word, which a reader that
 * empties its slot bumps and wakes whenever the row counts a waiter. Dekker,
 * seq_cst on both sides: the reader's slot CAS then its load of the word; the
 * writer's CAS of the word, a fence, then its loads of the slots: either the
 * reader sees BIAS gone or the writer sees the slot. A reader's unlock writes
 * only its slot and the row: nothing of the lock (destruction stays safe).
 * Policy: a drain costs the writer a scan and the wait for readers, so BIAS
 * stays off for an inhibit time, the last drain << shift: shift grows by one
 * (up to RB_SHIFT_MAX) after each drain while BIAS lives on average less than
 * two drains or RB_LIVED_MIN ns (writes too frequent for readers to gain),
 * and falls by one when it lives twice that. Readers read the clock once
 * every RB_TICK word read locks (RB_TICK_SLOW while inhibited). */
#define RB_ROWS 64u
#define RB_COLS 16u
#define RB_MASK 1u               /* futex mask on a row's seq */
#define RB_TICK 8u
#define RB_TICK_SLOW 256u
#define RB_SHIFT_MAX 10u
#define RB_LIVED_MIN 1000u       /* ns; measured: docs/design/rwlock.md */

struct rb_slot {
	const void *lock;        /* the lock this slot's thread reads; NULL: none */
} __attribute__((aligned(64)));

struct rb_row {
	uint32_t seq;            /* futex word of draining writers: bumped at each wake */
	uint32_t waiters;        /* writers parked or about to park on seq */
	uint32_t hint;           /* a lock of this row may have BIAS (a hint) */
	uint32_t shift;          /* inhibit time = last drain << shift (0: none) */
	uint64_t inhibit;        /* CLOCK_MONOTONIC ns before which BIAS stays off */
	uint64_t enabled;        /* CLOCK_MONOTONIC ns when BIAS was last set */
	uint64_t lived;          /* moving average of how long BIAS lived, ns */
} __attribute__((aligned(64)));

static struct rb_slot rb_slot[RB_ROWS][RB_COLS];
static struct rb_row rb_row[RB_ROWS];
static unsigned rb_cols;         /* columns handed out so far */

struct rb_self {
	unsigned col;            /* this thread's column + 1; 0 until first needed */
	unsigned tick;           /* word read locks until the next look at the clock */
	uint64_t now;            /* the clock at that look */
};
static __thread struct rb_self rb_self __attribute__((tls_model("initial-exec")));

#ifdef F2SYNC_TEST_HOOKS
int f2_rw_nobias; /* tests: 1 keeps BIAS off, for white-box checks of R */
#define RB_DISABLED() f2_load_relaxed(&f2_rw_nobias) /* a test switch: orders nothing */
#else
#define RB_DISABLED() 0
#endif

static inline struct rb_row *rb_row_of(const void *lock)
{
	uint64_t h = (uint64_t)(uintptr_t)lock * 0x9e3779b97f4a7c15ull;
	return &rb_row[h >> 58]; /* the top 6 bits: RB_ROWS rows */
}

static inline struct rb_slot *rb_mine(const void *lock)
{
	uint64_t h = (uint64_t)(uintptr_t)lock * 0x9e3779b97f4a7c15ull;
	unsigned col = rb_self.col;

	if (f2_unlikely(!col)) /* relaxed: a name, orders nothing */
		col = rb_self.col = f2_add_relaxed(&rb_cols, 1) % RB_COLS + 1;
	return &rb_slot[h >> 58][col - 1];
}
_Static_assert(RB_ROWS == 64, "rb_row_of takes 6 bits");

/* Empties the caller's slot for lock, then wakes the row's draining
 * writers if it counts any. Touches nothing of the lock. */
static void rb_leave(const void *lock)
{
	struct rb_row *row = rb_row_of(lock);

	/* seq_cst store: releases the read section to the drain's load, and
	 * comes before the load of waiters (Dekker with rb_wait) */
	f2_store_seq(&rb_mine(lock)->lock, NULL);
	if (f2_load_seq(&row->waiters)) {
		f2_add_seq(&row->seq, 1);
		f2_futex_wake(&row->seq, RB_MASK, INT32_MAX, F2_PRIVATE | F2_SIZE_U32);
	}
}

/* A read lock through the caller's slot: 1 if held. */
static int rb_enter(f2_rwlock_t *rw)
{
	const void *empty = NULL;
	uint32_t v;

	/* seq_cst CAS, then the seq_cst load: Dekker with rb_revoke */
	if (!f2_cas_seq(&rb_mine(rw)->lock, &empty, (const void *)rw))
		return 0; /* another thread of this column holds the slot */
	/* also acquire: BIAS was set by a CAS that read the last release */
	v = f2_load_seq(&rw->state);
	if ((v & RW_BIAS) && !rw_reader_kept_out(v) && !(v & RW_RT))
		return 1;
	rb_leave(rw);
	if (!(v & RW_BIAS)) /* the hint misled: the row's readers take the word */
		f2_store_relaxed(&rb_row_of(rw)->hint, 0);
	return 0;
}

/* 1 if a word read lock that finds v may also set BIAS: nobody waits, the
 * lock is not process-shared (the slots are per process), and the row's
 * inhibit time has passed. The clock is read once every RB_TICK calls. */
static int rb_due(f2_rwlock_t *rw, uint32_t v)
{
	const uint32_t busy = RW_WRITER | RW_BIAS | RW_WAKING | RW_RPARKED | RW_WSTARVE |
			      RW_RSTARVE | RW_RT;

	if (f2_likely(rb_self.tick)) {
		rb_self.tick--;
		return 0;
	}
	rb_self.tick = RB_TICK;
	if ((v & busy) || rw_writers(v) > 0 || RB_DISABLED())
		return 0;
	if (f2_load_relaxed(&rw->node) == F2_NODE_SHARED) /* relaxed: fixed at init */
		return 0;
	rb_self.now = f2_now_ns(CLOCK_MONOTONIC);
	if (rb_self.now >= f2_load_relaxed(&rb_row_of(rw)->inhibit)) /* a policy hint */
		return 1;
	rb_self.tick = RB_TICK_SLOW;
	return 0;
}

/* The read lock that set BIAS: the row's readers may try their slots. */
static void rb_enabled(f2_rwlock_t *rw)
{
	struct rb_row *row = rb_row_of(rw);

	f2_store_relaxed(&row->enabled, rb_self.now); /* policy hints: no order */
	f2_store_relaxed(&row->hint, 1);
}

/* The policy after a drain from t0 to t1 (see the top of this section). */
static void rb_inhibit(struct rb_row *row, uint64_t t0, uint64_t t1)
{
	uint64_t avg = f2_load_relaxed(&row->lived); /* policy hints: relaxed */
	uint64_t worth = (t1 - t0) * 2 > RB_LIVED_MIN ? (t1 - t0) * 2 : RB_LIVED_MIN;
	unsigned sh = f2_load_relaxed(&row->shift);

	avg = avg - avg / 8 + (t0 - f2_load_relaxed(&row->enabled)) / 8;
	if (avg < worth)
		sh = sh < RB_SHIFT_MAX ? sh + 1 : sh;
	else if (sh && avg >= 2 * worth)
		sh--;
	f2_store_relaxed(&row->lived, avg);
	f2_store_relaxed(&row->shift, sh);
	f2_store_relaxed(&row->inhibit, sh ? t1 + ((t1 - t0) << sh) : 0);
}

/* Waits while slot p names rw: spins a bounded while, then parks on the
 * row's seq. 0, or ETIMEDOUT once abs has passed. */
static int rb_wait(struct rb_row *row, const void **p, const f2_rwlock_t *rw,
		   const struct timespec *abs, clockid_t clk)
{
	unsigned spin = f2_load_relaxed(&f2_tuning()->spin); /* knob, no ordering */
	int err = 0;

	F2_TEST_COUNT(f2_rw_spins, 1);
	for (unsigned n = 0; f2_load_seq(p) == (const void *)rw; n++) {
		if (n < spin) {
			f2_cpu_relax();
			continue;
		}
		/* seq_cst count, then seq and the slot: Dekker with rb_leave */
		f2_add_seq(&row->waiters, 1);
		uint32_t s = f2_load_seq(&row->seq);
		if (f2_load_seq(p) == (const void *)rw) {
			int e = f2_park(&row->seq, s, RB_MASK, F2_PRIVATE | F2_SIZE_U32, abs, clk);
			if (abs && f2_deadline_passed(abs, clk))
				err = ETIMEDOUT;
			else if (e && e != -EAGAIN && e != -ETIMEDOUT)
				sched_yield(); /* no backend parks it: slower, never wrong */
		}
		f2_sub_relaxed(&row->waiters, 1); /* a reader that misses it wakes for nothing */
		if (err)
			return err;
	}
	return 0;
}

static int rw_unlock_slow(f2_rwlock_t *rw, uint32_t v, uint32_t bias);

/* The caller took WRITER with a CAS that cleared BIAS: waits until no slot
 * of the row names rw. On EBUSY (try: a slot does) or ETIMEDOUT (abs
 * passed) it gives WRITER back with the wakes that owes, and sets BIAS again
 * in the same CAS: readers may still hold rw through their slots, and only
 * BIAS makes the next writer drain them. */
static __attribute__((noinline)) int rb_revoke(f2_rwlock_t *rw, const struct timespec *abs,
					       clockid_t clk, int try)
{
	struct rb_row *row = rb_row_of(rw);
	struct rb_slot *slot = rb_slot[row - rb_row];
	uint64_t t0 = f2_now_ns(CLOCK_MONOTONIC);
	int err = 0;

	f2_store_relaxed(&row->hint, 0); /* a hint */
	/* seq_cst: our CAS before the slot loads (Dekker with rb_enter) */
	f2_fence_seq();
	for (unsigned i = 0; i < RB_COLS && !err; i++) {
		if (f2_load_seq(&slot[i].lock) != (const void *)rw)
			continue;
		err = try ? EBUSY : rb_wait(row, &slot[i].lock, rw, abs, clk);
	}
	rb_inhibit(row, t0, f2_now_ns(CLOCK_MONOTONIC));
	if (err) {
		rw_unlock_slow(rw, rw_load(rw), RW_BIAS);
		f2_store_relaxed(&row->hint, 1); /* a hint */
	}
	return err;
}

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
		f2_bind_word(&b, rw, rw_flags(c));
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
				rw_pay(&b, &w);
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
	if (c->rt < 0) { /* first time: the policy, and the back-off */
		rw_back_off(c);
		return 0; /* look again: a real-time reader may pass counted writers */
	}
	/* reserve the read turn after a writer's, or of a free lock that only
	 * counted writers wait for; never ahead of a reserving writer. A
	 * real-time reader never reserves: priority orders it. */
	if (!c->rt && !c->starving && !(v & RW_RSTARVE) &&
	    ((v & RW_WRITER) || (rw_readers(v) == 0 && !(v & RW_WSTARVE))) && rw_expired(c)) {
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
		if (rw_park(c, v, RW_MASK_READER, 0))
			return rd_leave(c, ETIMEDOUT) == 0 ? 1 : ETIMEDOUT;
	} else if (rw_expired(c)) {
		if (rw_park(c, v, RW_MASK_RLATE, 0))
			return rd_leave(c, ETIMEDOUT) == 0 ? 1 : ETIMEDOUT;
	} else if (rw_park(c, v, RW_MASK_READER,
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
	/* no spin, one back-off (rd_round): "Waiting" at the top of this file */
	c->t0 = f2_now_ns(CLOCK_MONOTONIC);
	while ((r = rd_round(c, v)) == 0)
		v = rw_load(c->rw);
	return r == 1 ? 0 : r;
}

static int rd_entry(f2_rwlock_t *rw, const struct timespec *abs, clockid_t clk, int try,
		    int prefer_reader)
{
	struct rw_call c = { .rw = rw, .abs = abs, .clk = clk, .prefer_reader = prefer_reader,
			     .rt = -1 };
	struct rd_slot *s;
	int r;

	if (abs && f2_deadline_check(abs, clk))
		return EINVAL;
	s = rd_find(rw);
	if (s && s->bias) { /* as rd_quick: a draining writer waits for this thread */
		s->n++;
		return 0;
	}
	r = rd_lock(&c, try);
	if (r == 0)
		rd_note(rw);
	return r;
}

/* The uncontended read lock on the word: no writer, no reservation, room in
 * R; counted in the thread's table at at (or spill if NULL). The first CAS
 * guesses a free word instead of loading it: under contention a load brings
 * the cache line in shared and the CAS must fetch it again for writing,
 * while a CAS that fails still returns the word with the line held for
 * writing, so the retry is local. It may set BIAS (rb_due). */
static inline int rd_fast(f2_rwlock_t *rw, struct rd_slot *at)
{
	uint32_t v = 0;

	do {
		uint32_t bias = f2_unlikely(rb_due(rw, v)) ? RW_BIAS : 0;
		/* acquire: pairs with the release CAS of the previous unlock */
		if (f2_cas_weak_acquire(&rw->state, &v, (v + RW_READER) | bias)) {
			rd_note_at(rw, at);
			if (bias)
				rb_enabled(rw);
			return 1;
		}
	} while (!rw_reader_kept_out(v) && rw_readers(v) < RW_READERS_MAX);
	return 0;
}

/* A read lock without waiting, through the slot or the word: 1 if held. A
 * thread that holds rw through its slot counts more read locks in its table
 * only: a writer draining the slot waits for the first, so the next must not
 * wait behind that writer. */
static inline int rd_quick(f2_rwlock_t *rw)
{
	struct rd_slot *free;
	struct rd_slot *s = rd_scan(rw, &free);

	if (s) {
		if (s->bias) {
			s->n++;
			return 1;
		}
		return rd_fast(rw, s);
	}
	/* relaxed: a hint; rb_enter's CAS and load decide. Not while spill
	 * counts read locks: the table must say which kind each one is */
	if (free && !rd_table.spill && f2_load_relaxed(&rb_row_of(rw)->hint) && rb_enter(rw)) {
		free->lock = rw;
		free->n = 1;
		free->bias = 1;
		return 1;
	}
	return rd_fast(rw, free);
}

int f2_rwlock_rdlock(f2_rwlock_t *rw)
{
	if (f2_likely(rd_quick(rw)))
		return 0;
	return rd_entry(rw, NULL, CLOCK_MONOTONIC, 0, 0);
}

int f2_rwlock_tryrdlock(f2_rwlock_t *rw)
{
	if (f2_likely(rd_quick(rw)))
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

/* ---- writers ------------------------------------------------------------ */

static int wr_may(struct rw_call *c, uint32_t v)
{
	return c->starving ? rw_starver_may(v) : rw_writer_may(v);
}

/* v with the caller's marks taken off: its count in W, WAKING if it owes
 * clearing it, WSTARVE if it owns it. */
static uint32_t wr_unmark(const struct rw_call *c, uint32_t v)
{
	if (c->counted)
		v -= RW_WAITER;
	if (c->woken)
		v &= ~RW_WAKING;
	if (c->starving)
		v &= ~RW_WSTARVE;
	return v;
}

static void wr_unmarked(struct rw_call *c)
{
	c->counted = c->woken = c->starving = 0;
}

/* CAS v -> held by the caller. 1 if taken, 0 if v changed (reloaded). */
static int wr_take(struct rw_call *c, uint32_t *v)
{
	/* acquire: pairs with the release CAS of the previous unlock; clearing
	 * BIAS makes the caller drain the slots (rb_revoke) */
	if (!f2_cas_weak_acquire(&c->rw->state, v, (wr_unmark(c, *v) | RW_WRITER) & ~RW_BIAS))
		return 0;
	wr_unmarked(c);
	c->revoke = (*v & RW_BIAS) != 0;
	return 1;
}

/* The deadline passed: take the lock if it is open to us, else take our
 * marks off the word, with the wakes that may owe. */
static int wr_leave(struct rw_call *c)
{
	f2_rwlock_t *rw = c->rw;
	uint32_t v = rw_load(rw);
	struct f2_bound b;
	struct rw_wake w;

	/* bound now: once our CAS lets others in, they may free the lock */
	f2_bind_word(&b, rw, rw_flags(c));
	for (;;) {
		if (wr_may(c, v)) {
			if (wr_take(c, &v))
				return 0;
			continue;
		}
		uint32_t want = rw_owed(v, wr_unmark(c, v), &w);
		if (f2_cas_relaxed(&rw->state, &v, want)) { /* no data: gives up marks */
			wr_unmarked(c);
			if (rw_owes(&w))
				rw_pay(&b, &w);
			return ETIMEDOUT;
		}
	}
}

/* The writer count is full (RW_WRITERS_MAX counted): sleep a millisecond,
 * bounded by the deadline, and try again. Nobody wakes RW_MASK_POLL. */
static int wr_poll_full(struct rw_call *c, uint32_t v)
{
	uint64_t t = f2_now_ns(CLOCK_MONOTONIC) + 1000000u;

	if (rw_park(c, v, RW_MASK_POLL, t))
		return ETIMEDOUT;
	return 0;
}

/* Puts the caller's mark on the word before it parks: its count in W, or
 * WSTARVE once it has waited handoff_ns; clears WAKING if it owes that.
 * 1 if the word is now *v, 0 if it changed, ETIMEDOUT from the poll. */
static int wr_mark(struct rw_call *c, uint32_t *v)
{
	uint32_t want, rt = c->rt ? RW_RT : 0;

	if (!c->rt && !c->starving && !(*v & RW_WSTARVE) && rw_expired(c)) {
		want = wr_unmark(c, *v) | RW_WSTARVE;
		if (!f2_cas_relaxed(&c->rw->state, v, want)) /* no data: a reservation */
			return 0;
		wr_unmarked(c);
		c->starving = 1;
		*v = want;
		return 0; /* look again: the turn may be ours already */
	}
	if (c->starving || c->counted) {
		want = (c->woken ? *v & ~RW_WAKING : *v) | rt;
		if (want != *v && !f2_cas_relaxed(&c->rw->state, v, want)) /* no data: a flag */
			return 0;
		c->woken = 0;
		*v = want;
		return 1;
	}
	if (rw_writers(*v) == RW_WRITERS_MAX)
		return wr_poll_full(c, *v);
	want = (*v + RW_WAITER) | rt;
	if (!f2_cas_relaxed(&c->rw->state, v, want)) /* no data: a count for unlock */
		return 0;
	c->counted = 1;
	*v = want;
	return 1;
}

/* One round of a waiting writer on the word v: 1 taken, 0 retry, ETIMEDOUT. */
static int wr_round(struct rw_call *c, uint32_t v)
{
	uint64_t fair = 0;
	unsigned mask;
	int r;

	if (wr_may(c, v))
		return wr_take(c, &v);
	if (c->rt < 0) { /* first time: the policy, and the back-off */
		rw_back_off(c);
		return 0; /* look again */
	}
	r = wr_mark(c, &v);
	if (r != 1)
		return r;
	mask = c->starving ? RW_MASK_WSTARVE : RW_MASK_WRITER;
	/* Wake up in time to reserve a turn. A writer that became late since
	 * wr_mark looked (preempted between the two) must not sleep without
	 * that timer while the reservation is free: under continuous readers
	 * nothing else would wake it. The timer is then already due, so the park
	 * returns at once and the next round's wr_mark reserves. (Behind another
	 * writer's reservation it sleeps untimed, as before: a due timer there
	 * would make it spin.) */
	if (!c->rt && !c->starving && (!rw_expired(c) || !(v & RW_WSTARVE)))
		fair = c->t0 + f2_load_relaxed(&f2_tuning()->handoff_ns); /* knob: see tuning.c */
	r = rw_park(c, v, mask, fair);
	c->woken = c->counted;
	if (r)
		return wr_leave(c) == 0 ? 1 : ETIMEDOUT;
	return 0;
}

static int wr_lock(struct rw_call *c, int try)
{
	uint32_t v = rw_load(c->rw);
	int r;

	while (rw_writer_may(v))
		if (wr_take(c, &v))
			return 0;
	if (try)
		return EBUSY;
	/* no spin, one back-off (wr_round): "Waiting" at the top of this file */
	c->t0 = f2_now_ns(CLOCK_MONOTONIC);
	while ((r = wr_round(c, v)) == 0)
		v = rw_load(c->rw);
	return r == 1 ? 0 : r;
}

static int wr_entry(f2_rwlock_t *rw, const struct timespec *abs, clockid_t clk, int try)
{
	struct rw_call c = { .rw = rw, .abs = abs, .clk = clk, .rt = -1 };
	int r;

	if (abs && f2_deadline_check(abs, clk))
		return EINVAL;
	r = wr_lock(&c, try);
	if (r == 0 && c.revoke)
		r = rb_revoke(rw, abs, clk, try);
	return r;
}

/* The uncontended write lock: nobody holds or reserved it. Guesses a free
 * word first, as rd_fast. *old: the word it replaced. */
static inline int wr_fast(f2_rwlock_t *rw, uint32_t *old)
{
	*old = 0;
	/* acquire (both): pairs with the release CAS of the previous unlock */
	if (f2_cas_acquire(&rw->state, old, RW_WRITER))
		return 1;
	return rw_writer_may(*old) &&
	       f2_cas_acquire(&rw->state, old, (*old | RW_WRITER) & ~RW_BIAS);
}

int f2_rwlock_wrlock(f2_rwlock_t *rw)
{
	uint32_t old;

	if (f2_likely(wr_fast(rw, &old)))
		return f2_unlikely(old & RW_BIAS) ? rb_revoke(rw, NULL, CLOCK_MONOTONIC, 0) : 0;
	return wr_entry(rw, NULL, CLOCK_MONOTONIC, 0);
}

int f2_rwlock_trywrlock(f2_rwlock_t *rw)
{
	uint32_t old;

	if (f2_likely(wr_fast(rw, &old)))
		return f2_unlikely(old & RW_BIAS) ? rb_revoke(rw, NULL, CLOCK_MONOTONIC, 1) : 0;
	return wr_entry(rw, NULL, CLOCK_MONOTONIC, 1);
}

int f2_rwlock_timedwrlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock)
{
	if (!abstime)
		return EINVAL;
	return wr_entry(rw, abstime, clock, 0);
}

/* ---- unlock ------------------------------------------------------------- */

/* An unlock that may owe wakes: the wakes are bound before the release.
 * bias: RW_BIAS from a writer that gives WRITER back undrained (rb_revoke),
 * else 0. */
static __attribute__((noinline)) int rw_unlock_slow(f2_rwlock_t *rw, uint32_t v, uint32_t bias)
{
	struct f2_bound b;
	struct rw_wake w;
	int bound = 0;
	uint32_t next;

	for (;;) {
		if (v & RW_WRITER)
			next = (v & ~RW_WRITER) | bias;
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
		rw_pay(&b, &w);
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

	if (s && s->bias) { /* thread-local, then our slot and its row only */
		if (!--s->n) {
			s->bias = 0;
			rb_leave(rw);
		}
		return 0;
	}

	while (rw_unlock_owes_nothing(v)) {
		uint32_t next = (v & RW_WRITER) ? v & ~RW_WRITER : v - RW_READER;
		/* release: pairs with the acquire CAS of the next holder */
		if (f2_cas_weak_release(&rw->state, &v, next)) {
			if (!(v & RW_WRITER))
				rd_forget_at(s); /* thread-local */
			return 0;
		}
	}
	return rw_unlock_slow(rw, v, 0);
}
