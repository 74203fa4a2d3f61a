/* futex2 layer entry points: argument validation and routing.
 *
 * Validation happens here, once, in the kernel's order (flags, value and mask
 * width, address, deadline), so that every backend meets only well-formed
 * words and the error codes are the same on all of them.
 *
 * Routing is a pure function of (size, flags) and the process-wide mode, so a
 * given word always meets the same backend: two backends never see each
 * other's waiters.
 *   shared words        : the kernel (futex2 if present, else futex(2)) for
 *                         32-bit, and any size a future kernel accepts; other
 *                         sizes -EOPNOTSUPP (user space cannot see another
 *                         process's waiters).
 *   private 32-bit      : futex2, or futex(2) in legacy mode / on kernels
 *                         before 6.7; a NUMA pair goes to the emulation's
 *                         per-node tables on every kernel without FUTEX2_NUMA
 *                         (before 6.16), whether it has futex2 or not
 *                         (legacy mode keeps it on futex(2), which hashes by
 *                         address).
 *   private 8/16/64-bit : the emulation, unless the kernel accepts the size.
 *   F2SYNC_BACKEND=emulate sends every private word to the emulation.
 * waitv on a kernel without futex_waitv (before 5.16) queues its private
 * kernel words in the emulation as guests (guest.c), without changing their
 * route; a shared word there is -ENOSYS. */
#include <errno.h>
#include <stddef.h>

#include "futex2_impl.h"
#include "../internal/atomic.h"
#include "../internal/atomic_sized.h"
#include "../internal/time.h"

static enum f2_backend kernel_bk(void)
{
	return (f2_mode() == F2_MODE_LEGACY || !f2_kernel_has_futex2()) ? F2_BK_LEGACY
	                                                               : F2_BK_FUTEX2;
}

static enum f2_backend route_shared(unsigned size)
{
	if (size == F2_SIZE_U32)
		return kernel_bk();
	if (f2_mode() != F2_MODE_LEGACY && f2_kernel_has_size(size))
		return F2_BK_FUTEX2;
	return F2_BK_NOTSUP;
}

static enum f2_backend route_private(unsigned size, unsigned flags)
{
	enum f2_mode m = f2_mode();

	if (m == F2_MODE_EMULATE)
		return F2_BK_EMU;
	if (m == F2_MODE_LEGACY)
		return size == F2_SIZE_U32 ? F2_BK_LEGACY : F2_BK_EMU;
	/* One rule on every kernel without FUTEX2_NUMA (before 6.16): a
	 * private pair keeps its node in the per-node tables. */
	if ((flags & F2_NUMA) && !f2_kernel_has_numa())
		return F2_BK_EMU;
	if (f2_kernel_has_futex2() && f2_kernel_has_size(size))
		return F2_BK_FUTEX2;
	return size == F2_SIZE_U32 ? F2_BK_LEGACY : F2_BK_EMU;
}

static enum f2_backend route_slow(unsigned flags)
{
	unsigned size = flags & F2_SIZE_MASK;

	if (f2_mode() == F2_MODE_BAD)
		return F2_BK_NOSYS;
	return (flags & F2_PRIVATE) ? route_private(size, flags) : route_shared(size);
}

/* The route of each of the 16 kinds of valid flags, computed once: routing
 * runs on every call, and the mode and the kernel's capabilities never change
 * within a process. Entry 0 means "not computed yet". */
static unsigned char routes[16];

static unsigned route_index(unsigned flags)
{
	return (flags & F2_SIZE_MASK) | ((flags & F2_NUMA) ? 4u : 0u) | ((flags & F2_PRIVATE) ? 8u : 0u);
}

enum f2_backend f2_route(unsigned flags)
{
	unsigned i = route_index(flags);
	/* relaxed: each entry is a pure function of the environment and the
	 * kernel; a racing first caller computes and stores the same value. */
	unsigned char r = f2_load_relaxed(&routes[i]);
	if (f2_unlikely(!r)) {
		r = (unsigned char)(route_slow(flags) + 1);
		f2_store_relaxed(&routes[i], r);
	}
	return (enum f2_backend)(r - 1);
}

