/* Internal interface of libf2sync-pthread: where f2sync's state lives inside
 * glibc's pthread objects, the calls handed to glibc, and the call counters.
 *
 * The objects keep glibc's sizes (the program allocated them) and glibc's own
 * fields wherever a static initializer writes something, so every initializer
 * in <pthread.h> yields a valid f2sync object:
 *   - the f2sync words sit in bytes that every initializer leaves zero, and an
 *     all-zero f2sync object is an unlocked one (homed on NUMA node 0);
 *   - the kind is read from glibc's field (__kind of a mutex, __flags of a
 *     rwlock), never from a field of our own.
 * Offsets come from glibc's struct definitions (<bits/struct_mutex.h>,
 * <bits/struct_rwlock.h>, <bits/thread-shared-types.h>); the asserts below
 * fail the build on an architecture where our overlay would not fit. */
#ifndef F2_PTHREAD_SHIM_H
#define F2_PTHREAD_SHIM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "f2sync/barrier.h"
#include "f2sync/cond.h"
#include "f2sync/mutex.h"
#include "f2sync/rwlock.h"
#include "../internal/compiler.h"

/* Mutex ---------------------------------------------------------------------
 * glibc: { int __lock; unsigned __count; int __owner; unsigned __nusers;
 *          int __kind; ... }  (x86-64 and the generic 64-bit layout agree on
 *          the first 20 bytes; __kind "must stay at this position").
 * f2sync: the f2_mutex_t pair in __lock/__count, the owner's kernel tid in
 * __owner (errorcheck and recursive kinds only), the recursion depth beyond the
 * first lock in __nusers. */
struct f2p_mutex {
	f2_mutex_t m;
	int owner;
	unsigned depth;
	int kind;
};

/* glibc's __kind bits (nptl/pthreadP.h); values are ABI, fixed by static
 * initializers and by process-shared objects. */
#define F2P_KIND_TYPE     3    /* PTHREAD_MUTEX_{NORMAL,RECURSIVE,ERRORCHECK,ADAPTIVE}_NP */
#define F2P_KIND_ROBUST   16
#define F2P_KIND_PI       32
#define F2P_KIND_PP       64
#define F2P_KIND_PSHARED  128
/* An object initialized by glibc itself (robust, PI, PP): every call on it
 * goes to glibc. The bits are written by glibc's own pthread_mutex_init, so the
 * decision is recorded in the object and no static initializer can set it. */
#define F2P_KIND_GLIBC    (F2P_KIND_ROBUST | F2P_KIND_PI | F2P_KIND_PP)

#define F2P_MUTEX(p) ((struct f2p_mutex *)(void *)(p))

_Static_assert(sizeof(pthread_mutex_t) == __SIZEOF_PTHREAD_MUTEX_T, "mutex size");
_Static_assert(sizeof(struct f2p_mutex) <= sizeof(pthread_mutex_t), "mutex overlay fits");
_Static_assert(_Alignof(pthread_mutex_t) >= _Alignof(f2_mutex_t), "mutex alignment");
_Static_assert(offsetof(struct f2p_mutex, m) == offsetof(struct __pthread_mutex_s, __lock), "f2 word");
_Static_assert(sizeof(f2_mutex_t) == offsetof(struct __pthread_mutex_s, __owner), "f2 pair = __lock,__count");
_Static_assert(offsetof(struct f2p_mutex, owner) == offsetof(struct __pthread_mutex_s, __owner), "owner");
_Static_assert(offsetof(struct f2p_mutex, depth) == offsetof(struct __pthread_mutex_s, __nusers), "depth");
_Static_assert(offsetof(struct f2p_mutex, kind) == offsetof(struct __pthread_mutex_s, __kind), "kind");
_Static_assert(PTHREAD_MUTEX_RECURSIVE_NP == 1 && PTHREAD_MUTEX_ERRORCHECK_NP == 2 &&
               PTHREAD_MUTEX_ADAPTIVE_NP == 3, "glibc mutex kinds");

