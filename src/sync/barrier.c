/* f2_barrier_t: a reusable barrier whose object nobody touches once a round
 * has ended, so it can be freed as soon as any wait returns; and no thread
 * ever waits for another to be scheduled except by parking.
 *
 * The barrier word, a NUMA pair { f2_barrier_t.seq; node; }:
 *   ARRIVED  bits 0-28  threads that have arrived in the current round
 *   PUB      bit 29     the round's instance is published in b->inst
 *   PARKED   bit 30     threads may be parked on the word
 *   DEAD     bit 31     destroyed: wait and destroy return EINVAL
 * The instance (struct instance, on the stack of the round's first thread,
 * its "owner"), two plain private u32 futex words, no NUMA pair (see leave()):
 *   word:  JOINED   bits 0-28  threads done with the barrier object (all but the last)
 *          RELEASED bit 29     the round has ended
 *          PARKED   bit 30     joined threads may be parked (mask REL)
 *          LPARKED  bit 31     the last thread may be parked waiting for JOINED (mask LAST)
 *   left:  LEFT     bits 0-30  threads other than the owner done with the instance
 *          OPARKED  bit 31     the owner may be parked waiting for LEFT == count - 1
 *
 * A round, for count threads:
 *   arrive   CAS ARRIVED + 1 while ARRIVED < count (a thread of the next round
 *            that finds ARRIVED == count parks until the reset).
 *   owner    (ARRIVED 0 -> 1) builds the instance, stores b->inst, sets PUB
 *            and wakes the parked; joins; parks until LEFT == count - 1.
 *   middle   waits for PUB, reads b->inst, joins: JOINED + 1 (its last access
 *            to the barrier object in this round); parks until RELEASED.
 *   last     (ARRIVED -> count) waits for PUB and for JOINED == count - 1,
 *            resets the word (ARRIVED 0, PUB clear) and b->inst, wakes the
 *            parked, and only then sets RELEASED and wakes the instance.
 *            It returns F2_BARRIER_SERIAL_THREAD.
 *   leave    every thread but the owner adds 1 to LEFT after its last access
 *            to the instance; the one that completes LEFT wakes the owner.
 * Every wait above parks on a futex word whose waker is named, so a waiter
 * never needs to be scheduled before the thread it waits for can proceed
 * (SCHED_FIFO: a waiter that spun or yielded on the CPU of a lower-priority
 * thread would starve it for ever). Spinning before a park happens only when
 * count <= the online CPUs at init (b->spin); with more threads than CPUs the
 * awaited thread is likely not running and a spin only delays it.
 *
 * So every access to the barrier object of a round happens before RELEASED,
 * and no wait returns before RELEASED: freeing the barrier after a wait has
 * returned is safe. Every access to the instance happens before its thread's
 * LEFT addition, and the owner returns only after all of them; the one access
 * that may come later is the owner's wake (leave()), which passes the address
 * to the futex layer without reading it.
 *
 * destroy sees a round in progress as ARRIVED > 0: EBUSY from the first
 * arrival until the last thread resets the word. Threads that are still
 * returning from an ended round no longer use the object and are not seen.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <unistd.h>

#include "f2sync/barrier.h"
#include "sync_impl.h"
#include "../internal/atomic.h"

enum {
	B_ARRIVED  = 0x1fffffffu,
	B_PUB      = 1u << 29,
	B_PARKED   = 1u << 30,
	B_DEAD     = 1u << 31,
	I_JOINED   = 0x1fffffffu,
	I_RELEASED = 1u << 29,
	I_PARKED   = 1u << 30,
	I_LPARKED  = 1u << 31,
	L_LEFT     = 0x7fffffffu,
	L_OPARKED  = 1u << 31,
};
_Static_assert(B_ARRIVED == F2_BARRIER_MAX, "arrival field holds count");

#define MASK_ALL  1u  /* waiters on the barrier word */
#define MASK_REL  1u  /* instance word: joined threads waiting for RELEASED */
#define MASK_LAST 2u  /* instance word: the last thread waiting for JOINED */
#define MASK_OWN  1u  /* instance left: the owner waiting for LEFT */
/* The instance words: process-private, no NUMA pair (the instance is on the
 * owner's stack, local to it; and a wake with these flags reads no memory). */
#define INST_FLAGS (F2_PRIVATE | F2_SIZE_U32)

struct instance {
	uint32_t word;  /* JOINED, RELEASED, PARKED, LPARKED */
	uint32_t left;  /* LEFT, OPARKED */
};

