/* f2_cond_t and f2_cond64_t: every test runs on both (loop index 0: the
 * 32-bit sequence, 1: the 64-bit one) through one table of operations. */
#include <check.h>
#include <signal.h>

#include "f2sync/cond.h"
#include "sync/mutex_impl.h"
#include "sync/sync_impl.h"
#include "unit/sync_test.h"
#include "common/testutil.h"

struct cv_ops {
	const char *name;
	unsigned flags; /* futex flags of the sequence word */
	int (*wait)(void *, f2_mutex_t *);
	int (*timedwait)(void *, f2_mutex_t *, const struct timespec *, clockid_t);
	int (*signal)(void *);
	int (*broadcast)(void *);
	uint32_t *(*waiters)(void *); /* the count (cond.c) */
};

static int w32(void *c, f2_mutex_t *m) { return f2_cond_wait(c, m); }
static int tw32(void *c, f2_mutex_t *m, const struct timespec *a, clockid_t k) { return f2_cond_timedwait(c, m, a, k); }
static int s32(void *c) { return f2_cond_signal(c); }
static int b32(void *c) { return f2_cond_broadcast(c); }
static int w64(void *c, f2_mutex_t *m) { return f2_cond64_wait(c, m); }
static int tw64(void *c, f2_mutex_t *m, const struct timespec *a, clockid_t k) { return f2_cond64_timedwait(c, m, a, k); }
static int s64(void *c) { return f2_cond64_signal(c); }
static int b64(void *c) { return f2_cond64_broadcast(c); }
static uint32_t *n32(void *c) { return &((f2_cond_t *)c)->waiters; }
static uint32_t *n64(void *c) { return &((f2_cond64_t *)c)->waiters; }

static const struct cv_ops OPS[2] = {
	{ "f2_cond_t", F2_SIZE_U32 | F2_PRIVATE, w32, tw32, s32, b32, n32 },
	{ "f2_cond64_t", F2_SIZE_U64 | F2_PRIVATE, w64, tw64, s64, b64, n64 },
};

static void *cv_new(const struct cv_ops *o)
{
	void *c = aligned_alloc(16, 64);
	ck_assert_ptr_nonnull(c);
	memset(c, 0, 64);
	if (o->flags == (F2_SIZE_U32 | F2_PRIVATE))
		*(f2_cond_t *)c = (f2_cond_t)F2_COND_INITIALIZER;
	else
		*(f2_cond64_t *)c = (f2_cond64_t)F2_COND64_INITIALIZER;
	return c;
}

static int mutex_held(f2_mutex_t *m)
{
	return f2_mutex_trylock(m) == EBUSY;
}

static uint32_t count_of(const struct cv_ops *o, void *c)
{
	return __atomic_load_n(o->waiters(c), __ATOMIC_SEQ_CST);
}

/* n signals and n broadcasts on a condvar (for wakes_made). */
struct idle_calls {
	const struct cv_ops *o;
	void *c;
	int n;
};

static void idle_calls(void *arg)
{
	struct idle_calls *a = arg;
	for (int i = 0; i < a->n; i++) {
		ck_assert_int_eq(a->o->signal(a->c), 0);
		ck_assert_int_eq(a->o->broadcast(a->c), 0);
	}
}

static uint64_t idle_wakes(const struct cv_ops *o, void *c, int n)
{
	struct idle_calls a = { o, c, n };
	return wakes_made(idle_calls, &a);
}

START_TEST(sizes)
{
	ck_assert_uint_eq(sizeof(f2_cond_t), 24);
	ck_assert_uint_eq(sizeof(f2_cond64_t), 32);
	ck_assert_uint_le(sizeof(f2_cond64_t), 48); /* glibc's pthread_cond_t */
}
END_TEST

