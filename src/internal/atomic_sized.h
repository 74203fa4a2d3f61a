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

/* The one switch on the size: OP(T, ...) with T the word's type, where OP
 * expands to a return statement. */
#define F2_BY_SIZE(size, OP, ...)                                               \
	switch (size) {                                                          \
	case F2_SIZE_U8:  OP(uint8_t, __VA_ARGS__);                              \
	case F2_SIZE_U16: OP(uint16_t, __VA_ARGS__);                             \
	case F2_SIZE_U32: OP(uint32_t, __VA_ARGS__);                             \
	default:          OP(uint64_t, __VA_ARGS__);                             \
	}

#define F2_SIZED_LOAD(T, p, mo) return atomic_load_explicit((_Atomic T *)(p), (mo))
#define F2_SIZED_FETCH(T, op, p, v, mo)                                         \
	return atomic_fetch_##op##_explicit((_Atomic T *)(p), (T)(v), (mo))
#define F2_SIZED_CAS(T, p, exp, desired, mo)                                    \
	do {                                                                     \
		T e_ = (T)*(exp);                                                \
		int ok_ = atomic_compare_exchange_strong_explicit((_Atomic T *)(p), \
			&e_, (T)(desired), (mo), f2_cas_fail_order(mo));         \
		*(exp) = e_;                                                     \
		return ok_;                                                      \
	} while (0)

static f2_always_inline uint64_t f2_sized_load(const void *p, unsigned size, memory_order mo)
{
	F2_BY_SIZE(size, F2_SIZED_LOAD, p, mo)
}

/* Strong CAS; on failure *exp is the word's current value. */
static f2_always_inline int f2_sized_cas(void *p, unsigned size, uint64_t *exp,
                                         uint64_t desired, memory_order mo)
{
	F2_BY_SIZE(size, F2_SIZED_CAS, p, exp, desired, mo)
}

/* fetch_add; returns the old value. */
static f2_always_inline uint64_t f2_sized_add(void *p, unsigned size, uint64_t v,
                                              memory_order mo)
{
	F2_BY_SIZE(size, F2_SIZED_FETCH, add, p, v, mo)
}

/* fetch_and; returns the old value. */
static f2_always_inline uint64_t f2_sized_and(void *p, unsigned size, uint64_t v,
                                              memory_order mo)
{
	F2_BY_SIZE(size, F2_SIZED_FETCH, and, p, v, mo)
}

#undef F2_SIZED_LOAD
#undef F2_SIZED_FETCH
#undef F2_SIZED_CAS
#undef F2_BY_SIZE

#endif
