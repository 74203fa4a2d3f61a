/* Uses an installed f2sync: a lock of each kind, then prints "consumer ok". */
#include <stdio.h>

#include <f2sync/f2sync.h>

int main(void)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	f2_barrier_t b;
	int failed = 0;

	failed |= f2_mutex_lock(&m) | f2_mutex_unlock(&m);
	failed |= f2_rwlock_rdlock(&rw) | f2_rwlock_unlock(&rw);
	failed |= f2_barrier_init(&b, 1);
	failed |= f2_barrier_wait(&b) != F2_BARRIER_SERIAL_THREAD;
	failed |= f2_barrier_destroy(&b);
	const char *bk = f2_futex_backend(F2_SIZE_U32 | F2_PRIVATE);
	printf("f2sync %s, 32-bit words on %s: consumer %s\n", F2SYNC_VERSION,
	       bk ? bk : "(none)", failed ? "FAILED" : "ok");
	return failed;
}
