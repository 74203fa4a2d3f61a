/* Store unlock (src/sync/store_unlock.h): the uncontended f2_mutex_t release
 * by a plain store inside an rseq critical section, and the CONTENDED bit that
 * turns it off while a mutex has waiters. The race it must win is the one
 * between an owner that has read "exactly HELD" and a waiter that marks the
 * word PARKED and goes to sleep: a lost wakeup there hangs race_with_marking.
 * The suite also runs with F2SYNC_RSEQ=0 (the RMW unlock everywhere). */
#include <check.h>
#include <stdatomic.h>

#include "f2sync/mutex.h"
#include "f2sync/runtime.h"
#include "sync/mutex_impl.h"
#include "unit/sync_test.h"
#include "common/testutil.h"

/* The sanitizer builds run the race a tenth as often (they are 5-20x slower). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RACE_ROUNDS 2000
#else
#define RACE_ROUNDS 20000
#endif

static int rseq_off(void)
{
	const char *e = getenv("F2SYNC_RSEQ");
	return e && strcmp(e, "0") == 0;
}

START_TEST(enabled_as_configured)
{
	/* This suite runs on x86-64 Linux 6.x with glibc 2.36 (rseq registered)
	 * unless a sanitizer that cannot see the asm store is on. */
	ck_assert_int_eq(f2_su_ready, F2_HAVE_STORE_UNLOCK && !rseq_off());
}
END_TEST

struct race {
	_Atomic(f2_mutex_t *) m;   /* the round's mutex, held by the main thread */
	atomic_int taken;          /* rounds the locker has completed */
	pid_t tid;
};

static void *locker(void *arg)
{
	struct race *r = arg;
	int done = 0;
	f2_mutex_t *m;

	__atomic_store_n(&r->tid, test_gettid(), __ATOMIC_SEQ_CST);
	for (;;) {
		while (!(m = atomic_load(&r->m)))
			sched_yield();
		if (m == (f2_mutex_t *)1)
			return NULL;
		atomic_store(&r->m, NULL);
		ck_assert_int_eq(f2_mutex_lock(m), 0);
		ck_assert_int_eq(f2_mutex_unlock(m), 0);
		atomic_store(&r->taken, ++done);
	}
}

/* Every round a fresh mutex (never marked yet, so its owner may store-unlock)
 * is held while a locker marks it and parks; the owner unlocks after a delay
 * that walks across the locker's spin-mark-park window. */
START_TEST(race_with_marking)
{
	struct race r = { NULL, 0, 0 };
	pthread_t t;
	const int rounds = RACE_ROUNDS;

	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 2), 0); /* mark almost at once */
	ck_assert_int_eq(pthread_create(&t, NULL, locker, &r), 0);
	for (int i = 0; i < rounds; i++) {
		f2_mutex_t *m = aligned_alloc(8, sizeof *m);
		*m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
		ck_assert_int_eq(f2_mutex_lock(m), 0);
		atomic_store(&r.m, m);
		for (volatile int d = 0; d < (i * 37) % 3000; d++)
			;
		ck_assert_int_eq(f2_mutex_unlock(m), 0);
		while (atomic_load(&r.taken) != i + 1)
			sched_yield();
		/* the locker has unlocked: nothing touches m any more */
		free(m);
	}
	atomic_store(&r.m, (f2_mutex_t *)1);
	pthread_join(t, NULL);
}
END_TEST

/* A mutex that had a waiter keeps CONTENDED (its unlock is the RMW one) until
 * a run of quiet unlocks drops it; without store unlock the bit never shows. */
