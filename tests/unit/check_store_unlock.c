/* Store unlock (src/sync/store_unlock.h): the uncontended mutex release
 * by a plain store inside an rseq critical section, and the RMW_UNLOCK bit that
 * turns it off while a mutex has waiters. The race it must win is the one
 * between an owner that has read "exactly HELD" and a waiter that marks the
 * word PARKED and goes to sleep: a lost wakeup there fails race_with_marking
 * (await_round).
 * Every test but the configuration one runs on both widths (loop index 0:
 * f2_mutex_t, 1: f2_mutex8_t). The suite also runs with F2SYNC_RSEQ=0 (the
 * RMW unlock everywhere). */
#include <check.h>
#include <linux/membarrier.h>
#include <stdatomic.h>
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif
#include <sys/syscall.h>
#include <sys/wait.h>

#include "f2sync/cond.h"
#include "f2sync/mutex.h"
#include "f2sync/runtime.h"
#include "internal/time.h"
#include "sync/mutex_impl.h"
#include "unit/sync_test.h"
#include "common/deny_membarrier.h"
#include "common/testutil.h"

/* The sanitizer builds run the race a tenth as often (they are 5-20x slower). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RACE_ROUNDS 2000
#else
#define RACE_ROUNDS 20000
#endif

struct width {
	size_t size;
	int (*lock)(void *);
	int (*trylock)(void *);
	int (*unlock)(void *);
	unsigned flags; /* futex flags of its word */
};
static int l32(void *m) { return f2_mutex_lock(m); }
static int t32(void *m) { return f2_mutex_trylock(m); }
static int u32(void *m) { return f2_mutex_unlock(m); }
static int l8(void *m) { return f2_mutex8_lock(m); }
static int t8(void *m) { return f2_mutex8_trylock(m); }
static int u8(void *m) { return f2_mutex8_unlock(m); }
static const struct width W[2] = {
	{ sizeof(f2_mutex_t), l32, t32, u32, F2_SIZE_U32 | F2_PRIVATE },
	{ sizeof(f2_mutex8_t), l8, t8, u8, F2_SIZE_U8 | F2_PRIVATE },
};

/* A fresh mutex of width w, set to its initializer (word 0, node -1). */
static void *mx_new(const struct width *w)
{
	void *m = aligned_alloc(8, 8);
	memset(m, 0, 8);
	((int8_t *)m)[w->size == 2 ? 1 : 4] = -1;
	return m;
}

static unsigned word_of(const struct width *w, void *m)
{
	return w->size == 2 ? __atomic_load_n((uint8_t *)m, __ATOMIC_RELAXED)
	                    : __atomic_load_n((uint32_t *)m, __ATOMIC_RELAXED);
}

/* Free, with only the bits that outlive every waiter: RMW_UNLOCK, and a WAKER
 * (with its GEN) whose wake found nobody (mutex_impl.h). */
static int quiescent(const struct width *w, void *m)
{
	return (word_of(w, m) & (F2_MX_HELD | F2_MX_PARKED | F2_MX_STARVE)) == F2_MX_UNLOCKED;
}

static int rseq_off(void)
{
	const char *e = getenv("F2SYNC_RSEQ");
	return e && strcmp(e, "0") == 0;
}

/* What the kprofile launcher took away (tests/kprofile.c): k4.18 refuses
 * membarrier's rseq commands, norseq starts glibc without rseq. */
static int profile_lacks_rseq(void)
{
	const char *p = getenv("F2TEST_PROFILE");
	return p && (!strcmp(p, "k4.18") || !strcmp(p, "norseq"));
}

/* What this process and kernel offer, asked of them directly: libc has
 * registered rseq for this thread (glibc 2.35+, not disabled by tunable), and
 * membarrier takes the rseq registration (Linux 5.10+, no seccomp filter in
 * the way; registering twice is harmless). */
static int kernel_offers_store_unlock(void)
{
#ifdef RSEQ_SIG
	if (__rseq_size == 0)
		return 0;
	return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) == 0;
#else
	return 0; /* a libc without <sys/rseq.h>'s __rseq_size registers no rseq */
#endif
}

START_TEST(enabled_as_configured)
{
	/* On whenever the build has it (x86-64, no sanitizer that cannot see the
	 * asm store), F2SYNC_RSEQ=0 does not turn it off, and the kernel and libc
	 * offer it; off, and every lock still works, everywhere else. */
	int offered = kernel_offers_store_unlock();
	if (profile_lacks_rseq()) /* the probe itself sees what the profile took */
		ck_assert_int_eq(offered, 0);
	ck_assert_int_eq(f2_su_state, F2_HAVE_STORE_UNLOCK && !rseq_off() && offered
	                                  ? F2_SU_ON : F2_SU_OFF);
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	ck_assert_uint_eq(m.word, F2_MX_UNLOCKED);
}
END_TEST

