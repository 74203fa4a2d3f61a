/* pthread_cond_* on f2sync condition variables.
 *
 * Object layout: shim.h (f2_cond_t at offset 0, attributes in glibc's __wrefs:
 * F2P_COND_SHARED, F2P_COND_MONOTONIC). PTHREAD_COND_INITIALIZER is all zero:
 * a private condvar on CLOCK_REALTIME.
 *
 * A wait releases the pthread mutex's bookkeeping (owner, recursion depth:
 * mutex.c), lets f2_cond release and retake the f2sync word, and restores the
 * bookkeeping, so a recursive mutex keeps its depth across the wait.
 * A normal or adaptive mutex that the caller does not hold is waited on as
 * glibc does (released as a no-op, taken on the way out) rather than refused
 * with EPERM, which would turn a program's wait loop into a busy loop.
 * Waits are cancellation points (cancel.c): a pending cancel is acted on at
 * entry and after the wait, both with the mutex held, so the cleanup handlers
 * always run with the mutex re-acquired, as POSIX requires.
 * A process-shared condvar's pair carries F2_NODE_SHARED: shared futex flags,
 * and broadcast wakes all instead of requeueing onto a mutex address that
 * belongs to one process (sync/cond.c). */
#include <errno.h>
#include <string.h>

#include "shim.h"
#include "symver.h"
#include "sync_bridge.h"
#include "cancel.h"
#include "../internal/atomic.h"

/* The mutex of a wait, when glibc owns it (robust, PI, PP): its release and
 * retake go to glibc, around the same condvar protocol. */
static int glibc_unlock(void *pm)
{
	return f2p_real()->mutex_unlock(pm);
}
static int glibc_lock(void *pm)
{
	return f2p_real()->mutex_lock(pm);
}

static inline unsigned flags_of(pthread_cond_t *pc)
{
	/* written only by init, which the program orders before any use */
	return f2_load_relaxed(&F2P_COND_FLAGS(pc));
}

int F2P_IMPL(pthread_cond_init)(pthread_cond_t *pc, const pthread_condattr_t *attr)
{
	int pshared = PTHREAD_PROCESS_PRIVATE;
	clockid_t clk = CLOCK_REALTIME;

	f2p_stat(F2P_ST_INIT);
	if (attr) {
		pthread_condattr_getpshared(attr, &pshared);
		pthread_condattr_getclock(attr, &clk);
	}
	memset(pc, 0, sizeof(*pc));
	F2P_COND(pc)->c.node = pshared == PTHREAD_PROCESS_SHARED ? F2_NODE_SHARED : F2_NODE_AUTO;
	F2P_COND_FLAGS(pc) = (pshared == PTHREAD_PROCESS_SHARED ? F2P_COND_SHARED : 0) |
			     (clk == CLOCK_MONOTONIC ? F2P_COND_MONOTONIC : 0);
	return 0;
}
F2P_EXPORT_COND(pthread_cond_init);

/* EBUSY while a thread sleeps in a wait that no signal or broadcast has
 * woken (POSIX's recommendation; glibc waits instead). A woken waiter still
 * on its way back needs nothing of the condvar (sync/cond.c), so destroying
 * right after the broadcast that woke every waiter succeeds. */
int F2P_IMPL(pthread_cond_destroy)(pthread_cond_t *pc)
{
	f2p_stat(F2P_ST_DESTROY);
	return f2_cond_has_sleepers(&F2P_COND(pc)->c) ? EBUSY : 0;
}
F2P_EXPORT_COND(pthread_cond_destroy);

static int wait_common(pthread_cond_t *pc, pthread_mutex_t *pm, const struct timespec *abs,
		       clockid_t clk)
{
	struct f2_cond_ext x = { f2p_cancel_pending, NULL, NULL, NULL };
	static const struct timespec epoch = { 0, 0 };
	struct f2p_held held;
	int r;

	/* glibc: a negative tv_sec is a deadline that has passed, not EINVAL */
	if (abs && abs->tv_sec < 0)
		abs = &epoch;
	pthread_testcancel();
	if (F2P_MUTEX(pm)->kind & F2P_KIND_GLIBC) {
		x.unlock = glibc_unlock;
		x.lock = glibc_lock;
	} else if (f2p_mutex_unheld(pm)) {
		x.unlock = f2p_mutex_cb_unlock;
		x.lock = f2p_mutex_cb_lock;
	}
	if (x.unlock) {
		x.arg = pm;
		f2p_waiter_enter(pc);
		r = f2_cond_wait_ext(&F2P_COND(pc)->c, NULL, abs, clk, &x);
		f2p_waiter_leave();
	} else {
		r = f2p_mutex_release(pm, &held);
		if (r)
			return r;
		f2p_waiter_enter(pc);
		r = f2_cond_wait_ext(&F2P_COND(pc)->c, &F2P_MUTEX(pm)->m, abs, clk, &x);
		f2p_waiter_leave();
		f2p_mutex_reacquired(pm, &held);
	}
	pthread_testcancel();
	return r;
}

int F2P_IMPL(pthread_cond_wait)(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	f2p_stat(F2P_ST_COND_WAIT);
	return wait_common(pc, pm, NULL, CLOCK_REALTIME);
}
F2P_EXPORT_COND(pthread_cond_wait);

/* glibc: a bad tv_nsec is EINVAL before anything else; a negative tv_sec is
 * an expired deadline (the mutex is still released and retaken). */
int F2P_IMPL(pthread_cond_timedwait)(pthread_cond_t *pc, pthread_mutex_t *pm,
				     const struct timespec *abs)
{
	clockid_t clk = flags_of(pc) & F2P_COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;

	f2p_stat(F2P_ST_COND_TIMEDWAIT);
	if (!f2p_timespec_ok(abs))
		return EINVAL;
	return wait_common(pc, pm, abs, clk);
}
F2P_EXPORT_COND(pthread_cond_timedwait);

int F2P_IMPL(pthread_cond_clockwait)(pthread_cond_t *pc, pthread_mutex_t *pm, clockid_t clk,
				     const struct timespec *abs)
{
	f2p_stat(F2P_ST_COND_TIMEDWAIT);
	if (!f2p_clock_ok(clk) || !f2p_timespec_ok(abs))
		return EINVAL;
	return wait_common(pc, pm, abs, clk);
}
F2P_EXPORT_CLOCK(pthread_cond_clockwait);

int F2P_IMPL(pthread_cond_signal)(pthread_cond_t *pc)
{
	f2p_stat(F2P_ST_COND_SIGNAL);
	return f2_cond_signal(&F2P_COND(pc)->c);
}
F2P_EXPORT_COND(pthread_cond_signal);

int F2P_IMPL(pthread_cond_broadcast)(pthread_cond_t *pc)
{
	f2p_stat(F2P_ST_COND_BROADCAST);
	return f2_cond_broadcast(&F2P_COND(pc)->c);
}
F2P_EXPORT_COND(pthread_cond_broadcast);
