/* Process-wide tuning knobs of the sync layer.
 *
 * Read from the environment once, by a constructor (before any lock of the
 * library can be used; a lock path never runs a once or waits on set-up):
 *   F2SYNC_SPIN=<n>        how long a lock spins before it parks (default
 *                          100): units of F2_SPIN_UNIT_NS for mutexes and the
 *                          barrier, reads for the others
 *   F2SYNC_HANDOFF_NS=<ns> a lock waiter that has waited longer than this gets
 *                          the lock handed to it (default 1 ms)
 *   F2SYNC_REQUEUE=0|1     condvar broadcast requeues waiters onto the mutex
 *                          (1, default) or wakes them all (0)
 * A malformed value is reported on stderr and the default kept. Until the
 * constructor ran (a lock taken by another library's constructor), the
 * defaults apply; a variable that is set then wins over a knob set in code
 * that early.
 * f2_tune_set()/f2_tune_get() (runtime.h, the embedding API) change them
 * from code one knob at a time, and the test build's f2_test_tuning_replace() all
 * three at once (../internal/test_hooks.h); the fields
 * are written and read with relaxed atomics, so a change made while locks are
 * in use is safe and takes effect at each lock's next slow path.
 *
 * Defaults: 100 units of 300 ns, 30 us, outlast a futex wait+wake round
 * trip of the VMs measured (5-10 us each way), so a mutex spinner whose owner
 * runs rarely parks; 100 reads of a pause loop, 2-5 us, bound the read-counted
 * spins. 1 ms is the hand-off delay of
 * parking_lot, WebKit and Go: long enough that hand-off (which forbids barging
 * and so costs throughput) is rare, short enough to bound unfairness. */
#include <errno.h>
#include <stdlib.h>

#include "f2sync/runtime.h"
#include "sync_impl.h"
#include "../internal/atomic.h"
#include "../internal/die.h"

#define SPIN_DEFAULT       100u
#define SPIN_MAX           1000000u
#define HANDOFF_NS_DEFAULT 1000000u
#define HANDOFF_NS_MAX     (60ull * 1000000000ull)

static struct f2_tuning tuning = { SPIN_DEFAULT, HANDOFF_NS_DEFAULT, 1 };

/* Parses an unsigned decimal environment variable into *out if it is set,
 * well formed and <= max. */
static void env_u64(const char *name, uint64_t max, uint64_t *out)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || *s == '-' || v > max) {
		f2_warn("ignoring malformed F2SYNC_SPIN, F2SYNC_HANDOFF_NS or F2SYNC_REQUEUE");
		return;
	}
	*out = v;
}

/* Stores only the knobs the environment changes (see above). */
__attribute__((constructor)) static void tuning_init(void)
{
	uint64_t spin = SPIN_DEFAULT, handoff = HANDOFF_NS_DEFAULT, requeue = 1;

	env_u64("F2SYNC_SPIN", SPIN_MAX, &spin);
	env_u64("F2SYNC_HANDOFF_NS", HANDOFF_NS_MAX, &handoff);
	env_u64("F2SYNC_REQUEUE", 1, &requeue);
	if (spin != SPIN_DEFAULT)
		f2_store_relaxed(&tuning.spin, (unsigned)spin);  /* independent knob */
	if (handoff != HANDOFF_NS_DEFAULT)
		f2_store_relaxed(&tuning.handoff_ns, handoff);   /* independent knob */
	if (requeue != 1)
		f2_store_relaxed(&tuning.requeue, (int)requeue); /* independent knob */
}

const struct f2_tuning *f2_tuning(void)
{
	return &tuning;
}

#ifdef F2SYNC_TEST_HOOKS
int f2_test_tuning_replace(const struct f2_tuning *t)
{
	if (!t || t->spin > SPIN_MAX || t->handoff_ns > HANDOFF_NS_MAX ||
	    (t->requeue != 0 && t->requeue != 1))
		return EINVAL;
	f2_store_relaxed(&tuning.spin, t->spin);            /* independent knobs: no ordering needed */
	f2_store_relaxed(&tuning.handoff_ns, t->handoff_ns); /* independent knobs: no ordering needed */
	f2_store_relaxed(&tuning.requeue, t->requeue);      /* independent knobs: no ordering needed */
	return 0;
}
#endif

/* The embedding API: one knob per call, so two runtimes' threads setting
 * different knobs at once never undo each other (no read-modify-write of the
 * whole record), and no lock that a fork could leave held. */
int f2_tune_set(int key, uint64_t value)
{
	switch (key) {
	case F2_TUNE_SPIN:
		if (value > SPIN_MAX)
			return EINVAL;
		f2_store_relaxed(&tuning.spin, (unsigned)value); /* independent knob */
		return 0;
	case F2_TUNE_HANDOFF_NS:
		if (value > HANDOFF_NS_MAX)
			return EINVAL;
		f2_store_relaxed(&tuning.handoff_ns, value);     /* independent knob */
		return 0;
	case F2_TUNE_REQUEUE:
		if (value > 1)
			return EINVAL;
		f2_store_relaxed(&tuning.requeue, (int)value);   /* independent knob */
		return 0;
	default:
		return EINVAL;
	}
}

int f2_tune_get(int key, uint64_t *value)
{
	const struct f2_tuning *t = f2_tuning();

	if (!value)
		return EINVAL;
	switch (key) {
	case F2_TUNE_SPIN:
		*value = f2_load_relaxed(&t->spin);        /* independent knob */
		return 0;
	case F2_TUNE_HANDOFF_NS:
		*value = f2_load_relaxed(&t->handoff_ns);  /* independent knob */
		return 0;
	case F2_TUNE_REQUEUE:
		*value = (uint64_t)f2_load_relaxed(&t->requeue); /* independent knob */
		return 0;
	default:
		return EINVAL;
	}
}
