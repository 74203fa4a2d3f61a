/* f2_cond_t and f2_cond64_t: one sequence-counter condvar with a count of
 * its waiters, parameterised by the width of its sequence word (32 or 64
 * bits). docs/design/cond.md has the proofs.
 *
 * The sequence word (the value half of the NUMA pair { seq; node; }):
 *   seq        bumped by SEQ_ONE by every signal or broadcast that takes a
 *              waiter; a waiter sleeps on the value it read.
 * The count (c->waiters, a plain 32-bit word, never waited on):
 *   0          nobody to wake: signal and broadcast return after one load
 *   1..MANY-1  waiters that no signal or broadcast has taken yet (at least
 *              every one asleep; see "surplus" below)
 *   >= MANY    saturated: signal wakes without counting down, broadcast
 *              resets it to 0
 * Transitions:
 *   wait       under the mutex: v = load(seq), then count + 1 (seq_cst, in
 *              that order); release the mutex; if the count was 0 before,
 *              watch the mutex (below); sleep while seq == v.
 *   signal     if count > 0: count - 1 (CAS), seq + SEQ_ONE, wake one.
 *   broadcast  if count > 0: count = 0 (exchange), seq + SEQ_ONE, then wake
 *              two waiters and requeue the others onto the mutex word.
 *   return     a waiter touches nothing of the condvar once its wait ends.
 *              Woken by a wake, it was counted down by its waker. Ending any
 *              other way (deadline, signal handler, cancellation, or a bump
 *              that another waiter's signal made before it slept) it leaves
 *              its count behind as a surplus: only the condvar could say
 *              whether a waker took it, and the program may free the condvar
 *              as soon as a waker has. The next signal that meets a surplus
 *              makes one empty wake and removes it; a broadcast removes all.
 * No lost wakeup: the load of seq comes before the count in the single total
 * order of seq_cst operations, so a signal that counts a waiter down bumps
 * seq after that waiter's load: the waiter's futex wait either finds the
 * word changed or is asleep when the wake comes. The count is never below
 * the number of sleeping waiters (cond.md), so no signal skips a sleeper.
 * Why no signal is stolen (glibc bug 13165): a waiter that began after a
 * signal read the bumped word, and the signal's wake goes to the longest
 * parked waiter (kernel futex queues and the emulation's buckets are FIFO for
 * equal priorities), i.e. to one that was waiting before it; a waiter that
 * had not parked yet when the signal came finds the word changed and returns.
 * Requeue and the mutex: a waiter that may have been woken by a broadcast
 * re-acquires the mutex in its contended state (HELD|PARKED), so it ends up
 * owning it with PARKED set and its unlock wakes one requeued waiter, which
 * does the same: each unlock hands on one waiter, and no requeued waiter is
 * stranded on a free mutex. Only a waiter that never slept (its futex wait
 * found the word changed, or cancellation ended it first) cannot have been
 * requeued, and it takes the mutex plainly. Broadcast wakes two, not one:
 * each hand-on costs a wake-up latency (the woken thread must be scheduled),
 * and when both find the mutex free, two chains overlap those latencies.
 * When the broadcaster holds the mutex they usually find it still held and
 * park behind the requeued waiters (one chain then runs); no other count
 * measured better (cond.md, "Why broadcast wakes two").
 * A lone waiter watches the mutex: one whose count found no other waiter
 * delays its futex wait, for at most CV_SPIN_NS, until it has seen another
 * thread take the mutex and release it. Such a thread has most likely
 * signalled, and the futex wait then finds seq changed and returns without a
 * sleep; if it did not signal, the waiter sleeps as it would have. A
 * signaller on another CPU that answers within the spin so costs neither
 * thread a sleep and a wake-up (cond.md, "A lone waiter watches the mutex").
 * Only the moment of the futex wait moves, so the proofs below stand: no
 * spurious wakeup, no surplus. The spin reads the mutex, never the condvar,
 * which the program may free as soon as a signal returns; the mutex lives
 * until this waiter has re-taken it. Only a lone waiter spins, so a crowd of
 * waiters (broadcast's rounds, a pool of idle workers) burns no CPU.
 * F2_TUNE_SPIN 0 turns it off.
 * Cond waiters park with the mutex's WAIT_NORMAL mask.
 * Signal by the holder of the recorded mutex leaves its wake to that mutex's
 * release (cond_defer.c: the waiter then wakes into a free mutex instead of
 * preempting its signaller); a waiter, under the mutex, first makes any such
 * wake whose release has happened, so that it cannot take it.
 * Signal never requeues its waiter onto the mutex ("wait
 * morphing"). Morphing needs the mutex marked PARKED by someone whose unlock
 * is still to come, and the mutex word does not say who holds it: a
 * signaller that does not hold the mutex could mark it just before the
 * holder's unlock and requeue after it, stranding the waiter on a free
 * mutex, and could read a mutex that its last waiter has already freed.
 * Measured where it is safe (the signaller holding the mutex, ping-pong),
 * it is also slower on this hardware: the waiter's wake-up then starts only
 * after the requeue and the unlock's wake instead of overlapping them
 * (bench/notes/pingpong.md).
 * Wrap-around: a 32-bit word counts 2^32 signals. A waiter that read value v
 * and is preempted before parking for exactly k * 2^32 signals would sleep on
 * a word that reads v again and miss them. Every such signal is a futex wake
 * system call (it took a counted waiter), so that needs minutes of
 * uninterrupted signalling aimed exactly at one preempted waiter: accepted
 * for f2_cond_t. f2_cond64_t's 2^64 cannot wrap.
 * A signal handler run by a parked waiter makes its futex wait return 0 (a
 * spurious wakeup, allowed by POSIX: the caller's predicate loop waits again).
 * Destruction: once its futex wait returns, a waiter touches only the mutex,
 * so freeing the condvar right after signal or broadcast is safe; signal binds
 * its word before the bump, so after the bump only the bound wake follows.
 * The last waiters' mutex stays recorded with its futex flags and node
 * (struct cv_ref), so a broadcast after that mutex was freed requeues onto its
 * address without reading it in user space (at worst a spurious wakeup).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "f2sync/cond.h"
#include "cond_defer.h"
#include "mutex_impl.h"
#include "../internal/test_hooks.h"
#include "../internal/time.h"

#define CV_SEQ_ONE 1u
/* The count saturates here (MANY in the header comment): a surplus per
 * wait that ended without a wake could otherwise pile up, with no signal in
 * between, until it wrapped to a count below the sleepers. */
