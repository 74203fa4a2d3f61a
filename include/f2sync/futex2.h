/* f2sync futex2 layer: wait / wake / requeue / waitv on 8, 16, 32 and 64-bit
 * futex words, optionally NUMA pairs { uN value; sN node; }.
 *
 * Return convention (like the kernel and liburing): 0 or a count on success,
 * a negative errno on failure.
 *
 * Contract, identical on every backend:
 *  - f2_futex_wait sleeps while *uaddr == val. It returns -EAGAIN if the word
 *    differs from val when it would sleep, -ETIMEDOUT at the absolute deadline
 *    abstime (NULL: no deadline) on clockid (CLOCK_MONOTONIC or
 *    CLOCK_REALTIME), and may return 0 spuriously.
 *  - f2_futex_wake wakes at most nr waiters whose mask shares a bit with mask
 *    and returns how many it woke (nr == 0 wakes nobody).
 *  - -EINVAL: unknown flag bits, an address not aligned to the word size (to
 *    twice the word size for a NUMA pair), a zero mask, a value or mask wider
 *    than the word, a node outside the machine, a bad timespec (tv_sec < 0 or
 *    tv_nsec outside [0, 1e9)), a clock other than the two above, a negative
 *    count. -EFAULT: a NULL address.
 *  - -EOPNOTSUPP: a shared (not F2_PRIVATE) word of a size that only the
 *    user-space emulation serves (it cannot see other processes' waiters).
 *  - -ENOSYS: F2SYNC_BACKEND names an unknown backend or one the kernel lacks.
 */
#ifndef F2SYNC_FUTEX2_H
#define F2SYNC_FUTEX2_H

#include <stdint.h>
#include <sys/types.h> /* clockid_t */
#include <time.h>      /* struct timespec, CLOCK_* */

#include "export.h"

F2_EXTERN_C_BEGIN

/* Flag values are the kernel's FUTEX2_* so they pass straight through. */
#define F2_SIZE_U8   0x00
#define F2_SIZE_U16  0x01
#define F2_SIZE_U32  0x02
#define F2_SIZE_U64  0x03
#define F2_SIZE_MASK 0x03
#define F2_NUMA      0x04 /* uaddr points at { uN value; sN node; } */
#define F2_PRIVATE   0x80
#define F2_NODE_AUTO (-1) /* node field: "choose for me"; the choice is written back */

/* Largest n accepted by f2_futex_waitv (the kernel's FUTEX_WAITV_MAX). */
#define F2_WAITV_MAX 128

struct f2_futex_waitv {
	uint64_t val;   /* expected value (the cmpval for requeue's from_to[0]) */
	void *uaddr;    /* the futex word, or the NUMA pair with F2_NUMA */
	uint32_t flags; /* F2_SIZE_* | F2_NUMA | F2_PRIVATE */
	uint32_t reserved; /* must be 0 */
};

F2_API int f2_futex_wait(void *uaddr, uint64_t val, uint64_t mask, unsigned flags,
                         const struct timespec *abstime, clockid_t clockid);

F2_API int f2_futex_wake(void *uaddr, uint64_t mask, int nr, unsigned flags);

/* Wakes up to nr_wake waiters of from_to[0] and moves up to nr_requeue more
 * to from_to[1], if from_to[0]'s word still equals from_to[0].val (else
 * -EAGAIN). Returns woken + requeued. Between words of different backends the
 * "moved" waiters are woken instead (a spurious wakeup for them). */
F2_API int f2_futex_requeue(const struct f2_futex_waitv from_to[2], int nr_wake,
                            int nr_requeue);

/* Sleeps until any of the n words is woken; returns its index. -EAGAIN if any
 * word differs from its val. 1 <= n <= F2_WAITV_MAX. */
F2_API int f2_futex_waitv(struct f2_futex_waitv *w, unsigned n,
                          const struct timespec *abstime, clockid_t clockid);

/* "futex2", "legacy" or "emulated": the backend that serves words of this
 * kind (flags as for wait). NULL if no backend serves it (bad flags, a shared
 * emulated size, or a forced backend the kernel lacks). */
F2_API const char *f2_futex_backend(unsigned flags);

F2_EXTERN_C_END

#endif