/* Nodes a pair may name: the emulation has a table per node (and may be
 * told to see more than the kernel's, for tests). */
static int node_limit(enum f2_backend bk)
{
	if (bk == F2_BK_EMU) {
		int n = f2_emu_node_count();
		return n > 0 ? n : 1;
	}
	return f2_node_count_kernel();
}

int f2_node_valid(unsigned flags, int node)
{
	enum f2_backend bk = f2_route(flags | F2_NUMA);
	if (bk == F2_BK_NOSYS || bk == F2_BK_NOTSUP)
		return 0;
	return node >= 0 && node < node_limit(bk);
}

uint64_t f2_word_load(const struct f2_word *w)
{
	/* relaxed: callers that need ordering use a fence or a lock around it. */
	return f2_sized_load(w->addr, w->size, memory_order_relaxed);
}

static int fits(unsigned flags, uint64_t v)
{
	unsigned bits = 8u << (flags & F2_SIZE_MASK);
	return bits == 64 || !(v >> bits);
}

/* Checks what needs no memory access: flag bits, NULL, alignment. */
static int check_addr(const void *uaddr, unsigned flags)
{
	if (flags & ~(unsigned)F2_VALID_FLAGS)
		return -EINVAL;
	if (!uaddr)
		return -EFAULT;
	uintptr_t align = (uintptr_t)1 << (flags & F2_SIZE_MASK);
	if (flags & F2_NUMA)
		align <<= 1; /* a pair is aligned to twice the word size */
	return ((uintptr_t)uaddr & (align - 1)) ? -EINVAL : 0;
}

/* Routes a checked word and resolves a NUMA pair's node; node >= 0 is a node
 * the caller resolved before, used without reading the pair. */
static int bind_node(struct f2_word *w, void *uaddr, unsigned flags, int node)
{
	w->addr = uaddr;
	w->flags = flags;
	w->size = flags & F2_SIZE_MASK;
	w->node = -1;
	w->bk = f2_route(flags);
	if (w->bk == F2_BK_NOSYS)
		return -ENOSYS;
	if (w->bk == F2_BK_NOTSUP)
		return -EOPNOTSUPP;
	if (flags & F2_NUMA) {
		int limit = node_limit(w->bk);
		int n = node >= 0 ? (node < limit ? node : -EINVAL)
		                  : f2_node_resolve(uaddr, w->size, limit);
		if (n < 0)
			return n;
		w->node = n;
	}
	return 0;
}

static int bind(struct f2_word *w, void *uaddr, unsigned flags)
{
	return bind_node(w, uaddr, flags, -1);
}

int f2_futex_wait(void *uaddr, uint64_t val, uint64_t mask, unsigned flags,
                  const struct timespec *abstime, clockid_t clockid)
{
	struct f2_word w;
	int r;

	if ((r = check_addr(uaddr, flags)))
		return r;
	if (!mask || !fits(flags, val) || !fits(flags, mask))
		return -EINVAL;
	if ((r = f2_deadline_check(abstime, clockid)))
		return r;
	if ((r = bind(&w, uaddr, flags)))
		return r;
	if (w.bk == F2_BK_EMU)
		return f2_emu_wait(&w, val, mask, abstime, clockid);
	return f2_kernel_wait(&w, val, mask, abstime, clockid);
}

int f2_futex_wake_node(void *uaddr, uint64_t mask, int nr, unsigned flags, int node)
{
	struct f2_word w;
	int r;

	if ((r = check_addr(uaddr, flags)))
		return r;
	if (!mask || !fits(flags, mask) || nr < 0)
		return -EINVAL;
	if ((r = bind_node(&w, uaddr, flags, node)))
		return r;
	if (nr == 0)
		return 0;
	if (w.bk == F2_BK_EMU)
		return f2_emu_wake(&w, mask, nr);
	return f2_kernel_wake(&w, mask, nr);
}

int f2_futex_wake(void *uaddr, uint64_t mask, int nr, unsigned flags)
{
	return f2_futex_wake_node(uaddr, mask, nr, flags, -1);
}

