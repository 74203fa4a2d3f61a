/* The counting barrier: process-shared pthread barriers, and private ones with
 * more threads than f2_barrier_t counts (glibc accepts up to INT_MAX - 1).
 *
 * f2_barrier_t publishes each round on the stack of its first thread, which a
 * thread of another process cannot read; this barrier keeps everything in the
 * object instead:
 *   arrived  64-bit count of arrivals since init; arrival n belongs to round
 *            n / count and is that round's last when n % count == count - 1.
 *   gen      the futex word: how many rounds have completed, mod 2^32.
 * wait:  n = fetch_add(arrived, 1); the last arrival of its round adds 1 to
 *        gen (release) and wakes every waiter, returning
 *        PTHREAD_BARRIER_SERIAL_THREAD; the others sleep until gen has passed
 *        their round (acquire). Rounds may complete their gen additions out
 *        of order: "gen >= round + 1" still means round is complete, since
 *        round r + 1 cannot end before round r's last arrival.
 * No reset ever happens, so an arrival can never be counted in the wrong round.
 * After its gen addition the last thread touches nothing but the wake, which
 * is harmless on memory that is gone (destroy-after-wait). */
#include <errno.h>
#include <limits.h>

#include "sync_bridge.h"
#include "../internal/atomic.h"

#define ALL_WAITERS 0xffffffffu

void f2p_count_barrier_init(struct f2p_count_barrier *b, unsigned count)
{
	b->gen = 0;
	b->count = count;
	b->arrived = 0;
}

static unsigned word_flags(int shared)
{
	return shared ? F2_SIZE_U32 : F2_SIZE_U32 | F2_PRIVATE;
}

/* 1 once gen has reached target (mod 2^32, rounds are never 2^31 apart). */
static int passed(uint32_t gen, uint32_t target)
{
	return (int32_t)(gen - target) >= 0;
}

int f2p_count_barrier_wait(struct f2p_count_barrier *b, int shared)
{
	uint32_t count = b->count;
	/* acq_rel: a round's arrivals are ordered before its last arrival */
	uint64_t n = f2_add_acq_rel(&b->arrived, 1);
	uint32_t target = (uint32_t)(n / count) + 1;
	uint32_t g;

	if (n % count == count - 1) {
		/* release: pairs with the acquire loads of the round's waiters */
		f2_add_release(&b->gen, 1);
		f2_futex_wake(&b->gen, ALL_WAITERS, INT_MAX, word_flags(shared));
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	/* acquire: pairs with the release addition of the round's last thread */
	while (!passed(g = f2_load_acquire(&b->gen), target))
		f2_park(&b->gen, g, ALL_WAITERS, word_flags(shared), NULL, CLOCK_MONOTONIC);
	return 0;
}

/* EBUSY while a round has arrivals that it has not released. */
int f2p_count_barrier_destroy(struct f2p_count_barrier *b)
{
	/* the program orders destroy after the waits it knows of */
	return f2_load_relaxed(&b->arrived) % b->count ? EBUSY : 0;
}
