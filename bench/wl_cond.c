/* Condition-variable workloads.
 *
 * broadcast: N waiters sleep on one condvar; a broadcaster bumps a generation
 * under the mutex and broadcasts; each waiter reacquires the mutex and checks
 * in. Measured: time from the broadcast to the last waiter's reacquisition,
 * and context switches per round (all threads, both phases). The f2sync
 * requeue-off variant runs in a child process (F2SYNC_REQUEUE is read once).
 * Checks: every waiter saw every round exactly once.
 *
 * pingpong: two threads pass a turn through mutex + condvar; one round trip
 * is two passes. Checks: the number of passes.
 *
 * cond_idle: signal and broadcast with nobody waiting (at the end).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "f2bench.h"

#define MAX_REPS 64

struct bc_shared {
	const struct f2b_impl *im;
	void *m, *c;
	long gen;          /* under m */
	uint32_t arrived;  /* waiters in the current round (under m; read by the broadcaster) */
	uint32_t done;     /* waiters that reacquired after the broadcast (under m) */
	uint32_t n;
	long rounds;
	uint64_t t_end;    /* set by the last waiter to reacquire */
};

struct bc_thread {
	struct bc_shared *sh;
	long seen;
	pthread_t tid;
} __attribute__((aligned(64)));

static void *bc_waiter(void *arg)
{
	struct bc_thread *t = arg;
	struct bc_shared *sh = t->sh;
	const struct f2b_impl *im = sh->im;
	for (long round = 1; round <= sh->rounds; round++) {
		im->lock(sh->m);
		if (__atomic_add_fetch(&sh->arrived, 1, __ATOMIC_RELEASE) == sh->n)
			f2b_futex_wake(&sh->arrived, 1);
		while (sh->gen < round)
			im->wait(sh->c, sh->m);
		if (sh->gen == round)
			t->seen++;
		if (__atomic_add_fetch(&sh->done, 1, __ATOMIC_RELEASE) == sh->n) {
			sh->t_end = f2b_now_ns();
			f2b_futex_wake(&sh->done, 1);
		}
		im->unlock(sh->m);
	}
	return NULL;
}

static void wait_count(uint32_t *w, uint32_t n)
{
	uint32_t v;
	while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != n)
		f2b_futex_wait(w, v);
}

/* One repetition: returns ns per round and context switches per round. */
static int bc_run(const struct f2b_impl *im, int N, long rounds, double *ns, double *csw)
{
	struct bc_shared sh = { .im = im, .n = (uint32_t)N, .rounds = rounds };
	struct bc_thread *th = aligned_alloc(64, sizeof *th * (size_t)N);
	int ok = 1;
	sh.m = f2b_mutex_new(im);
	sh.c = f2b_cond_new(im);
	for (int i = 0; i < N; i++) {
		th[i] = (struct bc_thread){ .sh = &sh };
		if (pthread_create(&th[i].tid, NULL, bc_waiter, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	uint64_t total = 0;
	long c0 = f2b_ctxsw();
	for (long round = 1; round <= rounds; round++) {
		wait_count(&sh.arrived, (uint32_t)N);
		im->lock(sh.m);
		__atomic_store_n(&sh.arrived, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sh.done, 0, __ATOMIC_RELAXED);
		sh.gen = round;
		uint64_t t0 = f2b_now_ns();
		im->broadcast(sh.c);
		im->unlock(sh.m);
		wait_count(&sh.done, (uint32_t)N);
		im->lock(sh.m); /* t_end was written under the mutex */
		total += sh.t_end - t0;
		im->unlock(sh.m);
	}
	long c1 = f2b_ctxsw();
	for (int i = 0; i < N; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].seen != rounds) {
			f2b_fail("broadcast %s N=%d: waiter %d saw %ld of %ld rounds", im->name, N, i,
			         th[i].seen, rounds);
			ok = 0;
		}
	}
	*ns = (double)total / (double)rounds;
	*csw = (double)(c1 - c0) / (double)rounds;
	f2b_cond_free(im, sh.c);
	f2b_mutex_free(im, sh.m);
	free(th);
	return ok;
}

void wl_broadcast(void)
{
	int R = f2b_cfg.reps;
	long rounds = f2b_cfg.rounds;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	int k = 0, have_f2 = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "broadcast", F2B_CAP_COND)) {
			ims[k++] = &f2b_impls[i];
			have_f2 |= !strcmp(f2b_impls[i].name, "f2sync");
		}
	for (int ni = 0; ni < f2b_cfg.waiters.n; ni++) {
		int N = f2b_cfg.waiters.v[ni];
		double ns[F2B_MAX_LIST][MAX_REPS], csw[F2B_MAX_LIST][MAX_REPS],
			cpw[F2B_MAX_LIST][MAX_REPS];
		int ok[F2B_MAX_LIST];
		f2b_progress("broadcast N=%d: %d implementations x %d reps x %ld rounds", N, k, R, rounds);
		for (int j = 0; j < k; j++)
			ok[j] = 1;
		for (int r = 0; r < R; r++)
			for (int j = 0; j < k; j++) {
				ok[j] &= bc_run(ims[j], N, rounds, &ns[j][r], &csw[j][r]);
				cpw[j][r] = csw[j][r] / N;
			}
		char params[32];
		snprintf(params, sizeof params, "N=%d", N);
		for (int j = 0; j < k; j++) {
			double w = (double)rounds * R * N;
			f2b_result("broadcast", params, ims[j]->name, "ns_per_round", "ns", ns[j], R, w, ok[j]);
			f2b_result("broadcast", params, ims[j]->name, "csw_per_round", "1", csw[j], R, w, ok[j]);
			f2b_result("broadcast", params, ims[j]->name, "csw_per_waiter", "1", cpw[j], R, w, ok[j]);
		}
	}
	if (have_f2 && !f2b_cfg.child && !f2b_cfg.no_children) {
		f2b_progress("broadcast: f2sync with requeue off (child process, F2SYNC_REQUEUE=0)");
		f2b_run_child("broadcast", "f2sync", "f2sync-norq", "F2SYNC_REQUEUE", "0");
	}
}

