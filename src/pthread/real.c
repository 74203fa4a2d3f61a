/* glibc's own implementations, the caller's thread id and fork, for
 * libf2sync-pthread (its call counters: stats.c).
 *
 * glibc's entry points are resolved once with dlsym(RTLD_NEXT, ...): under
 * LD_PRELOAD and when linked ahead of libc, "next" is libc.so. They serve the
 * mutexes that glibc initialized itself (robust, priority inherit/protect) and
 * pthread_cancel. They are resolved by the constructor; a lock taken by another
 * library's constructor before ours ran resolves them itself (concurrent first
 * callers store the same pointers). */
#include <dlfcn.h>
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

__attribute__((constructor)) static void shim_init(void)
{
	pthread_atfork(NULL, NULL, fork_child);
	/* dlsym takes the loader's lock: done here, before main, so that only a
	 * lock taken before this constructor ran resolves on a lock path */
	(void)f2p_real();
}
