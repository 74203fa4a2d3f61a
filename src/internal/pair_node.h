/* The node half of a NUMA pair { uN value; sN node; } (F2_NUMA in
 * include/f2sync/futex2.h): a signed field of the value's width, right after
 * it. F2_NODE_AUTO (-1) means "not chosen yet"; the first user to choose
 * writes its pick back once, with a CAS, and every later user reads that.
 * Both the futex2 layer (node.c, for its own callers) and the sync layer
 * (placement.c, picking from the thread's placement) publish through here.
 *
 * Memory order: relaxed, for the load and the CAS alike. The node is a hint
 * that only selects a hash table or kernel node; it publishes no other memory
 * (each table is set up and found with its own synchronisation), so there is
 * nothing for an acquire to pair with. What has to hold is agreement: the
 * field leaves -1 once, by the first successful CAS, and is never written
 * again; a load that still sees -1 leads to a CAS, which as an RMW reads the
 * latest value in the field's modification order and so fails on any pick
 * already made, returning that pick. Every thread therefore ends up with the
 * same node, whatever orders its other accesses have. */
#ifndef F2_INTERNAL_PAIR_NODE_H
#define F2_INTERNAL_PAIR_NODE_H

#include <stdint.h>

#include "f2sync/futex2.h"
#include "atomic_sized.h"

static f2_always_inline void *f2_pair_node_addr(void *pair, unsigned size)
{
	return (char *)pair + (1u << size);
}

/* The pair's node, sign-extended (relaxed: see above). */
static f2_always_inline int64_t f2_pair_node_load(void *pair, unsigned size)
{
	uint64_t v = f2_sized_load(f2_pair_node_addr(pair, size), size, memory_order_relaxed);

	return f2_size_sext(v, size);
}

/* Replaces F2_NODE_AUTO by pick (which must fit the field); returns the node
 * the pair ends up with: pick, or the node another thread published first
 * (relaxed: see above). */
static inline int64_t f2_pair_node_publish(void *pair, unsigned size, int64_t pick)
{
	uint64_t e = (uint64_t)F2_NODE_AUTO & f2_size_mask(size);

	if (f2_sized_cas(f2_pair_node_addr(pair, size), size, &e, (uint64_t)pick,
	                 memory_order_relaxed))
		return pick;
	return f2_size_sext(e, size);
}

#endif
