/* NUMA placement on a real multi-node kernel (issue 16).
 *
 * Runs inside the qemu guests that tests/numa_guest/run_guest.sh boots (2 nodes
 * x 2 CPUs, 4 nodes x 1 CPU), and on the host too, where it is the one-node
 * case. What to expect comes from the kernel, never from hwloc or libnuma
 * (which are what f2sync itself asks): sysfs's online nodes and each node's
 * CPU list, and getcpu(2) for the node a pinned thread runs on. F2TEST_NODES,
 * when set, is the layout the guest was booted with.
 *
 * For every node k and every kind of lock word (the sync layer's mutexes,
 * condvars and rwlock, and raw futex2 NUMA pairs of each size):
 *   - a thread pinned to a CPU of k that is the first to contend a word whose
 *     node is -1 homes it on k: the pair's node field says k, and when the
 *     word's backend is the emulation the thread parks in node k's table;
 *   - a waker on another node finds it (the first waiter and the first waker
 *     agree on the table), and so does one for a word homed on node 0 that is
 *     used only from another node;
 * and threads on every node (twice as many as CPUs) share each kind of lock
 * without losing a count or a wakeup. */
#include <check.h>
#include <fcntl.h>
#include <limits.h>

#include "f2sync/barrier.h"
#include "f2sync/cond.h"
#include "f2sync/futex2.h"
#include "f2sync/mutex.h"
#include "f2sync/numa.h"
#include "f2sync/rwlock.h"
#include "unit/emu_test.h"
#include "common/testutil.h"

#define MAXNODE 64
#define MAXCPU  256

/* ---- The kernel's layout (sysfs) --------------------------------------- */

static struct {
	int n;                   /* online nodes */
	int id[MAXNODE];         /* their numbers, ascending */
	cpu_set_t cpus[MAXNODE]; /* each one's CPUs */
	int ncpu;                /* CPUs on some node */
} topo;

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* Calls add(v, arg) for every number of a sysfs list ("0", "0-3", "0,2-5"). */
static void parse_list(const char *s, void (*add)(int, void *), void *arg)
{
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s) {
			s++;
			continue;
		}
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (long v = a; v <= b; v++)
			add((int)v, arg);
		s = end;
	}
}

static void add_node(int v, void *arg)
{
	(void)arg;
	if (topo.n < MAXNODE)
		topo.id[topo.n++] = v;
}

static void add_cpu(int v, void *arg)
{
	if (v < MAXCPU)
		CPU_SET(v, (cpu_set_t *)arg);
}

/* Without sysfs nodes (a kernel built without NUMA) the machine is one node
 * 0 holding every CPU this process may use. */
static void topo_load(void)
{
	char buf[4096], path[96];
	if (read_text("/sys/devices/system/node/online", buf, sizeof buf) == 0)
		parse_list(buf, add_node, NULL);
	if (topo.n == 0) {
		topo.n = 1;
		sched_getaffinity(0, sizeof topo.cpus[0], &topo.cpus[0]);
	} else {
		for (int i = 0; i < topo.n; i++) {
			snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpulist", topo.id[i]);
			if (read_text(path, buf, sizeof buf) == 0)
				parse_list(buf, add_cpu, &topo.cpus[i]);
		}
	}
	for (int i = 0; i < topo.n; i++)
		topo.ncpu += CPU_COUNT(&topo.cpus[i]);
}

static int first_cpu(int idx)
{
	for (int c = 0; c < MAXCPU; c++)
		if (CPU_ISSET(c, &topo.cpus[idx]))
			return c;
	return -1;
}

/* The index of the first node after idx (cyclically) that has CPUs: a host
 * may have memory-only nodes, which no thread can be pinned to. */
static int next_cpu_node(int idx)
{
	for (int i = 1; i <= topo.n; i++)
		if (first_cpu((idx + i) % topo.n) >= 0)
			return (idx + i) % topo.n;
	return idx;
}

/* The i-th CPU on some node (i < topo.ncpu), and that node's index. */
static int nth_cpu(int i, int *idx)
{
	for (int k = 0; k < topo.n; k++)
		for (int c = 0; c < MAXCPU; c++)
			if (CPU_ISSET(c, &topo.cpus[k]) && i-- == 0) {
				if (idx)
					*idx = k;
				return c;
			}
	return -1;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof set, &set), 0);
}

