/* Guests: kernel words waited on in the emulation.
 *
 * Before Linux 5.16 there is no futex_waitv, so the kernel cannot wait on
 * several words at once. f2_futex_waitv then queues each private word that
 * routing sends to the kernel (a 32-bit word on futex(2)) in the emulation's
 * tables instead, as a "guest": a record keyed by the word's address, hashed
 * like any non-pair word (node -1), so that one parker serves the whole
 * vector. Routing itself does not change (f2_futex_backend still names the
 * kernel; a plain wait on that word still sleeps in the kernel), so a wake of
 * a kernel word must reach both: the kernel's sleepers and the guests.
 *
 * The guest count `guests` (records of kernel words queued in the
 * emulation, process-wide) keeps that off the common path: every kernel wake
 * and requeue on such a kernel reads it once after its syscall, and only a
 * nonzero count sends it to the emulation's bucket. On a kernel with
 * futex_waitv there are never guests and the check is not even made.
 *
 * No lost wakeup (Dekker's pattern, as in emulate.c's file comment): the
 * waiter adds to `guests` (seq_cst) before queue() checks the word under the
 * bucket lock after a seq_cst fence; the waker's caller stores the new value,
 * then f2_guest_wake fences (seq_cst) and reads `guests`. If the waker's
 * fence comes first, the waiter's value check sees the new value and returns
 * -EAGAIN; otherwise the waker sees the count, and f2_emu_wake's own fence
 * and nwaiters check finish the argument. A count that stays nonzero in a
 * fork child (a parent's thread was in waitv) only costs that child's wakes a
 * bucket lookup; the tables are ready before any guest is counted
 * (f2_guest_enter takes the parker first), so that lookup never allocates.
 *
 * Shared words cannot be guests: the emulation is process-private, and a
 * waker in another process would never see the record. f2_futex_waitv
 * returns -ENOSYS for a vector with a shared word on such a kernel.
 */
#include <errno.h>

#include "emu_impl.h"

static unsigned long guests;

int f2_guest_needed(void)
{
	return !f2_kernel_has_waitv();
}

int f2_guest_enter(unsigned n)
{
	/* the tables are set up before a guest is counted (file comment) */
	if (!f2_emu_parker())
		return -ENOMEM;
	/* seq_cst: pairs with the fence in f2_guest_wake (file comment) */
	f2_add_seq(&guests, n);
	return 0;
}

void f2_guest_leave(unsigned n)
{
	/* relaxed: the records are unqueued already; a waker that still sees
	 * the old count just finds no record */
	f2_sub_relaxed(&guests, n);
}

int f2_guest_wake(const struct f2_word *w, uint64_t mask, int nr)
{
	if (nr <= 0 || !(w->flags & F2_PRIVATE))
		return 0;
	/* pairs with the seq_cst add in f2_guest_enter (file comment) */
	f2_fence_seq();
	if (f2_likely(f2_load_relaxed(&guests) == 0))
		return 0;
	struct f2_word g = *w;
	g.node = -1;
	g.bk = F2_BK_EMU;
	return f2_emu_wake(&g, mask, nr);
}