/* Condition variable ---------------------------------------------------------
 * glibc: struct __pthread_cond_s, 48 bytes, PTHREAD_COND_INITIALIZER all zero.
 * f2sync: the f2_cond_t at offset 0 (over __wseq, __g1_start, __g_refs), and
 * the attributes in __wrefs with glibc's own encoding: bit 0 process-shared,
 * bit 1 CLOCK_MONOTONIC (0: CLOCK_REALTIME). */
struct f2p_cond {
	f2_cond_t c;
};
#define F2P_COND_SHARED    1u
#define F2P_COND_MONOTONIC 2u
#define F2P_COND(p)  ((struct f2p_cond *)(void *)(p))
#define F2P_COND_FLAGS(p) (((pthread_cond_t *)(p))->__data.__wrefs)

_Static_assert(sizeof(pthread_cond_t) == __SIZEOF_PTHREAD_COND_T, "cond size");
_Static_assert(_Alignof(pthread_cond_t) >= _Alignof(f2_cond_t), "cond alignment");
_Static_assert(sizeof(f2_cond_t) <= offsetof(struct __pthread_cond_s, __wrefs), "cond overlay below __wrefs");

/* Reader-writer lock ----------------------------------------------------------
 * glibc: struct __pthread_rwlock_arch_t, 56 bytes; the initializers set only
 * __flags (the kind: PTHREAD_RWLOCK_PREFER_READER_NP 0, ..._WRITER_NP 1,
 * ..._WRITER_NONRECURSIVE_NP 2).
 * f2sync: the f2_rwlock_t over __readers..__writers_futex, the writer's
 * kernel tid in __cur_writer (EDEADLK checks, as glibc), process-shared in
 * __shared; the kind stays in __flags. */
#define F2P_RWLOCK(p)        ((f2_rwlock_t *)(void *)(p))
#define F2P_RW_DATA(p)       (&((pthread_rwlock_t *)(p))->__data)

_Static_assert(sizeof(pthread_rwlock_t) == __SIZEOF_PTHREAD_RWLOCK_T, "rwlock size");
_Static_assert(_Alignof(pthread_rwlock_t) >= _Alignof(f2_rwlock_t), "rwlock alignment");
_Static_assert(offsetof(struct __pthread_rwlock_arch_t, __cur_writer) >= sizeof(f2_rwlock_t), "cur_writer free");
_Static_assert(offsetof(struct __pthread_rwlock_arch_t, __flags) >= sizeof(f2_rwlock_t), "flags free");
_Static_assert(offsetof(struct __pthread_rwlock_arch_t, __shared) >= sizeof(f2_rwlock_t), "shared free");

/* Barrier ---------------------------------------------------------------------
 * glibc: an opaque 32 bytes, no static initializer. f2sync: the f2_barrier_t,
 * or the counting barrier of barrier_count.c (process-shared barriers, and
 * counts beyond F2_BARRIER_MAX that glibc accepts), then which of the two. */
struct f2p_count_barrier {
	uint32_t gen;       /* futex word: rounds completed (mod 2^32) */
	uint32_t count;     /* threads per round */
	uint64_t arrived;   /* arrivals since init: round = arrived / count */
};
struct f2p_barrier {
	union {
		f2_barrier_t b;
		struct f2p_count_barrier cb;
	};
	unsigned mode;      /* F2P_BARRIER_* */
};
#define F2P_BARRIER_F2      0   /* f2_barrier_t */
#define F2P_BARRIER_COUNT   1   /* counting barrier, private futex */
#define F2P_BARRIER_SHARED  2   /* counting barrier, shared futex */
#define F2P_BARRIER(p) ((struct f2p_barrier *)(void *)(p))
_Static_assert(sizeof(pthread_barrier_t) == __SIZEOF_PTHREAD_BARRIER_T, "barrier size");
_Static_assert(sizeof(struct f2p_barrier) <= sizeof(pthread_barrier_t), "barrier overlay fits");
_Static_assert(_Alignof(pthread_barrier_t) >= _Alignof(f2_barrier_t), "barrier alignment");

