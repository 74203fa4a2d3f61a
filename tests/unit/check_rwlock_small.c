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
	return tu_run(s);
}
