/* The read locks the calling thread holds, per rwlock (rwlock.c).
 *
 * Why: while a starving writer has reserved the next write turn (WSTARVE),
 * new readers stay out, but a thread that already holds a read lock on that
 * same rwlock must get another one (POSIX: recursive read locks succeed; the
 * writer waits for this thread's first read lock, so refusing the second
 * would deadlock). A per-thread count over all rwlocks would also let a
 * thread that holds a read lock on some other rwlock pass, and two such
 * threads reading in relay would keep the writer out for ever.
 *
 * How: a few slots { lock, count } in thread-local storage, no allocation
 * (lock paths call no malloc). A read lock that finds no free slot is counted
 * in spill, and while spill is nonzero every rwlock counts as held by this
 * thread: a thread holding read locks on more than RD_SLOTS rwlocks at once
 * may pass a reserved write turn (the writer then waits longer), but it never
 * deadlocks. Initial-exec TLS (no allocation on first touch); the table is
 * small because the static TLS a dlopen()ed library may take is limited.
 *
 * A slot also records whether its read locks are held through the thread's
 * reader slot (bias, rwlock.c: then all of them are, none in R); no read
 * lock takes the reader slot while spill is nonzero, so every read lock in
 * spill is one in R.
 *
 * Invariant: every read lock this thread holds on lock L is counted either
 * in a slot for L (maybe more than one) or in spill, so rd_holds(L) is 1
 * whenever the thread holds L. An unlock for a lock without a slot takes one
 * from spill. (A read
 * lock released by a thread other than the one that took it, which POSIX
 * leaves undefined, can break the accounting; at worst that thread passes a
 * reserved turn or waits behind a starving writer for its own lock.) */
#ifndef F2_SYNC_RWLOCK_HELD_H
#define F2_SYNC_RWLOCK_HELD_H

#define RD_SLOTS 4

struct rd_slot {
	const void *lock;
	unsigned n;       /* read locks held on lock; 0: slot free */
	unsigned bias;    /* 1: held through this thread's reader slot (rwlock.c),
			   * all n of them; 0: counted in the word's R */
};

struct rd_table {
	struct rd_slot slot[RD_SLOTS];
	unsigned spill;   /* read locks held that found no slot */
};

static __thread struct rd_table rd_table __attribute__((tls_model("initial-exec")));

/* The calling thread took a read lock on lock: counted in the first slot
 * that is free or already counts lock (a lock may be counted in two slots;
 * rd_forget takes from either, so its total stays exact). */
static inline void rd_note(const void *lock)
{
	for (int i = 0; i < RD_SLOTS; i++) {
		struct rd_slot *s = &rd_table.slot[i];
		if (!s->n || (s->lock == lock && !s->bias)) {
			s->lock = lock;
			s->n++;
			return;
		}
	}
	rd_table.spill++;
}

/* One pass over the table: returns the slot that counts a read lock on
 * lock, or NULL; *free is then the first free slot, or NULL. */
static inline struct rd_slot *rd_scan(const void *lock, struct rd_slot **free)
{
	*free = NULL;
	for (int i = 0; i < RD_SLOTS; i++) {
		struct rd_slot *s = &rd_table.slot[i];
		if (!s->n) {
			if (!*free)
				*free = s;
		} else if (s->lock == lock) {
			return s;
		}
	}
	return NULL;
}

/* The calling thread took a read lock on lock through the word: counted at
 * s, a slot that rd_scan returned (counting lock, or free), or in spill. */
static inline void rd_note_at(const void *lock, struct rd_slot *s)
{
	if (s) {
		s->lock = lock;
		s->n++;
	} else {
		rd_table.spill++;
	}
}

/* The slot that counts a read lock of the calling thread on lock, or NULL. */
static inline struct rd_slot *rd_find(const void *lock)
{
	for (int i = 0; i < RD_SLOTS; i++)
		if (rd_table.slot[i].n && rd_table.slot[i].lock == lock)
			return &rd_table.slot[i];
	return NULL;
}

/* 1 if the calling thread may hold a read lock on lock (see above). */
static inline int rd_holds(const void *lock)
{
	return rd_table.spill || rd_find(lock);
}

/* The calling thread released a read lock found by rd_find (s, or NULL:
 * counted in spill): rd_forget without a second search. */
static inline void rd_forget_at(struct rd_slot *s)
{
	if (s) {
		if (!--s->n)
			s->bias = 0;
	} else if (rd_table.spill)
		rd_table.spill--;
}

/* The calling thread released a read lock on lock. */
static inline void rd_forget(const void *lock)
{
	rd_forget_at(rd_find(lock));
}

#endif
