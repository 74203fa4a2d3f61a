// The abseil peer of f2bench (see peer_absl.h): absl::Mutex for the mutex and
// rwlock rows (Lock/Unlock, ReaderLock/ReaderUnlock), absl::CondVar for the
// condition-variable rows. absl::Barrier is one-shot (the thread whose Block()
// returns true deletes it), so the reusable-barrier rows have no abseil entry.
#include "peer_absl.h"

#include <new>

#include "absl/synchronization/mutex.h"

extern "C" {

const size_t f2b_absl_mutex_size = sizeof(absl::Mutex);
const size_t f2b_absl_cond_size = sizeof(absl::CondVar);

// Debian's libabsl is built without NDEBUG, so its Mutex runs the debug-only
// lock-order (deadlock) graph on every acquisition unless told otherwise; a
// release build of abseil does not. f2bench compares against abseil as it
// runs in production, so the graph is switched off once, before any lock.
const char *f2b_absl_setup(void)
{
	absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
	return "yes (deadlock detection off)";
}

void f2b_absl_mutex_init(void *m) { new (m) absl::Mutex(); }
void f2b_absl_lock(void *m) { static_cast<absl::Mutex *>(m)->Lock(); }
void f2b_absl_unlock(void *m) { static_cast<absl::Mutex *>(m)->Unlock(); }
void f2b_absl_reader_lock(void *m) { static_cast<absl::Mutex *>(m)->ReaderLock(); }
void f2b_absl_reader_unlock(void *m) { static_cast<absl::Mutex *>(m)->ReaderUnlock(); }
void f2b_absl_mutex_destroy(void *m) { static_cast<absl::Mutex *>(m)->~Mutex(); }

void f2b_absl_cond_init(void *c) { new (c) absl::CondVar(); }
void f2b_absl_wait(void *c, void *m)
{
	static_cast<absl::CondVar *>(c)->Wait(static_cast<absl::Mutex *>(m));
}
void f2b_absl_signal(void *c) { static_cast<absl::CondVar *>(c)->Signal(); }
void f2b_absl_signal_all(void *c) { static_cast<absl::CondVar *>(c)->SignalAll(); }
void f2b_absl_cond_destroy(void *c) { static_cast<absl::CondVar *>(c)->~CondVar(); }

}
