/* The kernel backends: futex2 syscalls (futex_wake 454, futex_wait 455,
 * futex_requeue 456, Linux 6.7+; FUTEX2_NUMA 6.16+; futex_waitv 449, 5.16+)
 * and the legacy futex(2) bitset operations.
 *
 * What the kernel offers is probed once per process and cached: each probe is
 * a wake with nr=1 on a private word nobody waits on, which either returns 0
 * (supported) or fails at once (-ENOSYS: no syscall; -EINVAL: no such
 * size/flag). Probing twice in a race is harmless: the answer is the same.
 *
 * F2SYNC_BACKEND=auto|futex2|legacy|emulate is read once; a bad value or a
 * forced backend the kernel lacks is reported on stderr once and every call
 * then fails with -ENOSYS (futex2.c), never falling back silently. */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futex2_impl.h"
#include "../internal/atomic.h"
#include "../internal/die.h"

/* Same numbers on x86-64 and aarch64 (the unified syscall table). */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef SYS_futex_wake
#define SYS_futex_wake 454
#endif
#ifndef SYS_futex_wait
#define SYS_futex_wait 455
#endif
#ifndef SYS_futex_requeue
#define SYS_futex_requeue 456
#endif

/* Kernel layout of struct futex_waitv (older headers may lack it). */
struct kwaitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

enum {
	P_DONE = 1u << 0,
	P_FUTEX2 = 1u << 1,
	P_NUMA = 1u << 2,
	P_WAITV = 1u << 3,
	P_SIZE0 = 1u << 4, /* P_SIZE0 << size: futex2 accepts that size */
};

static unsigned probed;
static int mode = -1;

static long sysret(long r)
{
	return r < 0 ? -errno : r;
}

static unsigned probe(void)
{
	uint64_t word[2] = { 0, (uint64_t)-1 };
	unsigned p = P_DONE;

	if (syscall(SYS_futex_wake, word, 1ul, 1, F2_SIZE_U32 | F2_PRIVATE) >= 0) {
		p |= P_FUTEX2;
		for (unsigned s = F2_SIZE_U8; s <= F2_SIZE_U64; s++)
			if (syscall(SYS_futex_wake, word, 1ul, 1, s | F2_PRIVATE) >= 0)
				p |= P_SIZE0 << s;
		/* word is { u32 0; s32 -1 }: a valid pair with node "any". */
		uint32_t pair[2] = { 0, (uint32_t)-1 };
		if (syscall(SYS_futex_wake, pair, 1ul, 1, F2_SIZE_U32 | F2_NUMA | F2_PRIVATE) >= 0)
			p |= P_NUMA;
	}
	if (syscall(SYS_futex_waitv, NULL, 0u, 0u, NULL, 0) < 0 && errno != ENOSYS)
		p |= P_WAITV;
	return p;
}

static unsigned caps(void)
{
	/* relaxed: the cached value is a pure function of the kernel; a thread
	 * that sees 0 just probes again. */
	unsigned p = f2_load_relaxed(&probed);
	if (f2_unlikely(!p)) {
		p = probe();
		f2_store_relaxed(&probed, p);
	}
	return p;
}

int f2_kernel_has_futex2(void) { return !!(caps() & P_FUTEX2); }
int f2_kernel_has_numa(void) { return !!(caps() & P_NUMA); }
int f2_kernel_has_waitv(void) { return !!(caps() & P_WAITV); }
int f2_kernel_has_size(unsigned size) { return !!(caps() & (P_SIZE0 << size)); }

static f2_cold int read_mode(void)
{
	const char *e = getenv("F2SYNC_BACKEND");
	int m = F2_MODE_AUTO;

	if (!e || !*e || !strcmp(e, "auto"))
		m = F2_MODE_AUTO;
	else if (!strcmp(e, "futex2"))
		m = F2_MODE_FUTEX2;
	else if (!strcmp(e, "legacy"))
		m = F2_MODE_LEGACY;
	else if (!strcmp(e, "emulate"))
		m = F2_MODE_EMULATE;
	else {
		f2_warn("F2SYNC_BACKEND must be auto, futex2, legacy or emulate; "
		        "every futex call fails with ENOSYS");
		return F2_MODE_BAD;
	}
	if (m == F2_MODE_FUTEX2 && !f2_kernel_has_futex2()) {
		f2_warn("F2SYNC_BACKEND=futex2 but this kernel has no futex2 syscalls "
		        "(Linux 6.7+); every futex call fails with ENOSYS");
		return F2_MODE_BAD;
	}
	return m;
}

enum f2_mode f2_mode(void)
{
	/* relaxed: mode is derived from the environment only; racing first
	 * callers compute the same value (a warning may print twice). */
	int m = f2_load_relaxed(&mode);
	if (f2_unlikely(m < 0)) {
		m = read_mode();
		f2_store_relaxed(&mode, m);
	}
	return (enum f2_mode)m;
}

/* Flags for the futex2 syscalls: F2_NUMA only where the kernel has it (a
 * shared pair on an older kernel is waited on through its value word, which
 * is at the same address). */
static unsigned kflags(const struct f2_word *w)
{
	unsigned f = w->flags;
	if (!f2_kernel_has_numa())
		f &= ~(unsigned)F2_NUMA;
	return f;
}

static int legacy_op(const struct f2_word *w, int op)
{
	return op | ((w->flags & F2_PRIVATE) ? FUTEX_PRIVATE_FLAG : 0);
}

