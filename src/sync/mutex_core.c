/* Slow paths of the mutex protocol (states and transitions: mutex_impl.h),
 * shared by the 32-bit f2_mutex_t and the 8-bit f2_mutex8_t.
 *
 * Unlock of an unlocked mutex: without an owner field the check only sees
 * the word. Unlocking a mutex that nobody holds is EPERM; unlocking one that
 * another thread holds cannot be told apart from a correct unlock (as with
 * glibc's PTHREAD_MUTEX_NORMAL) and releases it.
 *
 * Timed lock validates the deadline and clock up front, even when the mutex is
 * free (glibc only checks them when it must block): the same bad argument
 * gives the same EINVAL whatever the timing. A waiter whose deadline passes
 * still takes the mutex if it finds it free on the way out.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "cond_defer.h"
#include "mutex_impl.h"
#include "../internal/test_hooks.h"
#include "../internal/time.h"

#ifdef F2SYNC_TEST_HOOKS
/* Turns claimed by a starving waiter (read by the tests: test_hooks.h). */
f2_hidden uint64_t f2_mx_handoffs;
/* Spins begun by spin_acquire, the word reads they made and the times a
 * signalled waiter yielded in one (read by the tests: test_hooks.h). */
f2_hidden uint64_t f2_mx_spins, f2_mx_spin_reads, f2_mx_spin_yields;
/* The arrival's gap between reads, widened by a test that must act between
 * two reads on a slow (sanitised, emulated) build; F2_MX_SPIN_GAP_NS in the
 * shipped library. */
f2_hidden uint64_t f2_mx_spin_gap_ns = F2_MX_SPIN_GAP_NS;
#define SPIN_GAP_NS() f2_load_relaxed(&f2_mx_spin_gap_ns) /* set before the spin */
#else
#define SPIN_GAP_NS() ((uint64_t)F2_MX_SPIN_GAP_NS)
#endif


struct mx_waiter {
	void *w;
	unsigned size;
	unsigned flags;                 /* futex flags of the pair */
	const struct timespec *abs;     /* NULL: no deadline */
	clockid_t clk;
	uint64_t t0;                    /* CLOCK_MONOTONIC ns when it began to wait */
	int starving;                   /* owns the STARVE bit */
	uint64_t recheck_ns;            /* store unlock LOST: the next sleep's bound */
	int carrier;                    /* has slept (or was requeued): may carry a
	                                 * wake owed to sleepers, clears WAKER */
	int healer;                     /* set PARKED next to WAKER: sleeps bounded
	                                 * until WAKER is gone (mutex_impl.h) */
	int heal_due;                   /* its bounded sleep ran out */
};

/* Store unlock LOST (store_unlock.h): a sleep on the word lasts at most
 * recheck_ns, which doubles from RECHECK_MIN_NS up to RECHECK_MAX_NS, so a
 * waiter whose mark was wiped finds out within about the time it has already
 * waited, and a long wait costs one wake-up a second. */
#define RECHECK_MIN_NS 1000000ull
#define RECHECK_MAX_NS 1000000000ull

/* The healer's sleep bound (mutex_impl.h, WAKER): how long a WAKER whose
 * wake found nobody can hold back the wake-ups of the parked ones. */
#define HEAL_NS 1000000ull

/* Orphaned reservations. fork() leaves in the child only the forking thread,
 * which is no starver, so a STARVE bit copied from the parent has no owner:
 * the first waiter that meets it must drop it, else the mutex stays reserved
 * for a thread that does not exist and every locker hangs. Two facts, each
 * enough on its own, tell such a bit apart, per mutex:
 *   mx_gen      the fork generation: 0 in the first process, the parent's + 1
 *               in a child (raised by the fork child handler). A starver
 *               stores it in the word's GEN field with STARVE (mutex_impl.h);
 *               a GEN other than ours (mod the field's width) was set by
 *               another process's thread.
 *   mx_starvers starvers alive in this process: raised before a waiter sets
 *               STARVE, lowered when it claims its turn or gives it up; 0 in
 *               a child. With none alive, no STARVE seen can be ours. This
 *               covers the 8-bit word's 3-bit GEN, which repeats every 8
 *               generations of fork-within-fork.
 * A count of starvers alone is not enough: a child thread starving on any
 * other mutex would hide every orphaned bit (the old rule, which hung). Both
 * are touched only on the starvation path. */
