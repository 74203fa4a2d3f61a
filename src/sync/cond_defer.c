/* Condvar signals whose wake waits for the mutex's release.
 *
 * A signal made under the mutex would wake its waiter while the signaller
 * still holds the mutex: on the signaller's CPU the woken thread usually
 * preempts it, finds the mutex held and has to give the CPU back. So when
 * the signaller holds the condvar's mutex, signal records the wake here and
 * marks the mutex word PENDING (mutex_impl.h), and whichever thread releases
 * the word next makes the wake after its release (f2_mx_unlock_slow).
 * docs/design/cond.md, "Deferring the signal's wake to the release", has the
 * proofs; in short:
 *
 *   slots      a static table of words, one per hash of a mutex word's
 *              address, each in one of three states:
 *                0                  empty
 *                key | n            n wakes (1..CD_MAX) owed to the word of key
 *                key | FLUSHING | n a flush is making those n wakes
 *              key is the bound key (futex2/bound.h) of one condvar sequence
 *              word, in the bits above CD_COUNT_BITS. A key names the word
 *              without its memory, so a wake made after the condvar was freed
 *              is harmless (at worst spurious).
 *   defer      only when this thread's last lock was of m and it has not
 *              unlocked since (f2_cd_held: m is alive and ours), the word
 *              is HELD, the condvar word has a key, and the slot is free or
 *              already holds that key: count + 1, then PENDING on the word
 *              (a release CAS). If the word is found released meanwhile (only
 *              an unlock by another thread can do that), the wake is made
 *              at once instead.
 *   flush      mark the slot FLUSHING, wake its count, then clear it: by
 *              the releaser of a PENDING word, after the release; by a
 *              waiter, under the mutex, before it counts itself in, when the
 *              slot is busy and the word is not PENDING (a release whose
 *              flush has not finished); by pthread_cond_destroy's check. A
 *              FLUSHING slot takes no new count (that signal wakes at once)
 *              and is cleared only by its flusher, so what is cleared is what
 *              was woken. Wake first, clear after: a waiter that finds the
 *              slot empty knows the wake was made before it can sleep, and
 *              one that finds it FLUSHING makes the wakes itself first, so a
 *              signal's wake never goes to a thread that began waiting after
 *              it.
 *   twice      a wake may be made twice (a flush that meets FLUSHING, a hash
 *              collision, an early flush): a spurious wakeup, which the
 *              condvar allows.
 */
#include <stdint.h>

#include "f2sync/mutex.h"
#include "cond_defer.h"
#include "mutex_impl.h"
#include "../futex2/bound.h"
#include "../internal/atomic.h"
#include "../internal/test_hooks.h"

#define CD_SLOT_BITS 6
#define CD_SLOTS (1u << CD_SLOT_BITS)
#define CD_COUNT_BITS (64 - F2_BOUND_KEY_BITS)
#define CD_FLUSHING (1u << (CD_COUNT_BITS - 1)) /* a flush is making the wakes */
#define CD_MAX (CD_FLUSHING - 1u)

__thread __attribute__((tls_model("initial-exec"))) f2_mutex_t *f2_cd_held;

#ifdef F2SYNC_TEST_HOOKS
/* Signals whose wake was deferred to a release (read by the tests). */
f2_hidden uint64_t f2_cd_deferred;
#endif

static struct {
	uint64_t v;
} __attribute__((aligned(64))) cd_slot[CD_SLOTS];

static uint64_t *slot_of(const void *mword)
{
	uint64_t a = (uint64_t)(uintptr_t)mword >> 3;

	return &cd_slot[(a * 0x9e3779b97f4a7c15ull) >> (64 - CD_SLOT_BITS)].v; /* Fibonacci hash */
}

static void wake(uint64_t v)
{
	f2_wake_key(v >> CD_COUNT_BITS, F2_MX_WAKE_ANY, (int)(v & CD_MAX));
}

