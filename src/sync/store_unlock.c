/* Store unlock's set-up and its waiter-side fence (protocol: store_unlock.h).
 *
 * Decided once, in a constructor, before any caller can reach a mutex: rseq
 * must be registered by libc for this thread (glibc then registers it for
 * every thread it creates) and membarrier's rseq command must register. If
 * either is missing, or F2SYNC_RSEQ=0, the state stays OFF: every unlock takes
 * the RMW path and the fence does nothing. Later the fence can only fail
 * (a seccomp filter installed after start-up, a failed allocation in the
 * kernel): the state turns LOST, for good (states: store_unlock.h).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store_unlock.h"

int f2_su_state;

static int membarrier(int cmd)
{
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

__attribute__((constructor)) static void su_init(void)
{
	const char *env = getenv("F2SYNC_RSEQ");

	if (!F2_HAVE_STORE_UNLOCK || (env && strcmp(env, "0") == 0))
		return;
#if F2_HAVE_STORE_UNLOCK
	if (__rseq_size == 0)
		return; /* libc did not register rseq (glibc.pthread.rseq=0, valgrind) */
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) != 0)
		return;
	f2_store_relaxed(&f2_su_state, F2_SU_ON); /* constructor: no thread reads it yet */
#endif
}

void f2_su_fence(void)
{
	int saved = errno;

	if (f2_load_relaxed(&f2_su_state) != F2_SU_ON)
		return;
	if (f2_likely(membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) == 0))
		return;
	/* An owner may now commit a store unlock over our bits unseen: the
	 * waiters fall back to bounded sleeps (mutex_core.c). Relaxed: each
	 * thread acts on its own view; a thread that still reads ON fences
	 * (and fails) itself. */
	f2_store_relaxed(&f2_su_state, F2_SU_LOST);
	errno = saved; /* a lock call leaves errno alone */
}
