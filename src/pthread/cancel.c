/* Cancellation points in condvar waits.
 *
 * glibc (2.34+) acts on a deferred cancel only at cancellation points: it sends
 * no signal, so a thread asleep on a futex would sleep on. A shim cannot reach
 * glibc's internal "async cancel around the syscall" switch, and an
 * asynchronous unwind inside f2sync (e.g. while queued in an emulated parking
 * bucket) would corrupt it. Instead the shim also interposes pthread_cancel:
 *
 *   waiter:    w.cond = pc            (seq_cst)
 *              f2_cond wait: snapshot the sequence, release the mutex,
 *              check f2p_cancel_pending() -> reads w.req (seq_cst),
 *              sleep while the sequence is unchanged
 *              w.cond = NULL; if req: pass through the list lock (below);
 *              retake the mutex; pthread_testcancel()
 *   canceller: glibc's pthread_cancel (sets glibc's flag); under the list lock:
 *              w.req = 1              (seq_cst)
 *              read w.cond (seq_cst); if set, broadcast it
 *
 * Either the waiter's check sees req (it returns at once), or the check came
 * first in the seq_cst order, so the canceller sees w.cond and its broadcast
 * changes the sequence after the waiter's snapshot: the sleep ends. The
 * spurious wakeups of the other waiters are allowed by POSIX. The waiter then
 * retakes the mutex and pthread_testcancel() unwinds with the mutex held.
 *
 * The waiters are found by pthread_t in a list of per-thread records, each
 * registered on its thread's first wait and removed at thread exit (a key
 * destructor); the list lock is taken only then and by pthread_cancel, never
 * on a wait. */
#include <errno.h>
#include <stdlib.h>

#include "cancel.h"
#include "symver.h"
#include "sync_bridge.h"
#include "../internal/atomic.h"

struct waiter {
	pthread_t self;
	pthread_cond_t *cond;     /* the condvar waited on, or NULL */
	int req;                  /* pthread_cancel() was called on this thread */
	int listed;
	struct waiter *prev, *next;
};

static __thread struct waiter me;
/* Taken through pthread_mutex_lock, i.e. through the shim itself (or a
 * sanitizer's interceptor in front of it, which then sees the lock). */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *list_head;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void unlist(void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&list_lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		list_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->listed = 0;
	pthread_mutex_unlock(&list_lock);
}

static void fork_child(void)
{
	/* only the forking thread exists in the child; its record is re-listed
	 * on its next wait */
	list_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	list_head = NULL;
	me.listed = 0;
}

static void make_key(void)
{
	if (pthread_key_create(&exit_key, unlist) != 0)
		abort();
	pthread_atfork(NULL, NULL, fork_child);
}

static f2_cold void enlist(void)
{
	pthread_once(&key_once, make_key);
	me.self = pthread_self();
	pthread_mutex_lock(&list_lock);
	me.prev = NULL;
	me.next = list_head;
	if (list_head)
		list_head->prev = &me;
	list_head = &me;
	me.listed = 1;
	pthread_mutex_unlock(&list_lock);
	pthread_setspecific(exit_key, &me);
}

void f2p_waiter_enter(pthread_cond_t *pc)
{
	if (f2_unlikely(!me.listed))
		enlist();
	f2_store_seq(&me.cond, pc);
}

/* A canceller that read w.cond must not touch the condvar after the waiter
 * returned (the program may free it): with a request pending, the waiter waits
 * for the canceller's critical section to end. */
void f2p_waiter_leave(void)
{
	f2_store_seq(&me.cond, NULL);
	if (f2_unlikely(f2_load_seq(&me.req))) {
		pthread_mutex_lock(&list_lock);
		pthread_mutex_unlock(&list_lock);
	}
}

int f2p_cancel_pending(void)
{
	int state;

	if (f2_likely(!f2_load_seq(&me.req)))
		return 0;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	pthread_setcancelstate(state, NULL);
	return state == PTHREAD_CANCEL_ENABLE;
}

int F2P_IMPL(pthread_cancel)(pthread_t th)
{
	int r = f2p_real()->cancel(th);
	pthread_cond_t *pc;

	if (r != 0)
		return r;
	pthread_mutex_lock(&list_lock);
	for (struct waiter *w = list_head; w; w = w->next) {
		if (!pthread_equal(w->self, th))
			continue;
		f2_store_seq(&w->req, 1);
		pc = f2_load_seq(&w->cond);
		if (pc)
			f2_cond_broadcast(&F2P_COND(pc)->c);
		break;
	}
	pthread_mutex_unlock(&list_lock);
	return 0;
}
F2P_EXPORT_LIBC(pthread_cancel);
