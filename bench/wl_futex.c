/* futex2-layer workloads, per word size and per backend.
 *
 * In the default (auto) mode 8, 16 and 64-bit words run on the emulation and
 * 32-bit words on the kernel ("u32-kernel", the baseline of these ratios).
 * The backend is fixed per process, so the 32-bit rows for the legacy futex
 * and for the emulation come from child runs with F2SYNC_BACKEND set.
 *
 * handoff:    two threads pass a turn through one word (wait/wake round trip).
 * wake_empty: a wake on a word that nobody waits on.
 * wait_mismatch: a wait whose expected value differs (returns -EAGAIN).
 * distinct:   T threads in pairs, each parking on its own word (T words).
 * Checks: every pass arrived, every call returned a legal value, and a wake
 * with no waiters woke nobody.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "f2bench.h"
#include "f2sync/futex2.h"

#pragma weak f2_futex_wait
#pragma weak f2_futex_wake
#pragma weak f2_futex_backend

#define MAX_REPS 64

struct fsize { const char *size; unsigned flag; };
static const struct fsize sizes[] = {
	{ "u8", F2_SIZE_U8 }, { "u16", F2_SIZE_U16 }, { "u64", F2_SIZE_U64 }, { "u32", F2_SIZE_U32 },
};
#define NSIZES 4

static uint64_t ld(void *w, unsigned sz)
{
	switch (sz) {
	case F2_SIZE_U8: return __atomic_load_n((uint8_t *)w, __ATOMIC_ACQUIRE);
	case F2_SIZE_U16: return __atomic_load_n((uint16_t *)w, __ATOMIC_ACQUIRE);
	case F2_SIZE_U32: return __atomic_load_n((uint32_t *)w, __ATOMIC_ACQUIRE);
	default: return __atomic_load_n((uint64_t *)w, __ATOMIC_ACQUIRE);
	}
}

static void st(void *w, unsigned sz, uint64_t v)
{
	switch (sz) {
	case F2_SIZE_U8: __atomic_store_n((uint8_t *)w, (uint8_t)v, __ATOMIC_RELEASE); break;
	case F2_SIZE_U16: __atomic_store_n((uint16_t *)w, (uint16_t)v, __ATOMIC_RELEASE); break;
	case F2_SIZE_U32: __atomic_store_n((uint32_t *)w, (uint32_t)v, __ATOMIC_RELEASE); break;
	default: __atomic_store_n((uint64_t *)w, v, __ATOMIC_RELEASE); break;
	}
}

static uint64_t full_mask(unsigned sz)
{
	return sz == F2_SIZE_U64 ? ~0ull : (1ull << (8u << sz)) - 1;
}

static int bad;

static void fwait(void *w, uint64_t val, unsigned sz)
{
	int r = f2_futex_wait(w, val, full_mask(sz), sz | F2_PRIVATE, NULL, CLOCK_MONOTONIC);
	if (r != 0 && r != -EAGAIN && r != -EINTR && !__atomic_exchange_n(&bad, 1, __ATOMIC_RELAXED))
		f2b_fail("f2_futex_wait: %s", strerror(-r));
}

static int fwake(void *w, unsigned sz)
{
	int r = f2_futex_wake(w, full_mask(sz), 1, sz | F2_PRIVATE);
	if (r < 0 && !__atomic_exchange_n(&bad, 1, __ATOMIC_RELAXED))
		f2b_fail("f2_futex_wake: %s", strerror(-r));
	return r;
}

/* Row name of a size in this process: uN-emu / uN-kernel. */
static const char *row_name(const struct fsize *s, char *buf, size_t n)
{
	const char *bk = f2_futex_backend(s->flag | F2_PRIVATE);
	snprintf(buf, n, "%s-%s", s->size, bk && !strcmp(bk, "emulated") ? "emu" : "kernel");
	return buf;
}

/* Sizes this process measures; NULL-terminated. Without the futex2 layer, none. */
static int usable_sizes(const char *wl, const struct fsize **out)
{
	int k = 0;
	if (!f2_futex_wait || !f2_futex_wake || !f2_futex_backend) {
		f2b_note("%s: libf2sync lacks the futex2 layer", wl);
		return 0;
	}
	for (int i = 0; i < NSIZES; i++) {
		char name[32];
		if (!f2b_name_selected(sizes[i].size) && !f2b_name_selected(row_name(&sizes[i], name, sizeof name)))
			continue;
		if (!f2_futex_backend(sizes[i].flag | F2_PRIVATE)) {
			f2b_note("%s: no backend serves %s words", wl, sizes[i].size);
			continue;
		}
		out[k++] = &sizes[i];
	}
	return k;
}

