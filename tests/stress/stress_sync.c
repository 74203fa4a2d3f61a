/* Sync-layer stress: 2, 8 and 64 threads (more than cores) hammer each
 * primitive for a fixed time. Mutexes (both widths): a shared counter
 * changed only under the mutex, through lock, trylock and timed locks with
 * deadlines that do and do not expire, must equal the acquisitions counted
 * by the threads themselves. Condvars (both widths): a bounded queue with
 * producers and consumers, signal, broadcast and timed waits: every item
 * produced is consumed exactly once, and the run ends (no lost wakeup, no
 * deadlock; a hang fails by the test timeout). */
#include <check.h>

#include "f2sync/cond.h"
#include "f2sync/mutex.h"
#include "unit/sync_test.h"
#include "common/testutil.h"

/* Run time per case: F2_STRESS_MS (the short variant under label unit),
 * else 250 ms. */
static long run_ns(void)
{
	const char *s = getenv("F2_STRESS_MS");
	long ms = s ? atol(s) : 250;
	return (ms > 0 && ms < 10000 ? ms : 250) * 1000000L;
}
static const int THREADS[] = { 2, 8, 64 };

/* The timed run starts once the threads have made progress: on an
 * overloaded box new threads may not run at all for a while. */
static void wait_progress(f2_mutex_t *m, f2_mutex8_t *m8, long *count)
{
	for (;;) {
		ck_assert_int_eq(m ? f2_mutex_lock(m) : f2_mutex8_lock(m8), 0);
		long c = *count;
		ck_assert_int_eq(m ? f2_mutex_unlock(m) : f2_mutex8_unlock(m8), 0);
		if (c > 0)
			return;
		usleep(1000);
	}
}

/* ---- mutexes ------------------------------------------------------------ */
struct mx_run {
	int wide;                 /* 1: f2_mutex_t, 0: f2_mutex8_t */
	f2_mutex_t m;
	f2_mutex8_t m8;
	int stop;
	long counter;
	long acquired;            /* summed by the threads at the end */
};

static int mx_lock(struct mx_run *r, int how)
{
	struct timespec d;
	switch (how) {
	case 0:
		return r->wide ? f2_mutex_lock(&r->m) : f2_mutex8_lock(&r->m8);
	case 1:
		return r->wide ? f2_mutex_trylock(&r->m) : f2_mutex8_trylock(&r->m8);
	case 2: /* a deadline that may well expire */
		d = deadline_in(CLOCK_MONOTONIC, 20000);
		return r->wide ? f2_mutex_timedlock(&r->m, &d, CLOCK_MONOTONIC)
		               : f2_mutex8_timedlock(&r->m8, &d, CLOCK_MONOTONIC);
	default: /* one that will not */
		d = deadline_in(CLOCK_REALTIME, 60000000000LL);
		return r->wide ? f2_mutex_timedlock(&r->m, &d, CLOCK_REALTIME)
		               : f2_mutex8_timedlock(&r->m8, &d, CLOCK_REALTIME);
	}
}

static void *mx_worker(void *arg)
{
	struct mx_run *r = arg;
	long mine = 0;
	for (unsigned i = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
		int how = (int)(i % 4), rc = mx_lock(r, how);
		if (rc) {
			ck_assert_int_eq(rc, how == 1 ? EBUSY : ETIMEDOUT);
			ck_assert(how == 1 || how == 2);
			continue;
		}
		r->counter++;
		mine++;
		ck_assert_int_eq(r->wide ? f2_mutex_unlock(&r->m) : f2_mutex8_unlock(&r->m8), 0);
	}
	__atomic_add_fetch(&r->acquired, mine, __ATOMIC_SEQ_CST);
	return NULL;
}

static void mx_stress(int wide, int n)
{
	static struct mx_run r;
	pthread_t t[64];
	r = (struct mx_run){ wide, F2_MUTEX_INITIALIZER, F2_MUTEX8_INITIALIZER, 0, 0, 0 };
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, mx_worker, &r), 0);
	wait_progress(wide ? &r.m : NULL, wide ? NULL : &r.m8, &r.counter);
	struct timespec run = { run_ns() / 1000000000L, run_ns() % 1000000000L };
	nanosleep(&run, NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_gt(r.acquired, 0);
	ck_assert_int_eq(r.counter, r.acquired);
	ck_assert_int_eq(wide ? f2_mutex_trylock(&r.m) : f2_mutex8_trylock(&r.m8), 0);
}

START_TEST(mutex32)
{
	mx_stress(1, THREADS[_i]);
}
END_TEST