static int kernel_node_now(void)
{
	unsigned cpu, node;
	ck_assert_int_eq(getcpu(&cpu, &node), 0);
	return (int)node;
}

/* ---- One word, one parked waiter ---------------------------------------- */

enum kind { K_MUTEX, K_MUTEX8, K_COND, K_COND64, K_RWLOCK, K_PAIR8, K_PAIR16, K_PAIR32, K_PAIR64,
            K_COUNT };

static const char *const kind_name[K_COUNT] = {
	"f2_mutex_t", "f2_mutex8_t", "f2_cond_t", "f2_cond64_t", "f2_rwlock_t",
	"u8 pair", "u16 pair", "u32 pair", "u64 pair",
};

/* Every kind of word, so that one object can be any of them. */
struct target {
	f2_mutex_t m;
	f2_mutex8_t m8;
	f2_cond_t c;
	f2_cond64_t c64;
	f2_mutex_t cm; /* the condvars' mutex, homed on node 0 (all zero) */
	f2_rwlock_t rw;
	struct slot pair;
	int cond_ready; /* the predicate the condvar waiter waits for */
};

static unsigned kind_size(enum kind k)
{
	switch (k) {
	case K_MUTEX8: case K_PAIR8: return F2_SIZE_U8;
	case K_PAIR16: return F2_SIZE_U16;
	case K_COND64: case K_PAIR64: return F2_SIZE_U64;
	default: return F2_SIZE_U32;
	}
}

/* The pair (value then node) a kind of word parks on. */
static void *kind_pair(struct target *t, enum kind k)
{
	switch (k) {
	case K_MUTEX: return &t->m;
	case K_MUTEX8: return &t->m8;
	case K_COND: return &t->c;
	case K_COND64: return &t->c64;
	case K_RWLOCK: return &t->rw;
	default: return &t->pair;
	}
}

static int kind_emulated(enum kind k)
{
	return is_emulated(kind_size(k) | F2_PRIVATE | F2_NUMA);
}

/* Every word unlocked and homed on node 0 (all zero) but word k, whose node
 * field is node (-1: the first thread to contend picks). */
static void target_init(struct target *t, enum kind k, int node)
{
	memset(t, 0, sizeof *t);
	set_node(kind_pair(t, k), kind_size(k), node);
}

/* Makes k busy so that the waiter must park (the caller's own thread). */
static void hold(struct target *t, enum kind k)
{
	switch (k) {
	case K_MUTEX: ck_assert_int_eq(f2_mutex_lock(&t->m), 0); break;
	case K_MUTEX8: ck_assert_int_eq(f2_mutex8_lock(&t->m8), 0); break;
	case K_RWLOCK: ck_assert_int_eq(f2_rwlock_wrlock(&t->rw), 0); break;
	default: break; /* condvars and pairs wait for a value that is not there */
	}
}

/* Lets the parked waiter go, from the caller's node. */
static void release(struct target *t, enum kind k)
{
	unsigned sz = kind_size(k);
	switch (k) {
	case K_MUTEX: ck_assert_int_eq(f2_mutex_unlock(&t->m), 0); break;
	case K_MUTEX8: ck_assert_int_eq(f2_mutex8_unlock(&t->m8), 0); break;
	case K_RWLOCK: ck_assert_int_eq(f2_rwlock_unlock(&t->rw), 0); break;
	case K_COND: case K_COND64:
		ck_assert_int_eq(f2_mutex_lock(&t->cm), 0);
		t->cond_ready = 1;
		ck_assert_int_eq(k == K_COND ? f2_cond_signal(&t->c) : f2_cond64_signal(&t->c64), 0);
		ck_assert_int_eq(f2_mutex_unlock(&t->cm), 0);
		break;
	default: {
		st(&t->pair, sz, 1);
		int n = f2_futex_wake(&t->pair, width_max(sz), INT_MAX, sz | F2_PRIVATE | F2_NUMA);
		ck_assert_msg(n == 1, "%s: woke %d, %d record(s) still parked", kind_name[k], n,
		              parked());
		break;
	}
	}
}

