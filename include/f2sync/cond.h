/* f2sync condition variables: a sequence counter and a count of waiters;
 * broadcast wakes two waiters and requeues the rest onto the mutex word.
 * f2_cond64_t uses a 64-bit sequence (no wrap-around). Return 0 or a positive
 * errno. Fields are private. */
#ifndef F2SYNC_COND_H
#define F2SYNC_COND_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "export.h"
#include "mutex.h"

F2_EXTERN_C_BEGIN

typedef struct f2_cond {
	uint32_t seq;        /* futex pair: sequence ... */
	int32_t node;        /* ... and its node */
	f2_mutex_t *mutex;   /* the mutex the current waiters use ... */
	uint32_t mref;       /* ... its futex flags and node, recorded while it is
	                        alive, so broadcast never reads the mutex */
	uint32_t waiters;    /* waiters no signal or broadcast has taken yet */
} __attribute__((aligned(8))) f2_cond_t;

typedef struct f2_cond64 {
	uint64_t seq;        /* futex pair (16-byte aligned): sequence ... */
	int64_t node;        /* ... and its node */
	f2_mutex_t *mutex;
	uint32_t mref;
	uint32_t waiters;
} __attribute__((aligned(16))) f2_cond64_t;

#define F2_COND_INITIALIZER   { 0, -1, 0, 0, 0 }
#define F2_COND64_INITIALIZER { 0, -1, 0, 0, 0 }

F2_API int f2_cond_wait(f2_cond_t *c, f2_mutex_t *m);
F2_API int f2_cond_timedwait(f2_cond_t *c, f2_mutex_t *m, const struct timespec *abstime,
                             clockid_t clock);
F2_API int f2_cond_signal(f2_cond_t *c);
F2_API int f2_cond_broadcast(f2_cond_t *c);

F2_API int f2_cond64_wait(f2_cond64_t *c, f2_mutex_t *m);
F2_API int f2_cond64_timedwait(f2_cond64_t *c, f2_mutex_t *m, const struct timespec *abstime,
                               clockid_t clock);
F2_API int f2_cond64_signal(f2_cond64_t *c);
F2_API int f2_cond64_broadcast(f2_cond64_t *c);

F2_EXTERN_C_END

#endif
