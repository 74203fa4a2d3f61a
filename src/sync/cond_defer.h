/* Condvar signals whose wake waits for the mutex's release (cond_defer.c). */
#ifndef F2_SYNC_COND_DEFER_H
#define F2_SYNC_COND_DEFER_H

#include <stdint.h>

#include "f2sync/mutex.h"
#include "../futex2/bound.h"
#include "../internal/compiler.h"

/* The f2_mutex_t this thread locked last, NULL once it unlocked any: set by
 * every lock of an f2_mutex_t that succeeds, cleared by every unlock. While
 * it names m, m is alive (this thread's own unlock of it is still to come),
 * so a signal may read and mark m's word. A hint for everything else. */
extern __thread __attribute__((tls_model("initial-exec"))) f2_mutex_t *f2_cd_held;

/* signal: defers the wake of bound sequence word b to the release of m if
 * this thread holds m (f2_cd_held) and both words allow it. 1 if the wake is
 * taken care of (deferred, or made already), 0 if the caller must wake. */
f2_hidden int f2_cd_defer(f2_mutex_t *m, const struct f2_bound *b);
/* Makes the wakes recorded for the mutex word at mword (and any that share
 * its slot). After the release of a PENDING word, or under the mutex. */
f2_hidden void f2_cd_flush(const void *mword);
/* 1 if mword's slot holds a wake (of any word that shares it). */
f2_hidden int f2_cd_busy(const void *mword);
/* f2_cd_flush, only if mword's slot holds wakes for the word of key. */
f2_hidden void f2_cd_flush_cond(const void *mword, uint64_t key);

#endif
