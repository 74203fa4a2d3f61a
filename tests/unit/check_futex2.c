/* The futex2 layer's contract (design.md section 3), on whatever backend
 * F2SYNC_BACKEND forces: exact error codes, wake counts, masks, requeue,
 * waitv, deadlines on both clocks, a shared word across fork, and a
 * randomized bad-input sweep. */
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "f2sync/futex2.h"
#include "common/testutil.h"

static const unsigned sizes[] = { F2_SIZE_U8, F2_SIZE_U16, F2_SIZE_U32, F2_SIZE_U64 };
#define NSIZES 4
#define PRIV F2_PRIVATE

/* Storage for one word or pair of any size, aligned for a u64 pair. */
typedef struct {
	_Alignas(16) unsigned char b[16];
} slot_t;

static void *pair_init(slot_t *s, unsigned size, int64_t node)
{
	memset(s, 0, sizeof *s);
	unsigned bytes = 1u << size;
	switch (size) {
	case 0: ((int8_t *)s->b)[1] = (int8_t)node; break;
	case 1: ((int16_t *)s->b)[1] = (int16_t)node; break;
	case 2: ((int32_t *)s->b)[1] = (int32_t)node; break;
	default: ((int64_t *)s->b)[1] = node; break;
	}
	(void)bytes;
	return s->b;
}

static int64_t pair_node(slot_t *s, unsigned size)
{
	switch (size) {
	case 0: return ((int8_t *)s->b)[1];
	case 1: return ((int16_t *)s->b)[1];
	case 2: return ((int32_t *)s->b)[1];
	default: return ((int64_t *)s->b)[1];
	}
}

START_TEST(backend_names)
{
	const char *b = tu_backend();
	const char *k32 = f2_futex_backend(F2_SIZE_U32 | PRIV);
	ck_assert_ptr_nonnull(k32);
	if (!strcmp(b, "futex2"))
		ck_assert_str_eq(k32, "futex2");
	else if (!strcmp(b, "legacy"))
		ck_assert_str_eq(k32, "legacy");
	else if (!strcmp(b, "emulate"))
		ck_assert_str_eq(k32, "emulated");
	/* Shared 32-bit words always meet the kernel. */
	const char *s32 = f2_futex_backend(F2_SIZE_U32);
	ck_assert_ptr_nonnull(s32);
	ck_assert(!strcmp(s32, "futex2") || !strcmp(s32, "legacy"));
	for (unsigned i = 0; i < NSIZES; i++)
		ck_assert_ptr_nonnull(f2_futex_backend(sizes[i] | PRIV));
	ck_assert_ptr_null(f2_futex_backend(0x08 | F2_SIZE_U32));
	ck_assert_ptr_null(f2_futex_backend(0x100 | F2_SIZE_U32));
}
END_TEST

START_TEST(unknown_flags)
{
	uint64_t w = 0;
	unsigned bad[] = { 0x08, 0x10, 0x20, 0x40, 0x100, 0x80000000u };
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned f = bad[i] | F2_SIZE_U32 | PRIV;
		ck_assert_int_eq(f2_futex_wait(&w, 1, ~0u, f, NULL, 0), -EINVAL);
		ck_assert_int_eq(f2_futex_wake(&w, ~0u, 1, f), -EINVAL);
		struct f2_futex_waitv v = { 1, &w, f, 0 };
		ck_assert_int_eq(f2_futex_waitv(&v, 1, NULL, 0), -EINVAL);
		struct f2_futex_waitv rq[2] = { { 0, &w, f, 0 }, { 0, (char *)&w + 4, F2_SIZE_U32 | PRIV, 0 } };
		ck_assert_int_eq(f2_futex_requeue(rq, 1, 1), -EINVAL);
	}
}
END_TEST

START_TEST(misaligned)
{
	slot_t s;
	memset(&s, 0, sizeof s);
	for (unsigned i = 1; i < NSIZES; i++) {
		unsigned f = sizes[i] | PRIV;
		ck_assert_int_eq(f2_futex_wait(s.b + 1, 0, 1, f, NULL, 0), -EINVAL);
		ck_assert_int_eq(f2_futex_wake(s.b + 1, 1, 1, f), -EINVAL);
	}
	/* A pair is aligned to twice its word size. */
	for (unsigned i = 0; i < NSIZES; i++) {
		unsigned f = sizes[i] | F2_NUMA | PRIV;
		void *p = s.b + (1u << sizes[i]);
		ck_assert_int_eq(f2_futex_wake(p, 1, 1, f), -EINVAL);
		ck_assert_int_eq(f2_futex_wait(p, 0, 1, f, NULL, 0), -EINVAL);
	}
}
END_TEST

START_TEST(null_address)
{
	ck_assert_int_eq(f2_futex_wait(NULL, 0, 1, F2_SIZE_U32 | PRIV, NULL, 0), -EFAULT);
	ck_assert_int_eq(f2_futex_wake(NULL, 1, 1, F2_SIZE_U32 | PRIV), -EFAULT);
	ck_assert_int_eq(f2_futex_wake(NULL, 1, 1, F2_SIZE_U8 | PRIV), -EFAULT);
	struct f2_futex_waitv v = { 0, NULL, F2_SIZE_U32 | PRIV, 0 };
	ck_assert_int_eq(f2_futex_waitv(&v, 1, NULL, 0), -EFAULT);
	ck_assert_int_eq(f2_futex_waitv(NULL, 1, NULL, 0), -EINVAL);
	ck_assert_int_eq(f2_futex_requeue(NULL, 1, 1), -EFAULT);
}
END_TEST

