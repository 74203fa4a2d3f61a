/* NUMA pairs { uN value; sN node; }: the node field has the width of the
 * value and follows it. Node -1 (F2_NODE_AUTO) means "pick for me"; the pick
 * is written back with a compare-and-swap before any backend sees the word,
 * so the first waiter and the first waker agree on the table to use (the
 * RFC's "current node on every call" would let them disagree). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "futex2_impl.h"
#include "../internal/atomic.h"

static int kernel_nodes;

/* Highest node in /sys/devices/system/node/possible ("0", "0-3", "0,2-5") + 1. */
static int read_possible(void)
{
	char buf[256];
	int fd = open("/sys/devices/system/node/possible", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	/* The highest number in the list is the last node: every number counts,
	 * and '-' is a range separator, never a sign ("0-3" is not 0 and -3). */
	long max = 0;
	for (char *p = buf; *p;) {
		char *end;
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		long v = strtol(p, &end, 10);
		if (v > max)
			max = v;
		p = end;
	}
	return max >= 0 && max < 1 << 20 ? (int)max + 1 : 1;
}

int f2_node_count_kernel(void)
{
	/* relaxed: a pure function of the machine; racing readers agree. */
	int n = f2_load_relaxed(&kernel_nodes);
	if (f2_unlikely(!n)) {
		n = read_possible();
		f2_store_relaxed(&kernel_nodes, n);
	}
	return n;
}

int f2_node_self(void)
{
	unsigned cpu, node;
	if (getcpu(&cpu, &node))
		return 0;
	return (int)node;
}

static int64_t load_node(void *pair, unsigned size)
{
	switch (size) {
	case F2_SIZE_U8: return f2_load_relaxed((int8_t *)pair + 1);
	case F2_SIZE_U16: return f2_load_relaxed((int16_t *)pair + 1);
	case F2_SIZE_U32: return f2_load_relaxed((int32_t *)pair + 1);
	default: return f2_load_relaxed((int64_t *)pair + 1);
	}
}

/* CAS the node field from -1 to pick; returns the field's value afterwards.
 * relaxed: the node is a hint that only selects a hash table; it orders no
 * other memory, and every thread reads it with the same atomicity. */
static int64_t publish_node(void *pair, unsigned size, int pick)
{
	switch (size) {
	case F2_SIZE_U8: {
		int8_t e = -1;
		f2_cas_relaxed((int8_t *)pair + 1, &e, (int8_t)pick);
		return e == -1 ? pick : e;
	}
	case F2_SIZE_U16: {
		int16_t e = -1;
		f2_cas_relaxed((int16_t *)pair + 1, &e, (int16_t)pick);
		return e == -1 ? pick : e;
	}
	case F2_SIZE_U32: {
		int32_t e = -1;
		f2_cas_relaxed((int32_t *)pair + 1, &e, (int32_t)pick);
		return e == -1 ? pick : e;
	}
	default: {
		int64_t e = -1;
		f2_cas_relaxed((int64_t *)pair + 1, &e, (int64_t)pick);
		return e == -1 ? pick : e;
	}
	}
}

int f2_node_resolve(void *pair, unsigned size, int limit)
{
	int64_t node = load_node(pair, size);

	if (node == F2_NODE_AUTO) {
		int pick = f2_node_self();
		if (pick < 0 || pick >= limit)
			pick = 0;
		node = publish_node(pair, size, pick);
	}
	if (node < 0 || node >= limit)
		return -EINVAL;
	return (int)node;
}
