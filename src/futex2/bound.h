/* The futex2 layer's interface to the sync layer: the one header of src/futex2
 * that src/sync may include (besides the public f2sync/futex2.h). Everything
 * else of this layer (futex2_impl.h: routing, backends; emu_impl.h) stays
 * private to it, which the build enforces (src/CMakeLists.txt, F2_LAYER).
 *
 * Bound words: a sync-layer futex word bound (routed, node resolved) while the
 * caller still owns the object, so that a wait or wake made after the store
 * that lets another thread free the object touches nothing but the kernel (or,
 * for an emulated word, the tables) with the address (bound.c). */
#ifndef F2_FUTEX2_BOUND_H
#define F2_FUTEX2_BOUND_H

#if !defined(F2_LAYER) || F2_LAYER < 2
#error "futex2/bound.h: for the futex2 layer and the layers above it (F2_LAYER >= 2)"
#endif

#include <stdint.h>
#include <time.h>

#include "f2sync/futex2.h"
#include "../internal/compiler.h"

/* The backends, and a futex word after validation: the futex2 layer's own
 * types, here only so that a bound word (below) can carry one and hand it to
 * a backend as it is. The sync layer never reads them. */
enum f2_backend {
	F2_BK_FUTEX2,   /* kernel futex2 syscalls (454/455/456, 449) */
	F2_BK_LEGACY,   /* kernel futex(2) bitset ops */
	F2_BK_EMU,      /* user-space parking tables (emulate.c) */
	F2_BK_NOTSUP,   /* no backend can serve it: -EOPNOTSUPP */
	F2_BK_NOSYS,    /* forced backend unknown or missing: -ENOSYS */
};

/* A futex word after validation. For a NUMA pair, addr is the pair (value
 * first) and node the resolved node (>= 0); otherwise node is -1. */
struct f2_word {
	void *addr;
	unsigned flags;     /* the caller's F2_* flags */
	unsigned size;      /* flags & F2_SIZE_MASK: 0..3 for 1..8 bytes */
	int node;
	enum f2_backend bk;
};

/* Filled by f2_bind_word; the sync layer only gives it a place, on its
 * stack. */
struct f2_bound {
	struct f2_word w;
};
/* Binds pair (flags as from f2_pair_flags, which resolved the node). */
f2_hidden void f2_bind_word(struct f2_bound *p, void *pair, unsigned flags);
/* Wakes up to nr waiters whose mask shares a bit with mask. */
f2_hidden void f2_wake_bound(const struct f2_bound *p, uint64_t mask, int nr);
/* f2_futex_wait on a bound word, without validation: val, mask and the
 * deadline must be valid for it. A kernel word's wait reads no memory. */
f2_hidden int f2_wait_bound(const struct f2_bound *p, uint64_t val, uint64_t mask,
                            const struct timespec *abs, clockid_t clk);

/* A bound word as a key that names it without its memory, for a wake made
 * after the object may have been freed and after the bound word itself is
 * gone (a condvar signal's wake deferred to the mutex's release,
 * src/sync/cond_defer.c). Non-zero and below 2^F2_BOUND_KEY_BITS; 0 when the
 * word cannot be named so: not a private 32-bit word, an address or node
 * that does not fit, or a kernel FUTEX2_NUMA word, whose wake reads the node
 * from the pair. */
#define F2_BOUND_KEY_BITS 55
f2_hidden uint64_t f2_bound_key(const struct f2_bound *p);
/* f2_wake_bound on the word a key names. */
f2_hidden void f2_wake_key(uint64_t key, uint64_t mask, int nr);

/* f2_futex_requeue onto a NUMA pair whose node (>= 0) the caller recorded
 * earlier: the target pair is not read (a condvar's broadcast must not read
 * a mutex that its last waiters may have freed). to_node -1: read it. */
f2_hidden int f2_futex_requeue_node(const struct f2_futex_waitv from_to[2], int nr_wake,
                                   int nr_requeue, int to_node);

/* The node layout, for placement (node.c): allocation-free, so they may run
 * on a lock path. */
f2_hidden int f2_node_count_online(void);      /* highest online node + 1 */
f2_hidden int f2_node_self(void);              /* the caller's current node */
/* 1 if the backend serving words of these flags accepts node on a pair (the
 * sync layer uses this to drop F2_NUMA rather than fail a lock). */
f2_hidden int f2_node_valid(unsigned flags, int node);

#endif
