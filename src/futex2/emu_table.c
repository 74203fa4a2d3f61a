/* The emulation's parking tables, bucket locks and parkers.
 *
 * One table per NUMA node (the kernel's node count, or F2SYNC_EMU_NODES=N
 * when that variable is set, so tests can see several nodes on a one-node
 * machine). Each table is an array of cache-line sized buckets, a power of
 * two sized from the CPU count. Tables are set up on first use and never
 * freed.
 *
 * A NUMA pair uses its node's table. Any other word uses the table its
 * address hashes to (as the kernel spreads non-NUMA futexes over the nodes):
 * a word always meets the same table. Within a table the address picks the
 * bucket.
 *
 * Set-up runs on a lock path (the first emulated wait or wake), so it calls
 * nothing but syscalls and never waits (docs/design/sync.md, "Lock paths call
 * nothing"): the node and CPU counts come from the environment and sysfs
 * (open/read), every table lives in one anonymous mapping, placed on its node
 * with mbind(2) where the machine has several nodes, headed by a struct
 * emu_tables that describes it. The first caller to publish its mapping (a
 * CAS of the pointer `tables` from NULL) wins; a racing loser unmaps its own
 * and uses the winner's. Parkers come from the pool or from mmap'ed chunks,
 * never from malloc.
 *
 * A constructor registers the fork child handler and the key that returns an
 * exiting thread's parker to the pool. A thread that first waits before the
 * constructor ran (another library's constructor) or when no key was left
 * keeps its parker for good (one cache line).
 *
 * fork(): the child runs alone, but its copy of the tables may hold records of
 * threads that do not exist there and locks held by them. The atfork child
 * handler does O(1) work, whatever the table sizes: it raises the process's
 * generation f2_emu_gen, which every bucket lock word carries (emu_impl.h),
 * so every bucket becomes stale at once; f2_emu_bucket() resets a stale
 * bucket the first time this process uses it (bucket_refresh()). Walking all
 * buckets in the child instead read every table page, each a page fault where
 * the parent never touched it (fork() runs 2-3x slower with the emulation on
 * many-bucket machines). The parker pool is reset in the handler (one lock
 * word); parkers of the parent's other threads are abandoned.
 */
#include <errno.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "emu_impl.h"
#include "../internal/die.h"

#define EMU_MAX_NODES   1024   /* the kernel's MAX_NUMNODES at most */
#define EMU_MIN_BUCKETS 256
#define EMU_MAX_BUCKETS 65536
#define EMU_LOCK_SPIN   100
#define EMU_HEADER      4096   /* the struct emu_tables page of the mapping */
#define PARKER_CHUNK    4096   /* parkers are mapped this many bytes at a time */

/* The mapping: this header, then ntables tables of `bytes` each. */
struct emu_tables {
	int ntables;
	uint64_t mask;                  /* buckets per table - 1 */
	size_t bytes;                   /* bytes per table (whole pages) */
	size_t len;                     /* of the whole mapping */
	char *first;                    /* table 0 */
};

static struct emu_tables *tables;       /* NULL until set up */

static struct {
	int nodes;                      /* tables to make; 0: not read yet */
	pthread_key_t parker_key;       /* returns exited threads' parkers */
	int key_ok;                     /* parker_key was created */
	uint32_t pool_lock;             /* F2_BL_*, guards pool */
	struct f2_parker *pool;         /* free parkers */
} emu;

static __thread struct f2_parker *self_parker;

uint32_t f2_emu_gen;

static int read_nodes(void)
{
	const char *s = getenv("F2SYNC_EMU_NODES");
	if (s && *s) {
		char *end;
		long n = strtol(s, &end, 10);
		if (*end == '\0' && n >= 1 && n <= EMU_MAX_NODES)
			return (int)n;
		f2_warn("F2SYNC_EMU_NODES must be 1..1024; using the kernel's node count");
	}
	int k = f2_node_count_kernel();
	return k < 1 ? 1 : k > EMU_MAX_NODES ? EMU_MAX_NODES : k;
}

/* relaxed: a pure function of the environment and the machine; racing first
 * readers compute and store the same value. */
static int node_count(void)
{
	int n = f2_load_relaxed(&emu.nodes);
	if (f2_unlikely(!n)) {
		n = read_nodes();
		f2_store_relaxed(&emu.nodes, n);
	}
	return n;
}

static size_t bucket_count(void)
{
	int cpus = f2_sysfs_list_end("/sys/devices/system/cpu/possible");
	size_t want = 256 * (size_t)cpus, n = EMU_MIN_BUCKETS;
	while (n < want && n < EMU_MAX_BUCKETS)
		n <<= 1;
	return n;
}

/* Prefers node for [p, p + len) where the kernel has several nodes; a
 * failure leaves the pages wherever the kernel puts them (placement is a
 * hint). */