START_TEST(bad_arguments)
{
	const struct cv_ops *o = &OPS[_i];
	void *c = cv_new(o);
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	f2_mutex_t *odd_m = (f2_mutex_t *)((char *)&m + 4);
	void *odd_c = (char *)c + 4;
	struct timespec ok = deadline_in(CLOCK_MONOTONIC, 1000000);
	struct timespec bad[] = { { 0, -1 }, { 0, 1000000000L }, { -1, 0 } };

	ck_assert_int_eq(o->wait(c, &m), EPERM); /* mutex not held */
	ck_assert_int_eq(o->timedwait(c, &m, &ok, CLOCK_MONOTONIC), EPERM);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(o->wait(NULL, &m), EINVAL);
	ck_assert_int_eq(o->wait(c, NULL), EINVAL);
	ck_assert_int_eq(o->wait(odd_c, &m), EINVAL);
	ck_assert_int_eq(o->wait(c, odd_m), EINVAL);
	ck_assert_int_eq(o->timedwait(c, &m, NULL, CLOCK_MONOTONIC), EINVAL);
	ck_assert_int_eq(o->timedwait(c, &m, &ok, CLOCK_THREAD_CPUTIME_ID), EINVAL);
	ck_assert_int_eq(o->timedwait(NULL, &m, &ok, CLOCK_MONOTONIC), EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(o->timedwait(c, &m, &bad[i], CLOCK_REALTIME), EINVAL);
	ck_assert(mutex_held(&m)); /* no failed call released it */
	ck_assert_int_eq(o->signal(NULL), EINVAL);
	ck_assert_int_eq(o->broadcast(NULL), EINVAL);
	ck_assert_int_eq(o->signal(odd_c), EINVAL);
	ck_assert_int_eq(o->broadcast(odd_c), EINVAL);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	free(c);
}
END_TEST

/* ETIMEDOUT at once for a past deadline, never before a future one, both
 * clocks; the mutex is held again on return. */
START_TEST(timedwait_deadlines)
{
	const struct cv_ops *o = &OPS[_i];
	clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	void *c = cv_new(o);
	f2_mutex_t m = F2_MUTEX_INITIALIZER;

	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	for (int k = 0; k < 2; k++) {
		struct timespec past = deadline_in(clocks[k], -1000000), zero = { 0, 0 };
		ck_assert_int_eq(o->timedwait(c, &m, &past, clocks[k]), ETIMEDOUT);
		ck_assert(mutex_held(&m));
		ck_assert_int_eq(o->timedwait(c, &m, &zero, clocks[k]), ETIMEDOUT);
		for (int i = 0; i < 5; i++) {
			struct timespec soon = deadline_in(clocks[k], 2000000 * (i + 1));
			ck_assert_int_eq(o->timedwait(c, &m, &soon, clocks[k]), ETIMEDOUT);
			ck_assert(ts_reached(&soon, clocks[k]));
			ck_assert(mutex_held(&m));
		}
	}
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	free(c);
}
END_TEST

/* A signal or broadcast with nobody waiting is not remembered. */
START_TEST(signal_before_wait_is_lost)
{
	const struct cv_ops *o = &OPS[_i];
	void *c = cv_new(o);
	f2_mutex_t m = F2_MUTEX_INITIALIZER;

	ck_assert_int_eq(o->signal(c), 0);
	ck_assert_int_eq(o->broadcast(c), 0);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	struct timespec soon = deadline_in(CLOCK_MONOTONIC, 20000000);
	ck_assert_int_eq(o->timedwait(c, &m, &soon, CLOCK_MONOTONIC), ETIMEDOUT);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	free(c);
}
END_TEST

/* A timed-out waiter leaves the condvar marked as having waiters; once its
 * mutex is freed, a broadcast must not touch that mutex (ASan watches). */
START_TEST(broadcast_after_mutex_freed)
{
	const struct cv_ops *o = &OPS[_i];
	void *c = cv_new(o);
	f2_mutex_t *m = malloc(sizeof(*m));

	ck_assert_ptr_nonnull(m);
	*m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	ck_assert_int_eq(f2_mutex_lock(m), 0);
	struct timespec soon = deadline_in(CLOCK_MONOTONIC, 1000000);
	ck_assert_int_eq(o->timedwait(c, m, &soon, CLOCK_MONOTONIC), ETIMEDOUT);
	ck_assert_int_eq(f2_mutex_unlock(m), 0);
	free(m);
	ck_assert_int_eq(o->broadcast(c), 0);
	ck_assert_int_eq(o->signal(c), 0);
	free(c);
}
END_TEST

/* Ping-pong: two threads hand a turn back and forth 20000 times with
 * signal; one lost wakeup would hang the test. */
struct pingpong {
	const struct cv_ops *o;
	void *c;
	f2_mutex_t m;
	int turn;
	int rounds;
};

static void *pong(void *arg)
{
	struct pingpong *p = arg;
	for (int i = 0; i < p->rounds; i++) {
		ck_assert_int_eq(f2_mutex_lock(&p->m), 0);
		while (p->turn != 1)
			ck_assert_int_eq(p->o->wait(p->c, &p->m), 0);
		p->turn = 0;
		ck_assert_int_eq(p->o->signal(p->c), 0);
		ck_assert_int_eq(f2_mutex_unlock(&p->m), 0);
	}
	return NULL;
}

START_TEST(pingpong_no_lost_wakeup)
{
	static struct pingpong p;
	pthread_t t;
	p = (struct pingpong){ &OPS[_i], cv_new(&OPS[_i]), F2_MUTEX_INITIALIZER, 0, 20000 };
	ck_assert_int_eq(pthread_create(&t, NULL, pong, &p), 0);
	for (int i = 0; i < p.rounds; i++) {
		ck_assert_int_eq(f2_mutex_lock(&p.m), 0);
		while (p.turn != 0)
			ck_assert_int_eq(p.o->wait(p.c, &p.m), 0);
		p.turn = 1;
		ck_assert_int_eq(p.o->signal(p.c), 0);
		ck_assert_int_eq(f2_mutex_unlock(&p.m), 0);
	}
	pthread_join(t, NULL);
	/* one waiter at a time, each ended by a signal: the count is exact */
	ck_assert_uint_eq(count_of(p.o, p.c), 0);
	ck_assert_uint_eq(idle_wakes(p.o, p.c, 1000), 0);
	free(p.c);
}
END_TEST

/* Waiters that block on a flag, each recording its thread id so the test can
 * tell when it is asleep in the condvar wait. */
#define MAXW 16

struct crowd {
	const struct cv_ops *o;
	void *c;
	f2_mutex_t m;
	int go;
	int ready;
	int returns;        /* returns from the wait call */
	int ret[MAXW];      /* the same, per waiter */
	int woke;           /* waiters that saw go */
	pid_t tid[MAXW];
};

struct crowd_arg {
	struct crowd *w;
	int idx;
};

static void *crowd_waiter(void *arg)
{
	struct crowd_arg *a = arg;
	struct crowd *w = a->w;
	ck_assert_int_eq(f2_mutex_lock(&w->m), 0);
	w->tid[a->idx] = test_gettid();
	w->ready++;
	while (!w->go) {
		ck_assert_int_eq(w->o->wait(w->c, &w->m), 0);
		w->returns++;
		w->ret[a->idx]++;
	}
	w->woke++;
	ck_assert_int_eq(f2_mutex_unlock(&w->m), 0);
	return NULL;
}

/* Starts n waiters and returns once every one of them sleeps in the wait. */
static void crowd_start(struct crowd *w, struct crowd_arg *args, pthread_t *t, int n)
{
	for (int i = 0; i < n; i++) {
		args[i] = (struct crowd_arg){ w, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, crowd_waiter, &args[i]), 0);
	}
	for (;;) {
		ck_assert_int_eq(f2_mutex_lock(&w->m), 0);
		int ready = w->ready;
		ck_assert_int_eq(f2_mutex_unlock(&w->m), 0);
		if (ready == n)
			break;
		usleep(200);
	}
	for (int i = 0; i < n; i++)
		wait_parked(w->tid[i], w->o->flags);
}

/* The condvar's and the mutex's words are NUMA pairs (placement is on in
 * this suite): a requeue moves waiters when both pairs meet one backend. */
static int requeue_possible(const struct cv_ops *o)
{
	const char *a = f2_futex_backend(o->flags | F2_NUMA);
	const char *b = f2_futex_backend(F2_SIZE_U32 | F2_PRIVATE | F2_NUMA);
	return a && b && !strcmp(a, b);
}

