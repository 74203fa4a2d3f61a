/* f2_mutex8_t: the 2-byte mutex for object headers. Its 8-bit word parks
 * through the futex2 emulation (the kernel has no 8-bit futex). The word and
 * the protocol are described in mutex_impl.h (shared with f2_mutex_t). */
#include <errno.h>
#include <stdint.h>

#include "f2sync/mutex.h"
#include "mutex_impl.h"

_Static_assert(sizeof(f2_mutex8_t) == 2, "f2_mutex8_t is a {u8, s8} NUMA pair");

/* A NULL or misaligned mutex is EINVAL: the pair must be 2-byte aligned. */
static inline int bad(const f2_mutex8_t *m)
{
	return !m || ((uintptr_t)m & (sizeof(*m) - 1));
}

int f2_mutex8_lock(f2_mutex8_t *m)
{
	return bad(m) ? EINVAL : f2_mx_lock(&m->word, F2_SIZE_U8);
}

int f2_mutex8_trylock(f2_mutex8_t *m)
{
	return bad(m) ? EINVAL : f2_mx_trylock(&m->word, F2_SIZE_U8);
}

int f2_mutex8_unlock(f2_mutex8_t *m)
{
	return bad(m) ? EINVAL : f2_mx_unlock(&m->word, F2_SIZE_U8);
}

int f2_mutex8_timedlock(f2_mutex8_t *m, const struct timespec *abstime, clockid_t clock)
{
	return bad(m) ? EINVAL : f2_mx_timedlock(&m->word, F2_SIZE_U8, abstime, clock);
}
