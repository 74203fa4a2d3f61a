/* NUMA placement of sync words. The same program runs under several
 * environments (tests/unit/CMakeLists.txt) and reads what to expect from it:
 *   F2TEST_NODES=<n>         f2_numa_node_count() (default: libnuma's count)
 *   F2TEST_CPU_NODES=a,b,..  the node of OS CPU 0, 1, ... (default: libnuma)
 *   F2TEST_FIXED=<n>         every thread is placed on node n (F2SYNC_NUMA=n)
 *   F2TEST_OFF=1             placement is off (F2SYNC_NUMA=off)
 * HWLOC_SYNTHETIC gives this 1-node box 2 or 4 nodes; a thread pinned to OS
 * CPU k must then be placed on the node the synthetic topology puts k in, and
 * each word it is first to contend must record that node. Nodes the kernel
 * does not have must still give working locks.
 * hwloc is loaded only where a topology matters: several nodes, or a
 * synthetic or XML topology asked for, and placement not off (issue 11). */
#include <check.h>
#include <dlfcn.h>
#include <numa.h>

#include "f2sync/cond.h"
#include "f2sync/mutex.h"
#include "f2sync/numa.h"
#include "f2sync/runtime.h"
#include "sync/sync_impl.h"
#include "unit/sync_test.h"
#include "common/testutil.h"

#define MAXCPU 64

static int expect_nodes(void)
{
	const char *s = getenv("F2TEST_NODES");
	if (s)
		return atoi(s);
	return numa_available() >= 0 ? numa_max_node() + 1 : 1;
}

/* The node expected for a thread pinned to cpu; -1 when placement is off. */
static int expect_node_of_cpu(int cpu)
{
	const char *s = getenv("F2TEST_CPU_NODES");
	if (getenv("F2TEST_OFF"))
		return -1;
	if (getenv("F2TEST_FIXED"))
		return atoi(getenv("F2TEST_FIXED"));
	if (!s)
		return numa_available() >= 0 ? numa_node_of_cpu(cpu) : 0;
	for (int i = 0; *s; i++) {
		char *end;
		long n = strtol(s, &end, 10);
		if (i == cpu)
			return (int)n;
		s = *end ? end + 1 : end;
	}
	return 0; /* a CPU outside the topology: node 0 */
}

/* The words a thread contends first, so that it places them. */
struct words {
	f2_mutex_t m;
	f2_mutex8_t m8;
	f2_cond_t c;
	f2_cond64_t c64;
	f2_mutex_t cm; /* the condvars' mutex */
	long counter;
};

static void words_init(struct words *w)
{
	memset(w, 0, sizeof(*w));
	w->m = (f2_mutex_t)F2_MUTEX_INITIALIZER;
	w->m8 = (f2_mutex8_t)F2_MUTEX8_INITIALIZER;
	w->c = (f2_cond_t)F2_COND_INITIALIZER;
	w->c64 = (f2_cond64_t)F2_COND64_INITIALIZER;
	w->cm = (f2_mutex_t)F2_MUTEX_INITIALIZER;
}

struct pinned {
	int cpu;            /* -1: not pinned */
	struct words *w;
	int self;           /* f2_numa_node_of_self() in the thread */
	int rc[4];
};

/* Contends every word once (the mutexes are held by the main thread): a
 * timed lock with a past deadline takes the slow path, which places the word;
 * a timed wait places the condvar. */
static void *place_words(void *arg)
{
	struct pinned *p = arg;
	struct timespec past = { 0, 0 };

	if (p->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(p->cpu, &set);
		ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
	}
	p->self = f2_numa_node_of_self();
	p->rc[0] = f2_mutex_timedlock(&p->w->m, &past, CLOCK_MONOTONIC);
	p->rc[1] = f2_mutex8_timedlock(&p->w->m8, &past, CLOCK_REALTIME);
	ck_assert_int_eq(f2_mutex_lock(&p->w->cm), 0);
	p->rc[2] = f2_cond_timedwait(&p->w->c, &p->w->cm, &past, CLOCK_MONOTONIC);
	p->rc[3] = f2_cond64_timedwait(&p->w->c64, &p->w->cm, &past, CLOCK_MONOTONIC);
	ck_assert_int_eq(f2_mutex_unlock(&p->w->cm), 0);
	return NULL;
}

