/* pthread_mutex_* on f2sync mutexes.
 *
 * Object layout: shim.h (struct f2p_mutex over glibc's __pthread_mutex_s).
 * States, as seen from this file:
 *   f2 word   the f2_mutex_t protocol (src/sync/mutex_impl.h): unlocked /
 *             locked / locked with waiters; all-zero is unlocked. A
 *             process-shared one starts RMW_UNLOCK: its unlock must not be a
 *             store unlock, whose fence reaches only this process.
 *   owner     0, or the kernel tid of the holder of an errorcheck or recursive
 *             mutex; written only by the holder while it holds the lock.
 *   depth     recursive only: how many times the holder locked it beyond the
 *             first (glibc's limit: EAGAIN when it would wrap).
 *   kind      glibc's __kind: type in F2P_KIND_TYPE, F2P_KIND_PSHARED, or any
 *             F2P_KIND_GLIBC bit for an object that glibc owns outright; -1 after
 *             destroy (glibc then answers EINVAL, as for its own objects).
 * Normal and adaptive mutexes do not track the owner, as in glibc; their lock
 * and unlock are the f2_mutex calls plus one load of the kind.
 * glibc's answers where POSIX leaves the behaviour undefined: unlocking a
 * normal or adaptive mutex that nobody holds returns 0 (f2_mutex_unlock's
 * EPERM is for the native API, docs/api.md); errorcheck and recursive ones
 * keep EPERM, as in glibc. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "shim.h"
#include "symver.h"
#include "../sync/mutex_impl.h"
#include "../sync/sync_impl.h"
#include "../internal/atomic.h"

static inline int kind_of(pthread_mutex_t *pm)
{
	/* the kind changes only in init/destroy, which the program orders */
	return f2_load_relaxed(&F2P_MUTEX(pm)->kind);
}

static inline int tracks_owner(int kind)
{
	int t = kind & F2P_KIND_TYPE;

	return t == PTHREAD_MUTEX_RECURSIVE_NP || t == PTHREAD_MUTEX_ERRORCHECK_NP;
}

/* The owner word is read by other threads only to compare it with their own
 * tid, which it can equal only if they wrote it: relaxed is enough. */
static inline int owner_of(struct f2p_mutex *m)
{
	return f2_load_relaxed(&m->owner); /* pairs with nothing: see above */
}
static inline void set_owner(struct f2p_mutex *m, int tid)
{
	f2_store_relaxed(&m->owner, tid); /* pairs with nothing: see owner_of */
}

int F2P_IMPL(pthread_mutex_init)(pthread_mutex_t *pm, const pthread_mutexattr_t *attr)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int type = PTHREAD_MUTEX_NORMAL, robust = PTHREAD_MUTEX_STALLED;
	int proto = PTHREAD_PRIO_NONE, pshared = PTHREAD_PROCESS_PRIVATE;

	f2p_stat(F2P_ST_INIT);
	if (attr) {
		pthread_mutexattr_gettype(attr, &type);
		pthread_mutexattr_getrobust(attr, &robust);
		pthread_mutexattr_getprotocol(attr, &proto);
		pthread_mutexattr_getpshared(attr, &pshared);
	}
	if (robust != PTHREAD_MUTEX_STALLED || proto != PTHREAD_PRIO_NONE)
		return f2p_real()->mutex_init(pm, attr);
	memset(pm, 0, sizeof(*pm));
	/* a private mutex lets its first contender pick its NUMA node; a
	 * shared one takes the kernel's shared futex path */
	m->m.node = pshared == PTHREAD_PROCESS_SHARED ? F2_NODE_SHARED : F2_NODE_AUTO;
	if (pshared == PTHREAD_PROCESS_SHARED)
		m->m.word = F2_MX_RMW_UNLOCK;
	m->kind = (type & F2P_KIND_TYPE) | (pshared == PTHREAD_PROCESS_SHARED ? F2P_KIND_PSHARED : 0);
	return 0;
}
F2P_EXPORT_BASE(pthread_mutex_init);

