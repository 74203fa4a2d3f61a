/* f2sync embedding API for language runtimes: locks in bits of a header word
 * the runtime already owns, park hooks, tuning, and per-thread NUMA placement.
 * Functions return 0 or a positive errno, like the rest of the sync layer. */
#ifndef F2SYNC_RUNTIME_H
#define F2SYNC_RUNTIME_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "export.h"

F2_EXTERN_C_BEGIN

/* ---- Header-bit locks ------------------------------------------------------
 * A lock held in bit lock_bit of the naturally aligned 8/16/32/64-bit word at
 * word (size: F2_SIZE_U8 .. F2_SIZE_U64 from futex2.h), with bit wait_bit
 * meaning "a thread may be parked". Only those two bits are ever changed, with
 * atomic read-modify-writes; every other bit stays the runtime's, and the
 * runtime may change them concurrently (an atomic RMW on the same word).
 * Several bit-locks may share one word. Parking goes through the futex2
 * layer (private words), so every size works. EINVAL: NULL or misaligned word,
 * bad size, a bit outside the word, lock_bit == wait_bit, bad deadline.
 * EBUSY (trylock), ETIMEDOUT (timedlock), EPERM (unlock of a lock not held). */
F2_API int f2_bitlock_lock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit);
F2_API int f2_bitlock_trylock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit);
F2_API int f2_bitlock_timedlock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit,
                                const struct timespec *abstime, clockid_t clock);
F2_API int f2_bitlock_unlock(void *word, unsigned size, unsigned lock_bit, unsigned wait_bit);

/* ---- Park hooks -------------------------------------------------------------
 * before(arg) runs just before any f2sync lock parks the calling thread and
 * after(arg) just after it wakes, in that thread; never on a fast path. They
 * must not block on f2sync locks held by others and must preserve errno.
 * Process-wide; NULL, NULL removes them. ENOMEM if the record cannot be
 * allocated. */
typedef void (*f2_park_hook_fn)(void *arg);
F2_API int f2_set_park_hooks(f2_park_hook_fn before, f2_park_hook_fn after, void *arg);

/* ---- Tuning -----------------------------------------------------------------
 * Process-wide knobs; the environment sets their start values
 * (F2SYNC_SPIN, F2SYNC_HANDOFF_NS, F2SYNC_REQUEUE). EINVAL: unknown key or
 * a value out of range. */
enum f2_tune_key {
	F2_TUNE_SPIN = 0,       /* spin length before parking, 0 .. 1000000 (docs/api.md) */
	F2_TUNE_HANDOFF_NS = 1, /* wait after which a mutex is handed to a parked waiter */
	F2_TUNE_REQUEUE = 2,    /* 1: condvar broadcast requeues onto the mutex; 0: wakes all */
};
F2_API int f2_tune_set(int key, uint64_t value);
F2_API int f2_tune_get(int key, uint64_t *value);

/* ---- Thread placement ---------------------------------------------------------
 * Overrides the NUMA node that lock words first contended by the calling
 * thread are homed on (for runtimes that place threads themselves). node -1
 * removes the override. EINVAL for node < -1 or node >= f2_numa_node_count(). */
F2_API int f2_thread_set_node(int node);
/* The calling thread's override, or -1 when it has none. */
F2_API int f2_thread_get_node(void);

F2_EXTERN_C_END

#endif