struct race {
	const struct width *w;
	_Atomic(void *) m;         /* the round's mutex, held by the main thread */
	atomic_int taken;          /* rounds the locker has completed */
	pid_t tid;
};

#define RACE_END ((void *)1)

static void *locker(void *arg)
{
	struct race *r = arg;
	int done = 0;
	void *m;

	__atomic_store_n(&r->tid, test_gettid(), __ATOMIC_SEQ_CST);
	for (;;) {
		while (!(m = atomic_load(&r->m)))
			sched_yield();
		if (m == RACE_END)
			return NULL;
		atomic_store(&r->m, NULL);
		ck_assert_int_eq(r->w->lock(m), 0);
		ck_assert_int_eq(r->w->unlock(m), 0);
		atomic_store(&r->taken, ++done);
	}
}

/* Waits for the locker to finish round n on m, which the caller has
 * unlocked. Fails by assertion rather than by hanging: a locker asleep while
 * the word has no holder (free, or reserved for it as the starver) was not
 * woken by an unlock that has returned: a lost wakeup, reported once seen on
 * LOST_CHECKS checks 1 ms apart (a woken thread is runnable, never asleep, so
 * no scheduling delay can look like this). Any other lack of progress fails
 * at a deadline far beyond a round's cost on a loaded machine. */
#define LOST_CHECKS 200
#define ROUND_BOUND_NS (60 * 1000000000ll)

static void await_round(struct race *r, int n, void *m)
{
	struct timespec bound = tu_deadline(CLOCK_MONOTONIC, ROUND_BOUND_NS);
	int asleep_on_free = 0;

	for (int spins = 0; atomic_load(&r->taken) != n; spins++) {
		if (spins < 4096) {
			sched_yield();
			continue;
		}
		usleep(1000);
		if (thread_sleeping(__atomic_load_n(&r->tid, __ATOMIC_SEQ_CST)) &&
		    !(word_of(r->w, m) & F2_MX_HELD))
			asleep_on_free++;
		else
			asleep_on_free = 0;
		ck_assert_msg(asleep_on_free < LOST_CHECKS || atomic_load(&r->taken) == n,
		              "round %d: lost wakeup: the locker sleeps on a free mutex (word %#x)", n,
		              word_of(r->w, m));
		ck_assert_msg(!tu_reached(CLOCK_MONOTONIC, &bound) || atomic_load(&r->taken) == n,
		              "round %d: the locker made no progress in 60 s (word %#x)", n,
		              word_of(r->w, m));
	}
}

/* Every round a fresh mutex (never marked yet, so its owner may store-unlock)
 * is held while a locker marks it and parks; the owner unlocks after a delay
 * that walks across the locker's spin-mark-park window. */
START_TEST(race_with_marking)
{
	const struct width *w = &W[_i];
	struct race r = { w, NULL, 0, 0 };
	pthread_t t;

	ck_assert_int_eq(f2_tune_set(F2_TUNE_SPIN, 2), 0); /* mark almost at once */
	ck_assert_int_eq(pthread_create(&t, NULL, locker, &r), 0);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		void *m = mx_new(w);
		ck_assert_int_eq(w->lock(m), 0);
		atomic_store(&r.m, m);
		for (volatile int d = 0; d < (i * 37) % 3000; d++)
			;
		ck_assert_int_eq(w->unlock(m), 0);
		await_round(&r, i + 1, m);
		/* the locker has unlocked: nothing touches m any more */
		free(m);
	}
	atomic_store(&r.m, RACE_END);
	pthread_join(t, NULL);
}
END_TEST

/* A mutex that had a waiter keeps RMW_UNLOCK (its unlock is the RMW one) until
 * a run of quiet unlocks drops it; without store unlock the bit never shows. */
