/* Store unlock: releasing an uncontended mutex with a plain store
 * instead of a locked read-modify-write.
 *
 * A futex mutex's unlock must see a waiter that parked while it owned the
 * lock, so it normally is an RMW (CAS HELD -> 0, or glibc's xchg): about
 * 8 ns on current x86, half the cost of an uncontended lock+unlock pair. Here
 * the owner instead runs, as a restartable sequence (rseq(2)):
 *     if (word != HELD) take the RMW path;  word = 0;   (the store commits)
 * and the other side of the race pays: a waiter that moves the word away from
 * exactly HELD (setting PARKED or STARVE) also sets RMW_UNLOCK (the word is
 * never exactly HELD again, so this happens once per mutex) and then calls
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ), which restarts every
 * rseq critical section running or preempted in this process. So the owner
 * either committed its store before the waiter's CAS took effect (the CAS
 * then fails on the changed word), or after it (the waiter's futex wait then
 * finds the word changed and does not sleep), or it is restarted and rereads
 * the word, finds the waiter's bits and takes the RMW path, which wakes it.
 * Nothing is read after the store, so a mutex freed right after its release
 * by another thread is never touched again (no use after free).
 * Used only where the kernel and libc give rseq and membarrier-rseq (Linux
 * 5.10+, glibc 2.35+, which registers rseq for every thread), for private
 * mutexes (membarrier reaches only this process: a process-shared mutex is
 * RMW_UNLOCK from its initialisation), for both mutex widths (f2_mutex_t and
 * f2_mutex8_t), and on x86-64 (the abort handler and descriptor are per
 * architecture; elsewhere the RMW unlock is used).
 * Disabled under ThreadSanitizer, which cannot see a store made in assembly,
 * and by F2SYNC_RSEQ=0 (the test suite runs both ways).
 *
 * The process-wide state (f2_su_state):
 *   F2_SU_OFF   never on: every unlock is an RMW, a mark needs no fence.
 *   F2_SU_ON    an owner may release an exactly-HELD word by a store; a mark
 *               of an exactly-HELD word fences.
 *   F2_SU_LOST  a fence failed (membarrier denied by a seccomp filter
 *               installed after start-up, or out of memory): no unlock starts
 *               a store unlock any more, but one that read ON before may
 *               still commit over a mark. Such a wipe cannot be ruled out any
 *               more, so the mutex's waiters never sleep unbounded and a
 *               waiter that gives up passes its wake on (mutex_core.c; proof
 *               in docs/design/mutex.md, "Losing membarrier").
 * Transitions: OFF -> ON once, in the constructor, before any lock is used;
 * ON -> LOST once, by the first fence that fails. Never back.
 */
#ifndef F2_SYNC_STORE_UNLOCK_H
#define F2_SYNC_STORE_UNLOCK_H

#include <stdint.h>

#include "f2sync/futex2.h"
#include "../internal/atomic.h"
#include "../internal/compiler.h"

#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__SANITIZE_THREAD__)
#include <sys/rseq.h>
#if defined(RSEQ_SIG) && RSEQ_SIG == 0x53053053
#define F2_HAVE_STORE_UNLOCK 1
#endif
#endif
#ifndef F2_HAVE_STORE_UNLOCK
#define F2_HAVE_STORE_UNLOCK 0
#endif

#define F2_SU_OFF  0
#define F2_SU_ON   1
#define F2_SU_LOST 2

/* The state above; read relaxed everywhere (each reader needs only its own
 * view of it: see the proof). */
f2_hidden extern int f2_su_state;

/* Restarts every store unlock in progress in this process; a no-op unless
 * the state is ON. The caller has just set bits on a word that was exactly
 * HELD. If membarrier fails, the state becomes LOST instead (never aborts). */
f2_hidden void f2_su_fence(void);

/* 1 once a fence has failed: the caller's marks may be wiped by a store
 * unlock that began before, so it must not sleep unbounded on a mutex word. */
static inline int f2_su_lost(void)
{
	return f2_load_relaxed(&f2_su_state) == F2_SU_LOST;
}

#if F2_HAVE_STORE_UNLOCK
/* The critical section for a word of suffix sfx ("b" or "l"): if *w == held,
 * *w = 0 (the commit), else jump to busy; an abort restarts it from the top.
 * The "memory" clobber keeps the critical section's accesses before the
 * store, and x86 keeps stores in order: the store is a release, pairing with
 * the next owner's acquire CAS. rseq_cs is left set after the section: the
 * kernel ignores it while the instruction pointer is outside [1b, 2b). */
#define F2_SU_SECTION(sfx, heldc, w, held, busy, restart)                       \
	__asm__ goto(                                                            \
		".pushsection __rseq_cs, \"aw\"\n\t"                               \
		".balign 32\n"                                                   \
		"3:\n\t"                                                         \
		".long 0, 0\n\t"                  /* version, flags */            \
		".quad 1f, 2f - 1f, 4f\n\t"       /* start, post-commit, abort */ \
		".popsection\n\t"                                                \
		"leaq 3b(%%rip), %%rax\n\t"                                      \
		"movq %%rax, %%fs:8(%[rs])\n"      /* struct rseq's rseq_cs */      \
		"1:\n\t"                                                         \
		"cmp" sfx " %[hv], %[word]\n\t"                                   \
		"jne %l[" #busy "]\n\t"                                          \
		"mov" sfx " $0, %[word]\n"         /* commit */                    \
		"2:\n\t"                                                         \
		".pushsection __rseq_failure, \"ax\"\n\t"                         \
		".byte 0x0f, 0xb9, 0x3d\n\t"      /* ud1, signature as displacement */ \
		".long 0x53053053\n"               /* RSEQ_SIG: checked by the kernel */ \
		"4:\n\t"                                                         \
		"jmp %l[" #restart "]\n\t"                                       \
		".popsection"                                                    \
		:                                                                \
		: [rs] "r"(__rseq_offset), [hv] heldc(held), [word] "m"(*(w))    \
		: "memory", "cc", "rax"                                          \
		: busy, restart)

/* 1 if the word (8 or 32 bits, by size) was exactly held and is now 0,
 * released by a store; 0 if it was anything else (the caller takes the RMW
 * path). With a constant size one section remains. */
static inline __attribute__((always_inline)) int f2_su_release(void *w, unsigned size,
                                                               unsigned held)
{
restart:
	if (size == F2_SIZE_U8)
		F2_SU_SECTION("b", "q", (uint8_t *)w, (uint8_t)held, busy, restart);
	else
		F2_SU_SECTION("l", "r", (uint32_t *)w, (uint32_t)held, busy, restart);
	return 1;
busy:
	return 0;
}
#else
static inline int f2_su_release(void *w, unsigned size, unsigned held)
{
	(void)w;
	(void)size;
	(void)held;
	return 0;
}
#endif

#endif
