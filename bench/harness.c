/* f2bench harness: clocks, counters, the start gate, the result store with
 * its ratios against the baseline of the same run, the targets of issues 5
 * and 12 (against glibc or against the best peer of the same run),
 * the stdout tables, the CSV files, and child runs of f2bench itself for
 * settings that are fixed per process (F2SYNC_BACKEND, F2SYNC_REQUEUE). */
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "f2bench.h"

/* ---- clocks, counters, work -------------------------------------------- */
uint64_t f2b_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long f2b_ctxsw(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

/* A dependent multiply chain the compiler cannot fold: about one multiply
 * latency per unit, independent of memory. */
void f2b_work(int units)
{
	uint64_t x = (uint64_t)units;
	for (int i = 0; i < units; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
}

double f2b_unit_ns(void)
{
	static double ns;
	if (ns == 0) {
		double best = 1e9;
		for (int r = 0; r < 5; r++) {
			uint64_t t0 = f2b_now_ns();
			f2b_work(200000);
			double v = (double)(f2b_now_ns() - t0) / 200000;
			best = v < best ? v : best;
		}
		ns = best;
	}
	return ns;
}

/* ---- messages ---------------------------------------------------------- */
static int failures;
#define MAX_NOTES 64
static char *notes[MAX_NOTES];
static int nnotes;

/* Progress lines carry the time since the first one, so that a run's time
 * budget (make demo, make bench) can be read off per workload. */
void f2b_progress(const char *fmt, ...)
{
	static uint64_t t0;
	va_list ap;
	if (!t0)
		t0 = f2b_now_ns();
	va_start(ap, fmt);
	if (f2b_cfg.child) /* its parent's clock is the one that counts */
		fputs("f2bench:   child: ", stderr);
	else
		fprintf(stderr, "f2bench: [%6.1f s] ", (double)(f2b_now_ns() - t0) / 1e9);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void f2b_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("f2bench: CORRECTNESS FAILURE: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
}

int f2b_failed(void) { return __atomic_load_n(&failures, __ATOMIC_RELAXED); }

void f2b_note(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (int i = 0; i < nnotes; i++)
		if (!strcmp(notes[i], buf))
			return;
	if (f2b_cfg.child) {
		printf("NOTE\t%s\n", buf);
		return;
	}
	fprintf(stderr, "f2bench: note: %s\n", buf);
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = strdup(buf);
}

/* ---- start gate and raw futex ------------------------------------------ */
void f2b_futex_wait(uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void f2b_futex_wake(uint32_t *w, int nr)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}

void f2b_gate_arrive(struct f2b_gate *g)
{
	__atomic_fetch_add(&g->ready, 1, __ATOMIC_ACQ_REL);
	f2b_futex_wake(&g->ready, 1);
	while (!__atomic_load_n(&g->go, __ATOMIC_ACQUIRE))
		f2b_futex_wait(&g->go, 0);
}

uint64_t f2b_gate_open(struct f2b_gate *g, uint32_t nthreads)
{
	uint32_t r;
	while ((r = __atomic_load_n(&g->ready, __ATOMIC_ACQUIRE)) < nthreads)
		f2b_futex_wait(&g->ready, r);
	uint64_t t0 = f2b_now_ns(); /* before anyone can start */
	__atomic_store_n(&g->go, 1, __ATOMIC_RELEASE);
	f2b_futex_wake(&g->go, 1 << 30);
	return t0;
}

void f2b_gate_close(struct f2b_gate *g)
{
	__atomic_store_n(&g->stop, 1, __ATOMIC_RELAXED);
}

/* ---- selection --------------------------------------------------------- */
static int in_list(const char *list, const char *name)
{
	if (!list || !*list)
		return 1;
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len + (e != NULL);
	}
	return 0;
}

int f2b_selected_workload(const char *name) { return in_list(f2b_cfg.workloads, name); }
int f2b_impl_selected(const struct f2b_impl *im) { return in_list(f2b_cfg.impls, im->name); }
int f2b_name_selected(const char *name) { return in_list(f2b_cfg.impls, name); }

/* ---- results ----------------------------------------------------------- */
struct row {
	char wl[24], params[64], impl[24], metric[24], unit[16];
	double med, lo, hi, work;
	int reps, ok;
};
#define MAX_ROWS 1024
static struct row rows[MAX_ROWS];
static int nrows;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double f2b_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void add_row(const struct row *r)
{
	if (nrows == MAX_ROWS) {
		f2b_fail("result store full");
		return;
	}
	rows[nrows++] = *r;
}

void f2b_result(const char *wl, const char *params, const char *impl, const char *metric,
                const char *unit, const double *samples, int n, double work, int ok)
{
	struct row r = { .reps = n, .work = work, .ok = ok };
	double v[n > 0 ? n : 1];
	snprintf(r.wl, sizeof r.wl, "%s", wl);
	snprintf(r.params, sizeof r.params, "%s", params);
	snprintf(r.impl, sizeof r.impl, "%s", f2b_cfg.label ? f2b_cfg.label : impl);
	snprintf(r.metric, sizeof r.metric, "%s", metric);
	snprintf(r.unit, sizeof r.unit, "%s", unit);
	memcpy(v, samples, sizeof(double) * (size_t)n);
	r.med = n ? f2b_median(v, n) : NAN;
	r.lo = n ? v[0] : NAN;
	r.hi = n ? v[n - 1] : NAN;
	if (f2b_cfg.child) {
		printf("ROW\t%s\t%s\t%s\t%s\t%s\t%.17g\t%.17g\t%.17g\t%d\t%.17g\t%d\n", r.wl, r.params,
		       r.impl, r.metric, r.unit, r.med, r.lo, r.hi, r.reps, r.work, r.ok);
		fflush(stdout);
		return;
	}
	add_row(&r);
}

static const char *baseline_of(const char *wl)
{
	return strncmp(wl, "futex_", 6) ? "glibc" : "u32-kernel";
}

static const struct row *find_row(const char *wl, const char *params, const char *impl,
                                  const char *metric)
{
	for (int i = 0; i < nrows; i++)
		if (!strcmp(rows[i].wl, wl) && !strcmp(rows[i].params, params) &&
		    !strcmp(rows[i].impl, impl) && !strcmp(rows[i].metric, metric))
			return &rows[i];
	return NULL;
}

static double ratio_of(const struct row *r)
{
	const struct row *b = find_row(r->wl, r->params, baseline_of(r->wl), r->metric);
	if (!b || !(b->med > 0) || isnan(r->med))
		return NAN;
	return r->med / b->med;
}

/* ---- child runs -------------------------------------------------------- */
/* Runs "f2bench <same args> --child --workloads wl --impls impl --label label"
 * with envvar=envval and merges the rows it prints. */
int f2b_run_child(const char *wl, const char *impl, const char *label, const char *envvar,
                  const char *envval)
{
	int fd[2];
	if (pipe(fd))
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *av[f2b_cfg.argc + 12];
		int n = 0;
		for (int i = 0; i < f2b_cfg.argc; i++)
			av[n++] = f2b_cfg.argv[i];
		av[n++] = "--child";
		av[n++] = "--workloads";
		av[n++] = (char *)wl;
		av[n++] = "--impls";
		av[n++] = (char *)impl;
		av[n++] = "--label";
		av[n++] = (char *)label;
		av[n] = NULL;
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		setenv(envvar, envval, 1);
		execv("/proc/self/exe", av);
		_exit(127);
	}
	close(fd[1]);
	FILE *in = fdopen(fd[0], "r");
	char line[512];
	while (in && fgets(line, sizeof line, in)) {
		line[strcspn(line, "\n")] = 0;
		char *rest = line, *tok[12];
		int nt = 0;
		while (rest && nt < 12) /* strsep keeps the empty fields (params "") */
			tok[nt++] = strsep(&rest, "\t");
		if (nt == 2 && !strcmp(tok[0], "NOTE")) {
			f2b_note("%s (%s=%s)", tok[1], envvar, envval);
		} else if (nt == 12 && !strcmp(tok[0], "ROW")) {
			struct row r = { 0 };
			snprintf(r.wl, sizeof r.wl, "%s", tok[1]);
			snprintf(r.params, sizeof r.params, "%s", tok[2]);
			snprintf(r.impl, sizeof r.impl, "%s", tok[3]);
			snprintf(r.metric, sizeof r.metric, "%s", tok[4]);
			snprintf(r.unit, sizeof r.unit, "%s", tok[5]);
			r.med = strtod(tok[6], NULL);
			r.lo = strtod(tok[7], NULL);
			r.hi = strtod(tok[8], NULL);
			r.reps = atoi(tok[9]);
			r.work = strtod(tok[10], NULL);
			r.ok = atoi(tok[11]);
			add_row(&r);
		}
	}
	if (in)
		fclose(in);
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		f2b_fail("child run %s/%s with %s=%s exited with status %d", wl, impl, envvar, envval,
		         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return -1;
	}
	return 0;
}

/* ---- targets (issues 5 and 12) ---------------------------------------- */
/* What a target's figure is compared with:
 *   BASE  the baseline of its workload in the same run (glibc; the kernel's
 *         32-bit futex for the futex2 layer): figure = f2sync / baseline
 *   BEST  the best peer in the same run (glibc, nsync, abseil: the highest
 *         median for a >= target, the lowest for a <= one): f2sync / best
 *   ABS   f2sync's own median against an absolute threshold
 * A stretch target is shown but never counted as missed. */
enum { BASE, BEST, ABS };
struct target {
	const char *id, *what, *wl, *params, *impl, *metric;
	int kind;
	int le; /* 1: value <= threshold is met; 0: >= */
	double threshold;
	int stretch;
};
static const struct target targets[] = {
	{ "uncontended-m32", "uncontended f2_mutex_t lock+unlock time", "uncontended", "", "f2sync",
	  "ns_per_pair", BASE, 1, 0.75, 0 },
	{ "uncontended-m8", "uncontended f2_mutex8_t lock+unlock time", "uncontended", "",
	  "f2sync-m8", "ns_per_pair", BASE, 1, 1.0, 0 },
	{ "contended-t2", "contended throughput T=2", "contended", "T=2", "f2sync", "ops_per_s",
	  BEST, 0, 1.0, 0 },
	{ "contended-t8", "contended throughput T=8", "contended", "T=8", "f2sync", "ops_per_s",
	  BEST, 0, 1.0, 0 },
	{ "contended-t64", "contended throughput T=64", "contended", "T=64", "f2sync", "ops_per_s",
	  BEST, 0, 1.0, 0 },
	{ "contended-short-t2", "contended throughput T=2 (short sections)", "contended_short", "T=2",
	  "f2sync", "ops_per_s", BEST, 0, 1.0, 0 },
	{ "contended-short-t8", "contended throughput T=8 (short sections)", "contended_short", "T=8",
	  "f2sync", "ops_per_s", BEST, 0, 1.0, 0 },
	{ "contended-short-t64", "contended throughput T=64 (short sections)", "contended_short",
	  "T=64", "f2sync", "ops_per_s", BEST, 0, 1.0, 0 },
	{ "fairness-t8", "max/min per-thread acquisitions T=8", "contended", "T=8", "f2sync",
	  "max_over_min", ABS, 1, 3.0, 0 },
	{ "fairness-t64", "max/min per-thread acquisitions T=64", "contended", "T=64", "f2sync",
	  "max_over_min", ABS, 1, 3.0, 0 },
	{ "prodcons", "producer signals each push; 2 busy consumers: items/s", "prodcons", "",
	  "f2sync", "items_per_s", BEST, 0, 1.0, 0 },
	{ "cond-signal-idle", "signal with nobody waiting (after a wait)", "cond_idle", "op=signal",
	  "f2sync", "ns_per_call", BASE, 1, 1.5, 0 },
	{ "cond-broadcast-idle", "broadcast with nobody waiting (after a wait)", "cond_idle",
	  "op=broadcast", "f2sync", "ns_per_call", BASE, 1, 1.5, 0 },
	{ "broadcast-n64", "broadcast N=64: time per round", "broadcast", "N=64", "f2sync",
	  "ns_per_round", BASE, 1, 0.6, 0 },
	{ "broadcast-n64-stretch", "broadcast N=64: time per round (stretch)", "broadcast", "N=64",
	  "f2sync", "ns_per_round", BASE, 1, 0.5, 1 },
	{ "broadcast-csw-n64", "broadcast N=64: context switches per waiter", "broadcast", "N=64",
	  "f2sync", "csw_per_waiter", ABS, 1, 1.5, 0 },
	{ "pingpong", "ping-pong round trip", "pingpong", "", "f2sync", "ns_per_roundtrip", BASE,
	  1, 1.0, 0 },
	{ "rwlock-90-t8", "rwlock 90% reads throughput T=8", "rwlock", "T=8;read=90", "f2sync",
	  "ops_per_s", BEST, 0, 1.0, 0 },
	{ "rwlock-99-t8", "rwlock 99% reads throughput T=8", "rwlock", "T=8;read=99", "f2sync",
	  "ops_per_s", BEST, 0, 1.0, 0 },
	{ "rwlock-90-t2", "rwlock 90% reads throughput T=2", "rwlock", "T=2;read=90", "f2sync",
	  "ops_per_s", BASE, 0, 1.5, 0 },
	{ "rwlock-99-t2", "rwlock 99% reads throughput T=2", "rwlock", "T=2;read=99", "f2sync",
	  "ops_per_s", BASE, 0, 1.5, 0 },
	{ "barrier-t2", "barrier T=2: time per round", "barrier", "T=2", "f2sync", "ns_per_round",
	  BASE, 1, 0.5, 0 },
	{ "barrier-t8", "barrier T=8: time per round", "barrier", "T=8", "f2sync", "ns_per_round",
	  BASE, 1, 1.0, 0 },
	{ "handoff-u8", "emulated u8 handoff vs kernel u32", "futex_handoff", "", "u8-emu",
	  "ns_per_roundtrip", BASE, 1, 1.5, 0 },
	{ "handoff-u64", "emulated u64 handoff vs kernel u32", "futex_handoff", "", "u64-emu",
	  "ns_per_roundtrip", BASE, 1, 1.5, 0 },
	{ "wake-empty-u8", "wake with no waiters: emulated u8 vs kernel (>= 20x cheaper)",
	  "futex_wake_empty", "", "u8-emu", "ns_per_call", BASE, 1, 0.05, 0 },
	{ "distinct-u8", "threads on distinct u8 words vs u32 words", "futex_distinct", "",
	  "u8-emu", "ns_per_handoff", BASE, 1, 1.3, 0 },
};
#define NTARGETS (int)(sizeof targets / sizeof targets[0])

/* The peers a BEST target is judged against. */
static const char *const peers[] = { "glibc", "nsync", "abseil" };
#define NPEERS (int)(sizeof peers / sizeof peers[0])

/* Does every ';'-separated item of want appear in have? */
static int params_match(const char *want, const char *have)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s", want);
	char *save;
	for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		size_t n = strlen(t);
		const char *p = have;
		int found = 0;
		while (*p) {
			size_t len = strcspn(p, ";");
			if (len == n && !strncmp(p, t, n))
				found = 1;
			p += len + (p[len] == ';');
		}
		if (!found)
			return 0;
	}
	return 1;
}

