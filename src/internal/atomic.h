/* Atomics for f2sync: C11 <stdatomic.h> with the memory order in the name.
 *
 * Public objects (f2_mutex_t, futex words handed to the futex2 layer) are plain
 * integers so that the headers compile as C++; every access to them goes
 * through F2_ATOMIC(), which views the object as its _Atomic counterpart.
 * _Atomic uN has the size and alignment of uN on every target we build for
 * (checked below), and the futex words are only ever accessed atomically.
 *
 * Every use of an order other than seq_cst says at the call site what it
 * pairs with. */
#ifndef F2_INTERNAL_ATOMIC_H
#define F2_INTERNAL_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

_Static_assert(sizeof(_Atomic uint8_t) == 1 && _Alignof(_Atomic uint8_t) == 1, "u8");
_Static_assert(sizeof(_Atomic uint16_t) == 2 && _Alignof(_Atomic uint16_t) == 2, "u16");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && _Alignof(_Atomic uint32_t) == 4, "u32");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && _Alignof(_Atomic uint64_t) == 8, "u64");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2, "lock-free");

/* View a plain integer lvalue pointer as a pointer to its atomic type. */
#define F2_ATOMIC(p) ((_Atomic __typeof__(*(p)) *)(p))

#define f2_load_relaxed(p)  atomic_load_explicit(F2_ATOMIC(p), memory_order_relaxed)
#define f2_load_acquire(p)  atomic_load_explicit(F2_ATOMIC(p), memory_order_acquire)
#define f2_load_seq(p)      atomic_load_explicit(F2_ATOMIC(p), memory_order_seq_cst)
#define f2_store_relaxed(p, v) atomic_store_explicit(F2_ATOMIC(p), (v), memory_order_relaxed)
#define f2_store_release(p, v) atomic_store_explicit(F2_ATOMIC(p), (v), memory_order_release)
#define f2_store_seq(p, v)  atomic_store_explicit(F2_ATOMIC(p), (v), memory_order_seq_cst)

#define f2_xchg_acquire(p, v) atomic_exchange_explicit(F2_ATOMIC(p), (v), memory_order_acquire)
#define f2_xchg_release(p, v) atomic_exchange_explicit(F2_ATOMIC(p), (v), memory_order_release)
#define f2_xchg_acq_rel(p, v) atomic_exchange_explicit(F2_ATOMIC(p), (v), memory_order_acq_rel)
#define f2_xchg_seq(p, v)     atomic_exchange_explicit(F2_ATOMIC(p), (v), memory_order_seq_cst)

/* Strong CAS; *expected is updated with the current value on failure.
 * The failure order is relaxed unless the name says otherwise. */
#define f2_cas_acquire(p, e, v) atomic_compare_exchange_strong_explicit(F2_ATOMIC(p), (e), (v), memory_order_acquire, memory_order_relaxed)
#define f2_cas_release(p, e, v) atomic_compare_exchange_strong_explicit(F2_ATOMIC(p), (e), (v), memory_order_release, memory_order_relaxed)
#define f2_cas_acq_rel(p, e, v) atomic_compare_exchange_strong_explicit(F2_ATOMIC(p), (e), (v), memory_order_acq_rel, memory_order_acquire)
#define f2_cas_relaxed(p, e, v) atomic_compare_exchange_strong_explicit(F2_ATOMIC(p), (e), (v), memory_order_relaxed, memory_order_relaxed)
#define f2_cas_seq(p, e, v)     atomic_compare_exchange_strong_explicit(F2_ATOMIC(p), (e), (v), memory_order_seq_cst, memory_order_seq_cst)
#define f2_cas_weak_acquire(p, e, v) atomic_compare_exchange_weak_explicit(F2_ATOMIC(p), (e), (v), memory_order_acquire, memory_order_relaxed)
#define f2_cas_weak_release(p, e, v) atomic_compare_exchange_weak_explicit(F2_ATOMIC(p), (e), (v), memory_order_release, memory_order_relaxed)
#define f2_cas_weak_acq_rel(p, e, v) atomic_compare_exchange_weak_explicit(F2_ATOMIC(p), (e), (v), memory_order_acq_rel, memory_order_acquire)

#define f2_add_relaxed(p, v) atomic_fetch_add_explicit(F2_ATOMIC(p), (v), memory_order_relaxed)
#define f2_add_acquire(p, v) atomic_fetch_add_explicit(F2_ATOMIC(p), (v), memory_order_acquire)
#define f2_add_release(p, v) atomic_fetch_add_explicit(F2_ATOMIC(p), (v), memory_order_release)
#define f2_add_acq_rel(p, v) atomic_fetch_add_explicit(F2_ATOMIC(p), (v), memory_order_acq_rel)
#define f2_add_seq(p, v)     atomic_fetch_add_explicit(F2_ATOMIC(p), (v), memory_order_seq_cst)
#define f2_sub_relaxed(p, v) atomic_fetch_sub_explicit(F2_ATOMIC(p), (v), memory_order_relaxed)
#define f2_sub_release(p, v) atomic_fetch_sub_explicit(F2_ATOMIC(p), (v), memory_order_release)
#define f2_sub_acq_rel(p, v) atomic_fetch_sub_explicit(F2_ATOMIC(p), (v), memory_order_acq_rel)
#define f2_sub_seq(p, v)     atomic_fetch_sub_explicit(F2_ATOMIC(p), (v), memory_order_seq_cst)
#define f2_or_acq_rel(p, v)  atomic_fetch_or_explicit(F2_ATOMIC(p), (v), memory_order_acq_rel)
#define f2_or_relaxed(p, v)  atomic_fetch_or_explicit(F2_ATOMIC(p), (v), memory_order_relaxed)
#define f2_and_acq_rel(p, v) atomic_fetch_and_explicit(F2_ATOMIC(p), (v), memory_order_acq_rel)
#define f2_and_release(p, v) atomic_fetch_and_explicit(F2_ATOMIC(p), (v), memory_order_release)

#define f2_fence_seq()     atomic_thread_fence(memory_order_seq_cst)
#define f2_fence_acquire() atomic_thread_fence(memory_order_acquire)
#define f2_fence_release() atomic_thread_fence(memory_order_release)

#endif