static void broadcast_wakes_all(int idx, int requeue)
{
	const struct cv_ops *o = &OPS[idx];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning want = { cur->spin, cur->handoff_ns, requeue };
	static struct crowd w;
	struct crowd_arg args[MAXW];
	pthread_t t[MAXW];

	ck_assert_int_eq(f2_test_tuning_replace(&want), 0);
	memset(&w, 0, sizeof(w));
	w.o = o;
	w.c = cv_new(o);
	w.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	crowd_start(&w, args, t, MAXW);
	uint64_t r0 = stat_read(&f2_cv_requeued);
	ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
	w.go = 1;
	ck_assert_int_eq(o->broadcast(w.c), 0);
	uint64_t moved = stat_read(&f2_cv_requeued) - r0;
	ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
	for (int i = 0; i < MAXW; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(w.woke, MAXW);
	if (requeue && requeue_possible(o) && can_park(o->flags))
		ck_assert_uint_eq(moved, MAXW - 2); /* two woken, the rest moved */
	else
		ck_assert_uint_eq(moved, 0);
	free(w.c);
}

START_TEST(broadcast_requeue_on)
{
	broadcast_wakes_all(_i, 1);
}
END_TEST

START_TEST(broadcast_requeue_off)
{
	broadcast_wakes_all(_i, 0);
}
END_TEST

/* Bug 13165: a signal must go to a thread that was waiting before it, never
 * to one that began waiting after it. W1 waits; the signal comes; W2 starts
 * waiting before W1 can re-take the mutex. W1 must return (else the test
 * hangs), and W2 must still be waiting. */
START_TEST(signal_not_stolen)
{
	const struct cv_ops *o = &OPS[_i];
	static struct crowd w;
	struct crowd_arg args[2];
	pthread_t t[2];

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.c = cv_new(o);
	w.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	crowd_start(&w, args, t, 1);
	ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
	ck_assert_int_eq(o->signal(w.c), 0);
	args[1] = (struct crowd_arg){ &w, 1 };
	ck_assert_int_eq(pthread_create(&t[1], NULL, crowd_waiter, &args[1]), 0);
	ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
	/* W1 returns from its wait. W2 may return too, spuriously: a signal left
	 * to the release can be woken twice (cond_defer.c), once by W2 itself
	 * before it sleeps; the second wake may then find only W2. */
	for (int i = 0;; i++) {
		ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
		int ret1 = w.ret[0], ready = w.ready;
		ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
		if (ret1 >= 1 && ready == 2)
			break;
		ck_assert_msg(i < 50000, "the signal did not wake the earlier waiter");
		usleep(200);
	}
	wait_parked(w.tid[1], o->flags);
	ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
	w.go = 1;
	ck_assert_int_eq(o->broadcast(w.c), 0);
	ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	ck_assert_int_eq(w.woke, 2);
	free(w.c);
}
END_TEST

/* Self-synchronised destruction: the condvar is freed right after the
 * broadcast (or signal) that woke its waiters, while they still run. */
static void free_after_wake(int idx, int use_broadcast)
{
	const struct cv_ops *o = &OPS[idx];
	static struct crowd w;
	struct crowd_arg args[3];
	pthread_t t[3];
	int n = use_broadcast ? 3 : 1;

	for (int it = 0; it < 100; it++) {
		memset(&w, 0, sizeof(w));
		w.o = o;
		w.c = cv_new(o);
		w.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
		crowd_start(&w, args, t, n);
		ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
		w.go = 1;
		if (use_broadcast) {
			ck_assert_int_eq(o->broadcast(w.c), 0);
		} else {
			/* Held by us, the signal's wake waits for our unlock, after
			 * the free (cond_defer.c). The waiters parked before that
			 * (crowd_start); a wake that matches no waiter's mask shows
			 * TSan what an immediate wake did: the emulation's bucket
			 * lock orders their parking before the free. */
			unsigned size = o->flags & F2_SIZE_MASK;
			f2_futex_wake(w.c, F2_MX_WAIT_STARVING, 1, f2_pair_flags(w.c, size));
			ck_assert_int_eq(o->signal(w.c), 0);
		}
		/* Only parked waiters are done with the condvar: where no backend
		 * can park its word, the waiters poll it and it lives to the join. */
		int parked = can_park(o->flags);
		if (parked)
			free(w.c);
		ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		ck_assert_int_eq(w.woke, n);
		if (!parked)
			free(w.c);
	}
}

START_TEST(free_right_after_broadcast)
{
	free_after_wake(_i, 1);
}
END_TEST

START_TEST(free_right_after_signal)
{
	free_after_wake(_i, 0);
}
END_TEST

/* Issue 12: after waiters came and went, signal and broadcast with nobody
 * waiting make no wake call at all (the old WAITERS bit, cleared only by
 * broadcast, made every later signal a system call). One waiter ended by a
 * signal, then three ended by a broadcast. */
START_TEST(idle_after_use)
{
	const struct cv_ops *o = &OPS[_i];
	static struct crowd w;
	struct crowd_arg args[3];
	pthread_t t[3];

	for (int n = 1; n <= 3; n += 2) {
		memset(&w, 0, sizeof(w));
		w.o = o;
		w.c = cv_new(o);
		w.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
		crowd_start(&w, args, t, n);
		ck_assert_uint_eq(count_of(o, w.c), (uint32_t)n);
		ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
		w.go = 1;
		ck_assert_int_eq(n == 1 ? o->signal(w.c) : o->broadcast(w.c), 0);
		ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		ck_assert_uint_eq(count_of(o, w.c), 0);
		ck_assert_uint_eq(idle_wakes(o, w.c, 1000), 0);
		free(w.c);
	}
}
END_TEST

/* A wait that ends at its deadline cannot count itself out (cond.md,
 * "Surplus"): the next signal makes one empty wake and removes the surplus,
 * a broadcast removes them all with one call; then the condvar is idle. */
static void one_signal(void *c)
{
	const struct cv_ops *o = ((struct idle_calls *)c)->o;
	ck_assert_int_eq(o->signal(((struct idle_calls *)c)->c), 0);
}

static void one_broadcast(void *c)
{
	const struct cv_ops *o = ((struct idle_calls *)c)->o;
	ck_assert_int_eq(o->broadcast(((struct idle_calls *)c)->c), 0);
}

START_TEST(surplus_after_timeout)
{
	const struct cv_ops *o = &OPS[_i];
	struct idle_calls a = { o, cv_new(o), 0 };
	f2_mutex_t m = F2_MUTEX_INITIALIZER;

	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	for (int i = 1; i <= 3; i++) {
		struct timespec soon = deadline_in(CLOCK_MONOTONIC, 1000000);
		ck_assert_int_eq(o->timedwait(a.c, &m, &soon, CLOCK_MONOTONIC), ETIMEDOUT);
		ck_assert_uint_eq(count_of(o, a.c), (uint32_t)i);
	}
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	ck_assert_uint_eq(wakes_made(one_signal, &a), 1);
	ck_assert_uint_eq(count_of(o, a.c), 2);
	ck_assert_uint_eq(wakes_made(one_broadcast, &a), 1);
	ck_assert_uint_eq(count_of(o, a.c), 0);
	ck_assert_uint_eq(idle_wakes(o, a.c, 100), 0);
	free(a.c);
}
END_TEST

/* The count saturates at 2^31 (cond.c, MANY): a count there no longer grows
 * with waiters and no longer shrinks with signals, which still wake; only
 * broadcast brings it back to 0. Started just below the limit. */
START_TEST(count_saturates)
{
	const struct cv_ops *o = &OPS[_i];
	struct idle_calls a = { o, cv_new(o), 0 };
	const uint32_t many = 0x80000000u;
	f2_mutex_t m = F2_MUTEX_INITIALIZER;

	__atomic_store_n(o->waiters(a.c), many - 1, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	for (int i = 0; i < 2; i++) {
		struct timespec soon = deadline_in(CLOCK_MONOTONIC, 1000000);
		ck_assert_int_eq(o->timedwait(a.c, &m, &soon, CLOCK_MONOTONIC), ETIMEDOUT);
		ck_assert_uint_eq(count_of(o, a.c), many);
	}
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	ck_assert_uint_eq(wakes_made(one_signal, &a), 1);
	ck_assert_uint_eq(count_of(o, a.c), many);
	ck_assert_uint_eq(wakes_made(one_broadcast, &a), 1);
	ck_assert_uint_eq(count_of(o, a.c), 0);
	ck_assert_uint_eq(idle_wakes(o, a.c, 100), 0);
	free(a.c);
}
END_TEST

/* The count under a crowd (more waiters than CPUs): 32 waiters each take
 * HEAL_TAKES tokens, half of them with 200 us timed waits that expire while
 * two signallers hand out tokens and signal (with and without the mutex).
 * An untimed waiter that lost a wakeup hangs the test. Once all have left,
 * every remaining count is a surplus: exactly that many signals make one
 * wake call each and bring it to 0, and after that no call makes a wake. */
#define HEAL_WAITERS 32
#define HEAL_TAKES 60

struct heal {
	const struct cv_ops *o;
	void *c;
	f2_mutex_t m;
	long tokens, returns; /* under m */
};

struct heal_arg {
	struct heal *h;
	int idx;
};

static void *heal_waiter(void *arg)
{
	struct heal_arg *a = arg;
	struct heal *h = a->h;
	for (int i = 0; i < HEAL_TAKES; i++) {
		ck_assert_int_eq(f2_mutex_lock(&h->m), 0);
		while (h->tokens == 0) {
			if (a->idx % 2) {
				ck_assert_int_eq(h->o->wait(h->c, &h->m), 0);
			} else {
				struct timespec soon = deadline_in(CLOCK_MONOTONIC, 200000);
				int rc = h->o->timedwait(h->c, &h->m, &soon, CLOCK_MONOTONIC);
				ck_assert(rc == 0 || rc == ETIMEDOUT);
			}
			h->returns++;
		}
		h->tokens--;
		ck_assert_int_eq(f2_mutex_unlock(&h->m), 0);
	}
	return NULL;
}

static void *heal_signaller(void *arg)
{
	struct heal *h = ((struct heal_arg *)arg)->h;
	for (int i = 0; i < HEAL_WAITERS * HEAL_TAKES / 2; i++) {
		ck_assert_int_eq(f2_mutex_lock(&h->m), 0);
		h->tokens++;
		if (i & 1)
			ck_assert_int_eq(h->o->signal(h->c), 0);
		ck_assert_int_eq(f2_mutex_unlock(&h->m), 0);
		if (!(i & 1))
			ck_assert_int_eq(h->o->signal(h->c), 0);
	}
	return NULL;
}

START_TEST(count_heals_crowd)
{
	static struct heal h;
	struct heal_arg args[HEAL_WAITERS + 2];
	pthread_t t[HEAL_WAITERS + 2];
	struct idle_calls a;

	memset(&h, 0, sizeof(h));
	h.o = &OPS[_i];
	h.c = cv_new(h.o);
	h.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	for (int i = 0; i < HEAL_WAITERS + 2; i++) {
		args[i] = (struct heal_arg){ &h, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL,
		                                i < HEAL_WAITERS ? heal_waiter : heal_signaller,
		                                &args[i]), 0);
	}
	for (int i = 0; i < HEAL_WAITERS + 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(h.tokens, 0);
	uint32_t k = count_of(h.o, h.c);
	ck_assert_uint_le(k, (uint64_t)h.returns); /* each surplus is a return */
	a = (struct idle_calls){ h.o, h.c, 0 };
	for (uint32_t i = 0; i < k; i++)
		ck_assert_uint_eq(wakes_made(one_signal, &a), 1);
	ck_assert_uint_eq(count_of(h.o, h.c), 0);
	ck_assert_uint_eq(idle_wakes(h.o, h.c, 100), 0);
	free(h.c);
}
END_TEST

/* Signals delivered to a waiter change nothing the caller can see: every
 * wait returns 0 (never EINTR), the mutex is held on return, and the
 * predicate loop keeps waiting (a handler may cause a spurious wakeup, which
 * POSIX allows and the loop absorbs). */
static int handled;
static void on_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
}

START_TEST(signals_to_a_waiter)
{
	const struct cv_ops *o = &OPS[_i];
	static struct crowd w;
	struct crowd_arg args[1];
	pthread_t t[1];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: the waits see EINTR */
	memset(&w, 0, sizeof(w));
	w.o = o;
	w.c = cv_new(o);
	w.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	crowd_start(&w, args, t, 1);
	for (int i = 0; i < 20; i++) {
		wait_parked(w.tid[0], o->flags);
		int before = __atomic_load_n(&handled, __ATOMIC_SEQ_CST);
		pthread_kill(t[0], SIGUSR1);
		while (__atomic_load_n(&handled, __ATOMIC_SEQ_CST) == before)
			usleep(100);
	}
	ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
	ck_assert_int_eq(w.woke, 0); /* the predicate loop never left */
	w.go = 1;
	ck_assert_int_eq(o->signal(w.c), 0);
	ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
	pthread_join(t[0], NULL);
	ck_assert_int_eq(w.woke, 1);
	free(w.c);
}
END_TEST

/* Broadcast rounds with more waiters than CPUs, as in f2bench's broadcast
 * workload: each round every waiter re-takes the mutex and checks in once.
 * Even rounds broadcast with the mutex held, odd ones after releasing it;
 * every fourth waiter uses a short timed wait (its timeouts race with the
 * requeue and with the hand-offs on the mutex word), and stray signals with
 * and without the mutex come between rounds. A waiter stranded on the mutex
 * word hangs the test; a waiter that missed or doubled a round fails it. */
#define ROUND_WAITERS 32
#define ROUNDS 60

struct rounds {
	const struct cv_ops *o;
	void *c;
	f2_mutex_t m;
	int gen;                    /* under m */
	int arrived, done;          /* under m */
	int seen[ROUND_WAITERS];    /* rounds each waiter saw, under m */
};

struct rounds_arg {
	struct rounds *r;
	int idx;
};

static void rounds_wait(struct rounds *r, int idx)
{
	if (idx % 4) {
		ck_assert_int_eq(r->o->wait(r->c, &r->m), 0);
		return;
	}
	struct timespec soon = deadline_in(CLOCK_MONOTONIC, 1000000);
	int rc = r->o->timedwait(r->c, &r->m, &soon, CLOCK_MONOTONIC);
	ck_assert(rc == 0 || rc == ETIMEDOUT);
}

static void *rounds_waiter(void *arg)
{
	struct rounds_arg *a = arg;
	struct rounds *r = a->r;
	for (int round = 1; round <= ROUNDS; round++) {
		ck_assert_int_eq(f2_mutex_lock(&r->m), 0);
		r->arrived++;
		while (r->gen < round)
			rounds_wait(r, a->idx);
		ck_assert_int_eq(r->gen, round);
		r->seen[a->idx]++;
		r->done++;
		ck_assert_int_eq(f2_mutex_unlock(&r->m), 0);
	}
	return NULL;
}

/* Polls a counter under the mutex until it reaches n. */
static void rounds_until(struct rounds *r, int *count, int n)
{
	for (;;) {
		ck_assert_int_eq(f2_mutex_lock(&r->m), 0);
		int v = *count;
		ck_assert_int_eq(f2_mutex_unlock(&r->m), 0);
		if (v == n)
			return;
		ck_assert_int_lt(v, n);
		usleep(100);
	}
}

START_TEST(broadcast_rounds_crowd)
{
	static struct rounds r;
	struct rounds_arg args[ROUND_WAITERS];
	pthread_t t[ROUND_WAITERS];

	memset(&r, 0, sizeof(r));
	r.o = &OPS[_i];
	r.c = cv_new(r.o);
	r.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	for (int i = 0; i < ROUND_WAITERS; i++) {
		args[i] = (struct rounds_arg){ &r, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, rounds_waiter, &args[i]), 0);
	}
	for (int round = 1; round <= ROUNDS; round++) {
		rounds_until(&r, &r.arrived, ROUND_WAITERS);
		ck_assert_int_eq(r.o->signal(r.c), 0); /* stray, without the mutex */
		ck_assert_int_eq(f2_mutex_lock(&r.m), 0);
		ck_assert_int_eq(r.o->signal(r.c), 0); /* stray, with it */
		r.arrived = 0;
		r.done = 0;
		r.gen = round;
		if (round % 2 == 0)
			ck_assert_int_eq(r.o->broadcast(r.c), 0);
		ck_assert_int_eq(f2_mutex_unlock(&r.m), 0);
		if (round % 2)
			ck_assert_int_eq(r.o->broadcast(r.c), 0);
		rounds_until(&r, &r.done, ROUND_WAITERS);
	}
	for (int i = 0; i < ROUND_WAITERS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r.seen[i], ROUNDS);
	}
	free(r.c);
}
END_TEST