static unsigned mx_starvers;
static unsigned mx_gen;

static void mx_fork_child(void)
{
	mx_starvers = 0;
	f2_add_relaxed(&mx_gen, 1); /* one thread in the child: no ordering */
}

/* This process's fork generation as stored in a word of this size. */
unsigned f2_mx_gen_bits(unsigned size)
{
	unsigned g = f2_load_relaxed(&mx_gen) << F2_MX_GEN_SHIFT; /* changes only in fork's child */

	return g & F2_MX_GEN & (unsigned)f2_size_mask(size);
}

/* Orphaned wakers. fork() copies a WAKER (mutex_impl.h) without the woken
 * waiter or the healer it counts on: in the child nothing would clear it, the
 * unlocks would wake nobody and the next waiter would sleep for good. So the
 * unlock that sets WAKER stamps GEN with its process's generation, and a
 * waiter vouches for a WAKER only when GEN is ours and our generation fits in
 * the field: a word copied by fork comes from an ancestor, whose generation
 * is smaller than ours, so below 2^width no ancestor's GEN equals ours. A
 * waiter that would sleep next to a WAKER it cannot vouch for clears it, as a
 * woken waiter does (lock_round). Clearing a WAKER is always safe: it only
 * lets the next unlock wake one more thread. So a WAKER set by another
 * process on a process-shared word (not orphaned: fork does not copy shared
 * memory) costs at most a wake, and an 8-bit word in a process 8 or more
 * forks deep (3 GEN bits) simply loses the at-most-one-woken limit. */
static int waker_vouched(unsigned size, unsigned v)
{
	unsigned width = (size == F2_SIZE_U8 ? 8u : 31u) - F2_MX_GEN_SHIFT; /* 32-bit: PENDING */

	return (f2_load_relaxed(&mx_gen) >> width) == 0 && /* changes only in fork's child */
	       (v & F2_MX_GEN) == f2_mx_gen_bits(size);
}

/* v without WAKER, and without GEN unless a STARVE keeps it (GEN stamps
 * whichever of WAKER and STARVE is set). */
static unsigned unwake(unsigned v)
{
	return v & ~(F2_MX_WAKER | ((v & F2_MX_STARVE) ? 0u : F2_MX_GEN));
}

__attribute__((constructor)) static void mx_init(void)
{
	pthread_atfork(NULL, NULL, mx_fork_child);
}

/* Release CAS, for setting STARVE (pairs with the acquire load in
 * orphaned(), see mx_starvers) and for the unlocks (pairs with the acquire
 * CAS of the next owner). */
static int cas_release(void *w, unsigned size, unsigned *exp, unsigned desired)
{
	return f2_mx_cas(w, size, exp, desired, memory_order_release); /* release: see above */
}

/* 1 if the word's STARVE bit has no starver behind it (only after a fork,
 * see mx_gen). */
static int orphaned(const struct mx_waiter *me)
{
	/* acquire: pairs with the release CAS that set STARVE */
	unsigned v = (unsigned)f2_sized_load(me->w, f2_mx_size(me->size), memory_order_acquire);

	if (!(v & F2_MX_STARVE))
		return 0;
	return (v & F2_MX_GEN) != f2_mx_gen_bits(me->size) || f2_load_seq(&mx_starvers) == 0;
}

static void starver_done(struct mx_waiter *me)
{
	if (me->starving) {
		me->starving = 0;
		f2_sub_seq(&mx_starvers, 1);
	}
}

