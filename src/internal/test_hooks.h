/* Counters that only the test suites read.
 *
 * The unit suites link f2sync_test (src/CMakeLists.txt): the library's sources
 * compiled once more with F2SYNC_TEST_HOOKS=1. The libraries that are shipped
 * (libf2sync.so, libf2sync.a, libf2sync-pthread.so) are built without it:
 * there each F2_TEST_COUNT below compiles to nothing and the counters do not
 * exist, so no lock path carries a statistic that nobody reads.
 * The hooks: f2_mx_handoffs, f2_mx_spins, f2_mx_spin_reads,
 * f2_mx_spin_yields and f2_mx_spin_gap_ns (mutex_core.c: the last one is
 * written by the tests), f2_bl_spin_reads (bitlock.c),
 * f2_cv_requeued, f2_cv_spins, f2_cv_spin_seen and f2_cv_spin_ns (cond.c:
 * the last one is written by the tests), f2_cd_deferred (cond_defer.c), the
 * wake count f2_futex_wakes (futex2_impl.h, kernel.c, emulate.c),
 * f2_test_tuning_replace (tuning.c), f2_rw_spins (rwlock.c: spins begun),
 * f2_rw_backoffs (rwlock.c: back-offs begun by waiters on the word) and
 * f2_rw_nobias (rwlock.c: keeps the rwlock's reader slots off for the tests
 * that count readers in R). Tests include tests/unit/sync_test.h for them. */
#ifndef F2_INTERNAL_TEST_HOOKS_H
#define F2_INTERNAL_TEST_HOOKS_H

#include "atomic.h"

#ifdef F2SYNC_TEST_HOOKS
/* relaxed: a statistic, read by the test once the counted calls are over */
#define F2_TEST_COUNT(counter, n) f2_add_relaxed(&(counter), (n))
#else
#define F2_TEST_COUNT(counter, n) ((void)0)
#endif

#endif
