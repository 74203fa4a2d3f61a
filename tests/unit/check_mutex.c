/* f2_mutex_t and f2_mutex8_t: every test runs on both widths (loop index 0:
 * the 32-bit mutex, 1: the 2-byte one) through one table of operations. */
#include <check.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "f2sync/mutex.h"
#include "f2sync/runtime.h"
#include "sync/sync_impl.h"
#include "sync/mutex_impl.h"
#include "unit/sync_test.h"
#include "common/testutil.h"

struct mx_ops {
	const char *name;
	size_t size, align;
	unsigned flags; /* futex flags of its word */
	int (*lock)(void *);
	int (*trylock)(void *);
	int (*unlock)(void *);
	int (*timedlock)(void *, const struct timespec *, clockid_t);
};

static int l32(void *m) { return f2_mutex_lock(m); }
static int t32(void *m) { return f2_mutex_trylock(m); }
static int u32(void *m) { return f2_mutex_unlock(m); }
static int tl32(void *m, const struct timespec *a, clockid_t c) { return f2_mutex_timedlock(m, a, c); }
static int l8(void *m) { return f2_mutex8_lock(m); }
static int t8(void *m) { return f2_mutex8_trylock(m); }
static int u8(void *m) { return f2_mutex8_unlock(m); }
static int tl8(void *m, const struct timespec *a, clockid_t c) { return f2_mutex8_timedlock(m, a, c); }

static const struct mx_ops OPS[2] = {
	{ "f2_mutex_t", sizeof(f2_mutex_t), _Alignof(f2_mutex_t), F2_SIZE_U32 | F2_PRIVATE, l32, t32, u32, tl32 },
	{ "f2_mutex8_t", sizeof(f2_mutex8_t), _Alignof(f2_mutex8_t), F2_SIZE_U8 | F2_PRIVATE, l8, t8, u8, tl8 },
};

/* A mutex of the given kind, set to its initializer (node -1). */
static void *mx_new(const struct mx_ops *o)
{
	void *m = aligned_alloc(16, 16);
	ck_assert_ptr_nonnull(m);
	memset(m, 0, 16);
	if (o->size == 8)
		*(f2_mutex_t *)m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	else
		*(f2_mutex8_t *)m = (f2_mutex8_t)F2_MUTEX8_INITIALIZER;
	return m;
}

START_TEST(sizes)
{
	ck_assert_uint_eq(sizeof(f2_mutex_t), 8);
	ck_assert_uint_eq(sizeof(f2_mutex8_t), 2);
	ck_assert_uint_eq(_Alignof(f2_mutex_t), 8);
	ck_assert_uint_eq(_Alignof(f2_mutex8_t), 2);
}
END_TEST

START_TEST(basic_semantics)
{
	const struct mx_ops *o = &OPS[_i];
	void *m = mx_new(o);
	ck_assert_int_eq(o->unlock(m), EPERM);        /* never locked */
	ck_assert_int_eq(o->lock(m), 0);
	ck_assert_int_eq(o->trylock(m), EBUSY);
	ck_assert_int_eq(o->unlock(m), 0);
	ck_assert_int_eq(o->unlock(m), EPERM);        /* unlocked twice */
	ck_assert_int_eq(o->trylock(m), 0);
	ck_assert_int_eq(o->trylock(m), EBUSY);
	ck_assert_int_eq(o->unlock(m), 0);
	struct timespec past = { 0, 0 };
	ck_assert_int_eq(o->timedlock(m, &past, CLOCK_MONOTONIC), 0); /* free: no timeout */
	ck_assert_int_eq(o->unlock(m), 0);
	free(m);
}
END_TEST

START_TEST(zero_memory_is_unlocked)
{
	const struct mx_ops *o = &OPS[_i];
	void *m = aligned_alloc(16, 16);
	memset(m, 0, 16);
	ck_assert_int_eq(o->trylock(m), 0);
	ck_assert_int_eq(o->unlock(m), 0);
	free(m);
}
END_TEST

