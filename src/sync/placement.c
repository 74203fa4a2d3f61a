/* NUMA placement of sync futex words.
 *
 * Every sync futex word is a NUMA pair { uN word; sN node; }. A node of
 * F2_NODE_AUTO (-1) is replaced, once, by the node of the first thread that
 * needs a futex call on the word (f2_pair_flags), with a compare-and-swap so
 * that every later waiter and waker reads the same node.
 *
 * The calling thread's node (f2_place_node):
 *   1. F2SYNC_NUMA=off: no node (-1), words are used without F2_NUMA;
 *      a node set with f2_thread_set_node() (runtime.h) for this thread;
 *      F2SYNC_NUMA=<n>: node n for every thread; F2SYNC_NUMA=auto (default):
 *   2. one node: node 0, with no call at all;
 *   3. with a CPU table (below): the node of the thread's CPU affinity mask if
 *      all of its CPUs lie in one node, else the node of the CPU it runs on;
 *   4. without one: the node the kernel reports for the current CPU (getcpu).
 *
 * Nothing here calls out of the process on a lock path (docs/design/sync.md,
 * "Lock paths call nothing"): f2_pair_flags and f2_place_node read two
 * published values and at most make the sched_getaffinity and getcpu calls.
 * What needs a library or malloc happens before any lock can be used:
 *
 *   decision (place_decide): F2SYNC_NUMA and the online node count from
 *     /sys/devices/system/node/online (open/read, no stdio), packed into one
 *     word. A pure function of the environment and the machine, so it is
 *     computed wherever it is first needed (a constructor, or a lock path of
 *     another library's constructor that runs before ours) and published with
 *     a CAS: a racing caller never waits, it uses its own equal value.
 *   topology (topo_load, from the constructor only): only where the machine
 *     has more than one node, or HWLOC_SYNTHETIC / HWLOC_XMLFILE ask for a
 *     topology, libhwloc.so.15 is dlopen'ed, boiled down to a table "OS CPU
 *     index -> NUMA node OS index" and the topology freed. On a one-node
 *     machine no library is loaded at all. A lock path that runs before the
 *     constructor (or where hwloc is missing) finds no table and uses case 4.
 *
 * Binding is read with sched_getaffinity(2), not hwloc_get_cpubind(), and
 * mapped through the table. That keeps synthetic and XML topologies meaningful:
 * hwloc would give such a topology no binding hooks, whereas this way a thread
 * pinned to OS CPU k is placed on the node that the loaded topology puts CPU k
 * in. The tests run 2- and 4-node machines on a 1-node box like that.
 *
 * Built with F2SYNC_WITH_HWLOC=OFF, nothing is loaded and there is never a
 * table: the node count comes from sysfs and a thread's node from getcpu
 * (case 4), which for a thread bound within one node is that node too.
 *
 * The futex flags of a word depend only on the decision's mode (fixed from the
 * first use) and the node recorded in the pair (fixed by the CAS), never on the
 * table, so a waiter and its waker always derive the same flags, whether or
 * not the table was published between their calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if F2_WITH_HWLOC
#include <dlfcn.h>
#include <hwloc.h>
#endif

#include "f2sync/numa.h"
#include "f2sync/runtime.h"
#include "sync_impl.h"
#include "../futex2/bound.h"
#include "../internal/atomic.h"
#include "../internal/die.h"
#include "../internal/pair_node.h"

enum place_mode { PLACE_AUTO, PLACE_OFF, PLACE_FIXED };

/* The decision word: 0 until decided, then
 *   bit 63      DECIDED
 *   bits 32..33 the place_mode
 *   bits 16..31 the fixed node (PLACE_FIXED)
 *   bits 0..15  the online node count (highest online node + 1, >= 1) */
#define DEC_DECIDED   (1ull << 63)
#define DEC_MODE(d)   ((enum place_mode)(((d) >> 32) & 3u))
#define DEC_FIXED(d)  ((int)(((d) >> 16) & 0xffffu))
#define DEC_NODES(d)  ((int)((d) & 0xffffu))
#define DEC_MAX_NODES 1024

static uint64_t decision;

/* The CPU -> node table, published once by the constructor. */
struct topo {
	int nodes;          /* NUMA nodes in the topology (>= 1) */
	int ncpus;          /* entries in cpu_node */
	int cpu_node[];     /* OS CPU index -> node OS index, -1 if no node */
};
static struct topo *topo;

/* The affinity masks read on a lock path live on the stack: 8192 CPUs. */
#define MASK_CPUS 8192

/* f2_thread_set_node(): this thread's override, -1 for none. */
static __thread int thread_node = -1;

static enum place_mode parse_env(int *fixed)
{
	const char *s = getenv("F2SYNC_NUMA");
	char *end;
	long n;