START_TEST(contended_bit_lifecycle)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	struct race r = { NULL, 0, 0 };
	pthread_t t;
	int n;

	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	ck_assert_uint_eq(m.word, F2_MX_UNLOCKED);

	ck_assert_int_eq(pthread_create(&t, NULL, locker, &r), 0);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	atomic_store(&r.m, &m);
	while (!__atomic_load_n(&r.tid, __ATOMIC_SEQ_CST) || atomic_load(&r.m))
		sched_yield();
	wait_parked(r.tid, F2_SIZE_U32 | F2_PRIVATE);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	while (atomic_load(&r.taken) != 1)
		sched_yield();
	atomic_store(&r.m, (f2_mutex_t *)1);
	pthread_join(t, NULL);
	ck_assert_uint_eq(m.word, f2_su_ready ? F2_MX_CONTENDED : F2_MX_UNLOCKED);

	for (n = 0; n < 64 && m.word != F2_MX_UNLOCKED; n++) {
		ck_assert_int_eq(f2_mutex_lock(&m), 0);
		ck_assert_uint_eq(m.word & F2_MX_HELD, F2_MX_HELD);
		ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	}
	ck_assert_uint_eq(m.word, F2_MX_UNLOCKED);
	ck_assert_int_eq(f2_mutex_trylock(&m), 0);
	ck_assert_int_eq(f2_mutex_trylock(&m), EBUSY);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	ck_assert_int_eq(f2_mutex_unlock(&m), EPERM);
}
END_TEST

/* Many threads over a few mutexes, with the spin budget at zero so that
 * marking happens all the time; quiet unlocks drop CONTENDED now and then, so
 * the store-unlock state and the fence keep coming back: the counts must add
 * up and every mutex must end free. */
struct herd {
	f2_mutex_t m[4];
	long count[4];
	atomic_int stop;
};

static void *herd_loop(void *arg)
{
	struct herd *h = arg;
	unsigned x = (unsigned)test_gettid();
	long mine = 0;

	while (!atomic_load_explicit(&h->stop, memory_order_relaxed)) {
		int k = (int)((x = x * 1103515245u + 12345u) >> 16) & 3;
		ck_assert_int_eq(f2_mutex_lock(&h->m[k]), 0);
		h->count[k]++;
		ck_assert_int_eq(f2_mutex_unlock(&h->m[k]), 0);
		mine++;
	}
	return (void *)mine;
}

START_TEST(herd_over_few_mutexes)
{
	struct herd h;
	pthread_t t[16];
	long total = 0;

	memset(&h, 0, sizeof h);
	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 0), 0);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, herd_loop, &h), 0);
	tu_sleep_ms(1500);
	atomic_store(&h.stop, 1);
	for (int i = 0; i < 16; i++) {
		void *v;
		pthread_join(t[i], &v);
		total += (long)v;
	}
	ck_assert_int_eq(h.count[0] + h.count[1] + h.count[2] + h.count[3], total);
	for (int k = 0; k < 4; k++)
		ck_assert_uint_eq(h.m[k].word & ~F2_MX_CONTENDED, F2_MX_UNLOCKED);
}
END_TEST

/* The pthread shim's process-shared mutex: node F2_NODE_SHARED, initialised
 * CONTENDED, must never decay to the store unlock (another process's waiter
 * could not fence this one). */
START_TEST(shared_mutex_stays_contended)
{
	f2_mutex_t m = { F2_MX_CONTENDED, F2_NODE_SHARED };

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(f2_mutex_lock(&m), 0);
		ck_assert_uint_eq(m.word, F2_MX_CONTENDED | F2_MX_HELD);
		ck_assert_int_eq(f2_mutex_unlock(&m), 0);
		ck_assert_uint_eq(m.word, F2_MX_CONTENDED);
	}
	ck_assert_int_eq(f2_mutex_unlock(&m), EPERM);
}
END_TEST

static Suite *store_unlock_suite(void)
{
	Suite *s = suite_create("store_unlock");
	TCase *tc = tcase_create("store_unlock");
	tcase_add_test(tc, enabled_as_configured);
	tcase_add_test(tc, race_with_marking);
	tcase_add_test(tc, contended_bit_lifecycle);
	tcase_add_test(tc, herd_over_few_mutexes);
	tcase_add_test(tc, shared_mutex_stays_contended);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(store_unlock_suite());
}