/* docs/design/mutex.md, "A signalled waiter yields once": a waiter woken by a
 * signal made under the mutex that still finds the mutex held a spin gap
 * later gives its CPU away once (sched_yield) and spins on; when its spin
 * has run out it parks on the mutex and takes it at the unlock. The holder
 * keeps the mutex until the waiter has parked, so the yield is counted once
 * per wake, never in a loop. A waiter preempted for longer than its whole
 * spin before its second read parks without yielding: the test tries again
 * (at most yield_tries times) until one try yielded, and every try may
 * yield at most once. */
struct cv_waiter {
	const struct cv_ops *o;
	void *c;
	f2_mutex_t *m;
	int go, done; /* under m */
	pid_t tid;
	int returns;  /* under m: returns from the wait call */
};

/* Waits on c until go is set, then sets done. */
static void *go_waiter(void *arg)
{
	struct cv_waiter *y = arg;
	ck_assert_int_eq(f2_mutex_lock(y->m), 0);
	__atomic_store_n(&y->tid, test_gettid(), __ATOMIC_SEQ_CST);
	while (!y->go) {
		ck_assert_int_eq(y->o->wait(y->c, y->m), 0);
		y->returns++;
	}
	y->done = 1;
	ck_assert_int_eq(f2_mutex_unlock(y->m), 0);
	return NULL;
}

