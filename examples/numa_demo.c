/* numa_demo: where f2sync homes a lock word.
 *
 * A lock created with an initializer has node -1 ("the first thread to
 * contend picks"). For every NUMA node that hwloc reports, this demo binds a
 * thread to a CPU of that node, makes a fresh f2_mutex_t and f2_mutex8_t
 * contended there, and prints the node each lock recorded; then it shows a
 * runtime's override (f2_thread_set_node) winning over the binding.
 *
 * On a machine with several nodes it shows the real topology (the qemu
 * guests of tests/numa_guest run it so). On a one-node machine it shows a
 * synthetic two-node one instead, as if started with
 *   HWLOC_SYNTHETIC="node:2 pu:1" ./numa_demo
 * (set HWLOC_SYNTHETIC or HWLOC_XMLFILE yourself to pick another). A synthetic
 * node whose CPU this machine lacks cannot be bound to; the demo then uses the
 * override for it and says so. Exit 1 if a lock did not land on the node its
 * first contender runs on. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hwloc.h>
#include <f2sync/f2sync.h>

struct job {
	int node, cpu, override;   /* cpu -1: not bindable; override -1: none */
	int bound, self, m_node, m8_node;
};

static f2_mutex_t *cur_m;
static f2_mutex8_t *cur_m8;

/* Contends on the locks the parent thread holds (inherits its binding and,
 * through job->override, its node choice). */
static void *contender(void *arg)
{
	struct job *j = arg;
	if (j->override >= 0)
		f2_thread_set_node(j->override);
	f2_mutex_lock(cur_m);
	f2_mutex_unlock(cur_m);
	f2_mutex8_lock(cur_m8);
	f2_mutex8_unlock(cur_m8);
	return NULL;
}

static void wait_node_set(const void *node_field, int is8)
{
	struct timespec ms = { 0, 1000000 };
	for (;;) {
		int n = is8 ? __atomic_load_n((const int8_t *)node_field, __ATOMIC_ACQUIRE)
		            : __atomic_load_n((const int32_t *)node_field, __ATOMIC_ACQUIRE);
		if (n != -1)
			return;
		nanosleep(&ms, NULL);
	}
}

static void *on_node(void *arg)
{
	struct job *j = arg;
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	f2_mutex8_t m8 = F2_MUTEX8_INITIALIZER;
	pthread_t t;

	if (j->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(j->cpu, &set);
		j->bound = sched_setaffinity(0, sizeof set, &set) == 0;
	}
	if (j->override >= 0)
		f2_thread_set_node(j->override);
	j->self = f2_numa_node_of_self();
	cur_m = &m;
	cur_m8 = &m8;
	f2_mutex_lock(&m);     /* uncontended: the node is still -1 */
	f2_mutex8_lock(&m8);
	pthread_create(&t, NULL, contender, j);
	wait_node_set(&m.node, 0); /* the contender's slow path homed it */
	f2_mutex_unlock(&m);
	wait_node_set(&m8.node, 1);
	f2_mutex8_unlock(&m8);
	pthread_join(t, NULL);
	j->m_node = m.node;
	j->m8_node = m8.node;
	return NULL;
}

static int run(struct job *j, const char *what)
{
	pthread_t t;
	pthread_create(&t, NULL, on_node, j);
	pthread_join(t, NULL);
	int want = j->override >= 0 ? j->override : j->node;
	int ok = j->m_node == j->self && j->m8_node == j->self && j->self == want;
	printf("  %-34s cpu %2d%-9s self -> node %d   f2_mutex_t.node %d   f2_mutex8_t.node %d  %s\n",
	       what, j->cpu, j->bound ? " (bound)" : " (unbound)", j->self, j->m_node, j->m8_node,
	       ok ? "ok" : "WRONG");
	return !ok;
}

/* NUMA nodes online, as the kernel lists them in sysfs ("0", "0-3", "0,2");
 * 1 when it does not say. */
static int online_nodes(void)
{
	char buf[256];
	FILE *f = fopen("/sys/devices/system/node/online", "r");
	int n = 0;
	if (!f)
		return 1;
	if (fgets(buf, sizeof buf, f))
		for (char *p = buf; *p;) {
			char *end;
			long a = strtol(p, &end, 10), b = a;
			if (end == p) {
				p++;
				continue;
			}
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			n += (int)(b - a + 1);
			p = end;
		}
	fclose(f);
	return n > 0 ? n : 1;
}

/* A one-node machine shows nothing: restart under a synthetic two-node
 * topology. The variable must be in the environment the process starts
 * with, since f2sync may read its topology before main runs. */
static void synthetic_if_one_node(char **argv)
{
	if (getenv("HWLOC_SYNTHETIC") || getenv("HWLOC_XMLFILE") || online_nodes() > 1)
		return;
	printf("this machine has one NUMA node: showing a synthetic two-node topology\n");
	fflush(stdout);
	setenv("HWLOC_SYNTHETIC", "node:2 pu:1", 1);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "numa_demo: cannot restart itself (%s); going on in this process\n",
	        strerror(errno));
}

int main(int argc, char **argv)
{
	hwloc_topology_t topo;
	hwloc_obj_t node = NULL;
	int bad = 0, n = 0, nodes;
	const char *syn;

	(void)argc;
	synthetic_if_one_node(argv);
	syn = getenv("HWLOC_SYNTHETIC");

	if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) {
		fprintf(stderr, "hwloc cannot load a topology\n");
		return 1;
	}
	nodes = f2_numa_node_count();
	printf("topology: %s, %d NUMA node(s) seen by f2sync\n", syn ? syn : "this machine", nodes);
	if (f2_numa_node_of_self() < 0) {
		printf("placement is off (F2SYNC_NUMA=off): locks keep node -1\n");
		hwloc_topology_destroy(topo);
		return 0;
	}
	struct job last = { 0 };
	while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node))) {
		struct job j = { (int)node->os_index, hwloc_bitmap_first(node->cpuset), -1, 0, 0, 0, 0 };
		char what[64];
		snprintf(what, sizeof what, "thread on node %d", j.node);
		bad |= run(&j, what);
		if (!j.bound) { /* a synthetic CPU this machine lacks: place by override */
			j.override = j.node;
			snprintf(what, sizeof what, "node %d by f2_thread_set_node", j.node);
			bad |= run(&j, what);
		}
		last = j;
		n++;
	}
	if (n > 1) { /* the first node's CPU, but the runtime says "last node" */
		node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, NULL);
		struct job j = { (int)node->os_index, hwloc_bitmap_first(node->cpuset), last.node,
		                 0, 0, 0, 0 };
		bad |= run(&j, "node 0 CPU, f2_thread_set_node(last)");
	}
	hwloc_topology_destroy(topo);
	if (n != nodes) {
		printf("WRONG: hwloc shows %d nodes, f2sync %d\n", n, nodes);
		bad = 1;
	}
	printf("%s\n", bad ? "WRONG: a lock was not homed where its first contender runs"
	                   : "every lock was homed on its first contender's node");
	return bad;
}
