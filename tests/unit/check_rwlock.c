/* f2_rwlock_t: error codes, deadlines, phase alternation, fairness both
 * ways, overflow, destruction right after unlock. White-box checks read the
 * word through rwlock_word.h to know when threads have queued. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "f2sync/rwlock.h"
#include "sync/rwlock_word.h"
#include "common/testutil.h"

#define CK(x) ck_assert_int_eq((x), 0)

static struct timespec deadline(clockid_t clk, long long delta_ns)
{
	struct timespec t;
	clock_gettime(clk, &t);
	long long ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec + delta_ns;
	if (ns < 0)
		ns = 0;
	t.tv_sec = ns / 1000000000LL;
	t.tv_nsec = ns % 1000000000LL;
	return t;
}

static int reached(clockid_t clk, const struct timespec *abs)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return now.tv_sec > abs->tv_sec || (now.tv_sec == abs->tv_sec && now.tv_nsec >= abs->tv_nsec);
}

static uint32_t word(f2_rwlock_t *rw)
{
	return __atomic_load_n(&rw->state, __ATOMIC_ACQUIRE);
}

/* Yields until the word shows r readers (counted) and w writers. */
static void await_counts(f2_rwlock_t *rw, uint32_t r, uint32_t w)
{
	while (rw_readers(word(rw)) != r || rw_writers(word(rw)) != w)
		sched_yield();
}

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
	return t;
}

static void join(pthread_t t)
{
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}

/* ---- single-thread contract --------------------------------------------- */

START_TEST(test_initial_states)
{
	f2_rwlock_t a = F2_RWLOCK_INITIALIZER, z;
	memset(&z, 0, sizeof z);
	ck_assert_uint_eq(sizeof(f2_rwlock_t), 8);
	ck_assert_int_eq(f2_rwlock_unlock(&a), EPERM);
	ck_assert_int_eq(f2_rwlock_unlock(&z), EPERM);
	CK(f2_rwlock_wrlock(&a));
	CK(f2_rwlock_unlock(&a));
	CK(f2_rwlock_rdlock(&z));
	CK(f2_rwlock_unlock(&z));
	ck_assert_int_eq(f2_rwlock_unlock(&z), EPERM);
	ck_assert_uint_eq(word(&a), 0);
	ck_assert_uint_eq(word(&z), 0);
}
END_TEST

START_TEST(test_readers_share_writers_exclude)
{
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	CK(f2_rwlock_rdlock(&rw));
	CK(f2_rwlock_tryrdlock(&rw));
	ck_assert_int_eq(f2_rwlock_trywrlock(&rw), EBUSY);
	CK(f2_rwlock_unlock(&rw));
	CK(f2_rwlock_unlock(&rw));
	ck_assert_int_eq(f2_rwlock_unlock(&rw), EPERM);
	CK(f2_rwlock_trywrlock(&rw));
	ck_assert_int_eq(f2_rwlock_trywrlock(&rw), EBUSY);
	ck_assert_int_eq(f2_rwlock_tryrdlock(&rw), EBUSY);
	CK(f2_rwlock_unlock(&rw));
	ck_assert_int_eq(f2_rwlock_unlock(&rw), EPERM);
	ck_assert_uint_eq(word(&rw), 0);
}
END_TEST

START_TEST(test_timed_bad_args)
{
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	struct timespec bad[] = { { 0, 1000000000 }, { 0, -1 }, { -1, 0 } };
	struct timespec ok = deadline(CLOCK_MONOTONIC, 1000000000);

	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(f2_rwlock_timedrdlock(&rw, &bad[i], CLOCK_MONOTONIC), EINVAL);
		ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, &bad[i], CLOCK_REALTIME), EINVAL);
	}
	ck_assert_int_eq(f2_rwlock_timedrdlock(&rw, &ok, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
	ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, &ok, CLOCK_THREAD_CPUTIME_ID), EINVAL);
	ck_assert_int_eq(f2_rwlock_timedrdlock(&rw, NULL, CLOCK_MONOTONIC), EINVAL);
	ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, NULL, CLOCK_MONOTONIC), EINVAL);
	ck_assert_uint_eq(word(&rw), 0); /* nothing taken */
}
END_TEST

static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };

START_TEST(test_timed_past_deadline)
{
	clockid_t clk = clocks[_i];
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	struct timespec past = deadline(clk, -1000000), zero = { 0, 0 };

	/* a free lock is taken whatever the deadline */
	CK(f2_rwlock_timedrdlock(&rw, &past, clk));
	CK(f2_rwlock_timedrdlock(&rw, &zero, clk));
	ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, &past, clk), ETIMEDOUT);
	CK(f2_rwlock_unlock(&rw));
	CK(f2_rwlock_unlock(&rw));
	CK(f2_rwlock_timedwrlock(&rw, &zero, clk));
	ck_assert_int_eq(f2_rwlock_timedrdlock(&rw, &past, clk), ETIMEDOUT);
	ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, &past, clk), ETIMEDOUT);
	/* the timed-out waiters left no trace */
	ck_assert_uint_eq(rw_readers(word(&rw)), 0);
	ck_assert_uint_eq(rw_writers(word(&rw)), 1);
	CK(f2_rwlock_unlock(&rw));
	ck_assert_uint_eq(word(&rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

START_TEST(test_timed_never_early)
{
	clockid_t clk = clocks[_i];
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;

	CK(f2_rwlock_wrlock(&rw));
	for (int i = 0; i < 3; i++) {
		struct timespec d = deadline(clk, 20000000);
		ck_assert_int_eq(f2_rwlock_timedrdlock(&rw, &d, clk), ETIMEDOUT);
		ck_assert(reached(clk, &d));
		d = deadline(clk, 20000000);
		ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, &d, clk), ETIMEDOUT);
		ck_assert(reached(clk, &d));
	}
	CK(f2_rwlock_unlock(&rw));
	CK(f2_rwlock_rdlock(&rw));
	struct timespec d = deadline(clk, 20000000);
	ck_assert_int_eq(f2_rwlock_timedwrlock(&rw, &d, clk), ETIMEDOUT);
	ck_assert(reached(clk, &d));
	CK(f2_rwlock_unlock(&rw));
	ck_assert_uint_eq(word(&rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

START_TEST(test_reader_overflow_eagain)
{
	f2_rwlock_t *rw = calloc(1, sizeof *rw);
	uint32_t n = 0;
	int r;

	while ((r = f2_rwlock_rdlock(rw)) == 0)
		n++;
	ck_assert_int_eq(r, EAGAIN);
	ck_assert_uint_eq(n, RW_READERS_MAX);
	ck_assert_int_eq(f2_rwlock_tryrdlock(rw), EAGAIN);
	struct timespec d = deadline(CLOCK_MONOTONIC, 1000000000);
	ck_assert_int_eq(f2_rwlock_timedrdlock(rw, &d, CLOCK_MONOTONIC), EAGAIN);
	ck_assert_int_eq(f2_rwlock_trywrlock(rw), EBUSY);
	while (n--)
		CK(f2_rwlock_unlock(rw));
	ck_assert_int_eq(f2_rwlock_unlock(rw), EPERM);
	CK(f2_rwlock_trywrlock(rw));
	CK(f2_rwlock_unlock(rw));
	free(rw);
}
END_TEST

/* ---- ordering between readers and writers --------------------------------- */

struct order {
	f2_rwlock_t rw;
	int stamp;            /* next stamp */
	int stamp_of[16];     /* per thread: stamp at acquisition */
	int busy;             /* a tryrdlock result from another thread */
};

struct order_arg {
	struct order *o;
	int id;
};

static void *order_reader(void *p)
{
	struct order_arg *a = p;
	CK(f2_rwlock_rdlock(&a->o->rw));
	a->o->stamp_of[a->id] = __atomic_fetch_add(&a->o->stamp, 1, __ATOMIC_RELAXED);
	CK(f2_rwlock_unlock(&a->o->rw));
	return NULL;
}

static void *order_writer(void *p)
{
	struct order_arg *a = p;
	CK(f2_rwlock_wrlock(&a->o->rw));
	a->o->stamp_of[a->id] = __atomic_fetch_add(&a->o->stamp, 1, __ATOMIC_RELAXED);
	CK(f2_rwlock_unlock(&a->o->rw));
	return NULL;
}

/* A writer unlocks while 3 readers and a writer wait: the readers get in
 * first (phase alternation), then the writer. */
START_TEST(test_phase_alternation)
{
	static struct order o;
	struct order_arg a[5];
	pthread_t t[5];

	memset(&o, 0, sizeof o);
	o.rw.node = -1;
	CK(f2_rwlock_wrlock(&o.rw));
	for (int i = 0; i < 3; i++) {
		a[i] = (struct order_arg){ &o, i };
		t[i] = spawn(order_reader, &a[i]);
	}
	await_counts(&o.rw, 3, 1);
	a[3] = (struct order_arg){ &o, 3 };
	t[3] = spawn(order_writer, &a[3]);
	await_counts(&o.rw, 3, 2);
	CK(f2_rwlock_unlock(&o.rw));
	for (int i = 0; i < 4; i++)
		join(t[i]);
	for (int i = 0; i < 3; i++)
		ck_assert_int_lt(o.stamp_of[i], o.stamp_of[3]);
	ck_assert_uint_eq(word(&o.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

static void *try_reader(void *p)
{
	struct order *o = p;
	o->busy = f2_rwlock_tryrdlock(&o->rw);
	return NULL;
}

/* Once a writer waits, new readers wait too; a thread already holding a
 * read lock still gets another one (no recursive-read deadlock). */
START_TEST(test_writer_preference)
{
	static struct order o;
	struct order_arg w = { &o, 0 };

	memset(&o, 0, sizeof o);
	CK(f2_rwlock_rdlock(&o.rw));
	pthread_t tw = spawn(order_writer, &w);
	await_counts(&o.rw, 1, 1);
	join(spawn(try_reader, &o));
	ck_assert_int_eq(o.busy, EBUSY);
	CK(f2_rwlock_tryrdlock(&o.rw)); /* recursive */
	CK(f2_rwlock_rdlock(&o.rw));    /* recursive, blocking variant */
	ck_assert_uint_eq(rw_readers(word(&o.rw)), 3);
	for (int i = 0; i < 3; i++)
		CK(f2_rwlock_unlock(&o.rw));
	join(tw);
	ck_assert_uint_eq(word(&o.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

struct timed_arg {
	f2_rwlock_t *rw;
	long long ns;
	int result;
};

static void *timed_writer(void *p)
{
	struct timed_arg *a = p;
	struct timespec d = deadline(CLOCK_MONOTONIC, a->ns);
	a->result = f2_rwlock_timedwrlock(a->rw, &d, CLOCK_MONOTONIC);
	if (a->result == 0)
		CK(f2_rwlock_unlock(a->rw));
	return NULL;
}

static void *plain_reader(void *p)
{
	struct timed_arg *a = p;
	a->result = f2_rwlock_rdlock(a->rw);
	if (a->result == 0)
		CK(f2_rwlock_unlock(a->rw));
	return NULL;
}

/* The only waiting writer gives up: the readers parked behind it get in. */
START_TEST(test_writer_timeout_frees_readers)
{
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	struct timed_arg w = { &rw, 50000000, -1 }, r = { &rw, 0, -1 };

	CK(f2_rwlock_rdlock(&rw));
	pthread_t tw = spawn(timed_writer, &w);
	await_counts(&rw, 1, 1);
	pthread_t tr = spawn(plain_reader, &r);
	while (!(word(&rw) & RW_RPARKED) && rw_writers(word(&rw)) == 1)
		sched_yield();
	join(tw);
	ck_assert_int_eq(w.result, ETIMEDOUT);
	join(tr); /* would hang if the reader stayed parked */
	ck_assert_int_eq(r.result, 0);
	CK(f2_rwlock_unlock(&rw));
	ck_assert_uint_eq(word(&rw), 0);
}
END_TEST

/* ---- starvation, counted -------------------------------------------------- */

/* What is counted is what the lock decides, not what the scheduler does: a
 * "passing" entry is one made while the word shows the other side waiting.
 * A reader counts one when a writer is counted in the word while it holds the
 * lock; a writer counts one when readers are queued while it holds it. With
 * writer preference and phase alternation each waiting thread can be passed
 * only by what was already inside or granted when it queued, whatever the
 * time slices: a thread that the scheduler keeps off the CPU outside the lock
 * (after its unlock, say) is not waiting, and readers may run meanwhile. */
struct mix {
	f2_rwlock_t rw;
	long a, b;            /* writers keep a == b */
	long reads, writes;   /* progress counters */
	long passing;         /* entries while the other side waited */
	int stop;
	long cap;             /* passing entries that end the test (a mutant) */
	int bad;
};

/* Counts a passing entry; at the cap, stops the relay. */
static void passed(struct mix *m)
{
	if (__atomic_add_fetch(&m->passing, 1, __ATOMIC_RELAXED) >= m->cap)
		__atomic_store_n(&m->stop, 1, __ATOMIC_RELAXED);
}

static void *mix_reader(void *p)
{
	struct mix *m = p;
	while (!__atomic_load_n(&m->stop, __ATOMIC_RELAXED)) {
		CK(f2_rwlock_rdlock(&m->rw));
		if (m->a != m->b)
			__atomic_store_n(&m->bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&m->reads, 1, __ATOMIC_RELAXED);
		if (rw_writers(word(&m->rw)) > 0)
			passed(m); /* or the writer queued while we were inside */
		/* relay: hold on (a bounded while) until another reader is in, so
		 * the read side never drains by itself */
		for (int i = 0; i < 200 && rw_readers(word(&m->rw)) < 2; i++)
			sched_yield();
		CK(f2_rwlock_unlock(&m->rw));
	}
	return NULL;
}

static void *mix_writer(void *p)
{
	struct mix *m = p;
	while (!__atomic_load_n(&m->stop, __ATOMIC_RELAXED)) {
		CK(f2_rwlock_wrlock(&m->rw));
		m->a++;
		m->b++;
		__atomic_add_fetch(&m->writes, 1, __ATOMIC_RELAXED);
		if (rw_readers(word(&m->rw)) > 0)
			passed(m); /* or the reader queued while we were inside */
		/* relay: hold on (a bounded while) until another writer queues, so
		 * every unlock has a writer to hand to */
		for (int i = 0; i < 200 && rw_writers(word(&m->rw)) < 2; i++)
			sched_yield();
		CK(f2_rwlock_unlock(&m->rw));
	}
	return NULL;
}

/* _i readers (8, or 32 on 2 CPUs) read in relay: each holds on until another
 * reader is in, so without writer preference the read side never drains. One
 * writer must still get 200 write locks, and while it is counted at most the
 * readers already inside can enter: each reader thread holds one lock at a
 * time and cannot come back while the writer waits, so a writer wait is
 * passed at most once per reader (those inside when it queued, or let in by
 * the writer's own previous unlock). */
START_TEST(test_writer_not_starved)
{
	static const int nreaders[] = { 8, 32 };
	static struct mix m;
	int n = nreaders[_i];
	pthread_t t[32];

	memset(&m, 0, sizeof m);
	m.cap = 1000000;
	for (int i = 0; i < n; i++)
		t[i] = spawn(mix_reader, &m);
	while (__atomic_load_n(&m.reads, __ATOMIC_RELAXED) < 1000)
		sched_yield();
	long writes = 0;
	while (writes < 200 && !__atomic_load_n(&m.stop, __ATOMIC_RELAXED)) {
		CK(f2_rwlock_wrlock(&m.rw));
		m.a++;
		m.b++;
		writes++;
		CK(f2_rwlock_unlock(&m.rw));
	}
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		join(t[i]);
	ck_assert_int_eq(writes, 200);
	ck_assert_int_le(m.passing, (long)n * (writes + 1));
	ck_assert_int_eq(m.bad, 0);
	ck_assert_int_eq(m.a, 200);
}
END_TEST

/* _i writers (4, or 16 on 2 CPUs) write in relay: each holds on until
 * another writer queues, so every unlock could hand to a writer. A reader
 * must still get 2000 read locks, and once it is queued only the write phase
 * under way (a holder, or a grant made before it queued) may pass it: the
 * next unlock lets it in (phase alternation). */
START_TEST(test_readers_not_starved)
{
	static const int nwriters[] = { 4, 16 };
	static struct mix m;
	int n = nwriters[_i];
	pthread_t t[16];

	memset(&m, 0, sizeof m);
	m.cap = 1000000;
	for (int i = 0; i < n; i++)
		t[i] = spawn(mix_writer, &m);
	while (__atomic_load_n(&m.writes, __ATOMIC_RELAXED) < 100)
		sched_yield();
	long reads = 0;
	while (reads < 2000 && !__atomic_load_n(&m.stop, __ATOMIC_RELAXED)) {
		CK(f2_rwlock_rdlock(&m.rw));
		if (m.a != m.b)
			m.bad = 1;
		reads++;
		CK(f2_rwlock_unlock(&m.rw));
	}
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		join(t[i]);
	ck_assert_int_eq(reads, 2000);
	ck_assert_int_le(m.passing, reads + 1);
	ck_assert_int_eq(m.bad, 0);
	ck_assert_int_eq(m.a, m.writes);
}
END_TEST

/* 16 threads (more than cores), mixed and timed: no lost update, no torn read. */
struct heavy {
	f2_rwlock_t rw;
	long a, b;
	long iters;
	int bad;
	long timeouts;
};

static void *heavy_thread(void *p)
{
	struct heavy *h = p;
	unsigned seed = (unsigned)(uintptr_t)&seed;
	for (long i = 0; i < h->iters; i++) {
		int kind = rand_r(&seed) % 4, r;
		struct timespec d = deadline(CLOCK_MONOTONIC, 200000);
		struct timespec rd = deadline(CLOCK_REALTIME, 200000);
		if (kind == 0) {
			CK(f2_rwlock_wrlock(&h->rw));
		} else if (kind == 1) {
			r = f2_rwlock_timedwrlock(&h->rw, &d, CLOCK_MONOTONIC);
			if (r == ETIMEDOUT) {
				__atomic_add_fetch(&h->timeouts, 1, __ATOMIC_RELAXED);
				i--;
				continue;
			}
			CK(r);
		} else {
			r = kind == 2 ? f2_rwlock_rdlock(&h->rw)
				      : f2_rwlock_timedrdlock(&h->rw, &rd, CLOCK_REALTIME);
			if (r == ETIMEDOUT) {
				__atomic_add_fetch(&h->timeouts, 1, __ATOMIC_RELAXED);
				continue;
			}
			CK(r);
			if (h->a != h->b)
				__atomic_store_n(&h->bad, 1, __ATOMIC_RELAXED);
			CK(f2_rwlock_unlock(&h->rw));
			continue;
		}
		h->a++;
		h->b++;
		CK(f2_rwlock_unlock(&h->rw));
	}
	return NULL;
}

START_TEST(test_more_threads_than_cores)
{
	static struct heavy h;
	pthread_t t[16];

	memset(&h, 0, sizeof h);
	h.iters = 3000;
	for (int i = 0; i < 16; i++)
		t[i] = spawn(heavy_thread, &h);
	for (int i = 0; i < 16; i++)
		join(t[i]);
	ck_assert_int_eq(h.bad, 0);
	ck_assert_int_eq(h.a, h.b);
	ck_assert_int_gt(h.a, 0);
	ck_assert_int_le(h.a, 16 * h.iters);
	ck_assert_uint_eq(word(&h.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

/* ---- destruction right after unlock ---------------------------------------- */

static void *free_after_write(void *p)
{
	f2_rwlock_t *rw = p;
	CK(f2_rwlock_wrlock(rw));
	CK(f2_rwlock_unlock(rw));
	free(rw);
	return NULL;
}

static void *free_after_read(void *p)
{
	f2_rwlock_t *rw = p;
	CK(f2_rwlock_rdlock(rw));
	CK(f2_rwlock_unlock(rw));
	free(rw);
	return NULL;
}

/* The waiter takes the lock the moment the holder's unlock releases it and
 * frees it at once, while the holder may still be inside unlock (ASan,
 * TSan). The holder unlocks only once the waiter sleeps, so that its unlock
 * wakes after its release: writer to writer (a grant), reader to writer
 * (the last reader's grant) and writer to reader (the phase flip). */
START_TEST(test_free_right_after_unlock)
{
	for (int i = 0; i < 300; i++) {
		f2_rwlock_t *rw = malloc(sizeof *rw);
		*rw = (f2_rwlock_t)F2_RWLOCK_INITIALIZER;
		int holder_reads = i % 3 == 1, waiter_reads = i % 3 == 2;
		CK(holder_reads ? f2_rwlock_rdlock(rw) : f2_rwlock_wrlock(rw));
		pthread_t t = spawn(waiter_reads ? free_after_read : free_after_write, rw);
		await_counts(rw, holder_reads + waiter_reads, 1 + !holder_reads - waiter_reads);
		while (!(word(rw) & (waiter_reads ? RW_RPARKED : RW_WPARKED)))
			sched_yield();
		CK(f2_rwlock_unlock(rw)); /* rw may be gone after this */
		join(t);
	}
}
END_TEST

/* Writers park and time out among other parked writers (each grant wakes
 * one of them, and a writer that slept passes WPARKED on), while readers
 * hold the lock long enough to make them sleep: 32 writers, half of them
 * timed with deadlines of up to 2 ms, and 4 readers, on 2 CPUs. No lost
 * wakeup (the blocking writers all finish), no lost update, and the word
 * keeps no writer bit once everybody left. */
struct wpark {
	f2_rwlock_t rw;
	long count, successes, timeouts;
	int bad;
	int readers_stop;
};

struct wpark_arg {
	struct wpark *w;
	unsigned id;
};

static void *wpark_writer(void *p)
{
	struct wpark_arg *a = p;
	struct wpark *w = a->w;
	unsigned seed = a->id * 2654435761u + 1;

	for (int i = 0; i < 200; i++) {
		int r;
		if (a->id & 1) {
			struct timespec d = deadline(CLOCK_MONOTONIC, rand_r(&seed) % 2000000);
			r = f2_rwlock_timedwrlock(&w->rw, &d, CLOCK_MONOTONIC);
			if (r == ETIMEDOUT) {
				__atomic_add_fetch(&w->timeouts, 1, __ATOMIC_RELAXED);
				continue;
			}
			CK(r);
		} else {
			CK(f2_rwlock_wrlock(&w->rw));
		}
		w->count++;
		__atomic_add_fetch(&w->successes, 1, __ATOMIC_RELAXED);
		CK(f2_rwlock_unlock(&w->rw));
	}
	return NULL;
}

static void *wpark_reader(void *p)
{
	struct wpark *w = p;
	struct timespec nap = { 0, 200000 };

	while (!__atomic_load_n(&w->readers_stop, __ATOMIC_RELAXED)) {
		CK(f2_rwlock_rdlock(&w->rw));
		long c = w->count;
		nanosleep(&nap, NULL); /* long enough for the writers to park */
		if (w->count != c)
			__atomic_store_n(&w->bad, 1, __ATOMIC_RELAXED);
		CK(f2_rwlock_unlock(&w->rw));
	}
	return NULL;
}

START_TEST(test_parked_writers_time_out)
{
	static struct wpark w;
	static struct wpark_arg a[32];
	pthread_t tw[32], tr[4];

	memset(&w, 0, sizeof w);
	for (int i = 0; i < 4; i++)
		tr[i] = spawn(wpark_reader, &w);
	for (unsigned i = 0; i < 32; i++) {
		a[i] = (struct wpark_arg){ &w, i };
		tw[i] = spawn(wpark_writer, &a[i]);
	}
	for (int i = 0; i < 32; i++)
		join(tw[i]);
	__atomic_store_n(&w.readers_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		join(tr[i]);
	ck_assert_int_eq(w.bad, 0);
	ck_assert_int_eq(w.count, w.successes);
	ck_assert_int_eq(w.successes + w.timeouts, 32 * 200);
	ck_assert_uint_eq(word(&w.rw) & ~(uint32_t)RW_RPARKED, 0);
}
END_TEST

Suite *rwlock_suite(void)
{
	Suite *s = suite_create("rwlock");
	TCase *tc = tcase_create("contract");
	tcase_add_test(tc, test_initial_states);
	tcase_add_test(tc, test_readers_share_writers_exclude);
	tcase_add_test(tc, test_timed_bad_args);
	tcase_add_loop_test(tc, test_timed_past_deadline, 0, 2);
	tcase_add_loop_test(tc, test_timed_never_early, 0, 2);
	tcase_add_test(tc, test_reader_overflow_eagain);
	suite_add_tcase(s, tc);

	tc = tcase_create("fairness");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_phase_alternation);
	tcase_add_test(tc, test_writer_preference);
	tcase_add_test(tc, test_writer_timeout_frees_readers);
	tcase_add_loop_test(tc, test_writer_not_starved, 0, 2);
	tcase_add_loop_test(tc, test_readers_not_starved, 0, 2);
	tcase_add_test(tc, test_more_threads_than_cores);
	tcase_add_test(tc, test_free_right_after_unlock);
	tcase_add_test(tc, test_parked_writers_time_out);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(rwlock_suite());
}