/* A signal made by the thread that holds the condvar's mutex leaves its wake
 * to the release (cond_defer.c). Locking and unlocking another mutex ends
 * this thread's record of the held one, so the next signal wakes under the
 * mutex, as one made by any other thread does. */
static void forget_held(void)
{
	f2_mutex_t other = F2_MUTEX_INITIALIZER;

	ck_assert_int_eq(f2_mutex_lock(&other), 0);
	ck_assert_int_eq(f2_mutex_unlock(&other), 0);
}

START_TEST(signalled_waiter_yields_once)
{
	const struct cv_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning old = *cur, spin = { 100, cur->handoff_ns, cur->requeue };
	const int yield_tries = 20;
	int tries, yielded = 0;

	ck_assert_int_eq(f2_test_tuning_replace(&spin), 0);
	for (tries = 0; tries < yield_tries && !yielded; tries++) {
		f2_mutex_t m = F2_MUTEX_INITIALIZER;
		struct cv_waiter y = { o, cv_new(o), &m, 0, 0, 0, 0 };
		uint64_t y0 = stat_read(&f2_mx_spin_yields), n;
		pthread_t t;

		ck_assert_int_eq(pthread_create(&t, NULL, go_waiter, &y), 0);
		while (!__atomic_load_n(&y.tid, __ATOMIC_SEQ_CST) || !thread_sleeping(y.tid))
			sched_yield(); /* until it sleeps in the condvar wait */
		ck_assert_int_eq(f2_mutex_lock(&m), 0);
		y.go = 1;
		forget_held();
		ck_assert_int_eq(o->signal(y.c), 0);
		while (!(__atomic_load_n(&m.word, __ATOMIC_SEQ_CST) & F2_MX_PARKED))
			sched_yield(); /* until its spin has run out and it parks */
		n = stat_read(&f2_mx_spin_yields) - y0;
		ck_assert_int_eq(f2_mutex_unlock(&m), 0);
		pthread_join(t, NULL);
		ck_assert(y.done);
		ck_assert_msg(n <= 1, "the signalled waiter yielded %llu times in one spin",
		              (unsigned long long)n);
		yielded = n == 1;
		free(y.c);
	}
	ck_assert_int_eq(f2_test_tuning_replace(&old), 0);
	ck_assert_msg(yielded, "the signalled waiter never yielded in %d tries", tries);
}
END_TEST