/* ---- ping-pong --------------------------------------------------------- */
struct pp_shared {
	const struct f2b_impl *im;
	void *m, *c;
	int turn;      /* under m */
	long passes;   /* under m */
	long rounds;
	struct f2b_gate gate;
};

struct pp_thread { struct pp_shared *sh; int me; pthread_t tid; };

static void *pp_main(void *arg)
{
	struct pp_thread *t = arg;
	struct pp_shared *sh = t->sh;
	const struct f2b_impl *im = sh->im;
	f2b_gate_arrive(&sh->gate);
	for (long i = 0; i < sh->rounds; i++) {
		im->lock(sh->m);
		while (sh->turn != t->me)
			im->wait(sh->c, sh->m);
		sh->turn = !t->me;
		sh->passes++;
		im->signal(sh->c);
		im->unlock(sh->m);
	}
	return NULL;
}

static int pp_run(const struct f2b_impl *im, long rounds, double *ns, double *csw)
{
	struct pp_shared sh = { .im = im, .rounds = rounds };
	struct pp_thread th[2];
	sh.m = f2b_mutex_new(im);
	sh.c = f2b_cond_new(im);
	for (int i = 0; i < 2; i++) {
		th[i] = (struct pp_thread){ .sh = &sh, .me = i };
		if (pthread_create(&th[i].tid, NULL, pp_main, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	long c0 = f2b_ctxsw();
	uint64_t t0 = f2b_gate_open(&sh.gate, 2);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i].tid, NULL);
	*ns = (double)(f2b_now_ns() - t0) / (double)rounds;
	*csw = (double)(f2b_ctxsw() - c0) / (double)rounds;
	int ok = sh.passes == 2 * rounds && sh.turn == 0;
	if (!ok)
		f2b_fail("pingpong %s: %ld passes, expected %ld", im->name, sh.passes, 2 * rounds);
	f2b_cond_free(im, sh.c);
	f2b_mutex_free(im, sh.m);
	return ok;
}

void wl_pingpong(void)
{
	int R = f2b_cfg.reps;
	long rounds = f2b_cfg.rounds * 20;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	double ns[F2B_MAX_LIST][MAX_REPS], csw[F2B_MAX_LIST][MAX_REPS];
	int ok[F2B_MAX_LIST], k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "pingpong", F2B_CAP_COND))
			ims[k++] = &f2b_impls[i];
	f2b_progress("pingpong: %d implementations x %d reps x %ld round trips", k, R, rounds);
	for (int j = 0; j < k; j++)
		ok[j] = 1;
	for (int r = 0; r < R; r++)
		for (int j = 0; j < k; j++)
			ok[j] &= pp_run(ims[j], rounds, &ns[j][r], &csw[j][r]);
	for (int j = 0; j < k; j++) {
		f2b_result("pingpong", "", ims[j]->name, "ns_per_roundtrip", "ns", ns[j], R,
		           (double)rounds * R, ok[j]);
		f2b_result("pingpong", "", ims[j]->name, "csw_per_roundtrip", "1", csw[j], R,
		           (double)rounds * R, ok[j]);
	}
}