static void place_on(void *p, size_t len, int node)
{
	unsigned long mask[EMU_MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };
	unsigned long bits = 8 * sizeof(unsigned long);

	if (f2_node_count_online() < 2 || node >= f2_node_count_kernel())
		return;
	mask[(unsigned)node / bits] = 1ul << ((unsigned)node % bits);
	/* maxnode counts one more than the mask's bits (the kernel drops one) */
	(void)syscall(SYS_mbind, p, len, MPOL_PREFERRED, mask, 8 * sizeof(mask) + 1, 0u);
}

/* Maps, places and publishes a set of tables; returns the published set, or
 * NULL (ENOMEM) leaving tables unset for a later retry. */
static f2_cold struct emu_tables *setup(void)
{
	int n = node_count(), saved = errno; /* a lock call leaves errno alone */
	size_t nb = bucket_count(), bytes = nb * sizeof(struct f2_emu_bucket);
	size_t len = EMU_HEADER + (size_t)n * bytes;
	struct emu_tables *t, *seen = NULL;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED) {
		errno = saved;
		return NULL;
	}
	t = m;
	t->ntables = n;
	t->mask = nb - 1;
	t->bytes = bytes;
	t->len = len;
	t->first = (char *)m + EMU_HEADER;
	for (int i = 0; i < n; i++)
		place_on(t->first + (size_t)i * bytes, bytes, i);
	errno = saved;
	/* release: publishes the header (pairs with the acquire in emu_tables);
	 * acquire on failure: the winner's header (same pairing) */
	if (f2_cas_acq_rel(&tables, &seen, t))
		return t;
	munmap(m, len);
	return seen;
}

static inline struct emu_tables *emu_tables(void)
{
	/* pairs with the CAS in setup() */
	struct emu_tables *t = f2_load_acquire(&tables);
	return f2_likely(t) ? t : setup();
}

static inline struct f2_emu_bucket *table(const struct emu_tables *t, int i)
{
	return (struct f2_emu_bucket *)(t->first + (size_t)i * t->bytes);
}

/* The first use of bucket b in this process's generation g finds its lock
 * word stale (copied by fork): exactly one thread claims it by CAS (locking it
 * for g), empties it of the parent's records and unlocks it. A thread that
 * loses the claim takes and drops the lock, so that it too returns only after
 * the reset (a requeue adds to nwaiters before locking: the reset must not
 * come after that). Stale words never change but by this claim: no thread of
 * the parent exists here. */
static f2_cold void bucket_refresh(struct f2_emu_bucket *b, uint32_t g)
{
	uint32_t v = f2_load_relaxed(&b->lock); /* the CAS below re-checks it */

	/* acquire: pairs with the release exchange in f2_emu_unlockw, as any lock
	 * acquisition (here the parent's, whose writes fork() copied) */
	if ((v & F2_BL_GEN) != g && f2_cas_acquire(&b->lock, &v, g | F2_BL_LOCKED)) {
		b->head = b->tail = NULL;
		f2_store_relaxed(&b->nwaiters, 0); /* under the lock, which the unlock releases */
	} else {
		f2_emu_lockw(&b->lock);
	}
	f2_emu_unlockw(&b->lock);
}

static void atfork_child(void)
{
	/* the child runs alone: no ordering needed */
	uint32_t g = f2_emu_gen_now() + (F2_BL_STATE + 1); /* the next generation */

	f2_store_relaxed(&f2_emu_gen, g); /* every bucket is stale from here on */
	/* a pool caught mid-update by the fork is dropped (its parkers leak) */
	if ((f2_load_relaxed(&emu.pool_lock) & F2_BL_STATE) != F2_BL_UNLOCKED)
		emu.pool = NULL;
	f2_store_relaxed(&emu.pool_lock, g | F2_BL_UNLOCKED);
}

static void parker_release(void *p)
{
	struct f2_parker *pk = p;
	self_parker = NULL;
	f2_emu_lockw(&emu.pool_lock);
	pk->next_free = emu.pool;
	emu.pool = pk;
	f2_emu_unlockw(&emu.pool_lock);
}

/* Registered at load, before the program can register handlers of its own:
 * child handlers run in registration order, so the emulation is reset before
 * a program's child handler (which may unlock an f2sync lock) runs. The key
 * is made here too, outside every lock path. */
__attribute__((constructor)) static void emu_init(void)
{
	if (pthread_atfork(NULL, NULL, atfork_child))
		f2_die("emulation: pthread_atfork failed");
	/* read by parker_new on other threads, which the program starts later */
	emu.key_ok = pthread_key_create(&emu.parker_key, parker_release) == 0;
}

