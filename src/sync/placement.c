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
 *   2. with hwloc: the node of the thread's CPU affinity mask if all of its
 *      CPUs lie in one node, else the node of the CPU it runs on now;
 *   3. without a usable hwloc topology: libnuma's numa_node_of_cpu() of the
 *      current CPU; 0 if libnuma reports no NUMA support either.
 *
 * The hwloc topology is loaded lazily, once (pthread_once), and boiled down
 * to a table "OS CPU index -> NUMA node OS index"; the topology itself is then
 * freed. Binding is read with sched_getaffinity(2), not hwloc_get_cpubind(),
 * and mapped through that table. That keeps synthetic and XML topologies
 * (HWLOC_SYNTHETIC, HWLOC_XMLFILE) meaningful: hwloc would give such a topology
 * no binding hooks, whereas this way a thread pinned to OS CPU k is placed on
 * the node that the loaded topology puts CPU k in. The tests run 2- and 4-node
 * machines on a 1-node box like that.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>
#include <numa.h>

#include "f2sync/numa.h"
#include "f2sync/runtime.h"
#include "sync_impl.h"
#include "../futex2/futex2_impl.h"
#include "../internal/atomic.h"
#include "../internal/die.h"

enum place_mode { PLACE_AUTO, PLACE_OFF, PLACE_FIXED };

static struct {
	enum place_mode mode;
	int fixed_node;     /* PLACE_FIXED */
	int nodes;          /* nodes seen (>= 1) */
	int ncpus;          /* entries in cpu_node; 0: no hwloc topology */
	int *cpu_node;      /* OS CPU index -> node OS index, -1 if no node */
	int has_libnuma;
} place;

static pthread_once_t place_once = PTHREAD_ONCE_INIT;

/* f2_thread_set_node(): this thread's override, -1 for none. */
static __thread int thread_node = -1;

static void parse_env(void)
{
	const char *s = getenv("F2SYNC_NUMA");
	char *end;
	long n;

	place.mode = PLACE_AUTO;
	if (!s || !*s || !strcmp(s, "auto"))
		return;
	if (!strcmp(s, "off")) {
		place.mode = PLACE_OFF;
		return;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n < 0 || n > 32767) {
		f2_warn("F2SYNC_NUMA must be off, auto or a node number; using auto");
		return;
	}
	place.mode = PLACE_FIXED;
	place.fixed_node = (int)n;
}

/* Fills the CPU -> node table from hwloc. 0 on success, -1 if hwloc cannot
 * give a topology (then libnuma is used). */
static int load_hwloc(void)
{
	hwloc_topology_t topo;
	hwloc_obj_t pu = NULL, node = NULL;
	int max_cpu = -1;

	if (hwloc_topology_init(&topo))
		return -1;
	if (hwloc_topology_load(topo)) {
		hwloc_topology_destroy(topo);
		return -1;
	}
	while ((pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, pu)))
		if ((int)pu->os_index > max_cpu)
			max_cpu = (int)pu->os_index;
	place.nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	if (max_cpu < 0 || place.nodes < 1 ||
	    !(place.cpu_node = malloc(sizeof(int) * (size_t)(max_cpu + 1)))) {
		hwloc_topology_destroy(topo);
		return -1;
	}
	place.ncpus = max_cpu + 1;
	for (int i = 0; i < place.ncpus; i++)
		place.cpu_node[i] = -1;
	while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node))) {
		int cpu;
		hwloc_bitmap_foreach_begin(cpu, node->cpuset)
			if (cpu < place.ncpus)
				place.cpu_node[cpu] = (int)node->os_index;
		hwloc_bitmap_foreach_end();
	}
	hwloc_topology_destroy(topo);
	return 0;
}

static void place_init(void)
{
	parse_env();
	if (load_hwloc() == 0)
		return;
	place.ncpus = 0;
	place.has_libnuma = numa_available() >= 0;
	place.nodes = place.has_libnuma ? numa_max_node() + 1 : 1;
	if (place.nodes < 1)
		place.nodes = 1;
}

static void place_ready(void)
{
	pthread_once(&place_once, place_init);
}

static int node_of_cpu(int cpu)
{
	if (place.ncpus == 0) {
		int n = place.has_libnuma && cpu >= 0 ? numa_node_of_cpu(cpu) : 0;
		return n < 0 ? 0 : n;
	}
	if (cpu < 0 || cpu >= place.ncpus || place.cpu_node[cpu] < 0)
		return -1;
	return place.cpu_node[cpu];
}

