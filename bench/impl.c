/* The implementation-adapter table: f2sync, glibc pthread and the optional
 * peers, Google nsync (when libnsync-dev is installed) and abseil (when
 * libabsl-dev is: peer_absl.cc), behind one set of function pointers so that
 * every workload is written once.
 *
 * The f2sync entry points are declared weak: f2bench then also builds and
 * runs against a library tree that lacks a primitive (a partial checkout or
 * an older release), and skips that implementation's rows with a note
 * instead of failing to link.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "f2bench.h"
#include "f2sync/barrier.h"
#include "f2sync/cond.h"
#include "f2sync/futex2.h"
#include "f2sync/mutex.h"
#include "f2sync/runtime.h"
#include "f2sync/rwlock.h"
#if F2BENCH_HAVE_NSYNC
#include <nsync.h>
#endif
#if F2BENCH_HAVE_ABSL
#include "peer_absl.h"
#endif

#pragma weak f2_mutex_lock
#pragma weak f2_mutex_unlock
#pragma weak f2_mutex8_lock
#pragma weak f2_mutex8_unlock
#pragma weak f2_bitlock_lock
#pragma weak f2_bitlock_unlock
#pragma weak f2_cond_wait
#pragma weak f2_cond_signal
#pragma weak f2_cond_broadcast
#pragma weak f2_cond64_wait
#pragma weak f2_cond64_signal
#pragma weak f2_cond64_broadcast
#pragma weak f2_rwlock_rdlock
#pragma weak f2_rwlock_wrlock
#pragma weak f2_rwlock_unlock
#pragma weak f2_barrier_init
#pragma weak f2_barrier_wait
#pragma weak f2_barrier_destroy

/* An error from a lock call is a correctness failure: stop at once. */
#define CHECK(call) do { int e_ = (call); if (e_) f2b_fail("%s: %s", #call, strerror(e_)); } while (0)
#define CHECK_OR_EXIT(call) do { int e_ = (call); if (e_) { f2b_fail("%s: %s", #call, strerror(e_)); exit(2); } } while (0)

void *f2b_obj_alloc(size_t size)
{
	size_t sz = (size + 127) & ~(size_t)127;
	void *p = aligned_alloc(128, sz);
	if (!p) {
		f2b_fail("out of memory");
		exit(2);
	}
	memset(p, 0, sz);
	return p;
}

void *f2b_mutex_new(const struct f2b_impl *im)
{
	void *m = f2b_obj_alloc(im->msize);
	im->minit(m);
	return m;
}

void f2b_mutex_free(const struct f2b_impl *im, void *m)
{
	if (im->mdestroy)
		im->mdestroy(m);
	free(m);
}

void *f2b_cond_new(const struct f2b_impl *im)
{
	void *c = f2b_obj_alloc(im->csize);
	im->cinit(c);
	return c;
}

void f2b_cond_free(const struct f2b_impl *im, void *c)
{
	if (im->cdestroy)
		im->cdestroy(c);
	free(c);
}

/* ---- f2sync ------------------------------------------------------------ */
static void f2m_init(void *m) { *(f2_mutex_t *)m = (f2_mutex_t)F2_MUTEX_INITIALIZER; }
static void f2m_lock(void *m) { CHECK_OR_EXIT(f2_mutex_lock(m)); }
static void f2m_unlock(void *m) { CHECK_OR_EXIT(f2_mutex_unlock(m)); }
static void f2m8_init(void *m) { *(f2_mutex8_t *)m = (f2_mutex8_t)F2_MUTEX8_INITIALIZER; }
static void f2m8_lock(void *m) { CHECK_OR_EXIT(f2_mutex8_lock(m)); }
static void f2m8_unlock(void *m) { CHECK_OR_EXIT(f2_mutex8_unlock(m)); }
/* A header-bit lock as a runtime embeds it (docs/embedding.md): bits 0 (lock)
 * and 1 (waiters) of a 64-bit object header whose other bits are the
 * runtime's, here a constant pattern the lock must carry over. */
