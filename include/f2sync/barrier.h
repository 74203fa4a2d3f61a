/* f2sync barrier: count + generation; exactly one waiter per round gets
 * F2_BARRIER_SERIAL_THREAD, the others 0. Reusable at once; destroying it
 * right after the last wait returns is safe. Fields are private. */
#ifndef F2SYNC_BARRIER_H
#define F2SYNC_BARRIER_H

#include <stdint.h>

#include "export.h"

F2_EXTERN_C_BEGIN

#define F2_BARRIER_SERIAL_THREAD (-1)

typedef struct f2_barrier {
	uint32_t seq;    /* futex pair: generation ... */
	int32_t node;    /* ... and its node */
	uint32_t count;  /* threads per round */
	uint32_t left;   /* threads still to arrive this round */
} __attribute__((aligned(8))) f2_barrier_t;

F2_API int f2_barrier_init(f2_barrier_t *b, unsigned count); /* EINVAL if count == 0 */
F2_API int f2_barrier_wait(f2_barrier_t *b);
F2_API int f2_barrier_destroy(f2_barrier_t *b);              /* EBUSY while threads wait */

F2_EXTERN_C_END

#endif