int F2P_IMPL(pthread_mutex_destroy)(pthread_mutex_t *pm)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int kind = kind_of(pm);

	f2p_stat(F2P_ST_DESTROY);
	if (kind & F2P_KIND_GLIBC)
		return f2p_real()->mutex_destroy(pm);
	/* the program must not race destroy with lock; a held mutex is EBUSY
	 * (RMW_UNLOCK and a WAKER|GEN whose wake found nobody outlive every
	 * waiter; GEN appears only with WAKER or STARVE) */
	if (f2_load_relaxed(&m->m.word) & (F2_MX_HELD | F2_MX_PARKED | F2_MX_STARVE))
		return EBUSY;
	f2_store_relaxed(&m->kind, -1);
	return 0;
}
F2P_EXPORT_BASE(pthread_mutex_destroy);

/* Errorcheck and recursive: the checks glibc makes before blocking. Returns
 * -1 to go on and lock, else the call's result. */
static int relock_check(struct f2p_mutex *m, int kind, int tid)
{
	if (owner_of(m) != tid)
		return -1;
	if ((kind & F2P_KIND_TYPE) == PTHREAD_MUTEX_ERRORCHECK_NP)
		return EDEADLK;
	if (m->depth == UINT_MAX)
		return EAGAIN;
	m->depth++;
	return 0;
}

static int lock_owned(struct f2p_mutex *m, int kind)
{
	int tid = f2p_tid(), r = relock_check(m, kind, tid);

	if (r >= 0)
		return r;
	r = f2_mutex_lock(&m->m);
	if (r == 0) {
		set_owner(m, tid);
		m->depth = 0;
	}
	return r;
}

int F2P_IMPL(pthread_mutex_lock)(pthread_mutex_t *pm)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int kind = kind_of(pm);

	f2p_stat(F2P_ST_MUTEX_LOCK);
	if (f2_likely(kind == PTHREAD_MUTEX_NORMAL))
		return f2_mutex_lock(&m->m);
	if (f2_unlikely(kind & F2P_KIND_GLIBC)) {
		f2p_stat(F2P_ST_MUTEX_GLIBC);
		return f2p_real()->mutex_lock(pm);
	}
	if (!tracks_owner(kind))
		return f2_mutex_lock(&m->m);
	return lock_owned(m, kind);
}
F2P_EXPORT_BASE(pthread_mutex_lock);

int F2P_IMPL(pthread_mutex_trylock)(pthread_mutex_t *pm)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int kind = kind_of(pm), tid, r;

	f2p_stat(F2P_ST_MUTEX_TRYLOCK);
	if (f2_unlikely(kind & F2P_KIND_GLIBC)) {
		f2p_stat(F2P_ST_MUTEX_GLIBC);
		return f2p_real()->mutex_trylock(pm);
	}
	if (!tracks_owner(kind))
		return f2_mutex_trylock(&m->m);
	tid = f2p_tid();
	/* glibc: a recursive owner nests, an errorcheck owner gets EBUSY */
	if ((kind & F2P_KIND_TYPE) == PTHREAD_MUTEX_RECURSIVE_NP && owner_of(m) == tid)
		return relock_check(m, kind, tid);
	r = f2_mutex_trylock(&m->m);
	if (r == 0) {
		set_owner(m, tid);
		m->depth = 0;
	}
	return r;
}
F2P_EXPORT_LIBC(pthread_mutex_trylock);

/* glibc checks the clock first, the deadline only when the mutex is taken. */
static int timed(pthread_mutex_t *pm, clockid_t clk, const struct timespec *abs)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int kind = kind_of(pm), tid = 0, r;

	f2p_stat(F2P_ST_MUTEX_TIMEDLOCK);
	if (tracks_owner(kind)) {
		tid = f2p_tid();
		r = relock_check(m, kind, tid);
		if (r >= 0)
			return r;
	}
	r = f2_mutex_trylock(&m->m);
	if (r == EBUSY) {
		if (!f2p_timespec_ok(abs))
			return EINVAL;
		if (abs->tv_sec < 0)
			return ETIMEDOUT;
		r = f2_mutex_timedlock(&m->m, abs, clk);
	}
	if (r == 0 && tid) {
		set_owner(m, tid);
		m->depth = 0;
	}
	return r;
}