static void *count_both(void *arg)
{
	struct words *w = arg;
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(f2_mutex_lock(&w->m), 0);
		ck_assert_int_eq(f2_mutex8_lock(&w->m8), 0);
		w->counter++;
		ck_assert_int_eq(f2_mutex8_unlock(&w->m8), 0);
		ck_assert_int_eq(f2_mutex_unlock(&w->m), 0);
	}
	return NULL;
}

/* 1 if node is the expected node of a CPU this process may run on. */
static int node_possible(int node)
{
	cpu_set_t allowed;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (int cpu = 0; cpu < MAXCPU; cpu++)
		if (CPU_ISSET(cpu, &allowed) && expect_node_of_cpu(cpu) == node)
			return 1;
	return 0;
}

/* Runs place_words on cpu (or unpinned) and checks the nodes recorded;
 * returns the node the thread was given. */
static int check_place(int cpu, int expect)
{
	struct words w;
	struct pinned p = { cpu, &w, -2, { -1, -1, -1, -1 } };
	pthread_t t;

	words_init(&w);
	ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
	ck_assert_int_eq(f2_mutex8_lock(&w.m8), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, place_words, &p), 0);
	pthread_join(t, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(p.rc[i], ETIMEDOUT);
	if (cpu >= 0) {
		ck_assert_int_eq(p.self, expect);
		int recorded = p.self < 0 ? -1 : p.self;
		ck_assert_int_eq(w.m.node, recorded);
		ck_assert_int_eq(w.m8.node, recorded);
		ck_assert_int_eq(w.c.node, recorded);
		ck_assert_int_eq((int)w.c64.node, recorded);
	} else { /* it may migrate between the calls: any node it may run on */
		ck_assert(node_possible(p.self));
		ck_assert(node_possible(w.m.node));
		ck_assert(node_possible(w.m8.node));
		ck_assert(node_possible(w.c.node));
		ck_assert(node_possible((int)w.c64.node));
	}
	/* Whatever the node (one the kernel lacks, too), the locks work. */
	ck_assert_int_eq(f2_mutex8_unlock(&w.m8), 0);
	ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
	pthread_t u[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&u[i], NULL, count_both, &w), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(u[i], NULL);
	ck_assert_int_eq(w.counter, 4000);
	return p.self;
}

START_TEST(node_count)
{
	ck_assert_int_eq(f2_numa_node_count(), expect_nodes());
}
END_TEST

/* A thread bound to one CPU is placed on that CPU's node. */
START_TEST(pinned_threads)
{
	cpu_set_t allowed;
	int tested = 0;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (int cpu = 0; cpu < MAXCPU; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		check_place(cpu, expect_node_of_cpu(cpu));
		tested++;
	}
	ck_assert_int_ge(tested, 1);
}
END_TEST

/* An unbound thread (its CPUs may span nodes) gets, for each word, the node
 * of a CPU it may run on. */
START_TEST(unpinned_thread)
{
	check_place(-1, -2);
}
END_TEST

static void *override_thread(void *arg)
{
	int *res = arg;
	int last = f2_numa_node_count() - 1;
	res[0] = f2_thread_set_node(-2);
	res[1] = f2_thread_set_node(f2_numa_node_count());
	res[2] = f2_thread_set_node(last);
	res[3] = f2_thread_get_node();
	res[4] = f2_numa_node_of_self();
	res[5] = f2_thread_set_node(-1);
	res[6] = f2_thread_get_node();
	return NULL;
}