START_TEST(bad_arguments)
{
	const struct mx_ops *o = &OPS[_i];
	void *m = mx_new(o);
	char *odd = (char *)m + 1;
	struct timespec ok = deadline_in(CLOCK_MONOTONIC, 1000000);
	struct timespec bad[] = { { 0, -1 }, { 0, 1000000000L }, { -1, 0 } };

	ck_assert_int_eq(o->lock(NULL), EINVAL);
	ck_assert_int_eq(o->trylock(NULL), EINVAL);
	ck_assert_int_eq(o->unlock(NULL), EINVAL);
	ck_assert_int_eq(o->timedlock(NULL, &ok, CLOCK_MONOTONIC), EINVAL);
	ck_assert_int_eq(o->lock(odd), EINVAL);
	ck_assert_int_eq(o->trylock(odd), EINVAL);
	ck_assert_int_eq(o->unlock(odd), EINVAL);
	ck_assert_int_eq(o->timedlock(odd, &ok, CLOCK_MONOTONIC), EINVAL);
	/* Deadline arguments are checked up front, free or held. */
	for (int held = 0; held < 2; held++) {
		ck_assert_int_eq(o->timedlock(m, NULL, CLOCK_MONOTONIC), EINVAL);
		ck_assert_int_eq(o->timedlock(m, &ok, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
		ck_assert_int_eq(o->timedlock(m, &ok, (clockid_t)-1), EINVAL);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_int_eq(o->timedlock(m, &bad[i], CLOCK_REALTIME), EINVAL);
		if (!held)
			ck_assert_int_eq(o->lock(m), 0);
	}
	ck_assert_int_eq(o->unlock(m), 0);
	ck_assert_int_eq(o->trylock(m), 0); /* the failed calls left it unlocked */
	ck_assert_int_eq(o->unlock(m), 0);
	free(m);
}
END_TEST

/* ETIMEDOUT on a held mutex: at once for a past deadline, and never before a
 * future one, on both clocks. */
START_TEST(timedlock_deadlines)
{
	const struct mx_ops *o = &OPS[_i];
	clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	void *m = mx_new(o);

	ck_assert_int_eq(o->lock(m), 0);
	for (int c = 0; c < 2; c++) {
		struct timespec past = deadline_in(clocks[c], -1000000);
		struct timespec zero = { 0, 0 };
		ck_assert_int_eq(o->timedlock(m, &past, clocks[c]), ETIMEDOUT);
		ck_assert_int_eq(o->timedlock(m, &zero, clocks[c]), ETIMEDOUT);
		for (int i = 0; i < 5; i++) {
			struct timespec soon = deadline_in(clocks[c], 2000000 * (i + 1));
			ck_assert_int_eq(o->timedlock(m, &soon, clocks[c]), ETIMEDOUT);
			ck_assert(ts_reached(&soon, clocks[c]));
		}
	}
	ck_assert_int_eq(o->trylock(m), EBUSY); /* still ours */
	ck_assert_int_eq(o->unlock(m), 0);
	free(m);
}
END_TEST

struct holder {
	const struct mx_ops *o;
	void *m;
	pid_t tid;
	int rc;
	int locked;
};

static void *timed_locker(void *arg)
{
	struct holder *h = arg;
	struct timespec far = deadline_in(CLOCK_REALTIME, 60LL * 1000000000LL);
	__atomic_store_n(&h->tid, test_gettid(), __ATOMIC_SEQ_CST);
	h->rc = h->o->timedlock(h->m, &far, CLOCK_REALTIME);
	if (h->rc == 0)
		h->rc = h->o->unlock(h->m);
	return NULL;
}

/* A timed waiter gets the mutex when it is released before its deadline. */
START_TEST(timedlock_acquires_after_release)
{
	const struct mx_ops *o = &OPS[_i];
	struct holder h = { o, mx_new(o), 0, -1, 0 };
	pthread_t t;

	ck_assert_int_eq(o->lock(h.m), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, timed_locker, &h), 0);
	while (!__atomic_load_n(&h.tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_parked(h.tid, o->flags);
	ck_assert_int_eq(o->unlock(h.m), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(h.rc, 0);
	ck_assert_int_eq(o->trylock(h.m), 0);
	ck_assert_int_eq(o->unlock(h.m), 0);
	free(h.m);
}
END_TEST

/* Counting under contention: more threads than cores, no lost update. */
struct counter {
	const struct mx_ops *o;
	void *m;
	long iters;
	long value;
};

static void *count_loop(void *arg)
{
	struct counter *c = arg;
	for (long i = 0; i < c->iters; i++) {
		if (i % 3 == 2) {
			while (c->o->trylock(c->m) == EBUSY)
				sched_yield();
		} else {
			ck_assert_int_eq(c->o->lock(c->m), 0);
		}
		c->value++;
		ck_assert_int_eq(c->o->unlock(c->m), 0);
	}
	return NULL;
}

START_TEST(contention_no_lost_update)
{
	const struct mx_ops *o = &OPS[_i];
	struct counter c = { o, mx_new(o), 20000, 0 };
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, count_loop, &c), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(c.value, 8 * 20000);
	free(c.m);
}
END_TEST

/* Fairness: 64 threads share the mutex until 64 * PER acquisitions are done.
 * Every holder sleeps briefly inside its critical section, so the mutex is
 * always contended and a woken waiter always finds it taken again by the
 * thread that just released it, unless the hand-off gives it the turn. Without
 * the hand-off (F2SYNC_HANDOFF_NS=60000000000) one or a few threads do almost
 * all the acquisitions and most do none; with it every thread gets in and the
 * most served gets at most 50 times what the least served gets (measured
 * 1.5x-10x on a quiet box; a woken waiter needs a CPU to claim its turn, so on
 * a box loaded 10x over the ratio grows, which the bound leaves room for). */
#define FAIR_THREADS 64
#define FAIR_PER 50

struct fair {
	const struct mx_ops *o;
	void *m;
	int arrived;
	long total;
	long count[FAIR_THREADS];
};

struct fair_arg {
	struct fair *f;
	int idx;
};

static void *fair_loop(void *arg)
{
	struct fair_arg *a = arg;
	struct fair *f = a->f;
	int first = 1;
	for (;;) {
		ck_assert_int_eq(f->o->lock(f->m), 0);
		if (f->total == FAIR_THREADS * FAIR_PER) {
			f->o->unlock(f->m);
			return NULL;
		}
		/* Count only once every thread has held the mutex: before that, a
		 * thread the (overloaded) scheduler has not run yet is starved by
		 * the CPU, not by the mutex. A mutex that starves a thread never
		 * lets the count start, and the test times out. */
		if (first) {
			first = 0;
			f->arrived++;
		} else if (f->arrived == FAIR_THREADS) {
			f->total++;
			f->count[a->idx]++;
		}
		struct timespec pause = { 0, 10000 };
		nanosleep(&pause, NULL); /* the others run, find it held and park */
		ck_assert_int_eq(f->o->unlock(f->m), 0);
	}
}

START_TEST(fairness_64_threads)
{
	const struct mx_ops *o = &OPS[_i];
	static struct fair f;
	struct fair_arg args[FAIR_THREADS];
	pthread_t t[FAIR_THREADS];
	uint64_t h0 = stat_read(&f2_mx_handoffs);
	long mn = -1, mx = 0;

	memset(&f, 0, sizeof(f));
	f.o = o;
	f.m = mx_new(o);
	for (int i = 0; i < FAIR_THREADS; i++) {
		args[i] = (struct fair_arg){ &f, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, fair_loop, &args[i]), 0);
	}
	for (int i = 0; i < FAIR_THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < FAIR_THREADS; i++) {
		mn = (mn < 0 || f.count[i] < mn) ? f.count[i] : mn;
		mx = f.count[i] > mx ? f.count[i] : mx;
	}
	fprintf(stderr, "%s fairness: min %ld max %ld, %llu hand-offs\n", o->name, mn, mx,
	        (unsigned long long)(stat_read(&f2_mx_handoffs) - h0));
	ck_assert_int_eq(f.total, FAIR_THREADS * FAIR_PER);
	ck_assert_int_ge(mn, 1);
	ck_assert_int_le(mx, 50 * mn);
	free(f.m);
}
END_TEST

/* With a zero hand-off delay every waiter that finds the mutex held after a
 * wakeup claims the next turn: the hand-off path itself must be exercised and
 * must neither lose the mutex nor a waiter. */
START_TEST(handoff_path)
{
	const struct mx_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning fifo = { cur->spin, 0, cur->requeue };
	uint64_t h0 = stat_read(&f2_mx_handoffs);
	struct counter c = { o, mx_new(o), 5000, 0 };
	pthread_t t[8];

	ck_assert_int_eq(f2_test_tuning_replace(&fifo), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, count_loop, &c), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(c.value, 8 * 5000);
	ck_assert_uint_gt(stat_read(&f2_mx_handoffs), h0);
	free(c.m);
}
END_TEST

START_TEST(tuning_setter_rejects_bad_values)
{
	struct f2_tuning bad_spin = { 2000000, 1000, 1 }, bad_rq = { 10, 1000, 2 };
	const struct f2_tuning *t = f2_tuning();
	unsigned spin = t->spin;
	ck_assert_int_eq(f2_test_tuning_replace(NULL), EINVAL);
	ck_assert_int_eq(f2_test_tuning_replace(&bad_spin), EINVAL);
	ck_assert_int_eq(f2_test_tuning_replace(&bad_rq), EINVAL);
	ck_assert_uint_eq(f2_tuning()->spin, spin);
}
END_TEST

/* Self-synchronised destruction: the thread that takes the mutex after our
 * unlock frees it at once, while our unlock may still be on its way out. */
static void *lock_unlock_free(void *arg)
{
	struct holder *h = arg;
	__atomic_store_n(&h->tid, test_gettid(), __ATOMIC_SEQ_CST);
	h->rc = h->o->lock(h->m);
	if (h->rc == 0)
		h->rc = h->o->unlock(h->m);
	free(h->m);
	return NULL;
}

START_TEST(free_right_after_unlock)
{
	const struct mx_ops *o = &OPS[_i];
	for (int i = 0; i < 300; i++) {
		struct holder h = { o, mx_new(o), 0, -1, 0 };
		pthread_t t;
		ck_assert_int_eq(o->lock(h.m), 0);
		ck_assert_int_eq(pthread_create(&t, NULL, lock_unlock_free, &h), 0);
		if (i % 2) { /* half the time, make sure it parked */
			while (!__atomic_load_n(&h.tid, __ATOMIC_SEQ_CST))
				sched_yield();
			wait_parked(h.tid, o->flags);
		}
		ck_assert_int_eq(o->unlock(h.m), 0);
		pthread_join(t, NULL);
		ck_assert_int_eq(h.rc, 0);
	}
}
END_TEST

/* Signals delivered to a parked locker change nothing. */
static int handled;
static void on_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
}

START_TEST(signals_to_a_waiter)
{
	const struct mx_ops *o = &OPS[_i];
	struct holder h = { o, mx_new(o), 0, -1, 0 };
	struct sigaction sa;
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: the waits see EINTR */
	ck_assert_int_eq(o->lock(h.m), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, timed_locker, &h), 0);
	while (!__atomic_load_n(&h.tid, __ATOMIC_SEQ_CST))
		sched_yield();
	for (int i = 0; i < 20; i++) {
		wait_parked(h.tid, o->flags);
		int before = __atomic_load_n(&handled, __ATOMIC_SEQ_CST);
		pthread_kill(t, SIGUSR1);
		while (__atomic_load_n(&handled, __ATOMIC_SEQ_CST) == before)
			usleep(100);
	}
	ck_assert_int_eq(h.rc, -1); /* still waiting */
	ck_assert_int_eq(o->unlock(h.m), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(h.rc, 0);
	free(h.m);
}
END_TEST

/* ---- designated waker (WAKER) -------------------------------------------- */

static void mx_set(const struct mx_ops *o, void *m, unsigned v)
{
	if (o->size == sizeof(f2_mutex_t))
		__atomic_store_n((uint32_t *)m, v, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n((uint8_t *)m, (uint8_t)v, __ATOMIC_SEQ_CST);
}

static unsigned mx_word(const struct mx_ops *o, void *m);

/* GEN as this process stamps it on a WAKER (mutex_impl.h): check runs each
 * test in a forked process, whose generation is not 0. */
static unsigned mx_gen(const struct mx_ops *o)
{
	return f2_mx_gen_bits(o->size == sizeof(f2_mutex_t) ? F2_SIZE_U32 : F2_SIZE_U8);
}

/* A WAKER whose wake found nobody: the unlock then wakes nobody, so the
 * waiter that parked next to it (the healer) must clear it after its bounded
 * sleep and take the mutex. Without the healer this hangs. */
START_TEST(stale_waker_is_healed)
{
	const struct mx_ops *o = &OPS[_i];
	struct holder h = { o, mx_new(o), 0, -1, 0 };
	pthread_t t;

	ck_assert_int_eq(o->lock(h.m), 0);
	mx_set(o, h.m, mx_word(o, h.m) | F2_MX_WAKER | mx_gen(o)); /* as after an empty wake */
	ck_assert_int_eq(pthread_create(&t, NULL, timed_locker, &h), 0);
	while (!__atomic_load_n(&h.tid, __ATOMIC_SEQ_CST))
		sched_yield();
	wait_parked(h.tid, o->flags);
	/* PARKED|WAKER, unless its bounded sleep already ran out (a loaded box) */
	ck_assert_uint_eq(mx_word(o, h.m) & F2_MX_PARKED, F2_MX_PARKED);
	ck_assert_int_eq(o->unlock(h.m), 0); /* WAKER set: no wake */
	pthread_join(t, NULL);
	ck_assert_int_eq(h.rc, 0);
	ck_assert_int_eq(o->trylock(h.m), 0);
	ck_assert_int_eq(o->unlock(h.m), 0);
	free(h.m);
}
END_TEST

/* A free word may keep WAKER (and RMW_UNLOCK) after every waiter left: it is
 * a free mutex for lock, trylock and timedlock, and the quiet-unlock decay
 * clears it within 64 unlocks of one thread. */
START_TEST(leftover_waker_is_free)
{
	const struct mx_ops *o = &OPS[_i];
	void *m = mx_new(o);
	struct timespec past = { 0, 0 };
	int n;

	mx_set(o, m, F2_MX_WAKER | mx_gen(o) | F2_MX_RMW_UNLOCK);
	ck_assert_int_eq(o->trylock(m), 0);
	ck_assert_int_eq(o->trylock(m), EBUSY);
	ck_assert_int_eq(o->unlock(m), 0);
	ck_assert_int_eq(o->timedlock(m, &past, CLOCK_MONOTONIC), 0);
	ck_assert_int_eq(o->unlock(m), 0);
	for (n = 0; n < 64 && mx_word(o, m) != F2_MX_UNLOCKED; n++) {
		ck_assert_int_eq(o->lock(m), 0);
		ck_assert_int_eq(o->unlock(m), 0);
	}
	ck_assert_uint_eq(mx_word(o, m), F2_MX_UNLOCKED);
	ck_assert_int_eq(o->unlock(m), EPERM);
	free(m);
}
END_TEST

/* The decay waits for 64 quiet unlocks in a row by a thread that has not
 * waited meanwhile (docs/design/mutex.md, "The quiet-unlock decay"): a wait
 * restarts the count, so a WAKER left on a word right after this thread met
 * contention survives 63 quiet unlocks and goes at the 64th. With the old
 * rule (one quiet unlock in 64 per thread, whatever happened) it went at the
 * 32nd here, since 32 quiet unlocks came before the wait. */
START_TEST(decay_waits_for_a_quiet_run)
{
	const struct mx_ops *o = &OPS[_i];
	void *m = mx_new(o);
	struct timespec past = { 0, 0 };
	int n;

	mx_set(o, m, F2_MX_RMW_UNLOCK); /* a word that has had waiters */
	for (n = 0; n < 32; n++) {
		ck_assert_int_eq(o->lock(m), 0);
		ck_assert_int_eq(o->unlock(m), 0);
	}
	ck_assert_uint_ne(mx_word(o, m), F2_MX_UNLOCKED); /* fewer than 64: kept */
	ck_assert_int_eq(o->lock(m), 0);
	/* contention met: this thread waits (and gives up at once) */
	ck_assert_int_eq(o->timedlock(m, &past, CLOCK_MONOTONIC), ETIMEDOUT);
	ck_assert_int_eq(o->unlock(m), 0); /* PARKED: wakes (nobody), sets WAKER */
	ck_assert_uint_ne(mx_word(o, m) & F2_MX_WAKER, 0);
	for (n = 1; n <= 64; n++) {
		ck_assert_int_eq(o->lock(m), 0);
		ck_assert_int_eq(o->unlock(m), 0);
		if (mx_word(o, m) == F2_MX_UNLOCKED)
			break;
	}
	ck_assert_int_eq(n, 64);
	free(m);
}
END_TEST

/* PARKED is a hint: it outlives the last sleeper, and every waiter that took
 * the mutex after a sleep sets it again. An arrival that finds it set must
 * still spin for a running owner's release rather than park (with two
 * threads the old rule turned every later contention into a sleep and a wake:
 * docs/design/mutex.md, "Spin or park"); it parks early only when the word
 * stays held across a gap ("Park when the word stays held"). Here the word is
 * HELD|PARKED with nobody asleep, the spin bound is huge, and the owner runs
 * on another CPU and releases as soon as the arrival spins: the arrival takes
 * the mutex by spinning, so its own unlock finds no PARKED and wakes nobody.
 * Had it parked, it would have taken the mutex as a carrier (with PARKED) and
 * its unlock would wake. */
struct arrival {
	const struct mx_ops *o;
	void *m;
	int started;
	uint64_t wakes;
};

static void arrival_unlock(void *arg)
{
	struct arrival *a = arg;
	ck_assert_int_eq(a->o->unlock(a->m), 0);
}

static void *arrival_loop(void *arg)
{
	struct arrival *a = arg;
	__atomic_store_n(&a->started, 1, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(a->o->lock(a->m), 0);
	a->wakes = wakes_made(arrival_unlock, a);
	return NULL;
}

START_TEST(stale_parked_does_not_park_an_arrival)
{
	const struct mx_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning old = *cur, spin = { 1000000, cur->handoff_ns, cur->requeue };
	cpu_set_t mask, me, other;
	int cpus[2], n = 0, tries, spun = 0;

	ck_assert_int_eq(sched_getaffinity(0, sizeof mask, &mask), 0);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &mask))
			cpus[n++] = c;
	if (n < 2) {
		/* the owner cannot run while the arrival spins: nothing to test */
		fprintf(stderr, "stale_parked_does_not_park_an_arrival: needs two CPUs, skipped\n");
		return;
	}
	CPU_ZERO(&me);
	CPU_SET(cpus[0], &me);
	CPU_ZERO(&other);
	CPU_SET(cpus[1], &other);
	ck_assert_int_eq(sched_setaffinity(0, sizeof me, &me), 0);
	ck_assert_int_eq(f2_test_tuning_replace(&spin), 0);
	/* The arrival's reads 10 ms apart rather than 2.4 us, so that our unlock
	 * comes between its first and second read on a sanitised or emulated
	 * build too. */
	__atomic_store_n(&f2_mx_spin_gap_ns, 10000000, __ATOMIC_SEQ_CST);
	/* We unlock as soon as the arrival has begun its spin (f2_mx_spins),
	 * polling from our own CPU. Under the old rule every try wakes: the
	 * arrival leaves the spin at PARKED and ends up taking the mutex with
	 * PARKED. Under the new one a try wakes only if our unlock came after the
	 * arrival's second read (we were preempted for 10 ms), or the arrival
	 * read the word only after another thread had taken it, so one quiet try
	 * in fifty is the claim. A quiet try ends the loop; the old rule fails
	 * all fifty. */
	for (tries = 0; tries < 50 && !spun; tries++) {
		struct arrival a = { o, mx_new(o), 0, 0 };
		uint64_t s0 = stat_read(&f2_mx_spins);
		pthread_attr_t attr;
		pthread_t t;

		ck_assert_int_eq(o->lock(a.m), 0);
		mx_set(o, a.m, mx_word(o, a.m) | F2_MX_PARKED); /* nobody asleep */
		ck_assert_int_eq(pthread_attr_init(&attr), 0);
		ck_assert_int_eq(pthread_attr_setaffinity_np(&attr, sizeof other, &other), 0);
		ck_assert_int_eq(pthread_create(&t, &attr, arrival_loop, &a), 0);
		pthread_attr_destroy(&attr);
		while (stat_read(&f2_mx_spins) == s0)
			; /* until it spins (and, under the old rule, leaves at PARKED) */
		ck_assert_int_eq(o->unlock(a.m), 0);
		pthread_join(t, NULL);
		spun = a.wakes == 0;
		free(a.m);
	}
	__atomic_store_n(&f2_mx_spin_gap_ns, F2_MX_SPIN_GAP_NS, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(sched_setaffinity(0, sizeof mask, &mask), 0);
	ck_assert_msg(spun, "the arrival parked at a stale PARKED in %d of %d tries", tries, tries);
	ck_assert_int_eq(f2_test_tuning_replace(&old), 0);
}
END_TEST

/* docs/design/mutex.md, "Read the word rarely": a spinning arrival reads a
 * held word once per F2_MX_SPIN_GAP_NS for F2_TUNE_SPIN x F2_SPIN_UNIT_NS, so
 * against a mutex held throughout it makes at most budget / gap + 1 reads
 * (the k-th read comes at least k gaps after the first, and none after the
 * budget ran out), then parks. The old spin made F2_TUNE_SPIN reads, one
 * pause apart: 100 here. Fewer reads only mean that the arrival was
 * preempted, so only the upper bound is the claim. */
START_TEST(spin_reads_the_word_rarely)
{
	const struct mx_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning old = *cur, spin = { 100, cur->handoff_ns, cur->requeue };
	uint64_t budget = 100ull * F2_SPIN_UNIT_NS;
	uint64_t most = (budget + F2_MX_SPIN_GAP_NS - 1) / F2_MX_SPIN_GAP_NS + 1;
	struct arrival a = { o, mx_new(o), 0, 0 };
	uint64_t r0 = stat_read(&f2_mx_spin_reads), reads;
	pthread_t t;

	ck_assert_int_eq(f2_test_tuning_replace(&spin), 0);
	ck_assert_int_eq(o->lock(a.m), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, arrival_loop, &a), 0);
	while (!(mx_word(o, a.m) & F2_MX_PARKED))
		sched_yield(); /* until its spin has run out and it parks */
	reads = stat_read(&f2_mx_spin_reads) - r0;
	ck_assert_int_eq(o->unlock(a.m), 0);
	pthread_join(t, NULL);
	free(a.m);
	ck_assert_int_eq(f2_test_tuning_replace(&old), 0);
	ck_assert_msg(reads >= 1 && reads <= most, "%llu reads of a held word in one spin (at most %llu)",
	              (unsigned long long)reads, (unsigned long long)most);
}
END_TEST

/* docs/design/mutex.md, "Park when the word stays held": an arrival that
 * reads the word held with PARKED at two reads in a row parks, even with the
 * largest spin budget (a million units: 300 ms). The word is HELD|PARKED
 * throughout (nobody asleep); the arrival must be asleep within 5 s, after at
 * most two reads. Without the rule it reads the word about 125,000 times
 * before it parks, and the test fails. */
struct early {
	const struct mx_ops *o;
	void *m;
	pid_t tid;
};

static void *early_lock(void *arg)
{
	struct early *e = arg;
	__atomic_store_n(&e->tid, test_gettid(), __ATOMIC_SEQ_CST);
	ck_assert_int_eq(e->o->lock(e->m), 0);
	ck_assert_int_eq(e->o->unlock(e->m), 0);
	return NULL;
}

START_TEST(held_word_with_sleepers_parks_early)
{
	const struct mx_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning old = *cur, spin = { 1000000, cur->handoff_ns, cur->requeue };
	struct early e = { o, mx_new(o), 0 };
	uint64_t r0 = stat_read(&f2_mx_spin_reads), reads;
	struct timespec t0, t;
	int asleep = 0;
	pthread_t th;

	ck_assert_int_eq(f2_test_tuning_replace(&spin), 0);
	ck_assert_int_eq(o->lock(e.m), 0);
	mx_set(o, e.m, mx_word(o, e.m) | F2_MX_PARKED); /* nobody asleep */
	ck_assert_int_eq(pthread_create(&th, NULL, early_lock, &e), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		pid_t tid = __atomic_load_n(&e.tid, __ATOMIC_SEQ_CST);
		asleep = tid && thread_sleeping(tid);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!asleep)
			sched_yield();
	} while (!asleep && t.tv_sec - t0.tv_sec < 5);
	reads = stat_read(&f2_mx_spin_reads) - r0;
	ck_assert_int_eq(o->unlock(e.m), 0);
	pthread_join(th, NULL);
	free(e.m);
	ck_assert_int_eq(f2_test_tuning_replace(&old), 0);
	ck_assert_msg(asleep, "the arrival still spun after 5 s against a held word with sleepers");
	ck_assert_msg(reads <= 2, "%llu reads before it parked (at most 2)", (unsigned long long)reads);
}
END_TEST