static void children(const char *wl)
{
	if (f2b_cfg.child || f2b_cfg.no_children || !f2b_name_selected("u32") || !f2_futex_wait)
		return;
	f2b_progress("%s: u32 on the legacy futex and on the emulation (child processes)", wl);
	f2b_run_child(wl, "u32", "u32-legacy", "F2SYNC_BACKEND", "legacy");
	f2b_run_child(wl, "u32", "u32-emu", "F2SYNC_BACKEND", "emulate");
}

/* ---- handoff ----------------------------------------------------------- */
struct ho { void *w; unsigned sz; long rounds, passes; struct f2b_gate gate; };

static void *ho_b(void *arg)
{
	struct ho *h = arg;
	f2b_gate_arrive(&h->gate);
	for (long i = 0; i < h->rounds; i++) {
		while (ld(h->w, h->sz) == 0)
			fwait(h->w, 0, h->sz);
		h->passes++;
		st(h->w, h->sz, 0);
		fwake(h->w, h->sz);
	}
	return NULL;
}

static int ho_run(const struct fsize *s, long rounds, double *ns)
{
	struct ho h = { .sz = s->flag, .rounds = rounds };
	pthread_t tid;
	h.w = f2b_obj_alloc(8);
	if (pthread_create(&tid, NULL, ho_b, &h)) {
		f2b_fail("pthread_create");
		exit(2);
	}
	uint64_t t0 = f2b_gate_open(&h.gate, 1);
	for (long i = 0; i < rounds; i++) {
		st(h.w, h.sz, 1);
		fwake(h.w, h.sz);
		while (ld(h.w, h.sz) == 1)
			fwait(h.w, 1, h.sz);
	}
	*ns = (double)(f2b_now_ns() - t0) / (double)rounds;
	pthread_join(tid, NULL);
	int ok = h.passes == rounds;
	if (!ok)
		f2b_fail("futex handoff %s: %ld of %ld passes", s->size, h.passes, rounds);
	free(h.w);
	return ok && !bad;
}

void wl_futex_handoff(void)
{
	const struct fsize *sz[NSIZES];
	int k = usable_sizes("futex_handoff", sz), R = f2b_cfg.reps;
	long rounds = f2b_cfg.rounds * 20;
	double ns[NSIZES][MAX_REPS];
	int ok[NSIZES];
	f2b_progress("futex_handoff: %d sizes x %d reps x %ld round trips", k, R, rounds);
	for (int j = 0; j < k; j++)
		ok[j] = 1;
	for (int r = 0; r < R; r++)
		for (int j = 0; j < k; j++)
			ok[j] &= ho_run(sz[j], rounds, &ns[j][r]);
	for (int j = 0; j < k; j++) {
		char name[32];
		f2b_result("futex_handoff", "", row_name(sz[j], name, sizeof name), "ns_per_roundtrip",
		           "ns", ns[j], R, (double)rounds * R, ok[j]);
	}
	children("futex_handoff");
}

/* ---- single calls that never sleep ------------------------------------- */
/* Times n calls of op on a fresh zeroed word of each size; op returns nonzero
 * when a call did not do what it must. */
static void per_call(const char *wl, int (*op)(void *w, unsigned sz), const char *what)
{
	const struct fsize *sz[NSIZES];
	int k = usable_sizes(wl, sz), R = f2b_cfg.reps;
	long n = f2b_cfg.iters / 10 + 1;
	double ns[NSIZES][MAX_REPS];
	int ok[NSIZES];
	f2b_progress("%s: %d sizes x %d reps x %ld calls", wl, k, R, n);
	for (int j = 0; j < k; j++)
		ok[j] = 1;
	for (int r = 0; r < R; r++)
		for (int j = 0; j < k; j++) {
			void *w = f2b_obj_alloc(8);
			long wrong = 0;
			uint64_t t0 = f2b_now_ns();
			for (long i = 0; i < n; i++)
				wrong += op(w, sz[j]->flag) != 0;
			ns[j][r] = (double)(f2b_now_ns() - t0) / (double)n;
			if (wrong) {
				f2b_fail("%s %s: %ld %s", wl, sz[j]->size, wrong, what);
				ok[j] = 0;
			}
			ok[j] &= !bad;
			free(w);
		}
	for (int j = 0; j < k; j++) {
		char name[32];
		f2b_result(wl, "", row_name(sz[j], name, sizeof name), "ns_per_call", "ns", ns[j], R,
		           (double)n * R, ok[j]);
	}
	children(wl);
}

