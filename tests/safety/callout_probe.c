/* callout_probe.so: a preloaded interposer that counts the calls f2sync must
 * never make on a lock path (docs/design/sync.md, "Lock paths call nothing"):
 * the allocator (malloc, calloc, realloc, free, posix_memalign, aligned_alloc,
 * memalign, valloc), pthread_once, dlopen and glibc's pthread_mutex_lock.
 *
 * Counting is exact: each call is counted when the global window flag is set,
 * whichever thread makes it. The program opens the window (f2probe_window)
 * once its threads are created and warmed up, and closes it before it joins
 * them; f2probe_report prints what was counted and the caller of the first
 * call of each kind. The allocator calls go straight to glibc's __libc_*
 * entry points, so the probe itself allocates nothing and needs no dlsym for
 * them; the others find glibc's function with dlsym(RTLD_NEXT) on first use,
 * before any window opens (the workload calls f2probe_window(0) first).
 *
 * Under libf2sync-pthread (preloaded ahead of this probe) the program's
 * pthread_mutex_lock is the shim's; the probe then counts the shim's own
 * calls into glibc's mutex (none for the kinds the workload uses). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);

enum kind { K_MALLOC, K_CALLOC, K_REALLOC, K_FREE, K_ALIGNED, K_ONCE, K_DLOPEN, K_MUTEX, K_N };
static const char *const kind_name[K_N] = {
	"malloc", "calloc", "realloc", "free", "posix_memalign/aligned_alloc/memalign/valloc",
	"pthread_once", "dlopen", "pthread_mutex_lock (glibc's)",
};

static int window;
static unsigned long counts[K_N];
static void *first_caller[K_N];

static inline void note(enum kind k, void *caller)
{
	if (__atomic_load_n(&window, __ATOMIC_SEQ_CST) &&
	    __atomic_fetch_add(&counts[k], 1, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&first_caller[k], caller, __ATOMIC_RELAXED);
}

#define CALLER __builtin_return_address(0)

void *malloc(size_t n) { note(K_MALLOC, CALLER); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(K_CALLOC, CALLER); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(K_REALLOC, CALLER); return __libc_realloc(p, n); }
void free(void *p) { note(K_FREE, CALLER); __libc_free(p); }
void *memalign(size_t a, size_t n) { note(K_ALIGNED, CALLER); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { note(K_ALIGNED, CALLER); return __libc_memalign(a, n); }
void *valloc(size_t n) { note(K_ALIGNED, CALLER); return __libc_valloc(n); }

int posix_memalign(void **out, size_t a, size_t n)
{
	note(K_ALIGNED, CALLER);
	if (a < sizeof(void *) || (a & (a - 1)))
		return EINVAL;
	void *p = __libc_memalign(a, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		static const char msg[] = "callout_probe: no next definition\n";
		if (write(2, msg, sizeof msg - 1) < 0)
			_exit(2);
		_exit(2);
	}
	return f;
}

static int (*real_once)(pthread_once_t *, void (*)(void));
static void *(*real_dlopen)(const char *, int);
static int (*real_mutex_lock)(pthread_mutex_t *);

int pthread_once(pthread_once_t *o, void (*f)(void))
{
	note(K_ONCE, CALLER);
	if (!__atomic_load_n(&real_once, __ATOMIC_RELAXED))
		__atomic_store_n(&real_once, next("pthread_once"), __ATOMIC_RELAXED);
	return real_once(o, f);
}

void *dlopen(const char *file, int mode)
{
	note(K_DLOPEN, CALLER);
	if (!__atomic_load_n(&real_dlopen, __ATOMIC_RELAXED))
		__atomic_store_n(&real_dlopen, next("dlopen"), __ATOMIC_RELAXED);
	return real_dlopen(file, mode);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
	note(K_MUTEX, CALLER);
	if (!__atomic_load_n(&real_mutex_lock, __ATOMIC_RELAXED))
		__atomic_store_n(&real_mutex_lock, next("pthread_mutex_lock"), __ATOMIC_RELAXED);
	return real_mutex_lock(m);
}

/* Opening resolves the forwarded calls first, so that no lazy dlsym (which may
 * allocate) runs inside the window. */
void f2probe_window(int open)
{
	if (!real_once)
		real_once = next("pthread_once");
	if (!real_dlopen)
		real_dlopen = next("dlopen");
	if (!real_mutex_lock)
		real_mutex_lock = next("pthread_mutex_lock");
	__atomic_store_n(&window, open, __ATOMIC_SEQ_CST);
}

/* Prints the counts; returns how many calls were counted in all. */
unsigned long f2probe_report(const char *what)
{
	unsigned long total = 0;

	for (int k = 0; k < K_N; k++) {
		unsigned long n = __atomic_load_n(&counts[k], __ATOMIC_RELAXED);
		Dl_info di = { 0 };
		void *c = first_caller[k];

		total += n;
		if (!n)
			continue;
		if (c && dladdr(c, &di) && di.dli_sname)
			fprintf(stderr, "%s: %lu call(s) of %s; first from %s (%s)\n", what, n,
				kind_name[k], di.dli_sname, di.dli_fname);
		else
			fprintf(stderr, "%s: %lu call(s) of %s; first from %p (%s)\n", what, n,
				kind_name[k], c, di.dli_fname ? di.dli_fname : "?");
	}
	fprintf(stderr, "%s: %lu counted call(s) in the window\n", what, total);
	return total;
}