/* Sets waiter bits (PARKED, STARVE) on a held word by CAS from *v, with
 * release order if asked (setting STARVE: see mx_starvers); on success *v is
 * the new value. An owner may be releasing a word that is exactly HELD
 * with a plain store (store_unlock.h): the CAS then also sets the sticky
 * RMW_UNLOCK, and the fence restarts such an owner so that it sees our bits
 * and takes the RMW unlock, which wakes us. If the fence fails, the state is
 * LOST from then on and sleep_while() bounds our sleeps. */
static int mark(const struct mx_waiter *me, unsigned *v, unsigned want, int release)
{
	unsigned old = *v;

	if (f2_load_relaxed(&f2_su_state) == F2_SU_ON)
		want |= F2_MX_RMW_UNLOCK;
	if (!(release ? cas_release(me->w, me->size, v, want)
	              : f2_mx_cas_relaxed(me->w, me->size, v, want)))
		return 0;
	if (old == F2_MX_HELD)
		f2_su_fence();
	*v = want;
	return 1;
}

/* Bounded spinning while the owner runs. PARKED alone does not stop it: it is
 * a hint that outlives the last sleeper (every carrier's take sets it
 * again), and an arrival that parks at it turns every later contention into
 * a sleep and a wake even with two threads (docs/design/mutex.md, "Spin or
 * park"). An arrival (carrier 0) takes a free word keeping every bit
 * (PARKED: the parked ones still get woken by our unlock; WAKER: the
 * designated waker is still on its way). A carrier (woken waiter, requeued
 * condvar waiter) takes with PARKED set and WAKER clear: its unlock then wakes
 * the next sleeper. Gives up at once on STARVE (reserved). 0 if taken.
 *
 * The spin lasts F2_TUNE_SPIN x F2_SPIN_UNIT_NS. An arrival reads the word
 * once every F2_MX_SPIN_GAP_NS, by the clock, not by a count of pauses (a
 * pause costs 1 ns on one CPU and 40 on another): each read pulls the line
 * away from the owner's CPU, and read rarely, the owner's next lock and
 * unlock hit its own cache. A carrier reads every few pauses: an unlock has
 * just woken it (or requeued it) for this mutex, and its delay is the wait
 * of the sleepers behind it (docs/design/mutex.md, "Read the word rarely").
 *
 * An arrival that reads the word held with PARKED at F2_MX_PARK_HELD_READS
 * reads in a row parks at once: the owner has held the mutex across a gap
 * with others asleep behind it, most likely because it lost its CPU, and
 * every running thread that spins out its budget meanwhile keeps it off one
 * (docs/design/mutex.md, "Park when the word stays held").
 *
 * A condvar waiter back from its sleep (SPIN_SIGNALLED) that still finds the
 * word held after one gap yields its CPU once: it was most likely woken by a
 * signal or broadcast made under the mutex, onto its signaller's CPU, and the
 * signaller cannot release the mutex until that CPU is given back
 * (docs/design/mutex.md, "A signalled waiter yields once"). */
enum spinner { SPIN_ARRIVAL, SPIN_CARRIER, SPIN_SIGNALLED };

#define F2_MX_PARK_HELD_READS 2

static int spin_acquire(void *w, unsigned size, enum spinner who)
{
	/* knob: see tuning.c */
	uint64_t budget = (uint64_t)f2_load_relaxed(&f2_tuning()->spin) * F2_SPIN_UNIT_NS;
	uint64_t t0 = 0, t = 0;
	int carrier = who != SPIN_ARRIVAL, yielded = who != SPIN_SIGNALLED;
	unsigned held = 0; /* reads in a row that found the word held */

	F2_TEST_COUNT(f2_mx_spins, 1);
	if (!budget)
		return -1;
	for (;;) {
		unsigned v = f2_mx_load(w, size);

		F2_TEST_COUNT(f2_mx_spin_reads, 1);
		if (!(v & (F2_MX_HELD | F2_MX_STARVE))) {
			unsigned want = carrier ? unwake(v | F2_MX_HELD | F2_MX_PARKED)
			                        : v | F2_MX_HELD;
			if (f2_mx_cas_acquire(w, size, &v, want))
				return 0;
		} else if (v & F2_MX_STARVE) {
			return -1;
		}
		held = (v & F2_MX_HELD) ? held + 1 : 0;
		if (!carrier && held >= F2_MX_PARK_HELD_READS && (v & F2_MX_PARKED))
			return -1;
		if (!t0)
			t = t0 = f2_now_ns(CLOCK_MONOTONIC);
		if (t - t0 >= budget)
			return -1;
		if (!yielded && t - t0 >= SPIN_GAP_NS()) {
			yielded = 1;
			F2_TEST_COUNT(f2_mx_spin_yields, 1);
			sched_yield(); /* its result does not matter: the spin goes on */
		}
		/* a carrier, woken by an unlock, reads densely: see above */
		t = f2_spin_until(t + (carrier ? 0 : SPIN_GAP_NS()));
	}
}

