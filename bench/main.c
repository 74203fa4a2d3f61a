/* f2bench: side-by-side benchmark of f2sync against glibc pthread (and nsync
 * and abseil when present). Usage: f2bench --help. Tables on stdout (targets first),
 * progress on stderr, CSV files into --csv DIR. Exits non-zero only on a
 * correctness failure, never on timing. */
#include <gnu/libc-version.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "f2bench.h"
#include "f2sync/futex2.h"

#pragma weak f2_futex_backend

struct f2b_config f2b_cfg;

static const struct { const char *name; void (*run)(void); } workloads[] = {
	{ "uncontended", wl_uncontended },       { "contended", wl_contended },
	{ "contended_short", wl_contended_short },
	{ "broadcast", wl_broadcast },           { "pingpong", wl_pingpong },
	{ "cond_idle", wl_cond_idle },           { "prodcons", wl_prodcons },
	{ "rwlock", wl_rwlock },                 { "barrier", wl_barrier },
	{ "futex_handoff", wl_futex_handoff },   { "futex_wake_empty", wl_futex_wake_empty },
	{ "futex_wait_mismatch", wl_futex_wait_mismatch },
	{ "futex_distinct", wl_futex_distinct },
};
#define NWL (int)(sizeof workloads / sizeof workloads[0])

static int parse_list(const char *s, struct f2b_list *l)
{
	l->n = 0;
	while (*s && l->n < F2B_MAX_LIST) {
		char *e;
		long v = strtol(s, &e, 10);
		if (e == s || v <= 0)
			return -1;
		l->v[l->n++] = (int)v;
		s = *e == ',' ? e + 1 : e;
		if (*e && *e != ',')
			return -1;
	}
	return l->n ? 0 : -1;
}

static void preset(const char *name)
{
	struct f2b_config *c = &f2b_cfg;
	c->preset = name;
	c->cs = 20;
	c->ncs = 100;
	c->short_cs = 5;
	c->short_ncs = 20;
	parse_list("2,8,64", &c->short_threads);
	parse_list("2,8", &c->rw_threads);
	parse_list("90,99", &c->read_pct);
	parse_list("2,8,64", &c->barrier_threads);
	c->consumers = 2;
	c->item_ns = 1000;
	if (!strcmp(name, "smoke")) {
		c->reps = 2, c->duration_ms = 10, c->iters = 2000, c->rounds = 4;
		c->distinct_threads = 8;
		parse_list("2,8,64", &c->threads);
		parse_list("4,16", &c->waiters);
	} else if (!strcmp(name, "quick")) {
		c->reps = 5, c->duration_ms = 150, c->iters = 300000, c->rounds = 40;
		c->distinct_threads = 64;
		parse_list("2,8,64", &c->threads);
		parse_list("16,64", &c->waiters);
	} else {
		/* 1 s per timed run: with 64 threads on 2 CPUs a shorter run spans
		 * too few scheduler slices for max/min to say anything about the
		 * lock rather than about which threads the scheduler ran. */
		c->reps = 5, c->duration_ms = 1000, c->iters = 2000000, c->rounds = 150;
		c->distinct_threads = 64;
		parse_list("1,2,4,8,16,32,64", &c->threads);
		parse_list("4,16,32,64", &c->waiters);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: f2bench [--full|--quick|--smoke] [options]\n"
		"  --csv DIR            write <workload>.csv, targets.csv, meta.csv into DIR\n"
		"  --workloads a,b      subset of:");
	for (int i = 0; i < NWL; i++)
		fprintf(f, " %s", workloads[i].name);
	fprintf(f, "\n"
		"  --impls a,b          subset of: glibc f2sync f2sync-m8 f2sync-bit f2sync-c64 nsync abseil\n"
		"                       u8 u16 u32 u64\n"
		"  --reps N             repetitions per figure (median; default 5)\n"
		"  --duration MS        length of each timed run (contended, rwlock)\n"
		"  --iters N            lock+unlock pairs per uncontended run (wakes: N/10)\n"
		"  --rounds N           broadcast rounds (x10 barrier, x20 ping-pong/handoff)\n"
		"  --cs N --ncs N       critical / non-critical section, in work units\n"
		"  --short-cs N --short-ncs N --short-threads LIST   the same for contended_short\n"
		"  --threads LIST       contended mutex thread counts\n"
		"  --waiters LIST       broadcast waiter counts\n"
		"  --rw-threads LIST --read-pct LIST --barrier-threads LIST\n"
		"  --distinct-threads N threads on distinct futex words\n"
		"  --consumers N --item-ns N   prodcons: consumers, CPU work per item (ns)\n"
		"  --no-children        skip the rows that need a child process (requeue off,\n"
		"                       F2SYNC_BACKEND=legacy|emulate), e.g. under perf stat\n");
}

