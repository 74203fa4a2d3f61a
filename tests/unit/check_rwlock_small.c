/* f2_rwlock_t with tiny count fields (this suite compiles rwlock.c itself
 * with F2_RW_WRITER_BITS=2 and F2_RW_READER_BITS=3): the overflow paths with
 * a handful of threads. At most 7 readers; at most 3 writers counted as
 * parked, the others poll until there is room. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "f2sync/rwlock.h"
#include "f2sync/runtime.h"
#include "sync/rwlock_word.h"
#include "common/testutil.h"

#define CK(x) ck_assert_int_eq((x), 0)

static uint32_t word(f2_rwlock_t *rw)
{
	return __atomic_load_n(&rw->state, __ATOMIC_ACQUIRE);
}

static void await_counts(f2_rwlock_t *rw, uint32_t r, uint32_t w)
{
	while (rw_readers(word(rw)) != r || rw_writers(word(rw)) != w)
		sched_yield();
}

static struct timespec deadline(clockid_t clk, long long delta_ns)
{
	struct timespec t;
	clock_gettime(clk, &t);
	long long ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec + delta_ns;
	t.tv_sec = ns / 1000000000LL;
	t.tv_nsec = ns % 1000000000LL;
	return t;
}

START_TEST(test_layout)
{
	ck_assert_uint_eq(RW_READERS_MAX, 7);
	ck_assert_uint_eq(RW_WRITERS_MAX, 3);
}
END_TEST

START_TEST(test_readers_full)
{
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	for (int i = 0; i < 7; i++)
		CK(f2_rwlock_tryrdlock(&rw));
	ck_assert_int_eq(f2_rwlock_rdlock(&rw), EAGAIN);
	ck_assert_int_eq(f2_rwlock_tryrdlock(&rw), EAGAIN);
	for (int i = 0; i < 7; i++)
		CK(f2_rwlock_unlock(&rw));
	ck_assert_int_eq(f2_rwlock_unlock(&rw), EPERM);
}
END_TEST

struct shared {
	f2_rwlock_t rw;
	long counter;
	int result[16];
	long iters;
	int done, release;
};

struct arg {
	struct shared *s;
	int id;
};

static void *held_reader(void *p)
{
	struct arg *a = p;
	a->s->result[a->id] = f2_rwlock_rdlock(&a->s->rw);
	__atomic_add_fetch(&a->s->done, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&a->s->release, __ATOMIC_ACQUIRE))
		sched_yield();
	if (a->s->result[a->id] == 0)
		CK(f2_rwlock_unlock(&a->s->rw));
	return NULL;
}

/* 8 readers parked behind a writer compete when it leaves: 7 fill the count
 * and hold on, the 8th gets EAGAIN. */
