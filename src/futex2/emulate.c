/* The futex2 emulation: wait, wake, requeue and waitv on words the kernel
 * cannot serve (8, 16 and 64-bit words; every private word under
 * F2SYNC_BACKEND=emulate; NUMA pairs when the kernel lacks FUTEX2_NUMA).
 * Same contract as the kernel's futex2 calls; tables and parkers are in
 * emu_table.c, the objects and their states in emu_impl.h.
 *
 * A waiter queues a record { addr, mask, parker, index } in the bucket its
 * word hashes to, after checking the word's value under the bucket lock, and
 * sleeps on its thread's parker word. A waker, under the same lock, unlinks
 * matching records and moves each parker ARMED -> WOKEN + index with a CAS;
 * after unlocking it futex-wakes the parkers. A waiter that times out moves
 * its parker ARMED -> CLAIMED and unqueues its records itself; a waker that
 * loses that race does not count the record, so a wake is never spent on a
 * thread that is leaving (the kernel would count it).
 *
 * No lost wakeup, and the no-waiter wake is one load (issue 3). The waker's
 * caller stores the new value V to the word, then calls wake, which reads
 * the bucket's nwaiters N without the lock. The waiter, under the lock,
 * increments N, then reads the word. Both sides put a seq_cst fence between
 * their write and their read (queue() and f2_emu_wake()). The two fences are
 * totally ordered: if the waiter's comes first, the waker reads N >= 1 and
 * takes the lock, which orders it after the waiter has queued; if the
 * waker's comes first, the waiter reads V (or newer), differs from its
 * expected value and returns -EAGAIN. (Dekker's pattern; the kernel's futex
 * has the same pair of barriers around hb->waiters.)
 *
 * Self-synchronised records: a record lives on its waiter's stack. A waker
 * reads everything it needs, unlinks the record, and then does the release
 * CAS on the parker: the last touch, since the waiter may return at once.
 * The parker itself is never freed, so the futex wake after the unlock may
 * land late, on a later wait of the same thread (a spurious wakeup, which
 * sleep_until_claimed() absorbs by re-checking the state).
 */
#include <errno.h>
#include <limits.h>

#include "emu_impl.h"

#define WAKE_BATCH 32
#define MASK_ALL   (~(uint64_t)0)

/* Parkers to futex-wake once the bucket locks are dropped. */
struct wake_batch {
	unsigned n;
	struct f2_parker *pk[WAKE_BATCH];
};

static void batch_flush(struct wake_batch *wb)
{
	for (unsigned i = 0; i < wb->n; i++)
		f2_sys_wake32(&wb->pk[i]->state, 1);
	wb->n = 0;
}

/* Overflow (only with many waiters) wakes under the lock: still correct. */
static void batch_add(struct wake_batch *wb, struct f2_parker *pk)
{
	if (wb->n == WAKE_BATCH)
		batch_flush(wb);
	wb->pk[wb->n++] = pk;
}

/* Caller holds b's lock and r is queued in b. Unlinks r, then claims its
 * parker: returns the parker to wake, or NULL if its owner had already given
 * up or been woken through another record (then r is not counted). */
static struct f2_parker *wake_rec(struct f2_emu_bucket *b, struct f2_emu_rec *r)
{
	struct f2_parker *pk = r->parker;
	uint32_t armed = F2_PK_ARMED;
	uint32_t woken = F2_PK_WOKEN + r->index;
	f2_emu_unlink(b, r);
	/* Last touch of r. Pairs with the acquire load in sleep_until_claimed()/park_mixed(). */
	if (f2_cas_release(&pk->state, &armed, woken))
		return pk;
	return NULL;
}

/* Wakes up to nr records of addr whose mask meets mask, oldest first. */
static int wake_locked(struct f2_emu_bucket *b, void *addr, uint64_t mask, int nr,
                       struct wake_batch *wb)
{
	int n = 0;
	struct f2_emu_rec *r, *next;
	for (r = b->head; r && n < nr; r = next) {
		next = r->next;
		if (r->addr != addr || !(r->mask & mask))
			continue;
		struct f2_parker *pk = wake_rec(b, r);
		if (pk) {
			batch_add(wb, pk);
			n++;
		}
	}
	return n;
}

static void lock2(struct f2_emu_bucket *a, struct f2_emu_bucket *b)
{
	if (a == b) {
		f2_emu_lock(a);
	} else if (a < b) {
		f2_emu_lock(a);
		f2_emu_lock(b);
	} else {
		f2_emu_lock(b);
		f2_emu_lock(a);
	}
}

static void unlock2(struct f2_emu_bucket *a, struct f2_emu_bucket *b)
{
	f2_emu_unlock(a);
	if (a != b)
		f2_emu_unlock(b);
}