static const struct row *target_row(const struct target *t, const char *impl)
{
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		if (!strcmp(r->wl, t->wl) && !strcmp(r->impl, impl) &&
		    !strcmp(r->metric, t->metric) && params_match(t->params, r->params))
			return r;
	}
	return NULL;
}

/* A target's figures in this run: f2sync's row, the row it is compared
 * with (NULL for ABS) and the compared value (NAN when a row is missing). */
struct target_eval {
	const struct row *own, *vs;
	double value;
};

static struct target_eval target_eval(const struct target *t)
{
	struct target_eval e = { target_row(t, t->impl), NULL, NAN };
	if (!e.own || isnan(e.own->med))
		return e;
	if (t->kind == ABS) {
		e.value = e.own->med;
		return e;
	}
	if (t->kind == BASE)
		e.vs = target_row(t, baseline_of(t->wl));
	for (int p = 0; t->kind == BEST && p < NPEERS; p++) {
		const struct row *r = target_row(t, peers[p]);
		if (r && r->med > 0 && (!e.vs || (t->le ? r->med < e.vs->med : r->med > e.vs->med)))
			e.vs = r;
	}
	if (e.vs && e.vs->med > 0)
		e.value = e.own->med / e.vs->med;
	return e;
}

static const char *target_status(const struct target *t, double v)
{
	if (isnan(v))
		return "n/a";
	if (t->le ? v <= t->threshold : v >= t->threshold)
		return "met";
	return t->stretch ? "not met (stretch)" : "MISSED";
}

