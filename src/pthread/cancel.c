/* Cancellation points in condvar waits.
 *
 * glibc (2.34+) acts on a deferred cancel only at cancellation points: it sends
 * no signal, so a thread asleep on a futex would sleep on. A shim cannot reach
 * glibc's internal "async cancel around the syscall" switch, and an
 * asynchronous unwind inside f2sync (e.g. while queued in an emulated parking
 * bucket) would corrupt it. Instead the shim also interposes pthread_cancel.
 *
 * Each thread has a record in static TLS (struct waiter, initial-exec):
 *   cond   the condvar it waits on, or NULL
 *   req    pthread_cancel() was called on it
 *   busy   cancellers that may still touch cond (a futex word)
 *
 *   waiter:    w.cond = pc            (seq_cst)
 *              f2_cond wait: snapshot the sequence, release the mutex,
 *              check f2p_cancel_pending() -> reads w.req (seq_cst),
 *              sleep while the sequence is unchanged
 *              w.cond = NULL          (seq_cst)
 *              if w.req: sleep until w.busy == 0
 *              retake the mutex; pthread_testcancel()
 *   canceller: glibc's pthread_cancel (sets glibc's flag); then
 *              w.busy += 1; w.req = 1; read w.cond (all seq_cst)
 *              if set, broadcast it
 *              w.busy -= 1; if now 0, wake the waiter's busy word
 *
 * Either the waiter's check sees req (it returns at once), or the check came
 * first in the seq_cst order, so the canceller sees w.cond and its broadcast
 * changes the sequence after the waiter's snapshot: the sleep ends. The
 * spurious wakeups of the other waiters are allowed by POSIX. The waiter then
 * retakes the mutex and pthread_testcancel() unwinds with the mutex held.
 * The program may free the condvar once the waiter returned, so a canceller
 * that read w.cond must be done with it before: if it read a non-NULL cond,
 * w.cond = NULL came later in the seq_cst order, so the waiter's read of req
 * that follows sees 1, and its read of busy sees the canceller's +1 until the
 * canceller is done. The final wake may reach a record whose thread has gone
 * on: a futex wake on an address is harmless, whatever is there now.
 *
 * Finding another thread's record: static TLS sits at the same offset from
 * the thread descriptor in every thread, and glibc's pthread_t is the address
 * of that descriptor (on every architecture glibc supports: TLS above or below
 * the thread pointer, the descriptor at a fixed distance from it). So the
 * record of th is th + (&me - pthread_self()), computed in our own thread. The
 * record is valid as long as th is (POSIX: until it is joined or, detached,
 * has exited): glibc frees a thread's stack and TLS only then. No list, no
 * lock, no pthread key (a program may use all PTHREAD_KEYS_MAX of them), no
 * registration on the first wait. initial-exec also holds when the shim is
 * dlopen'ed: glibc then places the block in its static TLS reserve, in every
 * thread (the dlopen fails cleanly if the reserve is gone). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "cancel.h"
#include "symver.h"
#include "sync_bridge.h"
#include "../internal/atomic.h"

struct waiter {
	pthread_cond_t *cond;
	int req;
	uint32_t busy;
};

static __thread struct waiter me __attribute__((tls_model("initial-exec")));

#define BUSY_FLAGS (F2_SIZE_U32 | F2_PRIVATE)
#define BUSY_MASK  1u

/* The record of thread th (see the header comment). */
static struct waiter *record_of(pthread_t th)
{
	uintptr_t off = (uintptr_t)&me - (uintptr_t)pthread_self();

	return (struct waiter *)((uintptr_t)th + off);
}

/* Only the forking thread exists in the child: no canceller is busy with it. */
static void fork_child(void)
{
	me.busy = 0;
}

__attribute__((constructor)) static void cancel_init(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

void f2p_waiter_enter(pthread_cond_t *pc)
{
	f2_store_seq(&me.cond, pc); /* pairs with the canceller's load of cond */
}

void f2p_waiter_leave(void)
{
	uint32_t b;

	f2_store_seq(&me.cond, NULL); /* pairs with the canceller's load of cond */
	if (f2_likely(!f2_load_seq(&me.req))) /* pairs with the canceller's store */
		return;
	/* pairs with the canceller's decrement: it is done with the condvar */
	while ((b = f2_load_seq(&me.busy)) != 0)
		f2_futex_wait(&me.busy, b, BUSY_MASK, BUSY_FLAGS, NULL, CLOCK_MONOTONIC);
}

int f2p_cancel_pending(void)
{
	int state;

	if (f2_likely(!f2_load_seq(&me.req))) /* pairs with the canceller's store */
		return 0;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	pthread_setcancelstate(state, NULL);
	return state == PTHREAD_CANCEL_ENABLE;
}

int F2P_IMPL(pthread_cancel)(pthread_t th)
{
	int r = f2p_real()->cancel(th);
	struct waiter *w;
	pthread_cond_t *pc;

	if (r != 0)
		return r;
	w = record_of(th);
	f2_add_seq(&w->busy, 1);    /* pairs with the waiter's load of busy */
	f2_store_seq(&w->req, 1);   /* pairs with the waiter's loads of req */
	pc = f2_load_seq(&w->cond); /* pairs with the waiter's stores of cond */
	if (pc)
		f2_cond_broadcast(&F2P_COND(pc)->c);
	/* from here on the waiter may return and free the condvar */
	if (f2_sub_seq(&w->busy, 1) == 1) /* pairs with the waiter's load of busy */
		f2_futex_wake(&w->busy, BUSY_MASK, INT_MAX, BUSY_FLAGS);
	return 0;
}
F2P_EXPORT_LIBC(pthread_cancel);
