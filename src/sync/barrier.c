/* f2_barrier_t: a reusable barrier whose object nobody touches once a round
 * has ended, so it can be freed as soon as any wait returns; no thread waits
 * for another to leave, and no wait needs another thread to be scheduled
 * except by parking. docs/design/barrier.md has the proofs.
 *
 * The barrier word, a NUMA pair { f2_barrier_t.seq; node; }:
 *   ARRIVED  bits 0-28  threads that have arrived in the current round
 *   PARKED   bit 30     next-round arrivals may be parked on the word
 *   DEAD     bit 31     destroyed: wait and destroy return EINVAL
 * The join word f2_barrier_t.joined (plain private u32, no NUMA pair):
 *   JOINED   bits 0-28  arrivals that have pushed their waiter node
 *   BACKOFF  bits 29-30 rounds left without spinning (set by the reset)
 *   LPARKED  bit 31     the last arrival may be parked waiting for JOINED
 * f2_barrier_t.head: the round's waiter nodes (struct waiter, each on the
 * stack of its thread), a push-only list until the last arrival takes it.
 * A waiter node's word (plain private u32, never a futex word):
 *   WAITING  0          the round has not ended for this thread
 *   RELEASED 1          the round has ended: the thread may return
 *   NPARKED  2          the thread may be parked on its release slot
 * A release slot (relslot[], static, never freed; plain private u32): a
 * counter bumped by every release that found a parked waiter of a barrier
 * hashed to it. Waiters park on it, never on memory of the barrier.
 *
 * A round, for count threads:
 *   arrive  CAS ARRIVED + 1 while ARRIVED < count (a thread of the next round
 *           that finds ARRIVED == count parks on seq until the reset).
 *   waiter  (ARRIVED < count - 1 before its CAS) pushes its node onto head,
 *           then JOINED + 1: its last access to the barrier object; then
 *           waits for RELEASED in its own node (spin, or one yield when
 *           count > the online CPUs, then park on the slot).
 *   last    (ARRIVED -> count) waits for JOINED == count - 1, takes the list
 *           (head -> NULL), JOINED -> 0, resets seq to 0 (waking next-round
 *           arrivals): its last access to the barrier object. Then it releases
 *           each node (next read before the release store), bumps the slot and
 *           wakes it if some waiter had parked, and returns
 *           F2_BARRIER_SERIAL_THREAD.
 * Every wait parks on a futex word whose waker is named; a spin before a park
 * happens only when count <= the online CPUs (C_SPIN in count), is bounded
 * in time (spin_ns()), and backs off: a round in which a waiter gave up
 * spinning before the last arrival came makes the next BACKOFF_ROUNDS rounds
 * park at once (the awaited threads are not getting a CPU), then one spins
 * again to probe. With more threads than CPUs a waiter instead yields its
 * CPU once before it parks, to the arrivals that have none: when they end
 * the round meanwhile, nobody parks and the release wakes nobody.
 *
 * destroy sees a round in progress as ARRIVED > 0: EBUSY from the first
 * arrival until the last thread resets the word. Threads that wait on their
 * nodes after the reset no longer use the object and are not seen.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "f2sync/barrier.h"
#include "sync_impl.h"
#include "../internal/atomic.h"
#include "../internal/time.h"

enum {
	B_ARRIVED  = 0x1fffffffu,
	B_PARKED   = 1u << 30,
	B_DEAD     = 1u << 31,
	J_JOINED   = 0x1fffffffu,
	J_BACKOFF  = 3u << 29,
	J_BACKOFF1 = 1u << 29,
	J_LPARKED  = 1u << 31,
	C_COUNT    = 0x1fffffffu, /* f2_barrier_t.count: threads per round */
	C_SPIN     = 1u << 31,    /* f2_barrier_t.count: waiters spin before parking */
	N_WAITING  = 0,
	N_RELEASED = 1u,
	N_PARKED   = 2u,
};
_Static_assert(B_ARRIVED == F2_BARRIER_MAX && C_COUNT == F2_BARRIER_MAX, "fields hold count");

#define MASK_ALL 1u
#define BACKOFF_ROUNDS 3u /* J_BACKOFF's largest value */
/* joined and the release slots: process-private, no NUMA pair, so a wake on
 * them reads no memory (a late wake is only a spurious wakeup). */
#define PLAIN_FLAGS (F2_PRIVATE | F2_SIZE_U32)

/* A waiting thread's node, on its stack: alive until its word reads RELEASED. */
struct waiter {
	struct waiter *next;
	uint32_t word;  /* WAITING, RELEASED, NPARKED */
};

/* Release slots: 64 cache lines, one counter each. */
#define SLOTS 64
static struct {
	uint32_t v;
	char pad[64 - sizeof(uint32_t)];
} relslot[SLOTS] __attribute__((aligned(64)));

static uint32_t *slot_of(const f2_barrier_t *b)
{
	uintptr_t h = (uintptr_t)b / sizeof(*b) * (uintptr_t)0x9e3779b97f4a7c15ull;

	return &relslot[(h >> (sizeof(uintptr_t) * 8 - 6)) % SLOTS].v;
}