int F2P_IMPL(pthread_mutex_timedlock)(pthread_mutex_t *pm, const struct timespec *abs)
{
	if (f2_unlikely(kind_of(pm) & F2P_KIND_GLIBC)) {
		f2p_stat(F2P_ST_MUTEX_GLIBC);
		return f2p_real()->mutex_timedlock(pm, abs);
	}
	return timed(pm, CLOCK_REALTIME, abs);
}
F2P_EXPORT_LIBC(pthread_mutex_timedlock);

int F2P_IMPL(pthread_mutex_clocklock)(pthread_mutex_t *pm, clockid_t clk,
				      const struct timespec *abs)
{
	if (f2_unlikely(kind_of(pm) & F2P_KIND_GLIBC)) {
		f2p_stat(F2P_ST_MUTEX_GLIBC);
		return f2p_real()->mutex_clocklock(pm, clk, abs);
	}
	if (!f2p_clock_ok(clk))
		return EINVAL;
	return timed(pm, clk, abs);
}
F2P_EXPORT_CLOCK(pthread_mutex_clocklock);

/* glibc: unlocking a normal or adaptive mutex nobody holds returns 0. */
static inline int unlock_untracked(struct f2p_mutex *m)
{
	int r = f2_mutex_unlock(&m->m);

	return r == EPERM ? 0 : r;
}

int F2P_IMPL(pthread_mutex_unlock)(pthread_mutex_t *pm)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int kind = kind_of(pm);

	f2p_stat(F2P_ST_MUTEX_UNLOCK);
	if (f2_likely(kind == PTHREAD_MUTEX_NORMAL))
		return unlock_untracked(m);
	if (f2_unlikely(kind & F2P_KIND_GLIBC)) {
		f2p_stat(F2P_ST_MUTEX_GLIBC);
		return f2p_real()->mutex_unlock(pm);
	}
	if (!tracks_owner(kind))
		return unlock_untracked(m);
	if (owner_of(m) != f2p_tid())
		return EPERM;
	if (m->depth) {
		m->depth--;
		return 0;
	}
	set_owner(m, 0);
	return f2_mutex_unlock(&m->m);
}
F2P_EXPORT_BASE(pthread_mutex_unlock);

/* Condvar support: release a mutex for a wait, after the checks glibc makes
 * (EPERM for an errorcheck/recursive mutex the caller does not hold). The
 * f2sync word itself is released and retaken by the condvar. A recursive
 * mutex is released whole and gets its depth back afterwards. */
int f2p_mutex_release(pthread_mutex_t *pm, struct f2p_held *h)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);
	int kind = kind_of(pm);

	h->depth = 0;
	if (!tracks_owner(kind))
		return 0;
	if (owner_of(m) != f2p_tid())
		return EPERM;
	h->depth = m->depth;
	m->depth = 0;
	set_owner(m, 0);
	return 0;
}

void f2p_mutex_reacquired(pthread_mutex_t *pm, const struct f2p_held *h)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);

	if (!tracks_owner(kind_of(pm)))
		return;
	set_owner(m, f2p_tid());
	m->depth = h->depth;
}

/* glibc waits on a condvar even with a normal or adaptive mutex that nobody
 * holds (the release is then a no-op) and returns holding it. 1 for such a
 * mutex: the shim then waits through the callbacks below instead of the
 * condvar's own mutex release, which refuses a free mutex (EPERM). */
int f2p_mutex_unheld(pthread_mutex_t *pm)
{
	struct f2p_mutex *m = F2P_MUTEX(pm);

	/* a guess, as glibc's: racing the owner's unlock is the caller's bug */
	return !tracks_owner(kind_of(pm)) && !(f2_load_relaxed(&m->m.word) & F2_MX_HELD);
}

int f2p_mutex_cb_unlock(void *pm)
{
	return unlock_untracked(F2P_MUTEX(pm));
}

int f2p_mutex_cb_lock(void *pm)
{
	return f2_mutex_lock(&F2P_MUTEX(pm)->m);
}
