/* pthread_barrier_* on f2sync barriers.
 *
 * Object layout: shim.h (struct f2p_barrier: the f2_barrier_t, then the
 * process-shared flag). pthread_barrier_t has no static initializer.
 * PTHREAD_BARRIER_SERIAL_THREAD and F2_BARRIER_SERIAL_THREAD are both -1. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "shim.h"
#include "symver.h"
#include "sync_bridge.h"

_Static_assert(PTHREAD_BARRIER_SERIAL_THREAD == F2_BARRIER_SERIAL_THREAD, "serial thread");

/* glibc refuses 0 and counts from INT_MAX up (its round arithmetic). */
int F2P_IMPL(pthread_barrier_init)(pthread_barrier_t *pb, const pthread_barrierattr_t *attr,
				   unsigned count)
{
	struct f2p_barrier *b = F2P_BARRIER(pb);
	int pshared = PTHREAD_PROCESS_PRIVATE, r;

	f2p_stat(F2P_ST_INIT);
	if (count == 0 || count >= INT_MAX)
		return EINVAL;
	if (attr)
		pthread_barrierattr_getpshared(attr, &pshared);
	memset(pb, 0, sizeof(*pb));
	r = f2_barrier_init(&b->b, count);
	if (r)
		return r;
	b->shared = pshared == PTHREAD_PROCESS_SHARED;
	if (b->shared)
		b->b.node = 0;
	return 0;
}
F2P_EXPORT_LIBC(pthread_barrier_init);

int F2P_IMPL(pthread_barrier_destroy)(pthread_barrier_t *pb)
{
	f2p_stat(F2P_ST_DESTROY);
	return f2_barrier_destroy(&F2P_BARRIER(pb)->b);
}
F2P_EXPORT_LIBC(pthread_barrier_destroy);

int F2P_IMPL(pthread_barrier_wait)(pthread_barrier_t *pb)
{
	struct f2p_barrier *b = F2P_BARRIER(pb);

	f2p_stat(F2P_ST_BARRIER_WAIT);
	return f2p_bridge_barrier_wait(&b->b, b->shared);
}
F2P_EXPORT_LIBC(pthread_barrier_wait);