/* A wake on a word that nobody waits on: must wake nobody. */
static int wake_nobody(void *w, unsigned sz)
{
	return fwake(w, sz) != 0;
}

/* A wait whose expected value differs from the word (0): must be -EAGAIN. */
static int wait_mismatch(void *w, unsigned sz)
{
	return f2_futex_wait(w, 1, full_mask(sz), sz | F2_PRIVATE, NULL, CLOCK_MONOTONIC) != -EAGAIN;
}

void wl_futex_wake_empty(void)
{
	per_call("futex_wake_empty", wake_nobody, "wakes woke someone");
}

void wl_futex_wait_mismatch(void)
{
	per_call("futex_wait_mismatch", wait_mismatch, "waits did not return -EAGAIN");
}

/* ---- distinct words ---------------------------------------------------- */
struct dw_shared { char *words; unsigned sz; long rounds; long passes; struct f2b_gate gate; };
struct dw_thread { struct dw_shared *sh; int me; pthread_t tid; };

#define SLOT 64
static void *dw_main(void *arg)
{
	struct dw_thread *t = arg;
	struct dw_shared *sh = t->sh;
	void *mine = sh->words + SLOT * t->me, *peer = sh->words + SLOT * (t->me ^ 1);
	int first = !(t->me & 1);
	f2b_gate_arrive(&sh->gate);
	for (long i = 0; i < sh->rounds; i++) {
		if (first) {
			st(peer, sh->sz, 1);
			fwake(peer, sh->sz);
		}
		while (ld(mine, sh->sz) == 0)
			fwait(mine, 0, sh->sz);
		st(mine, sh->sz, 0);
		__atomic_fetch_add(&sh->passes, 1, __ATOMIC_RELAXED);
		if (!first) {
			st(peer, sh->sz, 1);
			fwake(peer, sh->sz);
		}
	}
	return NULL;
}

static int dw_run(const struct fsize *s, int T, long rounds, double *ns)
{
	struct dw_shared sh = { .sz = s->flag, .rounds = rounds };
	struct dw_thread th[T];
	sh.words = f2b_obj_alloc((size_t)SLOT * (size_t)T);
	for (int i = 0; i < T; i++) {
		th[i] = (struct dw_thread){ .sh = &sh, .me = i };
		if (pthread_create(&th[i].tid, NULL, dw_main, &th[i])) {
			f2b_fail("pthread_create");
			exit(2);
		}
	}
	uint64_t t0 = f2b_gate_open(&sh.gate, (uint32_t)T);
	for (int i = 0; i < T; i++)
		pthread_join(th[i].tid, NULL);
	*ns = (double)(f2b_now_ns() - t0) / ((double)rounds * T / 2);
	int ok = sh.passes == rounds * T;
	if (!ok)
		f2b_fail("futex_distinct %s: %ld of %ld passes", s->size, sh.passes, rounds * T);
	free(sh.words);
	return ok && !bad;
}

void wl_futex_distinct(void)
{
	const struct fsize *sz[NSIZES];
	int k = usable_sizes("futex_distinct", sz), R = f2b_cfg.reps;
	int T = (f2b_cfg.distinct_threads + 1) & ~1;
	long rounds = f2b_cfg.rounds;
	double ns[NSIZES][MAX_REPS];
	int ok[NSIZES];
	f2b_progress("futex_distinct: %d threads, %d sizes x %d reps x %ld round trips per pair", T,
	             k, R, rounds);
	for (int j = 0; j < k; j++)
		ok[j] = 1;
	for (int r = 0; r < R; r++)
		for (int j = 0; j < k; j++)
			ok[j] &= dw_run(sz[j], T, rounds, &ns[j][r]);
	char params[32];
	snprintf(params, sizeof params, "T=%d", T);
	for (int j = 0; j < k; j++) {
		char name[32];
		f2b_result("futex_distinct", params, row_name(sz[j], name, sizeof name),
		           "ns_per_handoff", "ns", ns[j], R, (double)rounds * R * T / 2, ok[j]);
	}
	children("futex_distinct");
}