static const char *target_versus(const struct target *t)
{
	return t->kind == BEST ? "best peer" : t->kind == BASE ? baseline_of(t->wl) : "absolute";
}

/* ---- output ------------------------------------------------------------ */
static void print_targets(FILE *out)
{
	fprintf(out, "Targets (issues 5 and 12): f2sync / glibc, or / the best of glibc, nsync, abseil "
	        "(\"best peer\"), in this run; futex2 layer: / kernel u32\n");
	fprintf(out, "%-21s %-56s %10s %-19s %9s %8s  %s\n", "id", "workload", "f2sync",
	        "against", "measured", "target", "status");
	for (int i = 0; i < NTARGETS; i++) {
		const struct target *t = &targets[i];
		struct target_eval e = target_eval(t);
		char tgt[24], val[24], own[24], vs[40];
		snprintf(tgt, sizeof tgt, "%s%.2f%s", t->le ? "<=" : ">=", t->threshold,
		         t->kind == ABS ? "" : "x");
		if (isnan(e.value))
			snprintf(val, sizeof val, "n/a");
		else
			snprintf(val, sizeof val, "%.3f%s", e.value, t->kind == ABS ? "" : "x");
		if (e.own && !isnan(e.own->med))
			snprintf(own, sizeof own, "%.4g", e.own->med);
		else
			snprintf(own, sizeof own, "n/a");
		if (e.vs)
			snprintf(vs, sizeof vs, "%s %.4g", e.vs->impl, e.vs->med);
		else
			snprintf(vs, sizeof vs, "%s", t->kind == ABS ? "-" : "n/a");
		fprintf(out, "%-21s %-56s %10s %-19s %9s %8s  %s\n", t->id, t->what, own, vs, val, tgt,
		        target_status(t, e.value));
	}
}

