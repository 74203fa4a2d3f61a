/* The embedding API (runtime.h): header-bit locks in words whose other bits
 * other threads change at the same time, park hooks, tuning knobs, the
 * per-thread node override, and locking and parking in a fork child. */
#include <sys/mman.h>
#include <sys/wait.h>

#include "f2sync/f2sync.h"
#include "f2sync/runtime.h"
#include "common/testutil.h"

#define LOCKERS  8     /* more threads than the 2 cores */
#define ROUNDS   3000  /* per locker */
#define FOREIGN  2     /* threads flipping foreign bits of the lock word */

static const unsigned sizes[] = { F2_SIZE_U8, F2_SIZE_U16, F2_SIZE_U32, F2_SIZE_U64 };

/* A word of each size, naturally aligned. */
static union {
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
} word;

static uint64_t fetch_or(void *p, unsigned size, uint64_t bits)
{
	switch (size) {
	case F2_SIZE_U8: return __atomic_fetch_or((uint8_t *)p, (uint8_t)bits, __ATOMIC_SEQ_CST);
	case F2_SIZE_U16: return __atomic_fetch_or((uint16_t *)p, (uint16_t)bits, __ATOMIC_SEQ_CST);
	case F2_SIZE_U32: return __atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_SEQ_CST);
	default: return __atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_SEQ_CST);
	}
}

static uint64_t fetch_and(void *p, unsigned size, uint64_t bits)
{
	switch (size) {
	case F2_SIZE_U8: return __atomic_fetch_and((uint8_t *)p, (uint8_t)bits, __ATOMIC_SEQ_CST);
	case F2_SIZE_U16: return __atomic_fetch_and((uint16_t *)p, (uint16_t)bits, __ATOMIC_SEQ_CST);
	case F2_SIZE_U32: return __atomic_fetch_and((uint32_t *)p, (uint32_t)bits, __ATOMIC_SEQ_CST);
	default: return __atomic_fetch_and((uint64_t *)p, bits, __ATOMIC_SEQ_CST);
	}
}

/* ---- bit-locks among foreign bits ------------------------------------------ */

struct bitjob {
	unsigned size, lock_bit, wait_bit;
	long *counter;            /* protected by the bit-lock */
	uint64_t foreign_bit;     /* FOREIGN threads: the bit this one owns */
	int leave_set;            /* FOREIGN threads: final state of its bit */
	int *stop;
	int errors;
};

static void *locker(void *arg)
{
	struct bitjob *j = arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (f2_bitlock_lock(&word, j->size, j->lock_bit, j->wait_bit)) {
			j->errors++;
			continue;
		}
		long c = *j->counter;          /* a lost update shows if exclusion fails */
		if ((i & 63) == 0)
			sched_yield();
		*j->counter = c + 1;
		if (f2_bitlock_unlock(&word, j->size, j->lock_bit, j->wait_bit))
			j->errors++;
	}
	return NULL;
}

/* Sets and clears its own bit with fetch_or/fetch_and on the lock's word,
 * checking each time that nobody else touched that bit. */
static void *flipper(void *arg)
{
	struct bitjob *j = arg;
	for (unsigned n = 0; !__atomic_load_n(j->stop, __ATOMIC_ACQUIRE); n++) {
		if ((n & 15) == 15)
			sched_yield(); /* on a 2-core box, leave the lockers some CPU */
		if (fetch_or(&word, j->size, j->foreign_bit) & j->foreign_bit)
			j->errors++;
		if (!(fetch_and(&word, j->size, ~j->foreign_bit) & j->foreign_bit))
			j->errors++;
	}
	if (j->leave_set)
		fetch_or(&word, j->size, j->foreign_bit);
	return NULL;
}

