/* bounded_queue: a multi-producer multi-consumer queue of fixed capacity on
 * one f2_mutex_t and two f2_cond_t (not_full, not_empty).
 *
 * PRODUCERS threads each put ITEMS distinct numbers; CONSUMERS threads take
 * until they meet a stop marker (one per consumer, queued after all items).
 * The queue is small, so both sides block often. At the end every number must
 * have been taken exactly once; the program exits 1 otherwise. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <f2sync/f2sync.h>

#define CAPACITY  8
#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS     20000              /* per producer */
#define STOP      UINT32_MAX

struct queue {
	f2_mutex_t lock;
	f2_cond_t not_full, not_empty;
	uint32_t slot[CAPACITY];
	unsigned head, count;            /* guarded by lock */
};

static struct queue q = { F2_MUTEX_INITIALIZER, F2_COND_INITIALIZER, F2_COND_INITIALIZER,
                          { 0 }, 0, 0 };
static unsigned char seen[PRODUCERS * ITEMS]; /* times each item was taken */

static void put(struct queue *qu, uint32_t v)
{
	f2_mutex_lock(&qu->lock);
	while (qu->count == CAPACITY)
		f2_cond_wait(&qu->not_full, &qu->lock);
	qu->slot[(qu->head + qu->count++) % CAPACITY] = v;
	f2_cond_signal(&qu->not_empty);
	f2_mutex_unlock(&qu->lock);
}

static uint32_t take(struct queue *qu)
{
	f2_mutex_lock(&qu->lock);
	while (qu->count == 0)
		f2_cond_wait(&qu->not_empty, &qu->lock);
	uint32_t v = qu->slot[qu->head];
	qu->head = (qu->head + 1) % CAPACITY;
	qu->count--;
	f2_cond_signal(&qu->not_full);
	f2_mutex_unlock(&qu->lock);
	return v;
}

static void *producer(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg * ITEMS;
	for (uint32_t i = 0; i < ITEMS; i++)
		put(&q, base + i);
	return NULL;
}

static void *consumer(void *arg)
{
	long *taken = arg;
	for (uint32_t v; (v = take(&q)) != STOP; ++*taken)
		seen[v]++; /* distinct items: no two consumers write one entry */
	return NULL;
}

int main(void)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];
	long taken[CONSUMERS] = { 0 };
	int bad = 0;

	for (int i = 0; i < CONSUMERS; i++)
		pthread_create(&c[i], NULL, consumer, &taken[i]);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		put(&q, STOP);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);

	long total = 0;
	for (int i = 0; i < CONSUMERS; i++) {
		printf("consumer %d took %ld items\n", i, taken[i]);
		total += taken[i];
	}
	for (long i = 0; i < PRODUCERS * ITEMS; i++)
		if (seen[i] != 1) {
			if (bad++ < 5)
				fprintf(stderr, "item %ld taken %u times\n", i, seen[i]);
		}
	printf("%d producers x %d items through a queue of %d: %ld taken, %s\n", PRODUCERS, ITEMS,
	       CAPACITY, total, bad ? "WRONG" : "each exactly once");
	return bad || total != PRODUCERS * ITEMS || q.count != 0;
}