START_TEST(contended_bit_lifecycle)
{
	const struct width *w = &W[_i];
	void *m = mx_new(w);
	struct race r = { w, NULL, 0, 0 };
	pthread_t t;
	int n;

	ck_assert_int_eq(w->lock(m), 0);
	ck_assert_int_eq(w->unlock(m), 0);
	ck_assert_uint_eq(word_of(w, m), F2_MX_UNLOCKED);

	ck_assert_int_eq(pthread_create(&t, NULL, locker, &r), 0);
	ck_assert_int_eq(w->lock(m), 0);
	atomic_store(&r.m, m);
	while (!__atomic_load_n(&r.tid, __ATOMIC_SEQ_CST) || atomic_load(&r.m))
		sched_yield();
	wait_parked(r.tid, w->flags);
	ck_assert_int_eq(w->unlock(m), 0);
	while (atomic_load(&r.taken) != 1)
		sched_yield();
	atomic_store(&r.m, RACE_END);
	pthread_join(t, NULL);
	/* the waiter took it with PARKED (it had slept): its unlock woke nobody
	 * and left WAKER */
	ck_assert_uint_eq(word_of(w, m),
	                  (f2_su_state == F2_SU_ON ? F2_MX_RMW_UNLOCK : F2_MX_UNLOCKED) | F2_MX_WAKER |
	                  f2_mx_gen_bits(w->size == 2 ? F2_SIZE_U8 : F2_SIZE_U32));

	for (n = 0; n < 64 && word_of(w, m) != F2_MX_UNLOCKED; n++) {
		ck_assert_int_eq(w->lock(m), 0);
		ck_assert_uint_eq(word_of(w, m) & F2_MX_HELD, F2_MX_HELD);
		ck_assert_int_eq(w->unlock(m), 0);
	}
	ck_assert_uint_eq(word_of(w, m), F2_MX_UNLOCKED);
	ck_assert_int_eq(w->trylock(m), 0);
	ck_assert_int_eq(w->trylock(m), EBUSY);
	ck_assert_int_eq(w->unlock(m), 0);
	ck_assert_int_eq(w->unlock(m), EPERM);
	free(m);
}
END_TEST

/* Many threads over a few mutexes, with the spin budget at zero so that
 * marking happens all the time; quiet unlocks drop RMW_UNLOCK now and then, so
 * the store-unlock state and the fence keep coming back: the counts must add
 * up and every mutex must end free. */
struct herd {
	const struct width *w;
	void *m[4];
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
		ck_assert_int_eq(h->w->lock(h->m[k]), 0);
		h->count[k]++;
		ck_assert_int_eq(h->w->unlock(h->m[k]), 0);
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
	h.w = &W[_i];
	for (int k = 0; k < 4; k++)
		h.m[k] = mx_new(h.w);
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
	for (int k = 0; k < 4; k++) {
		ck_assert(quiescent(h.w, h.m[k]));
		free(h.m[k]);
	}
}
END_TEST

/* The pthread shim's process-shared mutex: node F2_NODE_SHARED, initialised
 * RMW_UNLOCK, must never decay to the store unlock (another process's waiter
 * could not fence this one). */
START_TEST(shared_mutex_stays_contended)
{
	f2_mutex_t m = { F2_MX_RMW_UNLOCK, F2_NODE_SHARED };

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(f2_mutex_lock(&m), 0);
		ck_assert_uint_eq(m.word, F2_MX_RMW_UNLOCK | F2_MX_HELD);
		ck_assert_int_eq(f2_mutex_unlock(&m), 0);
		ck_assert_uint_eq(m.word, F2_MX_RMW_UNLOCK);
	}
	ck_assert_int_eq(f2_mutex_unlock(&m), EPERM);
}
END_TEST

/* Losing membarrier (docs/design/mutex.md, "Losing membarrier"). A store
 * unlock that read ON before the loss may commit over a waiter's mark
 * without a wake; the tests play that owner by storing 0 into the word. */
static void wipe(const struct width *w, void *m)
{
	if (w->size == 2)
		__atomic_store_n((uint8_t *)m, 0, __ATOMIC_RELEASE);
	else
		__atomic_store_n((uint32_t *)m, 0, __ATOMIC_RELEASE);
}

/* A waiter asleep on a word whose marks get wiped still takes the mutex:
 * with the state LOST its sleeps are bounded. */
START_TEST(lost_sleep_is_bounded)
{
	const struct width *w = &W[_i];
	void *m = mx_new(w);
	struct race r = { w, NULL, 0, 0 };
	int saved = f2_su_state;
	pthread_t t;

	f2_su_state = F2_SU_LOST; /* as after a failed fence */
	ck_assert_int_eq(w->lock(m), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, locker, &r), 0);
	atomic_store(&r.m, m);
	while (!__atomic_load_n(&r.tid, __ATOMIC_SEQ_CST) || atomic_load(&r.m))
		sched_yield();
	wait_parked(r.tid, w->flags);
	/* (STARVE|GEN too once it has waited handoff_ns: its rechecks see that) */
	ck_assert_uint_eq(word_of(w, m) & ~(F2_MX_STARVE | F2_MX_GEN), F2_MX_HELD | F2_MX_PARKED);
	wipe(w, m); /* no wake follows */
	while (atomic_load(&r.taken) != 1)
		sched_yield();
	atomic_store(&r.m, RACE_END);
	pthread_join(t, NULL);
	ck_assert(quiescent(w, m));
	f2_su_state = saved;
	free(m);
}
END_TEST

