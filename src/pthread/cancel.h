/* Cancellation of condvar waits (cancel.c). */
#ifndef F2_PTHREAD_CANCEL_H
#define F2_PTHREAD_CANCEL_H

#include "shim.h"

/* Marks the calling thread as waiting on pc until f2p_waiter_leave(), so that
 * pthread_cancel() can wake it. */
f2_hidden void f2p_waiter_enter(pthread_cond_t *pc);
f2_hidden void f2p_waiter_leave(void);
/* The sync layer's pre-sleep check: 1 if the caller has a cancel request and
 * cancellation enabled, so the wait must end now (as a spurious wakeup). */
f2_hidden int f2p_cancel_pending(void);

#endif
