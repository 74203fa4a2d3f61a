/* libf2sync-pthread loaded with dlopen() instead of LD_PRELOAD: its
 * per-thread state is initial-exec TLS (docs/pthread.md, "Per-thread state"),
 * which glibc must then place in the static TLS reserve of every thread,
 * including threads that existed before the dlopen. A thread started before
 * the dlopen and one started after each wait on a condvar through the shim's
 * calls and are cancelled through the shim's pthread_cancel, which finds their
 * record at a fixed offset from their pthread_t: both must unwind with the
 * mutex held (the cleanup handler's unlock succeeds). Usage: conf_dlopen SHIM. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "conf_plain.h"

static struct {
	int (*lock)(pthread_mutex_t *);
	int (*unlock)(pthread_mutex_t *);
	int (*wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cancel)(pthread_t);
} shim;

static pthread_barrier_t loaded; /* glibc's: the shim is not interposed */
/* errorcheck: only the owner's unlock answers 0 */
static pthread_mutex_t m = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int waiting, cleanup_unlock[2] = { -1, -1 };

static void cleanup(void *arg)
{
	cleanup_unlock[(long)arg] = shim.unlock(&m);
}

static void *waiter(void *arg)
{
	if ((long)arg == 0)
		pthread_barrier_wait(&loaded); /* started before the dlopen */
	CHECK(shim.lock(&m) == 0);
	pthread_cleanup_push(cleanup, arg);
	waiting++;
	for (;;)
		shim.wait(&c, &m);
	pthread_cleanup_pop(0);
	return NULL;
}

static void cancel_waiter(pthread_t t, int expect_waiting)
{
	void *ret;

	for (;;) { /* the waiter is inside the wait once it released m */
		CHECK(shim.lock(&m) == 0);
		int w = waiting;
		CHECK(shim.unlock(&m) == 0);
		if (w == expect_waiting)
			break;
		sched_yield();
	}
	CHECK(shim.cancel(t) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	CHECK(ret == PTHREAD_CANCELED);
}

int main(int argc, char **argv)
{
	pthread_t before, after;
	void *h;

	CHECK(argc == 2);
	CHECK(pthread_barrier_init(&loaded, NULL, 2) == 0);
	CHECK(pthread_create(&before, NULL, waiter, (void *)0) == 0);
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "conf_dlopen: %s\n", dlerror());
		return 1;
	}
	CHECK((shim.lock = (int (*)(pthread_mutex_t *))dlsym(h, "pthread_mutex_lock")) != NULL);
	CHECK((shim.unlock = (int (*)(pthread_mutex_t *))dlsym(h, "pthread_mutex_unlock")) != NULL);
	CHECK((shim.wait = (int (*)(pthread_cond_t *, pthread_mutex_t *))dlsym(h, "pthread_cond_wait")) != NULL);
	CHECK((shim.cancel = (int (*)(pthread_t))dlsym(h, "pthread_cancel")) != NULL);
	pthread_barrier_wait(&loaded);
	cancel_waiter(before, 1);
	CHECK(pthread_create(&after, NULL, waiter, (void *)1) == 0);
	cancel_waiter(after, 2);
	CHECK(cleanup_unlock[0] == 0 && cleanup_unlock[1] == 0);
	printf("conf_dlopen: both waiters cancelled with the mutex held\n");
	return 0;
}