/* murmur3's 64-bit finalizer: every address bit reaches the bucket bits. */
static inline uint64_t addr_hash(const void *addr)
{
	uint64_t k = (uintptr_t)addr;
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

int f2_emu_node_count(void)
{
	return node_count();
}

struct f2_emu_bucket *f2_emu_bucket(const struct f2_word *w)
{
	const struct emu_tables *t = emu_tables();
	if (f2_unlikely(!t))
		return NULL;
	uint64_t h = addr_hash(w->addr);
	/* non-pairs: the top half of the hash scaled to [0, ntables) (no
	 * division); the bucket comes from the bottom half */
	int i = w->node >= 0 ? w->node : (int)(((h >> 32) * (uint64_t)t->ntables) >> 32);
	if (f2_unlikely(i >= t->ntables))
		f2_die("emulation: pair node beyond the tables (not validated)");
	struct f2_emu_bucket *b = &table(t, i)[h & t->mask];
	uint32_t g = f2_emu_gen_now();
	/* stale only after a fork; see bucket_refresh() */
	if (f2_unlikely((f2_load_relaxed(&b->lock) & F2_BL_GEN) != g))
		bucket_refresh(b, g);
	return b;
}

void f2_emu_lockw_slow(uint32_t *l, uint32_t g)
{
	for (int i = 0; i < EMU_LOCK_SPIN; i++) {
		uint32_t unlocked = g | F2_BL_UNLOCKED;
		/* pairs with the release exchange in f2_emu_unlockw */
		if (f2_load_relaxed(l) == unlocked &&
		    f2_cas_acquire(l, &unlocked, g | F2_BL_LOCKED))
			return;
		f2_cpu_relax();
	}
	/* pairs with the release exchange in f2_emu_unlockw */
	while (f2_xchg_acquire(l, g | F2_BL_SLEEPERS) != (g | F2_BL_UNLOCKED))
		f2_sys_wait32(l, g | F2_BL_SLEEPERS, NULL, CLOCK_MONOTONIC);
}

/* A fresh chunk of parkers: the first is returned, the rest go to the pool. */
static struct f2_parker *parker_chunk(void)
{
	int saved = errno; /* a lock call leaves errno alone */
	struct f2_parker *c = mmap(NULL, PARKER_CHUNK, PROT_READ | PROT_WRITE,
	                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t n = PARKER_CHUNK / sizeof *c;

	if (c == MAP_FAILED) {
		errno = saved;
		return NULL;
	}
	for (size_t i = 1; i + 1 < n; i++)
		c[i].next_free = &c[i + 1];
	f2_emu_lockw(&emu.pool_lock);
	c[n - 1].next_free = emu.pool;
	emu.pool = &c[1];
	f2_emu_unlockw(&emu.pool_lock);
	return c;
}

static f2_cold struct f2_parker *parker_new(void)
{
	struct f2_parker *pk;
	f2_emu_lockw(&emu.pool_lock);
	pk = emu.pool;
	if (pk)
		emu.pool = pk->next_free;
	f2_emu_unlockw(&emu.pool_lock);
	if (!pk && !(pk = parker_chunk()))
		return NULL;
	memset(pk, 0, sizeof *pk);
	/* the constructor made the key before this thread existed (or not at all) */
	if (emu.key_ok && pthread_setspecific(emu.parker_key, pk)) {
		parker_release(pk);
		return NULL;
	}
	self_parker = pk;
	return pk;
}

struct f2_parker *f2_emu_parker(void)
{
	struct f2_parker *pk = self_parker;
	if (f2_likely(pk))
		return pk;
	return parker_new();
}

/* Sums over node's buckets of this process's generation their queued
 * records (waiters) or 1 each; a stale bucket's records are the parent's,
 * none of them here. A snapshot for tests, or -EINVAL. */
static int fresh_sum(int node, int waiters)
{
	const struct emu_tables *t = emu_tables();
	if (!t)
		return -ENOMEM;
	if (node < 0 || node >= t->ntables)
		return -EINVAL;
	int n = 0;
	uint32_t g = f2_emu_gen_now();
	for (uint64_t i = 0; i <= t->mask; i++) {
		struct f2_emu_bucket *b = &table(t, node)[i];
		/* a snapshot for tests; no ordering needed */
		if ((f2_load_relaxed(&b->lock) & F2_BL_GEN) == g)
			n += waiters ? (int)f2_load_relaxed(&b->nwaiters) : 1;
	}
	return n;
}

int f2_emu_waiters_on_node(int node)
{
	return fresh_sum(node, 1);
}

int f2_emu_fresh_buckets(int node)
{
	return fresh_sum(node, 0);
}

int f2_emu_hold_bucket(const struct f2_word *w, int hold)
{
	struct f2_emu_bucket *b = f2_emu_bucket(w);
	if (!b)
		return -ENOMEM;
	if (hold)
		f2_emu_lock(b);
	else
		f2_emu_unlock(b);
	return 0;
}