START_TEST(zero_mask_and_width)
{
	slot_t s;
	memset(&s, 0, sizeof s);
	for (unsigned i = 0; i < NSIZES; i++) {
		unsigned f = sizes[i] | PRIV;
		ck_assert_int_eq(f2_futex_wait(s.b, 0, 0, f, NULL, 0), -EINVAL);
		ck_assert_int_eq(f2_futex_wake(s.b, 0, 1, f), -EINVAL);
		if (sizes[i] == F2_SIZE_U64)
			continue;
		uint64_t wide = 1ull << (8u << sizes[i]);
		ck_assert_int_eq(f2_futex_wait(s.b, wide, 1, f, NULL, 0), -EINVAL);
		ck_assert_int_eq(f2_futex_wait(s.b, 0, wide, f, NULL, 0), -EINVAL);
		ck_assert_int_eq(f2_futex_wake(s.b, wide | 1, 1, f), -EINVAL);
		struct f2_futex_waitv v = { wide, s.b, f, 0 };
		ck_assert_int_eq(f2_futex_waitv(&v, 1, NULL, 0), -EINVAL);
	}
}
END_TEST

START_TEST(bad_counts)
{
	uint64_t w[2] = { 0, 0 };
	ck_assert_int_eq(f2_futex_wake(w, ~0u, -1, F2_SIZE_U32 | PRIV), -EINVAL);
	ck_assert_int_eq(f2_futex_wake(w, ~0u, 0, F2_SIZE_U32 | PRIV), 0);
	struct f2_futex_waitv rq[2] = { { 0, &w[0], F2_SIZE_U32 | PRIV, 0 },
	                                { 0, &w[1], F2_SIZE_U32 | PRIV, 0 } };
	ck_assert_int_eq(f2_futex_requeue(rq, -1, 0), -EINVAL);
	ck_assert_int_eq(f2_futex_requeue(rq, 0, -1), -EINVAL);
	rq[1].reserved = 1;
	ck_assert_int_eq(f2_futex_requeue(rq, 1, 1), -EINVAL);
	struct f2_futex_waitv v[F2_WAITV_MAX + 1];
	for (unsigned i = 0; i <= F2_WAITV_MAX; i++)
		v[i] = (struct f2_futex_waitv){ 1, &w[0], F2_SIZE_U32 | PRIV, 0 };
	ck_assert_int_eq(f2_futex_waitv(v, 0, NULL, 0), -EINVAL);
	ck_assert_int_eq(f2_futex_waitv(v, F2_WAITV_MAX + 1, NULL, 0), -EINVAL);
	/* n == F2_WAITV_MAX is accepted: every word differs, so -EAGAIN. */
	ck_assert_int_eq(f2_futex_waitv(v, F2_WAITV_MAX, NULL, 0), -EAGAIN);
	v[0].reserved = 7;
	ck_assert_int_eq(f2_futex_waitv(v, 1, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(bad_timespec_and_clock)
{
	uint64_t w = 0;
	unsigned f = F2_SIZE_U32 | PRIV;
	struct timespec bad[] = { { 0, -1 }, { 0, 1000000000 }, { -1, 0 }, { 1, 2000000000 } };
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(f2_futex_wait(&w, 0, 1, f, &bad[i], CLOCK_MONOTONIC), -EINVAL);
		ck_assert_int_eq(f2_futex_wait(&w, 0, 1, f, &bad[i], CLOCK_REALTIME), -EINVAL);
		struct f2_futex_waitv v = { 0, &w, f, 0 };
		ck_assert_int_eq(f2_futex_waitv(&v, 1, &bad[i], CLOCK_MONOTONIC), -EINVAL);
	}
	struct timespec ok = tu_deadline(CLOCK_MONOTONIC, -1000);
	clockid_t clocks[] = { CLOCK_PROCESS_CPUTIME_ID, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW, 12345 };
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(f2_futex_wait(&w, 0, 1, f, &ok, clocks[i]), -EINVAL);
		struct f2_futex_waitv v = { 0, &w, f, 0 };
		ck_assert_int_eq(f2_futex_waitv(&v, 1, &ok, clocks[i]), -EINVAL);
	}
}
END_TEST

START_TEST(eagain_on_mismatch)
{
	slot_t s;
	for (unsigned i = 0; i < NSIZES; i++) {
		memset(&s, 0, sizeof s);
		tu_store(s.b, sizes[i], 5);
		unsigned f = sizes[i] | PRIV;
		ck_assert_int_eq(f2_futex_wait(s.b, 4, ~0ull >> (64 - (8u << sizes[i])), f, NULL, 0), -EAGAIN);
		struct timespec d = tu_deadline(CLOCK_REALTIME, 1000000000);
		ck_assert_int_eq(f2_futex_wait(s.b, 6, 1, f, &d, CLOCK_REALTIME), -EAGAIN);
		/* A mismatch wins over an expired deadline, as in the kernel. */
		struct timespec past = tu_deadline(CLOCK_MONOTONIC, -1000000);
		ck_assert_int_eq(f2_futex_wait(s.b, 0, 1, f, &past, CLOCK_MONOTONIC), -EAGAIN);
	}
}
END_TEST

START_TEST(past_deadline)
{
	slot_t s;
	for (unsigned i = 0; i < NSIZES; i++) {
		memset(&s, 0, sizeof s);
		unsigned f = sizes[i] | PRIV;
		struct timespec m = tu_deadline(CLOCK_MONOTONIC, -1000000000);
		struct timespec r = tu_deadline(CLOCK_REALTIME, -1000000000);
		struct timespec zero = { 0, 0 };
		ck_assert_int_eq(f2_futex_wait(s.b, 0, 1, f, &m, CLOCK_MONOTONIC), -ETIMEDOUT);
		ck_assert_int_eq(f2_futex_wait(s.b, 0, 1, f, &r, CLOCK_REALTIME), -ETIMEDOUT);
		ck_assert_int_eq(f2_futex_wait(s.b, 0, 1, f, &zero, CLOCK_MONOTONIC), -ETIMEDOUT);
		struct f2_futex_waitv v = { 0, s.b, f, 0 };
		ck_assert_int_eq(f2_futex_waitv(&v, 1, &m, CLOCK_MONOTONIC), -ETIMEDOUT);
		ck_assert_int_eq(f2_futex_waitv(&v, 1, &r, CLOCK_REALTIME), -ETIMEDOUT);
	}
}
END_TEST

/* A wait never returns -ETIMEDOUT before its deadline (0 is a spurious
 * return: wait again). */
START_TEST(deadline_not_early)
{
	slot_t s;
	clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	for (unsigned i = 0; i < NSIZES; i++) {
		for (unsigned c = 0; c < 2; c++) {
			memset(&s, 0, sizeof s);
			struct timespec d = tu_deadline(clocks[c], 20 * 1000000);
			int r;
			while ((r = f2_futex_wait(s.b, 0, 1, sizes[i] | PRIV, &d, clocks[c])) == 0)
				;
			ck_assert_int_eq(r, -ETIMEDOUT);
			ck_assert(tu_reached(clocks[c], &d));
			struct f2_futex_waitv v = { 0, s.b, sizes[i] | PRIV, 0 };
			d = tu_deadline(clocks[c], 10 * 1000000);
			while ((r = f2_futex_waitv(&v, 1, &d, clocks[c])) == 0)
				;
			ck_assert_int_eq(r, -ETIMEDOUT);
			ck_assert(tu_reached(clocks[c], &d));
		}
	}
}
END_TEST

/* Handoff: a turn passes between two threads through one word, with a store
 * then a wake; a lost wakeup hangs the test (Check's timeout fails it). */
struct pingpong {
	slot_t s;
	unsigned size;
	unsigned flags;
	long rounds;
};

static void turn_wait(struct pingpong *p, uint64_t mine)
{
	uint64_t v;
	while ((v = tu_load(p->s.b, p->size)) != mine)
		f2_futex_wait(p->s.b, v, ~0ull >> (64 - (8u << p->size)), p->flags, NULL, 0);
}

static void turn_pass(struct pingpong *p, uint64_t next)
{
	tu_store(p->s.b, p->size, next);
	ck_assert_int_ge(f2_futex_wake(p->s.b, ~0ull >> (64 - (8u << p->size)), 1, p->flags), 0);
}

static void *pong(void *arg)
{
	struct pingpong *p = arg;
	for (long i = 0; i < p->rounds; i++) {
		turn_wait(p, 1);
		turn_pass(p, 2);
	}
	return NULL;
}

static void pingpong_run(unsigned size, unsigned extra, long rounds)
{
	struct pingpong p;
	memset(&p, 0, sizeof p);
	p.size = size;
	p.flags = size | PRIV | extra;
	p.rounds = rounds;
	if (extra & F2_NUMA)
		pair_init(&p.s, size, F2_NODE_AUTO);
	tu_store(p.s.b, size, 2);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, pong, &p), 0);
	for (long i = 0; i < rounds; i++) {
		turn_wait(&p, 2);
		turn_pass(&p, 1);
	}
	turn_wait(&p, 2);
	pthread_join(t, NULL);
	ck_assert_uint_eq(tu_load(p.s.b, size), 2);
}

