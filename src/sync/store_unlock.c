/* Store unlock's set-up and its waiter-side fence (protocol: store_unlock.h).
 *
 * Decided once, in a constructor, before any caller can reach a mutex: rseq
 * must be registered by libc for this thread (glibc then registers it for
 * every thread it creates) and membarrier's rseq command must register. If
 * either is missing, or F2SYNC_RSEQ=0, every unlock takes the RMW path and
 * the fence does nothing. f2_su_ready never changes afterwards, so the
 * relaxed loads of it need no order.
 */
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store_unlock.h"
#include "../internal/die.h"

int f2_su_ready;

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
	f2_store_relaxed(&f2_su_ready, 1); /* constructor: no thread reads it yet */
#endif
}

void f2_su_fence(void)
{
	if (!f2_load_relaxed(&f2_su_ready))
		return;
	/* Registered in su_init, so it cannot fail; if it did, an owner could
	 * commit a store unlock over our bits and we would sleep forever. */
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0)
		f2_die("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) failed");
}
