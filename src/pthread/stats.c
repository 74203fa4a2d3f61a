/* The call counters of libf2sync-pthread.
 *
 * F2SYNC_STATS=1: every interposed call adds one to a relaxed counter in one
 * of F2P_SHARDS cache-line-sized shards, picked by the thread id, so threads
 * rarely share a line and nothing is lost when a thread exits. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "../internal/atomic.h"

#define F2P_SHARDS 16

struct shard {
	unsigned long n[F2P_ST_COUNT];
} f2_cacheline_aligned;

static struct shard shards[F2P_SHARDS];
int f2p_stats_on;
/* A duplicate of stderr taken at start-up: programs such as coreutils close
 * stderr in their own exit handler, which runs before ours. */
static int stats_fd = -1;

static const char *const stat_names[F2P_ST_COUNT] = {
	[F2P_ST_MUTEX_LOCK] = "mutex_lock", [F2P_ST_MUTEX_TRYLOCK] = "mutex_trylock",
	[F2P_ST_MUTEX_TIMEDLOCK] = "mutex_timedlock", [F2P_ST_MUTEX_UNLOCK] = "mutex_unlock",
	[F2P_ST_MUTEX_GLIBC] = "mutex_to_glibc",
	[F2P_ST_COND_WAIT] = "cond_wait", [F2P_ST_COND_TIMEDWAIT] = "cond_timedwait",
	[F2P_ST_COND_SIGNAL] = "cond_signal", [F2P_ST_COND_BROADCAST] = "cond_broadcast",
	[F2P_ST_RW_RDLOCK] = "rwlock_rdlock", [F2P_ST_RW_WRLOCK] = "rwlock_wrlock",
	[F2P_ST_RW_TRY] = "rwlock_try", [F2P_ST_RW_TIMED] = "rwlock_timed",
	[F2P_ST_RW_UNLOCK] = "rwlock_unlock", [F2P_ST_BARRIER_WAIT] = "barrier_wait",
	[F2P_ST_INIT] = "init", [F2P_ST_DESTROY] = "destroy", [F2P_ST_C11] = "c11",
};

void f2p_stat_slow(enum f2p_stat s)
{
	/* counters only: no ordering with anything */
	f2_add_relaxed(&shards[(unsigned)f2p_tid() % F2P_SHARDS].n[s], 1);
}

static void stats_print(void)
{
	unsigned long total = 0, sum[F2P_ST_COUNT] = { 0 };
	char line[1024];
	int len;

	for (unsigned i = 0; i < F2P_SHARDS; i++)
		for (unsigned s = 0; s < F2P_ST_COUNT; s++)
			/* counters only: read after the program's last call */
			sum[s] += f2_load_relaxed(&shards[i].n[s]);
	for (unsigned s = 0; s < F2P_ST_COUNT; s++)
		if (s != F2P_ST_MUTEX_GLIBC && s != F2P_ST_C11) /* counted once */
			total += sum[s];
	len = snprintf(line, sizeof(line), "f2sync-pthread: pid %d f2sync_calls=%lu",
		       (int)getpid(), total);
	for (unsigned s = 0; s < F2P_ST_COUNT && len < (int)sizeof(line); s++)
		len += snprintf(line + len, sizeof(line) - (size_t)len, " %s=%lu",
				stat_names[s], sum[s]);
	if (len >= (int)sizeof(line) - 1)
		len = (int)sizeof(line) - 2;
	line[len++] = '\n';
	if (write(stats_fd, line, (size_t)len) < 0)
		return; /* nowhere left to report */
}

__attribute__((constructor)) static void stats_init(void)
{
	const char *e = getenv("F2SYNC_STATS");

	if (e && strcmp(e, "0") != 0 && *e) {
		stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
		if (stats_fd < 0)
			return;
		f2p_stats_on = 1;
		atexit(stats_print);
	}
}