#define CV_MANY 0x80000000u

/* Waiters a requeueing broadcast wakes; the rest go onto the mutex word.
 * Two chains when the mutex is free for them (header comment); one, three,
 * four and six measured no better (cond.md). */
#define CV_BCAST_WAKE 2

/* A lone waiter's spin before it parks (header comment): about the time a
 * running signaller on another CPU takes to answer, well under the sleep and
 * wake-up it saves (15 us and more on a VM; cond.md has the measurements). */
#define CV_SPIN_NS 2500u

/* c->mref: the recorded mutex word's futex flags (low byte) and, with
 * F2_NUMA, its node (the bits above). 0: nothing recorded, never requeue. */
#define CV_MREF_FLAGS 0xffu
#define CV_MREF_NODE_SHIFT 8
#define CV_MREF_NODE_MAX 0xffffff
_Static_assert((F2_SIZE_MASK | F2_NUMA | F2_PRIVATE) <= CV_MREF_FLAGS, "mutex flags fit");

/* Where a condvar of either width keeps its count and records its waiters'
 * mutex: the pointer and the mutex word's flags and node, written by each
 * waiter while it holds the mutex (so the mutex is alive) and published by
 * the release half of its count_waiter. broadcast uses them without reading
 * the mutex, which may be freed once its last waiter has returned. */
struct cv_ref {
	f2_mutex_t **mutex;
	uint32_t *mref;
	uint32_t *waiters;
};
#define CV_REF(c) (&(struct cv_ref){ &(c)->mutex, &(c)->mref, &(c)->waiters })