START_TEST(handoff_100k)
{
	pingpong_run(sizes[_i], 0, 100000);
}
END_TEST

START_TEST(handoff_numa_pair)
{
	slot_t probe;
	pingpong_run(sizes[_i], F2_NUMA, 20000);
	/* node -1 was resolved and written back. */
	void *p = pair_init(&probe, sizes[_i], F2_NODE_AUTO);
	ck_assert_int_eq(f2_futex_wake(p, 1, 1, sizes[_i] | F2_NUMA | PRIV), 0);
	ck_assert_int_ge(pair_node(&probe, sizes[_i]), 0);
}
END_TEST

START_TEST(bad_node)
{
	slot_t s;
	unsigned size = sizes[_i];
	unsigned f = size | F2_NUMA | PRIV;
	int64_t bad[] = { -2, -100, 100 };
	for (unsigned i = 0; i < 3; i++) {
		void *p = pair_init(&s, size, bad[i]);
		ck_assert_int_eq(f2_futex_wake(p, 1, 1, f), -EINVAL);
		ck_assert_int_eq(f2_futex_wait(p, 0, 1, f, NULL, 0), -EINVAL);
	}
	if (size >= F2_SIZE_U32) {
		void *p = pair_init(&s, size, 1 << 20);
		ck_assert_int_eq(f2_futex_wake(p, 1, 1, f), -EINVAL);
	}
	void *p = pair_init(&s, size, 0);
	ck_assert_int_eq(f2_futex_wake(p, 1, 1, f), 0);
}
END_TEST