START_TEST(mutex8)
{
	mx_stress(0, THREADS[_i]);
}
END_TEST

/* ---- condvars: a bounded queue ------------------------------------------- */
#define QCAP 4

struct queue {
	int wide;                 /* 1: f2_cond64_t, 0: f2_cond_t */
	f2_mutex_t m;
	f2_cond_t notfull, notempty;
	f2_cond64_t notfull64, notempty64;
	long items[QCAP];
	int head, len;
	int stop, producers_left;
	long produced, consumed, sum_in, sum_out;
};

static int q_wait(struct queue *q, int empty_side, unsigned i)
{
	if (i % 5 == 4) { /* sometimes a timed wait that expires */
		struct timespec d = deadline_in(CLOCK_MONOTONIC, 50000);
		int rc = q->wide ? f2_cond64_timedwait(empty_side ? &q->notempty64 : &q->notfull64, &q->m, &d, CLOCK_MONOTONIC)
		                 : f2_cond_timedwait(empty_side ? &q->notempty : &q->notfull, &q->m, &d, CLOCK_MONOTONIC);
		ck_assert(rc == 0 || rc == ETIMEDOUT);
		return rc;
	}
	return q->wide ? f2_cond64_wait(empty_side ? &q->notempty64 : &q->notfull64, &q->m)
	               : f2_cond_wait(empty_side ? &q->notempty : &q->notfull, &q->m);
}

static void q_wake(struct queue *q, int empty_side, int all)
{
	if (q->wide)
		ck_assert_int_eq(all ? f2_cond64_broadcast(empty_side ? &q->notempty64 : &q->notfull64)
		                     : f2_cond64_signal(empty_side ? &q->notempty64 : &q->notfull64), 0);
	else
		ck_assert_int_eq(all ? f2_cond_broadcast(empty_side ? &q->notempty : &q->notfull)
		                     : f2_cond_signal(empty_side ? &q->notempty : &q->notfull), 0);
}

static void *producer(void *arg)
{
	struct queue *q = arg;
	for (unsigned i = 1;; i++) {
		ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
		while (q->len == QCAP && !q->stop)
			q_wait(q, 0, i);
		if (q->stop) {
			if (--q->producers_left == 0)
				q_wake(q, 1, 1); /* the consumers may finish */
			ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
			return NULL;
		}
		q->items[(q->head + q->len++) % QCAP] = i;
		q->produced++;
		q->sum_in += i;
		q_wake(q, 1, i % 7 == 0);
		ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
	}
}

static void *consumer(void *arg)
{
	struct queue *q = arg;
	for (unsigned i = 1;; i++) {
		ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
		while (q->len == 0 && q->producers_left > 0)
			q_wait(q, 1, i);
		if (q->len == 0) {
			ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
			return NULL;
		}
		q->sum_out += q->items[q->head];
		q->head = (q->head + 1) % QCAP;
		q->len--;
		q->consumed++;
		q_wake(q, 0, i % 7 == 0);
		ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
	}
}

static void cv_stress(int wide, int n)
{
	static struct queue q;
	pthread_t t[64];
	int producers = n / 2;
	memset(&q, 0, sizeof(q));
	q.wide = wide;
	q.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	q.notfull = q.notempty = (f2_cond_t)F2_COND_INITIALIZER;
	q.notfull64 = q.notempty64 = (f2_cond64_t)F2_COND64_INITIALIZER;
	q.producers_left = producers;
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, i < producers ? producer : consumer, &q), 0);
	wait_progress(&q.m, NULL, &q.consumed);
	struct timespec run = { run_ns() / 1000000000L, run_ns() % 1000000000L };
	nanosleep(&run, NULL);
	ck_assert_int_eq(f2_mutex_lock(&q.m), 0);
	q.stop = 1;
	q_wake(&q, 0, 1); /* producers blocked on a full queue */
	ck_assert_int_eq(f2_mutex_unlock(&q.m), 0);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_gt(q.produced, 0);
	ck_assert_int_eq(q.consumed, q.produced);
	ck_assert_int_eq(q.sum_out, q.sum_in);
	ck_assert_int_eq(q.len, 0);
}

START_TEST(cond32)
{
	cv_stress(0, THREADS[_i]);
}
END_TEST

START_TEST(cond64)
{
	cv_stress(1, THREADS[_i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress_sync");
	TCase *tc = tcase_create("stress");
	tcase_add_loop_test(tc, mutex32, 0, 3);
	tcase_add_loop_test(tc, mutex8, 0, 3);
	tcase_add_loop_test(tc, cond32, 0, 3);
	tcase_add_loop_test(tc, cond64, 0, 3);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