START_TEST(bitlock_among_foreign_bits)
{
	const unsigned size = sizes[_i], nbits = 8u << size;
	/* Lock bits in the middle of the word, foreign bits around them and at
	 * both ends, and a starting foreign pattern the runtime "owns". */
	const unsigned lb = nbits / 2 - 1, wb = nbits / 2 + 1;
	const uint64_t fbits[FOREIGN] = { 1ull << 0, 1ull << (nbits - 1) };
	const uint64_t steady = 1ull << (nbits / 2); /* between L and W, never touched */
	struct bitjob lj[LOCKERS], fj[FOREIGN];
	pthread_t lt[LOCKERS], ft[FOREIGN];
	long counter = 0;
	int stop = 0;

	memset(&word, 0, sizeof word);
	tu_store(&word, size, steady);
	for (int i = 0; i < FOREIGN; i++) {
		fj[i] = (struct bitjob){ size, lb, wb, NULL, fbits[i], i == 0, &stop, 0 };
		ck_assert_int_eq(pthread_create(&ft[i], NULL, flipper, &fj[i]), 0);
	}
	for (int i = 0; i < LOCKERS; i++) {
		lj[i] = (struct bitjob){ size, lb, wb, &counter, 0, 0, &stop, 0 };
		ck_assert_int_eq(pthread_create(&lt[i], NULL, locker, &lj[i]), 0);
	}
	for (int i = 0; i < LOCKERS; i++) {
		pthread_join(lt[i], NULL);
		ck_assert_int_eq(lj[i].errors, 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < FOREIGN; i++) {
		pthread_join(ft[i], NULL);
		ck_assert_int_eq(fj[i].errors, 0);
	}
	ck_assert_int_eq(counter, (long)LOCKERS * ROUNDS);
	/* Exactly the runtime's bits: the steady one and flipper 0's final set. */
	ck_assert_uint_eq(tu_load(&word, size), steady | fbits[0]);
}
END_TEST

struct pairjob {
	unsigned size, lock_bit, wait_bit;
	long *counter;
};

static void *pair_locker(void *arg)
{
	struct pairjob *j = arg;
	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(f2_bitlock_lock(&word, j->size, j->lock_bit, j->wait_bit), 0);
		long c = *j->counter;
		if ((i & 31) == 0)
			sched_yield();
		*j->counter = c + 1;
		ck_assert_int_eq(f2_bitlock_unlock(&word, j->size, j->lock_bit, j->wait_bit), 0);
	}
	return NULL;
}

/* Two bit-locks in one word: independent, and neither loses the other's
 * waiters (each wake targets only its own lock bit). */