/* Waiters parked on one word with masks 1, 2, 4; wakes with mask 2 only ever
 * reach the mask-2 waiter. */
struct masked {
	slot_t s;
	unsigned flags;
	uint64_t mask;
	pid_t tid;
	int woken;
	int stop;
};

static void *masked_waiter(void *arg)
{
	struct masked *m = arg;
	__atomic_store_n(&m->tid, tu_gettid(), __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&m->stop, __ATOMIC_SEQ_CST)) {
		if (f2_futex_wait(m->s.b, 0, m->mask, m->flags, NULL, 0) == 0)
			__atomic_add_fetch(&m->woken, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

START_TEST(masks)
{
	unsigned size = sizes[_i];
	static struct masked m[3];
	pthread_t t[3];
	slot_t word;
	memset(&word, 0, sizeof word);
	for (int i = 0; i < 3; i++) {
		memset(&m[i], 0, sizeof m[i]);
		m[i].flags = size | PRIV;
		m[i].mask = 1u << i;
	}
	/* All three wait on the same word: share m[0].s. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, masked_waiter, &m[i]), 0);
	(void)word;
	for (int i = 0; i < 3; i++) {
		while (!__atomic_load_n(&m[i].tid, __ATOMIC_SEQ_CST))
			tu_sleep_ms(1);
		ck_assert(tu_wait_parked(m[i].tid));
	}
	int total = 0;
	for (int k = 0; k < 1000 && __atomic_load_n(&m[1].woken, __ATOMIC_SEQ_CST) == 0; k++) {
		int r = f2_futex_wake(m[1].s.b, 2, INT_MAX, size | PRIV);
		ck_assert_int_ge(r, 0);
		ck_assert_int_le(r, 1);
		total += r;
		tu_sleep_ms(1);
	}
	ck_assert_int_eq(total, 1);
	ck_assert_int_eq(__atomic_load_n(&m[0].woken, __ATOMIC_SEQ_CST), 0);
	ck_assert_int_eq(__atomic_load_n(&m[2].woken, __ATOMIC_SEQ_CST), 0);
	/* A mask with bits 0 and 2 reaches the other two. */
	tu_wait_parked(m[0].tid);
	tu_wait_parked(m[2].tid);
	for (int i = 0; i < 3; i++)
		__atomic_store_n(&m[i].stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 3; i++)
		f2_futex_wake(m[i].s.b, 7, INT_MAX, size | PRIV);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}
END_TEST

/* Each waiter parks once on a word that never changes. */
struct parked {
	void *addr;
	unsigned flags;
	pid_t tid;
	int ret;
	int done;
};

static void *park_once(void *arg)
{
	struct parked *p = arg;
	__atomic_store_n(&p->tid, tu_gettid(), __ATOMIC_SEQ_CST);
	p->ret = f2_futex_wait(p->addr, 0, ~0ull >> (64 - (8u << (p->flags & 3))), p->flags, NULL, 0);
	__atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void park_all(struct parked *p, pthread_t *t, int n, void *addr, unsigned flags)
{
	for (int i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].addr = addr;
		p[i].flags = flags;
		ck_assert_int_eq(pthread_create(&t[i], NULL, park_once, &p[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		while (!__atomic_load_n(&p[i].tid, __ATOMIC_SEQ_CST))
			tu_sleep_ms(1);
		ck_assert(tu_wait_parked(p[i].tid));
	}
}

static int count_done(struct parked *p, int n)
{
	int d = 0;
	for (int i = 0; i < n; i++)
		d += __atomic_load_n(&p[i].done, __ATOMIC_SEQ_CST);
	return d;
}

START_TEST(wake_counts)
{
	unsigned size = sizes[_i];
	slot_t s;
	memset(&s, 0, sizeof s);
	struct parked p[8];
	pthread_t t[8];
	park_all(p, t, 8, s.b, size | PRIV);
	ck_assert_int_eq(f2_futex_wake(s.b, ~0ull >> (64 - (8u << size)), 3, size | PRIV), 3);
	ck_assert_int_eq(f2_futex_wake(s.b, 1, 2, size | PRIV), 2);
	ck_assert_int_eq(f2_futex_wake(s.b, 1, INT_MAX, size | PRIV), 3);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(p[i].ret, 0);
	}
	ck_assert_int_eq(f2_futex_wake(s.b, 1, INT_MAX, size | PRIV), 0);
}
END_TEST

/* Requeue: 4 waiters on A; wake 1, move 2 to B; A keeps 1. */
START_TEST(requeue_counts)
{
	unsigned size = sizes[_i];
	slot_t a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	unsigned f = size | PRIV;
	struct parked p[4];
	pthread_t t[4];
	park_all(p, t, 4, a.b, f);
	struct f2_futex_waitv rq[2] = { { 1, a.b, f, 0 }, { 0, b.b, f, 0 } };
	ck_assert_int_eq(f2_futex_requeue(rq, 1, 2), -EAGAIN);
	rq[0].val = 0;
	ck_assert_int_eq(f2_futex_requeue(rq, 1, 2), 3);
	while (count_done(p, 4) < 1)
		tu_sleep_ms(1);
	tu_sleep_ms(5);
	ck_assert_int_eq(count_done(p, 4), 1);
	ck_assert_int_eq(f2_futex_wake(b.b, 1, INT_MAX, f), 2);
	ck_assert_int_eq(f2_futex_wake(a.b, 1, INT_MAX, f), 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}
END_TEST

/* Requeue from every size to every other size (emulated words move between
 * sizes; a move across backends wakes instead, and the count says so). */
START_TEST(requeue_across_sizes)
{
	unsigned from = sizes[_i / NSIZES], to = sizes[_i % NSIZES];
	slot_t a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	struct parked p[3];
	pthread_t t[3];
	park_all(p, t, 3, a.b, from | PRIV);
	struct f2_futex_waitv rq[2] = { { 0, a.b, from | PRIV, 0 }, { 0, b.b, to | PRIV, 0 } };
	ck_assert_int_eq(f2_futex_requeue(rq, 1, INT_MAX), 3);
	int moved = f2_futex_wake(b.b, 1, INT_MAX, to | PRIV);
	ck_assert_int_ge(moved, 0);
	ck_assert_int_le(moved, 2);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(f2_futex_wake(a.b, 1, INT_MAX, from | PRIV), 0);
}
END_TEST

struct vwaiter {
	struct f2_futex_waitv v[2];
	pid_t tid;
	int ret;
};

static void *waitv_thread(void *arg)
{
	struct vwaiter *w = arg;
	__atomic_store_n(&w->tid, tu_gettid(), __ATOMIC_SEQ_CST);
	w->ret = f2_futex_waitv(w->v, 2, NULL, 0);
	return NULL;
}

/* waitv over a word of size i and a 32-bit word: returns the woken index. */
START_TEST(waitv_index)
{
	unsigned size = sizes[_i];
	for (int which = 0; which < 2; which++) {
		slot_t a, b;
		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		struct vwaiter w;
		memset(&w, 0, sizeof w);
		w.v[0] = (struct f2_futex_waitv){ 0, a.b, size | PRIV, 0 };
		w.v[1] = (struct f2_futex_waitv){ 0, b.b, F2_SIZE_U32 | PRIV, 0 };
		pthread_t t;
		ck_assert_int_eq(pthread_create(&t, NULL, waitv_thread, &w), 0);
		while (!__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST))
			tu_sleep_ms(1);
		ck_assert(tu_wait_parked(w.tid));
		if (which == 0)
			ck_assert_int_eq(f2_futex_wake(a.b, 1, 1, size | PRIV), 1);
		else
			ck_assert_int_eq(f2_futex_wake(b.b, 1, 1, F2_SIZE_U32 | PRIV), 1);
		pthread_join(t, NULL);
		ck_assert_int_eq(w.ret, which);
	}
	/* A mismatch on either word is -EAGAIN. */
	slot_t a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	tu_store(b.b, F2_SIZE_U32, 3);
	struct f2_futex_waitv v[2] = { { 0, a.b, size | PRIV, 0 }, { 0, b.b, F2_SIZE_U32 | PRIV, 0 } };
	ck_assert_int_eq(f2_futex_waitv(v, 2, NULL, 0), -EAGAIN);
}
END_TEST

/* A requeue with nr_wake 1 from a 32-bit word wakes a waitv waiting on it,
 * on every kernel: with futex_waitv the waiter sleeps in the kernel, without
 * it the word is a guest in the emulation and the kernel requeue, finding no
 * sleeper, wakes the guest (src/futex2/guest.c). */
START_TEST(requeue_wakes_waitv)
{
	slot_t a, b, c;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&c, 0, sizeof c);
	struct vwaiter w;
	memset(&w, 0, sizeof w);
	w.v[0] = (struct f2_futex_waitv){ 0, a.b, F2_SIZE_U32 | PRIV, 0 };
	w.v[1] = (struct f2_futex_waitv){ 0, b.b, F2_SIZE_U8 | PRIV, 0 };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, waitv_thread, &w), 0);
	while (!__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST))
		tu_sleep_ms(1);
	ck_assert(tu_wait_parked(w.tid));
	struct f2_futex_waitv ft[2] = { { 0, a.b, F2_SIZE_U32 | PRIV, 0 },
	                                { 0, c.b, F2_SIZE_U32 | PRIV, 0 } };
	ck_assert_int_eq(f2_futex_requeue(ft, 1, 0), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.ret, 0);
}
END_TEST

