/* pthread_rwlock_* on f2sync reader-writer locks.
 *
 * Object layout: shim.h (f2_rwlock_t over __readers..__writers_futex). glibc's
 * own fields keep their meaning where the initializers or glibc's error checks
 * need them:
 *   __flags       the kind (PTHREAD_RWLOCK_PREFER_READER_NP, the default, or
 *                 ..._PREFER_WRITER_NP / ..._WRITER_NONRECURSIVE_NP), set by
 *                 the initializer macros or pthread_rwlockattr_setkind_np;
 *   __cur_writer  the kernel tid of the write holder, 0 otherwise: EDEADLK for
 *                 a writer that locks again, and unlock tells a writer from a
 *                 reader by it, exactly as glibc does;
 *   __shared      nonzero for a process-shared lock (whose pair also carries
 *                 F2_NODE_SHARED: the kernel's shared futex path).
 * Prefer-reader: a reader enters while other readers hold the lock, even past
 * waiting writers (so recursive read locks cannot deadlock, and readers are
 * not held back, as in glibc). The writer kinds get f2_rwlock's own rule: a
 * parked writer keeps new readers out, except a thread that already holds a
 * read lock on that same lock.
 * Unlocking a lock held in neither mode returns 0, as glibc does (which never
 * fails an unlock); f2_rwlock_unlock's EPERM is for the native API, and the
 * lock is left as it was. */
#include <errno.h>
#include <string.h>

#include "shim.h"
#include "symver.h"
#include "sync_bridge.h"
#include "../internal/atomic.h"

static inline int writer_of(pthread_rwlock_t *rw)
{
	/* compared only with the caller's own tid, which only it writes */
	return f2_load_relaxed(&F2P_RW_DATA(rw)->__cur_writer);
}
static inline void set_writer(pthread_rwlock_t *rw, int tid)
{
	f2_store_relaxed(&F2P_RW_DATA(rw)->__cur_writer, tid); /* see writer_of */
}
static inline int prefer_reader(pthread_rwlock_t *rw)
{
	return F2P_RW_DATA(rw)->__flags == PTHREAD_RWLOCK_PREFER_READER_NP;
}

int F2P_IMPL(pthread_rwlock_init)(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
	int kind = PTHREAD_RWLOCK_DEFAULT_NP, pshared = PTHREAD_PROCESS_PRIVATE;
	f2_rwlock_t *l = F2P_RWLOCK(rw);

	f2p_stat(F2P_ST_INIT);
	if (attr) {
		pthread_rwlockattr_getkind_np(attr, &kind);
		pthread_rwlockattr_getpshared(attr, &pshared);
	}
	memset(rw, 0, sizeof(*rw));
	l->node = pshared == PTHREAD_PROCESS_SHARED ? F2_NODE_SHARED : F2_NODE_AUTO;
	F2P_RW_DATA(rw)->__flags = (unsigned)kind;
	F2P_RW_DATA(rw)->__shared = pshared == PTHREAD_PROCESS_SHARED;
	return 0;
}
F2P_EXPORT_LIBC(pthread_rwlock_init);

int F2P_IMPL(pthread_rwlock_destroy)(pthread_rwlock_t *rw)
{
	(void)rw;
	f2p_stat(F2P_ST_DESTROY);
	return 0;
}
F2P_EXPORT_LIBC(pthread_rwlock_destroy);

static const struct timespec epoch = { 0, 0 };

/* glibc checks clock and deadline first, then EDEADLK for a write holder; a
 * negative tv_sec is a deadline that has passed. */
static int rd(pthread_rwlock_t *rw, const struct timespec *abs, clockid_t clk)
{
	if (abs && (!f2p_clock_ok(clk) || !f2p_timespec_ok(abs)))
		return EINVAL;
	if (abs && abs->tv_sec < 0)
		abs = &epoch;
	if (writer_of(rw) == f2p_tid())
		return EDEADLK;
	return f2p_bridge_rdlock(F2P_RWLOCK(rw), prefer_reader(rw), abs, clk);
}

