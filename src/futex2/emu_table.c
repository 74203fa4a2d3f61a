/* The emulation's parking tables, bucket locks and parkers.
 *
 * One table per NUMA node (the kernel's node count, or F2SYNC_EMU_NODES=N
 * when that variable is set, so tests can see several nodes on a one-node
 * machine). Each table is an array of cache-line sized buckets, a power of
 * two sized from the CPU count, allocated on its node with libnuma when the
 * machine has NUMA, else from plain anonymous memory. Tables are set up on
 * first use and never freed.
 *
 * A NUMA pair uses its node's table. Any other word uses the table its
 * address hashes to (as the kernel spreads non-NUMA futexes over the nodes):
 * a word always meets the same table. Within a table the address picks the
 * bucket.
 *
 * The set-up word emu.state:
 *   NONE 0 -> BUSY 1 (one thread, CAS) -> READY 2 (release store, wake all).
 *   Others sleep on it while BUSY. A fork child that finds BUSY resets to NONE.
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
#include <numa.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu_impl.h"
#include "../internal/die.h"

#define EMU_NONE  0u
#define EMU_BUSY  1u
#define EMU_READY 2u

#define EMU_MAX_NODES   1024   /* the kernel's MAX_NUMNODES at most */
#define EMU_MIN_BUCKETS 256
#define EMU_MAX_BUCKETS 65536
#define EMU_LOCK_SPIN   100

static struct {
	uint32_t state;                 /* EMU_* */
	int ntables;
	uint64_t mask;                  /* buckets per table - 1 */
	size_t bytes;                   /* bytes per table */
	struct f2_emu_bucket **tab;     /* [ntables] */
	pthread_key_t parker_key;       /* returns exited threads' parkers */
	uint32_t pool_lock;             /* F2_BL_*, guards pool */
	struct f2_parker *pool;         /* free parkers */
} emu;

static __thread struct f2_parker *self_parker;

uint32_t f2_emu_gen;

static int node_count(void)
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

static size_t bucket_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	size_t want = 256 * (size_t)(cpus > 0 ? cpus : 1), n = EMU_MIN_BUCKETS;
	while (n < want && n < EMU_MAX_BUCKETS)
		n <<= 1;
	return n;
}

/* Zeroed, page-aligned memory on node (where it exists), or NULL. */
static void *table_alloc(int node, size_t bytes)
{
	if (numa_available() >= 0 && node <= numa_max_node())
		return numa_alloc_onnode(bytes, node);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
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
	if (f2_load_relaxed(&emu.state) == EMU_BUSY) /* set-up interrupted by the fork */
		f2_store_relaxed(&emu.state, EMU_NONE);
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

/* Returns 0, or -ENOMEM leaving emu.state NONE for a later retry. */
static int setup(void)
{
	int n = node_count();
	size_t nb = bucket_count();
	struct f2_emu_bucket **tab = calloc((size_t)n, sizeof *tab);
	if (!tab || pthread_key_create(&emu.parker_key, parker_release)) {
		free(tab);
		return -ENOMEM;
	}
	for (int t = 0; t < n; t++) {
		tab[t] = table_alloc(t, nb * sizeof(struct f2_emu_bucket));
		if (!tab[t]) {
			while (t--)
				munmap(tab[t], nb * sizeof(struct f2_emu_bucket));
			free(tab);
			pthread_key_delete(emu.parker_key);
			return -ENOMEM;
		}
	}
	emu.tab = tab;
	emu.ntables = n;
	emu.mask = nb - 1;
	emu.bytes = nb * sizeof(struct f2_emu_bucket);
	return 0;
}

/* The child handler is registered before the first setup starts, so that a
 * fork during that setup (another thread BUSY) resets the child to NONE
 * instead of leaving it waiting for a setup that will never finish. */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_register(void)
{
	if (pthread_atfork(NULL, NULL, atfork_child))
		f2_die("emulation: pthread_atfork failed");
}

/* Registered at load, before the program can register handlers of its own:
 * child handlers run in registration order, so the emulation is reset before
 * a program's child handler (which may unlock an f2sync lock) runs. */
__attribute__((constructor)) static void fork_register_early(void)
{
	pthread_once(&fork_once, fork_register);
}

static f2_cold int init_slow(void)
{
	pthread_once(&fork_once, fork_register);
	for (;;) {
		uint32_t s = EMU_NONE;
		/* acquire on success and on failure (a failure that reads READY
		 * returns at once): pairs with the release stores below */
		if (f2_cas_acq_rel(&emu.state, &s, EMU_BUSY)) {
			int e = setup();
			/* pairs with the acquire loads of emu.state */
			f2_store_release(&emu.state, e ? EMU_NONE : EMU_READY);
			f2_sys_wake32(&emu.state, 1 << 30);
			return e;
		}
		if (s == EMU_READY)
			return 0;
		f2_sys_wait32(&emu.state, EMU_BUSY, NULL, CLOCK_MONOTONIC);
		/* pairs with the release store after setup() */
		if (f2_load_acquire(&emu.state) == EMU_READY)
			return 0;
	}
}

static inline int emu_ready(void)
{
	/* pairs with the release store after setup() */
	if (f2_likely(f2_load_acquire(&emu.state) == EMU_READY))
		return 0;
	return init_slow();
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
	int e = emu_ready();
	return e ? e : emu.ntables;
}

struct f2_emu_bucket *f2_emu_bucket(const struct f2_word *w)
{
	if (f2_unlikely(emu_ready()))
		return NULL;
	uint64_t h = addr_hash(w->addr);
	/* non-pairs: the top half of the hash scaled to [0, ntables) (no
	 * division); the bucket comes from the bottom half */
	int t = w->node >= 0 ? w->node : (int)(((h >> 32) * (uint64_t)emu.ntables) >> 32);
	if (f2_unlikely(t >= emu.ntables))
		f2_die("emulation: pair node beyond the tables (not validated)");
	struct f2_emu_bucket *b = &emu.tab[t][h & emu.mask];
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
	while (f2_xchg_acquire(l, g | F2_BL_CONTENDED) != (g | F2_BL_UNLOCKED))
		f2_sys_wait32(l, g | F2_BL_CONTENDED, NULL, CLOCK_MONOTONIC);
}

static f2_cold struct f2_parker *parker_new(void)
{
	struct f2_parker *pk;
	f2_emu_lockw(&emu.pool_lock);
	pk = emu.pool;
	if (pk)
		emu.pool = pk->next_free;
	f2_emu_unlockw(&emu.pool_lock);
	if (!pk && posix_memalign((void **)&pk, F2_CACHELINE, sizeof *pk))
		return NULL;
	memset(pk, 0, sizeof *pk);
	if (pthread_setspecific(emu.parker_key, pk)) {
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
	return emu_ready() ? NULL : parker_new();
}

/* Sums over node's buckets of this process's generation their queued
 * records (waiters) or 1 each; a stale bucket's records are the parent's,
 * none of them here. A snapshot for tests, or -EINVAL. */
static int fresh_sum(int node, int waiters)
{
	int e = emu_ready();
	if (e)
		return e;
	if (node < 0 || node >= emu.ntables)
		return -EINVAL;
	int n = 0;
	uint32_t g = f2_emu_gen_now();
	for (uint64_t i = 0; i <= emu.mask; i++) {
		struct f2_emu_bucket *b = &emu.tab[node][i];
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