/* waitv with a process-shared word: the kernel's futex_waitv where there is
 * one; before Linux 5.16 -ENOSYS (the emulation is process-private, so a
 * shared word cannot join it), whatever the other words are. */
START_TEST(waitv_shared_word)
{
	slot_t a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	struct timespec soon = tu_deadline(CLOCK_MONOTONIC, 1000000);
	struct f2_futex_waitv v[2] = { { 0, a.b, F2_SIZE_U32, 0 },
	                               { 0, b.b, (_i ? F2_SIZE_U8 : F2_SIZE_U32) | PRIV, 0 } };
	if (!tu_kernel_has_waitv()) {
		ck_assert_int_eq(f2_futex_waitv(v, 2, &soon, CLOCK_MONOTONIC), -ENOSYS);
		ck_assert_int_eq(f2_futex_waitv(v, 1, &soon, CLOCK_MONOTONIC), -ENOSYS);
		return;
	}
	ck_assert_int_eq(f2_futex_waitv(v, 2, &soon, CLOCK_MONOTONIC), -ETIMEDOUT);
	v[0].val = 1;
	ck_assert_int_eq(f2_futex_waitv(v, 2, &soon, CLOCK_MONOTONIC), -EAGAIN);
}
END_TEST

/* Which backend `auto` picks for every kind of word (size, private or
 * shared, plain word or NUMA pair), on the kernel this test sees: the host's,
 * or the one the kprofile launcher (tests/kprofile.c) imitates. The three
 * kernel classes, the rows of docs/design/futex2.md's routing table:
 *   FULL      Linux 6.16+ (profiles k6.16, norseq): futex2 with FUTEX2_NUMA
 *   NO_NUMA   Linux 6.7-6.15 (k6.7): futex2 without FUTEX2_NUMA
 *   NO_FUTEX2 before 6.7 (k5.16, k5.10, k4.18): futex(2) only
 * The class comes from raw syscalls made here, and the launcher's profile
 * name must agree with it. No kernel accepts 8, 16 or 64-bit futex2 words
 * yet; one that does fails this test until the table learns it. */
