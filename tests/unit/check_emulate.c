/* The futex2 emulation against the futex2 contract: every emulated size
 * (8, 16, 64, and 32 under F2SYNC_BACKEND=emulate) for handoff, masks,
 * -EAGAIN, deadlines, requeue, waitv, shared words; NUMA pairs on synthetic
 * nodes (the suite runs with F2SYNC_EMU_NODES=4); fork while parked. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "unit/emu_test.h"
#include "common/testutil.h"

/* 100,000 handoffs per size in the plain build; the sanitizer builds (run
 * for every backend too) use a fifth of that to keep `make test` short. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ROUNDS 20000
#else
#define ROUNDS 100000
#endif

/* The emulated sizes in this process's mode; loop tests index it. */
static unsigned emu_size[4];
static int n_emu;

static void find_emulated_sizes(void)
{
	static const unsigned order[] = { F2_SIZE_U8, F2_SIZE_U16, F2_SIZE_U64, F2_SIZE_U32 };
	for (unsigned i = 0; i < 4; i++)
		if (is_emulated(order[i] | F2_PRIVATE))
			emu_size[n_emu++] = order[i];
}

#define PRIV(size) ((size) | F2_PRIVATE)
#define PAIR(size) ((size) | F2_PRIVATE | F2_NUMA)

START_TEST(routing)
{
	const char *mode = getenv("F2SYNC_BACKEND");
	ck_assert(is_emulated(PRIV(F2_SIZE_U8)));
	ck_assert(is_emulated(PRIV(F2_SIZE_U16)));
	ck_assert(is_emulated(PRIV(F2_SIZE_U64)));
	ck_assert(is_emulated(PAIR(F2_SIZE_U8)));
	ck_assert_int_eq(is_emulated(PRIV(F2_SIZE_U32)), mode && !strcmp(mode, "emulate"));
	ck_assert_int_eq(f2_emu_node_count(), 4); /* F2SYNC_EMU_NODES=4 */
}
END_TEST

struct pingpong {
	struct slot w;
	unsigned size;
	int rounds;
};

/* The main side of a handoff: hands the word to pong_main and waits for
 * it to be handed back, p->rounds times. */
static void ping(struct pingpong *p)
{
	uint64_t hi = width_max(p->size);
	for (int i = 0; i < p->rounds; i++) {
		st(&p->w, p->size, hi);
		ck_assert_int_ge(f2_futex_wake(&p->w, hi, 1, PRIV(p->size)), 0);
		while (ld(&p->w, p->size) != 0)
			ck_assert_int_ne(f2_futex_wait(&p->w, hi, hi, PRIV(p->size), NULL, 0), -EINVAL);
	}
}

static void *pong_main(void *arg)
{
	struct pingpong *p = arg;
	uint64_t hi = width_max(p->size);
	for (int i = 0; i < p->rounds; i++) {
		while (ld(&p->w, p->size) != hi)
			ck_assert_int_ne(f2_futex_wait(&p->w, 0, hi, PRIV(p->size), NULL, 0), -EINVAL);
		st(&p->w, p->size, 0);
		ck_assert_int_ge(f2_futex_wake(&p->w, hi, 1, PRIV(p->size)), 0);
	}
	return NULL;
}

/* Store + wake handoffs between two threads: a lost wakeup hangs. */
START_TEST(handoff)
{
	struct pingpong p = { .size = emu_size[_i], .rounds = ROUNDS };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, pong_main, &p), 0);
	ping(&p);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}
END_TEST

