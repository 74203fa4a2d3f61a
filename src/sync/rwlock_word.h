/* The f2_rwlock_t state word: field layout and the predicates every
 * transition is written with, shared by rwlock.c and the white-box tests.
 * The protocol is described at the top of rwlock.c. */
#ifndef F2_SYNC_RWLOCK_WORD_H
#define F2_SYNC_RWLOCK_WORD_H

#include <stdint.h>

/* Field widths; the tests rebuild rwlock.c with tiny widths to reach the
 * overflow paths with a handful of threads. 7 flag bits + W + R = 32. */
#ifndef F2_RW_WRITER_BITS
#define F2_RW_WRITER_BITS 8u
#endif
#ifndef F2_RW_READER_BITS
#define F2_RW_READER_BITS (25u - F2_RW_WRITER_BITS)
#endif
_Static_assert(7 + F2_RW_WRITER_BITS + F2_RW_READER_BITS <= 32, "rwlock word layout");

enum {
	RW_WRITER  = 1u << 0,  /* a writer holds the lock */
	RW_WAKING  = 1u << 1,  /* a woken writer is on its way: no other writer wake */
	RW_RPARKED = 1u << 2,  /* readers may be parked on the word (mask READER) */
	RW_WSTARVE = 1u << 3,  /* a starving writer reserved the next write turn */
	RW_RSTARVE = 1u << 4,  /* a starving reader reserved the next read turn */
	RW_RT      = 1u << 5,  /* a real-time waiter may be parked: priority order */
	RW_BIAS    = 1u << 6,  /* readers may hold the lock through reader slots */
};
#define RW_WAITER_SHIFT 7u
#define RW_READER_SHIFT (RW_WAITER_SHIFT + F2_RW_WRITER_BITS)
#define RW_WAITER  (1u << RW_WAITER_SHIFT)   /* one writer in the parked-writer count */
#define RW_READER  (1u << RW_READER_SHIFT)   /* one reader in the holder count */
#define RW_WRITERS_MAX ((1u << F2_RW_WRITER_BITS) - 1)
#define RW_READERS_MAX ((1u << F2_RW_READER_BITS) - 1)

/* Futex wait/wake masks: who a wake is for. */
#define RW_MASK_READER   1u  /* readers that have waited less than handoff_ns */
#define RW_MASK_WRITER   2u  /* writers counted in W */
#define RW_MASK_WSTARVE  4u  /* the one writer that owns WSTARVE */
#define RW_MASK_POLL     8u  /* never woken: writers polling on a full W */
#define RW_MASK_RLATE   16u  /* readers that have waited handoff_ns */

/* W: writers counted as parked (about to park, parked, or woken and not yet
 * back on the word). The owner of WSTARVE is not counted. */
static inline uint32_t rw_writers(uint32_t v)
{
	return (v >> RW_WAITER_SHIFT) & RW_WRITERS_MAX;
}

/* R: readers holding the lock. */
static inline uint32_t rw_readers(uint32_t v)
{
	return (v >> RW_READER_SHIFT) & RW_READERS_MAX;
}

/* A reader that holds nothing here and reserved nothing stays out: a writer
 * holds the lock, waits counted in W, or reserved the next turn. */
static inline int rw_reader_kept_out(uint32_t v)
{
	return (v & (RW_WRITER | RW_WSTARVE)) || rw_writers(v) > 0;
}

/* A writer that reserved nothing may take the lock. */
static inline int rw_writer_may(uint32_t v)
{
	return rw_readers(v) == 0 && !(v & (RW_WRITER | RW_WSTARVE | RW_RSTARVE));
}

/* The owner of WSTARVE may take the lock. */
static inline int rw_starver_may(uint32_t v)
{
	return rw_readers(v) == 0 && !(v & (RW_WRITER | RW_RSTARVE));
}

#endif