/* Quiet unlocks (unlock_quiet) this thread made since it last had to wait
 * for a mutex (f2_mx_lock_slow resets it): the decay waits for 64 in a row,
 * so it does not fire while this thread meets contention (docs/design/mutex.md,
 * "The quiet-unlock decay"). Per thread, any mutex: a hint. */
static __thread __attribute__((tls_model("initial-exec"))) unsigned char mx_quiet;

static int waited_too_long(const struct mx_waiter *me)
{
	uint64_t limit = f2_load_relaxed(&f2_tuning()->handoff_ns); /* knob: see tuning.c */
	return f2_now_ns(CLOCK_MONOTONIC) - me->t0 >= limit;
}

/* The deadline of a bounded sleep, ns from now on the caller's clock. Sets
 * *abs to it and returns 1, or returns 0 when the caller's own deadline comes
 * first. */
static int bound_deadline(const struct mx_waiter *me, uint64_t ns, struct timespec *ts,
                          const struct timespec **abs)
{
	uint64_t t = f2_now_ns(me->clk) + ns;

	ts->tv_sec = (time_t)(t / F2_NSEC_PER_SEC);
	ts->tv_nsec = (long)(t % F2_NSEC_PER_SEC);
	if (me->abs && f2_timespec_cmp(me->abs, ts) <= 0)
		return 0;
	*abs = ts;
	return 1;
}

/* How long the next sleep on v may last, 0 for unbounded: a healer's sleep
 * while WAKER is set lasts HEAL_NS; with store unlock LOST every sleep lasts
 * recheck_ns, which doubles from RECHECK_MIN_NS up to RECHECK_MAX_NS, so a
 * waiter whose mark was wiped finds out within about the time it has already
 * waited, and a long wait costs one wake-up a second. */
static uint64_t sleep_bound(struct mx_waiter *me, unsigned v)
{
	uint64_t ns = 0;

	if (me->healer && (v & F2_MX_WAKER))
		ns = HEAL_NS;
	if (f2_unlikely(f2_su_lost())) {
		if (!ns || me->recheck_ns < ns)
			ns = me->recheck_ns;
		if (me->recheck_ns < RECHECK_MAX_NS)
			me->recheck_ns *= 2;
	}
	return ns;
}

/* Sleeps while the word is v. Returns 0, -EAGAIN or -ETIMEDOUT.
 * If no backend can park this word (a forced backend the kernel lacks, a size
 * nobody serves), it yields instead: slower, never wrong. A sleep that ends at
 * its own bound (sleep_bound) returns 0 with heal_due set: a spurious wakeup
 * for the loop, which then clears a WAKER that outlived its waker. */
static int sleep_while(struct mx_waiter *me, unsigned v)
{
	unsigned mask = me->starving ? F2_MX_WAIT_STARVING : F2_MX_WAIT_NORMAL;
	const struct timespec *abs = me->abs;
	struct timespec ts;
	uint64_t ns = sleep_bound(me, v);
	int bounded = ns && bound_deadline(me, ns, &ts, &abs);
	int r = f2_park(me->w, v, mask, me->flags, abs, me->clk);

	if (r == -ETIMEDOUT && bounded) {
		me->heal_due = 1;
		return 0; /* our bound, not the caller's deadline */
	}
	if (r == 0 || r == -EAGAIN || r == -ETIMEDOUT)
		return r;
	if (me->abs && f2_deadline_passed(me->abs, me->clk))
		return -ETIMEDOUT;
	sched_yield();
	return 0;
}

