/* f2_rwlock_t: the writers (the protocol is at the top of rwlock.c). A
 * writer never touches the thread-local read-lock table (rwlock_held.h). */
#include <errno.h>

#include "rwlock_wait.h"
#include "../internal/time.h"

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
	/* acquire: pairs with the release CAS of the previous unlock */
	if (!f2_cas_weak_acquire(&c->rw->state, v, wr_unmark(c, *v) | RW_WRITER))
		return 0;
	wr_unmarked(c);
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
	f2_bind_word(&b, rw, f2_rw_flags(c));
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
				f2_rw_pay(&b, &w);
			return ETIMEDOUT;
		}
	}
}

/* The writer count is full (RW_WRITERS_MAX counted): sleep a millisecond,
 * bounded by the deadline, and try again. Nobody wakes RW_MASK_POLL. */
static int wr_poll_full(struct rw_call *c, uint32_t v)
{
	uint64_t t = f2_now_ns(CLOCK_MONOTONIC) + 1000000u;

	if (f2_rw_park(c, v, RW_MASK_POLL, t))
		return ETIMEDOUT;
	return 0;
}

/* Puts the caller's mark on the word before it parks: its count in W, or
 * WSTARVE once it has waited handoff_ns; clears WAKING if it owes that.
 * 1 if the word is now *v, 0 if it changed, ETIMEDOUT from the poll. */
static int wr_mark(struct rw_call *c, uint32_t *v)
{
	uint32_t want, rt = c->rt ? RW_RT : 0;

	if (!c->rt && !c->starving && !(*v & RW_WSTARVE) && f2_rw_expired(c)) {
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
	f2_rw_rt(c);
	r = wr_mark(c, &v);
	if (r != 1)
		return r;
	mask = c->starving ? RW_MASK_WSTARVE : RW_MASK_WRITER;
	if (!c->rt && !c->starving && !f2_rw_expired(c)) /* wake up in time to reserve a turn */
		fair = c->t0 + f2_load_relaxed(&f2_tuning()->handoff_ns); /* knob: see tuning.c */
	r = f2_rw_park(c, v, mask, fair);
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
	c->t0 = f2_now_ns(CLOCK_MONOTONIC);
	v = f2_rw_spin(c, v, wr_may);
	while ((r = wr_round(c, v)) == 0)
		v = rw_load(c->rw);
	return r == 1 ? 0 : r;
}

static int wr_entry(f2_rwlock_t *rw, const struct timespec *abs, clockid_t clk, int try)
{
	struct rw_call c = { .rw = rw, .abs = abs, .clk = clk, .rt = -1 };

	if (abs && f2_deadline_check(abs, clk))
		return EINVAL;
	return wr_lock(&c, try);
}

/* The uncontended write lock: nobody holds or reserved it. Guesses a free
 * word first, as rd_fast. */
static inline int wr_fast(f2_rwlock_t *rw)
{
	uint32_t v = 0;

	/* acquire (both): pairs with the release CAS of the previous unlock */
	if (f2_cas_acquire(&rw->state, &v, RW_WRITER))
		return 1;
	return rw_writer_may(v) && f2_cas_acquire(&rw->state, &v, v | RW_WRITER);
}

int f2_rwlock_wrlock(f2_rwlock_t *rw)
{
	if (f2_likely(wr_fast(rw)))
		return 0;
	return wr_entry(rw, NULL, CLOCK_MONOTONIC, 0);
}

int f2_rwlock_trywrlock(f2_rwlock_t *rw)
{
	if (f2_likely(wr_fast(rw)))
		return 0;
	return wr_entry(rw, NULL, CLOCK_MONOTONIC, 1);
}

int f2_rwlock_timedwrlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock)
{
	if (!abstime)
		return EINVAL;
	return wr_entry(rw, abstime, clock, 0);
}
