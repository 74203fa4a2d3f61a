/* f2_mutex_t: the 32-bit mutex on the kernel futex path. Its word and the
 * protocol are described in mutex_impl.h (shared with f2_mutex8_t). */
#include <errno.h>
#include <stdint.h>

#include "f2sync/mutex.h"
#include "cond_defer.h"
#include "mutex_impl.h"

_Static_assert(sizeof(f2_mutex_t) == 8, "f2_mutex_t is a {u32, s32} NUMA pair");

/* A NULL or misaligned mutex is EINVAL: the pair must be 8-byte aligned. */
static inline int bad(const f2_mutex_t *m)
{
	return !m || ((uintptr_t)m & (sizeof(*m) - 1));
}

/* Every lock that succeeds records m, every unlock clears the record
 * (f2_cd_held, cond_defer.h): a signal defers its wake only to the release
 * of a mutex its thread holds. */
static int held(f2_mutex_t *m, int r)
{
	if (r == 0)
		f2_cd_held = m;
	return r;
}

int f2_mutex_lock(f2_mutex_t *m)
{
	return bad(m) ? EINVAL : held(m, f2_mx_lock(&m->word, F2_SIZE_U32));
}

int f2_mutex_trylock(f2_mutex_t *m)
{
	return bad(m) ? EINVAL : held(m, f2_mx_trylock(&m->word, F2_SIZE_U32));
}

int f2_mutex_unlock(f2_mutex_t *m)
{
	if (bad(m))
		return EINVAL;
	f2_cd_held = NULL;
	return f2_mx_unlock(&m->word, F2_SIZE_U32);
}

int f2_mutex_timedlock(f2_mutex_t *m, const struct timespec *abstime, clockid_t clock)
{
	return bad(m) ? EINVAL : held(m, f2_mx_timedlock(&m->word, F2_SIZE_U32, abstime, clock));
}