/* Store unlock LOST: a waiter that leaves without the mutex may have been
 * the one whose mark a store unlock wiped, and so owe a wake to waiters that
 * sleep on the word unbounded (condvar waiters requeued onto it): it passes
 * the duty on to one of them, which then takes the mutex with PARKED. */
static int leave(const struct mx_waiter *me)
{
	if (f2_unlikely(f2_su_lost()))
		f2_futex_wake(me->w, F2_MX_WAKE_ANY, 1, me->flags);
	return ETIMEDOUT;
}

/* The deadline passed: take the mutex if it is free for us, else make sure
 * no turn stays reserved for us and the parked ones still get woken: we may
 * be the woken waiter or the healer that WAKER counts on, so WAKER goes. */
static int give_up(struct mx_waiter *me)
{
	unsigned v = f2_mx_load(me->w, me->size);

	for (;;) {
		unsigned keep = v & F2_MX_RMW_UNLOCK;
		int mine = me->starving ? (v & ~(keep | F2_MX_GEN)) == F2_MX_STARVE
		                        : !(v & (F2_MX_HELD | F2_MX_STARVE));
		if (mine) {
			unsigned want = me->starving ? F2_MX_HELD | F2_MX_PARKED | keep
			                             : unwake(v | F2_MX_HELD | F2_MX_PARKED);
			if (f2_mx_cas_acquire(me->w, me->size, &v, want)) {
				starver_done(me);
				return 0;
			}
			continue;
		}
		unsigned want = unwake((v & F2_MX_HELD) ? (v | F2_MX_PARKED) : v);
		if (me->starving)
			want &= ~(F2_MX_STARVE | F2_MX_GEN);
		if (want == v || mark(me, &v, want, 0)) {
			starver_done(me);
			return leave(me);
		}
	}
}

/* A healer whose bounded sleep ran out while WAKER was still set: the wake
 * that set it found nobody (or its waiter is slow to run); clear it so the
 * next unlock wakes one of the parked. 1 if it acted (the caller reloads). */
static int heal(struct mx_waiter *me, unsigned v)
{
	int due = me->heal_due;

	me->heal_due = 0;
	if (!me->healer)
		return 0;
	if (!(v & F2_MX_WAKER)) {
		me->healer = 0; /* WAKER is gone: the wake-ups flow again */
		return 0;
	}
	if (!due)
		return 0;
	me->healer = 0;
	f2_mx_cas_relaxed(me->w, me->size, &v, unwake(v));
	return 1;
}

/* Starving: reserves the next turn (STARVE), then waits a bounded while for
 * the owner's release before it parks, so that the hand-off usually goes to
 * a running thread. 0: reload, else sleep_while()'s result. */
static int starve(struct mx_waiter *me, unsigned v, int clear)
{
	/* counted before the bit is visible: a waiter that sees STARVE also
	 * sees this starver */
	f2_add_seq(&mx_starvers, 1);
	unsigned want = ((clear ? unwake(v) : v) & ~F2_MX_GEN) | F2_MX_PARKED | F2_MX_STARVE |
	                f2_mx_gen_bits(me->size);

	if (!mark(me, &v, want, 1)) {
		f2_sub_seq(&mx_starvers, 1);
		return 0;
	}
	me->starving = 1;
	for (unsigned i = f2_load_relaxed(&f2_tuning()->spin); i > 0; i--) { /* knob: tuning.c */
		if (f2_mx_load(me->w, me->size) != v)
			return 0;
		f2_cpu_relax();
	}
	return sleep_while(me, v);
}