/* The waiter's side of each kind: block until release(). */
static void block_on(struct target *t, enum kind k)
{
	unsigned sz = kind_size(k);
	switch (k) {
	case K_MUTEX:
		ck_assert_int_eq(f2_mutex_lock(&t->m), 0);
		ck_assert_int_eq(f2_mutex_unlock(&t->m), 0);
		break;
	case K_MUTEX8:
		ck_assert_int_eq(f2_mutex8_lock(&t->m8), 0);
		ck_assert_int_eq(f2_mutex8_unlock(&t->m8), 0);
		break;
	case K_RWLOCK:
		ck_assert_int_eq(f2_rwlock_rdlock(&t->rw), 0);
		ck_assert_int_eq(f2_rwlock_unlock(&t->rw), 0);
		break;
	case K_COND: case K_COND64:
		ck_assert_int_eq(f2_mutex_lock(&t->cm), 0);
		while (!t->cond_ready)
			ck_assert_int_eq(k == K_COND ? f2_cond_wait(&t->c, &t->cm)
			                             : f2_cond64_wait(&t->c64, &t->cm), 0);
		ck_assert_int_eq(f2_mutex_unlock(&t->cm), 0);
		break;
	default:
		while (ld(&t->pair, sz) == 0) {
			int r = f2_futex_wait(&t->pair, 0, width_max(sz), sz | F2_PRIVATE | F2_NUMA,
			                      NULL, CLOCK_MONOTONIC);
			ck_assert(r == 0 || r == -EAGAIN);
		}
		break;
	}
}

struct blocker {
	struct target *t;
	enum kind k;
	int cpu;
	pid_t tid;     /* set once pinned */
	int self_node; /* f2_numa_node_of_self() once pinned */
	int kern_node; /* getcpu() once pinned */
	int done;
};

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;
	pin(b->cpu);
	b->self_node = f2_numa_node_of_self();
	b->kern_node = kernel_node_now();
	__atomic_store_n(&b->tid, tu_gettid(), __ATOMIC_SEQ_CST);
	block_on(b->t, b->k);
	__atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Waits until the blocker sleeps in a futex call, and on an emulated word
 * until its record is in a table too. The count alone is not enough: a
 * waiter announces itself in the bucket's count before it reads the word
 * (emulate.c), so a count of 1 may still end in -EAGAIN if the word changes
 * next; the parker's futex sleep comes only after the record is queued. A
 * hang is caught by the suite's timeout. */
static void wait_blocked(struct blocker *b)
{
	pid_t tid;
	while (!(tid = __atomic_load_n(&b->tid, __ATOMIC_SEQ_CST)))
		tu_sleep_ms(1);
	if (kind_emulated(b->k))
		wait_parked(1);
	while (!tu_wait_parked(tid))
		;
}

/* A thread on waiter_cpu blocks on word k of a target whose node fields
 * start as init_node; the caller (pinned to waker_cpu) checks that the word
 * is homed on expect and, when emulated, parked in expect's table, then
 * releases it and checks the waiter got through. */
static void park_and_wake(enum kind k, int init_node, int waiter_cpu, int waker_cpu, int expect)
{
	struct target t;
	struct blocker b = { &t, k, waiter_cpu, 0, -2, -2, 0 };
	pthread_t th;

	pin(waker_cpu);
	target_init(&t, k, init_node);
	hold(&t, k);
	ck_assert_int_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
	wait_blocked(&b);
	ck_assert_msg(get_node(kind_pair(&t, k), kind_size(k)) == expect,
	              "%s: waiter on cpu %d, node field %d, expected %d", kind_name[k], waiter_cpu,
	              get_node(kind_pair(&t, k), kind_size(k)), expect);
	if (kind_emulated(k)) {
		for (int n = 0; n < f2_emu_node_count(); n++)
			ck_assert_msg(f2_emu_waiters_on_node(n) == (n == expect),
			              "%s: %d waiter(s) in node %d's table, expected the one in %d's",
			              kind_name[k], f2_emu_waiters_on_node(n), n, expect);
	}
	ck_assert(!__atomic_load_n(&b.done, __ATOMIC_SEQ_CST));
	release(&t, k);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert(b.done);
	ck_assert_int_eq(get_node(kind_pair(&t, k), kind_size(k)), expect);
}