START_TEST(two_bitlocks_share_a_word)
{
	const unsigned size = sizes[_i], top = (8u << size) - 1;
	struct pairjob jobs[LOCKERS];
	pthread_t t[LOCKERS];
	long ca = 0, cb = 0;

	memset(&word, 0, sizeof word);
	/* A = bits (0, top), B = bits (1, top - 1): waiter bits interleaved. */
	ck_assert_int_eq(f2_bitlock_lock(&word, size, 0, top), 0);
	ck_assert_int_eq(f2_bitlock_trylock(&word, size, 1, top - 1), 0);
	ck_assert_int_eq(f2_bitlock_trylock(&word, size, 0, top), EBUSY);
	ck_assert_uint_eq(tu_load(&word, size), 3);
	ck_assert_int_eq(f2_bitlock_unlock(&word, size, 0, top), 0);
	ck_assert_uint_eq(tu_load(&word, size), 2);
	ck_assert_int_eq(f2_bitlock_unlock(&word, size, 1, top - 1), 0);
	for (int i = 0; i < LOCKERS; i++) {
		jobs[i] = i & 1 ? (struct pairjob){ size, 1, top - 1, &cb }
		                : (struct pairjob){ size, 0, top, &ca };
		ck_assert_int_eq(pthread_create(&t[i], NULL, pair_locker, &jobs[i]), 0);
	}
	for (int i = 0; i < LOCKERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(ca, (long)LOCKERS / 2 * ROUNDS);
	ck_assert_int_eq(cb, (long)LOCKERS / 2 * ROUNDS);
	ck_assert_uint_eq(tu_load(&word, size), 0);
}
END_TEST

/* Every EINVAL case, on every entry point, leaves the word alone. */
START_TEST(bitlock_einval)
{
	const unsigned size = sizes[_i], nbits = 8u << size;
	_Alignas(16) unsigned char buf[32];
	struct timespec ok = tu_deadline(CLOCK_MONOTONIC, 1000000000);
	struct timespec bad_ns = ok, neg_ns = ok;
	bad_ns.tv_nsec = 1000000000;
	neg_ns.tv_nsec = -1;

	memset(buf, 0xa5, sizeof buf);
	void *w = buf;
	/* {word, size, lock_bit, wait_bit} that are each wrong in one way */
	struct { void *w; unsigned size, lb, wb; } bad[] = {
		{ NULL, size, 0, 1 },
		{ w, F2_SIZE_U64 + 1, 0, 1 },
		{ w, size | F2_PRIVATE, 0, 1 },
		{ w, size, nbits, 1 },
		{ w, size, 0, nbits },
		{ w, size, 63, 64 },
		{ w, size, 1, 1 },
		{ w, size, ~0u, 1 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(f2_bitlock_lock(bad[i].w, bad[i].size, bad[i].lb, bad[i].wb), EINVAL);
		ck_assert_int_eq(f2_bitlock_trylock(bad[i].w, bad[i].size, bad[i].lb, bad[i].wb), EINVAL);
		ck_assert_int_eq(f2_bitlock_timedlock(bad[i].w, bad[i].size, bad[i].lb, bad[i].wb,
		                                      &ok, CLOCK_MONOTONIC), EINVAL);
		ck_assert_int_eq(f2_bitlock_unlock(bad[i].w, bad[i].size, bad[i].lb, bad[i].wb), EINVAL);
	}
	if (size > F2_SIZE_U8) { /* misaligned by one byte */
		void *m = buf + 1;
		ck_assert_int_eq(f2_bitlock_lock(m, size, 0, 1), EINVAL);
		ck_assert_int_eq(f2_bitlock_trylock(m, size, 0, 1), EINVAL);
		ck_assert_int_eq(f2_bitlock_timedlock(m, size, 0, 1, &ok, CLOCK_MONOTONIC), EINVAL);
		ck_assert_int_eq(f2_bitlock_unlock(m, size, 0, 1), EINVAL);
	}
	/* Bad deadlines, with the lock free (so EINVAL is not a timeout). */
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(f2_bitlock_timedlock(w, size, 0, 1, NULL, CLOCK_MONOTONIC), EINVAL);
	ck_assert_int_eq(f2_bitlock_timedlock(w, size, 0, 1, &bad_ns, CLOCK_MONOTONIC), EINVAL);
	ck_assert_int_eq(f2_bitlock_timedlock(w, size, 0, 1, &neg_ns, CLOCK_MONOTONIC), EINVAL);
	ck_assert_int_eq(f2_bitlock_timedlock(w, size, 0, 1, &ok, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
	ck_assert_int_eq(f2_bitlock_timedlock(w, size, 0, 1, &ok, (clockid_t)-7), EINVAL);
	for (size_t i = 0; i < sizeof buf; i++)
		ck_assert_uint_eq(buf[i], 0);
}
END_TEST

/* EBUSY, ETIMEDOUT (at, not before, the deadline; both clocks; a deadline in
 * the past), EPERM; foreign bits intact throughout. */
START_TEST(bitlock_busy_timeout_perm)
{
	const unsigned size = sizes[_i], nbits = 8u << size;
	const unsigned lb = nbits - 1, wb = 0;
	const uint64_t foreign = (1ull << (nbits - 2)) | 2u;
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };

	memset(&word, 0, sizeof word);
	tu_store(&word, size, foreign);
	ck_assert_int_eq(f2_bitlock_unlock(&word, size, lb, wb), EPERM);
	ck_assert_int_eq(f2_bitlock_trylock(&word, size, lb, wb), 0);
	ck_assert_uint_eq(tu_load(&word, size), foreign | (1ull << lb));
	ck_assert_int_eq(f2_bitlock_trylock(&word, size, lb, wb), EBUSY);
	for (int c = 0; c < 2; c++) {
		struct timespec past = tu_deadline(clocks[c], -1000000);
		ck_assert_int_eq(f2_bitlock_timedlock(&word, size, lb, wb, &past, clocks[c]), ETIMEDOUT);
		struct timespec soon = tu_deadline(clocks[c], 20000000);
		ck_assert_int_eq(f2_bitlock_timedlock(&word, size, lb, wb, &soon, clocks[c]), ETIMEDOUT);
		ck_assert(tu_reached(clocks[c], &soon));
	}
	ck_assert_int_eq(f2_bitlock_unlock(&word, size, lb, wb), 0);
	ck_assert_int_eq(f2_bitlock_unlock(&word, size, lb, wb), EPERM);
	ck_assert_uint_eq(tu_load(&word, size), foreign);
	struct timespec later = tu_deadline(CLOCK_REALTIME, 1000000000);
	ck_assert_int_eq(f2_bitlock_timedlock(&word, size, lb, wb, &later, CLOCK_REALTIME), 0);
	ck_assert_int_eq(f2_bitlock_unlock(&word, size, lb, wb), 0);
	ck_assert_uint_eq(tu_load(&word, size), foreign);
}
END_TEST

/* ---- park hooks ------------------------------------------------------------ */

static long n_before, n_after, n_misuse;
static _Thread_local int parked_now;
static int hook_tag;

static void before_hook(void *arg)
{
	if (arg != &hook_tag || parked_now)
		__atomic_add_fetch(&n_misuse, 1, __ATOMIC_RELAXED);
	parked_now = 1;
	__atomic_add_fetch(&n_before, 1, __ATOMIC_RELAXED);
}

static void after_hook(void *arg)
{
	if (arg != &hook_tag || !parked_now)
		__atomic_add_fetch(&n_misuse, 1, __ATOMIC_RELAXED);
	parked_now = 0;
	__atomic_add_fetch(&n_after, 1, __ATOMIC_RELAXED);
}

static long hooks_before(void) { return __atomic_load_n(&n_before, __ATOMIC_SEQ_CST); }
static long hooks_after(void) { return __atomic_load_n(&n_after, __ATOMIC_SEQ_CST); }

static f2_mutex_t hmx = F2_MUTEX_INITIALIZER;
static f2_mutex8_t hmx8 = F2_MUTEX8_INITIALIZER;
static long hcount[3]; /* one per lock: each guarded by its own */

static void *hook_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(f2_mutex_lock(&hmx), 0);
		hcount[0]++;
		ck_assert_int_eq(f2_mutex_unlock(&hmx), 0);
		ck_assert_int_eq(f2_mutex8_lock(&hmx8), 0);
		hcount[1]++;
		ck_assert_int_eq(f2_mutex8_unlock(&hmx8), 0);
		ck_assert_int_eq(f2_bitlock_lock(&word, F2_SIZE_U16, 3, 9), 0);
		hcount[2]++;
		ck_assert_int_eq(f2_bitlock_unlock(&word, F2_SIZE_U16, 3, 9), 0);
	}
	return NULL;
}

static void *park_once(void *arg)
{
	__atomic_store_n((pid_t *)arg, tu_gettid(), __ATOMIC_SEQ_CST);
	ck_assert_int_eq(f2_mutex_lock(&hmx), 0);
	ck_assert_int_eq(f2_mutex_unlock(&hmx), 0);
	return NULL;
}

START_TEST(park_hooks)
{
	pthread_t t[LOCKERS];
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;

	memset(&word, 0, sizeof word);
	ck_assert_int_eq(f2_set_park_hooks(before_hook, after_hook, &hook_tag), 0);
	/* Uncontended: no hook call at all. */
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(f2_mutex_lock(&hmx), 0);
		ck_assert_int_eq(f2_mutex_unlock(&hmx), 0);
		ck_assert_int_eq(f2_mutex8_lock(&hmx8), 0);
		ck_assert_int_eq(f2_mutex8_unlock(&hmx8), 0);
		ck_assert_int_eq(f2_bitlock_lock(&word, F2_SIZE_U16, 3, 9), 0);
		ck_assert_int_eq(f2_bitlock_unlock(&word, F2_SIZE_U16, 3, 9), 0);
		ck_assert_int_eq(f2_rwlock_wrlock(&rw), 0);
		ck_assert_int_eq(f2_rwlock_unlock(&rw), 0);
	}
	ck_assert_int_eq(hooks_before(), 0);
	ck_assert_int_eq(hooks_after(), 0);

	/* One certain park: the worker sleeps on a mutex main holds. */
	pid_t tid = 0;
	ck_assert_int_eq(f2_mutex_lock(&hmx), 0);
	ck_assert_int_eq(pthread_create(&t[0], NULL, park_once, &tid), 0);
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		sched_yield();
	ck_assert(tu_wait_parked(tid));
	ck_assert_int_eq(f2_mutex_unlock(&hmx), 0);
	pthread_join(t[0], NULL);
	ck_assert_int_ge(hooks_before(), 1);
	ck_assert_int_eq(hooks_before(), hooks_after());

	/* Heavy contention with no spinning: many parks, each bracketed. */
	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 0), 0);
	long b0 = hooks_before();
	for (int i = 0; i < LOCKERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hook_worker, NULL), 0);
	for (int i = 0; i < LOCKERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(hcount[i], (long)LOCKERS * ROUNDS);
	ck_assert_int_gt(hooks_before(), b0);
	ck_assert_int_eq(hooks_before(), hooks_after());
	ck_assert_int_eq(__atomic_load_n(&n_misuse, __ATOMIC_SEQ_CST), 0);

	/* Removed hooks are not called any more. */
	ck_assert_int_eq(f2_set_park_hooks(NULL, NULL, NULL), 0);
	long b1 = hooks_before();
	ck_assert_int_eq(f2_mutex_lock(&hmx), 0);
	tid = 0;
	ck_assert_int_eq(pthread_create(&t[0], NULL, park_once, &tid), 0);
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		sched_yield();
	ck_assert(tu_wait_parked(tid));
	ck_assert_int_eq(f2_mutex_unlock(&hmx), 0);
	pthread_join(t[0], NULL);
	ck_assert_int_eq(hooks_before(), b1);
	ck_assert_int_eq(hooks_after(), b1);
}
END_TEST