/* Spins up to n rounds for *word to leave v; returns the current value. */
static uint32_t spin_while(uint32_t *word, uint32_t v, unsigned n)
{
	uint32_t now = v;

	for (unsigned i = 0; i < n && now == v; i++) {
		f2_cpu_relax();
		now = f2_load_relaxed(word); /* a hint; callers reload with acquire */
	}
	return now;
}

/* Spins (up to spin rounds), sets the parked bit in *word if it is still v,
 * then sleeps while the word holds that value. Any return means "look again". */
static void park(uint32_t *word, uint32_t v, uint32_t parked, unsigned mask,
		 unsigned flags, unsigned spin)
{
	if (spin && spin_while(word, v, spin) != v)
		return;
	if (!(v & parked)) {
		if (!f2_cas_relaxed(word, &v, v | parked)) /* a flag for the waker, no data */
			return;
		v |= parked;
	}
	int r = f2_park(word, v, mask, flags, NULL, CLOCK_MONOTONIC);
	if (r != 0 && r != -EAGAIN)
		sched_yield(); /* no backend parks this word: poll, slower but correct */
}

static void wake_all(uint32_t *word, unsigned mask, unsigned flags)
{
	f2_futex_wake(word, mask, INT32_MAX, flags);
}

/* Spin rounds before parking for this barrier: see the block comment. */
static unsigned spin_of(const f2_barrier_t *b)
{
	/* b->spin: set by init; the tuning knob is a hint, no ordering */
	return f2_load_relaxed(&b->spin) ? f2_load_relaxed(&f2_tuning()->spin) : 0;
}

/* Arrival: returns this thread's position in the round, or -1 if dead. */
static int arrive(f2_barrier_t *b, uint32_t count, unsigned spin)
{
	uint32_t v = f2_load_relaxed(&b->seq); /* a guess: the CAS that uses it orders */

	for (;;) {
		if (v & B_DEAD)
			return -1;
		if ((v & B_ARRIVED) >= count) {
			/* the previous round's last thread is still resetting */
			park(&b->seq, v, B_PARKED, MASK_ALL, f2_pair_flags(&b->seq, F2_SIZE_U32), spin);
			v = f2_load_relaxed(&b->seq); /* a guess: the CAS that uses it orders */
			continue;
		}
		/* acquire: pairs with the release exchange of the previous reset */
		if (f2_cas_weak_acquire(&b->seq, &v, v + 1))
			return (int)(v & B_ARRIVED);
	}
}

/* Publishes the owner's instance and wakes those waiting for it. */
static void publish(f2_barrier_t *b, struct instance *in)
{
	uint32_t v = f2_load_relaxed(&b->seq); /* a guess: the CAS that uses it orders */

	f2_store_relaxed(&b->inst, (void *)in); /* ordered by the release CAS below */
	/* release: pairs with the acquire load in instance_of() */
	while (!f2_cas_weak_release(&b->seq, &v, (v | B_PUB) & ~B_PARKED))
		;
	/* the round cannot end before the owner joins: b is still alive */
	if (v & B_PARKED)
		wake_all(&b->seq, MASK_ALL, f2_pair_flags(&b->seq, F2_SIZE_U32));
}

static struct instance *instance_of(f2_barrier_t *b, unsigned spin)
{
	for (;;) {
		uint32_t v = f2_load_acquire(&b->seq); /* pairs with the release CAS in publish() */
		if (v & B_PUB)
			return (struct instance *)f2_load_relaxed(&b->inst); /* ordered by the acquire above */
		park(&b->seq, v, B_PARKED, MASK_ALL, f2_pair_flags(&b->seq, F2_SIZE_U32), spin);
	}
}

/* Done with the barrier object: count in and wake the last thread if it
 * waits for us. The instance is alive: its owner waits for our leave(). */
static void join(struct instance *in, uint32_t count)
{
	/* release: pairs with the acquire load of the last thread in wait_joined() */
	uint32_t old = f2_add_release(&in->word, 1);

	if ((old & I_JOINED) + 1 == count - 1 && (old & I_LPARKED))
		f2_futex_wake(&in->word, MASK_LAST, 1, INST_FLAGS);
}

static void wait_released(struct instance *in, unsigned spin)
{
	for (;;) {
		uint32_t v = f2_load_acquire(&in->word); /* pairs with the release in end_round() */
		if (v & I_RELEASED)
			return;
		park(&in->word, v, I_PARKED, MASK_REL, INST_FLAGS, spin);
	}
}

static void wait_joined(struct instance *in, uint32_t count, unsigned spin)
{
	for (;;) {
		uint32_t v = f2_load_acquire(&in->word); /* pairs with the release in join() */
		if ((v & I_JOINED) == count - 1)
			return;
		park(&in->word, v, I_LPARKED, MASK_LAST, INST_FLAGS, spin);
	}
}

