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
