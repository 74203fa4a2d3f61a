/* prodcons: the thread-pool pattern of issue 12. One producer pushes items
 * into a bounded FIFO under the mutex and signals "not empty" on every push
 * (while it holds the mutex, as most pools do); C consumers (default 2) pop
 * under the mutex, waiting on "not empty" while the queue is empty, and then
 * spend about item_ns of CPU work on each item outside the lock. Consumers
 * are the bottleneck, so the queue is mostly full and most of the producer's
 * signals find nobody waiting: the workload prices that case together with
 * the hand-over between running threads.
 *
 * Refill has hysteresis, as real pools batch it: the producer that finds the
 * queue full waits on "not full" until it has drained to half, and the
 * consumer that drains it there signals once; a wake per item would turn the
 * workload into a ping-pong between producer and consumers.
 *
 * Measured over a timed run: items consumed per second and context switches
 * per item. Checks: items are the numbers 1..P in push order; every consumer
 * sees its items in increasing order (FIFO), and the consumers together saw
 * P items summing to P(P+1)/2 (none lost, none twice).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "f2bench.h"

#define MAX_REPS 64
#define QCAP 64          /* queue slots */
#define QLOW (QCAP / 2)  /* a waiting producer is woken when the queue drains to this */

struct pc_shared {
	struct f2b_gate gate;
	const struct f2b_impl *im;
	void *m, *not_empty, *not_full;
	/* under m: */
	long q[QCAP];
	unsigned head, count;
	int producer_waiting, done;
	long pushed;
	int item_units;
};

struct pc_consumer {
	struct pc_shared *sh;
	long items, sum, disorder;
	pthread_t tid;
} __attribute__((aligned(64)));

static void *pc_producer(void *arg)
{
	struct pc_shared *sh = arg;
	const struct f2b_impl *im = sh->im;
	f2b_gate_arrive(&sh->gate);
	while (!f2b_gate_stopped(&sh->gate)) {
		im->lock(sh->m);
		if (sh->count == QCAP) {
			sh->producer_waiting = 1;
			while (sh->count > QLOW)
				im->wait(sh->not_full, sh->m);
			sh->producer_waiting = 0;
		}
		sh->q[(sh->head + sh->count) % QCAP] = ++sh->pushed;
		sh->count++;
		im->signal(sh->not_empty);
		im->unlock(sh->m);
	}
	im->lock(sh->m);
	sh->done = 1;
	im->broadcast(sh->not_empty);
	im->unlock(sh->m);
	return NULL;
}

static void *pc_consumer_main(void *arg)
{
	struct pc_consumer *t = arg;
	struct pc_shared *sh = t->sh;
	const struct f2b_impl *im = sh->im;
	long last = 0;
	f2b_gate_arrive(&sh->gate);
	for (;;) {
		im->lock(sh->m);
		while (!sh->count && !sh->done)
			im->wait(sh->not_empty, sh->m);
		if (!sh->count) { /* done and drained */
			im->unlock(sh->m);
			break;
		}
		long v = sh->q[sh->head];
		sh->head = (sh->head + 1) % QCAP;
		sh->count--;
		if (sh->producer_waiting && sh->count == QLOW)
			im->signal(sh->not_full);
		im->unlock(sh->m);
		t->disorder += v <= last;
		last = v;
		t->items++;
		t->sum += v;
		f2b_work(sh->item_units);
	}
	return NULL;
}

struct pc_sample { double items_per_s, csw_per_item; long items; int ok; };

static struct pc_sample pc_run(const struct f2b_impl *im, int C, int item_units)
{
	struct pc_shared *sh = f2b_obj_alloc(sizeof *sh);
	struct pc_consumer th[F2B_MAX_CONSUMERS];
	struct pc_sample out = { .ok = 1 };
	pthread_t prod;
	sh->im = im;
	sh->item_units = item_units;
	sh->m = f2b_mutex_new(im);
	sh->not_empty = f2b_cond_new(im);
	sh->not_full = f2b_cond_new(im);
	for (int i = 0; i < C; i++) {
		th[i] = (struct pc_consumer){ .sh = sh };
		if (pthread_create(&th[i].tid, NULL, pc_consumer_main, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	if (pthread_create(&prod, NULL, pc_producer, sh)) {
		f2b_fail("pthread_create");
		exit(2);
	}
	long c0 = f2b_ctxsw();
	uint64_t t0 = f2b_gate_open(&sh->gate, (uint32_t)C + 1);
	struct timespec d = { f2b_cfg.duration_ms / 1000, (f2b_cfg.duration_ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
	f2b_gate_close(&sh->gate);
	pthread_join(prod, NULL);
	long items = 0, sum = 0, disorder = 0;
	for (int i = 0; i < C; i++) {
		pthread_join(th[i].tid, NULL);
		items += th[i].items;
		sum += th[i].sum;
		disorder += th[i].disorder;
	}
	uint64_t t1 = f2b_now_ns(); /* after the drain: every pushed item is counted */
	long c1 = f2b_ctxsw();
	long P = sh->pushed;
	if (items != P || sum != P * (P + 1) / 2 || disorder) {
		f2b_fail("prodcons %s: %ld items consumed of %ld pushed, sum %ld (expected %ld), "
		         "%ld out of order", im->name, items, P, sum, P * (P + 1) / 2, disorder);
		out.ok = 0;
	}
	out.items = items;
	out.items_per_s = (double)items * 1e9 / (double)(t1 - t0);
	out.csw_per_item = items ? (double)(c1 - c0) / (double)items : 0;
	f2b_cond_free(im, sh->not_full);
	f2b_cond_free(im, sh->not_empty);
	f2b_mutex_free(im, sh->m);
	free(sh);
	return out;
}

void wl_prodcons(void)
{
	int R = f2b_cfg.reps, C = f2b_cfg.consumers;
	int units = (int)(f2b_cfg.item_ns / f2b_unit_ns() + 0.5);
	const struct f2b_impl *ims[F2B_MAX_LIST];
	double ips[F2B_MAX_LIST][MAX_REPS], csw[F2B_MAX_LIST][MAX_REPS], work[F2B_MAX_LIST] = { 0 };
	int ok[F2B_MAX_LIST], k = 0;
	for (int i = 0; i < f2b_nimpls; i++)
		if (f2b_impl_usable(&f2b_impls[i], "prodcons", F2B_CAP_COND))
			ims[k++] = &f2b_impls[i];
	f2b_progress("prodcons C=%d item=%d ns: %d implementations x %d reps x %d ms", C,
	             f2b_cfg.item_ns, k, R, f2b_cfg.duration_ms);
	for (int j = 0; j < k; j++)
		ok[j] = 1;
	for (int r = 0; r < R; r++)
		for (int j = 0; j < k; j++) {
			struct pc_sample s = pc_run(ims[j], C, units);
			ips[j][r] = s.items_per_s;
			csw[j][r] = s.csw_per_item;
			work[j] += (double)s.items;
			ok[j] &= s.ok;
		}
	char params[64];
	snprintf(params, sizeof params, "C=%d;item_ns=%d;cap=%d", C, f2b_cfg.item_ns, QCAP);
	for (int j = 0; j < k; j++) {
		f2b_result("prodcons", params, ims[j]->name, "items_per_s", "1/s", ips[j], R, work[j],
		           ok[j]);
		f2b_result("prodcons", params, ims[j]->name, "csw_per_item", "1", csw[j], R, work[j],
		           ok[j]);
	}
}