static int parse_args(int argc, char **argv)
{
	preset("full");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int list_err = 0;
#define ARG(n) (!strcmp(a, n) && v && ++i)
		if (!strcmp(a, "--full") || !strcmp(a, "--quick") || !strcmp(a, "--smoke"))
			preset(a + 2);
		else if (!strcmp(a, "--child"))
			f2b_cfg.child = 1;
		else if (!strcmp(a, "--no-children"))
			f2b_cfg.no_children = 1;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (ARG("--csv")) f2b_cfg.csv_dir = v;
		else if (ARG("--workloads")) f2b_cfg.workloads = v;
		else if (ARG("--impls")) f2b_cfg.impls = v;
		else if (ARG("--label")) f2b_cfg.label = v;
		else if (ARG("--reps")) f2b_cfg.reps = atoi(v);
		else if (ARG("--duration")) f2b_cfg.duration_ms = atoi(v);
		else if (ARG("--iters")) f2b_cfg.iters = atol(v);
		else if (ARG("--rounds")) f2b_cfg.rounds = atol(v);
		else if (ARG("--cs")) f2b_cfg.cs = atoi(v);
		else if (ARG("--ncs")) f2b_cfg.ncs = atoi(v);
		else if (ARG("--short-cs")) f2b_cfg.short_cs = atoi(v);
		else if (ARG("--short-ncs")) f2b_cfg.short_ncs = atoi(v);
		else if (ARG("--short-threads")) list_err = parse_list(v, &f2b_cfg.short_threads);
		else if (ARG("--distinct-threads")) f2b_cfg.distinct_threads = atoi(v);
		else if (ARG("--consumers")) f2b_cfg.consumers = atoi(v);
		else if (ARG("--item-ns")) f2b_cfg.item_ns = atoi(v);
		else if (ARG("--threads")) list_err = parse_list(v, &f2b_cfg.threads);
		else if (ARG("--waiters")) list_err = parse_list(v, &f2b_cfg.waiters);
		else if (ARG("--rw-threads")) list_err = parse_list(v, &f2b_cfg.rw_threads);
		else if (ARG("--read-pct")) list_err = parse_list(v, &f2b_cfg.read_pct);
		else if (ARG("--barrier-threads")) list_err = parse_list(v, &f2b_cfg.barrier_threads);
		else {
			fprintf(stderr, "f2bench: bad argument '%s'\n", a);
			return -1;
		}
#undef ARG
		if (list_err) {
			fprintf(stderr, "f2bench: bad list '%s' for %s\n", v, a);
			return -1;
		}
	}
	if (f2b_cfg.reps < 1 || f2b_cfg.reps > 64 || f2b_cfg.duration_ms < 1 || f2b_cfg.iters < 1 ||
	    f2b_cfg.rounds < 1 || f2b_cfg.cs < 0 || f2b_cfg.ncs < 0 || f2b_cfg.short_cs < 0 ||
	    f2b_cfg.short_ncs < 0 || f2b_cfg.distinct_threads < 2 || f2b_cfg.consumers < 1 ||
	    f2b_cfg.consumers > F2B_MAX_CONSUMERS || f2b_cfg.item_ns < 0) {
		fprintf(stderr, "f2bench: a parameter is out of range (reps 1..64, consumers 1..%d, "
		        "others positive)\n", F2B_MAX_CONSUMERS);
		return -1;
	}
	if (f2b_cfg.workloads)
		for (const char *p = f2b_cfg.workloads; *p;) {
			size_t len = strcspn(p, ",");
			int found = 0;
			for (int i = 0; i < NWL; i++)
				found |= strlen(workloads[i].name) == len && !strncmp(workloads[i].name, p, len);
			if (!found) {
				fprintf(stderr, "f2bench: unknown workload '%.*s'\n", (int)len, p);
				return -1;
			}
			p += len + (p[len] == ',');
		}
	return 0;
}

static void cpu_model(char *buf, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	snprintf(buf, n, "unknown");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			char *v = strchr(line, ':') + 2;
			v[strcspn(v, "\n")] = 0;
			for (char *p = v; *p; p++)
				*p = *p == ',' ? ';' : *p;
			snprintf(buf, n, "%s", v);
			break;
		}
	if (f)
		fclose(f);
}