static int sat_add(int a, int b)
{
	return a > INT32_MAX - b ? INT32_MAX : a + b;
}

static int check_waitv(const struct f2_futex_waitv *v)
{
	int r;
	if (v->reserved)
		return -EINVAL;
	if ((r = check_addr(v->uaddr, v->flags)))
		return r;
	return fits(v->flags, v->val) ? 0 : -EINVAL;
}

int f2_futex_requeue(const struct f2_futex_waitv from_to[2], int nr_wake, int nr_requeue)
{
	return f2_futex_requeue_node(from_to, nr_wake, nr_requeue, -1);
}

int f2_futex_requeue_node(const struct f2_futex_waitv from_to[2], int nr_wake, int nr_requeue,
                          int to_node)
{
	struct f2_word from, to;
	int r;

	if (!from_to)
		return -EFAULT;
	if (nr_wake < 0 || nr_requeue < 0)
		return -EINVAL;
	if ((r = check_waitv(&from_to[0])) || (r = check_waitv(&from_to[1])))
		return r;
	if ((r = bind(&from, from_to[0].uaddr, from_to[0].flags)) ||
	    (r = bind_node(&to, from_to[1].uaddr, from_to[1].flags, to_node)))
		return r;
	uint64_t cmpval = from_to[0].val;
	if (from.bk == F2_BK_EMU && to.bk == F2_BK_EMU)
		return f2_emu_requeue(&from, &to, cmpval, nr_wake, nr_requeue);
	if (from.bk == to.bk)
		return f2_kernel_requeue(&from, &to, cmpval, nr_wake, nr_requeue);
	/* Different backends cannot move waiters: wake them instead. */
	if (from.bk == F2_BK_EMU)
		return f2_emu_cmp_wake(&from, cmpval, sat_add(nr_wake, nr_requeue));
	return f2_kernel_requeue(&from, &from, cmpval, sat_add(nr_wake, nr_requeue), 0);
}

/* A kernel word of a waitv where the kernel has no futex_waitv: served by
 * the emulation as a guest, keyed by its address alone (guest.c). */
static int make_guest(struct f2_word *w)
{
	if (!(w->flags & F2_PRIVATE))
		return -ENOSYS;
	w->bk = F2_BK_EMU;
	w->node = -1;
	return 0;
}

int f2_futex_waitv(struct f2_futex_waitv *v, unsigned n, const struct timespec *abstime,
                   clockid_t clockid)
{
	struct f2_word w[F2_WAITV_MAX];
	uint64_t vals[F2_WAITV_MAX];
	int r;

	if (!v || n == 0 || n > F2_WAITV_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if ((r = check_waitv(&v[i])))
			return r;
	if ((r = f2_deadline_check(abstime, clockid)))
		return r;
	int emu = 0;
	unsigned guests = 0;
	for (unsigned i = 0; i < n; i++) {
		if ((r = bind(&w[i], v[i].uaddr, v[i].flags)))
			return r;
		vals[i] = v[i].val;
		if (w[i].bk != F2_BK_EMU && f2_guest_needed()) {
			if ((r = make_guest(&w[i])))
				return r;
			guests++;
		}
		emu |= w[i].bk == F2_BK_EMU;
	}
	if (!emu)
		return f2_kernel_waitv(w, vals, n, abstime, clockid);
	if (!guests) /* any mix: the emulation parks on kernel words too */
		return f2_emu_waitv(w, vals, n, abstime, clockid);
	if ((r = f2_guest_enter(guests)))
		return r;
	r = f2_emu_waitv(w, vals, n, abstime, clockid);
	f2_guest_leave(guests);
	return r;
}

const char *f2_futex_backend(unsigned flags)
{
	if (flags & ~(unsigned)F2_VALID_FLAGS)
		return NULL;
	switch (f2_route(flags)) {
	case F2_BK_FUTEX2: return "futex2";
	case F2_BK_LEGACY: return "legacy";
	case F2_BK_EMU: return "emulated";
	default: return NULL;
	}
}
