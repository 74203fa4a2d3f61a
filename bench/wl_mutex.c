/* Mutex workloads: uncontended lock+unlock, and T threads contending for one
 * lock with critical / non-critical sections of given lengths.
 * Checks: the shared counter, incremented only under the lock, equals the sum
 * of the per-thread acquisition counts (no lost update, no double entry). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "f2bench.h"

#define MAX_REPS 64

void wl_uncontended(void)
{
	int R = f2b_cfg.reps;
	long n = f2b_cfg.iters;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	double s[F2B_MAX_LIST][MAX_REPS];
	int ok[F2B_MAX_LIST], k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "uncontended", F2B_CAP_MUTEX))
			ims[k++] = &f2b_impls[i];
	f2b_progress("uncontended: %d implementations x %d reps x %ld pairs", k, R, n);
	for (int r = 0; r < R; r++) {
		for (int j = 0; j < k; j++) { /* interleaved so drift hits all alike */
			const struct f2b_impl *im = ims[j];
			void *m = f2b_mutex_new(im);
			volatile long counter = 0;
			for (long i = 0; i < 1000; i++) { /* warm up */
				im->lock(m);
				im->unlock(m);
			}
			uint64_t t0 = f2b_now_ns();
			for (long i = 0; i < n; i++) {
				im->lock(m);
				counter++;
				im->unlock(m);
			}
			s[j][r] = (double)(f2b_now_ns() - t0) / (double)n;
			if (r == 0)
				ok[j] = 1;
			if (counter != n) {
				f2b_fail("uncontended %s: counter %ld != %ld", im->name, (long)counter, n);
				ok[j] = 0;
			}
			f2b_mutex_free(im, m);
		}
	}
	for (int j = 0; j < k; j++)
		f2b_result("uncontended", "", ims[j]->name, "ns_per_pair", "ns", s[j], R,
		           (double)n * R, ok[j]);
}

/* ---- contended --------------------------------------------------------- */
struct cont_shared {
	struct f2b_gate gate;
	const struct f2b_impl *im;
	void *m;
	long counter; /* only touched under the lock */
	int cs, ncs;
};

struct cont_thread {
	struct cont_shared *sh;
	long acq;
	pthread_t tid;
} __attribute__((aligned(64)));

static void *cont_main(void *arg)
{
	struct cont_thread *t = arg;
	struct cont_shared *sh = t->sh;
	const struct f2b_impl *im = sh->im;
	long acq = 0;
	f2b_gate_arrive(&sh->gate);
	while (!f2b_gate_stopped(&sh->gate)) {
		im->lock(sh->m);
		sh->counter++;
		f2b_work(sh->cs);
		im->unlock(sh->m);
		acq++;
		f2b_work(sh->ncs);
	}
	t->acq = acq;
	return NULL;
}

struct cont_sample { double ops_per_s, max_over_min, csw_per_op; long ops; int ok; };

static struct cont_sample cont_run(const struct f2b_impl *im, int T, int cs, int ncs)
{
	struct cont_shared sh = { .im = im, .cs = cs, .ncs = ncs };
	struct cont_thread *th = aligned_alloc(64, sizeof *th * (size_t)T);
	struct cont_sample out = { .ok = 1 };
	sh.m = f2b_mutex_new(im);
	for (int i = 0; i < T; i++) {
		th[i] = (struct cont_thread){ .sh = &sh };
		if (pthread_create(&th[i].tid, NULL, cont_main, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	long c0 = f2b_ctxsw();
	uint64_t t0 = f2b_gate_open(&sh.gate, (uint32_t)T);
	struct timespec d = { f2b_cfg.duration_ms / 1000, (f2b_cfg.duration_ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
	f2b_gate_close(&sh.gate);
	uint64_t t1 = f2b_now_ns();
	long sum = 0, mx = 0, mn = -1;
	for (int i = 0; i < T; i++) {
		pthread_join(th[i].tid, NULL);
		sum += th[i].acq;
		mx = th[i].acq > mx ? th[i].acq : mx;
		mn = (mn < 0 || th[i].acq < mn) ? th[i].acq : mn;
	}
	long c1 = f2b_ctxsw();
	if (sum != sh.counter) {
		f2b_fail("contended %s T=%d: counter %ld != sum of acquisitions %ld", im->name, T,
		         sh.counter, sum);
		out.ok = 0;
	}
	out.ops = sum;
	out.ops_per_s = (double)sum * 1e9 / (double)(t1 - t0);
	out.max_over_min = mn > 0 ? (double)mx / (double)mn : INFINITY; /* a starved thread */
	out.csw_per_op = sum ? (double)(c1 - c0) / (double)sum : 0;
	f2b_mutex_free(im, sh.m);
	free(th);
	return out;
}

static void contended(const char *wl, const struct f2b_list *threads, int cs, int ncs)
{
	int R = f2b_cfg.reps;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	int k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], wl, F2B_CAP_MUTEX))
			ims[k++] = &f2b_impls[i];
	for (int ti = 0; ti < threads->n; ti++) {
		int T = threads->v[ti];
		double tp[F2B_MAX_LIST][MAX_REPS], fair[F2B_MAX_LIST][MAX_REPS],
			csw[F2B_MAX_LIST][MAX_REPS], work[F2B_MAX_LIST] = { 0 };
		int ok[F2B_MAX_LIST];
		f2b_progress("%s T=%d: %d implementations x %d reps x %d ms", wl, T, k, R,
		             f2b_cfg.duration_ms);
		for (int j = 0; j < k; j++)
			ok[j] = 1;
		for (int r = 0; r < R; r++)
			for (int j = 0; j < k; j++) {
				struct cont_sample c = cont_run(ims[j], T, cs, ncs);
				tp[j][r] = c.ops_per_s;
				fair[j][r] = c.max_over_min;
				csw[j][r] = c.csw_per_op;
				work[j] += (double)c.ops;
				ok[j] &= c.ok;
			}
		char params[64];
		snprintf(params, sizeof params, "T=%d;cs=%d;ncs=%d", T, cs, ncs);
		for (int j = 0; j < k; j++) {
			f2b_result(wl, params, ims[j]->name, "ops_per_s", "1/s", tp[j], R, work[j], ok[j]);
			f2b_result(wl, params, ims[j]->name, "max_over_min", "x", fair[j], R, work[j], ok[j]);
			f2b_result(wl, params, ims[j]->name, "csw_per_op", "1", csw[j], R, work[j], ok[j]);
		}
	}
}

/* The workload: sections as given (default cs=20, ncs=100 units). */
void wl_contended(void)
{
	contended("contended", &f2b_cfg.threads, f2b_cfg.cs, f2b_cfg.ncs);
}

/* The same with short sections (default cs=5, ncs=20), where the lock itself
 * rather than the section work sets the rate: reported beside it, so a
 * reader sees both regimes; the targets are judged on "contended". */
void wl_contended_short(void)
{
	contended("contended_short", &f2b_cfg.short_threads, f2b_cfg.short_cs, f2b_cfg.short_ncs);
}
