/* f2bench: one process, several lock implementations side by side.
 *
 * Each workload is written once against the adapter table below (struct
 * f2b_impl); every implementation that provides the operations the workload
 * needs gets a row. Results go to a result store (harness.c) that prints the
 * tables, computes ratios against the baseline measured in the same run
 * (glibc for the sync workloads, the kernel's 32-bit futex for the futex2
 * layer) and writes one CSV per workload.
 */
#ifndef F2BENCH_H
#define F2BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define F2B_MAX_LIST 16
#define F2B_MAX_CONSUMERS 16

/* Command-line configuration. Lists are small arrays of positive ints. */
struct f2b_list { int n; int v[F2B_MAX_LIST]; };

struct f2b_config {
	int reps;                 /* repetitions per figure (median over them) */
	int duration_ms;          /* length of one timed run (throughput workloads) */
	long iters;               /* iterations of the per-op loops (uncontended, wake) */
	long rounds;              /* rounds of the round-based workloads */
	int cs, ncs;              /* critical / non-critical section, work units */
	struct f2b_list threads;  /* contended mutex */
	struct f2b_list short_threads; /* contended_short */
	int short_cs, short_ncs;
	struct f2b_list waiters;  /* condvar broadcast */
	struct f2b_list rw_threads, read_pct, barrier_threads;
	int distinct_threads;     /* futex2 layer: threads on distinct words */
	int consumers;            /* prodcons: consumer threads (1..F2B_MAX_CONSUMERS) */
	int item_ns;              /* prodcons: CPU work per item, outside the lock */
	const char *workloads;    /* comma list, NULL = all */
	const char *impls;        /* comma list, NULL = all */
	const char *csv_dir;      /* NULL = no CSV */
	const char *label;        /* child mode: impl label to report under */
	int child;                /* child mode: emit raw rows on stdout */
	int no_children;          /* skip the child-process rows (requeue off, backends) */
	const char *preset;       /* "full", "quick" or "smoke" */
	char **argv;              /* for re-executing ourselves */
	int argc;
};

extern struct f2b_config f2b_cfg;

/* ---- adapters (impl.c) ------------------------------------------------- */
struct f2b_impl {
	const char *name;
	const char *missing;      /* non-NULL: not available, the printed reason */
	int mutex_rows;           /* appears in the mutex workloads */
	size_t msize;
	void (*minit)(void *m);
	void (*lock)(void *m);
	void (*unlock)(void *m);
	void (*mdestroy)(void *m);
	size_t csize;             /* 0: no condvar */
	void (*cinit)(void *c);
	void (*wait)(void *c, void *m);
	void (*signal)(void *c);
	void (*broadcast)(void *c);
	void (*cdestroy)(void *c);
	size_t rwsize;            /* 0: no rwlock */
	void (*rwinit)(void *rw);
	void (*rdlock)(void *rw);
	void (*rdunlock)(void *rw);
	void (*wrlock)(void *rw);
	void (*wrunlock)(void *rw);
	void (*rwdestroy)(void *rw);
	size_t bsize;             /* 0: no barrier */
	void (*binit)(void *b, unsigned n);
	int (*bwait)(void *b);    /* 1 for the round's serial thread, else 0 */
	void (*bdestroy)(void *b);
};

extern struct f2b_impl f2b_impls[];
extern const int f2b_nimpls;
void f2b_impls_setup(void);       /* fills in .missing, sets the peers up */
extern const char *f2b_absl_state; /* "yes (...)" or "no (why)", for meta.csv */
/* Is impl named by --impls (or is there no --impls)? */
int f2b_impl_selected(const struct f2b_impl *im);
int f2b_name_selected(const char *name); /* a row name in --impls (or no --impls) */
#define F2B_CAP_MUTEX   1u
#define F2B_CAP_COND    2u
#define F2B_CAP_RW      4u
#define F2B_CAP_BARRIER 8u
/* Selected and able to run a workload needing caps; else notes why. */
int f2b_impl_usable(const struct f2b_impl *im, const char *wl, unsigned caps);
void *f2b_obj_alloc(size_t size); /* zeroed, cache-line aligned and padded */
/* An initialised mutex / condvar of im in its own cache lines, and back. */
void *f2b_mutex_new(const struct f2b_impl *im);
void f2b_mutex_free(const struct f2b_impl *im, void *m);
void *f2b_cond_new(const struct f2b_impl *im);
void f2b_cond_free(const struct f2b_impl *im, void *c);

/* ---- harness (harness.c) ----------------------------------------------- */
uint64_t f2b_now_ns(void);
long f2b_ctxsw(void);             /* voluntary + involuntary, whole process */
void f2b_work(int units);         /* a calibrated amount of pure CPU work */
double f2b_unit_ns(void);         /* measured ns per work unit */
void f2b_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void f2b_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int f2b_failed(void);
void f2b_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Start gate for timed multi-threaded runs: threads call f2b_gate_arrive()
 * then run until f2b_gate_stopped(). */
struct f2b_gate { uint32_t ready, go, stop, pad; };
void f2b_gate_arrive(struct f2b_gate *g);
/* Waits until nthreads arrived, then releases them; returns the time just
 * before the release (the start of the timed run). */
uint64_t f2b_gate_open(struct f2b_gate *g, uint32_t nthreads);
static inline int f2b_gate_stopped(struct f2b_gate *g)
{
	return __atomic_load_n(&g->stop, __ATOMIC_RELAXED);
}
void f2b_gate_close(struct f2b_gate *g);

/* Raw 32-bit private futex on harness words (identical for every impl). */
void f2b_futex_wait(uint32_t *w, uint32_t val);
void f2b_futex_wake(uint32_t *w, int nr);

/* Results: one sample per repetition. */
void f2b_result(const char *wl, const char *params, const char *impl, const char *metric,
                const char *unit, const double *samples, int n, double work, int ok);
void f2b_emit_results_child(void);
int f2b_run_child(const char *workload, const char *impl, const char *label,
                  const char *envvar, const char *envval);
void f2b_report(FILE *out);
int f2b_write_csv(const char *dir);
double f2b_median(double *v, int n);

int f2b_selected_workload(const char *name);

/* ---- workloads --------------------------------------------------------- */
void wl_uncontended(void);
void wl_contended(void);
void wl_contended_short(void);
void wl_broadcast(void);
void wl_cond_idle(void);
void wl_prodcons(void);
void wl_pingpong(void);
void wl_rwlock(void);
void wl_barrier(void);
void wl_futex_handoff(void);
void wl_futex_wake_empty(void);
void wl_futex_wait_mismatch(void);
void wl_futex_distinct(void);

#endif