/* Bitsets: a wake reaches only waiters whose mask meets it. */
START_TEST(masks)
{
	unsigned size = emu_size[_i];
	uint64_t top = UINT64_C(1) << ((8u << size) - 1);
	struct slot w = { 0 };
	struct waiter a, b;
	waiter_start(&a, &w, 0, 1, PRIV(size));
	waiter_start(&b, &w, 0, top, PRIV(size));
	wait_parked(2);
	ck_assert_int_eq(f2_futex_wake(&w, 2, INT_MAX, PRIV(size)), 0);
	ck_assert_int_eq(f2_futex_wake(&w, top, INT_MAX, PRIV(size)), 1);
	waiter_join(&b);
	ck_assert_int_eq(parked(), 1);
	ck_assert(!waiter_done(&a));
	ck_assert_int_eq(f2_futex_wake(&w, width_max(size), 0, PRIV(size)), 0);
	ck_assert_int_eq(f2_futex_wake(&w, width_max(size), INT_MAX, PRIV(size)), 1);
	waiter_join(&a);
	ck_assert_int_eq(f2_futex_wake(&w, width_max(size), INT_MAX, PRIV(size)), 0);
}
END_TEST

/* The value is compared at the word's full width, plain and as a pair. */
START_TEST(eagain)
{
	unsigned size = emu_size[_i];
	uint64_t hi = width_max(size), top = UINT64_C(1) << ((8u << size) - 1);
	struct slot w = { 0 }, p = { 0 };
	st(&w, size, top);
	ck_assert_int_eq(f2_futex_wait(&w, 0, hi, PRIV(size), NULL, 0), -EAGAIN);
	ck_assert_int_eq(f2_futex_wait(&w, top - 1, hi, PRIV(size), NULL, 0), -EAGAIN);
	st(&p, size, hi);
	set_node(&p, size, 2);
	ck_assert_int_eq(f2_futex_wait(&p, hi - 1, hi, PAIR(size), NULL, 0), -EAGAIN);
	ck_assert_int_eq(parked(), 0);
}
END_TEST

/* Absolute deadlines on both clocks: never -ETIMEDOUT before the deadline. */
START_TEST(deadlines)
{
	unsigned size = emu_size[_i / 2];
	clockid_t clk = _i % 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	struct slot w = { 0 };
	struct timespec past = deadline_in(clk, 0), now;
	past.tv_sec -= 1;
	ck_assert_int_eq(f2_futex_wait(&w, 0, 1, PRIV(size), &past, clk), -ETIMEDOUT);
	struct timespec soon = deadline_in(clk, 20 * 1000 * 1000);
	ck_assert_int_eq(f2_futex_wait(&w, 0, 1, PRIV(size), &soon, clk), -ETIMEDOUT);
	clock_gettime(clk, &now);
	ck_assert(now.tv_sec > soon.tv_sec || (now.tv_sec == soon.tv_sec && now.tv_nsec >= soon.tv_nsec));
	struct f2_futex_waitv v[2] = { { 0, &w, PRIV(size), 0 }, { 0, (char *)&w + 8, PRIV(F2_SIZE_U64), 0 } };
	soon = deadline_in(clk, 20 * 1000 * 1000);
	ck_assert_int_eq(f2_futex_waitv(v, 2, &soon, clk), -ETIMEDOUT);
	clock_gettime(clk, &now);
	ck_assert(now.tv_sec > soon.tv_sec || (now.tv_sec == soon.tv_sec && now.tv_nsec >= soon.tv_nsec));
	ck_assert_int_eq(parked(), 0);
}
END_TEST

/* Requeue from a word of one emulated size to another: -EAGAIN on a cmpval
 * mismatch (nothing moves), then exact woken and moved counts. */
START_TEST(requeue_sizes)
{
	unsigned s1 = emu_size[_i], s2 = emu_size[(_i + 1) % n_emu];
	struct slot a = { 0 }, b = { 0 };
	struct waiter w[5];
	for (int i = 0; i < 5; i++)
		waiter_start(&w[i], &a, 0, 1, PRIV(s1));
	wait_parked(5);
	struct f2_futex_waitv ft[2] = { { 1, &a, PRIV(s1), 0 }, { 0, &b, PRIV(s2), 0 } };
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 2), -EAGAIN);
	ck_assert_int_eq(parked(), 5);
	ft[0].val = 0;
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 2), 3);
	wait_parked(4);
	ck_assert_int_eq(f2_futex_wake(&b, 1, INT_MAX, PRIV(s2)), 2);
	ck_assert_int_eq(f2_futex_wake(&a, 1, INT_MAX, PRIV(s1)), 2);
	for (int i = 0; i < 5; i++)
		waiter_join(&w[i]);
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 2), 0);
}
END_TEST