/* ---- tuning ---------------------------------------------------------------- */

START_TEST(tuning_round_trip)
{
	static const struct { int key; uint64_t good[3]; uint64_t bad; } k[] = {
		{ F2_TUNE_SPIN, { 0, 7, 1000000 }, 1000001 },
		{ F2_TUNE_HANDOFF_NS, { 0, 250000, 60000000000ull }, 60000000001ull },
		{ F2_TUNE_REQUEUE, { 0, 1, 1 }, 2 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		for (int g = 0; g < 3; g++) {
			ck_assert_int_eq(f2_tune_set(k[i].key, k[i].good[g]), 0);
			ck_assert_int_eq(f2_tune_get(k[i].key, &v), 0);
			ck_assert_uint_eq(v, k[i].good[g]);
		}
		ck_assert_int_eq(f2_tune_set(k[i].key, k[i].bad), EINVAL);
		ck_assert_int_eq(f2_tune_set(k[i].key, UINT64_MAX), EINVAL);
		ck_assert_int_eq(f2_tune_get(k[i].key, &v), 0);
		ck_assert_uint_eq(v, k[i].good[2]); /* a rejected set changes nothing */
		ck_assert_int_eq(f2_tune_get(k[i].key, NULL), EINVAL);
	}
	/* Keys are independent: setting one leaves the others. */
	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 42), 0);
	ck_assert_int_eq(f2_tune_get(F2_TUNE_HANDOFF_NS, &v), 0);
	ck_assert_uint_eq(v, 60000000000ull);
	ck_assert_int_eq(f2_tune_get(F2_TUNE_REQUEUE, &v), 0);
	ck_assert_uint_eq(v, 1);
	for (int key = -2; key < 6; key += 1) {
		if (key >= F2_TUNE_SPIN && key <= F2_TUNE_REQUEUE)
			continue;
		ck_assert_int_eq(f2_tune_set(key, 0), EINVAL);
		ck_assert_int_eq(f2_tune_get(key, &v), EINVAL);
	}
	/* The knobs are live: a mutex still works with no spin and no hand-off delay. */
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 0), 0);
	ck_assert_int_eq(f2_tune_set(F2_TUNE_HANDOFF_NS, 0), 0);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
}
END_TEST

