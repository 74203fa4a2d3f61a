/* Compiler helpers shared by every layer. */
#ifndef F2_INTERNAL_COMPILER_H
#define F2_INTERNAL_COMPILER_H

#define f2_likely(x)   __builtin_expect(!!(x), 1)
#define f2_unlikely(x) __builtin_expect(!!(x), 0)
#define f2_hidden      __attribute__((visibility("hidden")))
#define f2_noinline    __attribute__((noinline))
#define f2_cold        __attribute__((cold, noinline))
#define f2_always_inline inline __attribute__((always_inline))
#define F2_CACHELINE   64
#define f2_cacheline_aligned __attribute__((aligned(F2_CACHELINE)))
#define F2_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One step of a spin-wait loop: tells the CPU we are spinning. */
static inline void f2_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