static void print_workload(FILE *out, const char *wl)
{
	fprintf(out, "\n== %s (ratio = impl / %s, same run; median of reps, [min..max])\n", wl,
	        baseline_of(wl));
	fprintf(out, "%-22s %-17s %-12s %12s  %-27s %7s\n", "params", "metric", "impl", "median",
	        "[min..max]", "ratio");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		if (strcmp(r->wl, wl))
			continue;
		char spread[64];
		snprintf(spread, sizeof spread, "[%.4g..%.4g]", r->lo, r->hi);
		char ratio[24];
		double q = ratio_of(r);
		if (isnan(q))
			snprintf(ratio, sizeof ratio, "n/a");
		else
			snprintf(ratio, sizeof ratio, "%.3fx", q);
		fprintf(out, "%-22s %-17s %-12s %12.4g  %-27s %7s%s\n", r->params[0] ? r->params : "-",
		        r->metric, r->impl, r->med, spread, ratio, r->ok ? "" : "  CHECK FAILED");
	}
}

static int seen_before(int i)
{
	for (int j = 0; j < i; j++)
		if (!strcmp(rows[j].wl, rows[i].wl))
			return 1;
	return 0;
}

void f2b_report(FILE *out)
{
	print_targets(out);
	for (int i = 0; i < nrows; i++)
		if (!seen_before(i))
			print_workload(out, rows[i].wl);
	if (nnotes)
		fprintf(out, "\nNotes:\n");
	for (int i = 0; i < nnotes; i++)
		fprintf(out, "  - %s\n", notes[i]);
	fflush(out);
}