/* ---- the thread's node override -------------------------------------------- */

static void bind_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof set, &set), 0);
}

struct nodejob {
	f2_mutex_t *m;
	int cpu, override;
	pid_t tid;
	int seen_initial;
};

static void *node_contender(void *arg)
{
	struct nodejob *j = arg;
	j->seen_initial = f2_thread_get_node();
	bind_to_cpu(j->cpu);
	if (j->override >= 0)
		ck_assert_int_eq(f2_thread_set_node(j->override), 0);
	__atomic_store_n(&j->tid, tu_gettid(), __ATOMIC_SEQ_CST);
	ck_assert_int_eq(f2_mutex_lock(j->m), 0);     /* contended: resolves the node */
	ck_assert_int_eq(f2_mutex_unlock(j->m), 0);
	return NULL;
}

/* The node a fresh f2_mutex_t records when a thread bound to cpu (with an
 * optional override) is the first to contend on it. */
static int node_chosen(int cpu, int override)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	struct nodejob j = { &m, cpu, override, 0, 0 };
	pthread_t t;

	ck_assert_int_eq(f2_mutex_lock(&m), 0); /* fast path: node still unset */
	ck_assert_int_eq(m.node, F2_NODE_AUTO);
	ck_assert_int_eq(pthread_create(&t, NULL, node_contender, &j), 0);
	while (!__atomic_load_n(&j.tid, __ATOMIC_SEQ_CST))
		sched_yield();
	ck_assert(tu_wait_parked(j.tid));
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(j.seen_initial, -1); /* the override is per thread */
	return m.node;
}

