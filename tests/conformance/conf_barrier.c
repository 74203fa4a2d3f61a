/* Barriers: EINVAL counts, exactly one PTHREAD_BARRIER_SERIAL_THREAD per round,
 * immediate reuse, destroy after the last wait. */
#include <limits.h>
#include <stdlib.h>

#include "conf.h"
#include "../common/fifo_pair.h"

START_TEST(bad_counts)
{
	pthread_barrier_t b;

	ck_assert_int_eq(pthread_barrier_init(&b, NULL, 0), EINVAL);
	ck_assert_int_eq(pthread_barrier_init(&b, NULL, INT_MAX), EINVAL);
	ck_assert_int_eq(pthread_barrier_init(&b, NULL, UINT_MAX), EINVAL);
	CONF_OK(pthread_barrier_init(&b, NULL, 1));
	ck_assert_int_eq(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
	ck_assert_int_eq(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
	CONF_OK(pthread_barrier_destroy(&b));
}
END_TEST

#define B_THREADS 9
#define B_ROUNDS 300
static pthread_barrier_t g_b;
static int g_serial[B_ROUNDS];
static int g_arrived[B_ROUNDS];

static void *b_worker(void *arg)
{
	(void)arg;
	for (int r = 0; r < B_ROUNDS; r++) {
		__atomic_fetch_add(&g_arrived[r], 1, __ATOMIC_RELAXED);
		int v = pthread_barrier_wait(&g_b);
		ck_assert(v == 0 || v == PTHREAD_BARRIER_SERIAL_THREAD);
		/* everyone of this round arrived before anyone left */
		ck_assert_int_eq(__atomic_load_n(&g_arrived[r], __ATOMIC_RELAXED), B_THREADS);
		if (v == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&g_serial[r], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

START_TEST(rounds)
{
	pthread_t t[B_THREADS];

	CONF_OK(pthread_barrier_init(&g_b, NULL, B_THREADS));
	for (int i = 0; i < B_THREADS; i++)
		CONF_OK(pthread_create(&t[i], NULL, b_worker, NULL));
	for (int i = 0; i < B_THREADS; i++)
		CONF_OK(pthread_join(t[i], NULL));
	for (int r = 0; r < B_ROUNDS; r++)
		ck_assert_int_eq(g_serial[r], 1);
	CONF_OK(pthread_barrier_destroy(&g_b));
}
END_TEST

/* The serial thread frees the barrier as soon as its wait returns. */
static void *free_worker(void *arg)
{
	if (pthread_barrier_wait(arg) == PTHREAD_BARRIER_SERIAL_THREAD) {
		CONF_OK(pthread_barrier_destroy(arg));
		free(arg);
	}
	return NULL;
}

START_TEST(destroy_after_wait)
{
	for (int i = 0; i < 200; i++) {
		pthread_barrier_t *b = malloc(sizeof(*b));
		pthread_t t[3];

		ck_assert_ptr_nonnull(b);
		CONF_OK(pthread_barrier_init(b, NULL, 3));
		for (int k = 0; k < 3; k++)
			CONF_OK(pthread_create(&t[k], NULL, free_worker, b));
		for (int k = 0; k < 3; k++)
			CONF_OK(pthread_join(t[k], NULL));
	}
}
END_TEST

static void fifo_step(void *b)
{
	int r = pthread_barrier_wait(b);
	ck_assert(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
}

/* Two SCHED_FIFO threads (priorities 20 and 10) on one CPU: glibc parks and
 * does about 230k rounds/s; a barrier that spins or yields while waiting for
 * the lower-priority thread never completes a round. */
START_TEST(sched_fifo_pair)
{
	static pthread_barrier_t b;

	CONF_OK(pthread_barrier_init(&b, NULL, 2));
	long done = fifo_pair_test("conf_barrier", fifo_step, &b);
	if (done < 0)
		return;
	ck_assert_msg(done == FIFO_PAIR_ROUNDS, "livelock: %ld of %d rounds in %d s", done,
		      FIFO_PAIR_ROUNDS, FIFO_PAIR_LIMIT_S);
	CONF_OK(pthread_barrier_destroy(&b));
}
END_TEST

Suite *conf_barrier_suite(void)
{
	Suite *s = suite_create("barrier");
	TCase *tc = tcase_create("barrier");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bad_counts);
	tcase_add_test(tc, rounds);
	tcase_add_test(tc, destroy_after_wait);
	tcase_add_test(tc, sched_fifo_pair);
	suite_add_tcase(s, tc);
	return s;
}