#ifdef F2SYNC_TEST_HOOKS
/* Waiters moved onto a mutex word by broadcast (read by the tests: test_hooks.h). */
f2_hidden uint64_t f2_cv_requeued;
/* Lone-waiter delays begun, and those that saw the mutex taken (read by the tests). */
f2_hidden uint64_t f2_cv_spins, f2_cv_spin_seen;
/* The spin's length, widened by tests that act during it on slow builds. */
f2_hidden uint64_t f2_cv_spin_ns = CV_SPIN_NS;
#define SPIN_NS() f2_load_relaxed(&f2_cv_spin_ns) /* set before the spin */
#else
#define SPIN_NS() ((uint64_t)CV_SPIN_NS)
#endif

_Static_assert(sizeof(f2_cond_t) <= 48 && sizeof(f2_cond64_t) <= 48, "fits pthread_cond_t");

static uint64_t seq_load(void *s, unsigned size)
{
	/* seq_cst: before the count change in the total order ("No lost wakeup") */
	return f2_sized_load(s, size, memory_order_seq_cst);
}

/* Bumps the sequence; returns the new value. */
static uint64_t seq_bump(void *s, unsigned size)
{
	/* seq_cst: after the count change in the total order ("No lost wakeup") */
	return (f2_sized_add(s, size, CV_SEQ_ONE, memory_order_seq_cst) + CV_SEQ_ONE) &
	       f2_size_mask(size);
}

/* wait: count the caller in, unless the count is saturated. Always an RMW,
 * even saturated (then it writes the same value back), so that its release
 * half always publishes the caller's recorded mutex. */
static uint32_t count_waiter(uint32_t *n)
{
	/* seq_cst: after the caller's load of seq ("No lost wakeup"); pairs
	 * with broadcast's exchange, which acquires the recorded mutex */
	uint32_t v = f2_load_seq(n);
	while (!f2_cas_seq(n, &v, v < CV_MANY ? v + 1 : v))
		;
	return v;
}

/* signal: take one waiter's count. 0 if there was none. */
static int take_one(uint32_t *n)
{
	/* seq_cst: pairs with count_waiter ("No lost wakeup") */
	uint32_t v = f2_load_seq(n);
	do {
		if (v == 0)
			return 0;
	} while (v < CV_MANY && !f2_cas_seq(n, &v, v - 1));
	return 1;
}

/* broadcast: take every waiter's count. 0 if there was none. */
static int take_all(uint32_t *n)
{
	/* seq_cst: pairs with count_waiter; the exchange also acquires the
	 * mutex the waiters recorded (struct cv_ref) */
	return f2_load_seq(n) != 0 && f2_xchg_seq(n, 0) != 0;
}

/* The mutex word's flags and node packed for c->mref (0: cannot requeue). */
static uint32_t mutex_ref(f2_mutex_t *m)
{
	unsigned mf = f2_pair_flags(m, F2_SIZE_U32);
	int32_t node = f2_load_relaxed(&m->node); /* resolved by f2_pair_flags */

	if (!(mf & F2_NUMA))
		return mf;
	if (node < 0 || node > CV_MREF_NODE_MAX)
		return 0;
	return mf | (uint32_t)node << CV_MREF_NODE_SHIFT;
}

static int bad_mutex(const f2_mutex_t *m)
{
	return !m || ((uintptr_t)m & (sizeof(*m) - 1));
}

/* Re-takes the mutex after the wait: in its contended state when the waiter
 * may have been requeued by a broadcast (header comment), else plainly. */
static void relock(f2_mutex_t *m, int maybe_requeued)
{
	unsigned v = F2_MX_UNLOCKED;

	if (!maybe_requeued)
		f2_mx_lock(&m->word, F2_SIZE_U32);
	else if (!f2_mx_cas_acquire(&m->word, F2_SIZE_U32, &v, F2_MX_HELD | F2_MX_PARKED))
		f2_mx_lock_slow(&m->word, F2_SIZE_U32, NULL, CLOCK_MONOTONIC, 1);
	f2_cd_held = m; /* as f2_mutex_lock records it (cond_defer.h) */
}