/* The suite runs on HWLOC_SYNTHETIC "node:2 pu:1": CPU 0 is node 0, CPU 1 node 1. */
START_TEST(thread_node_override)
{
	const int nodes = f2_numa_node_count();

	ck_assert_int_eq(nodes, 2);
	ck_assert_int_eq(f2_thread_get_node(), -1);
	ck_assert_int_eq(f2_thread_set_node(-2), EINVAL);
	ck_assert_int_eq(f2_thread_set_node(nodes), EINVAL);
	ck_assert_int_eq(f2_thread_set_node(INT32_MIN), EINVAL);
	ck_assert_int_eq(f2_thread_get_node(), -1);
	ck_assert_int_eq(f2_thread_set_node(1), 0);
	ck_assert_int_eq(f2_thread_get_node(), 1);
	ck_assert_int_eq(f2_numa_node_of_self(), 1);
	ck_assert_int_eq(f2_thread_set_node(-1), 0);
	ck_assert_int_eq(f2_thread_get_node(), -1);

	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		/* Without an override the binding decides; with one it wins. */
		ck_assert_int_eq(node_chosen(0, -1), 0);
		ck_assert_int_eq(node_chosen(1, -1), 1);
		ck_assert_int_eq(node_chosen(0, 1), 1);
		ck_assert_int_eq(node_chosen(1, 0), 0);
	} else {
		ck_assert_int_eq(node_chosen(0, -1), 0);
		ck_assert_int_eq(node_chosen(0, 1), 1);
	}
}
END_TEST