void f2_cd_flush(const void *mword)
{
	uint64_t *slot = slot_of(mword);
	/* seq_cst: after the caller's release or count in S; pairs with the
	 * slot CAS of f2_cd_defer */
	uint64_t v = f2_load_seq(slot);

	do {
		if (!v)
			return;
		if (v & CD_FLUSHING) {
			/* Another flush is making these wakes and may not have yet:
			 * make them too, so that they precede whatever the caller
			 * does next (a waiter's sleep). Twice is spurious, never lost. */
			wake(v);
			return;
		}
	} while (!f2_cas_seq(slot, &v, v | CD_FLUSHING)); /* seq_cst: see the load */
	wake(v);
	/* seq_cst, after the wake: a waiter that reads the cleared slot sleeps
	 * after the wake was made. Nobody else changes a FLUSHING slot (claim()
	 * refuses it), so the entry cleared is the one woken: no ABA. */
	f2_store_seq(slot, 0);
}

int f2_cd_busy(const void *mword)
{
	return f2_load_seq(slot_of(mword)) != 0; /* seq_cst: see f2_cd_flush */
}

/* Counts one wake for key into the slot. 0 if the slot holds another word
 * or is full. */
static int claim(uint64_t *slot, uint64_t key)
{
	uint64_t v = f2_load_seq(slot), want; /* seq_cst: see f2_cd_flush */

	do {
		if (!v)
			want = key << CD_COUNT_BITS | 1;
		else if (v >> CD_COUNT_BITS == key && !(v & CD_FLUSHING) && (v & CD_MAX) != CD_MAX)
			want = v + 1;
		else
			return 0;
	} while (!f2_cas_seq(slot, &v, want)); /* seq_cst: before the mark */
	return 1;
}

/* PENDING for a word that is HELD. Only its holder, this thread, releases
 * it, and not now: no store unlock (store_unlock.h) is in flight that could
 * wipe the bit, so unlike a waiter's mark this needs no fence. With the
 * store unlock on, RMW_UNLOCK goes with it as with every mark. */
static unsigned pending(unsigned v)
{
	/* relaxed: a process-wide mode, as mark() reads it (mutex_core.c) */
	unsigned rmw = f2_load_relaxed(&f2_su_state) == F2_SU_ON ? F2_MX_RMW_UNLOCK : 0u;

	return v | F2_MX_PENDING | rmw;
}

int f2_cd_defer(f2_mutex_t *m, const struct f2_bound *b)
{
	unsigned v;
	uint64_t key;

	if (!m || m != f2_cd_held)
		return 0;
	/* a process-shared mutex may be released by another process, which
	 * does not see this table. relaxed: the shim sets the node at init,
	 * before the mutex is shared, and our acquire of m ordered it */
	if (f2_load_relaxed(&m->node) == F2_NODE_SHARED)
		return 0;
	v = f2_mx_load(&m->word, F2_SIZE_U32);
	if (!(v & F2_MX_HELD) || !(key = f2_bound_key(b)) || !claim(slot_of(&m->word), key))
		return 0;
	while (!(v & F2_MX_PENDING)) {
		if (!(v & F2_MX_HELD)) { /* released after all (another thread unlocked it) */
			f2_cd_flush(&m->word); /* no release will see it: wake now */
			return 1;
		}
		/* release: pairs with the acquire fence of the releaser that
		 * reads PENDING, which then reads our slot entry */
		if (f2_mx_cas(&m->word, F2_SIZE_U32, &v, pending(v), memory_order_release))
			break;
	}
	F2_TEST_COUNT(f2_cd_deferred, 1);
	return 1;
}

void f2_cd_flush_cond(const void *mword, uint64_t key)
{
	uint64_t *slot = slot_of(mword);

	if (key && f2_load_seq(slot) >> CD_COUNT_BITS == key) /* seq_cst: see f2_cd_flush */
		f2_cd_flush(mword);
}
