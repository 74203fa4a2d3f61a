/* The abseil peer: absl::Mutex and absl::CondVar behind plain C functions,
 * so that impl.c (C) can put them in the adapter table. Built only when
 * pkg-config finds absl_synchronization (F2BENCH_HAVE_ABSL). The objects
 * live in memory that f2b_obj_alloc gives the workload; init constructs
 * them in place and destroy runs their destructors. */
#ifndef F2BENCH_PEER_ABSL_H
#define F2BENCH_PEER_ABSL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

extern const size_t f2b_absl_mutex_size, f2b_absl_cond_size;
/* Once, before any lock: sets the process-wide deadlock-detection mode
 * (see peer_absl.cc); returns a short description for meta.csv. */
const char *f2b_absl_setup(void);
void f2b_absl_mutex_init(void *m);
void f2b_absl_lock(void *m);
void f2b_absl_unlock(void *m);
void f2b_absl_reader_lock(void *m);
void f2b_absl_reader_unlock(void *m);
void f2b_absl_mutex_destroy(void *m);
void f2b_absl_cond_init(void *c);
void f2b_absl_wait(void *c, void *m);
void f2b_absl_signal(void *c);
void f2b_absl_signal_all(void *c);
void f2b_absl_cond_destroy(void *c);

#ifdef __cplusplus
}
#endif
#endif