enum kclass { FULL, NO_NUMA, NO_FUTEX2 };

static long raw_wake(void *addr, unsigned flags)
{
	long r = syscall(454, addr, 1ul, 1, flags);
	return r < 0 ? -errno : r;
}

static enum kclass kernel_class(void)
{
	uint32_t pair[2] = { 0, (uint32_t)-1 };
	if (raw_wake(pair, F2_SIZE_U32 | PRIV) == -ENOSYS)
		return NO_FUTEX2;
	for (unsigned s = 0; s < NSIZES; s++)
		if (sizes[s] != F2_SIZE_U32)
			ck_assert_int_eq(raw_wake(pair, sizes[s] | PRIV), -EINVAL);
	return raw_wake(pair, F2_SIZE_U32 | F2_NUMA | PRIV) == 0 ? FULL : NO_NUMA;
}

static enum kclass profile_class(const char *p)
{
	if (!strcmp(p, "k6.16") || !strcmp(p, "norseq"))
		return FULL;
	if (!strcmp(p, "k6.7"))
		return NO_NUMA;
	ck_assert_msg(!strcmp(p, "k5.16") || !strcmp(p, "k5.10") || !strcmp(p, "k4.18"),
	              "unknown profile %s", p);
	return NO_FUTEX2;
}

#define E "emulated"
/* [class][size][private, private pair, shared, shared pair] */
static const char *const ROUTES[3][NSIZES][4] = {
	[FULL] = { { E, E, NULL, NULL }, { E, E, NULL, NULL },
	           { "futex2", "futex2", "futex2", "futex2" }, { E, E, NULL, NULL } },
	[NO_NUMA] = { { E, E, NULL, NULL }, { E, E, NULL, NULL },
	              { "futex2", E, "futex2", "futex2" }, { E, E, NULL, NULL } },
	[NO_FUTEX2] = { { E, E, NULL, NULL }, { E, E, NULL, NULL },
	                { "legacy", E, "legacy", "legacy" }, { E, E, NULL, NULL } },
};
#undef E

START_TEST(auto_routes)
{
	ck_assert_str_eq(tu_backend(), "auto");
	enum kclass k = kernel_class();
	const char *p = getenv("F2TEST_PROFILE");
	if (p)
		ck_assert_int_eq(k, profile_class(p));
	static const unsigned kinds[4] = { PRIV, PRIV | F2_NUMA, 0, F2_NUMA };
	for (unsigned s = 0; s < NSIZES; s++) {
		for (unsigned j = 0; j < 4; j++) {
			const char *want = ROUTES[k][s][j];
			const char *got = f2_futex_backend(sizes[s] | kinds[j]);
			ck_assert_msg(want ? got && !strcmp(got, want) : !got,
			              "profile %s, flags %#x: %s, want %s", p ? p : "host",
			              sizes[s] | kinds[j], got ? got : "none", want ? want : "none");
		}
	}
}
END_TEST

