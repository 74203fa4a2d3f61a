/* Futex words bound ahead of time, for self-synchronised destruction
 * (bound.h: the sync layer's interface to this layer).
 *
 * The public f2_futex_wait()/f2_futex_wake() resolve a NUMA pair's node by
 * reading the pair's node field. Two sync-layer calls must not do that:
 *  - the wake after a mutex's releasing store: the next owner may already
 *    have unlocked and freed the mutex;
 *  - a condvar waiter's wait after it released the mutex: a broadcaster may
 *    free the condvar as soon as the waiter has parked.
 * Harmless for the kernel, which reads the pair itself, but a use-after-free
 * (or a race TSan reports) in user space. So the word is bound (routed, node
 * read) while the caller still owns the object, and the later call only hands
 * the address to the kernel (or, for an emulated word's wake, to
 * f2_futex_wake_node(), which does not read the pair either). An emulated
 * word's wait goes through the public call: the emulation orders its reads
 * under its bucket lock, which the broadcaster takes after the waiter. */
#include "futex2_impl.h"

void f2_bind_word(struct f2_bound *p, void *pair, unsigned flags)
{
	struct f2_word *w = &p->w;

	w->addr = pair;
	w->flags = flags;
	w->size = flags & F2_SIZE_MASK;
	w->bk = f2_route(flags);
	w->node = -1;
	if (flags & F2_NUMA) /* f2_pair_flags resolved it: a plain read, no CAS */
		w->node = f2_node_resolve(pair, w->size, w->bk == F2_BK_EMU ? f2_emu_node_count()
		                                                          : f2_node_count_kernel());
}

/* The kernel serves it: the calls below then read no memory. */
static int in_kernel(const struct f2_word *w)
{
	int kernel = w->bk == F2_BK_FUTEX2 || w->bk == F2_BK_LEGACY;

	return kernel && !((w->flags & F2_NUMA) && w->node < 0);
}

void f2_wake_bound(const struct f2_bound *p, uint64_t mask, int nr)
{
	const struct f2_word *w = &p->w;

	if (in_kernel(w))
		f2_kernel_wake(w, mask, nr);
	else
		f2_futex_wake_node(w->addr, mask, nr, w->flags, w->node);
}

int f2_wait_bound(const struct f2_bound *p, uint64_t val, uint64_t mask,
                  const struct timespec *abs, clockid_t clk)
{
	const struct f2_word *w = &p->w;

	if (in_kernel(w))
		return f2_kernel_wait(w, val, mask, abs, clk);
	return f2_futex_wait(w->addr, val, mask, w->flags, abs, clk);
}

/* A key: the address / 8 (45 bits: below 2^48, 8-aligned) above 10 bits of
 * node + 1 (0: no node). The flags are implied: private, 32-bit, F2_NUMA
 * exactly when there is a node; the backend is routed again from them, which
 * gives the same answer for the process's lifetime (f2_route). */
#define KEY_NODE_BITS 10
_Static_assert(48 - 3 + KEY_NODE_BITS == F2_BOUND_KEY_BITS, "key layout");

uint64_t f2_bound_key(const struct f2_bound *p)
{
	const struct f2_word *w = &p->w;
	uintptr_t a = (uintptr_t)w->addr;

	if ((w->flags & ~(unsigned)F2_NUMA) != (F2_PRIVATE | F2_SIZE_U32) || (a & 7) || a >> 48 ||
	    w->node + 1 >= (1 << KEY_NODE_BITS))
		return 0;
	if (w->bk == F2_BK_EMU || w->bk == F2_BK_LEGACY)
		return (uint64_t)a >> 3 << KEY_NODE_BITS | (uint64_t)(w->node + 1);
	if (w->bk == F2_BK_FUTEX2 && !(w->flags & F2_NUMA))
		return (uint64_t)a >> 3 << KEY_NODE_BITS;
	return 0; /* a kernel NUMA pair: its wake reads the pair's node */
}

void f2_wake_key(uint64_t key, uint64_t mask, int nr)
{
	struct f2_bound b;
	int node = (int)(key & ((1u << KEY_NODE_BITS) - 1)) - 1;

	b.w.addr = (void *)(uintptr_t)(key >> KEY_NODE_BITS << 3);
	b.w.flags = F2_PRIVATE | F2_SIZE_U32 | (node >= 0 ? F2_NUMA : 0u);
	b.w.size = F2_SIZE_U32;
	b.w.bk = f2_route(b.w.flags);
	b.w.node = node;
	f2_wake_bound(&b, mask, nr);
}