/* Spin budget in ns: the F2SYNC_SPIN knob (default 100) x 300 ns, 30 us by
 * default. A barrier waits for the slowest arrival, and a spinner must
 * outlast the wake-up latency of a partner it has just woken (5-10 us
 * measured here), or two threads fall into parking in turn every round. */
static uint64_t spin_ns(void)
{
	return (uint64_t)f2_load_relaxed(&f2_tuning()->spin) * F2_SPIN_UNIT_NS; /* a hint, no ordering */
}

/* Spins while *word == v, up to ns nanoseconds; returns the last value read. */
static uint32_t spin_while(uint32_t *word, uint32_t v, uint64_t ns)
{
	uint64_t t0 = 0;
	uint32_t now = v;

	for (unsigned i = 1; ns && now == v; i++) {
		f2_cpu_relax();
		now = f2_load_relaxed(word); /* a hint; callers reload with acquire */
		if (i % 64 == 0) {
			uint64_t t = f2_now_ns(CLOCK_MONOTONIC);
			if (!t0)
				t0 = t;
			else if (t - t0 >= ns)
				break;
		}
	}
	return now;
}

/* Sets the parked bit in *word if it still holds v, then sleeps while the
 * word holds that value. Any return means "look again". */
static void mark_and_sleep(uint32_t *word, uint32_t v, uint32_t parked, unsigned flags)
{
	if (!(v & parked)) {
		if (!f2_cas_relaxed(word, &v, v | parked)) /* a flag for the waker, no data */
			return;
		v |= parked;
	}
	int r = f2_park(word, v, MASK_ALL, flags, NULL, CLOCK_MONOTONIC);
	if (r != 0 && r != -EAGAIN)
		sched_yield(); /* no backend parks this word: poll, slower but correct */
}

/* The spin budget of this round: none unless the threads fit the CPUs and
 * no backoff is running. Read after the arrival (acquire), so it is the
 * value the previous round's reset stored. */
static uint64_t spin_of(const f2_barrier_t *b, uint32_t count)
{
	if (!(count & C_SPIN))
		return 0;
	/* relaxed: ordered by the acquire arrive CAS (the reset stored it before its release) */
	return (f2_load_relaxed(&b->joined) & J_BACKOFF) ? 0 : spin_ns();
}

/* The backoff of the next round. A waiter that is parked already when the
 * last arrival comes gave up its spin before the round ended: then the
 * threads are not all running (other jobs hold the CPUs), and spinning only
 * takes CPU from the threads being waited for. The nodes are alive: nobody
 * is released yet. */
static uint32_t next_backoff(uint32_t joined, uint32_t count, const struct waiter *w)
{
	uint32_t left = joined & J_BACKOFF;

	if (left)
		return left - J_BACKOFF1;
	if (!(count & C_SPIN))
		return 0;
	for (; w; w = w->next)
		if (f2_load_relaxed(&w->word) == N_PARKED) /* a hint, no data */
			return J_BACKOFF;
	return 0;
}

/* Arrival: returns this thread's position in the round, or -1 if dead. */
static int arrive(f2_barrier_t *b, uint32_t count, uint64_t spin)
{
	uint32_t v = f2_load_relaxed(&b->seq); /* a guess: the CAS that uses it orders */

	for (;;) {
		if (v & B_DEAD)
			return -1;
		if ((v & B_ARRIVED) >= count) {
			/* the previous round's last thread is still resetting */
			if (spin_while(&b->seq, v, spin) == v)
				mark_and_sleep(&b->seq, v, B_PARKED, f2_pair_flags(&b->seq, F2_SIZE_U32));
			v = f2_load_relaxed(&b->seq); /* a guess: the CAS that uses it orders */
			continue;
		}
		/* acquire: pairs with the release exchange of the previous reset */
		if (f2_cas_weak_acquire(&b->seq, &v, v + 1))
			return (int)(v & B_ARRIVED);
	}
}

/* A waiter's last access to the barrier object: push the node, count in,
 * and wake the last arrival if it waits for us. */
static void join(f2_barrier_t *b, struct waiter *w, uint32_t count)
{
	void *head = f2_load_relaxed(&b->head); /* a guess: the CAS that uses it orders */

	do
		w->next = head;
	/* release: pairs with the acquire exchange in reset() */
	while (!f2_cas_weak_release(&b->head, &head, (void *)w));
	/* release: pairs with the acquire load in wait_joined(); the additions
	 * form one release sequence, so the last arrival synchronises with all */
	uint32_t old = f2_add_release(&b->joined, 1);
	/* The last arrival may now end the round and b be freed: this wake only
	 * passes the address (PLAIN_FLAGS), at worst a spurious wakeup. */
	if ((old & J_JOINED) + 1 == count - 1 && (old & J_LPARKED))
		f2_futex_wake(&b->joined, MASK_ALL, 1, PLAIN_FLAGS);
}

/* The last arrival: waits until every other arrival has joined. */
static void wait_joined(f2_barrier_t *b, uint32_t count, uint64_t spin)
{
	for (;;) {
		uint32_t v = f2_load_acquire(&b->joined); /* pairs with the release in join() */
		if ((v & J_JOINED) == count - 1)
			return;
		if (spin_while(&b->joined, v, spin) == v)
			mark_and_sleep(&b->joined, v, J_LPARKED, PLAIN_FLAGS);
	}
}