/* A shared 32-bit word between two processes. */
START_TEST(shared_across_fork)
{
	uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(w, MAP_FAILED);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* child: wait for 1 -> answer 2 */
		while (__atomic_load_n(w, __ATOMIC_SEQ_CST) != 1)
			f2_futex_wait(w, 0, ~0u, F2_SIZE_U32, NULL, 0);
		__atomic_store_n(w, 2, __ATOMIC_SEQ_CST);
		f2_futex_wake(w, ~0u, 1, F2_SIZE_U32);
		_exit(0);
	}
	tu_wait_parked(pid);
	__atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
	ck_assert_int_ge(f2_futex_wake(w, ~0u, 1, F2_SIZE_U32), 0);
	while (__atomic_load_n(w, __ATOMIC_SEQ_CST) != 2)
		f2_futex_wait(w, 1, ~0u, F2_SIZE_U32, NULL, 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	munmap(w, 4096);
}
END_TEST

/* A shared word of a size only the emulation serves is refused. */
START_TEST(shared_emulated_size)
{
	slot_t s;
	memset(&s, 0, sizeof s);
	for (unsigned i = 0; i < NSIZES; i++) {
		if (sizes[i] == F2_SIZE_U32)
			continue;
		const char *b = f2_futex_backend(sizes[i]);
		if (b) { /* a kernel that accepts this size */
			ck_assert_str_eq(b, "futex2");
			continue;
		}
		ck_assert_int_eq(f2_futex_wake(s.b, 1, 1, sizes[i]), -EOPNOTSUPP);
		ck_assert_int_eq(f2_futex_wait(s.b, 0, 1, sizes[i], NULL, 0), -EOPNOTSUPP);
	}
}
END_TEST

/* The random sweep's oracle. Every condition of the contract that the
 * arguments break adds its errno to a set (one bit each: err_bit);
 * a call that breaks nothing must give the one success answer. The order in
 * which an implementation checks is not part of the contract, so a call that
 * breaks several conditions may give any of their codes, but never 0 or a
 * count. */
static uint64_t err_bit(int e)
{
	switch (e) {
	case EINVAL: return 1;
	case EFAULT: return 2;
	case EOPNOTSUPP: return 4;
	case ENOSYS: return 8;
	default: return 0; /* an errno outside every set */
	}
}
#define ERR(e) err_bit(e)

static int clock_ok(clockid_t c)
{
	return c == CLOCK_MONOTONIC || c == CLOCK_REALTIME;
}