static FILE *open_csv(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.csv", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		f2b_fail("cannot write %s: %s", path, strerror(errno));
	return f;
}

static void write_meta(const char *dir);

int f2b_write_csv(const char *dir)
{
	if (mkdir(dir, 0777) && errno != EEXIST) {
		f2b_fail("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < nrows; i++) {
		if (seen_before(i))
			continue;
		FILE *f = open_csv(dir, rows[i].wl);
		if (!f)
			return -1;
		fprintf(f, "workload,params,impl,metric,unit,median,min,max,reps,ratio,baseline,work,check\n");
		for (int j = i; j < nrows; j++) {
			const struct row *r = &rows[j];
			if (strcmp(r->wl, rows[i].wl))
				continue;
			fprintf(f, "%s,%s,%s,%s,%s,%.6g,%.6g,%.6g,%d,%.4f,%s,%.0f,%s\n", r->wl, r->params,
			        r->impl, r->metric, r->unit, r->med, r->lo, r->hi, r->reps, ratio_of(r),
			        baseline_of(r->wl), r->work, r->ok ? "ok" : "FAIL");
		}
		fclose(f);
	}
	FILE *f = open_csv(dir, "targets");
	if (!f)
		return -1;
	fprintf(f, "id,description,workload,params,impl,metric,kind,op,threshold,value,status,"
	        "versus,own,vs_impl,vs_value,unit\n");
	for (int i = 0; i < NTARGETS; i++) {
		const struct target *t = &targets[i];
		struct target_eval e = target_eval(t);
		fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%g,%.4f,%s,%s,%.6g,%s,%.6g,%s\n", t->id, t->what,
		        t->wl, t->params, t->impl, t->metric, t->kind == ABS ? "absolute" : "ratio",
		        t->le ? "<=" : ">=", t->threshold, e.value, target_status(t, e.value),
		        target_versus(t), e.own ? e.own->med : NAN, e.vs ? e.vs->impl : "",
		        e.vs ? e.vs->med : NAN, e.own ? e.own->unit : "");
	}
	fclose(f);
	write_meta(dir);
	return 0;
}

extern void f2b_meta(FILE *f); /* main.c: machine and parameters */

static void write_meta(const char *dir)
{
	FILE *f = open_csv(dir, "meta");
	if (!f)
		return;
	fprintf(f, "key,value\n");
	f2b_meta(f);
	for (int i = 0; i < nnotes; i++) {
		/* notes are free text: no commas in CSV */
		for (char *p = notes[i]; *p; p++)
			if (*p == ',')
				*p = ';';
		fprintf(f, "note,%s\n", notes[i]);
	}
	fclose(f);
}
