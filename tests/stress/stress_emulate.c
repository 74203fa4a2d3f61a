/* Stress for the futex2 layer on mixed sizes (issue 3): N threads, N token
 * words of every size (plain words and NUMA pairs on four synthetic nodes),
 * 8 hub words, for F2_STRESS_SECONDS.
 *
 * Word j holds tokens for thread j (one each at start). Thread j takes a
 * token from its own word (waiting, with f2_futex_wait or a waitv that also
 * watches the stop word, while it is 0), then gives one to a random word m
 * and wakes m's owner one of four ways: wake one, wake all, requeue m's
 * waiters to a hub waking one (cmpval = m's value, retried on -EAGAIN), or
 * requeue them all to the hub; a requeue is followed by a wake-all of the
 * hub. Tokens are conserved, so while any thread waits some word holds a
 * token and its owner is awake or being woken: a lost wakeup stops a thread
 * for good, and the run then never ends (ctest's timeout). Every thread must
 * complete F2_STRESS_MIN_ROUNDS rounds, and the tokens must add up. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit/emu_test.h"
#include "common/testutil.h"

#define MAX_THREADS 64
#define HUBS 8
#define MIN_ROUNDS 20

static const unsigned sizes[4] = { F2_SIZE_U8, F2_SIZE_U16, F2_SIZE_U32, F2_SIZE_U64 };

static int nthreads;
static struct slot words[MAX_THREADS], hubs[HUBS];
static unsigned wflags[MAX_THREADS], hflags[HUBS];
static uint32_t stop_word;  /* a plain u32: the kernel's unless emulating */
static int time_up, finished;

struct worker {
	pthread_t th;
	int id;
	long rounds;
	int held;
	uint64_t rng;
};

static struct worker workers[MAX_THREADS];

static unsigned word_flags(int j, int numa)
{
	return sizes[j % 4] | F2_PRIVATE | (numa ? F2_NUMA : 0);
}

/* Pairs of the emulated sizes go to node j % 4; u32 pairs pick their node. */
static void setup_word(struct slot *s, unsigned *flags, int j, int numa)
{
	memset(s, 0, sizeof *s);
	*flags = word_flags(j, numa);
	if (numa)
		set_node(s, sizes[j % 4], is_emulated(*flags) ? j % 4 : F2_NODE_AUTO);
}