/* The node holding every CPU of the thread's affinity mask, or -1. */
static int node_of_binding(void)
{
	cpu_set_t *set;
	size_t sz;
	int node = -1, ncpu = place.ncpus > 1024 ? place.ncpus : 1024;

	if (!(set = CPU_ALLOC((size_t)ncpu)))
		return -1;
	sz = CPU_ALLOC_SIZE((size_t)ncpu);
	if (sched_getaffinity(0, sz, set) == 0) {
		for (int cpu = 0; cpu < ncpu; cpu++) {
			if (!CPU_ISSET_S((size_t)cpu, sz, set))
				continue;
			int n = node_of_cpu(cpu);
			if (n < 0 || (node >= 0 && n != node)) {
				node = -1;
				break;
			}
			node = n;
		}
	}
	CPU_FREE(set);
	return node;
}

int f2_place_node(void)
{
	int node;

	place_ready();
	if (place.mode == PLACE_OFF)
		return -1;
	if (thread_node >= 0)
		return thread_node;
	if (place.mode == PLACE_FIXED)
		return place.fixed_node;
	if (place.ncpus > 0 && (node = node_of_binding()) >= 0)
		return node;
	node = node_of_cpu(sched_getcpu());
	return node < 0 ? 0 : node;
}

/* The node half of a pair sits right after the word, with the word's size. */
static int pair_node_load(void *pair, unsigned size)
{
	char *p = (char *)pair + (1u << size);

	switch (size) {
	case F2_SIZE_U8:  return f2_load_acquire((int8_t *)p);  /* pairs with the CAS in pair_node_set */
	case F2_SIZE_U16: return f2_load_acquire((int16_t *)p); /* pairs with the CAS in pair_node_set */
	case F2_SIZE_U32: return f2_load_acquire((int32_t *)p); /* pairs with the CAS in pair_node_set */
	default:          return (int)f2_load_acquire((int64_t *)p); /* pairs with the CAS in pair_node_set */
	}
}

/* Replaces F2_NODE_AUTO by node; returns the node the pair ends up with. */
static int pair_node_set(void *pair, unsigned size, int node)
{
	char *p = (char *)pair + (1u << size);

	switch (size) {
	case F2_SIZE_U8: {
		int8_t e = F2_NODE_AUTO;
		/* acq_rel: pairs with the acquire in pair_node_load */
		return f2_cas_acq_rel((int8_t *)p, &e, (int8_t)node) ? node : e;
	}
	case F2_SIZE_U16: {
		int16_t e = F2_NODE_AUTO;
		/* acq_rel: pairs with the acquire in pair_node_load */
		return f2_cas_acq_rel((int16_t *)p, &e, (int16_t)node) ? node : e;
	}
	case F2_SIZE_U32: {
		int32_t e = F2_NODE_AUTO;
		/* acq_rel: pairs with the acquire in pair_node_load */
		return f2_cas_acq_rel((int32_t *)p, &e, (int32_t)node) ? node : e;
	}
	default: {
		int64_t e = F2_NODE_AUTO;
		/* acq_rel: pairs with the acquire in pair_node_load */
		return f2_cas_acq_rel((int64_t *)p, &e, (int64_t)node) ? node : (int)e;
	}
	}
}

unsigned f2_pair_flags(void *pair, unsigned size)
{
	unsigned flags = F2_PRIVATE | size;
	int node;

	node = pair_node_load(pair, size);
	if (node == F2_NODE_SHARED)
		return size;
	place_ready();
	if (place.mode == PLACE_OFF)
		return flags;
	if (node == F2_NODE_AUTO) {
		int want = f2_place_node();
		/* An 8-bit node field cannot hold every node: such a word is
		 * homed on node 0 rather than on a truncated node. Either way a
		 * node is recorded, so every thread derives the same flags. */
		if (want < 0 || (size == F2_SIZE_U8 && want > INT8_MAX))
			want = 0;
		node = pair_node_set(pair, size, want);
	}
	flags |= F2_NUMA;
	return f2_node_valid(flags, node) ? flags : (flags & ~F2_NUMA);
}

int f2_numa_node_of_self(void)
{
	return f2_place_node();
}

int f2_numa_node_count(void)
{
	place_ready();
	return place.nodes;
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