/* No backend can park this word (a forced backend the kernel lacks, a size
 * nobody serves): poll it, yielding, until it changes or the deadline passes.
 * Slow but correct; unlike a parked waiter, a polling one reads the condvar
 * until it sees the change. */
static int poll_wait(void *s, unsigned size, uint64_t v, const struct timespec *abs,
                     clockid_t clk)
{
	while (seq_load(s, size) == v) {
		if (abs && f2_deadline_passed(abs, clk))
			return -ETIMEDOUT;
		sched_yield();
	}
	return 0;
}

/* A lone waiter's delay before its futex wait (header comment), after it
 * released m: until another thread has taken m and released it, or
 * SPIN_NS() has passed. Reads m only: the condvar may be freed once a signal
 * returns, m not before this waiter has re-taken it. */
static void watch_mutex(f2_mutex_t *m)
{
	uint64_t t0, t;
	int taken = 0;

	if (!f2_load_relaxed(&f2_tuning()->spin)) /* knob: see tuning.c */
		return;
	F2_TEST_COUNT(f2_cv_spins, 1);
	t = t0 = f2_now_ns(CLOCK_MONOTONIC);
	for (;;) {
		/* relaxed: only times the futex wait, whose own ordering
		 * ("No lost wakeup") decides whether it sleeps */
		if (f2_mx_load(&m->word, F2_SIZE_U32) & F2_MX_HELD) {
			if (!taken)
				F2_TEST_COUNT(f2_cv_spin_seen, 1);
			taken = 1;
		} else if (taken) {
			return;
		}
		if (t - t0 >= SPIN_NS())
			return;
		t = f2_spin_until(t);
	}
}

