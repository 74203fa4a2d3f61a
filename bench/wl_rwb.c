/* Reader-writer lock and barrier workloads.
 *
 * rwlock: T threads for a fixed time; each operation is a read (share lock,
 * check that the two guarded fields agree) with probability read%, else a
 * write (exclusive lock, bump both fields with work in between). Checks: no
 * reader saw a torn pair, and both fields equal the number of writes.
 *
 * barrier: T threads pass R rounds (fewer above 16 threads, see wl_barrier).
 * Checks: exactly one serial thread per round, and nobody leaves round i
 * before all T arrived in it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "f2bench.h"

#define MAX_REPS 64

struct rw_shared {
	struct f2b_gate gate;
	const struct f2b_impl *im;
	void *rw;
	long a, b;          /* guarded by rw */
	long torn;          /* readers that saw a != b */
	int read_pct, cs;
};

struct rw_thread {
	struct rw_shared *sh;
	long ops, writes;
	uint64_t seed;
	pthread_t tid;
} __attribute__((aligned(64)));

static void *rw_main(void *arg)
{
	struct rw_thread *t = arg;
	struct rw_shared *sh = t->sh;
	const struct f2b_impl *im = sh->im;
	uint64_t x = t->seed;
	f2b_gate_arrive(&sh->gate);
	while (!f2b_gate_stopped(&sh->gate)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if ((int)(x % 100) < sh->read_pct) {
			im->rdlock(sh->rw);
			long a = __atomic_load_n(&sh->a, __ATOMIC_RELAXED);
			f2b_work(sh->cs);
			long b = __atomic_load_n(&sh->b, __ATOMIC_RELAXED);
			im->rdunlock(sh->rw);
			if (a != b)
				__atomic_fetch_add(&sh->torn, 1, __ATOMIC_RELAXED);
		} else {
			im->wrlock(sh->rw);
			__atomic_store_n(&sh->a, sh->a + 1, __ATOMIC_RELAXED);
			f2b_work(sh->cs);
			__atomic_store_n(&sh->b, sh->b + 1, __ATOMIC_RELAXED);
			im->wrunlock(sh->rw);
			t->writes++;
		}
		t->ops++;
		f2b_work(sh->cs);
	}
	return NULL;
}