/* ---- fork ------------------------------------------------------------------ */

/* Parent threads parked at the fork: one on a mutex, one on a 16-bit
 * header-bit lock (emulated on every backend but the kernel's 16-bit futex),
 * both held by the forking thread. */
static _Alignas(2) uint16_t parent_word;

static void *park_on_mutex(void *arg)
{
	__atomic_store_n((pid_t *)arg, tu_gettid(), __ATOMIC_SEQ_CST);
	if (f2_mutex_lock(&hmx) == 0)
		f2_mutex_unlock(&hmx);
	return NULL;
}

static void *park_on_bits(void *arg)
{
	__atomic_store_n((pid_t *)arg, tu_gettid(), __ATOMIC_SEQ_CST);
	if (f2_bitlock_lock(&parent_word, F2_SIZE_U16, 4, 12) == 0)
		f2_bitlock_unlock(&parent_word, F2_SIZE_U16, 4, 12);
	return NULL;
}

static _Alignas(8) uint64_t child_word;
static f2_mutex_t child_mx = F2_MUTEX_INITIALIZER;
static long child_count;

static void *child_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500; i++) {
		if (f2_mutex_lock(&child_mx) || f2_bitlock_lock(&child_word, F2_SIZE_U64, 63, 5))
			_exit(10);
		child_count++;
		sched_yield();
		if (f2_bitlock_unlock(&child_word, F2_SIZE_U64, 63, 5) || f2_mutex_unlock(&child_mx))
			_exit(11);
	}
	return NULL;
}

/* Threads of the fork child get stacks of their own: glibc would reuse the
 * stacks (and so the thread ids) of the parent's earlier test threads, which
 * TSan's registry copied from the parent still counts as live. */
static int child_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	const size_t sz = 1 << 20;
	void *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t a;
	if (stack == MAP_FAILED || pthread_attr_init(&a) || pthread_attr_setstack(&a, stack, sz))
		return -1;
	int e = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return e;
}

static void *child_parker(void *arg)
{
	__atomic_store_n((pid_t *)arg, tu_gettid(), __ATOMIC_SEQ_CST);
	if (f2_mutex_lock(&child_mx) || f2_mutex_unlock(&child_mx))
		_exit(12);
	return NULL;
}