static int cv_wait(void *s, unsigned size, const struct cv_ref *ref, f2_mutex_t *m,
                   const struct timespec *abs, clockid_t clk, const struct f2_cond_ext *x)
{
	struct f2_bound bw;
	uint64_t v;
	uint32_t others;
	int r, slept = 1;

	/* no mutex is only valid with the shim's lock callbacks */
	if ((m ? bad_mutex(m) : (!x || !x->unlock || !x->lock)) || f2_deadline_check(abs, clk))
		return EINVAL;
	if (m && !(f2_mx_load(&m->word, F2_SIZE_U32) & F2_MX_HELD))
		return EPERM;
	/* A signal's wake that a release of m has still to make goes out before
	 * we count ourselves in, so that it cannot come to us (cond_defer.c).
	 * With PENDING set, the wakes are this hold's: our own release below
	 * makes them before we sleep. */
	if (m && f2_cd_busy(&m->word) && !(f2_mx_load(&m->word, F2_SIZE_U32) & F2_MX_PENDING))
		f2_cd_flush(&m->word);
	/* Bound under the mutex: once it is released, a broadcast may wake us
	 * and the condvar be freed (see bound.c). */
	f2_bind_word(&bw, s, f2_pair_flags(s, size));
	if (m) /* relaxed: published by the release half of count_waiter */
		f2_store_relaxed(ref->mref, mutex_ref(m));
	f2_store_relaxed(ref->mutex, m); /* the same */
	v = seq_load(s, size); /* seq_cst: before count_waiter ("No lost wakeup") */
	others = count_waiter(ref->waiters);
	if (m) {
		f2_cd_held = NULL; /* as f2_mutex_unlock clears it */
		f2_mx_unlock(&m->word, F2_SIZE_U32);
	} else if ((r = x->unlock(x->arg)) != 0)
		return r; /* counted: a surplus (header comment) */
	if (x && x->abort_wait && x->abort_wait()) {
		r = 0; /* ended by the caller: a spurious wakeup */
		slept = 0;
	} else {
		if (m && !others)
			watch_mutex(m);
		r = f2_park_bound(&bw, v, F2_MX_WAIT_NORMAL, abs, clk);
		if (r != 0 && r != -EAGAIN && r != -ETIMEDOUT)
			r = poll_wait(s, size, v, abs, clk);
		slept = r != -EAGAIN;
	}
	if (!m)
		return x->lock(x->arg) ?: (r == -ETIMEDOUT ? ETIMEDOUT : 0);
	relock(m, slept);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

/* Wakes one waiter, or, when the caller holds the recorded mutex, leaves
 * the wake to the mutex's release (cond_defer.c): the waiter then wakes into
 * a released mutex instead of preempting its signaller. */
static int cv_signal(void *s, unsigned size, const struct cv_ref *ref)
{
	struct f2_bound b;
	f2_mutex_t *m;

	if (!take_one(ref->waiters))
		return 0;
	f2_bind_word(&b, s, f2_pair_flags(s, size));
	m = f2_load_relaxed(ref->mutex); /* compared with f2_cd_held only (cond_defer.h) */
	seq_bump(s, size);
	/* from here a waiter may return and free the condvar: the wake is bound,
	 * and its mutex was read before */
	if (f2_cd_defer(m, &b))
		return 0;
	f2_wake_bound(&b, F2_MX_WAKE_ANY, 1);
	return 0;
}

/* Requeue is possible when both words are served by the same backend. */
static int same_backend(unsigned cflags, unsigned mflags)
{
	const char *a = f2_futex_backend(cflags), *b = f2_futex_backend(mflags);
	return a && b && !strcmp(a, b);
}

/* Wakes CV_BCAST_WAKE waiters and moves the rest onto m's word; -1 if it
 * cannot. */
static int requeue_all(void *s, unsigned size, unsigned flags, uint64_t seq,
                       const struct cv_ref *ref)
{
	/* relaxed: acquired by broadcast's take_all, which pairs with the
	 * release half of the waiters' count_waiter */
	f2_mutex_t *m = f2_load_relaxed(ref->mutex);
	uint32_t mref = f2_load_relaxed(ref->mref); /* see m */
	unsigned mflags = mref & CV_MREF_FLAGS;
	int mnode = (mflags & F2_NUMA) ? (int)(mref >> CV_MREF_NODE_SHIFT) : -1;
	struct f2_futex_waitv ft[2];
	int r;

	/* A process-shared condvar's recorded mutex is an address in one process
	 * only: wake, never requeue. */
	if (!m || !mref || !(flags & F2_PRIVATE) || !f2_load_relaxed(&f2_tuning()->requeue)) /* knob: see tuning.c */
		return -1;
	if (!same_backend(flags, mflags))
		return -1;
	memset(ft, 0, sizeof(ft));
	ft[0].uaddr = s;
	ft[0].flags = flags;
	ft[1].uaddr = m;
	ft[1].flags = mflags;
	for (;;) {
		ft[0].val = seq;
		r = f2_futex_requeue_node(ft, CV_BCAST_WAKE, INT_MAX, mnode);
		if (r != -EAGAIN)
			break;
		seq = seq_load(s, size); /* a newer signal or broadcast changed it */
	}
	if (r < 0)
		return -1;
	if (r > CV_BCAST_WAKE) /* the kernel and the emulation wake before they move */
		F2_TEST_COUNT(f2_cv_requeued, (uint64_t)(r - CV_BCAST_WAKE));
	return 0;
}

static int cv_broadcast(void *s, unsigned size, const struct cv_ref *ref)
{
	unsigned flags;
	uint64_t seq;

	if (!take_all(ref->waiters))
		return 0;
	flags = f2_pair_flags(s, size);
	seq = seq_bump(s, size);
	if (requeue_all(s, size, flags, seq, ref) < 0)
		f2_futex_wake(s, F2_MX_WAKE_ANY, INT_MAX, flags);
	return 0;
}

/* The public entry points: f2_cond_t (32-bit sequence, 8-byte aligned) and
 * f2_cond64_t (64-bit sequence, 16-byte aligned pair). */
#define BAD_COND(c) (!(c) || ((uintptr_t)(c) & (_Alignof(__typeof__(*(c))) - 1)))

int f2_cond_wait(f2_cond_t *c, f2_mutex_t *m)
{
	return BAD_COND(c) ? EINVAL : cv_wait(&c->seq, F2_SIZE_U32, CV_REF(c), m, NULL, 0, NULL);
}

int f2_cond_timedwait(f2_cond_t *c, f2_mutex_t *m, const struct timespec *abstime,
                      clockid_t clock)
{
	if (BAD_COND(c) || !abstime)
		return EINVAL;
	return cv_wait(&c->seq, F2_SIZE_U32, CV_REF(c), m, abstime, clock, NULL);
}

/* The pthread shim's wait (sync_impl.h); m NULL: the lock of x. */
int f2_cond_wait_ext(f2_cond_t *c, f2_mutex_t *m, const struct timespec *abstime,
                     clockid_t clock, const struct f2_cond_ext *x)
{
	if (BAD_COND(c))
		return EINVAL;
	return cv_wait(&c->seq, F2_SIZE_U32, CV_REF(c), m, abstime, clock, x);
}

/* The pthread shim's destroy (sync_impl.h). Asks the backend how many
 * threads sleep on the word by requeueing it onto itself, which moves and
 * wakes nobody (a count of 0 needs no system call). */
int f2_cond_has_sleepers(f2_cond_t *c)
{
	struct f2_futex_waitv ft[2];
	struct f2_bound b;
	f2_mutex_t *m;
	int r = -EAGAIN;

	/* seq_cst: a waiter counted before this load is seen (count_waiter) */
	if (BAD_COND(c) || !f2_load_seq(&c->waiters))
		return 0;
	/* A signalled waiter whose wake waits for a release is not asleep for
	 * POSIX: make its wake now. m's address only, never its memory. */
	f2_bind_word(&b, &c->seq, f2_pair_flags(&c->seq, F2_SIZE_U32));
	if ((m = f2_load_relaxed(&c->mutex)) != NULL) /* a hint: at worst an early wake */
		f2_cd_flush_cond(&m->word, f2_bound_key(&b));
	memset(ft, 0, sizeof(ft));
	ft[0].uaddr = ft[1].uaddr = &c->seq;
	ft[0].flags = ft[1].flags = f2_pair_flags(&c->seq, F2_SIZE_U32);
	for (int i = 0; i < 4 && r == -EAGAIN; i++) {
		ft[0].val = seq_load(&c->seq, F2_SIZE_U32);
		r = f2_futex_requeue(ft, 0, INT_MAX);
	}
	/* still -EAGAIN: signals keep changing the word, so it is in use */
	return r > 0 || r == -EAGAIN;
}

int f2_cond_signal(f2_cond_t *c)
{
	return BAD_COND(c) ? EINVAL : cv_signal(&c->seq, F2_SIZE_U32, CV_REF(c));
}

int f2_cond_broadcast(f2_cond_t *c)
{
	return BAD_COND(c) ? EINVAL : cv_broadcast(&c->seq, F2_SIZE_U32, CV_REF(c));
}

int f2_cond64_wait(f2_cond64_t *c, f2_mutex_t *m)
{
	return BAD_COND(c) ? EINVAL : cv_wait(&c->seq, F2_SIZE_U64, CV_REF(c), m, NULL, 0, NULL);
}

int f2_cond64_timedwait(f2_cond64_t *c, f2_mutex_t *m, const struct timespec *abstime,
                        clockid_t clock)
{
	if (BAD_COND(c) || !abstime)
		return EINVAL;
	return cv_wait(&c->seq, F2_SIZE_U64, CV_REF(c), m, abstime, clock, NULL);
}

int f2_cond64_signal(f2_cond64_t *c)
{
	return BAD_COND(c) ? EINVAL : cv_signal(&c->seq, F2_SIZE_U64, CV_REF(c));
}

int f2_cond64_broadcast(f2_cond64_t *c)
{
	return BAD_COND(c) ? EINVAL : cv_broadcast(&c->seq, F2_SIZE_U64, CV_REF(c));
}
