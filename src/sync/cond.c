/* f2_cond_t and f2_cond64_t: one sequence-counter condvar, parameterised by
 * the width of its sequence word (32 or 64 bits).
 *
 * The sequence word (the value half of the NUMA pair { seq; node; }):
 *   WAITERS  bit 0    a waiter may be parked: signal and broadcast must wake
 *   count    bits 1.. bumped by 2 (SEQ_ONE) by every signal and broadcast
 * Transitions:
 *   wait       fetch_or(WAITERS), under the mutex; the returned value v (with
 *              WAITERS) is what the waiter sleeps on once it has released
 *              the mutex: any later signal or broadcast changes the word, so
 *              a waiter never sleeps through one that came after it began.
 *   signal     if WAITERS: fetch_add(SEQ_ONE), wake one. The bit stays: other
 *              waiters may remain.
 *   broadcast  if WAITERS: CAS to (seq + SEQ_ONE) without WAITERS, then wake
 *              two waiters and requeue the others onto the mutex word.
 * Why no signal is stolen (glibc bug 13165): a waiter that began after a
 * signal read the bumped word, and the signal's wake goes to the longest
 * parked waiter (kernel futex queues and the emulation's buckets are FIFO for
 * equal priorities), i.e. to one that was waiting before it; a waiter that
 * had not parked yet when the signal came finds the word changed and returns.
 * Requeue and the mutex: every waiter re-acquires the mutex in its contended
 * state (HELD|PARKED), so a waiter that broadcast wakes ends up owning it
 * with PARKED set and its unlock wakes one requeued waiter, which does the
 * same: each unlock hands on one waiter, and no requeued waiter is stranded
 * on a free mutex. Broadcast wakes two, not one: each hand-on costs a wake-up
 * latency (the woken thread must be scheduled), and with two chains one
 * waiter is already on its way while the other owns the mutex, so that
 * latency overlaps the owner's critical section instead of adding to it. A
 * third would only find the mutex held and park again. Cond waiters park
 * with the mutex's WAIT_NORMAL mask.
 * Signal wakes; it never requeues its waiter onto the mutex ("wait
 * morphing"). Morphing needs the mutex marked PARKED by someone whose unlock
 * is still to come, and the mutex word does not say who holds it: a
 * signaller that does not hold the mutex could mark it just before the
 * holder's unlock and requeue after it, stranding the waiter on a free
 * mutex, and could read a mutex that its last waiter has already freed.
 * Measured where it is safe (the signaller holding the mutex, ping-pong),
 * it is also slower on this hardware: the waiter's wake-up then starts only
 * after the requeue and the unlock's wake instead of overlapping them
 * (bench/notes/pingpong.md).
 * Wrap-around: a 32-bit word counts 2^31 signals. A waiter that read value v
 * and is preempted before parking for exactly k * 2^31 signals would sleep on
 * a word that reads v again and miss them. Every such signal is a futex wake
 * system call (WAITERS is set), so that needs minutes of uninterrupted
 * signalling aimed exactly at one preempted waiter: accepted for f2_cond_t.
 * f2_cond64_t's 2^63 cannot wrap.
 * A signal handler run by a parked waiter makes its futex wait return 0 (a
 * spurious wakeup, allowed by POSIX: the caller's predicate loop waits again).
 * Telling it apart from a real wakeup would need a look at the condvar after
 * the wait, which the destruction rule below forbids.
 * Destruction: once its futex wait returns, a waiter touches only the mutex,
 * so freeing the condvar right after signal or broadcast is safe. The last
 * waiters' mutex stays recorded with its futex flags and node (struct
 * cv_ref), so a broadcast after that mutex was freed requeues onto its
 * address without reading it in user space (at worst a spurious wakeup).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "f2sync/cond.h"
#include "mutex_impl.h"
#include "../internal/time.h"

#define CV_WAITERS 1u
#define CV_SEQ_ONE 2u

/* Waiters a requeueing broadcast wakes; the rest go onto the mutex word.
 * Two keep one waiter on its way while the other owns the mutex (header
 * comment); more would only find the mutex held and park again. */
#define CV_BCAST_WAKE 2

/* Where a condvar of either width records its waiters' mutex: the pointer,
 * and the mutex word's futex flags and node, written by each waiter while it
 * holds the mutex (so the mutex is alive) and published by the release in
 * seq_fetch_or. broadcast uses them without reading the mutex, which may be
 * freed once its last waiter has returned. */
struct cv_ref {
	f2_mutex_t **mutex;
	uint32_t *mflags;
	int32_t *mnode;
};
#define CV_REF(c) (&(struct cv_ref){ &(c)->mutex, &(c)->mflags, &(c)->mnode })

/* Waiters moved onto a mutex word by broadcast (read by the tests). */
f2_hidden uint64_t f2_cv_requeued;

_Static_assert(sizeof(f2_cond_t) <= 48 && sizeof(f2_cond64_t) <= 48, "fits pthread_cond_t");

static uint64_t seq_fetch_or(void *s, unsigned size, uint64_t bits)
{
	/* acq_rel: releases the mutex pointer to broadcast's acquire CAS */
	if (size == F2_SIZE_U32)
		return f2_or_acq_rel((uint32_t *)s, (uint32_t)bits);
	return f2_or_acq_rel((uint64_t *)s, bits);
}

static uint64_t seq_fetch_add(void *s, unsigned size, uint64_t n)
{
	/* acq_rel: pairs with the waiters' fetch_or and futex value check */
	if (size == F2_SIZE_U32)
		return f2_add_acq_rel((uint32_t *)s, (uint32_t)n);
	return f2_add_acq_rel((uint64_t *)s, n);
}