#define F2BL_FOREIGN 0x5a5a5a5a00ff00f0ull
static void f2bl_init(void *m) { *(uint64_t *)m = F2BL_FOREIGN; }
static void f2bl_lock(void *m) { CHECK_OR_EXIT(f2_bitlock_lock(m, F2_SIZE_U64, 0, 1)); }
static void f2bl_unlock(void *m) { CHECK_OR_EXIT(f2_bitlock_unlock(m, F2_SIZE_U64, 0, 1)); }
static void f2bl_destroy(void *m)
{
	if (*(uint64_t *)m != F2BL_FOREIGN) {
		f2b_fail("f2sync-bit: header word 0x%llx after the run, foreign bits 0x%llx",
		         (unsigned long long)*(uint64_t *)m, (unsigned long long)F2BL_FOREIGN);
		exit(2);
	}
}
static void f2c_init(void *c) { *(f2_cond_t *)c = (f2_cond_t)F2_COND_INITIALIZER; }
static void f2c_wait(void *c, void *m) { CHECK_OR_EXIT(f2_cond_wait(c, m)); }
static void f2c_signal(void *c) { CHECK_OR_EXIT(f2_cond_signal(c)); }
static void f2c_broadcast(void *c) { CHECK_OR_EXIT(f2_cond_broadcast(c)); }
static void f2c64_init(void *c) { *(f2_cond64_t *)c = (f2_cond64_t)F2_COND64_INITIALIZER; }
static void f2c64_wait(void *c, void *m) { CHECK_OR_EXIT(f2_cond64_wait(c, m)); }
static void f2c64_signal(void *c) { CHECK_OR_EXIT(f2_cond64_signal(c)); }
static void f2c64_broadcast(void *c) { CHECK_OR_EXIT(f2_cond64_broadcast(c)); }
static void f2rw_init(void *rw) { *(f2_rwlock_t *)rw = (f2_rwlock_t)F2_RWLOCK_INITIALIZER; }
static void f2rw_rdlock(void *rw) { CHECK_OR_EXIT(f2_rwlock_rdlock(rw)); }
static void f2rw_wrlock(void *rw) { CHECK_OR_EXIT(f2_rwlock_wrlock(rw)); }
static void f2rw_unlock(void *rw) { CHECK_OR_EXIT(f2_rwlock_unlock(rw)); }
static void f2b_init(void *b, unsigned n) { CHECK_OR_EXIT(f2_barrier_init(b, n)); }
static int f2b_wait(void *b)
{
	int r = f2_barrier_wait(b);
	if (r != 0 && r != F2_BARRIER_SERIAL_THREAD) {
		f2b_fail("f2_barrier_wait: %s", strerror(r));
		exit(2);
	}
	return r == F2_BARRIER_SERIAL_THREAD;
}
static void f2b_destroy(void *b) { CHECK(f2_barrier_destroy(b)); }

/* ---- glibc ------------------------------------------------------------- */
static void gm_init(void *m) { CHECK(pthread_mutex_init(m, NULL)); }
static void gm_lock(void *m) { CHECK_OR_EXIT(pthread_mutex_lock(m)); }
static void gm_unlock(void *m) { CHECK_OR_EXIT(pthread_mutex_unlock(m)); }
static void gm_destroy(void *m) { CHECK(pthread_mutex_destroy(m)); }
static void gc_init(void *c) { CHECK(pthread_cond_init(c, NULL)); }
static void gc_wait(void *c, void *m) { CHECK_OR_EXIT(pthread_cond_wait(c, m)); }
static void gc_signal(void *c) { CHECK_OR_EXIT(pthread_cond_signal(c)); }
static void gc_broadcast(void *c) { CHECK_OR_EXIT(pthread_cond_broadcast(c)); }
static void gc_destroy(void *c) { CHECK(pthread_cond_destroy(c)); }
static void grw_init(void *rw) { CHECK(pthread_rwlock_init(rw, NULL)); }
static void grw_rdlock(void *rw) { CHECK_OR_EXIT(pthread_rwlock_rdlock(rw)); }
static void grw_wrlock(void *rw) { CHECK_OR_EXIT(pthread_rwlock_wrlock(rw)); }
static void grw_unlock(void *rw) { CHECK_OR_EXIT(pthread_rwlock_unlock(rw)); }
static void grw_destroy(void *rw) { CHECK(pthread_rwlock_destroy(rw)); }
static void gb_init(void *b, unsigned n) { CHECK_OR_EXIT(pthread_barrier_init(b, NULL, n)); }
static int gb_wait(void *b)
{
	int r = pthread_barrier_wait(b);
	if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD) {
		f2b_fail("pthread_barrier_wait: %s", strerror(r));
		exit(2);
	}
	return r == PTHREAD_BARRIER_SERIAL_THREAD;
}
static void gb_destroy(void *b) { CHECK(pthread_barrier_destroy(b)); }