/* The same for a header-bit lock (docs/design/bitlock.md, "Spin"): against a
 * lock held throughout, its spin makes at most budget / gap + 1 attempts
 * before it sets W and parks; the old spin made F2_TUNE_SPIN, 100 here. The
 * word carries foreign bits, which the spin must leave alone. */
struct bit_arrival {
	uint64_t word;
	int rc;
};

static void *bit_arrival_lock(void *arg)
{
	struct bit_arrival *a = arg;
	a->rc = f2_bitlock_lock(&a->word, F2_SIZE_U64, 5, 40);
	if (!a->rc)
		a->rc = f2_bitlock_unlock(&a->word, F2_SIZE_U64, 5, 40);
	return NULL;
}

START_TEST(bitlock_reads_the_word_rarely)
{
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning old = *cur, spin = { 100, cur->handoff_ns, cur->requeue };
	uint64_t budget = 100ull * F2_SPIN_UNIT_NS, foreign = 0xf00000000000000full & ~(1ull << 5);
	uint64_t most = (budget + F2_MX_SPIN_GAP_NS - 1) / F2_MX_SPIN_GAP_NS + 1;
	struct bit_arrival a = { foreign, -1 };
	uint64_t r0 = stat_read(&f2_bl_spin_reads), reads;
	pthread_t t;

	ck_assert_int_eq(f2_test_tuning_replace(&spin), 0);
	ck_assert_int_eq(f2_bitlock_lock(&a.word, F2_SIZE_U64, 5, 40), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, bit_arrival_lock, &a), 0);
	while (!(__atomic_load_n(&a.word, __ATOMIC_SEQ_CST) & (1ull << 40)))
		sched_yield(); /* until its spin has run out and it parks */
	reads = stat_read(&f2_bl_spin_reads) - r0;
	ck_assert_int_eq(f2_bitlock_unlock(&a.word, F2_SIZE_U64, 5, 40), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(f2_test_tuning_replace(&old), 0);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_uint_eq(a.word, foreign);
	ck_assert_msg(reads >= 1 && reads <= most, "%llu reads of a held word in one spin (at most %llu)",
	              (unsigned long long)reads, (unsigned long long)most);
}
END_TEST