/* A waiter that times out after its mark passes the wake on: here the only
 * other waiter is a condvar waiter requeued onto the mutex word, which
 * sleeps unbounded; the mark is then wiped. */
struct requeued {
	f2_cond_t c;
	f2_mutex_t m;
	atomic_int waiting, done;
	pid_t tid;
};

static void *cond_waiter(void *arg)
{
	struct requeued *q = arg;

	__atomic_store_n(&q->tid, test_gettid(), __ATOMIC_SEQ_CST);
	ck_assert_int_eq(f2_mutex_lock(&q->m), 0);
	atomic_store(&q->waiting, 1);
	ck_assert_int_eq(f2_cond_wait(&q->c, &q->m), 0);
	ck_assert_int_eq(f2_mutex_unlock(&q->m), 0);
	atomic_store(&q->done, 1);
	return NULL;
}

static void *timed_locker(void *arg)
{
	struct requeued *q = arg;
	struct timespec d;

	clock_gettime(CLOCK_MONOTONIC, &d);
	d.tv_nsec += 20000000;
	if (d.tv_nsec >= 1000000000) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000;
	}
	ck_assert_int_eq(f2_mutex_timedlock(&q->m, &d, CLOCK_MONOTONIC), ETIMEDOUT);
	return NULL;
}

START_TEST(lost_give_up_passes_the_wake)
{
	struct requeued q = { F2_COND_INITIALIZER, F2_MUTEX_INITIALIZER, 0, 0, 0 };
	struct f2_futex_waitv ft[2];
	int saved = f2_su_state;
	pthread_t r, t;

	f2_su_state = F2_SU_LOST;
	ck_assert_int_eq(pthread_create(&r, NULL, cond_waiter, &q), 0);
	while (!atomic_load(&q.waiting))
		sched_yield();
	wait_parked(__atomic_load_n(&q.tid, __ATOMIC_SEQ_CST), F2_SIZE_U32 | F2_PRIVATE);
	ck_assert_int_eq(f2_mutex_lock(&q.m), 0); /* exactly HELD */
	/* what broadcast does to a waiter beyond the two it wakes */
	memset(ft, 0, sizeof(ft));
	ft[0].uaddr = &q.c;
	ft[0].val = __atomic_load_n(&q.c.seq, __ATOMIC_SEQ_CST);
	ft[0].flags = f2_pair_flags(&q.c, F2_SIZE_U32);
	ft[1].uaddr = &q.m;
	ft[1].flags = f2_pair_flags(&q.m, F2_SIZE_U32);
	ck_assert_int_eq(f2_futex_requeue(ft, 0, 1), 1);
	/* the timed waiter marks HELD -> HELD|PARKED, times out, wakes one */
	ck_assert_int_eq(pthread_create(&t, NULL, timed_locker, &q), 0);
	pthread_join(t, NULL);
	wipe(&W[0], &q.m);
	pthread_join(r, NULL);
	ck_assert_int_eq(atomic_load(&q.done), 1);
	ck_assert(quiescent(&W[0], &q.m));
	f2_su_state = saved;
}
END_TEST

#define SC_THREADS 8 /* more than the CPUs */
#define SC_MUTEXES 4

struct sc_run {
	const struct width *w;
	void *m[SC_MUTEXES];
	long count[SC_MUTEXES];
	int err;
	atomic_int denied, stop;
};

/* Locks (every fourth time with a deadline 0.2 ms away, so that give-ups
 * happen too) until stop; returns the acquisitions it made. */
static void *sc_worker(void *arg)
{
	struct sc_run *s = arg;
	unsigned x = (unsigned)test_gettid();
	long mine = 0;

	for (long i = 0; !atomic_load_explicit(&s->stop, memory_order_relaxed); i++) {
		int k = (int)((x = x * 1103515245u + 12345u) >> 16) % SC_MUTEXES;
		void *m = s->m[k];
		if (i % 4 == 0) {
			struct timespec d;
			int r;
			clock_gettime(CLOCK_MONOTONIC, &d);
			d.tv_nsec += 200000;
			if (d.tv_nsec >= 1000000000) {
				d.tv_sec++;
				d.tv_nsec -= 1000000000;
			}
			r = s->w->size == 2 ? f2_mutex8_timedlock(m, &d, CLOCK_MONOTONIC)
			                    : f2_mutex_timedlock(m, &d, CLOCK_MONOTONIC);
			if (r == ETIMEDOUT)
				continue;
			if (r != 0)
				_exit(10);
		} else if (s->w->lock(m) != 0) {
			_exit(11);
		}
		s->count[k]++;
		if (s->w->unlock(m) != 0)
			_exit(12);
		mine++;
	}
	return (void *)mine;
}

