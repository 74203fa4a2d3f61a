/* Internal interface of the sync layer. */
#ifndef F2_SYNC_IMPL_H
#define F2_SYNC_IMPL_H

#include <stdint.h>
#include <time.h>

#include "f2sync/futex2.h"
#include "../futex2/futex2_impl.h"
#include "../internal/compiler.h"

/* placement.c --------------------------------------------------------------
 * Every sync futex word is a NUMA pair { uN word; sN node; }. Before a word's
 * first futex call, the sync layer resolves its node: F2_NODE_AUTO (-1) is
 * replaced, with a compare-and-swap so every thread agrees, by the node of the
 * calling thread (f2_place_node()). The node is then fixed for the object's
 * life, so the flags derived from it are the same for waiters and wakers. */

/* The node for the calling thread: hwloc binding if within one node, else the
 * current CPU's node; F2SYNC_NUMA=off|auto|<node> overrides. -1 when off. */
f2_hidden int f2_place_node(void);

/* Resolves the pair's node (see above) and returns the futex2 flags to use on
 * it: F2_PRIVATE | size | F2_NUMA, without F2_NUMA when placement is off or the
 * futex2 layer would refuse the recorded node (a lock never fails on a node).
 * size is F2_SIZE_U8 .. F2_SIZE_U64. */
f2_hidden unsigned f2_pair_flags(void *pair, unsigned size);

/* bound.c ------------------------------------------------------------------
 * A futex word bound (routed, node resolved) while the caller owns the
 * object, for a wait or wake made after the store that lets another thread
 * free it: then nothing but the kernel touches the address. */
struct f2_bound {
	struct f2_word w;
};
/* Binds pair (flags as from f2_pair_flags). */
f2_hidden void f2_bind_word(struct f2_bound *p, void *pair, unsigned flags);
/* 1 if a kernel backend serves it (the calls below then read no memory). */
f2_hidden int f2_bound_in_kernel(const struct f2_bound *p);
/* Wakes up to nr waiters whose mask shares a bit with mask. */
f2_hidden void f2_wake_bound(const struct f2_bound *p, uint64_t mask, int nr);

/* tuning.c -----------------------------------------------------------------
 * Process-wide knobs, read from the environment once (F2SYNC_SPIN,
 * F2SYNC_HANDOFF_NS, F2SYNC_REQUEUE) and settable from code. */
struct f2_tuning {
	unsigned spin;        /* spin iterations before parking */
	uint64_t handoff_ns;  /* a waiter parked longer than this gets the lock handed to it */
	int requeue;          /* condvar broadcast requeues (1) or wakes all (0) */
};
f2_hidden const struct f2_tuning *f2_tuning(void);
/* Replaces all three knobs; EINVAL (nothing changed) if spin > 1e6,
 * handoff_ns > 60 s or requeue is not 0 or 1. Readers load each field with
 * f2_load_relaxed: the knobs are independent hints. */
f2_hidden int f2_tuning_set(const struct f2_tuning *t);

/* park.c -------------------------------------------------------------------
 * f2_futex_wait wrapped in the runtime's park hooks (runtime.h). Every place
 * where the sync layer sleeps calls this, never f2_futex_wait directly. */
f2_hidden int f2_park(void *addr, uint64_t val, uint64_t mask, unsigned flags,
                      const struct timespec *abs, clockid_t clk);
/* The same for a bound word (bound.c); val, mask and the deadline must be
 * valid for it. */
f2_hidden int f2_park_bound(const struct f2_bound *p, uint64_t val, uint64_t mask,
                            const struct timespec *abs, clockid_t clk);

#endif