/* Queues r on w if the word still holds val. 0, -EAGAIN or -ENOMEM. */
static int queue(struct f2_emu_rec *r, const struct f2_word *w, uint64_t val, uint64_t mask,
                 struct f2_parker *pk, unsigned index)
{
	struct f2_emu_bucket *b = f2_emu_bucket(w);
	if (!b)
		return -ENOMEM;
	r->addr = w->addr;
	r->mask = mask;
	r->parker = pk;
	r->index = index;
	f2_emu_lock(b);
	/* Announce, then look (the file comment): ordered by the fence, which
	 * pairs with the fence in f2_emu_wake. */
	f2_add_relaxed(&b->nwaiters, 1);
	f2_fence_seq();
	if (f2_word_load(w) != val) {
		f2_sub_relaxed(&b->nwaiters, 1); /* under the lock; see above */
		f2_emu_unlock(b);
		return -EAGAIN;
	}
	f2_emu_link(b, r);
	f2_emu_unlock(b);
	return 0;
}

/* Unqueues r if no waker did. Requeue may move r meanwhile, so lock the
 * bucket r claims to be in and check that it still is. */
static void dequeue(struct f2_emu_rec *r)
{
	struct f2_emu_bucket *b;
	for (;;) {
		/* re-checked under the lock, which orders it */
		b = f2_load_relaxed(&r->bucket);
		f2_emu_lock(b);
		if (f2_load_relaxed(&r->bucket) == b)
			break;
		f2_emu_unlock(b);
	}
	if (r->queued)
		f2_emu_unlink(b, r);
	f2_emu_unlock(b);
}

static void dequeue_all(struct f2_emu_rec *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dequeue(&r[i]);
}

/* Moves pk ARMED -> CLAIMED. Returns err, or the index a waker claimed it
 * through if one was first. */
static int claim(struct f2_parker *pk, int err)
{
	uint32_t s = F2_PK_ARMED;
	/* Success: the records are unqueued under their bucket locks next, and
	 * every waker's CAS happened under one of them: the locks order the rest.
	 * Failure: a waker was first and unlinked our record, and we return
	 * without taking its lock, so the failed CAS must acquire: pairs with the
	 * release CAS in wake_rec. */
	if (f2_cas_acq_rel(&pk->state, &s, F2_PK_CLAIMED))
		return err;
	return (int)(s - F2_PK_WOKEN);
}

/* Sleeps on pk until a waker claims it (returns the index) or the deadline
 * passes and the caller claims it (returns -ETIMEDOUT). A signal or a late
 * wake from an earlier wait just sleeps again. */
static int sleep_until_claimed(struct f2_parker *pk, const struct timespec *abs, clockid_t clk)
{
	for (;;) {
		/* pairs with the release CAS in wake_rec */
		uint32_t s = f2_load_acquire(&pk->state);
		if (s >= F2_PK_WOKEN)
			return (int)(s - F2_PK_WOKEN);
		if (f2_sys_wait32(&pk->state, F2_PK_ARMED, abs, clk) == -ETIMEDOUT)
			return claim(pk, -ETIMEDOUT);
	}
}

/* waitv with kernel words: futex_waitv over them plus pk's word, so that
 * either kind of wake ends the sleep. kw/kv have room for nk + 1 entries. */
static int park_mixed(struct f2_parker *pk, struct f2_word *kw, uint64_t *kv,
                      const unsigned *kidx, unsigned nk,
                      const struct timespec *abs, clockid_t clk)
{
	kw[nk] = (struct f2_word){ .addr = &pk->state, .flags = F2_SIZE_U32 | F2_PRIVATE,
	                           .size = F2_SIZE_U32, .node = -1, .bk = kw[0].bk };
	kv[nk] = F2_PK_ARMED;
	for (;;) {
		int e = f2_kernel_waitv(kw, kv, nk + 1, abs, clk);
		/* pairs with the release CAS in wake_rec */
		uint32_t s = f2_load_acquire(&pk->state);
		if (s >= F2_PK_WOKEN)
			return (int)(s - F2_PK_WOKEN);
		/* pk still ARMED: it was ARMED when the kernel looked, so a
		 * parker hit is a late wake and -EAGAIN is a kernel word's. A
		 * signal comes back as 0 (f2_kernel_waitv): a spurious wakeup
		 * of entry 0, which the contract allows. */
		if (e == (int)nk)
			continue;
		if (e >= 0) {
			claim(pk, 0);
			return (int)kidx[e];
		}
		return claim(pk, e);
	}
}

int f2_emu_wait(const struct f2_word *w, uint64_t val, uint64_t mask,
                const struct timespec *abs, clockid_t clk)
{
	struct f2_parker *pk = f2_emu_parker();
	struct f2_emu_rec r;
	if (!pk)
		return -ENOMEM;
	/* no waker can reach pk before queue() publishes it under the lock */
	f2_store_relaxed(&pk->state, F2_PK_ARMED);
	int e = queue(&r, w, val, mask, pk, 0);
	if (e)
		return e;
	if (sleep_until_claimed(pk, abs, clk) >= 0)
		return 0; /* the waker unlinked r: it is ours again */
	dequeue(&r);
	return -ETIMEDOUT;
}

