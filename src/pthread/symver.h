/* glibc symbol versions of the interposed functions, per architecture.
 *
 * A program binds each pthread call to a versioned symbol (objdump -T): on
 * x86-64 glibc 2.36 pthread_mutex_{init,destroy,lock,unlock} are
 * @@GLIBC_2.2.5, pthread_cond_* @@GLIBC_2.3.2 (old-ABI @GLIBC_2.2.5), the
 * *clock* calls @GLIBC_2.30, and everything glibc 2.34 moved into libc.so is
 * @@GLIBC_2.34 with the older version kept as a compat symbol (the C11 mtx_* and
 * cnd_* calls: @GLIBC_2.28, on both architectures). aarch64 starts at
 * GLIBC_2.17. The shim defines the same (name, version) pairs, so that under
 * LD_PRELOAD every binding resolves here first; the matching version script
 * (libf2sync-pthread.<arch>.map) declares the nodes and hides the rest. */
#ifndef F2_PTHREAD_SYMVER_H
#define F2_PTHREAD_SYMVER_H

#if defined(__x86_64__)
#define F2P_V_BASE "GLIBC_2.2.5"
#define F2P_V_COND "GLIBC_2.3.2"
#define F2P_COND_HAS_OLD_ABI 1
#elif defined(__aarch64__)
#define F2P_V_BASE "GLIBC_2.17"
#define F2P_V_COND "GLIBC_2.17"
#define F2P_COND_HAS_OLD_ABI 0
#else
#error "libf2sync-pthread: add this architecture's glibc symbol versions"
#endif
#define F2P_V_C11   "GLIBC_2.28"
#define F2P_V_CLOCK "GLIBC_2.30"
#define F2P_V_LIBC  "GLIBC_2.34"

/* The implementation of pthread call NAME is f2p_NAME, visible to the linker
 * (the version script keeps it local) so that .symver can name it. */
#define F2P_IMPL(name) __attribute__((visibility("default"))) f2p_##name

#define F2P_STR_(x) #x
#define F2P_STR(x) F2P_STR_(x)

/* NAME@@VER: the version new links bind to. */
#define F2P_DEFAULT(name, ver) \
	__asm__(".symver f2p_" #name ", " #name "@@" ver)
/* NAME@VER: a compat version, through an alias (one symbol carries one version). */
#define F2P_COMPAT(name, tag, ver) \
	extern __typeof(f2p_##name) f2p_##name##_##tag \
		__attribute__((alias("f2p_" #name), visibility("default"))); \
	__asm__(".symver f2p_" #name "_" #tag ", " #name "@" ver)

/* The common patterns. */
#define F2P_EXPORT_BASE(name) F2P_DEFAULT(name, F2P_V_BASE)
#define F2P_EXPORT_LIBC(name) \
	F2P_DEFAULT(name, F2P_V_LIBC); F2P_COMPAT(name, base, F2P_V_BASE)
#define F2P_EXPORT_CLOCK(name) \
	F2P_DEFAULT(name, F2P_V_LIBC); F2P_COMPAT(name, clock, F2P_V_CLOCK)
/* C11 <threads.h>: glibc 2.28 added them to libpthread, 2.34 moved them. */
#define F2P_EXPORT_C11(name) \
	F2P_DEFAULT(name, F2P_V_LIBC); F2P_COMPAT(name, c11, F2P_V_C11)
#if F2P_COND_HAS_OLD_ABI
#define F2P_EXPORT_COND(name) \
	F2P_DEFAULT(name, F2P_V_COND); F2P_COMPAT(name, old, F2P_V_BASE)
#else
#define F2P_EXPORT_COND(name) F2P_DEFAULT(name, F2P_V_COND)
#endif

#endif