START_TEST(test_parked_readers_full)
{
	static struct shared s;
	struct arg a[8];
	pthread_t t[8];
	int eagain = 0;

	memset(&s, 0, sizeof s);
	CK(f2_rwlock_wrlock(&s.rw));
	for (int i = 0; i < 8; i++) {
		a[i] = (struct arg){ &s, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, held_reader, &a[i]), 0);
	}
	while (!(word(&s.rw) & RW_RPARKED))
		sched_yield();
	CK(f2_rwlock_unlock(&s.rw));
	while (__atomic_load_n(&s.done, __ATOMIC_ACQUIRE) < 8)
		sched_yield();
	for (int i = 0; i < 8; i++) {
		ck_assert(s.result[i] == 0 || s.result[i] == EAGAIN);
		eagain += s.result[i] == EAGAIN;
	}
	ck_assert_int_eq(eagain, 1);
	ck_assert_uint_eq(rw_readers(word(&s.rw)), 7);
	__atomic_store_n(&s.release, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_uint_eq(word(&s.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

static void *writer_loop(void *p)
{
	struct shared *s = p;
	for (long i = 0; i < s->iters; i++) {
		CK(f2_rwlock_wrlock(&s->rw));
		s->counter++;
		CK(f2_rwlock_unlock(&s->rw));
	}
	return NULL;
}

/* 8 writers, room to count 3: the rest poll; no update is lost. */
START_TEST(test_writers_overflow)
{
	static struct shared s;
	pthread_t t[8];

	memset(&s, 0, sizeof s);
	s.iters = 2000;
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer_loop, &s), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(s.counter, 8 * s.iters);
	ck_assert_uint_eq(word(&s.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

static void *blocked_writer(void *p)
{
	struct shared *s = p;
	CK(f2_rwlock_wrlock(&s->rw));
	CK(f2_rwlock_unlock(&s->rw));
	return NULL;
}

/* A timed writer that finds the count full (3 parked writers; the hand-off
 * time is raised so that none of them leaves W to reserve a turn) polls,
 * and still times out at (never before) its deadline, on both clocks. */
START_TEST(test_timed_writer_overflow)
{
	static struct shared s;
	clockid_t clk[2] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	pthread_t t[3];
	uint64_t keep;

	memset(&s, 0, sizeof s);
	CK(f2_tune_get(F2_TUNE_HANDOFF_NS, &keep));
	CK(f2_tune_set(F2_TUNE_HANDOFF_NS, 60ull * 1000000000));
	CK(f2_rwlock_wrlock(&s.rw));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, blocked_writer, &s), 0);
	await_counts(&s.rw, 0, 3);
	for (int c = 0; c < 2; c++) {
		struct timespec d = deadline(clk[c], 15000000), now;
		ck_assert_int_eq(f2_rwlock_timedwrlock(&s.rw, &d, clk[c]), ETIMEDOUT);
		clock_gettime(clk[c], &now);
		ck_assert(now.tv_sec > d.tv_sec || (now.tv_sec == d.tv_sec && now.tv_nsec >= d.tv_nsec));
		ck_assert_int_eq(f2_rwlock_trywrlock(&s.rw), EBUSY);
	}
	ck_assert_uint_eq(rw_writers(word(&s.rw)), 3);
	CK(f2_rwlock_unlock(&s.rw));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	CK(f2_tune_set(F2_TUNE_HANDOFF_NS, keep));
	ck_assert_uint_eq(word(&s.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

/* Reader slots (BIAS) do not count in R: more readers than R can hold
 * read at once through their slots, and a writer drains them all. */
extern int f2_rw_nobias; /* rwlock.c, test build */

static void bias_setup(void)
{
	__atomic_store_n(&f2_rw_nobias, 0, __ATOMIC_SEQ_CST);
}

static void bias_teardown(void)
{
	__atomic_store_n(&f2_rw_nobias, 1, __ATOMIC_SEQ_CST);
}

static void *read_once(void *p)
{
	CK(f2_rwlock_rdlock(p));
	CK(f2_rwlock_unlock(p));
	return NULL;
}

struct many {
	f2_rwlock_t rw;
	int in, release, inside, most;
};

static void *many_reader(void *p)
{
	struct many *m = p;

	CK(f2_rwlock_rdlock(&m->rw));
	int n = __atomic_add_fetch(&m->inside, 1, __ATOMIC_SEQ_CST);
	int most = __atomic_load_n(&m->most, __ATOMIC_RELAXED);
	while (n > most && !__atomic_compare_exchange_n(&m->most, &most, n, 0, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
		;
	__atomic_add_fetch(&m->in, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&m->release, __ATOMIC_ACQUIRE))
		sched_yield();
	__atomic_sub_fetch(&m->inside, 1, __ATOMIC_SEQ_CST);
	CK(f2_rwlock_unlock(&m->rw));
	return NULL;
}

static void *many_writer(void *p)
{
	struct many *m = p;

	CK(f2_rwlock_wrlock(&m->rw));
	ck_assert_int_eq(__atomic_load_n(&m->inside, __ATOMIC_SEQ_CST), 0);
	CK(f2_rwlock_unlock(&m->rw));
	return NULL;
}

START_TEST(test_bias_readers_beyond_r)
{
	static struct many m = { .rw = F2_RWLOCK_INITIALIZER };
	pthread_t t[10], w;

	for (int i = 0; i < 20000 && !(word(&m.rw) & RW_BIAS); i++) {
		pthread_t s;
		ck_assert_int_eq(pthread_create(&s, NULL, read_once, &m.rw), 0);
		ck_assert_int_eq(pthread_join(s, NULL), 0);
		if (!(word(&m.rw) & RW_BIAS))
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	ck_assert(word(&m.rw) & RW_BIAS);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, many_reader, &m), 0);
	while (__atomic_load_n(&m.in, __ATOMIC_ACQUIRE) < 10)
		sched_yield();
	ck_assert_int_eq(m.most, 10); /* more than RW_READERS_MAX at once */
	ck_assert_uint_eq(rw_readers(word(&m.rw)), 0);
	ck_assert_int_eq(pthread_create(&w, NULL, many_writer, &m), 0);
	while (!(word(&m.rw) & RW_WRITER))
		sched_yield();
	__atomic_store_n(&m.release, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(pthread_join(w, NULL), 0);
	ck_assert_uint_eq(word(&m.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rwlock_small");
	TCase *tc = tcase_create("overflow");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_readers_full);
	tcase_add_test(tc, test_parked_readers_full);
	tcase_add_test(tc, test_writers_overflow);
	tcase_add_test(tc, test_timed_writer_overflow);
	suite_add_tcase(s, tc);
	tc = tcase_create("bias");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, bias_setup, bias_teardown);
	tcase_add_test(tc, test_bias_readers_beyond_r);
	suite_add_tcase(s, tc);
	f2_rw_nobias = 1; /* the overflow tests count readers in R */
	return tu_run(s);
}
