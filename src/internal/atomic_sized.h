/* Atomics on a word whose size is known only at run time: the futex2 sizes
 * F2_SIZE_U8 .. F2_SIZE_U64 (include/f2sync/futex2.h), the one place that
 * switches on them. Values travel as uint64_t, zero-extended from the word;
 * a stored value is truncated to the word. The memory order is an argument,
 * written out at every call site (memory_order_acquire, ...), which says there
 * what it pairs with, as with atomic.h.
 *
 * Every function is always_inline: with a constant size (the mutex fast
 * paths) the switch folds away and the code is the plain atomic of that width;
 * with a constant order the builtin gets a constant order, as atomic.h's would.
 * A failed CAS loads with the order atomic.h uses for the same success order:
 * acquire for acq_rel, seq_cst for seq_cst, relaxed otherwise. */
#ifndef F2_INTERNAL_ATOMIC_SIZED_H
#define F2_INTERNAL_ATOMIC_SIZED_H

#include <stdatomic.h>
#include <stdint.h>

#include "f2sync/futex2.h"
#include "atomic.h"
#include "compiler.h"

/* The bits of a word of this size. */
static f2_always_inline uint64_t f2_size_mask(unsigned size)
{
	return size >= F2_SIZE_U64 ? UINT64_MAX : (UINT64_C(1) << (8u << size)) - 1;
}

/* A value read from a signed field of this size (a NUMA pair's node),
 * sign-extended to 64 bits. */
static f2_always_inline int64_t f2_size_sext(uint64_t v, unsigned size)
{
	unsigned shift = 64u - (8u << size);
	return (int64_t)(v << shift) >> shift;
}

static f2_always_inline memory_order f2_cas_fail_order(memory_order mo)
{
	return mo == memory_order_acq_rel ? memory_order_acquire
	     : mo == memory_order_seq_cst ? memory_order_seq_cst : memory_order_relaxed;
}

static f2_always_inline uint64_t f2_sized_load(const void *p, unsigned size, memory_order mo)
{
	switch (size) {
	case F2_SIZE_U8:  return atomic_load_explicit((_Atomic uint8_t *)p, mo);
	case F2_SIZE_U16: return atomic_load_explicit((_Atomic uint16_t *)p, mo);
	case F2_SIZE_U32: return atomic_load_explicit((_Atomic uint32_t *)p, mo);
	default:          return atomic_load_explicit((_Atomic uint64_t *)p, mo);
	}
}

#define F2_SIZED_CAS(T, p, exp, desired, mo)                                         \
	do {                                                                         \
		T e_ = (T)*(exp);                                                    \
		ok = atomic_compare_exchange_strong_explicit((_Atomic T *)(p), &e_,  \
			(T)(desired), (mo), f2_cas_fail_order(mo));                  \
		*(exp) = e_;                                                         \
	} while (0)

/* Strong CAS; on failure *exp is the word's current value. */
static f2_always_inline int f2_sized_cas(void *p, unsigned size, uint64_t *exp,
                                         uint64_t desired, memory_order mo)
{
	int ok;

	switch (size) {
	case F2_SIZE_U8:  F2_SIZED_CAS(uint8_t, p, exp, desired, mo); break;
	case F2_SIZE_U16: F2_SIZED_CAS(uint16_t, p, exp, desired, mo); break;
	case F2_SIZE_U32: F2_SIZED_CAS(uint32_t, p, exp, desired, mo); break;
	default:          F2_SIZED_CAS(uint64_t, p, exp, desired, mo); break;
	}
	return ok;
}
#undef F2_SIZED_CAS

/* fetch_add; returns the old value. */
static f2_always_inline uint64_t f2_sized_add(void *p, unsigned size, uint64_t v,
                                              memory_order mo)
{
	switch (size) {
	case F2_SIZE_U8:  return atomic_fetch_add_explicit((_Atomic uint8_t *)p, (uint8_t)v, mo);
	case F2_SIZE_U16: return atomic_fetch_add_explicit((_Atomic uint16_t *)p, (uint16_t)v, mo);
	case F2_SIZE_U32: return atomic_fetch_add_explicit((_Atomic uint32_t *)p, (uint32_t)v, mo);
	default:          return atomic_fetch_add_explicit((_Atomic uint64_t *)p, v, mo);
	}
}

/* fetch_and; returns the old value. */
static f2_always_inline uint64_t f2_sized_and(void *p, unsigned size, uint64_t v,
                                              memory_order mo)
{
	switch (size) {
	case F2_SIZE_U8:  return atomic_fetch_and_explicit((_Atomic uint8_t *)p, (uint8_t)v, mo);
	case F2_SIZE_U16: return atomic_fetch_and_explicit((_Atomic uint16_t *)p, (uint16_t)v, mo);
	case F2_SIZE_U32: return atomic_fetch_and_explicit((_Atomic uint32_t *)p, (uint32_t)v, mo);
	default:          return atomic_fetch_and_explicit((_Atomic uint64_t *)p, v, mo);
	}
}

#endif