/* f2_thread_set_node (runtime.h) overrides the placement of one thread. */
START_TEST(thread_override)
{
	int res[7];
	pthread_t t;
	int last = f2_numa_node_count() - 1;
	ck_assert_int_eq(pthread_create(&t, NULL, override_thread, res), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(res[0], EINVAL);
	ck_assert_int_eq(res[1], EINVAL);
	ck_assert_int_eq(res[2], 0);
	ck_assert_int_eq(res[3], last);
	ck_assert_int_eq(res[4], getenv("F2TEST_OFF") ? -1 : last);
	ck_assert_int_eq(res[5], 0);
	ck_assert_int_eq(res[6], -1);
	ck_assert_int_eq(f2_thread_get_node(), -1); /* per thread */
}
END_TEST

/* All-zero words are homed on node 0 and keep it. */
START_TEST(zero_words_stay_on_node0)
{
	struct words w;
	struct pinned p = { -1, &w, -2, { -1, -1, -1, -1 } };
	pthread_t t;
	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(f2_mutex_lock(&w.m), 0);
	ck_assert_int_eq(f2_mutex8_lock(&w.m8), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, place_words, &p), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.m.node, 0);
	ck_assert_int_eq(w.m8.node, 0);
	ck_assert_int_eq(w.c.node, 0);
	ck_assert_int_eq((int)w.c64.node, 0);
	ck_assert_int_eq(f2_mutex8_unlock(&w.m8), 0);
	ck_assert_int_eq(f2_mutex_unlock(&w.m), 0);
}
END_TEST

/* One node, F2SYNC_NUMA=auto, and a kernel whose futex2 calls serve 32-bit
 * words with and without F2_NUMA: a sync word's flags are plain, its node is
 * still recorded (numa.md). Elsewhere the rule does not apply and the flags
 * are whatever the other rules give. */
START_TEST(one_node_words_are_plain)
{
	const char *mode = getenv("F2SYNC_NUMA");
	const char *a = f2_futex_backend(F2_PRIVATE | F2_SIZE_U32 | F2_NUMA);
	const char *b = f2_futex_backend(F2_PRIVATE | F2_SIZE_U32);
	int one = numa_available() < 0 || numa_max_node() == 0;
	f2_mutex_t m;

	memset(&m, 0xff, sizeof(m)); /* node -1: not yet placed */
	m.word = 0;
	unsigned flags = f2_pair_flags(&m, F2_SIZE_U32);
	if (mode && !strcmp(mode, "off")) {
		ck_assert(!(flags & F2_NUMA)); /* and no node is chosen */
		return;
	}
	ck_assert_int_ge(m.node, 0);
	if (one && (!mode || !strcmp(mode, "auto")) && a && b && !strcmp(a, "futex2") &&
	    !strcmp(b, "futex2"))
		ck_assert_msg(!(flags & F2_NUMA), "flags 0x%x keep F2_NUMA on one node", flags);
}
END_TEST

/* On a one-node machine nothing loads hwloc; with a synthetic topology (or
 * several nodes) the library loaded it before main, not on a lock path; built
 * without hwloc (F2SYNC_WITH_HWLOC=OFF), never. */
START_TEST(hwloc_loaded_only_when_needed)
{
	const char *off = getenv("F2SYNC_NUMA"), *syn = getenv("HWLOC_SYNTHETIC");
	int multi = numa_available() >= 0 && numa_max_node() > 0;
	int want = F2TEST_WITH_HWLOC && !(off && !strcmp(off, "off")) && (multi || (syn && *syn));
	void *h = dlopen("libhwloc.so.15", RTLD_NOW | RTLD_NOLOAD);

	ck_assert_int_eq(h != NULL, want);
	if (h)
		dlclose(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("placement");
	TCase *tc = tcase_create("nodes");
	tcase_add_test(tc, node_count);
	tcase_add_test(tc, pinned_threads);
	tcase_add_test(tc, unpinned_thread);
	tcase_add_test(tc, thread_override);
	tcase_add_test(tc, zero_words_stay_on_node0);
	tcase_add_test(tc, one_node_words_are_plain);
	tcase_add_test(tc, hwloc_loaded_only_when_needed);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