static uint64_t next_rand(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static int stopping(void)
{
	return __atomic_load_n(&stop_word, __ATOMIC_SEQ_CST) != 0;
}

/* Replaces v by v - 1 in the word; 0 if it no longer held v. */
static int cas_dec(struct slot *s, unsigned size, uint64_t v)
{
	const int o = __ATOMIC_SEQ_CST;
	switch (size) {
	case F2_SIZE_U8: {
		uint8_t e = (uint8_t)v;
		return __atomic_compare_exchange_n((uint8_t *)s, &e, (uint8_t)(v - 1), 0, o, o);
	}
	case F2_SIZE_U16: {
		uint16_t e = (uint16_t)v;
		return __atomic_compare_exchange_n((uint16_t *)s, &e, (uint16_t)(v - 1), 0, o, o);
	}
	case F2_SIZE_U32: {
		uint32_t e = (uint32_t)v;
		return __atomic_compare_exchange_n((uint32_t *)s, &e, (uint32_t)(v - 1), 0, o, o);
	}
	default:
		return __atomic_compare_exchange_n((uint64_t *)s, &v, v - 1, 0, o, o);
	}
}

/* Takes a token from the own word; 0 once stopping. */
static int take(struct worker *w)
{
	struct slot *s = &words[w->id];
	unsigned f = wflags[w->id], size = f & F2_SIZE_MASK;
	for (;;) {
		uint64_t v = ld(s, size);
		if (v > 0) {
			if (cas_dec(s, size, v))
				return 1;
			continue;
		}
		if (stopping())
			return 0;
		int r;
		if (next_rand(w) & 1) {
			r = f2_futex_wait(s, 0, width_max(size), f, NULL, CLOCK_MONOTONIC);
			ck_assert(r == 0 || r == -EAGAIN);
		} else {
			struct f2_futex_waitv v2[2] = {
				{ 0, s, f, 0 }, { 0, &stop_word, F2_SIZE_U32 | F2_PRIVATE, 0 }
			};
			r = f2_futex_waitv(v2, 2, NULL, CLOCK_MONOTONIC);
			ck_assert(r == 0 || r == 1 || r == -EAGAIN);
		}
	}
}

static void add_one(struct slot *s, unsigned size)
{
	switch (size) {
	case F2_SIZE_U8: __atomic_fetch_add((uint8_t *)s, 1, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U16: __atomic_fetch_add((uint16_t *)s, 1, __ATOMIC_SEQ_CST); break;
	case F2_SIZE_U32: __atomic_fetch_add((uint32_t *)s, 1, __ATOMIC_SEQ_CST); break;
	default: __atomic_fetch_add((uint64_t *)s, 1, __ATOMIC_SEQ_CST); break;
	}
}

/* Gives a token to word m and wakes its owner, one of four ways. */
static void give(struct worker *w, int m)
{
	struct slot *s = &words[m];
	unsigned f = wflags[m], size = f & F2_SIZE_MASK;
	uint64_t all = width_max(size);
	add_one(s, size);
	uint64_t op = next_rand(w);
	if ((op & 3) < 2) {
		ck_assert_int_ge(f2_futex_wake(s, all, (op & 3) ? INT_MAX : 1, f), 0);
		return;
	}
	int h = (int)((op >> 2) % HUBS), r;
	struct f2_futex_waitv ft[2] = { { 0, s, f, 0 }, { 0, &hubs[h], hflags[h], 0 } };
	do {
		ft[0].val = ld(s, size);
		r = f2_futex_requeue(ft, (op & 3) == 2, INT_MAX);
	} while (r == -EAGAIN);
	ck_assert_int_ge(r, 0);
	unsigned hs = hflags[h] & F2_SIZE_MASK;
	ck_assert_int_ge(f2_futex_wake(&hubs[h], width_max(hs), INT_MAX, hflags[h]), 0);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int counted = 0;
	while (!stopping() && take(w)) {
		w->held = 1;
		w->rounds++;
		if (!counted && w->rounds >= MIN_ROUNDS && __atomic_load_n(&time_up, __ATOMIC_SEQ_CST)) {
			counted = 1;
			__atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
		}
		give(w, (int)(next_rand(w) % (uint64_t)nthreads));
		w->held = 0;
	}
	return NULL;
}

static int env_int(const char *name, int dflt, int lo, int hi)
{
	const char *s = getenv(name);
	int v = s ? atoi(s) : dflt;
	return v < lo ? lo : v > hi ? hi : v;
}

START_TEST(tokens)
{
	int seconds = env_int("F2_STRESS_SECONDS", 5, 1, 60);
	nthreads = env_int("F2_STRESS_THREADS", MAX_THREADS, 4, MAX_THREADS);
	for (int j = 0; j < nthreads; j++) {
		setup_word(&words[j], &wflags[j], j, (j / 4) % 2);
		st(&words[j], wflags[j] & F2_SIZE_MASK, 1);
	}
	for (int h = 0; h < HUBS; h++)
		setup_word(&hubs[h], &hflags[h], h + 1, h >= 4);
	for (int i = 0; i < nthreads; i++) {
		workers[i] = (struct worker){ .id = i, .rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) };
		ck_assert_int_eq(pthread_create(&workers[i].th, NULL, worker_main, &workers[i]), 0);
	}
	sleep((unsigned)seconds);
	__atomic_store_n(&time_up, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) != nthreads)
		usleep(1000);
	__atomic_store_n(&stop_word, 1, __ATOMIC_SEQ_CST);
	ck_assert_int_ge(f2_futex_wake(&stop_word, 1, INT_MAX, F2_SIZE_U32 | F2_PRIVATE), 0);
	for (int j = 0; j < nthreads; j++) {
		unsigned size = wflags[j] & F2_SIZE_MASK;
		add_one(&words[j], size);
		ck_assert_int_ge(f2_futex_wake(&words[j], width_max(size), INT_MAX, wflags[j]), 0);
	}
	uint64_t tokens = 0;
	long rounds = 0;
	for (int i = 0; i < nthreads; i++) {
		ck_assert_int_eq(pthread_join(workers[i].th, NULL), 0);
		ck_assert_int_ge(workers[i].rounds, MIN_ROUNDS);
		tokens += (uint64_t)workers[i].held;
		rounds += workers[i].rounds;
	}
	for (int j = 0; j < nthreads; j++)
		tokens += ld(&words[j], wflags[j] & F2_SIZE_MASK);
	ck_assert_uint_eq(tokens, 2 * (uint64_t)nthreads);
	ck_assert_int_eq(parked(), 0);
	fprintf(stderr, "stress_emulate: %d threads, %ld rounds in %d s\n", nthreads, rounds, seconds);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress_emulate");
	TCase *tc = tcase_create("tokens");
	tcase_add_test(tc, tokens);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