static int rw_run(const struct f2b_impl *im, int T, int read_pct, double *ops_per_s, long *ops)
{
	struct rw_shared sh = { .im = im, .read_pct = read_pct, .cs = f2b_cfg.cs };
	struct rw_thread *th = aligned_alloc(64, sizeof *th * (size_t)T);
	sh.rw = f2b_obj_alloc(im->rwsize);
	im->rwinit(sh.rw);
	for (int i = 0; i < T; i++) {
		th[i] = (struct rw_thread){ .sh = &sh, .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) };
		if (pthread_create(&th[i].tid, NULL, rw_main, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	uint64_t t0 = f2b_gate_open(&sh.gate, (uint32_t)T);
	struct timespec d = { f2b_cfg.duration_ms / 1000, (f2b_cfg.duration_ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
	f2b_gate_close(&sh.gate);
	uint64_t t1 = f2b_now_ns();
	long sum = 0, writes = 0;
	for (int i = 0; i < T; i++) {
		pthread_join(th[i].tid, NULL);
		sum += th[i].ops;
		writes += th[i].writes;
	}
	int ok = sh.torn == 0 && sh.a == writes && sh.b == writes;
	if (!ok)
		f2b_fail("rwlock %s T=%d: %ld torn reads, fields %ld/%ld, %ld writes", im->name, T,
		         sh.torn, sh.a, sh.b, writes);
	*ops_per_s = (double)sum * 1e9 / (double)(t1 - t0);
	*ops = sum;
	if (im->rwdestroy)
		im->rwdestroy(sh.rw);
	free(sh.rw);
	free(th);
	return ok;
}

void wl_rwlock(void)
{
	int R = f2b_cfg.reps;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	int k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "rwlock", F2B_CAP_RW))
			ims[k++] = &f2b_impls[i];
	for (int pi = 0; pi < f2b_cfg.read_pct.n; pi++)
		for (int ti = 0; ti < f2b_cfg.rw_threads.n; ti++) {
			int T = f2b_cfg.rw_threads.v[ti], pct = f2b_cfg.read_pct.v[pi];
			double tp[F2B_MAX_LIST][MAX_REPS], work[F2B_MAX_LIST] = { 0 };
			int ok[F2B_MAX_LIST];
			f2b_progress("rwlock T=%d read=%d%%: %d implementations x %d reps", T, pct, k, R);
			for (int j = 0; j < k; j++)
				ok[j] = 1;
			for (int r = 0; r < R; r++)
				for (int j = 0; j < k; j++) {
					long ops;
					ok[j] &= rw_run(ims[j], T, pct, &tp[j][r], &ops);
					work[j] += (double)ops;
				}
			char params[64];
			snprintf(params, sizeof params, "T=%d;read=%d;cs=%d", T, pct, f2b_cfg.cs);
			for (int j = 0; j < k; j++)
				f2b_result("rwlock", params, ims[j]->name, "ops_per_s", "1/s", tp[j], R,
				           work[j], ok[j]);
		}
}

/* ---- barrier ----------------------------------------------------------- */
struct bar_shared {
	const struct f2b_impl *im;
	void *b;
	long rounds;
	long arrivals;  /* atomic: incremented before each wait */
	long serial;    /* atomic: serial returns */
	long early;     /* atomic: threads that left a round before all arrived */
	int T;
	struct f2b_gate gate;
};

struct bar_thread { struct bar_shared *sh; pthread_t tid; };

static void *bar_main(void *arg)
{
	struct bar_shared *sh = ((struct bar_thread *)arg)->sh;
	f2b_gate_arrive(&sh->gate);
	for (long i = 0; i < sh->rounds; i++) {
		__atomic_fetch_add(&sh->arrivals, 1, __ATOMIC_RELAXED);
		if (sh->im->bwait(sh->b))
			__atomic_fetch_add(&sh->serial, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&sh->arrivals, __ATOMIC_RELAXED) < (i + 1) * sh->T)
			__atomic_fetch_add(&sh->early, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int bar_run(const struct f2b_impl *im, int T, long rounds, double *ns)
{
	struct bar_shared sh = { .im = im, .rounds = rounds, .T = T };
	struct bar_thread th[T];
	sh.b = f2b_obj_alloc(im->bsize);
	im->binit(sh.b, (unsigned)T);
	for (int i = 0; i < T; i++) {
		th[i].sh = &sh;
		if (pthread_create(&th[i].tid, NULL, bar_main, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	uint64_t t0 = f2b_gate_open(&sh.gate, (uint32_t)T);
	for (int i = 0; i < T; i++)
		pthread_join(th[i].tid, NULL);
	*ns = (double)(f2b_now_ns() - t0) / (double)rounds;
	int ok = sh.serial == rounds && sh.early == 0 && sh.arrivals == rounds * T;
	if (!ok)
		f2b_fail("barrier %s T=%d: %ld serial returns in %ld rounds, %ld early exits", im->name,
		         T, sh.serial, rounds, sh.early);
	if (im->bdestroy)
		im->bdestroy(sh.b);
	free(sh.b);
	return ok;
}

void wl_barrier(void)
{
	int R = f2b_cfg.reps;
	long rounds16 = f2b_cfg.rounds * 10;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	int k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "barrier", F2B_CAP_BARRIER))
			ims[k++] = &f2b_impls[i];
	for (int ti = 0; ti < f2b_cfg.barrier_threads.n; ti++) {
		int T = f2b_cfg.barrier_threads.v[ti];
		/* A round wakes every thread, so it costs about T wake-ups once T
		 * exceeds the CPUs: above 16 threads the round count shrinks with
		 * T to keep each row's run time near the T=16 one. */
		long rounds = T > 16 ? rounds16 * 16 / T : rounds16;
		rounds = rounds > 0 ? rounds : 1;
		double ns[F2B_MAX_LIST][MAX_REPS];
		int ok[F2B_MAX_LIST];
		f2b_progress("barrier T=%d: %d implementations x %d reps x %ld rounds", T, k, R, rounds);
		for (int j = 0; j < k; j++)
			ok[j] = 1;
		for (int r = 0; r < R; r++)
			for (int j = 0; j < k; j++)
				ok[j] &= bar_run(ims[j], T, rounds, &ns[j][r]);
		char params[32];
		snprintf(params, sizeof params, "T=%d", T);
		for (int j = 0; j < k; j++)
			f2b_result("barrier", params, ims[j]->name, "ns_per_round", "ns", ns[j], R,
			           (double)rounds * R * T, ok[j]);
	}
}