/* Requeue between pairs homed on different nodes moves records between
 * tables: the table of node k holds exactly the records of node k. */
START_TEST(requeue_tables)
{
	unsigned s1 = emu_size[_i], s2 = emu_size[(_i + 1) % n_emu];
	struct slot a = { 0 }, b = { 0 };
	set_node(&a, s1, 1);
	set_node(&b, s2, 3);
	struct waiter w[4];
	for (int i = 0; i < 4; i++)
		waiter_start(&w[i], &a, 0, 1, PAIR(s1));
	wait_parked(4);
	ck_assert_int_eq(f2_emu_waiters_on_node(1), 4);
	struct f2_futex_waitv ft[2] = { { 0, &a, PAIR(s1), 0 }, { 0, &b, PAIR(s2), 0 } };
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 2), 3);
	wait_parked(3);
	ck_assert_int_eq(f2_emu_waiters_on_node(1), 1);
	ck_assert_int_eq(f2_emu_waiters_on_node(3), 2);
	ck_assert_int_eq(f2_futex_wake(&b, 1, INT_MAX, PAIR(s2)), 2);
	ck_assert_int_eq(f2_futex_wake(&a, 1, INT_MAX, PAIR(s1)), 1);
	for (int i = 0; i < 4; i++)
		waiter_join(&w[i]);
	ck_assert_int_eq(parked(), 0);
}
END_TEST

/* Requeue between an emulated word and a plain u32 word: when the u32 word
 * is the kernel's, the "moved" waiters are woken instead; the count covers
 * both either way. */
START_TEST(requeue_backends)
{
	unsigned s = emu_size[_i];
	int mixed = !is_emulated(PRIV(F2_SIZE_U32));
	struct slot a = { 0 };
	uint32_t k = 0;
	struct waiter w[3];
	for (int i = 0; i < 3; i++)
		waiter_start(&w[i], &a, 0, 1, PRIV(s));
	wait_parked(3);
	struct f2_futex_waitv ft[2] = { { 0, &a, PRIV(s), 0 }, { 0, &k, PRIV(F2_SIZE_U32), 0 } };
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 1), 2);
	ck_assert_int_eq(f2_futex_wake(&k, 1, INT_MAX, PRIV(F2_SIZE_U32)), mixed ? 0 : 1);
	ck_assert_int_eq(f2_futex_wake(&a, 1, INT_MAX, PRIV(s)), 1);
	for (int i = 0; i < 3; i++)
		waiter_join(&w[i]);

	/* The other way: waiters on the u32 word; those not yet asleep when
	 * a requeue runs are picked up by the next one. */
	for (int i = 0; i < 3; i++)
		waiter_start(&w[i], &k, 0, 1, PRIV(F2_SIZE_U32));
	struct f2_futex_waitv tf[2] = { { 0, &k, PRIV(F2_SIZE_U32), 0 }, { 0, &a, PRIV(s), 0 } };
	int n = 0;
	while (n < 3) {
		int r = f2_futex_requeue(tf, 0, 3 - n);
		ck_assert_int_ge(r, 0);
		n += r;
		if (n < 3)
			usleep(500);
	}
	if (!mixed)
		ck_assert_int_eq(f2_futex_wake(&a, 1, INT_MAX, PRIV(s)), 3);
	for (int i = 0; i < 3; i++)
		waiter_join(&w[i]);
	ft[0].val = 5;
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 1), -EAGAIN);
	tf[0].val = 5;
	ck_assert_int_eq(f2_futex_requeue(tf, 1, 1), -EAGAIN);
}
END_TEST

struct waitv_arg {
	struct f2_futex_waitv *v;
	unsigned n;
	int ret;
};

static void *waitv_main(void *arg)
{
	struct waitv_arg *a = arg;
	a->ret = f2_futex_waitv(a->v, a->n, NULL, CLOCK_MONOTONIC);
	return NULL;
}