/* The barrier word back to an empty round; wakes next-round early comers. */
static void reset(f2_barrier_t *b)
{
	f2_store_relaxed(&b->inst, NULL); /* ordered by the release exchange below */
	/* release: pairs with the acquire CAS in arrive() of the next round */
	if (f2_xchg_release(&b->seq, 0) & B_PARKED) /* b lives on: nobody is RELEASED yet */
		wake_all(&b->seq, MASK_ALL, f2_pair_flags(&b->seq, F2_SIZE_U32));
	/* The barrier object is not touched again by this round. */
}

/* Last thread: end the round (its instance was published). */
static void end_round(f2_barrier_t *b, struct instance *in, uint32_t count, unsigned spin)
{
	wait_joined(in, count, spin);
	reset(b);
	/* acq_rel (release half): pairs with the acquire load in wait_released(); the instance
	 * lives on until we leave() */
	if (f2_or_acq_rel(&in->word, I_RELEASED) & I_PARKED)
		wake_all(&in->word, MASK_REL, INST_FLAGS);
}

/* Not the owner: our last access to the instance. The thread that completes
 * LEFT wakes the owner if it parked. After the addition the owner may return
 * and its stack frame (the instance) be reused, so the wake may land on
 * whatever lives there next: INST_FLAGS carry no NUMA pair, so the futex
 * layer only hashes the address, and the worst case is a spurious wakeup of
 * a later wait at the same address, which every wait here absorbs by looking
 * again (as the mutex unlock's wake after its store). */
static void leave(struct instance *in, uint32_t count)
{
	/* release: pairs with the acquire load in owner_exit() */
	uint32_t old = f2_add_release(&in->left, 1);

	if ((old & L_LEFT) + 1 == count - 1 && (old & L_OPARKED))
		f2_futex_wake(&in->left, MASK_OWN, 1, INST_FLAGS);
}

/* The owner: the instance may go once every other thread has left it. */
static void owner_exit(struct instance *in, uint32_t count, unsigned spin)
{
	for (;;) {
		uint32_t v = f2_load_acquire(&in->left); /* pairs with the release in leave() */
		if ((v & L_LEFT) == count - 1)
			return;
		park(&in->left, v, L_OPARKED, MASK_OWN, INST_FLAGS, spin);
	}
}

int f2_barrier_wait(f2_barrier_t *b)
{
	uint32_t count = f2_load_relaxed(&b->count); /* set by init, before any wait */
	unsigned spin;
	int pos;

	if (count == 0 || count > F2_BARRIER_MAX)
		return EINVAL;
	spin = spin_of(b);
	if ((pos = arrive(b, count, spin)) < 0)
		return EINVAL;
	if (count == 1) {
		reset(b);
		return F2_BARRIER_SERIAL_THREAD;
	}
	if (pos == 0) {
		struct instance in = { 0, 0 };
		publish(b, &in);
		join(&in, count);
		owner_exit(&in, count, spin);
		return 0;
	}
	struct instance *in = instance_of(b, spin);
	if ((uint32_t)pos == count - 1) {
		end_round(b, in, count, spin);
		leave(in, count);
		return F2_BARRIER_SERIAL_THREAD;
	}
	join(in, count);
	wait_released(in, spin);
	leave(in, count);
	return 0;
}

/* 1 if count threads can all run at once: spinning may then pay. */
static uint32_t may_spin(unsigned count)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 0 && (unsigned long)count <= (unsigned long)cpus;
}

int f2_barrier_init(f2_barrier_t *b, unsigned count)
{
	if (count == 0 || count > F2_BARRIER_MAX)
		return EINVAL;
	b->count = count;
	b->spin = may_spin(count);
	b->inst = NULL;
	b->node = F2_NODE_AUTO;
	f2_store_relaxed(&b->seq, 0); /* init happens before any use (thread start, a lock) */
	return 0;
}

int f2_barrier_destroy(f2_barrier_t *b)
{
	uint32_t count = f2_load_relaxed(&b->count); /* set by init; no ordering needed */
	uint32_t v = f2_load_relaxed(&b->seq); /* a guess: the CAS that uses it orders */

	for (;;) {
		if (count == 0 || (v & B_DEAD))
			return EINVAL;
		if (v & B_ARRIVED)
			return EBUSY;
		/* acq_rel: the last reset (release) happens before the barrier dies */
		if (f2_cas_acq_rel(&b->seq, &v, B_DEAD))
			return 0;
	}
}
