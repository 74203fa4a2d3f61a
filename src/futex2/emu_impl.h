/* Internal to the futex2 emulation: emu_table.c (tables, bucket locks,
 * parkers, fork) and emulate.c (wait, wake, requeue, waitv).
 *
 * Objects and who may touch them:
 *  - struct f2_emu_bucket: one per hash slot of a per-node table. Every field
 *    but nwaiters is read and written only under the bucket's lock; nwaiters
 *    is written under the lock and read without it by the wake fast path.
 *  - struct f2_emu_rec: one per (waiting thread, emulated word), on the
 *    waiter's stack. Linked into exactly one bucket while queued; its fields
 *    are written by the owner before queueing and afterwards only under the
 *    lock of the bucket it is in (requeue holds both buckets' locks).
 *  - struct f2_parker: one per thread, the 32-bit futex word the thread sleeps
 *    on. Parkers are never freed (a pool recycles those of exited threads), so
 *    a waker's late futex wake on one is at worst a spurious wakeup.
 */
#ifndef F2_EMU_IMPL_H
#define F2_EMU_IMPL_H

#include <stdint.h>

#include "futex2_impl.h"
#include "../internal/atomic.h"

/* The parker word, state: owned by one thread while it waits.
 *   ARMED       the owner is (about to be) asleep; a waker may claim it
 *   CLAIMED     the owner gave up (timeout, signal, -EAGAIN in waitv) and
 *               will unqueue its records itself; wakers skip them
 *   WOKEN + i   a waker claimed it through the record of waitv index i
 * Transitions: owner stores ARMED before queueing any record (no waker can
 * reach the parker then); ARMED -> WOKEN+i by a waker (CAS, under the lock of
 * the record's bucket, after unlinking the record); ARMED -> CLAIMED by the
 * owner (CAS). Exactly one CAS leaves ARMED, so exactly one side wins. */
#define F2_PK_ARMED   0u
#define F2_PK_CLAIMED 1u
#define F2_PK_WOKEN   2u

struct f2_parker {
	uint32_t state;               /* F2_PK_* */
	struct f2_parker *next_free;  /* pool link while no thread owns it */
} f2_cacheline_aligned;

struct f2_emu_bucket;

struct f2_emu_rec {
	struct f2_emu_rec *next, *prev; /* bucket FIFO */
	struct f2_emu_bucket *bucket;   /* where it is queued (atomic: the owner
	                                   reads it unlocked, then re-checks) */
	void *addr;                     /* the key: the word (or pair) address */
	uint64_t mask;                  /* bitset; all ones for waitv */
	struct f2_parker *parker;
	unsigned index;                 /* waitv index, 0 for wait */
	int queued;                     /* 1 while linked into bucket */
};

/* The bucket lock word (also the parker pool's):
 *   state bits 0-1: UNLOCKED 0, LOCKED 1 (nobody sleeping), SLEEPERS 2
 *                   (someone may sleep);
 *   GEN bits 2-31:  the fork generation the word belongs to (emu_table.c:
 *                   0 in the first process, the parent's + 1 in a fork child).
 * lock: CAS g|0 -> g|1 (g: this process's generation, f2_emu_gen); else spin
 * a little; else exchange to g|2 and sleep while the old value was not g|0.
 * unlock: exchange to g|0; if it was g|2, wake one. A word with another
 * generation is stale: copied by fork() from a parent, in whatever state the
 * parent's threads left it. Only f2_emu_bucket() meets such a word, and it
 * claims it (CAS to g|LOCKED), resets the bucket and unlocks it, before any
 * lock or wait of this process uses the bucket. */
#define F2_BL_UNLOCKED  0u
#define F2_BL_LOCKED    1u
#define F2_BL_SLEEPERS  2u
#define F2_BL_STATE     3u
#define F2_BL_GEN       (~F2_BL_STATE)

/* This process's generation in lock-word position (a multiple of 4). Written
 * only by the fork child handler, while the child runs alone. */
f2_hidden extern uint32_t f2_emu_gen;

struct f2_emu_bucket {
	uint32_t lock;                   /* F2_BL_* | generation */
	uint32_t nwaiters;               /* records queued here */
	struct f2_emu_rec *head, *tail;  /* FIFO, oldest first */
} f2_cacheline_aligned;

/* The bucket that serves w (tables set up on first use), or NULL if the
 * tables could not be allocated. */
f2_hidden struct f2_emu_bucket *f2_emu_bucket(const struct f2_word *w);
/* The calling thread's parker, or NULL when out of memory. */
f2_hidden struct f2_parker *f2_emu_parker(void);

/* Test introspection (tests/unit/check_emulate.c): records queued in node's
 * table, or -EINVAL; and a hook that takes (hold != 0) or releases the lock
 * of w's bucket. */
f2_hidden int f2_emu_waiters_on_node(int node);
/* Buckets of node's table already used in this process's fork generation
 * (the rest are reset lazily on first use), or -EINVAL. */
f2_hidden int f2_emu_fresh_buckets(int node);
f2_hidden int f2_emu_hold_bucket(const struct f2_word *w, int hold);

f2_hidden void f2_emu_lockw_slow(uint32_t *l, uint32_t g);

static inline uint32_t f2_emu_gen_now(void)
{
	return f2_load_relaxed(&f2_emu_gen); /* changes only in a fork child running alone */
}

static inline void f2_emu_lockw(uint32_t *l)
{
	uint32_t g = f2_emu_gen_now(), unlocked = g | F2_BL_UNLOCKED;
	/* pairs with the release exchange in f2_emu_unlockw */
	if (f2_likely(f2_cas_acquire(l, &unlocked, g | F2_BL_LOCKED)))
		return;
	f2_emu_lockw_slow(l, g);
}

static inline void f2_emu_unlockw(uint32_t *l)
{
	uint32_t g = f2_emu_gen_now();
	/* pairs with the acquire CAS/exchange in f2_emu_lockw(_slow) */
	if (f2_unlikely(f2_xchg_release(l, g | F2_BL_UNLOCKED) == (g | F2_BL_SLEEPERS)))
		f2_sys_wake32(l, 1);
}

static inline void f2_emu_lock(struct f2_emu_bucket *b)
{
	f2_emu_lockw(&b->lock);
}

static inline void f2_emu_unlock(struct f2_emu_bucket *b)
{
	f2_emu_unlockw(&b->lock);
}

/* FIFO operations; the caller holds b's lock. Linking does not count the
 * record: the caller has already added it to nwaiters (see emulate.c). */
static inline void f2_emu_link(struct f2_emu_bucket *b, struct f2_emu_rec *r)
{
	r->next = NULL;
	r->prev = b->tail;
	if (b->tail)
		b->tail->next = r;
	else
		b->head = r;
	b->tail = r;
	r->queued = 1;
	/* read unlocked only by r's owner, who re-checks it under the lock */
	f2_store_relaxed(&r->bucket, b);
}

static inline void f2_emu_unlink(struct f2_emu_bucket *b, struct f2_emu_rec *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		b->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		b->tail = r->prev;
	r->queued = 0;
	f2_sub_relaxed(&b->nwaiters, 1); /* under the lock; fast path reads it */
}

#endif