/* glibc's own entry points (real.c), resolved once with dlsym(RTLD_NEXT). -- */
struct f2p_real {
	int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int (*mutex_destroy)(pthread_mutex_t *);
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*cancel)(pthread_t);
};
f2_hidden const struct f2p_real *f2p_real(void);

/* The caller's kernel thread id, cached per thread (refreshed in a fork child). */
f2_hidden pid_t f2p_tid(void);

/* 1 if clk is a clock glibc accepts for timed waits (REALTIME, MONOTONIC). */
static inline int f2p_clock_ok(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC;
}
static inline int f2p_timespec_ok(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

/* Mutex helpers shared with the condvar (mutex.c): the f2sync-side unlock and
 * relock of a pthread mutex around a wait, keeping its owner and depth. */
struct f2p_held {
	unsigned depth;
};
f2_hidden int f2p_mutex_release(pthread_mutex_t *pm, struct f2p_held *h);
f2_hidden void f2p_mutex_reacquired(pthread_mutex_t *pm, const struct f2p_held *h);
/* A normal or adaptive mutex that nobody holds, and the lock callbacks a
 * condvar wait on it uses (glibc waits anyway, see mutex.c). */
f2_hidden int f2p_mutex_unheld(pthread_mutex_t *pm);
f2_hidden int f2p_mutex_cb_unlock(void *pm);
f2_hidden int f2p_mutex_cb_lock(void *pm);

/* The shim's own pthread calls that c11.c builds on (mutex.c, cond.c). */
int f2p_pthread_mutex_init(pthread_mutex_t *pm, const pthread_mutexattr_t *attr);
int f2p_pthread_mutex_destroy(pthread_mutex_t *pm);
int f2p_pthread_mutex_lock(pthread_mutex_t *pm);
int f2p_pthread_mutex_trylock(pthread_mutex_t *pm);
int f2p_pthread_mutex_timedlock(pthread_mutex_t *pm, const struct timespec *abs);
int f2p_pthread_mutex_unlock(pthread_mutex_t *pm);
int f2p_pthread_cond_init(pthread_cond_t *pc, const pthread_condattr_t *attr);
int f2p_pthread_cond_destroy(pthread_cond_t *pc);
int f2p_pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm);
int f2p_pthread_cond_timedwait(pthread_cond_t *pc, pthread_mutex_t *pm,
			       const struct timespec *abs);
int f2p_pthread_cond_signal(pthread_cond_t *pc);
int f2p_pthread_cond_broadcast(pthread_cond_t *pc);

/* Per-call counters (defined with f2p_stats_on), printed at exit when
 * F2SYNC_STATS=1. ------------------------------------------------------- */
enum f2p_stat {
	F2P_ST_MUTEX_LOCK, F2P_ST_MUTEX_TRYLOCK, F2P_ST_MUTEX_TIMEDLOCK, F2P_ST_MUTEX_UNLOCK,
	F2P_ST_MUTEX_GLIBC,
	F2P_ST_COND_WAIT, F2P_ST_COND_TIMEDWAIT, F2P_ST_COND_SIGNAL, F2P_ST_COND_BROADCAST,
	F2P_ST_RW_RDLOCK, F2P_ST_RW_WRLOCK, F2P_ST_RW_TRY, F2P_ST_RW_TIMED, F2P_ST_RW_UNLOCK,
	F2P_ST_BARRIER_WAIT,
	F2P_ST_INIT, F2P_ST_DESTROY,
	F2P_ST_C11,         /* calls through <threads.h>, also counted as their pthread call */
	F2P_ST_COUNT
};
f2_hidden extern int f2p_stats_on;
f2_hidden void f2p_stat_slow(enum f2p_stat s);
static inline void f2p_stat(enum f2p_stat s)
{
	if (f2_unlikely(f2p_stats_on))
		f2p_stat_slow(s);
}

#endif