	if (!s || !*s || !strcmp(s, "auto"))
		return PLACE_AUTO;
	if (!strcmp(s, "off"))
		return PLACE_OFF;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n < 0 || n > 32767) {
		f2_warn("F2SYNC_NUMA must be off, auto or a node number; using auto");
		return PLACE_AUTO;
	}
	*fixed = (int)n;
	return PLACE_FIXED;
}

static uint64_t place_decide(void)
{
	int fixed = 0, nodes = f2_node_count_online(), saved = errno;
	enum place_mode mode = parse_env(&fixed);
	uint64_t d, seen = 0;

	errno = saved; /* strtol's: a lock call leaves the caller's errno alone */
	if (nodes < 1)
		nodes = 1;
	if (nodes > DEC_MAX_NODES)
		nodes = DEC_MAX_NODES;
	d = DEC_DECIDED | (uint64_t)mode << 32 | (uint64_t)fixed << 16 | (uint64_t)nodes;
	/* pairs with the acquire in decided(); a loser takes the published word */
	return f2_cas_acq_rel(&decision, &seen, d) ? d : seen;
}

static inline uint64_t decided(void)
{
	/* pairs with the CAS in place_decide */
	uint64_t d = f2_load_acquire(&decision);
	return f2_likely(d) ? d : place_decide();
}

#if F2_WITH_HWLOC
/* hwloc, loaded with dlopen -------------------------------------------------
 * Only the calls below; the header's inline helpers are not used, so nothing
 * else of the library is needed. */
static struct {
	__typeof__(hwloc_get_api_version) *api_version;
	__typeof__(hwloc_topology_init) *init;
	__typeof__(hwloc_topology_load) *load;
	__typeof__(hwloc_topology_destroy) *destroy;
	__typeof__(hwloc_get_type_depth) *type_depth;
	__typeof__(hwloc_get_nbobjs_by_depth) *nbobjs;
	__typeof__(hwloc_get_obj_by_depth) *obj;
	__typeof__(hwloc_bitmap_next) *next;
} hw;

#define HWLOC_SONAME "libhwloc.so.15"

static int hwloc_open(void)
{
	void *h = dlopen(HWLOC_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return -1;
	hw.api_version = (__typeof__(hw.api_version))dlsym(h, "hwloc_get_api_version");
	hw.init = (__typeof__(hw.init))dlsym(h, "hwloc_topology_init");
	hw.load = (__typeof__(hw.load))dlsym(h, "hwloc_topology_load");
	hw.destroy = (__typeof__(hw.destroy))dlsym(h, "hwloc_topology_destroy");
	hw.type_depth = (__typeof__(hw.type_depth))dlsym(h, "hwloc_get_type_depth");
	hw.nbobjs = (__typeof__(hw.nbobjs))dlsym(h, "hwloc_get_nbobjs_by_depth");
	hw.obj = (__typeof__(hw.obj))dlsym(h, "hwloc_get_obj_by_depth");
	hw.next = (__typeof__(hw.next))dlsym(h, "hwloc_bitmap_next");
	if (!hw.api_version || !hw.init || !hw.load || !hw.destroy || !hw.type_depth ||
	    !hw.nbobjs || !hw.obj || !hw.next ||
	    hw.api_version() >> 16 != HWLOC_API_VERSION >> 16) {
		/* another ABI than the header's: its objects cannot be read */
		dlclose(h);
		return -1;
	}
	return 0; /* stays loaded: cheap, and unloading hwloc is not worth a risk */
}

/* The table of a loaded topology, or NULL. */
static struct topo *topo_from(hwloc_topology_t t)
{
	int pud = hw.type_depth(t, HWLOC_OBJ_PU), nd = hw.type_depth(t, HWLOC_OBJ_NUMANODE);
	int npu = hw.nbobjs(t, pud), nnodes = hw.nbobjs(t, nd), max_cpu = -1;
	struct topo *tp;

	for (int i = 0; i < npu; i++) {
		hwloc_obj_t pu = hw.obj(t, pud, (unsigned)i);
		if (pu && (int)pu->os_index > max_cpu)
			max_cpu = (int)pu->os_index;
	}
	if (max_cpu < 0 || nnodes < 1 ||
	    !(tp = malloc(sizeof(*tp) + sizeof(int) * (size_t)(max_cpu + 1))))
		return NULL;
	tp->nodes = nnodes;
	tp->ncpus = max_cpu + 1;
	for (int i = 0; i < tp->ncpus; i++)
		tp->cpu_node[i] = -1;
	for (int i = 0; i < nnodes; i++) {
		hwloc_obj_t node = hw.obj(t, nd, (unsigned)i);
		if (!node || !node->cpuset)
			continue;
		for (int cpu = hw.next(node->cpuset, -1); cpu >= 0 && cpu < tp->ncpus;
		     cpu = hw.next(node->cpuset, cpu))
			tp->cpu_node[cpu] = (int)node->os_index;
	}
	return tp;
}

static int topo_wanted(uint64_t d)
{
	const char *syn = getenv("HWLOC_SYNTHETIC"), *xml = getenv("HWLOC_XMLFILE");

	if (DEC_MODE(d) == PLACE_OFF)
		return 0;
	return DEC_NODES(d) > 1 || (syn && *syn) || (xml && *xml);
}

/* Runs before any lock of this library can be used (see the top of the file):
 * decides, and loads the topology where it matters. */
__attribute__((constructor)) static void topo_load(void)
{
	hwloc_topology_t t;
	struct topo *tp = NULL;

	if (!topo_wanted(decided()) || hwloc_open())
		return;
	if (hw.init(&t))
		return;
	if (hw.load(t) == 0)
		tp = topo_from(t);
	hw.destroy(t);
	if (tp)
		/* pairs with the acquire in topo_get */
		f2_store_release(&topo, tp);
}

#endif /* F2_WITH_HWLOC */

static inline const struct topo *topo_get(void)
{
	/* pairs with the release store in topo_load */
	return f2_load_acquire(&topo);
}

static int node_of_cpu(const struct topo *tp, int cpu)
{
	if (cpu < 0 || cpu >= tp->ncpus || tp->cpu_node[cpu] < 0)
		return -1;
	return tp->cpu_node[cpu];
}

/* The node holding every CPU of the thread's affinity mask, or -1. */
static int node_of_binding(const struct topo *tp)
{
	unsigned long set[MASK_CPUS / (8 * sizeof(unsigned long))];
	int node = -1, ncpu = tp->ncpus < MASK_CPUS ? tp->ncpus : MASK_CPUS;

	if (sched_getaffinity(0, sizeof(set), (cpu_set_t *)set) != 0)
		return -1;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		if (!CPU_ISSET_S((size_t)cpu, sizeof(set), (cpu_set_t *)set))
			continue;
		int n = node_of_cpu(tp, cpu);
		if (n < 0 || (node >= 0 && n != node))
			return -1;
		node = n;
	}
	return node;
}

