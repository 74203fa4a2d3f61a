/* Internal interface of the futex2 layer: the validated word handed from the
 * entry points (futex2.c) to the backends (kernel.c, emulate.c). */
#ifndef F2_FUTEX2_IMPL_H
#define F2_FUTEX2_IMPL_H

#include <stdint.h>
#include <time.h>

#if !defined(F2_LAYER) || F2_LAYER != 2
#error "futex2_impl.h is private to src/futex2: the sync layer uses futex2/bound.h"
#endif

#include "f2sync/futex2.h"
#include "bound.h"
#include "../internal/compiler.h"

#define F2_VALID_FLAGS (F2_SIZE_MASK | F2_NUMA | F2_PRIVATE)

/* enum f2_backend, struct f2_word: bound.h */

/* f2_futex_wake for a NUMA pair whose node (>= 0) the caller resolved
 * earlier: the pair is not read, so a lock may wake after the store that let
 * another thread free it (self-synchronised destruction). node -1: read it. */
f2_hidden int f2_futex_wake_node(void *uaddr, uint64_t mask, int nr, unsigned flags, int node);

/* f2_futex_requeue_node: bound.h */

/* Loads the word's value (the value half of a pair), zero-extended. */
f2_hidden uint64_t f2_word_load(const struct f2_word *w);

/* futex2.c: routing, a pure function of (size, flags) and the process mode. */
f2_hidden enum f2_backend f2_route(unsigned flags);
/* f2_node_valid: bound.h */

/* kernel.c */
enum f2_mode { F2_MODE_AUTO, F2_MODE_FUTEX2, F2_MODE_LEGACY, F2_MODE_EMULATE, F2_MODE_BAD };
f2_hidden enum f2_mode f2_mode(void);          /* F2SYNC_BACKEND, read once */
f2_hidden int f2_kernel_has_futex2(void);      /* syscalls 454..456 */
f2_hidden int f2_kernel_has_numa(void);        /* FUTEX2_NUMA */
f2_hidden int f2_kernel_has_waitv(void);       /* syscall 449 */
f2_hidden int f2_kernel_has_size(unsigned size); /* futex2 accepts this size */
f2_hidden int f2_kernel_wait(const struct f2_word *w, uint64_t val, uint64_t mask,
                             const struct timespec *abs, clockid_t clk);
f2_hidden int f2_kernel_wake(const struct f2_word *w, uint64_t mask, int nr);
/* A statistic for the tests, which assert that an operation makes no wake:
 * while f2_futex_count_wakes is set, every wake or requeue call that reaches a
 * backend (a kernel system call or the emulation's wake) adds 1 to
 * f2_futex_wakes. Only in the test build (../internal/test_hooks.h); in the
 * shipped library the call compiles to nothing. */
#ifdef F2SYNC_TEST_HOOKS
extern f2_hidden int f2_futex_count_wakes;
extern f2_hidden uint64_t f2_futex_wakes;
f2_hidden void f2_futex_count_wake(void);
#else
/* a macro, not an empty inline: an unoptimised build would keep the function
 * and the shipped library would carry the hook's name (check_test_hooks) */
#define f2_futex_count_wake() ((void)0)
#endif
f2_hidden int f2_kernel_requeue(const struct f2_word *from, const struct f2_word *to,
                                uint64_t cmpval, int nr_wake, int nr_requeue);
/* futex_waitv(2) over kernel words; w[i] are all F2_BK_FUTEX2/LEGACY. */
f2_hidden int f2_kernel_waitv(const struct f2_word *w, const uint64_t *vals, unsigned n,
                              const struct timespec *abs, clockid_t clk);
/* Raw private 32-bit futex ops for the emulation's bucket locks and parkers;
 * they work on every kernel. wait returns 0, -EAGAIN, -ETIMEDOUT or -EINTR. */
f2_hidden int f2_sys_wait32(uint32_t *addr, uint32_t val, const struct timespec *abs,
                            clockid_t clk);
f2_hidden int f2_sys_wake32(uint32_t *addr, int nr);

/* node.c */
f2_hidden int f2_node_count_kernel(void);      /* nodes the kernel accepts */
/* f2_node_count_online: bound.h */
/* The highest index in a sysfs list file ("0", "0-3", "0,2-5") + 1; 1 when the
 * file is missing or unreadable (a kernel without NUMA). open/read only: no
 * stdio, no malloc, so it may run on a lock path (docs/design/sync.md). */
f2_hidden int f2_sysfs_list_end(const char *path);
/* f2_node_self: bound.h */
/* Resolves a NUMA pair's node: -1 is replaced (CAS, written back) by the
 * caller's node (node 0 if that is not below limit). Returns the node, or
 * -EINVAL for a node outside [0, limit). */
f2_hidden int f2_node_resolve(void *pair, unsigned size, int limit);

/* emulate.c: every call takes validated words with bk == F2_BK_EMU, except
 * where stated. Same contract as the public calls. */
f2_hidden int f2_emu_node_count(void);         /* tables (>= kernel nodes) */
f2_hidden int f2_emu_wait(const struct f2_word *w, uint64_t val, uint64_t mask,
                          const struct timespec *abs, clockid_t clk);
f2_hidden int f2_emu_wake(const struct f2_word *w, uint64_t mask, int nr);
/* Moves waiters between emulated words of any size and table. */
f2_hidden int f2_emu_requeue(const struct f2_word *from, const struct f2_word *to,
                             uint64_t cmpval, int nr_wake, int nr_requeue);
/* Checks cmpval under the bucket lock and wakes nr waiters (requeue to a word
 * of another backend). */
f2_hidden int f2_emu_cmp_wake(const struct f2_word *from, uint64_t cmpval, int nr);
/* waitv over any mix of backends with at least one emulated word. */
f2_hidden int f2_emu_waitv(const struct f2_word *w, const uint64_t *vals, unsigned n,
                           const struct timespec *abs, clockid_t clk);

/* guest.c: private kernel words that a waitv queues in the emulation where
 * the kernel has no futex_waitv (before 5.16); see its file comment. */
f2_hidden int f2_guest_needed(void);           /* 1: waitv makes guests */
/* Before queueing n guests: 0, or -ENOMEM if the tables cannot be set up. */
f2_hidden int f2_guest_enter(unsigned n);
f2_hidden void f2_guest_leave(unsigned n);     /* after unqueueing them */
/* Wakes up to nr guests of kernel word w; called after every kernel wake or
 * requeue of w that woke fewer than asked, on a kernel that makes guests. */
f2_hidden int f2_guest_wake(const struct f2_word *w, uint64_t mask, int nr);

#endif