/* ---- Tests ----------------------------------------------------------------- */

/* f2sync sees the nodes the kernel has, which are the layout's. */
START_TEST(node_count)
{
	const char *want = getenv("F2TEST_NODES");
	if (want)
		ck_assert_int_eq(topo.n, atoi(want));
	ck_assert_int_eq(f2_numa_node_count(), topo.n);
	ck_assert_int_ge(f2_emu_node_count(), topo.n); /* a table for every node */
	for (int i = 0; want && i < topo.n; i++) { /* the guest's layout */
		ck_assert_int_eq(topo.id[i], i); /* numbered 0..n-1 */
		ck_assert_int_ge(CPU_COUNT(&topo.cpus[i]), 1);
	}
}
END_TEST

/* Every CPU: a thread pinned there is on that CPU's node for the kernel and
 * for f2sync, and keeps no override. */
START_TEST(pinned_node_of_self)
{
	for (int i = 0; i < topo.ncpu; i++) {
		int idx, cpu = nth_cpu(i, &idx);
		struct target t;
		struct blocker b = { &t, K_PAIR32, cpu, 0, -2, -2, 0 };
		pthread_t th;
		target_init(&t, K_PAIR32, 0);
		st(&t.pair, F2_SIZE_U32, 1); /* block_on returns at once */
		ck_assert_int_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		ck_assert_int_eq(b.kern_node, topo.id[idx]);
		ck_assert_msg(b.self_node == topo.id[idx], "cpu %d: f2_numa_node_of_self() %d, kernel node %d",
		              cpu, b.self_node, topo.id[idx]);
	}
}
END_TEST

/* Word kind _i, node -1, first contended by a thread on each node k in turn,
 * woken from the next node: homed on k, parked in k's table. */
START_TEST(homed_on_first_contender)
{
	enum kind k = (enum kind)_i;
	for (int idx = 0; idx < topo.n; idx++) {
		if (first_cpu(idx) < 0)
			continue; /* a memory-only node */
		int waker = first_cpu(next_cpu_node(idx));
		park_and_wake(k, F2_NODE_AUTO, first_cpu(idx), waker, topo.id[idx]);
	}
}
END_TEST

/* Word kind _i homed on node 0 (all-zero memory), used only from the last
 * node with CPUs: it stays on node 0, parks in node 0's table, and wakes. */
START_TEST(node0_word_used_remotely)
{
	enum kind k = (enum kind)_i;
	int last = topo.n - 1;
	while (last > 0 && first_cpu(last) < 0)
		last--; /* the last node that has CPUs */
	int far = first_cpu(last);
	park_and_wake(k, 0, far, far, 0);
}
END_TEST

/* ---- Every node at once ---------------------------------------------------- */

#define ROUNDS 300

struct shared {
	f2_mutex_t m;
	f2_mutex8_t m8;
	f2_rwlock_t rw;
	f2_mutex_t cm;
	f2_cond_t c;
	f2_cond64_t c64;
	f2_barrier_t bar;
	long count_m, count_m8, count_rw;
	long shadow_rw; /* = count_rw whenever no writer holds rw */
	long reads;
	int turn;     /* token ring under cm: whose turn it is */
	int nthreads;
};

struct worker {
	struct shared *s;
	int id, cpu;
	int serial;   /* barrier serial returns seen */
};

