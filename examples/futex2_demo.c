/* futex2_demo: the futex2 layer at work.
 *  1. which backend serves each kind of word on this machine;
 *  2. a wait/wake handoff of a turn between two threads, per word size;
 *  3. a requeue: four waiters on A, one woken and three moved to B.
 * Exits non-zero if any step does not behave as the contract says. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <f2sync/futex2.h>

static const char *size_name[] = { "u8", "u16", "u32", "u64" };

static void show_backends(void)
{
	printf("backend serving each kind of word:\n");
	printf("  %-5s %-10s %-10s %-10s\n", "size", "private", "numa-pair", "shared");
	for (unsigned s = F2_SIZE_U8; s <= F2_SIZE_U64; s++) {
		const char *p = f2_futex_backend(s | F2_PRIVATE);
		const char *n = f2_futex_backend(s | F2_PRIVATE | F2_NUMA);
		const char *sh = f2_futex_backend(s);
		printf("  %-5s %-10s %-10s %-10s\n", size_name[s], p ? p : "-", n ? n : "-",
		       sh ? sh : "(refused)");
	}
}

struct turn {
	_Alignas(8) uint64_t word;
	unsigned flags;
	long rounds;
};

static uint64_t load(struct turn *t)
{
	switch (t->flags & F2_SIZE_MASK) {
	case F2_SIZE_U8: return __atomic_load_n((uint8_t *)&t->word, __ATOMIC_SEQ_CST);
	case F2_SIZE_U16: return __atomic_load_n((uint16_t *)&t->word, __ATOMIC_SEQ_CST);
	case F2_SIZE_U32: return __atomic_load_n((uint32_t *)&t->word, __ATOMIC_SEQ_CST);
	default: return __atomic_load_n(&t->word, __ATOMIC_SEQ_CST);
	}
}

static void store(struct turn *t, uint64_t v)
{
	switch (t->flags & F2_SIZE_MASK) {
	case F2_SIZE_U8: __atomic_store_n((uint8_t *)&t->word, (uint8_t)v, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U16: __atomic_store_n((uint16_t *)&t->word, (uint16_t)v, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U32: __atomic_store_n((uint32_t *)&t->word, (uint32_t)v, __ATOMIC_SEQ_CST); break;
	default: __atomic_store_n(&t->word, v, __ATOMIC_SEQ_CST); break;
	}
}

static int take_turn(struct turn *t, uint64_t mine, uint64_t next)
{
	uint64_t v;
	while ((v = load(t)) != mine) {
		int r = f2_futex_wait(&t->word, v, 1, t->flags, NULL, 0);
		if (r && r != -EAGAIN)
			return r;
	}
	store(t, next);
	int r = f2_futex_wake(&t->word, 1, 1, t->flags);
	return r < 0 ? r : 0;
}

static void *partner(void *arg)
{
	struct turn *t = arg;
	for (long i = 0; i < t->rounds; i++)
		if (take_turn(t, 1, 2))
			return (void *)1;
	return NULL;
}

static int handoff(unsigned size, long rounds)
{
	struct turn t = { 2, size | F2_PRIVATE, rounds };
	struct timespec a, b;
	pthread_t th;
	void *res;

	clock_gettime(CLOCK_MONOTONIC, &a);
	pthread_create(&th, NULL, partner, &t);
	for (long i = 0; i < rounds; i++)
		if (take_turn(&t, 2, 1))
			return -1;
	pthread_join(th, &res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (res || load(&t) != 2)
		return -1;
	double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / rounds;
	printf("  %-5s %-9s %8ld round trips, %7.0f ns each\n", size_name[size],
	       f2_futex_backend(size | F2_PRIVATE), rounds, ns);
	return 0;
}

static uint32_t qa, qb;
static int woke;

static void *sleeper(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&qa, __ATOMIC_SEQ_CST) == 0)
		f2_futex_wait(&qa, 0, 1, F2_SIZE_U32 | F2_PRIVATE, NULL, 0);
	__atomic_add_fetch(&woke, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int requeue(void)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, sleeper, NULL);
	usleep(100000); /* let them park: a late one just finds qa unchanged and parks */
	struct f2_futex_waitv rq[2] = { { 0, &qa, F2_SIZE_U32 | F2_PRIVATE, 0 },
	                                { 0, &qb, F2_SIZE_U32 | F2_PRIVATE, 0 } };
	int n = f2_futex_requeue(rq, 1, 3);
	printf("requeue A->B (wake 1, move 3): %d waiters woken or moved\n", n);
	/* qa changes: the moved waiters wake from B and see it. */
	__atomic_store_n(&qa, 1, __ATOMIC_SEQ_CST);
	int b = f2_futex_wake(&qb, 1, INT_MAX, F2_SIZE_U32 | F2_PRIVATE);
	int a = f2_futex_wake(&qa, 1, INT_MAX, F2_SIZE_U32 | F2_PRIVATE);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("then wake(B) woke %d, wake(A) woke %d; %d threads finished\n", b, a, woke);
	return (n >= 0 && woke == 4) ? 0 : -1;
}

int main(void)
{
	int bad = 0;
	show_backends();
	printf("\nwait/wake handoff of a turn between two threads:\n");
	for (unsigned s = F2_SIZE_U8; s <= F2_SIZE_U64; s++) {
		if (!f2_futex_backend(s | F2_PRIVATE)) {
			printf("  %-5s no backend\n", size_name[s]);
			continue;
		}
		bad |= handoff(s, 20000);
	}
	printf("\n");
	bad |= requeue();
	return bad ? 1 : 0;
}
