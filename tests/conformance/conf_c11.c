/* C11 <threads.h> mutexes and condition variables (issue 15): every mtx_* and
 * cnd_* call with each mutex type and the C11 result codes, then threads
 * contending through them with exact counts. Runs against glibc (the
 * reference: every expected result is glibc's) and under the shim on every
 * backend; with F2P_EXPECT_SHIM=1 it also checks that the calls resolve to
 * libf2sync-pthread (and preload_run.sh that F2SYNC_STATS counted f2sync
 * calls). Exits 0 when every check holds. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

#include "conf_plain.h"

#define OK(call) CHECK((call) == thrd_success)

/* TIME_UTC is CLOCK_REALTIME in glibc (timespec_get). */
static struct timespec in_ms(long ms)
{
	return conf_in(CLOCK_REALTIME, ms);
}

static int reached(const struct timespec *d)
{
	return conf_reached(CLOCK_REALTIME, d);
}

static void resolve_to_shim(void)
{
	static const char *const calls[] = {
		"mtx_init", "mtx_lock", "mtx_timedlock", "mtx_trylock", "mtx_unlock", "mtx_destroy",
		"cnd_init", "cnd_wait", "cnd_timedwait", "cnd_signal", "cnd_broadcast", "cnd_destroy",
	};
	const char *e = getenv("F2P_EXPECT_SHIM");
	Dl_info info;

	if (!e || strcmp(e, "1") != 0)
		return;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		void *p = dlsym(RTLD_DEFAULT, calls[i]);
		CHECK(p && dladdr(p, &info) && info.dli_fname);
		if (!strstr(info.dli_fname, "libf2sync-pthread")) {
			fprintf(stderr, "conf_c11: %s resolves to %s\n", calls[i], info.dli_fname);
			exit(1);
		}
	}
}

/* Runs f(arg) on another thread and returns its result. */
static int on_other(thrd_start_t f, void *arg)
{
	thrd_t t;
	int r;

	OK(thrd_create(&t, f, arg));
	OK(thrd_join(t, &r));
	return r;
}

static int try_other(void *m)
{
	return mtx_trylock(m);
}

static int timed_other(void *m)
{
	struct timespec d = in_ms(30);
	int r = mtx_timedlock(m, &d);

	return r == thrd_timedout && !reached(&d) ? -1 : r; /* never before */
}

static void mutex_types(void)
{
	static const int plain[] = { mtx_plain, mtx_timed };
	static const int rec[] = { mtx_plain | mtx_recursive, mtx_timed | mtx_recursive };
	mtx_t m;

	for (int i = 0; i < 2; i++) {
		struct timespec d = in_ms(100);
		OK(mtx_init(&m, plain[i]));
		OK(mtx_lock(&m));
		CHECK(mtx_trylock(&m) == thrd_busy);
		CHECK(on_other(try_other, &m) == thrd_busy);
		CHECK(on_other(timed_other, &m) == thrd_timedout);
		OK(mtx_unlock(&m));
		OK(mtx_timedlock(&m, &d));
		OK(mtx_unlock(&m));
		OK(mtx_trylock(&m));
		OK(mtx_unlock(&m));
		mtx_destroy(&m);
	}
	for (int i = 0; i < 2; i++) {
		OK(mtx_init(&m, rec[i]));
		OK(mtx_lock(&m));
		OK(mtx_lock(&m));
		OK(mtx_trylock(&m));
		CHECK(on_other(try_other, &m) == thrd_busy);
		OK(mtx_unlock(&m));
		OK(mtx_unlock(&m));
		CHECK(on_other(try_other, &m) == thrd_busy);
		OK(mtx_unlock(&m));
		/* unlocking a recursive mutex it does not hold: EPERM in glibc */
		CHECK(mtx_unlock(&m) == thrd_error);
		mtx_destroy(&m);
	}
}

static void cond_basics(void)
{
	mtx_t m;
	cnd_t c;
	struct timespec d;

	OK(mtx_init(&m, mtx_plain));
	OK(cnd_init(&c));
	OK(cnd_signal(&c)); /* nobody waits */
	OK(cnd_broadcast(&c));
	OK(mtx_lock(&m));
	d = in_ms(30);
	CHECK(cnd_timedwait(&c, &m, &d) == thrd_timedout);
	CHECK(reached(&d));
	CHECK(mtx_trylock(&m) == thrd_busy); /* held again after the wait */
	OK(mtx_unlock(&m));
	cnd_destroy(&c);
	mtx_destroy(&m);
}

/* A bounded queue: producers and consumers on one mutex and two condvars,
 * some waits timed. */
#define PRODUCERS 3
#define CONSUMERS 3
#define ITEMS 4000
#define SLOTS 4

static mtx_t qm;
static cnd_t not_full, not_empty;
static int queued, produced, consumed_sum;
static long consumed;

static int producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITEMS; i++) {
		OK(mtx_lock(&qm));
		while (queued == SLOTS)
			OK(cnd_wait(&not_full, &qm));
		queued++;
		produced++;
		OK(cnd_signal(&not_empty));
		OK(mtx_unlock(&qm));
	}
	return 0;
}

static int consumer(void *arg)
{
	long mine = 0;

	(void)arg;
	for (;;) {
		OK(mtx_lock(&qm));
		while (queued == 0 && consumed < (long)PRODUCERS * ITEMS) {
			struct timespec d = in_ms(5);
			int r = cnd_timedwait(&not_empty, &qm, &d);
			CHECK(r == thrd_success || r == thrd_timedout);
		}
		if (queued == 0) {
			OK(mtx_unlock(&qm));
			break;
		}
		queued--;
		consumed++;
		mine++;
		if (consumed == (long)PRODUCERS * ITEMS)
			OK(cnd_broadcast(&not_empty)); /* the last: release the others */
		OK(cnd_signal(&not_full));
		OK(mtx_unlock(&qm));
	}
	OK(mtx_lock(&qm));
	consumed_sum += (int)mine;
	OK(mtx_unlock(&qm));
	return 0;
}

static void queue(void)
{
	thrd_t p[PRODUCERS], c[CONSUMERS];

	OK(mtx_init(&qm, mtx_timed));
	OK(cnd_init(&not_full));
	OK(cnd_init(&not_empty));
	for (int i = 0; i < CONSUMERS; i++)
		OK(thrd_create(&c[i], consumer, NULL));
	for (int i = 0; i < PRODUCERS; i++)
		OK(thrd_create(&p[i], producer, NULL));
	for (int i = 0; i < PRODUCERS; i++)
		OK(thrd_join(p[i], NULL));
	for (int i = 0; i < CONSUMERS; i++)
		OK(thrd_join(c[i], NULL));
	CHECK(produced == PRODUCERS * ITEMS);
	CHECK(consumed == (long)PRODUCERS * ITEMS && consumed_sum == PRODUCERS * ITEMS);
	CHECK(queued == 0);
	cnd_destroy(&not_empty);
	cnd_destroy(&not_full);
	mtx_destroy(&qm);
}

int main(void)
{
	resolve_to_shim();
	mutex_types();
	cond_basics();
	queue();
	printf("conf_c11: all checks passed\n");
	return 0;
}