/* ---- nsync ------------------------------------------------------------- */
#if F2BENCH_HAVE_NSYNC
static void nm_init(void *m) { nsync_mu_init(m); }
static void nm_lock(void *m) { nsync_mu_lock(m); }
static void nm_unlock(void *m) { nsync_mu_unlock(m); }
static void nm_rlock(void *m) { nsync_mu_rlock(m); }
static void nm_runlock(void *m) { nsync_mu_runlock(m); }
static void nc_init(void *c) { nsync_cv_init(c); }
static void nc_wait(void *c, void *m) { nsync_cv_wait(c, m); }
static void nc_signal(void *c) { nsync_cv_signal(c); }
static void nc_broadcast(void *c) { nsync_cv_broadcast(c); }
#define NSYNC_MISSING NULL
#define NS(x) x
#else
#define NSYNC_MISSING "libnsync-dev was not found when f2bench was built"
#define NS(x) NULL
#endif

/* ---- abseil ----------------------------------------------------------- */
#if F2BENCH_HAVE_ABSL
#define ABSL_MISSING NULL
#define AB(x) x
#else
#define ABSL_MISSING "libabsl-dev (absl_synchronization) was not found when f2bench was built"
#define AB(x) NULL
#endif

struct f2b_impl f2b_impls[] = {
	{ .name = "glibc", .mutex_rows = 1,
	  .msize = sizeof(pthread_mutex_t), .minit = gm_init, .lock = gm_lock, .unlock = gm_unlock,
	  .mdestroy = gm_destroy,
	  .csize = sizeof(pthread_cond_t), .cinit = gc_init, .wait = gc_wait, .signal = gc_signal,
	  .broadcast = gc_broadcast, .cdestroy = gc_destroy,
	  .rwsize = sizeof(pthread_rwlock_t), .rwinit = grw_init, .rdlock = grw_rdlock,
	  .rdunlock = grw_unlock, .wrlock = grw_wrlock, .wrunlock = grw_unlock, .rwdestroy = grw_destroy,
	  .bsize = sizeof(pthread_barrier_t), .binit = gb_init, .bwait = gb_wait, .bdestroy = gb_destroy },
	{ .name = "f2sync", .mutex_rows = 1,
	  .msize = sizeof(f2_mutex_t), .minit = f2m_init, .lock = f2m_lock, .unlock = f2m_unlock,
	  .csize = sizeof(f2_cond_t), .cinit = f2c_init, .wait = f2c_wait, .signal = f2c_signal,
	  .broadcast = f2c_broadcast,
	  .rwsize = sizeof(f2_rwlock_t), .rwinit = f2rw_init, .rdlock = f2rw_rdlock,
	  .rdunlock = f2rw_unlock, .wrlock = f2rw_wrlock, .wrunlock = f2rw_unlock,
	  .bsize = sizeof(f2_barrier_t), .binit = f2b_init, .bwait = f2b_wait, .bdestroy = f2b_destroy },
	{ .name = "f2sync-m8", .mutex_rows = 1,
	  .msize = sizeof(f2_mutex8_t), .minit = f2m8_init, .lock = f2m8_lock, .unlock = f2m8_unlock },
	{ .name = "f2sync-bit", .mutex_rows = 1,
	  .msize = sizeof(uint64_t), .minit = f2bl_init, .lock = f2bl_lock, .unlock = f2bl_unlock,
	  .mdestroy = f2bl_destroy },
	{ .name = "f2sync-c64", .mutex_rows = 0,
	  .msize = sizeof(f2_mutex_t), .minit = f2m_init, .lock = f2m_lock, .unlock = f2m_unlock,
	  .csize = sizeof(f2_cond64_t), .cinit = f2c64_init, .wait = f2c64_wait,
	  .signal = f2c64_signal, .broadcast = f2c64_broadcast },
	{ .name = "nsync", .mutex_rows = 1,
	  .msize = 64, .minit = NS(nm_init), .lock = NS(nm_lock), .unlock = NS(nm_unlock),
	  .csize = 64, .cinit = NS(nc_init), .wait = NS(nc_wait), .signal = NS(nc_signal),
	  .broadcast = NS(nc_broadcast),
	  .rwsize = 64, .rwinit = NS(nm_init), .rdlock = NS(nm_rlock), .rdunlock = NS(nm_runlock),
	  .wrlock = NS(nm_lock), .wrunlock = NS(nm_unlock) },
	/* The sizes are placeholders: f2b_impls_setup puts abseil's own
	 * (f2b_absl_*_size, an extern const that an initializer cannot read). */
	{ .name = "abseil", .mutex_rows = 1,
	  .msize = 64, .minit = AB(f2b_absl_mutex_init), .lock = AB(f2b_absl_lock),
	  .unlock = AB(f2b_absl_unlock), .mdestroy = AB(f2b_absl_mutex_destroy),
	  .csize = 64, .cinit = AB(f2b_absl_cond_init), .wait = AB(f2b_absl_wait),
	  .signal = AB(f2b_absl_signal), .broadcast = AB(f2b_absl_signal_all),
	  .cdestroy = AB(f2b_absl_cond_destroy),
	  .rwsize = 64, .rwinit = AB(f2b_absl_mutex_init), .rdlock = AB(f2b_absl_reader_lock),
	  .rdunlock = AB(f2b_absl_reader_unlock), .wrlock = AB(f2b_absl_lock),
	  .wrunlock = AB(f2b_absl_unlock), .rwdestroy = AB(f2b_absl_mutex_destroy) },
};
const int f2b_nimpls = sizeof(f2b_impls) / sizeof(f2b_impls[0]);

