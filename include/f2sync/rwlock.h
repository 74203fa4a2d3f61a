/* f2sync reader-writer lock: readers share, writers exclude, neither side
 * starves. An unlock never makes a waiting thread the holder: woken threads
 * compete with running ones. Once a writer waits parked, new readers wait
 * and the readers inside drain; a waiter that has waited longer than the
 * hand-off time (F2_TUNE_HANDOFF_NS, runtime.h) reserves the next turn of its
 * kind. A thread that already holds a read lock on a lock may take more read
 * locks on it even while writers wait. Real-time (SCHED_FIFO/RR) waiters on
 * one CPU get the lock in priority order, a writer before a reader of equal
 * priority (docs/design/rwlock.md).
 *
 * Return 0 or a positive errno:
 *   EBUSY     try variants: the lock cannot be taken without waiting
 *   EAGAIN    rdlock variants: too many read locks (more than 131071 readers
 *             holding at once)
 *   ETIMEDOUT timed variants: abstime (absolute, on CLOCK_MONOTONIC or
 *             CLOCK_REALTIME) was reached; never returned before it
 *   EINVAL    timed variants: bad timespec or clock (checked on every call)
 *   EPERM     unlock of a lock held in neither mode
 * Relocking a lock the caller holds for writing deadlocks (EDEADLK is not
 * detected: the lock records no owner). All-zero memory is an unlocked lock
 * homed on NUMA node 0. The fields are private. */
#ifndef F2SYNC_RWLOCK_H
#define F2SYNC_RWLOCK_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "export.h"

F2_EXTERN_C_BEGIN

typedef struct f2_rwlock {
	uint32_t state;  /* futex pair: phase, grant, reader and writer counts ... */
	int32_t node;    /* ... and its NUMA node */
} __attribute__((aligned(8))) f2_rwlock_t;

#define F2_RWLOCK_INITIALIZER { 0, -1 }

F2_API int f2_rwlock_rdlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_tryrdlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_timedrdlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock);
F2_API int f2_rwlock_wrlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_trywrlock(f2_rwlock_t *rw);
F2_API int f2_rwlock_timedwrlock(f2_rwlock_t *rw, const struct timespec *abstime, clockid_t clock);
F2_API int f2_rwlock_unlock(f2_rwlock_t *rw);

F2_EXTERN_C_END

#endif