/* waitv over u8, u32, u16, u32, u64 returns the index of the woken word;
 * the u32 words are the kernel's unless the mode is emulate, and they are
 * queued in the emulation too (as guests) where the kernel has no
 * futex_waitv. */
START_TEST(waitv_mixed)
{
	unsigned k = (unsigned)_i;
	struct slot s[5];
	memset(s, 0, sizeof s);
	struct f2_futex_waitv v[5] = {
		{ 0, &s[0], PRIV(F2_SIZE_U8), 0 },  { 0, &s[1], PRIV(F2_SIZE_U32), 0 },
		{ 0, &s[2], PRIV(F2_SIZE_U16), 0 }, { 0, &s[3], PRIV(F2_SIZE_U32), 0 },
		{ 0, &s[4], PRIV(F2_SIZE_U64), 0 },
	};
	int n_emu_words = is_emulated(PRIV(F2_SIZE_U32)) || !tu_kernel_has_waitv() ? 5 : 3;
	struct waitv_arg a = { v, 5, -1 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, waitv_main, &a), 0);
	wait_parked(n_emu_words);
	/* a kernel word's waiter may not be in the kernel yet: retry */
	while (f2_futex_wake(v[k].uaddr, 1, 1, v[k].flags) != 1)
		usleep(500);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(a.ret, (int)k);
	ck_assert_int_eq(parked(), 0);

	/* -EAGAIN when any word differs, emulated or kernel */
	st(&s[k], (unsigned)(v[k].flags & F2_SIZE_MASK), 1);
	ck_assert_int_eq(f2_futex_waitv(v, 5, NULL, CLOCK_MONOTONIC), -EAGAIN);
	ck_assert_int_eq(parked(), 0);
}
END_TEST

/* waitv over an emulated and a plain u32 word times out at, never before,
 * its deadline on both clocks (the mixed path sleeps in futex_waitv). */
START_TEST(waitv_deadline)
{
	clockid_t clk = _i ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	struct slot a = { 0 }, b = { 0 };
	struct f2_futex_waitv v[2] = { { 0, &a, PRIV(F2_SIZE_U8), 0 },
	                               { 0, &b, PRIV(F2_SIZE_U32), 0 } };
	struct timespec soon = deadline_in(clk, 20 * 1000 * 1000), now;
	ck_assert_int_eq(f2_futex_waitv(v, 2, &soon, clk), -ETIMEDOUT);
	clock_gettime(clk, &now);
	ck_assert(now.tv_sec > soon.tv_sec || (now.tv_sec == soon.tv_sec && now.tv_nsec >= soon.tv_nsec));
	ck_assert_int_eq(parked(), 0);
}
END_TEST

static void on_signal(int sig)
{
	(void)sig;
}

/* A signal is never -EINTR: the parked waiter stays parked (or returns 0),
 * and the wake still reaches it. */
START_TEST(signal_not_eintr)
{
	unsigned size = emu_size[_i];
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	struct slot w = { 0 };
	struct waiter a;
	waiter_start(&a, &w, 0, 1, PRIV(size));
	wait_parked(1);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(pthread_kill(a.th, SIGUSR1), 0);
		usleep(1000);
	}
	st(&w, size, 1);
	while (f2_futex_wake(&w, 1, 1, PRIV(size)) != 1 && !waiter_done(&a))
		usleep(500);
	waiter_join(&a);
	ck_assert_int_eq(parked(), 0);
}
END_TEST

