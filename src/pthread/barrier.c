/* pthread_barrier_* on f2sync barriers.
 *
 * Object layout: shim.h (struct f2p_barrier: the f2_barrier_t, or the
 * counting barrier of barrier_count.c, then the mode that tells them apart). pthread_barrier_t has no static initializer.
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
	int pshared = PTHREAD_PROCESS_PRIVATE;

	f2p_stat(F2P_ST_INIT);
	if (count == 0 || count >= INT_MAX)
		return EINVAL;
	if (attr)
		pthread_barrierattr_getpshared(attr, &pshared);
	memset(pb, 0, sizeof(*pb));
	if (pshared != PTHREAD_PROCESS_SHARED && count <= F2_BARRIER_MAX)
		return f2_barrier_init(&b->b, count);
	f2p_count_barrier_init(&b->cb, count);
	b->mode = pshared == PTHREAD_PROCESS_SHARED ? F2P_BARRIER_SHARED : F2P_BARRIER_COUNT;
	return 0;
}
F2P_EXPORT_LIBC(pthread_barrier_init);

/* glibc: destroying a destroyed barrier returns 0 (f2_barrier_destroy's
 * EINVAL is for the native API). */
int F2P_IMPL(pthread_barrier_destroy)(pthread_barrier_t *pb)
{
	struct f2p_barrier *b = F2P_BARRIER(pb);
	int r;

	f2p_stat(F2P_ST_DESTROY);
	if (b->mode != F2P_BARRIER_F2)
		return f2p_count_barrier_destroy(&b->cb);
	r = f2_barrier_destroy(&b->b);
	return r == EINVAL ? 0 : r;
}
F2P_EXPORT_LIBC(pthread_barrier_destroy);

int F2P_IMPL(pthread_barrier_wait)(pthread_barrier_t *pb)
{
	struct f2p_barrier *b = F2P_BARRIER(pb);

	f2p_stat(F2P_ST_BARRIER_WAIT);
	if (b->mode != F2P_BARRIER_F2)
		return f2p_count_barrier_wait(&b->cb, b->mode == F2P_BARRIER_SHARED);
	return f2_barrier_wait(&b->b);
}
F2P_EXPORT_LIBC(pthread_barrier_wait);