static void list_str(const struct f2b_list *l, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < l->n && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? " " : "", l->v[i]);
}

/* Whether f2_mutex_t's store unlock can be on in this process: the
 * conditions src/sync/store_unlock.c checks, seen from outside the library
 * (which exports no switch for it), so that the report can say which unlock
 * the uncontended f2_mutex_t row measured. */
static const char *store_unlock_state(void)
{
	const char *env = getenv("F2SYNC_RSEQ");
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

#if !defined(__x86_64__)
	return "off (not x86-64)";
#endif
	if (env && strcmp(env, "0") == 0)
		return "off (F2SYNC_RSEQ=0)";
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ))
		return "off (no membarrier rseq command)";
	if (!__rseq_size)
		return "off (libc did not register rseq)";
	return "on";
}

/* meta.csv: the machine and the parameters of the run (harness.c calls it). */
void f2b_meta(FILE *f)
{
	char cpu[160], lst[96];
	struct utsname u;
	time_t now = time(NULL);
	char date[64];
	strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	uname(&u);
	cpu_model(cpu, sizeof cpu);
	fprintf(f, "date,%s\ncpu,%s\ncores,%ld\nkernel,%s %s\nglibc,%s\n", date, cpu,
	        sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, gnu_get_libc_version());
	fprintf(f, "store_unlock,%s\n", store_unlock_state());
	fprintf(f, "nsync,%s\n", F2BENCH_HAVE_NSYNC ? "yes" : "no (libnsync-dev missing at build time)");
	fprintf(f, "abseil,%s\n", f2b_absl_state);
	if (f2_futex_backend)
		fprintf(f, "backend_u32,%s\nbackend_u8,%s\n",
		        f2_futex_backend(F2_SIZE_U32 | F2_PRIVATE) ?: "none",
		        f2_futex_backend(F2_SIZE_U8 | F2_PRIVATE) ?: "none");
	fprintf(f, "preset,%s\nreps,%d\nduration_ms,%d\niters,%ld\nrounds,%ld\ncs,%d\nncs,%d\n",
	        f2b_cfg.preset, f2b_cfg.reps, f2b_cfg.duration_ms, f2b_cfg.iters, f2b_cfg.rounds,
	        f2b_cfg.cs, f2b_cfg.ncs);
	fprintf(f, "unit_ns,%.3f\n", f2b_unit_ns());
	list_str(&f2b_cfg.threads, lst, sizeof lst);
	fprintf(f, "threads,%s\n", lst);
	list_str(&f2b_cfg.waiters, lst, sizeof lst);
	fprintf(f, "waiters,%s\n", lst);
	list_str(&f2b_cfg.barrier_threads, lst, sizeof lst);
	fprintf(f, "barrier_threads,%s\n", lst);
	fprintf(f, "consumers,%d\nitem_ns,%d\n", f2b_cfg.consumers, f2b_cfg.item_ns);
}

static void *noop_thread(void *arg) { return arg; }

/* glibc (2.34+) runs pthread_mutex_lock/unlock without atomic instructions
 * while __libc_single_threaded is set, i.e. until the process first creates
 * a thread. A lock only matters in a multi-threaded program, so f2bench makes
 * the process multi-threaded before measuring anything: otherwise the
 * uncontended glibc rows would time plain loads and stores. */
static void become_multithreaded(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, noop_thread, NULL) == 0)
		pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	f2b_cfg.argc = argc;
	f2b_cfg.argv = argv;
	if (parse_args(argc, argv)) {
		usage(stderr);
		return 2;
	}
	f2b_impls_setup();
	become_multithreaded();
	if (!f2b_cfg.child)
		f2b_progress("preset %s, %d reps per figure; one work unit = %.2f ns", f2b_cfg.preset,
		             f2b_cfg.reps, f2b_unit_ns());
	uint64_t t0 = f2b_now_ns();
	for (int i = 0; i < NWL; i++)
		if (f2b_selected_workload(workloads[i].name))
			workloads[i].run();
	if (f2b_cfg.child)
		return f2b_failed() ? 1 : 0;
	f2b_progress("done in %.1f s", (double)(f2b_now_ns() - t0) / 1e9);
	f2b_report(stdout);
	if (f2b_cfg.csv_dir)
		f2b_write_csv(f2b_cfg.csv_dir);
	if (f2b_failed()) {
		fprintf(stderr, "f2bench: %d correctness failure(s)\n", f2b_failed());
		return 1;
	}
	return 0;
}