int f2_kernel_wait(const struct f2_word *w, uint64_t val, uint64_t mask,
                   const struct timespec *abs, clockid_t clk)
{
	long r;

	if (!abs)
		clk = CLOCK_MONOTONIC;
	if (w->bk == F2_BK_FUTEX2) {
		r = syscall(SYS_futex_wait, w->addr, (unsigned long)val, (unsigned long)mask,
		            kflags(w), abs, clk);
	} else {
		int op = legacy_op(w, FUTEX_WAIT_BITSET);
		if (abs && clk == CLOCK_REALTIME)
			op |= FUTEX_CLOCK_REALTIME;
		r = syscall(SYS_futex, w->addr, op, (uint32_t)val, abs, NULL, (uint32_t)mask);
	}
	r = sysret(r);
	return r == -EINTR ? 0 : (int)r; /* a signal is a spurious wakeup */
}

#ifdef F2SYNC_TEST_HOOKS
int f2_futex_count_wakes;
uint64_t f2_futex_wakes;

void f2_futex_count_wake(void)
{
	/* relaxed: statistics for a test that sets the switch and reads the
	 * count from the thread that made the calls */
	if (f2_unlikely(f2_load_relaxed(&f2_futex_count_wakes)))
		f2_add_relaxed(&f2_futex_wakes, 1);
}
#endif

/* After a kernel wake or requeue that woke n < nr: the guests of w (waitv
 * records of kernel words in the emulation, guest.c) where the kernel has no
 * futex_waitv. Reads nothing of w, like the syscall. */
static int with_guests(const struct f2_word *w, uint64_t mask, int n, int nr)
{
	if (f2_likely(caps() & P_WAITV) || n < 0 || n >= nr)
		return n;
	return n + f2_guest_wake(w, mask, nr - n);
}

int f2_kernel_wake(const struct f2_word *w, uint64_t mask, int nr)
{
	long r;

	f2_futex_count_wake();

	if (w->bk == F2_BK_FUTEX2)
		r = syscall(SYS_futex_wake, w->addr, (unsigned long)mask, nr, kflags(w));
	else
		r = syscall(SYS_futex, w->addr, legacy_op(w, FUTEX_WAKE_BITSET), nr, NULL, NULL,
		            (uint32_t)mask);
	return with_guests(w, mask, (int)sysret(r), nr);
}

int f2_kernel_requeue(const struct f2_word *from, const struct f2_word *to, uint64_t cmpval,
                      int nr_wake, int nr_requeue)
{
	long r;

	f2_futex_count_wake();

	/* The kernel moves waiters only between words of equal flags
	 * (futex_requeue(2) demands identical flags; futex(2) has one PRIVATE
	 * bit for both words): otherwise wake instead of moving. */
	int same = from->bk == F2_BK_FUTEX2 ? kflags(from) == kflags(to)
	                                    : !((from->flags ^ to->flags) & F2_PRIVATE);
	if (!same) {
		to = from;
		nr_wake = nr_wake > INT32_MAX - nr_requeue ? INT32_MAX : nr_wake + nr_requeue;
		nr_requeue = 0;
	}
	if (from->bk == F2_BK_FUTEX2) {
		struct kwaitv kw[2] = {
			{ cmpval, (uintptr_t)from->addr, kflags(from), 0 },
			{ 0, (uintptr_t)to->addr, kflags(to), 0 },
		};
		r = syscall(SYS_futex_requeue, kw, 0u, nr_wake, nr_requeue);
	} else {
		r = syscall(SYS_futex, from->addr, legacy_op(from, FUTEX_CMP_REQUEUE), nr_wake,
		            (void *)(uintptr_t)nr_requeue, to->addr, (uint32_t)cmpval);
	}
	/* guests of `from` are woken, not moved (a spurious wakeup for them) */
	int all = nr_wake > INT32_MAX - nr_requeue ? INT32_MAX : nr_wake + nr_requeue;
	return with_guests(from, ~(uint64_t)0, (int)sysret(r), all);
}

int f2_kernel_waitv(const struct f2_word *w, const uint64_t *vals, unsigned n,
                    const struct timespec *abs, clockid_t clk)
{
	struct kwaitv kw[F2_WAITV_MAX + 1];

	if (!f2_kernel_has_waitv())
		return -ENOSYS;
	for (unsigned i = 0; i < n; i++) {
		unsigned f = w[i].bk == F2_BK_FUTEX2 ? kflags(&w[i])
		                                     : (w[i].flags & ~(unsigned)F2_NUMA);
		kw[i] = (struct kwaitv){ vals[i], (uintptr_t)w[i].addr, f, 0 };
	}
	if (!abs)
		clk = CLOCK_MONOTONIC;
	long r = sysret(syscall(SYS_futex_waitv, kw, n, 0u, abs, clk));
	return r == -EINTR ? 0 : (int)r;
}

int f2_sys_wait32(uint32_t *addr, uint32_t val, const struct timespec *abs, clockid_t clk)
{
	int op = FUTEX_WAIT_BITSET_PRIVATE;
	if (abs && clk == CLOCK_REALTIME)
		op |= FUTEX_CLOCK_REALTIME;
	return (int)sysret(syscall(SYS_futex, addr, op, val, abs, NULL, FUTEX_BITSET_MATCH_ANY));
}

int f2_sys_wake32(uint32_t *addr, int nr)
{
	return (int)sysret(syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0));
}