/* ---- fork: a reservation copied from the parent --------------------------- */

struct starver {
	const struct mx_ops *o;
	void *m;
	int rc;
	pid_t tid;
};

static void *starve_lock(void *arg)
{
	struct starver *s = arg;
	__atomic_store_n(&s->tid, test_gettid(), __ATOMIC_SEQ_CST);
	s->rc = s->o->lock(s->m);
	if (s->rc == 0)
		s->rc = s->o->unlock(s->m);
	return NULL;
}

static unsigned mx_word(const struct mx_ops *o, void *m)
{
	if (o->size == sizeof(f2_mutex_t))
		return __atomic_load_n((uint32_t *)m, __ATOMIC_SEQ_CST);
	return __atomic_load_n((uint8_t *)m, __ATOMIC_SEQ_CST);
}

/* Starts a thread that locks s->m (held by the caller) and returns once it
 * has reserved the next turn (STARVE; the hand-off delay is 0) and sleeps.
 * Asleep, it holds no allocator lock (its first park allocates its parker on
 * the emulation), so a fork now leaves the child's malloc usable. 0 or -1. */
/* pthread_create; own_stack in a fork child: the thread gets a stack of its
 * own, as glibc would reuse a dead parent thread's, whose id TSan's copied
 * registry counts live. 0 or -1. */