/* Emulated words are private: a shared one is refused, never mis-served. */
START_TEST(shared_refused)
{
	unsigned size = emu_size[_i];
	struct slot w = { 0 }, x = { 0 };
	if (size == F2_SIZE_U32) { /* under emulate a shared u32 is the kernel's */
		ck_assert_ptr_nonnull(f2_futex_backend(F2_SIZE_U32));
		ck_assert(!is_emulated(F2_SIZE_U32));
		return;
	}
	ck_assert_ptr_null(f2_futex_backend(size));
	ck_assert_int_eq(f2_futex_wait(&w, 0, 1, size, NULL, 0), -EOPNOTSUPP);
	ck_assert_int_eq(f2_futex_wake(&w, 1, 1, size), -EOPNOTSUPP);
	struct f2_futex_waitv v[2] = { { 0, &x, PRIV(size), 0 }, { 0, &w, size, 0 } };
	ck_assert_int_eq(f2_futex_waitv(v, 2, NULL, CLOCK_MONOTONIC), -EOPNOTSUPP);
	ck_assert_int_eq(f2_futex_requeue(v, 1, 1), -EOPNOTSUPP);
}
END_TEST

/* A pair homed on node k parks in table k; node -1 is resolved and written
 * back; a node beyond the tables is -EINVAL. */
START_TEST(numa_tables)
{
	unsigned size = emu_size[_i];
	struct slot p[4];
	memset(p, 0, sizeof p);
	for (int k = 0; k < 4; k++) {
		struct waiter w;
		set_node(&p[k], size, k);
		waiter_start(&w, &p[k], 0, 1, PAIR(size));
		wait_parked(1);
		for (int j = 0; j < 4; j++)
			ck_assert_int_eq(f2_emu_waiters_on_node(j), j == k);
		ck_assert_int_eq(f2_futex_wake(&p[k], 1, 1, PAIR(size)), 1);
		waiter_join(&w);
	}
	struct slot q = { 0 };
	set_node(&q, size, 4);
	ck_assert_int_eq(f2_futex_wait(&q, 0, 1, PAIR(size), NULL, 0), -EINVAL);
	ck_assert_int_eq(f2_futex_wake(&q, 1, 1, PAIR(size)), -EINVAL);
	set_node(&q, size, F2_NODE_AUTO);
	ck_assert_int_eq(f2_futex_wait(&q, 1, 1, PAIR(size), NULL, 0), -EAGAIN);
	ck_assert_int_ge(get_node(&q, size), 0);
	ck_assert_int_lt(get_node(&q, size), 4);

	/* waitv across the four tables */
	struct f2_futex_waitv v[4];
	for (int k = 0; k < 4; k++)
		v[k] = (struct f2_futex_waitv){ 0, &p[k], PAIR(size), 0 };
	struct waitv_arg a = { v, 4, -1 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, waitv_main, &a), 0);
	wait_parked(4);
	for (int j = 0; j < 4; j++)
		ck_assert_int_eq(f2_emu_waiters_on_node(j), 1);
	ck_assert_int_eq(f2_futex_wake(&p[3], 1, 1, PAIR(size)), 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(a.ret, 3);
	ck_assert_int_eq(parked(), 0);
}
END_TEST

static struct slot fork_words[9];
static int hold_state; /* 0 start, 1 holding, 2 release */

static void *holder_main(void *arg)
{
	struct f2_word *w = arg;
	ck_assert_int_eq(f2_emu_hold_bucket(w, 1), 0);
	__atomic_store_n(&hold_state, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&hold_state, __ATOMIC_SEQ_CST) != 2)
		usleep(200);
	ck_assert_int_eq(f2_emu_hold_bucket(w, 0), 0);
	return NULL;
}

/* Threads of the fork child get stacks of their own: glibc would reuse the
 * parent's dead threads' stacks, and so their thread ids, which TSan's
 * registry (copied from the parent) still counts as live. */
static int child_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	size_t sz = 1 << 20;
	void *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t a;
	if (stack == MAP_FAILED || pthread_attr_init(&a) || pthread_attr_setstack(&a, stack, sz))
		return -1;
	int e = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return e;
}

/* Buckets of every table used in this process's fork generation. */
static int fresh_buckets(void)
{
	int n = 0, nodes = f2_emu_node_count();
	for (int i = 0; i < nodes; i++)
		n += f2_emu_fresh_buckets(i);
	return n;
}

/* In the child: the fork reset touched no bucket (O(1), whatever the table
 * sizes: each bucket is reset on its first use here); the word whose bucket
 * the parent's holder thread held, the parent's parked words, and a fresh
 * handoff must all work. */