/* One round of the wait loop: returns 1 when the mutex is ours, 0 when the
 * word changed under us (reload), 2 after a sleep (woken, or a spurious or
 * bounded return), else sleep_while()'s error. A carrier clears WAKER in every
 * change it makes, and so does an arrival next to a WAKER it cannot vouch for
 * (an orphan copied by fork: waker_vouched); otherwise an arrival leaves it
 * (the woken waiter is on its way). */
static int lock_round(struct mx_waiter *me, unsigned v)
{
	unsigned keep = v & F2_MX_RMW_UNLOCK;
	int clear = me->carrier || ((v & F2_MX_WAKER) && !waker_vouched(me->size, v));
	int r;

	if (heal(me, v))
		return 0;
	if (me->starving && !(v & F2_MX_STARVE))
		starver_done(me); /* a store unlock wiped our mark (mark()): queue again */
	if (me->starving) {
		if ((v & ~(keep | F2_MX_GEN)) == F2_MX_STARVE) {
			if (!f2_mx_cas_acquire(me->w, me->size, &v, F2_MX_HELD | F2_MX_PARKED | keep))
				return 0;
			F2_TEST_COUNT(f2_mx_handoffs, 1);
			starver_done(me);
			return 1;
		}
	} else if ((v & F2_MX_STARVE) && orphaned(me)) {
		/* an orphaned reservation (see mx_gen): drop it and retry */
		f2_mx_cas_relaxed(me->w, me->size, &v,
		                  v & ~(F2_MX_STARVE | F2_MX_GEN | F2_MX_WAKER));
		return 0;
	} else if (!(v & (F2_MX_HELD | F2_MX_STARVE))) {
		/* taken after a wait: PARKED for the ones that may still sleep */
		return f2_mx_cas_acquire(me->w, me->size, &v, unwake(v | F2_MX_HELD | F2_MX_PARKED));
	} else if ((v & F2_MX_HELD) && !(v & F2_MX_STARVE) && waited_too_long(me)) {
		r = starve(me, v, clear);
		goto slept;
	} else if ((v & F2_MX_HELD) && (!(v & F2_MX_PARKED) || (clear && (v & F2_MX_WAKER)))) {
		/* the first PARKED next to a vouched WAKER makes us the healer */
		int healer = (v & F2_MX_WAKER) && !(v & F2_MX_PARKED) && !clear;
		if (!mark(me, &v, clear ? unwake(v | F2_MX_PARKED) : v | F2_MX_PARKED, 0))
			return 0;
		me->healer |= healer;
	}
	r = sleep_while(me, v);
slept:
	if (r == -EAGAIN)
		return 0;
	me->carrier = 1; /* may have been the woken one: carry its duty */
	return r == 0 ? 2 : r;
}

int f2_mx_lock_slow(void *w, unsigned size, const struct timespec *abs, clockid_t clk,
                    int contended)
{
	struct mx_waiter me = { w, size, 0, abs, clk, 0, 0, RECHECK_MIN_NS, contended, 0, 0 };
	int r;

	mx_quiet = 0; /* contention met: no decay for 64 quiet unlocks */
	if (spin_acquire(w, size, contended ? SPIN_SIGNALLED : SPIN_ARRIVAL) == 0)
		return 0;
	me.flags = f2_pair_flags(w, size);
	me.t0 = f2_now_ns(CLOCK_MONOTONIC);
	while ((r = lock_round(&me, f2_mx_load(w, size))) != 1) {
		if (r == -ETIMEDOUT)
			return give_up(&me);
		/* Back from a sleep and running: compete with the running threads
		 * (barging) before parking again; never given the mutex. */
		if (r == 2 && !me.starving && spin_acquire(w, size, SPIN_CARRIER) == 0)
			return 0;
	}
	return 0;
}

int f2_mx_timedlock(void *w, unsigned size, const struct timespec *abs, clockid_t clk)
{

	if (!abs || f2_deadline_check(abs, clk))
		return EINVAL;
	if (f2_mx_take(w, size))
		return 0;
	return f2_mx_lock_slow(w, size, abs, clk, 0);
}

