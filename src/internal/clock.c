/* What the sync layer does when it cannot read a clock.
 *
 * The lock paths read CLOCK_MONOTONIC (and a caller's CLOCK_REALTIME) to
 * bound spins and to time the hand-off. Through the vDSO that is no system
 * call; but where the clock source has no vDSO mode (some hypervisors, a
 * clocksource= boot option) clock_gettime is a system call, and a seccomp
 * filter installed at any moment may make it fail. A lock must not hang or
 * abort for that (docs/design/sync.md), so:
 *   1. the coarse clock of the same base (CLOCK_MONOTONIC_COARSE,
 *      CLOCK_REALTIME_COARSE) is read instead: the vDSO serves it from the
 *      kernel's timekeeping page whatever the clock source, at tick
 *      resolution (1-10 ms), behind the fine clock by less than a tick, so a
 *      loop that waits for the time to pass a fine reading waits at most a
 *      tick longer;
 *   2. without that either, f2_now_ns counts on from the last time it
 *      returned in this thread, 1 us per call (from 0 in a thread that never
 *      read a clock). A filter cannot be removed, so once the clock fails it
 *      fails for good, and the count only grows: every loop that waits for
 *      the time to pass a value it read ends after a bounded number of
 *      calls (a spin of n ns makes about n / 1000 reads), and the count
 *      falls behind the real time, so a deadline built on it (a bounded
 *      sleep: the healer's, the store unlock's recheck, the rwlock's
 *      fairness timer) comes no later than meant, at worst at once: a sleep
 *      turns into polling. A hand-off delay counts reads, not time then:
 *      degraded, never stuck. The caller's own deadlines are not faked
 *      (f2_deadline_passed says "not yet"): the kernel's timer ends a timed
 *      wait, never an early guess.
 * Times from two threads are compared only where a wrong order costs
 * fairness, not a wakeup (the rwlock's reader rows). */
#include <errno.h>
#include <time.h>

#include "compiler.h"
#include "time.h"

/* errno is left as the caller had it: a lock call that succeeds does not
 * change it (the shim's callers may read it after any call). */
int f2_clock_read_slow(clockid_t clk, struct timespec *ts)
{
	clockid_t coarse = clk == CLOCK_REALTIME ? CLOCK_REALTIME_COARSE : CLOCK_MONOTONIC_COARSE;
	int saved = errno;
	int r = clock_gettime(coarse, ts) == 0 ? 0 : -1;

	errno = saved;
	return r;
}

f2_hidden __thread __attribute__((tls_model("initial-exec"))) uint64_t f2_clock_last;
