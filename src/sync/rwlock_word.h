/* The f2_rwlock_t state word: field layout, shared by rwlock.c and the
 * white-box tests. The protocol is described at the top of rwlock.c. */
#ifndef F2_SYNC_RWLOCK_WORD_H
#define F2_SYNC_RWLOCK_WORD_H

#include <stdint.h>

/* Field widths; the tests rebuild rwlock.c with tiny widths to reach the
 * overflow paths with a handful of threads. 4 flag bits + W + R = 32. */
#ifndef F2_RW_WRITER_BITS
#define F2_RW_WRITER_BITS 11u
#endif
#ifndef F2_RW_READER_BITS
#define F2_RW_READER_BITS (28u - F2_RW_WRITER_BITS)
#endif
_Static_assert(4 + F2_RW_WRITER_BITS + F2_RW_READER_BITS <= 32, "rwlock word layout");

enum {
	RW_WRPHASE = 1u << 0,  /* write phase (else read phase) */
	RW_WGRANT  = 1u << 1,  /* write phase granted, no writer has taken it yet */
	RW_RPARKED = 1u << 2,  /* readers may be parked on the word */
	RW_WPARKED = 1u << 3,  /* writers may be parked on the word */
};
#define RW_WRITER_SHIFT 4u
#define RW_READER_SHIFT (RW_WRITER_SHIFT + F2_RW_WRITER_BITS)
#define RW_WRITER  (1u << RW_WRITER_SHIFT)   /* one writer in the writer count */
#define RW_READER  (1u << RW_READER_SHIFT)   /* one reader in the reader count */
#define RW_WRITERS_MAX ((1u << F2_RW_WRITER_BITS) - 1)
#define RW_READERS_MAX ((1u << F2_RW_READER_BITS) - 1)

/* Futex wait/wake masks: who a wake is for. */
#define RW_MASK_READER 1u
#define RW_MASK_WRITER 2u
#define RW_MASK_POLL   4u  /* never woken: writers polling on a full writer count */

static inline uint32_t rw_writers(uint32_t v)
{
	return (v >> RW_WRITER_SHIFT) & RW_WRITERS_MAX;
}

static inline uint32_t rw_readers(uint32_t v)
{
	return (v >> RW_READER_SHIFT) & RW_READERS_MAX;
}

#endif