/* Unlocks a word that has had waiters but has none parked now (RMW_UNLOCK,
 * maybe WAKER, no PARKED or STARVE): no wake. Usually the bits stay
 * (RMW_UNLOCK: no fence for the next waiter), but the 64th quiet unlock in
 * a row of a thread that has not waited meanwhile (mx_quiet) drops them, so
 * a mutex whose contention has ended goes back to the store unlock and the
 * one-CAS lock. Fences are then bounded by one per 64 quiet unlocks, and a
 * word whose WAKER only waits for its woken thread to get a CPU keeps it
 * while its lockers still contend. 1 if done, 0 if the word was something
 * else. */
static int unlock_quiet(void *w, unsigned size, unsigned old)
{
	unsigned to = old & ~F2_MX_HELD;

	if (!(old & F2_MX_HELD) || (old & (F2_MX_PARKED | F2_MX_STARVE | F2_MX_PENDING)))
		return 0;
	/* A process-shared mutex (32-bit, node F2_NODE_SHARED, set by the pthread
	 * shim with RMW_UNLOCK) never decays: the fence reaches only this process.
	 * The node is read while we still own the mutex. */
	if (++mx_quiet % 64 == 0) {
		to = unwake(to); /* a hint only: dropping it costs a wake at most */
		if (size == F2_SIZE_U8 || f2_load_relaxed((int32_t *)w + 1) != F2_NODE_SHARED)
			to = F2_MX_UNLOCKED;
	}
	return cas_release(w, size, &old, to);
}

/* The word after the releasing CAS from old, and what to wake:
 *   STARVE           -> STARVE|GEN: wake the starver (WAIT_STARVING)
 *   PARKED, no WAKER -> WAKER|GEN: wake one (the designated waker,
 *                       mutex_impl.h; GEN: this process's, see waker_vouched)
 *   otherwise        -> HELD cleared, no wake (nobody parked, or a woken
 *                       waiter or a healer is on its way and will make the
 *                       next unlock wake)
 * RMW_UNLOCK is kept in every case; PENDING is cleared in every case (its
 * wakes are the caller's, after the release). */
static unsigned released(unsigned old, unsigned size, unsigned *wake)
{
	*wake = 0;
	if (old & F2_MX_STARVE) {
		*wake = F2_MX_WAIT_STARVING;
		return old & (F2_MX_STARVE | F2_MX_GEN | F2_MX_RMW_UNLOCK);
	}
	if ((old & (F2_MX_PARKED | F2_MX_WAKER)) == F2_MX_PARKED) {
		*wake = F2_MX_WAKE_ANY;
		return (old & F2_MX_RMW_UNLOCK) | F2_MX_WAKER | f2_mx_gen_bits(size);
	}
	return old & ~(F2_MX_HELD | F2_MX_PENDING);
}

int f2_mx_unlock_slow(void *w, unsigned size)
{
	/* The wake is bound before the release: after it, the mutex may be
	 * locked, unlocked and freed by another thread. */
	struct f2_bound pw;
	unsigned old = f2_mx_load(w, size), wake; /* a guess for the CAS */

	if (unlock_quiet(w, size, old))
		return 0;
	f2_bind_word(&pw, w, f2_pair_flags(w, size));
	old = f2_mx_load(w, size); /* a guess for the CAS */
	do {
		if (!(old & F2_MX_HELD))
			return EPERM; /* not held: nothing changed */
	} while (!cas_release(w, size, &old, released(old, size, &wake)));
	/* Self-synchronised destruction: from here on only the futex wakes on
	 * addresses, which are harmless if the memory is gone. */
	if (old & F2_MX_PENDING) {
		/* acquire: pairs with the release CAS that set PENDING, so the
		 * slot entry it recorded before is seen (cond_defer.c) */
		atomic_thread_fence(memory_order_acquire);
		f2_cd_flush(w);
	}
	if (wake)
		f2_wake_bound(&pw, wake, 1);
	return 0;
}