/* docs/design/cond.md, "A lone waiter watches the mutex". The spin is
 * widened to 10 s so that the test acts inside it on any build (it holds the
 * mutex until the spin has seen it taken). A lone waiter whose mutex is
 * taken, signalled and released while it spins returns; one whose mutex is
 * taken and released with no signal sleeps, with no spurious wakeup and no
 * surplus; a waiter counted behind a sleeping one does not spin; with
 * F2_TUNE_SPIN 0 nobody spins. */
static void start_waiter(pthread_t *t, struct cv_waiter *w)
{
	w->go = w->done = w->returns = 0;
	__atomic_store_n(&w->tid, 0, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(pthread_create(t, NULL, go_waiter, w), 0);
}

static void until_asleep(const struct cv_ops *o, void *c, uint32_t count, struct cv_waiter *w)
{
	while (count_of(o, c) != count || !__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST) ||
	       !thread_sleeping(w->tid))
		sched_yield();
}

/* Takes the mutex once spin number `spins` has begun, and holds it until
 * that spin has seen it taken (`seen` spins in all). */
static void lock_seen(f2_mutex_t *m, uint64_t spins, uint64_t seen)
{
	while (stat_read(&f2_cv_spins) < spins)
		sched_yield();
	ck_assert_int_eq(f2_mutex_lock(m), 0);
	while (stat_read(&f2_cv_spin_seen) < seen)
		sched_yield();
}

/* Under the mutex (held): sets go in each waiter, signals (one waiter) or
 * broadcasts, unlocks, and joins them. */
static void release_join(struct cv_waiter *a, pthread_t ta, struct cv_waiter *b, pthread_t tb)
{
	a->go = 1;
	if (b)
		b->go = 1;
	ck_assert_int_eq(b ? a->o->broadcast(a->c) : a->o->signal(a->c), 0);
	ck_assert_int_eq(f2_mutex_unlock(a->m), 0);
	pthread_join(ta, NULL);
	ck_assert(a->done);
	if (b) {
		pthread_join(tb, NULL);
		ck_assert(b->done);
	}
}

START_TEST(lone_waiter_watches_the_mutex)
{
	const struct cv_ops *o = &OPS[_i];
	const struct f2_tuning *cur = f2_tuning();
	struct f2_tuning old = *cur, off = { 0, cur->handoff_ns, cur->requeue };
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	void *c = cv_new(o);
	struct cv_waiter a = { o, c, &m, 0, 0, 0, 0 }, b = a;
	uint64_t s0 = stat_read(&f2_cv_spins), w0 = stat_read(&f2_cv_spin_seen);
	uint64_t spin_ns = stat_read(&f2_cv_spin_ns);
	pthread_t ta, tb;

	__atomic_store_n(&f2_cv_spin_ns, 10000000000ull, __ATOMIC_SEQ_CST);
	/* taken, signalled, released: the wait ends */
	start_waiter(&ta, &a);
	lock_seen(&m, s0 + 1, w0 + 1);
	release_join(&a, ta, NULL, 0);
	ck_assert_int_eq(a.returns, 1);
	ck_assert_uint_eq(count_of(o, c), 0);
	/* taken and released with no signal: it sleeps, still counted once */
	start_waiter(&ta, &a);
	lock_seen(&m, s0 + 2, w0 + 2);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	until_asleep(o, c, 1, &a);
	/* behind it: no spin */
	start_waiter(&tb, &b);
	until_asleep(o, c, 2, &b);
	ck_assert_uint_eq(stat_read(&f2_cv_spins) - s0, 2);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(a.returns + b.returns, 0);
	release_join(&a, ta, &b, tb);
	ck_assert_uint_eq(count_of(o, c), 0);
	/* F2_TUNE_SPIN 0: the lone waiter parks at once */
	ck_assert_int_eq(f2_test_tuning_replace(&off), 0);
	start_waiter(&ta, &a);
	until_asleep(o, c, 1, &a);
	ck_assert_uint_eq(stat_read(&f2_cv_spins) - s0, 2);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	release_join(&a, ta, NULL, 0);
	ck_assert_int_eq(f2_test_tuning_replace(&old), 0);
	__atomic_store_n(&f2_cv_spin_ns, spin_ns, __ATOMIC_SEQ_CST);
	free(c);
}
END_TEST

/* A counting queue under signal: 8 producers each add items one at a time
 * and signal once per item (odd items with the mutex held, even ones after
 * releasing it; every 64th a broadcast instead); 24 consumers each take
 * exactly their share, a quarter of them with short timed waits. Every
 * consumer that sleeps while items remain needs a signal that was not lost:
 * the untimed ones would otherwise sleep forever. */
#define PRODUCERS 8
#define CONSUMERS 24
#define PER_PRODUCER 1500

struct queue {
	const struct cv_ops *o;
	void *c;
	f2_mutex_t m;
	long items, produced, consumed;   /* under m */
};

struct queue_arg {
	struct queue *q;
	int idx;
};

static void *producer(void *arg)
{
	struct queue *q = ((struct queue_arg *)arg)->q;
	for (int i = 0; i < PER_PRODUCER; i++) {
		int held = i & 1, all = i % 64 == 63;
		ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
		q->items++;
		q->produced++;
		if (held)
			ck_assert_int_eq(all ? q->o->broadcast(q->c) : q->o->signal(q->c), 0);
		ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
		if (!held)
			ck_assert_int_eq(all ? q->o->broadcast(q->c) : q->o->signal(q->c), 0);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct queue_arg *a = arg;
	struct queue *q = a->q;
	for (int i = 0; i < PRODUCERS * PER_PRODUCER / CONSUMERS; i++) {
		ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
		while (q->items == 0) {
			if (a->idx % 4) {
				ck_assert_int_eq(q->o->wait(q->c, &q->m), 0);
			} else {
				struct timespec soon = deadline_in(CLOCK_MONOTONIC, 500000);
				int rc = q->o->timedwait(q->c, &q->m, &soon, CLOCK_MONOTONIC);
				ck_assert(rc == 0 || rc == ETIMEDOUT);
			}
		}
		q->items--;
		q->consumed++;
		ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
	}
	return NULL;
}

START_TEST(signal_queue_crowd)
{
	static struct queue q;
	struct queue_arg args[PRODUCERS + CONSUMERS];
	pthread_t t[PRODUCERS + CONSUMERS];

	memset(&q, 0, sizeof(q));
	q.o = &OPS[_i];
	q.c = cv_new(q.o);
	q.m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		args[i] = (struct queue_arg){ &q, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, i < CONSUMERS ? consumer : producer,
		                                &args[i]), 0);
	}
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(q.produced, PRODUCERS * PER_PRODUCER);
	ck_assert_int_eq(q.consumed, PRODUCERS * PER_PRODUCER);
	ck_assert_int_eq(q.items, 0);
	free(q.c);
}
END_TEST