static int place_node(uint64_t d)
{
	const struct topo *tp;
	int node;

	if (DEC_MODE(d) == PLACE_OFF)
		return -1;
	if (thread_node >= 0)
		return thread_node;
	if (DEC_MODE(d) == PLACE_FIXED)
		return DEC_FIXED(d);
	if (!(tp = topo_get()))
		return DEC_NODES(d) > 1 ? f2_node_self() : 0;
	if ((node = node_of_binding(tp)) >= 0)
		return node;
	node = node_of_cpu(tp, sched_getcpu());
	return node < 0 ? 0 : node;
}

int f2_place_node(void)
{
	return place_node(decided());
}

/* 1 if a private word of this size goes to the kernel's futex2 calls with
 * F2_NUMA and without it alike (routes are computed once, futex2.c). */
static int numa_in_kernel(unsigned size)
{
	const char *a = f2_futex_backend(F2_PRIVATE | size | F2_NUMA);
	const char *b = f2_futex_backend(F2_PRIVATE | size);

	return a && b && !strcmp(a, "futex2") && !strcmp(b, "futex2");
}

unsigned f2_pair_flags(void *pair, unsigned size)
{
	unsigned flags = F2_PRIVATE | size;
	int node;

	uint64_t d;

	node = (int)f2_pair_node_load(pair, size); /* pair_node.h */
	if (node == F2_NODE_SHARED)
		return size;
	d = decided();
	if (DEC_MODE(d) == PLACE_OFF)
		return flags;
	if (node == F2_NODE_AUTO) {
		int want = place_node(d);
		/* An 8-bit node field cannot hold every node: such a word is
		 * homed on node 0 rather than on a truncated node. Either way a
		 * node is recorded, so every thread derives the same flags. */
		if (want < 0 || (size == F2_SIZE_U8 && want > INT8_MAX))
			want = 0;
		node = (int)f2_pair_node_publish(pair, size, want);
	}
	/* One node, chosen automatically, and the kernel serves both: a node
	 * would only make the kernel read it at every call, and a plain word is
	 * one whose wake after a free is harmless (cond_defer.c). The node stays
	 * recorded, so the word reads the same as on a bigger machine. */
	if (DEC_MODE(d) == PLACE_AUTO && DEC_NODES(d) <= 1 && numa_in_kernel(size))
		return flags;
	flags |= F2_NUMA;
	return f2_node_valid(flags, node) ? flags : (flags & ~F2_NUMA);
}

int f2_numa_node_of_self(void)
{
	return f2_place_node();
}

int f2_numa_node_count(void)
{
	const struct topo *tp = topo_get();
	return tp ? tp->nodes : DEC_NODES(decided());
}

int f2_thread_set_node(int node)
{
	if (node < -1 || node >= f2_numa_node_count())
		return EINVAL;
	thread_node = node;
	return 0;
}

int f2_thread_get_node(void)
{
	return thread_node;
}
