/* C11 <threads.h> mutexes and condition variables on the shim.
 *
 * glibc (2.28+) implements mtx_* and cnd_* over its internal pthread calls,
 * which an interposer cannot reach, so without these a C11 program would run
 * entirely on glibc's locks under the shim, and one object used through both
 * APIs would be broken. mtx_t and cnd_t are glibc's pthread_mutex_t and
 * pthread_cond_t under another name (same size and layout, asserted below),
 * so each call is the shim's pthread call with glibc's C11 mapping:
 *   mtx_init   mtx_plain, mtx_timed: a normal mutex; mtx_plain|mtx_recursive,
 *              mtx_timed|mtx_recursive: a recursive one; any other type a
 *              normal one (glibc's choice; the standard leaves it undefined);
 *   cnd_init   a private condvar on CLOCK_REALTIME (TIME_UTC);
 *   results    0 -> thrd_success, EBUSY -> thrd_busy, ETIMEDOUT ->
 *              thrd_timedout, ENOMEM -> thrd_nomem, anything else ->
 *              thrd_error (glibc's thrd_err_map);
 *   destroy    returns nothing.
 * Each call also counts as "c11" in F2SYNC_STATS. */
#include <errno.h>
#include <threads.h>

#include "shim.h"
#include "symver.h"

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) &&
               _Alignof(mtx_t) == _Alignof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t) &&
               _Alignof(cnd_t) == _Alignof(pthread_cond_t), "cnd_t is a pthread_cond_t");

#define PM(m) ((pthread_mutex_t *)(void *)(m))
#define PC(c) ((pthread_cond_t *)(void *)(c))

static int thrd_of(int err)
{
	switch (err) {
	case 0:
		return thrd_success;
	case EBUSY:
		return thrd_busy;
	case ETIMEDOUT:
		return thrd_timedout;
	case ENOMEM:
		return thrd_nomem;
	default:
		return thrd_error;
	}
}

int F2P_IMPL(mtx_init)(mtx_t *m, int type)
{
	pthread_mutexattr_t a;
	int r;

	f2p_stat(F2P_ST_C11);
	pthread_mutexattr_init(&a);
	if (type == (mtx_plain | mtx_recursive) || type == (mtx_timed | mtx_recursive))
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	r = f2p_pthread_mutex_init(PM(m), &a);
	pthread_mutexattr_destroy(&a);
	return thrd_of(r);
}
F2P_EXPORT_C11(mtx_init);

void F2P_IMPL(mtx_destroy)(mtx_t *m)
{
	f2p_stat(F2P_ST_C11);
	f2p_pthread_mutex_destroy(PM(m));
}
F2P_EXPORT_C11(mtx_destroy);

int F2P_IMPL(mtx_lock)(mtx_t *m)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_mutex_lock(PM(m)));
}
F2P_EXPORT_C11(mtx_lock);

int F2P_IMPL(mtx_timedlock)(mtx_t *restrict m, const struct timespec *restrict abs)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_mutex_timedlock(PM(m), abs));
}
F2P_EXPORT_C11(mtx_timedlock);

int F2P_IMPL(mtx_trylock)(mtx_t *m)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_mutex_trylock(PM(m)));
}
F2P_EXPORT_C11(mtx_trylock);

int F2P_IMPL(mtx_unlock)(mtx_t *m)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_mutex_unlock(PM(m)));
}
F2P_EXPORT_C11(mtx_unlock);

int F2P_IMPL(cnd_init)(cnd_t *c)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_cond_init(PC(c), NULL));
}
F2P_EXPORT_C11(cnd_init);

void F2P_IMPL(cnd_destroy)(cnd_t *c)
{
	f2p_stat(F2P_ST_C11);
	f2p_pthread_cond_destroy(PC(c));
}
F2P_EXPORT_C11(cnd_destroy);

int F2P_IMPL(cnd_wait)(cnd_t *c, mtx_t *m)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_cond_wait(PC(c), PM(m)));
}
F2P_EXPORT_C11(cnd_wait);

int F2P_IMPL(cnd_timedwait)(cnd_t *restrict c, mtx_t *restrict m,
			    const struct timespec *restrict abs)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_cond_timedwait(PC(c), PM(m), abs));
}
F2P_EXPORT_C11(cnd_timedwait);

int F2P_IMPL(cnd_signal)(cnd_t *c)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_cond_signal(PC(c)));
}
F2P_EXPORT_C11(cnd_signal);

int F2P_IMPL(cnd_broadcast)(cnd_t *c)
{
	f2p_stat(F2P_ST_C11);
	return thrd_of(f2p_pthread_cond_broadcast(PC(c)));
}
F2P_EXPORT_C11(cnd_broadcast);