/* Whether a signal on c under its mutex defers its wake (cond_defer.c): the
 * 32-bit word, unless it is a kernel FUTEX2_NUMA pair (its wake would read
 * the pair after the release). */
static int defers(const struct cv_ops *o, void *c)
{
	unsigned fl;
	const char *bk;

	if (o != &OPS[0])
		return 0;
	fl = f2_pair_flags(c, F2_SIZE_U32);
	bk = f2_futex_backend(fl);
	return !(fl & F2_NUMA) || !bk || strcmp(bk, "futex2") != 0;
}

/* Polls until the waiter has set done (under m), at most 10 s. */
static int done_within(struct cv_waiter *y)
{
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(f2_mutex_lock(y->m), 0);
		int d = y->done;
		ck_assert_int_eq(f2_mutex_unlock(y->m), 0);
		if (d)
			return 1;
		usleep(1000);
	}
	return 0;
}

static void start_go_waiter(pthread_t *t, struct cv_waiter *y)
{
	ck_assert_int_eq(pthread_create(t, NULL, go_waiter, y), 0);
	while (!__atomic_load_n(&y->tid, __ATOMIC_SEQ_CST) || !thread_sleeping(y->tid))
		sched_yield(); /* until it sleeps in the condvar wait */
}

/* The signaller holds the mutex: the waiter is woken at the release, not
 * before (it sleeps on while the mutex stays held), and the word carries
 * PENDING until then. */
START_TEST(signal_defers_to_release)
{
	const struct cv_ops *o = &OPS[_i];
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	struct cv_waiter y = { o, cv_new(o), &m, 0, 0, 0, 0 };
	uint64_t d0 = stat_read(&f2_cd_deferred);
	int deferred = defers(o, y.c);
	pthread_t t;

	start_go_waiter(&t, &y);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	y.go = 1;
	ck_assert_int_eq(o->signal(y.c), 0);
	ck_assert_uint_eq(stat_read(&f2_cd_deferred) - d0, (uint64_t)deferred);
	if (deferred) {
		ck_assert(__atomic_load_n(&m.word, __ATOMIC_SEQ_CST) & F2_MX_PENDING);
		usleep(20000);
		ck_assert_msg(thread_sleeping(y.tid), "woken before the release");
	}
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	pthread_join(t, NULL);
	ck_assert(y.done);
	ck_assert_int_eq(y.returns, 1);
	ck_assert(!(__atomic_load_n(&m.word, __ATOMIC_SEQ_CST) & F2_MX_PENDING));
	free(y.c);
}
END_TEST

/* A release that has cleared PENDING but not yet made the wake: a thread
 * that begins to wait in between must not take that wake. Its wait makes the
 * recorded wake before it counts itself in, so the first waiter returns
 * while the second sleeps. The release is played here by clearing the bits
 * by hand. */