#if F2BENCH_HAVE_ABSL
const char *f2b_absl_state = "yes";
#else
const char *f2b_absl_state = "no (libabsl-dev missing at build time)";
#endif

/* Drops the capabilities whose f2sync entry points did not resolve, and
 * sets the optional peers up. */
void f2b_impls_setup(void)
{
	for (int i = 0; i < f2b_nimpls; i++) {
		struct f2b_impl *im = &f2b_impls[i];
		if (!strcmp(im->name, "nsync"))
			im->missing = NSYNC_MISSING;
		if (!strcmp(im->name, "abseil"))
			im->missing = ABSL_MISSING;
#if F2BENCH_HAVE_ABSL
		if (!strcmp(im->name, "abseil")) {
			im->msize = im->rwsize = f2b_absl_mutex_size;
			im->csize = f2b_absl_cond_size;
			f2b_absl_state = f2b_absl_setup();
		}
#endif
		if (strncmp(im->name, "f2sync", 6))
			continue;
		int m32 = f2_mutex_lock && f2_mutex_unlock;
		if (!strcmp(im->name, "f2sync-m8") && !(f2_mutex8_lock && f2_mutex8_unlock))
			im->msize = 0;
		else if (!strcmp(im->name, "f2sync-bit") && !(f2_bitlock_lock && f2_bitlock_unlock))
			im->msize = 0;
		else if (strcmp(im->name, "f2sync-m8") && strcmp(im->name, "f2sync-bit") && !m32)
			im->msize = 0;
		if (!strcmp(im->name, "f2sync") && !(f2_cond_wait && f2_cond_signal && f2_cond_broadcast))
			im->csize = 0;
		if (!strcmp(im->name, "f2sync-c64") &&
		    !(f2_cond64_wait && f2_cond64_signal && f2_cond64_broadcast))
			im->csize = 0;
		if (!strcmp(im->name, "f2sync") && !(f2_rwlock_rdlock && f2_rwlock_wrlock && f2_rwlock_unlock))
			im->rwsize = 0;
		if (!strcmp(im->name, "f2sync") && !(f2_barrier_init && f2_barrier_wait && f2_barrier_destroy))
			im->bsize = 0;
	}
}

/* Can impl run a workload needing these capabilities? If not, and it was
 * asked for, say why once on stderr and in the report's notes. */
int f2b_impl_usable(const struct f2b_impl *im, const char *wl, unsigned caps)
{
	if (!f2b_impl_selected(im))
		return 0;
	const char *why = im->missing;
	if (!why && (caps & F2B_CAP_MUTEX) && (!im->msize || !im->mutex_rows))
		why = im->mutex_rows ? "no mutex in this library build" : NULL;
	if (!why && (caps & F2B_CAP_MUTEX) && !im->mutex_rows)
		return 0; /* a condvar-only variant: its mutex is another row's */
	if (!why && (caps & F2B_CAP_COND) && (!im->csize || !im->msize))
		why = "no condition variable in this library build";
	if (!why && (caps & F2B_CAP_RW) && !im->rwsize)
		why = "no reader-writer lock in this library build";
	if (!why && (caps & F2B_CAP_BARRIER) && !im->bsize)
		why = strcmp(im->name, "abseil") ? "no barrier"
		                                 : "no reusable barrier (absl::Barrier serves one round)";
	if (!why)
		return 1;
	if ((!strcmp(im->name, "f2sync-m8") || !strcmp(im->name, "f2sync-bit")) &&
	    !(caps & F2B_CAP_MUTEX))
		return 0; /* the 2-byte mutex and the header-bit lock: mutex workloads only */
	if (!strcmp(im->name, "f2sync-c64") && !(caps & F2B_CAP_COND))
		return 0;
	f2b_note("%s: no %s rows: %s", wl, im->name, why);
	return 0;
}