static void ring_step(struct shared *s, int id, int use64)
{
	ck_assert_int_eq(f2_mutex_lock(&s->cm), 0);
	while (s->turn != id)
		ck_assert_int_eq(use64 ? f2_cond64_wait(&s->c64, &s->cm) : f2_cond_wait(&s->c, &s->cm), 0);
	s->turn = (id + 1) % s->nthreads;
	ck_assert_int_eq(use64 ? f2_cond64_broadcast(&s->c64) : f2_cond_broadcast(&s->c), 0);
	ck_assert_int_eq(f2_mutex_unlock(&s->cm), 0);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	pin(w->cpu);
	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(f2_mutex_lock(&s->m), 0);
		s->count_m++;
		ck_assert_int_eq(f2_mutex_unlock(&s->m), 0);
		ck_assert_int_eq(f2_mutex8_lock(&s->m8), 0);
		s->count_m8++;
		ck_assert_int_eq(f2_mutex8_unlock(&s->m8), 0);
		if (i % 4 == 0) {
			ck_assert_int_eq(f2_rwlock_wrlock(&s->rw), 0);
			s->count_rw++;
			s->shadow_rw = s->count_rw;
			ck_assert_int_eq(f2_rwlock_unlock(&s->rw), 0);
		} else {
			ck_assert_int_eq(f2_rwlock_rdlock(&s->rw), 0);
			ck_assert_int_eq(s->shadow_rw, s->count_rw); /* no writer inside */
			__atomic_add_fetch(&s->reads, 1, __ATOMIC_RELAXED);
			ck_assert_int_eq(f2_rwlock_unlock(&s->rw), 0);
		}
		if (i % 10 == 0) {
			ring_step(s, w->id, (i / 10) % 2);
			int r = f2_barrier_wait(&s->bar);
			ck_assert(r == 0 || r == F2_BARRIER_SERIAL_THREAD);
			w->serial += r == F2_BARRIER_SERIAL_THREAD;
		}
	}
	return NULL;
}

/* Twice as many threads as CPUs, each pinned, share every kind of lock, the
 * words placed by whichever contends first. */
START_TEST(all_nodes_contend)
{
	enum { MAXW = 2 * MAXCPU };
	static struct worker w[MAXW];
	static pthread_t th[MAXW];
	struct shared s = {
		.m = F2_MUTEX_INITIALIZER, .m8 = F2_MUTEX8_INITIALIZER, .rw = F2_RWLOCK_INITIALIZER,
		.cm = F2_MUTEX_INITIALIZER, .c = F2_COND_INITIALIZER, .c64 = F2_COND64_INITIALIZER,
	};
	int n = 2 * topo.ncpu, serial = 0;
	if (n > MAXW)
		n = MAXW;
	s.nthreads = n;
	ck_assert_int_eq(f2_barrier_init(&s.bar, (unsigned)n), 0);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){ &s, i, nth_cpu(i % topo.ncpu, NULL), 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		serial += w[i].serial;
	}
	ck_assert_int_eq(s.count_m, (long)n * ROUNDS);
	ck_assert_int_eq(s.count_m8, (long)n * ROUNDS);
	ck_assert_int_eq(s.count_rw, (long)n * ((ROUNDS + 3) / 4));
	ck_assert_int_eq(s.reads, (long)n * (ROUNDS - (ROUNDS + 3) / 4));
	ck_assert_int_eq(serial, (ROUNDS + 9) / 10);
	ck_assert_int_eq(s.turn, 0); /* every ring lap went all the way round */
	/* every word was homed on a node that exists, or was never contended */
	int nodes[] = { s.m.node, s.m8.node, s.rw.node, s.cm.node, s.c.node, (int)s.c64.node };
	for (unsigned i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
		ck_assert_msg(nodes[i] >= F2_NODE_AUTO && nodes[i] < topo.n, "word %u on node %d", i,
		              nodes[i]);
	ck_assert_int_eq(f2_barrier_destroy(&s.bar), 0);
}
END_TEST

int main(void)
{
	topo_load();
	printf("numa_guest: %d node(s), %d CPU(s); backend %s; per node:", topo.n, topo.ncpu,
	       tu_backend());
	for (int i = 0; i < topo.n; i++)
		printf(" node %d = %d CPU(s)", topo.id[i], CPU_COUNT(&topo.cpus[i]));
	printf("\nnuma_guest: words of these kinds park in the per-node tables:");
	for (int k = 0; k < K_COUNT; k++)
		if (kind_emulated((enum kind)k))
			printf(" %s", kind_name[k]);
	printf("\n");
	fflush(stdout);

	Suite *s = suite_create("numa_guest");
	TCase *tc = tcase_create("placement");
	tcase_add_test(tc, node_count);
	tcase_add_test(tc, pinned_node_of_self);
	tcase_add_loop_test(tc, homed_on_first_contender, 0, K_COUNT);
	tcase_add_loop_test(tc, node0_word_used_remotely, 0, K_COUNT);
	tcase_add_test(tc, all_nodes_contend);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