START_TEST(deferred_signal_not_stolen)
{
	const struct cv_ops *o = &OPS[_i];
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	void *c = cv_new(o);
	struct cv_waiter a = { o, c, &m, 0, 0, 0, 0 }, b = a;
	pthread_t ta, tb;
	unsigned v;

	if (!defers(o, c)) {
		free(c);
		return;
	}
	start_go_waiter(&ta, &a);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	a.go = 1;
	ck_assert_int_eq(o->signal(c), 0);
	v = __atomic_load_n(&m.word, __ATOMIC_SEQ_CST);
	ck_assert(v & F2_MX_PENDING);
	forget_held();
	while (!__atomic_compare_exchange_n(&m.word, &v, v & ~(F2_MX_HELD | F2_MX_PENDING), 0,
	                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		; /* released, its wake not made yet */
	start_go_waiter(&tb, &b);
	ck_assert_msg(done_within(&a), "the signalled waiter was not woken");
	pthread_join(ta, NULL);
	ck_assert_int_eq(a.returns, 1);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(b.returns, 0);
	b.go = 1;
	ck_assert_int_eq(o->signal(c), 0);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	pthread_join(tb, NULL);
	ck_assert(b.done);
	free(c);
}
END_TEST

/* Another thread unlocked the mutex that the signaller locked (the word
 * cannot tell, docs/api.md): the signal must still wake, at once when the
 * mutex is free, at the release when a third thread holds it. */
struct foreign {
	f2_mutex_t *m;
	void *c;
	const struct cv_ops *o;
	int step; /* 1: locked m; 2: may signal; 3: signalled */
};

static void *foreign_signaller(void *arg)
{
	struct foreign *f = arg;

	ck_assert_int_eq(f2_mutex_lock(f->m), 0);
	__atomic_store_n(&f->step, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&f->step, __ATOMIC_SEQ_CST) != 2)
		usleep(100);
	ck_assert_int_eq(f->o->signal(f->c), 0);
	__atomic_store_n(&f->step, 3, __ATOMIC_SEQ_CST);
	return NULL;
}

START_TEST(signal_after_foreign_unlock)
{
	const struct cv_ops *o = &OPS[_i];
	for (int third = 0; third < 2; third++) {
		f2_mutex_t m = F2_MUTEX_INITIALIZER;
		struct cv_waiter y = { o, cv_new(o), &m, 0, 0, 0, 0 };
		struct foreign f = { &m, y.c, o, 0 };
		pthread_t t, s;

		start_go_waiter(&t, &y);
		ck_assert_int_eq(pthread_create(&s, NULL, foreign_signaller, &f), 0);
		while (__atomic_load_n(&f.step, __ATOMIC_SEQ_CST) != 1)
			usleep(100);
		y.go = 1; /* the signaller holds m */
		ck_assert_int_eq(f2_mutex_unlock(&m), 0); /* not ours */
		if (third)
			ck_assert_int_eq(f2_mutex_lock(&m), 0);
		__atomic_store_n(&f.step, 2, __ATOMIC_SEQ_CST);
		pthread_join(s, NULL);
		if (third)
			ck_assert_int_eq(f2_mutex_unlock(&m), 0);
		ck_assert_msg(done_within(&y), "the signal was lost (third holder: %d)", third);
		pthread_join(t, NULL);
		free(y.c);
	}
}
END_TEST

/* The thread-pool pattern of f2bench prodcons, on two queues at once (their
 * mutexes may share a slot of the deferral's table): each producer signals
 * "not empty" on every push with the mutex held (deferred to its release),
 * waits on "not full" until the queue drains to half, and one of its two
 * consumers, which work on each item outside the lock, signals that. A woken
 * producer often preempts the consumer that flushes its wake, between the
 * wake and the slot's clearing, which is where a flush that cleared a newer
 * entry (ABA) lost a wake. A lost deferred wake stops a queue for good, which
 * the watchdog reports instead of hanging. */
#define DQ_QUEUES 2
#define DQ_CAP 16
#define DQ_ITEMS 40000

struct dq {
	const struct cv_ops *o;
	f2_mutex_t m;
	void *not_empty, *not_full;
	int count, producer_waiting, done; /* under m */
	long pushed, popped;               /* under m */
};

static void *dq_producer(void *arg)
{
	struct dq *q = arg;
	for (int i = 0; i < DQ_ITEMS; i++) {
		ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
		if (q->count == DQ_CAP) {
			q->producer_waiting = 1;
			while (q->count > DQ_CAP / 2)
				ck_assert_int_eq(q->o->wait(q->not_full, &q->m), 0);
			q->producer_waiting = 0;
		}
		q->count++;
		q->pushed++;
		ck_assert_int_eq(q->o->signal(q->not_empty), 0);
		ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
	}
	ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
	q->done = 1;
	ck_assert_int_eq(q->o->broadcast(q->not_empty), 0);
	ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
	return NULL;
}

static void *dq_consumer(void *arg)
{
	struct dq *q = arg;
	for (;;) {
		ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
		while (!q->count && !q->done)
			ck_assert_int_eq(q->o->wait(q->not_empty, &q->m), 0);
		if (!q->count) {
			ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
			return NULL;
		}
		q->count--;
		q->popped++;
		if (q->producer_waiting && q->count == DQ_CAP / 2)
			ck_assert_int_eq(q->o->signal(q->not_full), 0);
		ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
		for (volatile int k = 0; k < 200; k++) /* work on the item, outside the lock */
			;
	}
}

static long dq_popped(struct dq *qs)
{
	long n = 0;
	for (int i = 0; i < DQ_QUEUES; i++) {
		ck_assert_int_eq(f2_mutex_lock(&qs[i].m), 0);
		n += qs[i].popped;
		ck_assert_int_eq(f2_mutex_unlock(&qs[i].m), 0);
	}
	return n;
}

START_TEST(deferred_signals_crowd)
{
	const struct cv_ops *o = &OPS[_i];
	static struct dq qs[DQ_QUEUES];
	pthread_t t[DQ_QUEUES * 3];
	long last = -1;
	int still = 0;

	for (int i = 0; i < DQ_QUEUES; i++) {
		qs[i] = (struct dq){ .o = o, .m = F2_MUTEX_INITIALIZER };
		qs[i].not_empty = cv_new(o);
		qs[i].not_full = cv_new(o);
		ck_assert_int_eq(pthread_create(&t[3 * i], NULL, dq_producer, &qs[i]), 0);
		ck_assert_int_eq(pthread_create(&t[3 * i + 1], NULL, dq_consumer, &qs[i]), 0);
		ck_assert_int_eq(pthread_create(&t[3 * i + 2], NULL, dq_consumer, &qs[i]), 0);
	}
	for (long n; (n = dq_popped(qs)) < (long)DQ_QUEUES * DQ_ITEMS; last = n) {
		still = n == last ? still + 1 : 0;
		ck_assert_msg(still < 100, "no item popped in 10 s: a lost wakeup (%ld of %ld)", n,
		              (long)DQ_QUEUES * DQ_ITEMS);
		usleep(100000);
	}
	for (int i = 0; i < DQ_QUEUES * 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < DQ_QUEUES; i++) {
		ck_assert_int_eq(qs[i].pushed, DQ_ITEMS);
		ck_assert_int_eq(qs[i].popped, DQ_ITEMS);
		free(qs[i].not_empty);
		free(qs[i].not_full);
	}
}
END_TEST

static Suite *cond_suite(void)
{
	Suite *s = suite_create("cond");
	TCase *tc = tcase_create("semantics");
	tcase_add_test(tc, sizes);
	tcase_add_loop_test(tc, bad_arguments, 0, 2);
	tcase_add_loop_test(tc, timedwait_deadlines, 0, 2);
	tcase_add_loop_test(tc, signal_before_wait_is_lost, 0, 2);
	tcase_add_loop_test(tc, surplus_after_timeout, 0, 2);
	tcase_add_loop_test(tc, count_saturates, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_add_loop_test(tc, broadcast_after_mutex_freed, 0, 2);
	tcase_add_loop_test(tc, pingpong_no_lost_wakeup, 0, 2);
	tcase_add_loop_test(tc, broadcast_requeue_on, 0, 2);
	tcase_add_loop_test(tc, broadcast_requeue_off, 0, 2);
	tcase_add_loop_test(tc, signal_not_stolen, 0, 2);
	tcase_add_loop_test(tc, free_right_after_broadcast, 0, 2);
	tcase_add_loop_test(tc, free_right_after_signal, 0, 2);
	tcase_add_loop_test(tc, signals_to_a_waiter, 0, 2);
	tcase_add_loop_test(tc, broadcast_rounds_crowd, 0, 2);
	tcase_add_loop_test(tc, signal_queue_crowd, 0, 2);
	tcase_add_loop_test(tc, idle_after_use, 0, 2);
	tcase_add_loop_test(tc, count_heals_crowd, 0, 2);
	tcase_add_loop_test(tc, signalled_waiter_yields_once, 0, 2);
	tcase_add_loop_test(tc, lone_waiter_watches_the_mutex, 0, 2);
	tcase_add_loop_test(tc, signal_defers_to_release, 0, 2);
	tcase_add_loop_test(tc, deferred_signal_not_stolen, 0, 2);
	tcase_add_loop_test(tc, signal_after_foreign_unlock, 0, 2);
	tcase_add_loop_test(tc, deferred_signals_crowd, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(cond_suite());
}