static int wr(pthread_rwlock_t *rw, const struct timespec *abs, clockid_t clk)
{
	int tid = f2p_tid(), r;

	if (abs && (!f2p_clock_ok(clk) || !f2p_timespec_ok(abs)))
		return EINVAL;
	if (abs && abs->tv_sec < 0)
		abs = &epoch;
	if (writer_of(rw) == tid)
		return EDEADLK;
	r = f2p_bridge_wrlock(F2P_RWLOCK(rw), abs, clk);
	if (r == 0)
		set_writer(rw, tid);
	return r;
}

int F2P_IMPL(pthread_rwlock_rdlock)(pthread_rwlock_t *rw)
{
	f2p_stat(F2P_ST_RW_RDLOCK);
	return rd(rw, NULL, CLOCK_REALTIME);
}
F2P_EXPORT_LIBC(pthread_rwlock_rdlock);

int F2P_IMPL(pthread_rwlock_timedrdlock)(pthread_rwlock_t *rw, const struct timespec *abs)
{
	f2p_stat(F2P_ST_RW_TIMED);
	return rd(rw, abs, CLOCK_REALTIME);
}
F2P_EXPORT_LIBC(pthread_rwlock_timedrdlock);

int F2P_IMPL(pthread_rwlock_clockrdlock)(pthread_rwlock_t *rw, clockid_t clk,
					 const struct timespec *abs)
{
	f2p_stat(F2P_ST_RW_TIMED);
	return rd(rw, abs, clk);
}
F2P_EXPORT_CLOCK(pthread_rwlock_clockrdlock);

int F2P_IMPL(pthread_rwlock_tryrdlock)(pthread_rwlock_t *rw)
{
	f2p_stat(F2P_ST_RW_TRY);
	return f2p_bridge_tryrdlock(F2P_RWLOCK(rw), prefer_reader(rw));
}
F2P_EXPORT_LIBC(pthread_rwlock_tryrdlock);

int F2P_IMPL(pthread_rwlock_wrlock)(pthread_rwlock_t *rw)
{
	f2p_stat(F2P_ST_RW_WRLOCK);
	return wr(rw, NULL, CLOCK_REALTIME);
}
F2P_EXPORT_LIBC(pthread_rwlock_wrlock);

int F2P_IMPL(pthread_rwlock_timedwrlock)(pthread_rwlock_t *rw, const struct timespec *abs)
{
	f2p_stat(F2P_ST_RW_TIMED);
	return wr(rw, abs, CLOCK_REALTIME);
}
F2P_EXPORT_LIBC(pthread_rwlock_timedwrlock);

int F2P_IMPL(pthread_rwlock_clockwrlock)(pthread_rwlock_t *rw, clockid_t clk,
					 const struct timespec *abs)
{
	f2p_stat(F2P_ST_RW_TIMED);
	return wr(rw, abs, clk);
}
F2P_EXPORT_CLOCK(pthread_rwlock_clockwrlock);

/* glibc: EBUSY, never EDEADLK, from the try variants. */
int F2P_IMPL(pthread_rwlock_trywrlock)(pthread_rwlock_t *rw)
{
	int r;

	f2p_stat(F2P_ST_RW_TRY);
	r = f2_rwlock_trywrlock(F2P_RWLOCK(rw));
	if (r == 0)
		set_writer(rw, f2p_tid());
	return r;
}
F2P_EXPORT_LIBC(pthread_rwlock_trywrlock);

int F2P_IMPL(pthread_rwlock_unlock)(pthread_rwlock_t *rw)
{
	int r;

	f2p_stat(F2P_ST_RW_UNLOCK);
	if (writer_of(rw) == f2p_tid())
		set_writer(rw, 0);
	r = f2_rwlock_unlock(F2P_RWLOCK(rw));
	return r == EPERM ? 0 : r;
}
F2P_EXPORT_LIBC(pthread_rwlock_unlock);