/* The barrier back to an empty round; returns the round's waiters. After
 * this, the last arrival touches nothing of the barrier. */
static struct waiter *reset(f2_barrier_t *b, uint32_t count)
{
	/* acquire: pairs with the release CAS of each push in join() (also
	 * ordered by wait_joined's acquire); the next round's pushes follow
	 * the seq reset below */
	struct waiter *list = f2_xchg_acquire(&b->head, (void *)NULL);
	uint32_t joined = f2_load_relaxed(&b->joined); /* ours alone now: every join is in */

	f2_store_relaxed(&b->joined, next_backoff(joined, count, list)); /* ordered by the release exchange below */
	/* release: pairs with the acquire CAS in arrive() of the next round */
	if (f2_xchg_release(&b->seq, 0) & B_PARKED) /* b lives on: nobody is RELEASED yet */
		f2_futex_wake(&b->seq, MASK_ALL, INT32_MAX, f2_pair_flags(&b->seq, F2_SIZE_U32));
	return list;
}

/* Ends the round for every node in list; b may be gone by now. */
static void release(uint32_t *slot, struct waiter *w)
{
	uint32_t parked = 0;

	while (w) {
		struct waiter *next = w->next; /* read before w may vanish */
		/* release: pairs with the acquire loads in wait_released() */
		parked |= f2_xchg_release(&w->word, N_RELEASED);
		w = next;
	}
	if (parked & N_PARKED) {
		/* release: pairs with the acquire load of the slot in wait_released() */
		f2_add_release(slot, 1);
		f2_futex_wake(slot, MASK_ALL, INT32_MAX, PLAIN_FLAGS);
	}
}

/* Waits until the node reads RELEASED, parking on the barrier's slot. With
 * more threads than CPUs (give_way) it first gives its CPU away once: an
 * arrival it waits for is then probably runnable without a CPU, and if that
 * arrival ends the round meanwhile, this wait costs no park and the release
 * no wake. Once only, never a loop: the yield may return at once (nobody
 * else runnable here, or a SCHED_FIFO thread of lower priority), and then
 * the thread parks as before. */
static void wait_released(struct waiter *w, uint32_t *slot, uint64_t spin, int give_way)
{
	spin_while(&w->word, N_WAITING, spin);
	if (give_way && f2_load_relaxed(&w->word) == N_WAITING) /* a hint; reloaded with acquire below */
		sched_yield();
	for (;;) {
		/* acquire: pairs with the release add in release(); a waiter that
		 * reads the bump reads RELEASED in its node below */
		uint32_t g = f2_load_acquire(slot);
		uint32_t v = f2_load_acquire(&w->word); /* pairs with the release xchg in release() */
		if (v == N_RELEASED)
			return;
		/* a flag for the releaser, no data; on failure v is RELEASED: look again */
		if (v == N_WAITING && !f2_cas_relaxed(&w->word, &v, N_PARKED))
			continue;
		int r = f2_park(slot, g, MASK_ALL, PLAIN_FLAGS, NULL, CLOCK_MONOTONIC);
		if (r != 0 && r != -EAGAIN)
			sched_yield(); /* no backend parks this word: poll, slower but correct */
	}
}

int f2_barrier_wait(f2_barrier_t *b)
{
	uint32_t cw = f2_load_relaxed(&b->count); /* set by init, before any wait */
	uint32_t count = cw & C_COUNT;
	uint64_t spin;
	int pos;

	if (count == 0)
		return EINVAL;
	if ((pos = arrive(b, count, (cw & C_SPIN) ? spin_ns() : 0)) < 0)
		return EINVAL;
	spin = spin_of(b, cw);
	if ((uint32_t)pos == count - 1) {
		uint32_t *slot = slot_of(b);
		wait_joined(b, count, spin);
		release(slot, reset(b, cw));
		return F2_BARRIER_SERIAL_THREAD;
	}
	struct waiter w = { NULL, N_WAITING };
	uint32_t *slot = slot_of(b);
	join(b, &w, count);
	wait_released(&w, slot, spin, !(cw & C_SPIN)); /* more threads than CPUs: give way */
	return 0;
}

/* C_SPIN if count threads can all run at once: spinning may then pay. */
static uint32_t may_spin(unsigned count)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 0 && (unsigned long)count <= (unsigned long)cpus ? C_SPIN : 0;
}

int f2_barrier_init(f2_barrier_t *b, unsigned count)
{
	if (count == 0 || count > F2_BARRIER_MAX)
		return EINVAL;
	b->count = count | may_spin(count);
	b->joined = 0;
	b->head = NULL;
	b->node = F2_NODE_AUTO;
	f2_store_relaxed(&b->seq, 0); /* init happens before any use (thread start, a lock) */
	return 0;
}

int f2_barrier_destroy(f2_barrier_t *b)
{
	uint32_t count = f2_load_relaxed(&b->count) & C_COUNT; /* set by init; no ordering needed */
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