static uint64_t seq_load(void *s, unsigned size)
{
	if (size == F2_SIZE_U32)
		return f2_load_seq((uint32_t *)s);
	return f2_load_seq((uint64_t *)s);
}

static int seq_cas(void *s, unsigned size, uint64_t *exp, uint64_t want)
{
	int ok;
	if (size == F2_SIZE_U32) {
		uint32_t e = (uint32_t)*exp;
		/* acq_rel: pairs with the waiters' fetch_or (mutex pointer) */
		ok = f2_cas_acq_rel((uint32_t *)s, &e, (uint32_t)want);
		*exp = e;
	} else {
		/* acq_rel: pairs with the waiters' fetch_or (mutex pointer) */
		ok = f2_cas_acq_rel((uint64_t *)s, exp, want);
	}
	return ok;
}

static int bad_mutex(const f2_mutex_t *m)
{
	return !m || ((uintptr_t)m & (sizeof(*m) - 1));
}

/* The mutex is re-taken in its contended state (see the header comment). */
static void relock(f2_mutex_t *m)
{
	unsigned v = F2_MX_UNLOCKED;
	if (!f2_mx_cas_acquire(&m->word, F2_SIZE_U32, &v, F2_MX_HELD | F2_MX_PARKED))
		f2_mx_lock_slow(&m->word, F2_SIZE_U32, NULL, CLOCK_MONOTONIC, 1);
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

static int cv_wait(void *s, unsigned size, const struct cv_ref *ref, f2_mutex_t *m,
                   const struct timespec *abs, clockid_t clk, const struct f2_cond_ext *x)
{
	struct f2_bound bw;
	uint64_t v;
	int r;

	/* no mutex is only valid with the shim's lock callbacks */
	if ((m ? bad_mutex(m) : (!x || !x->unlock || !x->lock)) || f2_deadline_check(abs, clk))
		return EINVAL;
	if (m && !(f2_mx_load(&m->word, F2_SIZE_U32) & F2_MX_HELD))
		return EPERM;
	/* Bound under the mutex: once it is released, a broadcast may wake us
	 * and the condvar be freed (see bound.c). */
	f2_bind_word(&bw, s, f2_pair_flags(s, size));
	if (m) {
		unsigned mf = f2_pair_flags(m, F2_SIZE_U32);
		/* relaxed: published by the release in seq_fetch_or below */
		f2_store_relaxed(ref->mflags, mf);
		f2_store_relaxed(ref->mnode, f2_load_relaxed(&m->node));
	}
	f2_store_relaxed(ref->mutex, m); /* published by the release in seq_fetch_or */
	v = seq_fetch_or(s, size, CV_WAITERS) | CV_WAITERS;
	if (m)
		f2_mx_unlock(&m->word, F2_SIZE_U32);
	else if ((r = x->unlock(x->arg)) != 0)
		return r; /* WAITERS stays: a hint, it costs one empty wake */
	if (x && x->abort_wait && x->abort_wait()) {
		r = 0; /* ended by the caller: a spurious wakeup */
	} else {
		r = f2_park_bound(&bw, v, F2_MX_WAIT_NORMAL, abs, clk);
		if (r != 0 && r != -EAGAIN && r != -ETIMEDOUT && r != -EINTR)
			r = poll_wait(s, size, v, abs, clk);
	}
	if (!m)
		return x->lock(x->arg) ?: (r == -ETIMEDOUT ? ETIMEDOUT : 0);
	relock(m);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

static int cv_signal(void *s, unsigned size)
{
	unsigned flags;

	if (!(seq_load(s, size) & CV_WAITERS))
		return 0;
	flags = f2_pair_flags(s, size);
	seq_fetch_add(s, size, CV_SEQ_ONE);
	f2_futex_wake(s, F2_MX_WAKE_ANY, 1, flags);
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
	/* relaxed: acquired by broadcast's seq_cas, which pairs with the
	 * release in the waiters' seq_fetch_or */
	f2_mutex_t *m = f2_load_relaxed(ref->mutex);
	struct f2_futex_waitv ft[2];
	unsigned mflags;
	int r;

	/* A process-shared condvar's recorded mutex is an address in one process
	 * only: wake, never requeue. */
	if (!m || !(flags & F2_PRIVATE) || !f2_load_relaxed(&f2_tuning()->requeue)) /* knob: see tuning.c */
		return -1;
	mflags = f2_load_relaxed(ref->mflags); /* see m above */
	int mnode = (mflags & F2_NUMA) ? f2_load_relaxed(ref->mnode) : -1;
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
		seq = seq_load(s, size); /* a newer signal or wait changed it */
	}
	if (r < 0)
		return -1;
	if (r > CV_BCAST_WAKE) /* the kernel and the emulation wake before they move */
		f2_add_relaxed(&f2_cv_requeued, (uint64_t)(r - CV_BCAST_WAKE)); /* statistics only */
	return 0;
}

static int cv_broadcast(void *s, unsigned size, const struct cv_ref *ref)
{
	uint64_t old = seq_load(s, size), seq;
	unsigned flags;

	do {
		if (!(old & CV_WAITERS))
			return 0;
		seq = (old + CV_SEQ_ONE) & ~(uint64_t)CV_WAITERS;
	} while (!seq_cas(s, size, &old, seq));
	flags = f2_pair_flags(s, size);
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

int f2_cond_signal(f2_cond_t *c)
{
	return BAD_COND(c) ? EINVAL : cv_signal(&c->seq, F2_SIZE_U32);
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
	return BAD_COND(c) ? EINVAL : cv_signal(&c->seq, F2_SIZE_U64);
}

int f2_cond64_broadcast(f2_cond64_t *c)
{
	return BAD_COND(c) ? EINVAL : cv_broadcast(&c->seq, F2_SIZE_U64, CV_REF(c));
}