static int ts_ok(const struct timespec *t)
{
	return t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

static int fits_size(unsigned flags, uint64_t v)
{
	unsigned bits = 8u << (flags & F2_SIZE_MASK);
	return bits == 64 || !(v >> bits);
}

/* What one word (address, flags, value) breaks. */
static uint64_t word_errs(const void *addr, unsigned flags, uint64_t val)
{
	uint64_t e = 0;
	if (flags & ~(unsigned)(F2_SIZE_MASK | F2_NUMA | F2_PRIVATE))
		return ERR(EINVAL); /* the size and alignment mean nothing then */
	if (!addr)
		e |= ERR(EFAULT);
	uintptr_t align = (uintptr_t)1 << (flags & F2_SIZE_MASK);
	if (flags & F2_NUMA)
		align <<= 1;
	if (addr && ((uintptr_t)addr & (align - 1)))
		e |= ERR(EINVAL);
	if (!fits_size(flags, val))
		e |= ERR(EINVAL);
	if (!f2_futex_backend(flags)) /* a shared emulated size, or no backend */
		e |= ERR(EOPNOTSUPP) | ERR(ENOSYS);
	return e;
}

static void check_rc(const char *call, int rc, uint64_t errs, int ok1, int ok2)
{
	if (errs)
		ck_assert_msg(rc < 0 && (errs & ERR(-rc)),
		              "%s returned %d, outside its documented set %#llx", call, rc,
		              (unsigned long long)errs);
	else
		ck_assert_msg(rc == ok1 || rc == ok2, "%s returned %d on valid input, want %d", call,
		              rc, ok1);
}

/* 100,000 calls with random arguments that can never sleep (deadlines in
 * the past, nobody waiting): each gives exactly an errno of its documented
 * set, or, for valid arguments, the one answer the contract leaves. */
START_TEST(random_bad_input)
{
	static slot_t buf[8];
	unsigned seed = 12345;
	unsigned valid = 0; /* calls with valid arguments: the sweep must have some */
	memset(buf, 0, sizeof buf);
	/* Does this kernel take a vector with a shared kernel word (5.16+)? */
	struct f2_futex_waitv sh = { 1, buf, F2_SIZE_U32, 0 };
	int shared_waitv_nosys = f2_futex_waitv(&sh, 1, NULL, 0) == -ENOSYS;
	for (int i = 0; i < 100000; i++) {
		unsigned r = rand_r(&seed);
		unsigned flags = (r & 0xff) | ((r & 0x100) ? (1u << (r % 31)) : 0);
		if (r & 0x200)
			flags &= F2_SIZE_MASK | F2_NUMA | F2_PRIVATE; /* half the calls: valid flags */
		unsigned off = rand_r(&seed) % 64;
		void *addr = (rand_r(&seed) % 50) ? (unsigned char *)buf + off : NULL;
		uint64_t mask = ((uint64_t)rand_r(&seed) << 33) ^ rand_r(&seed);
		if (!(rand_r(&seed) % 8))
			mask = 0;
		else if (!(rand_r(&seed) % 3))
			mask = 1; /* fits every size */
		uint64_t val = ((uint64_t)rand_r(&seed) << 33) ^ rand_r(&seed);
		if (!(rand_r(&seed) % 4))
			val = 0; /* the word's value: wait then times out */
		struct timespec ts = { (long)(rand_r(&seed) % 3) - 1, (long)rand_r(&seed) % 1100000000 - 50000000 };
		clockid_t clk = (clockid_t)(rand_r(&seed) % 4);
		uint64_t e = word_errs(addr, flags, val);
		uint64_t deadline = clock_ok(clk) && ts_ok(&ts) ? 0 : ERR(EINVAL);
		int rc;
		if (ts.tv_sec > 0)
			ts.tv_sec = 0; /* never sleeps: the deadline is in the past (or invalid) */
		switch (rand_r(&seed) % 4) {
		case 0:
			e |= deadline | (mask && fits_size(flags, mask) ? 0 : ERR(EINVAL));
			rc = f2_futex_wait(addr, val, mask, flags, &ts, clk);
			/* the word is 0: a differing val is -EAGAIN, else the past deadline */
			check_rc("wait", rc, e, val ? -EAGAIN : -ETIMEDOUT, val ? -EAGAIN : -ETIMEDOUT);
			break;
		case 1: {
			int nr = (int)(rand_r(&seed) % 5) - 1;
			e = word_errs(addr, flags, 0) | /* wake has no value */
			    (mask && fits_size(flags, mask) ? 0 : ERR(EINVAL)) | (nr < 0 ? ERR(EINVAL) : 0);
			rc = f2_futex_wake(addr, mask, nr, flags);
			check_rc("wake", rc, e, 0, 0); /* nobody waits */
			break;
		}
		case 2: {
			struct f2_futex_waitv rq[2] = { { val, addr, flags, 0 },
			                                { 0, (unsigned char *)buf + 64, flags & 0x83, (unsigned)(r & 1) } };
			int nw = (int)(rand_r(&seed) % 3) - 1, nq = (int)(rand_r(&seed) % 3) - 1;
			e |= word_errs(rq[1].uaddr, rq[1].flags, 0) | (rq[1].reserved ? ERR(EINVAL) : 0) |
			     (nw < 0 || nq < 0 ? ERR(EINVAL) : 0);
			rc = f2_futex_requeue(rq, nw, nq);
			check_rc("requeue", rc, e, val ? -EAGAIN : 0, val ? -EAGAIN : 0);
			break;
		}
		default: {
			struct f2_futex_waitv v[2] = { { val, addr, flags, 0 },
			                               { 0, (unsigned char *)buf + 32, F2_SIZE_U32 | PRIV, 0 } };
			e |= deadline;
			rc = f2_futex_waitv(v, 1 + (r & 1), &ts, clk);
			/* before Linux 5.16 a vector with a shared kernel word is -ENOSYS */
			int no_shared = shared_waitv_nosys && !(flags & PRIV) && !e;
			check_rc("waitv", rc, e, no_shared ? -ENOSYS : val ? -EAGAIN : -ETIMEDOUT,
			         no_shared ? -ENOSYS : val ? -EAGAIN : -ETIMEDOUT);
			break;
		}
		}
		valid += !e;
		memset(buf, 0, sizeof buf); /* keep pairs' nodes valid or -1-free */
	}
	ck_assert_uint_gt(valid, 1000);
}
END_TEST

static Suite *make(void)
{
	Suite *s = suite_create("futex2");
	TCase *c = tcase_create("contract");
	tcase_set_timeout(c, 120);
	tcase_add_test(c, backend_names);
	tcase_add_test(c, unknown_flags);
	tcase_add_test(c, misaligned);
	tcase_add_test(c, null_address);
	tcase_add_test(c, zero_mask_and_width);
	tcase_add_test(c, bad_counts);
	tcase_add_test(c, bad_timespec_and_clock);
	tcase_add_test(c, eagain_on_mismatch);
	tcase_add_test(c, past_deadline);
	tcase_add_test(c, deadline_not_early);
	tcase_add_loop_test(c, bad_node, 0, NSIZES);
	tcase_add_test(c, shared_emulated_size);
	tcase_add_test(c, random_bad_input);
	if (!strcmp(tu_backend(), "auto"))
		tcase_add_test(c, auto_routes);
	suite_add_tcase(s, c);
	TCase *t = tcase_create("threads");
	tcase_set_timeout(t, 240);
	tcase_add_loop_test(t, handoff_100k, 0, NSIZES);
	tcase_add_loop_test(t, handoff_numa_pair, 0, NSIZES);
	tcase_add_loop_test(t, masks, 0, NSIZES);
	tcase_add_loop_test(t, wake_counts, 0, NSIZES);
	tcase_add_loop_test(t, requeue_counts, 0, NSIZES);
	tcase_add_loop_test(t, requeue_across_sizes, 0, NSIZES * NSIZES);
	tcase_add_loop_test(t, waitv_index, 0, NSIZES);
	tcase_add_test(t, requeue_wakes_waitv);
	tcase_add_loop_test(t, waitv_shared_word, 0, 2);
	tcase_add_test(t, shared_across_fork);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tu_run(make());
}
