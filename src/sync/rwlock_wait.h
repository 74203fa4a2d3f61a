/* What the reader, writer and unlock paths of f2_rwlock_t share (rwlock.c,
 * rwlock_writer.c, rwlock_wait.c): the state of one waiting call, the wakes
 * a releasing transition owes and how they are computed with its CAS, and
 * the waiting helpers. The protocol is described at the top of rwlock.c. */
#ifndef F2_SYNC_RWLOCK_WAIT_H
#define F2_SYNC_RWLOCK_WAIT_H

#include <stdint.h>
#include <time.h>

#include "f2sync/rwlock.h"
#include "rwlock_word.h"
#include "sync_impl.h"
#include "../internal/atomic.h"
#include "../internal/compiler.h"

struct rw_call {
	f2_rwlock_t *rw;
	const struct timespec *abs;  /* NULL: no deadline */
	clockid_t clk;
	unsigned flags;              /* futex flags of the pair; 0 until needed */
	int prefer_reader;           /* passes WSTARVE while R > 0 (pthread shim) */
	int starving;                /* owns RSTARVE (reader) or WSTARVE (writer) */
	int counted;                 /* writer: counted in W */
	int woken;                   /* writer: back from a futex wait, WAKING not yet cleared */
	int late;                    /* has waited handoff_ns (cached f2_rw_expired) */
	int rt;                      /* real-time policy (SCHED_FIFO/RR); -1 until it would park */
	uint64_t t0;                 /* CLOCK_MONOTONIC ns when it began to wait */
};

/* The wakes a releasing transition owes (see the top of rwlock.c). */
struct rw_wake {
	int readers, late, starver, writer, rt;
};

static inline uint32_t rw_load(const f2_rwlock_t *rw)
{
	return f2_load_relaxed(&rw->state); /* a guess: the CAS that uses it orders */
}

static inline int rw_owes(const struct rw_wake *w)
{
	return w->readers || w->late || w->starver || w->writer || w->rt;
}

/* A real-time waiter may sleep (RT) and the change opens the lock: wake
 * every sleeper, writers first, and let the scheduler order them (see the
 * top of rwlock.c). RPARKED and RT go; WAKING stands for the woken writers. */
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

/* The waiting helpers, in rwlock_wait.c (each described there). */
f2_hidden unsigned f2_rw_flags(struct rw_call *c);
f2_hidden void f2_rw_pay(const struct f2_bound *b, const struct rw_wake *w);
f2_hidden int f2_rw_expired(struct rw_call *c);
f2_hidden int f2_rw_rt(struct rw_call *c);
f2_hidden uint32_t f2_rw_spin(struct rw_call *c, uint32_t v,
			      int (*may)(struct rw_call *, uint32_t));
f2_hidden int f2_rw_park(struct rw_call *c, uint32_t v, unsigned mask, uint64_t fair);

#endif