int f2_emu_wake(const struct f2_word *w, uint64_t mask, int nr)
{
	struct wake_batch wb;
	f2_futex_count_wake();
	if (nr <= 0)
		return 0;
	struct f2_emu_bucket *b = f2_emu_bucket(w);
	if (!b)
		return 0; /* no tables: nobody can be waiting */
	/* Orders the caller's store to the word before the nwaiters load:
	 * pairs with the fence in queue() (the file comment). */
	f2_fence_seq();
	if (f2_load_relaxed(&b->nwaiters) == 0)
		return 0;
	wb.n = 0;
	f2_emu_lock(b);
	int n = wake_locked(b, w->addr, mask, nr, &wb);
	f2_emu_unlock(b);
	batch_flush(&wb);
	return n;
}

int f2_emu_cmp_wake(const struct f2_word *from, uint64_t cmpval, int nr)
{
	struct wake_batch wb = { .n = 0 };
	f2_futex_count_wake();
	struct f2_emu_bucket *b = f2_emu_bucket(from);
	if (!b)
		return -ENOMEM;
	f2_emu_lock(b);
	int n = f2_word_load(from) != cmpval ? -EAGAIN : wake_locked(b, from->addr, MASK_ALL, nr, &wb);
	f2_emu_unlock(b);
	batch_flush(&wb);
	return n;
}

/* Both locks held, cmpval checked. Wakes nr_wake records of from, then moves
 * up to nr_requeue more to `to` (any mask, as the kernel). Records whose
 * owner has left (parker not ARMED) stay for the owner to unqueue. Moved
 * records are collected first so that b1 == b2 cannot revisit them. */
static int requeue_locked(struct f2_emu_bucket *b1, struct f2_emu_bucket *b2, void *from,
                          void *to, int nr_wake, int nr_requeue, struct wake_batch *wb)
{
	int woken = 0, moved = 0;
	struct f2_emu_rec *r, *next, *mhead = NULL, **mtail = &mhead;
	for (r = b1->head; r && (woken < nr_wake || moved < nr_requeue); r = next) {
		next = r->next;
		if (r->addr != from)
			continue;
		if (woken < nr_wake) {
			struct f2_parker *pk = wake_rec(b1, r);
			if (pk) {
				batch_add(wb, pk);
				woken++;
			}
			continue;
		}
		/* only the owner leaves ARMED for CLAIMED, then locks b1 (held) */
		if (f2_load_relaxed(&r->parker->state) != F2_PK_ARMED)
			continue;
		f2_emu_unlink(b1, r);
		r->addr = to;
		r->next = NULL;
		*mtail = r;
		mtail = &r->next;
		moved++;
	}
	for (r = mhead; r; r = next) {
		next = r->next;
		f2_add_relaxed(&b2->nwaiters, 1); /* under the lock, like queue() */
		f2_emu_link(b2, r);
	}
	return woken + moved;
}

int f2_emu_requeue(const struct f2_word *from, const struct f2_word *to,
                   uint64_t cmpval, int nr_wake, int nr_requeue)
{
	struct wake_batch wb = { .n = 0 };
	f2_futex_count_wake();
	struct f2_emu_bucket *b1 = f2_emu_bucket(from), *b2 = f2_emu_bucket(to);
	if (!b1 || !b2)
		return -ENOMEM;
	/* As the kernel: a waker of `to` running meanwhile sees a waiter
	 * pending and queues on the lock, so it finds the moved records. */
	f2_add_seq(&b2->nwaiters, 1);
	lock2(b1, b2);
	int n = -EAGAIN;
	if (f2_word_load(from) == cmpval)
		n = requeue_locked(b1, b2, from->addr, to->addr, nr_wake, nr_requeue, &wb);
	unlock2(b1, b2);
	f2_sub_seq(&b2->nwaiters, 1);
	batch_flush(&wb);
	return n;
}

int f2_emu_waitv(const struct f2_word *w, const uint64_t *vals, unsigned n,
                 const struct timespec *abs, clockid_t clk)
{
	struct f2_emu_rec rec[F2_WAITV_MAX];
	struct f2_word kw[F2_WAITV_MAX + 1];
	uint64_t kv[F2_WAITV_MAX + 1];
	unsigned kidx[F2_WAITV_MAX], nk = 0, ne = 0;
	struct f2_parker *pk = f2_emu_parker();
	if (!pk)
		return -ENOMEM;
	if (n == 0 || n > F2_WAITV_MAX)
		return -EINVAL;
	/* no waker can reach pk before queue() publishes it under the lock */
	f2_store_relaxed(&pk->state, F2_PK_ARMED);
	for (unsigned i = 0; i < n; i++) {
		if (w[i].bk != F2_BK_EMU) {
			kw[nk] = w[i];
			kv[nk] = vals[i];
			kidx[nk++] = i;
			continue;
		}
		int e = queue(&rec[ne], &w[i], vals[i], MASK_ALL, pk, i);
		if (e) {
			e = claim(pk, e);
			dequeue_all(rec, ne);
			return e;
		}
		ne++;
	}
	int ret = nk ? park_mixed(pk, kw, kv, kidx, nk, abs, clk) : sleep_until_claimed(pk, abs, clk);
	dequeue_all(rec, ne);
	return ret;
}
