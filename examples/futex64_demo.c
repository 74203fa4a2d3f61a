/* futex64_demo: a 64-bit event counter that threads wait on through the
 * futex2 layer.
 *
 * The counter starts just below 2^32 and crosses it: a 32-bit futex word would
 * wrap there, and a waiter comparing only the low half could sleep through
 * its event or wake for a wrong one. Here the whole 64-bit value is compared.
 *
 * Each waiter waits for one target value. Wakeups use the futex bitset: a
 * waiter for target t sleeps with mask 1 << (t % 64), and the producer that
 * makes the counter equal to v wakes mask 1 << (v % 64), so an increment wakes
 * only the waiters that might care (others sharing the bit wake spuriously and
 * sleep again). Exit 1 if a waiter returned before its target or the counter
 * ends wrong. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <f2sync/futex2.h>

#define START     ((UINT64_C(1) << 32) - 40)
#define PRODUCERS 4
#define EVENTS    20000             /* per producer */
#define WAITERS   16
#define FLAGS     (F2_SIZE_U64 | F2_PRIVATE)

static _Alignas(8) uint64_t counter = START;

static uint64_t bit_of(uint64_t v)
{
	return UINT64_C(1) << (v % 64);
}

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < EVENTS; i++) {
		uint64_t v = __atomic_add_fetch(&counter, 1, __ATOMIC_RELEASE);
		f2_futex_wake(&counter, bit_of(v), INT_MAX, FLAGS);
	}
	return NULL;
}

struct waiter {
	uint64_t target, seen;
	long sleeps, early;
	int err;
};

static void *waiter(void *arg)
{
	struct waiter *w = arg;
	for (;;) {
		uint64_t v = __atomic_load_n(&counter, __ATOMIC_ACQUIRE);
		if (v >= w->target) {
			w->seen = v;
			return NULL;
		}
		int r = f2_futex_wait(&counter, v, bit_of(w->target), FLAGS, NULL, CLOCK_MONOTONIC);
		if (r == 0)
			w->sleeps++;
		else if (r != -EAGAIN && r != -EINTR)
			w->err = r;
		if (w->err)
			return NULL;
	}
}

int main(void)
{
	pthread_t p[PRODUCERS], t[WAITERS];
	struct waiter w[WAITERS];
	const uint64_t total = (uint64_t)PRODUCERS * EVENTS;
	int bad = 0;

	printf("64-bit words are served by the \"%s\" backend here\n", f2_futex_backend(FLAGS));
	for (int i = 0; i < WAITERS; i++) {
		/* targets spread over the run, the first ones around 2^32 */
		w[i] = (struct waiter){ START + 1 + (uint64_t)i * (total / WAITERS) + (uint64_t)(i * 7 % 40),
		                        0, 0, 0, 0 };
		pthread_create(&t[i], NULL, waiter, &w[i]);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, NULL);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < WAITERS; i++) {
		pthread_join(t[i], NULL);
		int ok = !w[i].err && w[i].seen >= w[i].target;
		printf("  waiter %2d: target %#llx reached at %#llx after %ld wakeups %s\n", i,
		       (unsigned long long)w[i].target, (unsigned long long)w[i].seen, w[i].sleeps,
		       ok ? "" : "WRONG");
		bad |= !ok;
	}
	uint64_t end = __atomic_load_n(&counter, __ATOMIC_ACQUIRE);
	bad |= end != START + total;
	printf("counter went from %#llx to %#llx across 2^32: %s\n", (unsigned long long)(START),
	       (unsigned long long)end, bad ? "WRONG" : "every waiter woke at or after its event");
	return bad;
}