static void *sc_sandboxer(void *arg)
{
	struct sc_run *s = arg;
	unsigned delay_us = (unsigned)(f2_now_ns(CLOCK_MONOTONIC) / 1000 % 100000);

	usleep(delay_us); /* a random moment within the first 0.1 s */
	if (deny_membarrier(s->err) != 0)
		_exit(13);
	atomic_store(&s->denied, 1);
	return NULL;
}

/* The child process of membarrier_denied_midway; exits 0 if all is well. */
static void sc_child(const struct width *w, int err)
{
	struct sc_run s;
	pthread_t t[SC_THREADS], sb;
	long total = 0;
	int was_on = f2_su_state == F2_SU_ON;

	alarm(120); /* a lost wakeup hangs: turn it into a failure */
	memset(&s, 0, sizeof(s));
	s.w = w;
	s.err = err;
	for (int k = 0; k < SC_MUTEXES; k++)
		s.m[k] = mx_new(w);
	if (f2_tune_set(F2_TUNE_SPIN, 0) != 0)
		_exit(14);
	for (int i = 0; i < SC_THREADS; i++)
		pthread_create(&t[i], NULL, sc_worker, &s);
	pthread_create(&sb, NULL, sc_sandboxer, &s);
	pthread_join(sb, NULL);
	usleep(300000); /* keep contending well after the loss */
	atomic_store(&s.stop, 1);
	for (int i = 0; i < SC_THREADS; i++) {
		void *v;
		pthread_join(t[i], &v);
		total += (long)v;
	}
	if (s.count[0] + s.count[1] + s.count[2] + s.count[3] != total)
		_exit(15);
	for (int k = 0; k < SC_MUTEXES; k++)
		if (!quiescent(w, s.m[k]))
			_exit(16);
	/* one mark of an exactly-HELD word after the loss: its fence fails, the
	 * state turns LOST (if store unlock was on) and nothing aborts */
	struct race r = { w, NULL, 0, 0 };
	void *m = mx_new(w);
	pthread_t lt;
	if (w->lock(m) != 0)
		_exit(17);
	pthread_create(&lt, NULL, locker, &r);
	atomic_store(&r.m, m);
	while (!__atomic_load_n(&r.tid, __ATOMIC_SEQ_CST) || atomic_load(&r.m))
		sched_yield();
	wait_parked(r.tid, w->flags);
	if (w->unlock(m) != 0)
		_exit(18);
	while (atomic_load(&r.taken) != 1)
		sched_yield();
	atomic_store(&r.m, RACE_END);
	pthread_join(lt, NULL);
	if (f2_su_state != (was_on ? F2_SU_LOST : F2_SU_OFF))
		_exit(19);
	_exit(0);
}

/* Threads contend on mutexes of one width while another thread installs a
 * seccomp filter that makes membarrier fail (EPERM or ENOSYS) at a random
 * moment: every count is exact, nothing aborts or hangs. In a child process,
 * so that the filter stays there. */
START_TEST(membarrier_denied_midway)
{
	const struct width *w = &W[_i % 2];
	int err = _i < 2 ? EPERM : ENOSYS, st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		sc_child(w, err);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child killed by signal %d", WTERMSIG(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

static Suite *store_unlock_suite(void)
{
	Suite *s = suite_create("store_unlock");
	TCase *tc = tcase_create("store_unlock");
	tcase_add_test(tc, enabled_as_configured);
	tcase_add_loop_test(tc, race_with_marking, 0, 2);
	tcase_add_loop_test(tc, contended_bit_lifecycle, 0, 2);
	tcase_add_loop_test(tc, herd_over_few_mutexes, 0, 2);
	tcase_add_test(tc, shared_mutex_stays_contended);
	tcase_add_loop_test(tc, lost_sleep_is_bounded, 0, 2);
	tcase_add_test(tc, lost_give_up_passes_the_wake);
	/* qemu-user installs no guest seccomp filter (seccomp(2) is ENOSYS,
	 * PR_SET_SECCOMP EINVAL: a filter would see the host's syscalls), so the
	 * membarrier loss cannot be staged there; every native run stages it. */
	if (!tu_emulated())
		tcase_add_loop_test(tc, membarrier_denied_midway, 0, 4);
	else
		printf("membarrier_denied_midway: not run: qemu-user has no guest seccomp\n");
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(store_unlock_suite());
}
