/* Helpers shared by the pthread conformance programs. They use only POSIX and
 * glibc, so the same program runs against glibc (the reference) and against
 * libf2sync-pthread (LD_PRELOAD or linked): every assertion is glibc's own
 * behaviour. */
#ifndef F2_CONF_H
#define F2_CONF_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "conf_plain.h"

static inline void conf_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0)
		;
}

#define CONF_OK(call) ck_assert_int_eq((call), 0)

/* 1 if the pthread function `name` resolves to libf2sync-pthread (conf_main.c):
 * for the few checks where the shim deliberately differs from glibc. */
int conf_resolves_to_shim(const char *name);

Suite *conf_mutex_suite(void);
Suite *conf_cond_suite(void);
Suite *conf_rwlock_suite(void);
Suite *conf_barrier_suite(void);
Suite *conf_process_suite(void);
Suite *conf_undefined_suite(void);

#endif