/* ---- signal and broadcast with nobody waiting ---------------------------- */
/* cond_idle: what signal and broadcast cost when nobody waits, on a condvar
 * that has had a waiter (issue 12: state left behind by a past wait must not
 * make every later call a system call). One thread waits once and is
 * signalled, then leaves; the main thread then times iters/10 calls (fewer
 * if they take longer than a tenth of --duration) with nobody waiting,
 * without holding the mutex, in batches: ns per call of the median batch.
 * Checks: the waiter got its turn (f2bench's own protocol, under the
 * mutex). */
#define IDLE_BATCH 1000
#define IDLE_MAX_BATCHES 512

struct idle_shared {
	const struct f2b_impl *im;
	void *m, *c;
	uint32_t arrived; /* set by the waiter under m, just before it waits */
	int turn;         /* under m: 0 waiting, 1 signalled, 2 the waiter saw it */
};

static void *idle_waiter(void *arg)
{
	struct idle_shared *sh = arg;
	sh->im->lock(sh->m);
	__atomic_store_n(&sh->arrived, 1, __ATOMIC_RELEASE);
	f2b_futex_wake(&sh->arrived, 1);
	while (!sh->turn)
		sh->im->wait(sh->c, sh->m);
	sh->turn = 2;
	sh->im->unlock(sh->m);
	return NULL;
}

static int idle_run(const struct f2b_impl *im, int bcast, long n, double *ns, long *calls)
{
	struct idle_shared sh = { .im = im };
	void (*op)(void *) = bcast ? im->broadcast : im->signal;
	pthread_t tid;
	sh.m = f2b_mutex_new(im);
	sh.c = f2b_cond_new(im);
	if (pthread_create(&tid, NULL, idle_waiter, &sh)) {
		f2b_fail("pthread_create");
		exit(2);
	}
	/* The waiter holds m from setting arrived until its wait releases it,
	 * so once we hold m it is inside the wait. */
	wait_count(&sh.arrived, 1);
	im->lock(sh.m);
	sh.turn = 1;
	op(sh.c);
	im->unlock(sh.m);
	pthread_join(tid, NULL);
	int ok = sh.turn == 2;
	if (!ok)
		f2b_fail("cond_idle %s: the waiter did not see its signal", im->name);
	for (long i = 0; i < 1000; i++) /* warm up */
		op(sh.c);
	/* Batches of IDLE_BATCH calls, timed one by one; the figure is the
	 * median batch, so that a preemption on a loaded machine spoils one batch
	 * rather than the mean. At most n calls, and fewer once a tenth of the
	 * timed-run length has passed: a call that is a system call costs a
	 * thousand times one that is not, and a fixed count alone could take
	 * minutes. */
	double batch_ns[IDLE_MAX_BATCHES];
	uint64_t start = f2b_now_ns(), limit = (uint64_t)f2b_cfg.duration_ms * 100000u;
	long done = 0;
	int nb = 0;
	while (done < n && nb < IDLE_MAX_BATCHES && (nb == 0 || f2b_now_ns() - start < limit)) {
		long batch = n - done < IDLE_BATCH ? n - done : IDLE_BATCH;
		uint64_t t0 = f2b_now_ns();
		for (long i = 0; i < batch; i++)
			op(sh.c);
		batch_ns[nb++] = (double)(f2b_now_ns() - t0) / (double)batch;
		done += batch;
	}
	*calls = done;
	*ns = f2b_median(batch_ns, nb);
	f2b_cond_free(im, sh.c);
	f2b_mutex_free(im, sh.m);
	return ok;
}

void wl_cond_idle(void)
{
	int R = f2b_cfg.reps;
	long n = f2b_cfg.iters / 10 > 0 ? f2b_cfg.iters / 10 : 1;
	const struct f2b_impl *ims[F2B_MAX_LIST];
	int k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "cond_idle", F2B_CAP_COND))
			ims[k++] = &f2b_impls[i];
	for (int bcast = 0; bcast < 2; bcast++) {
		double ns[F2B_MAX_LIST][MAX_REPS], work[F2B_MAX_LIST] = { 0 };
		int ok[F2B_MAX_LIST];
		const char *params = bcast ? "op=broadcast" : "op=signal";
		f2b_progress("cond_idle %s: %d implementations x %d reps x %ld calls (at most %d ms)",
		             params, k, R, n, f2b_cfg.duration_ms / 10);
		for (int j = 0; j < k; j++)
			ok[j] = 1;
		for (int r = 0; r < R; r++)
			for (int j = 0; j < k; j++) {
				long calls;
				ok[j] &= idle_run(ims[j], bcast, n, &ns[j][r], &calls);
				work[j] += (double)calls;
			}
		for (int j = 0; j < k; j++)
			f2b_result("cond_idle", params, ims[j]->name, "ns_per_call", "ns", ns[j], R,
			           work[j], ok[j]);
	}
}
