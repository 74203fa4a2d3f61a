/* The waiting and waking helpers of f2_rwlock_t (the protocol is at the top
 * of rwlock.c): the wakes a releasing transition pays after its CAS, the
 * hand-off clock, the real-time policy check, the bounded spin and the park. */
#include <errno.h>
#include <sched.h>

#include "rwlock_wait.h"
#include "../internal/time.h"

/* The futex flags of the caller's pair, found once per call. */
unsigned f2_rw_flags(struct rw_call *c)
{
	if (!c->flags)
		c->flags = f2_pair_flags(c->rw, F2_SIZE_U32);
	return c->flags;
}

/* After the releasing CAS: only the bound wakes, which read nothing of the
 * lock (see the top of rwlock.c, self-synchronised destruction). */
void f2_rw_pay(const struct f2_bound *b, const struct rw_wake *w)
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
int f2_rw_expired(struct rw_call *c)
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
int f2_rw_rt(struct rw_call *c)
{
	if (c->rt < 0) {
		int p = sched_getscheduler(0);
		p = p < 0 ? SCHED_OTHER : p & ~SCHED_RESET_ON_FORK;
		c->rt = p == SCHED_FIFO || p == SCHED_RR;
	}
	return c->rt;
}

/* Spins a bounded while, only while nobody waits, for may(word) to hold
 * (as the mutex: a thread that finds others parked parks too). */
uint32_t f2_rw_spin(struct rw_call *c, uint32_t v, int (*may)(struct rw_call *, uint32_t))
{
	unsigned n = f2_load_relaxed(&f2_tuning()->spin); /* knob, no ordering */
	const uint32_t waiting = RW_RPARKED | RW_WSTARVE | RW_RSTARVE;

	for (unsigned i = 0; i < n && !may(c, v); i++) {
		if ((v & waiting) || rw_writers(v) > 0)
			break;
		f2_cpu_relax();
		v = rw_load(c->rw);
	}
	return v;
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
int f2_rw_park(struct rw_call *c, uint32_t v, unsigned mask, uint64_t fair)
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
	r = f2_park(&c->rw->state, v, mask, f2_rw_flags(c), abs, clk);
	if (r == 0 || r == -EAGAIN)
		return 0;
	if (c->abs && f2_deadline_passed(c->abs, c->clk))
		return ETIMEDOUT;
	if (r != -ETIMEDOUT)
		sched_yield();
	return 0;
}
