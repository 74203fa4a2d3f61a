/* glibc's own implementations, the caller's thread id, fork and the call
 * counters of libf2sync-pthread.
 *
 * glibc's entry points are resolved once with dlsym(RTLD_NEXT, ...): under
 * LD_PRELOAD and when linked ahead of libc, "next" is libc.so. They serve the
 * mutexes that glibc initialized itself (robust, priority inherit/protect) and
 * pthread_cancel. They are resolved by the constructor; a lock taken by another
 * library's constructor before ours ran resolves them itself (concurrent first
 * callers store the same pointers). */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "../sync/sync_impl.h"
#include "../internal/atomic.h"
#include "../internal/die.h"

static struct f2p_real real;
static int real_ready;

static void *need(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p)
		f2_die("libf2sync-pthread: dlsym(RTLD_NEXT) found no glibc pthread call");
	return p;
}

static f2_cold void real_resolve(void)
{
	real.mutex_init = need("pthread_mutex_init");
	real.mutex_destroy = need("pthread_mutex_destroy");
	real.mutex_lock = need("pthread_mutex_lock");
	real.mutex_trylock = need("pthread_mutex_trylock");
	real.mutex_timedlock = need("pthread_mutex_timedlock");
	real.mutex_clocklock = need("pthread_mutex_clocklock");
	real.mutex_unlock = need("pthread_mutex_unlock");
	real.cancel = need("pthread_cancel");
	/* pairs with the acquire load in f2p_real() */
	f2_store_release(&real_ready, 1);
}

const struct f2p_real *f2p_real(void)
{
	/* pairs with the release store in real_resolve() */
	if (f2_unlikely(!f2_load_acquire(&real_ready)))
		real_resolve();
	return &real;
}

/* Thread id ----------------------------------------------------------------
 * The errorcheck/recursive owner and the rwlock writer are kernel tids, as in
 * glibc. The cache is per thread; a fork child gets a new tid, so the atfork
 * child handler clears the forking thread's cache (the only thread there). */
static __thread pid_t tid_cache __attribute__((tls_model("initial-exec")));

pid_t f2p_tid(void)
{
	pid_t t = tid_cache;

	if (f2_unlikely(t == 0))
		tid_cache = t = (pid_t)syscall(SYS_gettid);
	return t;
}

static void fork_child(void)
{
	tid_cache = 0;
}

/* Counters ------------------------------------------------------------------
 * F2SYNC_STATS=1: every interposed call adds one to a relaxed counter in one
 * of F2P_SHARDS cache-line-sized shards, picked by the thread id, so threads
 * rarely share a line and nothing is lost when a thread exits. */
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

__attribute__((constructor)) static void shim_init(void)
{
	const char *e = getenv("F2SYNC_STATS");

	pthread_atfork(NULL, NULL, fork_child);
	/* dlsym takes the loader's lock: done here, before main, so that only a
	 * lock taken before this constructor ran resolves on a lock path */
	(void)f2p_real();
	if (e && strcmp(e, "0") != 0 && *e) {
		stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
		if (stats_fd < 0)
			return;
		f2p_stats_on = 1;
		atexit(stats_print);
	}
}