/* Runs in the fork child: threads, contention, parks and a timeout. */
static int child_main(void *unused)
{
	pthread_t t[4];
	uint8_t w8 = 0x40;

	(void)unused;

	/* The forking thread's locks are its own here: their parked waiters are
	 * not, and the unlocks' wakes must not trip over them. */
	if (f2_mutex_unlock(&hmx) || f2_bitlock_unlock(&parent_word, F2_SIZE_U16, 4, 12))
		return 19;
	if (f2_mutex_lock(&hmx) || f2_mutex_unlock(&hmx) ||
	    f2_bitlock_lock(&parent_word, F2_SIZE_U16, 4, 12) ||
	    f2_bitlock_unlock(&parent_word, F2_SIZE_U16, 4, 12) || parent_word != 0)
		return 18;
	/* Parent threads caught inside a park at the fork left their "after"
	 * uncounted in this copy: compare the child's own calls only. */
	const long b0 = hooks_before(), a0 = hooks_after();

	if (f2_bitlock_trylock(&w8, F2_SIZE_U8, 0, 1) || f2_bitlock_trylock(&w8, F2_SIZE_U8, 0, 1) != EBUSY)
		return 20;
	struct timespec soon = tu_deadline(CLOCK_MONOTONIC, 10000000);
	if (f2_bitlock_timedlock(&w8, F2_SIZE_U8, 0, 1, &soon, CLOCK_MONOTONIC) != ETIMEDOUT)
		return 21; /* that one parked: the emulated table works here */
	if (f2_bitlock_unlock(&w8, F2_SIZE_U8, 0, 1) || w8 != 0x40)
		return 22;
	if (hooks_before() - b0 != 1 || hooks_after() - a0 != 1)
		return 23; /* the timed wait parked once, through the hooks */
	for (int i = 0; i < 4; i++)
		if (child_thread(&t[i], child_worker, NULL))
			return 24;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	if (child_count != 4 * 500 || child_word != 0)
		return 25;
	/* One certain park of a child thread: on a mutex this thread holds. */
	pid_t tid = 0;
	pthread_t p;
	if (f2_mutex_lock(&child_mx) || child_thread(&p, child_parker, &tid))
		return 26;
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		sched_yield();
	if (!tu_wait_parked(tid) || f2_mutex_unlock(&child_mx) || pthread_join(p, NULL))
		return 27;
	if (hooks_before() - b0 < 2 || hooks_before() - b0 != hooks_after() - a0)
		return 28; /* the child's threads parked, through the hooks */
	return 0;
}

START_TEST(fork_child_locks_and_parks)
{
	ck_assert_int_eq(f2_set_park_hooks(before_hook, after_hook, &hook_tag), 0);
	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 0), 0);
	for (int round = 0; round < 2; round++) {
		pthread_t t[2];
		pid_t tid[2] = { 0, 0 };

		/* Fork while two threads are parked in the parent (a quiescent
		 * point for TSan, which cannot fork amid its own bookkeeping). */
		ck_assert_int_eq(f2_mutex_lock(&hmx), 0);
		ck_assert_int_eq(f2_bitlock_lock(&parent_word, F2_SIZE_U16, 4, 12), 0);
		ck_assert_int_eq(pthread_create(&t[0], NULL, park_on_mutex, &tid[0]), 0);
		ck_assert_int_eq(pthread_create(&t[1], NULL, park_on_bits, &tid[1]), 0);
		for (int i = 0; i < 2; i++) {
			while (!__atomic_load_n(&tid[i], __ATOMIC_SEQ_CST))
				sched_yield();
			ck_assert(tu_wait_parked(tid[i]));
		}
		pid_t pid = tu_fork(child_main, NULL);
		ck_assert_int_ge(pid, 0);
		int st = 0;
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st));
		ck_assert_int_eq(WEXITSTATUS(st), 0);
		/* and the parent's own waiters still get their turn */
		ck_assert_int_eq(f2_bitlock_unlock(&parent_word, F2_SIZE_U16, 4, 12), 0);
		ck_assert_int_eq(f2_mutex_unlock(&hmx), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		ck_assert_uint_eq(parent_word, 0);
	}
	ck_assert_int_eq(f2_set_park_hooks(NULL, NULL, NULL), 0);
}
END_TEST

static Suite *runtime_suite(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("bitlock");
	tcase_add_loop_test(tc, bitlock_einval, 0, 4);
	tcase_add_loop_test(tc, bitlock_busy_timeout_perm, 0, 4);
	tcase_add_loop_test(tc, bitlock_among_foreign_bits, 0, 4);
	tcase_add_loop_test(tc, two_bitlocks_share_a_word, 0, 4);
	suite_add_tcase(s, tc);
	tc = tcase_create("hooks_tuning_node");
	tcase_add_test(tc, park_hooks);
	tcase_add_test(tc, tuning_round_trip);
	tcase_add_test(tc, thread_node_override);
	suite_add_tcase(s, tc);
	tc = tcase_create("fork");
	tcase_add_test(tc, fork_child_locks_and_parks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(runtime_suite());
}