static int child_checks(void *unused)
{
	(void)unused;
	unsigned f = PRIV(F2_SIZE_U8);
	struct pingpong p = { .size = F2_SIZE_U8, .rounds = ROUNDS / 10 };
	if (parked() != 0)
		return 1;
	if (fresh_buckets() != 0)
		return 8;
	if (f2_futex_wake(&fork_words[0], 1, INT_MAX, f) != 0 || fresh_buckets() != 1)
		return 9;
	for (int i = 0; i < 8; i++)
		if (f2_futex_wake(&fork_words[i], 1, INT_MAX, f) != 0)
			return 2;
	if (f2_futex_wait(&fork_words[8], 1, 1, f, NULL, 0) != -EAGAIN)
		return 3;
	struct timespec soon = deadline_in(CLOCK_MONOTONIC, 1000 * 1000);
	if (f2_futex_wait(&fork_words[8], 0, 1, f, &soon, CLOCK_MONOTONIC) != -ETIMEDOUT)
		return 4;
	struct waiter w = { .addr = &fork_words[8], .val = 0, .mask = 1, .flags = f };
	if (child_thread(&w.th, waiter_main, &w))
		return 5;
	wait_parked(1);
	if (f2_futex_wake(&fork_words[8], 1, 1, f) != 1 || pthread_join(w.th, NULL) || w.ret)
		return 6;
	pthread_t t;
	if (child_thread(&t, pong_main, &p))
		return 7;
	ping(&p);
	pthread_join(t, NULL);
	return 0;
}

/* fork() while 8 threads are parked and another holds a bucket lock. */
START_TEST(fork_parked)
{
	unsigned f = PRIV(F2_SIZE_U8);
	struct waiter w[8];
	struct f2_word held = { .addr = &fork_words[8], .flags = f, .size = F2_SIZE_U8,
	                        .node = -1, .bk = F2_BK_EMU };
	for (int i = 0; i < 8; i++)
		waiter_start(&w[i], &fork_words[i], 0, 1, f);
	wait_parked(8);
	pthread_t h;
	ck_assert_int_eq(pthread_create(&h, NULL, holder_main, &held), 0);
	while (__atomic_load_n(&hold_state, __ATOMIC_SEQ_CST) != 1)
		usleep(200);
	pid_t pid = tu_fork(child_checks, NULL);
	ck_assert_int_ge(pid, 0);
	__atomic_store_n(&hold_state, 2, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(pthread_join(h, NULL), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(f2_futex_wake(&fork_words[i], 1, INT_MAX, f), 1);
	for (int i = 0; i < 8; i++)
		waiter_join(&w[i]);
}
END_TEST

static Suite *emulate_suite(void)
{
	Suite *s = suite_create("emulate");
	TCase *tc = tcase_create("contract");
	tcase_add_test(tc, routing);
	tcase_add_loop_test(tc, handoff, 0, n_emu);
	tcase_add_loop_test(tc, masks, 0, n_emu);
	tcase_add_loop_test(tc, eagain, 0, n_emu);
	tcase_add_loop_test(tc, deadlines, 0, 2 * n_emu);
	tcase_add_loop_test(tc, shared_refused, 0, n_emu);
	tcase_add_loop_test(tc, signal_not_eintr, 0, n_emu);
	suite_add_tcase(s, tc);
	tc = tcase_create("requeue_waitv");
	tcase_add_loop_test(tc, requeue_sizes, 0, n_emu);
	tcase_add_loop_test(tc, requeue_tables, 0, n_emu);
	tcase_add_loop_test(tc, requeue_backends, 0, n_emu);
	tcase_add_loop_test(tc, waitv_mixed, 0, 5);
	tcase_add_loop_test(tc, waitv_deadline, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("numa_fork");
	tcase_add_loop_test(tc, numa_tables, 0, n_emu);
	tcase_add_test(tc, fork_parked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	find_emulated_sizes();
	return tu_run(emulate_suite());
}
