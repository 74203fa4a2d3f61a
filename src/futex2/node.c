/* NUMA pairs { uN value; sN node; }: the node field has the width of the
 * value and follows it. Node -1 (F2_NODE_AUTO) means "pick for me"; the pick
 * is written back with a compare-and-swap before any backend sees the word,
 * so the first waiter and the first waker agree on the table to use (the
 * RFC's "current node on every call" would let them disagree). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futex2_impl.h"
#include "../internal/atomic.h"
#include "../internal/pair_node.h"

static int kernel_nodes, online_nodes;

/* Raw system calls, not glibc's open, read and close: those are cancellation
 * points, and a thread with a cancel pending would unwind out of the lock path
 * that reads the file first (docs/design/sync.md, "Lock paths call nothing"). */
int f2_sysfs_list_end(const char *path)
{
	char buf[1024];
	int saved = errno; /* a lock call leaves the caller's errno alone */
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : (ssize_t)syscall(SYS_read, (int)fd, buf, sizeof buf - 1);
	if (fd >= 0)
		syscall(SYS_close, (int)fd);
	errno = saved;
	if (n <= 0)
		return 1;
	/* the largest number in it: ranges and lists alike */
	long max = 0, v = -1;
	for (ssize_t i = 0; i <= n; i++) {
		if (i < n && buf[i] >= '0' && buf[i] <= '9') {
			v = (v < 0 ? 0 : v) * 10 + (buf[i] - '0');
			if (v >= 1 << 20)
				return 1;
			continue;
		}
		if (v > max)
			max = v;
		v = -1;
	}
	return (int)max + 1;
}

/* Reads path once into *cache. relaxed: a pure function of the machine;
 * racing first readers compute and store the same value. */
static int cached_count(int *cache, const char *path)
{
	int n = f2_load_relaxed(cache);
	if (f2_unlikely(!n)) {
		n = f2_sysfs_list_end(path);
		f2_store_relaxed(cache, n);
	}
	return n;
}

int f2_node_count_kernel(void)
{
	return cached_count(&kernel_nodes, "/sys/devices/system/node/possible");
}

int f2_node_count_online(void)
{
	return cached_count(&online_nodes, "/sys/devices/system/node/online");
}

int f2_node_self(void)
{
	unsigned cpu, node;
	if (getcpu(&cpu, &node))
		return 0;
	return (int)node;
}

int f2_node_resolve(void *pair, unsigned size, int limit)
{
	int64_t node = f2_pair_node_load(pair, size);

	if (node == F2_NODE_AUTO) {
		int pick = f2_node_self();
		if (pick < 0 || pick >= limit)
			pick = 0;
		node = f2_pair_node_publish(pair, size, pick);
	}
	if (node < 0 || node >= limit)
		return -EINVAL;
	return (int)node;
}
