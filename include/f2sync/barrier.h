/* f2sync barrier: a round ends when `count` threads have called
 * f2_barrier_wait; exactly one of them gets F2_BARRIER_SERIAL_THREAD, the
 * others 0. Reusable at once for the next round.
 *
 * Self-synchronised destruction: once any wait of a round has returned, no
 * thread of that round touches the barrier again, so it may be destroyed or
 * freed right away (the threads still returning only use memory on their own
 * stacks and in the library).
 *
 * f2_barrier_init:    0, or EINVAL for count 0 or count > F2_BARRIER_MAX.
 * f2_barrier_wait:    F2_BARRIER_SERIAL_THREAD or 0; EINVAL on a barrier that
 *                     was never initialised (all-zero memory) or destroyed.
 * f2_barrier_destroy: 0; EBUSY while some thread has arrived in a round that
 *                     has not ended yet (the barrier is left intact); EINVAL if
 *                     never initialised or already destroyed.
 * The fields are private. */
#ifndef F2SYNC_BARRIER_H
#define F2SYNC_BARRIER_H

#include <stdint.h>

#include "export.h"

F2_EXTERN_C_BEGIN

#define F2_BARRIER_SERIAL_THREAD (-1)
#define F2_BARRIER_MAX 0x1fffffffu

typedef struct f2_barrier {
	uint32_t seq;    /* futex pair: arrivals and round state ... */
	int32_t node;    /* ... and its NUMA node */
	uint32_t count;  /* threads per round; bit 31: count <= online CPUs at init */
	uint32_t joined; /* arrivals of the round that have queued to wait */
	void *head;      /* the round's waiters (nodes on their own stacks) */
} __attribute__((aligned(8))) f2_barrier_t;

F2_API int f2_barrier_init(f2_barrier_t *b, unsigned count);
F2_API int f2_barrier_wait(f2_barrier_t *b);
F2_API int f2_barrier_destroy(f2_barrier_t *b);

F2_EXTERN_C_END

#endif
