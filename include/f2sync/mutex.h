/* f2sync mutexes.
 *
 * f2_mutex_t  : 8 bytes, a NUMA pair { u32 word; s32 node; } on the kernel path.
 * f2_mutex8_t : 2 bytes, a NUMA pair { u8 word; s8 node; } for object headers;
 *               it parks through the futex2 emulation.
 * All-zero memory is an unlocked mutex homed on node 0; the initializers set the
 * node to F2_NODE_AUTO so that the first thread to contend picks its own node.
 * Functions return 0 or a positive errno (like pthread). The fields are private.
 */
#ifndef F2SYNC_MUTEX_H
#define F2SYNC_MUTEX_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "export.h"

F2_EXTERN_C_BEGIN

typedef struct f2_mutex {
	uint32_t word;
	int32_t node;
} __attribute__((aligned(8))) f2_mutex_t;

typedef struct f2_mutex8 {
	uint8_t word;
	int8_t node;
} __attribute__((aligned(2))) f2_mutex8_t;

#define F2_MUTEX_INITIALIZER  { 0, -1 }
#define F2_MUTEX8_INITIALIZER { 0, -1 }

F2_API int f2_mutex_lock(f2_mutex_t *m);
F2_API int f2_mutex_trylock(f2_mutex_t *m);   /* EBUSY if held */
F2_API int f2_mutex_unlock(f2_mutex_t *m);    /* EPERM if not locked */
/* abstime: absolute deadline on clock (CLOCK_MONOTONIC or CLOCK_REALTIME);
 * ETIMEDOUT at (never before) it, EINVAL for a bad timespec or clock. */
F2_API int f2_mutex_timedlock(f2_mutex_t *m, const struct timespec *abstime, clockid_t clock);

F2_API int f2_mutex8_lock(f2_mutex8_t *m);
F2_API int f2_mutex8_trylock(f2_mutex8_t *m);
F2_API int f2_mutex8_unlock(f2_mutex8_t *m);
F2_API int f2_mutex8_timedlock(f2_mutex8_t *m, const struct timespec *abstime, clockid_t clock);

F2_EXTERN_C_END

#endif
