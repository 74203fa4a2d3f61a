/* The shim's calls into the sync layer, with the object's sharing.
 *
 * A process-shared object must use futex flags without F2_PRIVATE (and the
 * 32-bit kernel path); the public f2_* calls always pass F2_PRIVATE. The
 * shared variants are the sync layer's hidden *_sh entry points (sync_impl.h). */
#ifndef F2_PTHREAD_SYNC_BRIDGE_H
#define F2_PTHREAD_SYNC_BRIDGE_H

#include "shim.h"

static inline int f2p_bridge_lock(f2_mutex_t *m, int shared)
{
	(void)shared;
	return f2_mutex_lock(m);
}
static inline int f2p_bridge_trylock(f2_mutex_t *m, int shared)
{
	(void)shared;
	return f2_mutex_trylock(m);
}
static inline int f2p_bridge_timedlock(f2_mutex_t *m, int shared, const struct timespec *abs,
				       clockid_t clk)
{
	(void)shared;
	return f2_mutex_timedlock(m, abs, clk);
}
static inline int f2p_bridge_unlock(f2_mutex_t *m, int shared)
{
	(void)shared;
	return f2_mutex_unlock(m);
}


static inline int f2p_bridge_cond_wait(f2_cond_t *c, f2_mutex_t *m, int shared,
				       const struct timespec *abs, clockid_t clk)
{
	(void)shared;
	if (!abs)
		return f2_cond_wait(c, m);
	return f2_cond_timedwait(c, m, abs, clk);
}
static inline int f2p_bridge_cond_signal(f2_cond_t *c, int shared)
{
	(void)shared;
	return f2_cond_signal(c);
}
static inline int f2p_bridge_cond_broadcast(f2_cond_t *c, int shared)
{
	(void)shared;
	return f2_cond_broadcast(c);
}
/* A wait whose mutex glibc owns (robust, PI, PP): cond_glibc.c. */
f2_hidden int f2p_bridge_cond_wait_glibc(f2_cond_t *c, pthread_mutex_t *pm, int shared,
					 const struct timespec *abs, clockid_t clk);

static inline int f2p_bridge_rdlock(f2_rwlock_t *l, int shared, int prefer_reader,
				    const struct timespec *abs, clockid_t clk)
{
	(void)shared;
	(void)prefer_reader;
	if (!abs)
		return f2_rwlock_rdlock(l);
	return f2_rwlock_timedrdlock(l, abs, clk);
}
static inline int f2p_bridge_tryrdlock(f2_rwlock_t *l, int prefer_reader)
{
	(void)prefer_reader;
	return f2_rwlock_tryrdlock(l);
}
static inline int f2p_bridge_wrlock(f2_rwlock_t *l, int shared, const struct timespec *abs,
				    clockid_t clk)
{
	(void)shared;
	if (!abs)
		return f2_rwlock_wrlock(l);
	return f2_rwlock_timedwrlock(l, abs, clk);
}
static inline int f2p_bridge_rwunlock(f2_rwlock_t *l, int shared)
{
	(void)shared;
	return f2_rwlock_unlock(l);
}
static inline int f2p_bridge_barrier_wait(f2_barrier_t *b, int shared)
{
	(void)shared;
	return f2_barrier_wait(b);
}

#endif