static int spawn(pthread_t *t, void *(*fn)(void *), void *arg, int own_stack)
{
	pthread_attr_t a;
	size_t sz = 1 << 20;
	void *stack = own_stack ? mmap(NULL, sz, PROT_READ | PROT_WRITE,
	                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;

	if (stack == MAP_FAILED || pthread_attr_init(&a) != 0)
		return -1;
	if (stack && pthread_attr_setstack(&a, stack, sz) != 0)
		return -1;
	int e = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return e ? -1 : 0;
}

static int starve_on(struct starver *s, pthread_t *t, int own_stack)
{
	if (spawn(t, starve_lock, s, own_stack) != 0)
		return -1;
	while (!(mx_word(s->o, s->m) & F2_MX_STARVE) || !__atomic_load_n(&s->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	wait_parked(s->tid, s->o->flags);
	return 0;
}

/* The forked child: m came over reserved for a starver that only exists in
 * the parent. A thread of the child starves on another mutex meanwhile (the
 * old process-wide count of starvers then hid the orphaned bit, and every
 * locker of m hung). Returns the exit status: 0 when m could be taken. */
static int fork_child(const struct mx_ops *o, void *m)
{
	struct starver cs = { o, mx_new(o), -1, 0 };
	struct timespec dl;
	pthread_t ct;

	alarm(30); /* a hang kills the child, which fails the test */
	if (o->lock(cs.m) != 0 || starve_on(&cs, &ct, 1) != 0)
		return 2;
	if (o->unlock(m) != 0) /* the forking thread held m: now free but reserved */
		return 3;
	dl = deadline_in(CLOCK_MONOTONIC, 2LL * 1000000000LL);
	if (o->timedlock(m, &dl, CLOCK_MONOTONIC) != 0)
		return 4;
	if (o->unlock(m) != 0 || o->lock(m) != 0 || o->unlock(m) != 0)
		return 5;
	if (o->unlock(cs.m) != 0 || pthread_join(ct, NULL) != 0 || cs.rc != 0)
		return 6;
	return 0;
}

static int fork_child_main(void *arg)
{
	struct starver *ps = arg;
	return fork_child(ps->o, ps->m);
}

START_TEST(fork_orphaned_reservation)
{
	const struct mx_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning saved = *cur, zero = { cur->spin, 0, cur->requeue };
	struct starver ps = { o, mx_new(o), -1, 0 };
	pthread_t pt;
	int st;

	ck_assert_int_eq(f2_test_tuning_replace(&zero), 0);
	ck_assert_int_eq(o->lock(ps.m), 0);
	ck_assert_int_eq(starve_on(&ps, &pt, 0), 0); /* HELD|PARKED|STARVE */
	pid_t pid = tu_fork(fork_child_main, &ps);
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(o->unlock(ps.m), 0); /* the parent's starver takes its turn */
	ck_assert_int_eq(pthread_join(pt, NULL), 0);
	ck_assert_int_eq(ps.rc, 0);
	ck_assert_int_eq(f2_test_tuning_replace(&saved), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s: child status %#x (exit 4: the orphaned turn blocked the lock)", o->name, st);
	free(ps.m);
}
END_TEST

/* ---- fork: a designated waker copied from the parent ---------------------- */

#define FORK_THREADS 4
#define FORK_ITERS 2000

struct fork_count {
	const struct mx_ops *o;
	void *m;
	long value;
	int rc;
};

static void *fork_count_loop(void *arg)
{
	struct fork_count *c = arg;

	for (int i = 0; i < FORK_ITERS; i++) {
		if (c->o->lock(c->m) != 0) {
			__atomic_store_n(&c->rc, 1, __ATOMIC_SEQ_CST);
			return NULL;
		}
		c->value++;
		if (c->o->unlock(c->m) != 0)
			__atomic_store_n(&c->rc, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* In a fork child that holds m (as a pthread_atfork prepare handler leaves
 * it): threads of the child lock and unlock m together. A WAKER copied from
 * the parent, which no thread here would clear, makes the first of them that
 * parks sleep for good; the alarm then kills the child and fails the test.
 * Returns the exit status: 0 when every lock got through. */
static int fork_counters(const struct mx_ops *o, void *m)
{
	struct fork_count c = { o, m, 0, 0 };
	pthread_t t[FORK_THREADS];

	alarm(30); /* a hang kills the child, which fails the test */
	for (int i = 0; i < FORK_THREADS; i++)
		if (spawn(&t[i], fork_count_loop, &c, 1) != 0)
			return 7;
	if (o->unlock(m) != 0)
		return 8;
	for (int i = 0; i < FORK_THREADS; i++)
		if (pthread_join(t[i], NULL) != 0)
			return 9;
	return c.rc ? 10 : c.value == FORK_THREADS * FORK_ITERS ? 0 : 11;
}

/* The child of fork_orphaned_waker: first one waiter parks on m, held by the
 * forking thread, next to the copied PARKED|WAKER (the old protocol gave it
 * no wake: unlock with WAKER set wakes nobody), then many lock together. */
static int fork_waker_child(void *arg)
{
	struct starver *s = arg;
	const struct mx_ops *o = s->o;
	pthread_t t;

	alarm(30); /* a hang kills the child, which fails the test */
	s->tid = 0;
	s->rc = -1;
	if (spawn(&t, starve_lock, s, 1) != 0)
		return 2;
	while (!__atomic_load_n(&s->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	wait_parked(s->tid, o->flags);
	if (o->unlock(s->m) != 0)
		return 3;
	if (pthread_join(t, NULL) != 0 || s->rc != 0)
		return 4;
	if (o->lock(s->m) != 0)
		return 5;
	return fork_counters(o, s->m);
}

/* fork() while the word is HELD|PARKED|WAKER, as it is while a woken waiter
 * is on its way or a healer sleeps in the parent: neither exists in the
 * child. The word is set directly (nobody parked: PARKED is a hint). */
START_TEST(fork_orphaned_waker)
{
	const struct mx_ops *o = &OPS[_i];
	struct starver s = { o, mx_new(o), -1, 0 };
	int st;

	ck_assert_int_eq(o->lock(s.m), 0);
	mx_set(o, s.m, mx_word(o, s.m) | F2_MX_PARKED | F2_MX_WAKER | mx_gen(o));
	pid_t pid = tu_fork(fork_waker_child, &s);
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(o->unlock(s.m), 0);
	ck_assert_int_eq(o->lock(s.m), 0); /* the parent's copy still works */
	ck_assert_int_eq(o->unlock(s.m), 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s: child status %#x (signal 14: a child thread slept for good)", o->name, st);
	free(s.m);
}
END_TEST

/* The same with real WAKERs: threads of the parent keep m contended (woken
 * waiters in flight, healers asleep) while the main thread takes it and
 * forks, again and again; each child must get its threads through m. */
struct fork_churn {
	const struct mx_ops *o;
	void *m;
	int started;
	int stop;
	int bad;
};

static void *fork_churn_loop(void *arg)
{
	struct fork_churn *c = arg;

	__atomic_add_fetch(&c->started, 1, __ATOMIC_SEQ_CST);
	/* no ck_assert here: check allocates on every assertion, and a fork
	 * while another thread is in malloc leaves the child's allocator locked */
	while (!__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST)) {
		int bad = c->o->lock(c->m) != 0;
		for (volatile int i = 0; i < 50; i++)
			;
		bad |= c->o->unlock(c->m) != 0;
		if (bad)
			__atomic_store_n(&c->bad, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int fork_churn_child(void *arg)
{
	struct fork_churn *c = arg;
	return fork_counters(c->o, c->m);
}

START_TEST(fork_while_contended)
{
	const struct mx_ops *o = &OPS[_i];
	struct fork_churn c = { o, mx_new(o), 0, 0, 0 };
	pthread_t t[4];
	int rounds = tu_emulated() ? 3 : 20, st;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fork_churn_loop, &c), 0);
	/* Fork only once they run the loop: a sanitizer runtime allocates in
	 * thread start-up under a lock that a fork would leave held in the child. */
	while (__atomic_load_n(&c.started, __ATOMIC_SEQ_CST) < 4)
		sched_yield();
	for (int r = 0; r < rounds; r++) {
		usleep(2000);
		ck_assert_int_eq(o->lock(c.m), 0);
		pid_t pid = tu_fork(fork_churn_child, &c);
		ck_assert_int_eq(o->unlock(c.m), 0);
		ck_assert_int_ne(pid, -1);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "%s: round %d: child status %#x (signal 14: a child thread slept for good)",
			      o->name, r, st);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(c.bad, 0);
	free(c.m);
}
END_TEST

static Suite *mutex_suite(void)
{
	Suite *s = suite_create("mutex");
	TCase *tc = tcase_create("semantics");
	tcase_add_test(tc, sizes);
	tcase_add_loop_test(tc, basic_semantics, 0, 2);
	tcase_add_loop_test(tc, zero_memory_is_unlocked, 0, 2);
	tcase_add_loop_test(tc, bad_arguments, 0, 2);
	tcase_add_loop_test(tc, timedlock_deadlines, 0, 2);
	tcase_add_loop_test(tc, timedlock_acquires_after_release, 0, 2);
	tcase_add_test(tc, tuning_setter_rejects_bad_values);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_add_loop_test(tc, contention_no_lost_update, 0, 2);
	tcase_add_loop_test(tc, fairness_64_threads, 0, 2);
	tcase_add_loop_test(tc, handoff_path, 0, 2);
	tcase_add_loop_test(tc, free_right_after_unlock, 0, 2);
	tcase_add_loop_test(tc, signals_to_a_waiter, 0, 2);
	tcase_add_loop_test(tc, stale_waker_is_healed, 0, 2);
	tcase_add_loop_test(tc, leftover_waker_is_free, 0, 2);
	tcase_add_loop_test(tc, stale_parked_does_not_park_an_arrival, 0, 2);
	tcase_add_loop_test(tc, spin_reads_the_word_rarely, 0, 2);
	tcase_add_loop_test(tc, held_word_with_sleepers_parks_early, 0, 2);
	tcase_add_test(tc, bitlock_reads_the_word_rarely);
	tcase_add_loop_test(tc, decay_waits_for_a_quiet_run, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("fork");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, fork_orphaned_reservation, 0, 2);
	tcase_add_loop_test(tc, fork_orphaned_waker, 0, 2);
	tcase_add_loop_test(tc, fork_while_contended, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(mutex_suite());
}
