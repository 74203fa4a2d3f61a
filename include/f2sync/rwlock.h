/* f2sync reader-writer lock: readers share, writers exclude, neither side
 * starves. Return 0 or a positive errno. Fields are private. */
#ifndef F2SYNC_RWLOCK_H
#define F2SYNC_RWLOCK_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "export.h"

F2_EXTERN_C_BEGIN

typedef struct f2_rwlock {
	uint32_t state;  /* futex pair: reader count and writer bits ... */
	int32_t node;    /* ... and its node */
	uint32_t wseq;   /* futex pair: writers park here ... */
	int32_t wnode;   /* ... and its node */
} __attribute__((aligned(8))) f2_rwlock_t;

#define F2_RWLOCK_INITIALIZER { 0, -1, 0, -1 }

F2_API int f2_rwlock_rdlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_tryrdlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_timedrdlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock);
F2_API int f2_rwlock_wrlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_trywrlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_timedwrlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock);
F2_API int f2_rwlock_unlock(f2_rwlock_t *rw);

F2_EXTERN_C_END

#endif
