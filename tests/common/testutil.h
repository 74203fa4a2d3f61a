/* Shared helpers for the unit suites. */
#ifndef F2_TESTUTIL_H
#define F2_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* 1 if this kernel (or the kprofile filter around this test) offers
 * futex_waitv (449, Linux 5.16+), probed here with a raw syscall rather than
 * asked of the library. Without it, f2_futex_waitv queues private kernel
 * words in the emulation (src/futex2/guest.c). */
static inline int tu_kernel_has_waitv(void)
{
	return syscall(449, NULL, 0u, 0u, NULL, 0) == 0 || errno != ENOSYS;
}

/* The backend this process was forced to (F2SYNC_BACKEND), "auto" if unset. */
static inline const char *tu_backend(void)
{
	const char *b = getenv("F2SYNC_BACKEND");
	return b && *b ? b : "auto";
}

static inline pid_t tu_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Absolute deadline delta_ns from now on clk (delta may be negative). */
static inline struct timespec tu_deadline(clockid_t clk, int64_t delta_ns)
{
	struct timespec t;
	clock_gettime(clk, &t);
	int64_t ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + delta_ns;
	if (ns < 0)
		ns = 0;
	t.tv_sec = ns / 1000000000;
	t.tv_nsec = ns % 1000000000;
	return t;
}

static inline int tu_reached(clockid_t clk, const struct timespec *abs)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return now.tv_sec > abs->tv_sec || (now.tv_sec == abs->tv_sec && now.tv_nsec >= abs->tv_nsec);
}

static inline void tu_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/* 1 when this program runs under a user-mode emulator (qemu-user): the
 * emulator answers /proc/self/exe with the guest program but leaves
 * /proc/thread-self/exe alone, which then names the emulator's own binary.
 * Natively both name the same file. */
static inline int tu_emulated(void)
{
	static int cached = -1;
	char self[512], thread[512];
	if (cached < 0) {
		ssize_t a = readlink("/proc/self/exe", self, sizeof self);
		ssize_t b = readlink("/proc/thread-self/exe", thread, sizeof thread);
		cached = a > 0 && b > 0 && (a != b || memcmp(self, thread, (size_t)a) != 0);
	}
	return cached;
}

/* One line of /proc/<tid>/syscall: the number and the first six arguments,
 * as the kernel sees them (under qemu-user: the host's syscall). */
struct tu_sys {
	long nr;
	unsigned long a[6];
};

static inline int tu_read_syscall(pid_t tid, struct tu_sys *s)
{
	char path[64], buf[256];
	int n = 0;
	/* /proc/<tid> reaches a thread of this process and a forked child alike */
	snprintf(path, sizeof path, "/proc/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof buf, f))
		n = sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &s->nr, &s->a[0], &s->a[1],
		           &s->a[2], &s->a[3], &s->a[4], &s->a[5]);
	fclose(f);
	return n == 7;
}

/* The futex(2) op and bitset of the probe's wait, which mark its line. */
#define TU_PROBE_OP (9 | 128) /* FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG */
#define TU_PROBE_BITSET 0x7e57ab1eu

struct tu_probe {
	uint32_t word;
	pid_t tid;
};

static inline void *tu_probe_main(void *arg)
{
	struct tu_probe *p = arg;
	__atomic_store_n(&p->tid, tu_gettid(), __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&p->word, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &p->word, TU_PROBE_OP, 0, NULL, NULL, TU_PROBE_BITSET);
	return NULL;
}

/* The number /proc shows for a thread asleep in futex(2). Natively that is
 * SYS_futex. Under qemu-user, /proc shows the host's syscall, whose number
 * depends on the host (futex is 98 on aarch64, 202 on x86-64): it is read off
 * a probe thread parked in futex(2) with a marked op and bitset, which qemu
 * passes through to the host call. Once per process. */
static inline long tu_futex_nr(void)
{
	static long nr = -1;
	struct tu_probe p = { 0, 0 };
	struct tu_sys s;
	pthread_t t;

	if (nr >= 0)
		return nr;
	if (!tu_emulated() || pthread_create(&t, NULL, tu_probe_main, &p) != 0)
		return nr = SYS_futex;
	for (int i = 0; i < 10000 && nr < 0; i++) {
		pid_t tid = __atomic_load_n(&p.tid, __ATOMIC_SEQ_CST);
		if (tid && tu_read_syscall(tid, &s) && s.a[1] == TU_PROBE_OP &&
		    s.a[5] == TU_PROBE_BITSET)
			nr = s.nr;
		else
			tu_sleep_ms(1);
	}
	__atomic_store_n(&p.word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &p.word, 1 | 128 /* FUTEX_WAKE_PRIVATE */, 1, NULL, NULL, 0);
	pthread_join(t, NULL);
	if (nr < 0)
		nr = SYS_futex;
	return nr;
}

/* 1 when s is a futex-family wait: futex(2), futex_waitv (449) or
 * futex_wait (455); the last two have one number on every architecture. */
static inline int tu_in_futex(const struct tu_sys *s)
{
	return s->nr == tu_futex_nr() || s->nr == 449 || s->nr == 455;
}

/* Waits until thread (or child process) tid sleeps in a futex-family
 * syscall, as /proc reports it, and still sleeps there on the same address
 * 2 ms later, so that the sleep is a park and not a passing lock (under
 * qemu-user, also not the emulator's own short internal lock waits, which
 * are futex(2) calls too). Gives up after ~10 s (returns 0). */
static inline int tu_wait_parked(pid_t tid)
{
	struct tu_sys s, again;
	for (int i = 0; i < 10000; i++) {
		if (tu_read_syscall(tid, &s) && tu_in_futex(&s)) {
			tu_sleep_ms(2);
			if (tu_read_syscall(tid, &again) && again.nr == s.nr && again.a[0] == s.a[0])
				return 1;
		}
		tu_sleep_ms(1);
	}
	return 0;
}

struct tu_forker {
	int (*child)(void *);
	void *arg;
	pid_t pid;
};

static inline void *tu_forker_main(void *arg)
{
	struct tu_forker *f = arg;
	f->pid = fork();
	if (f->pid == 0)
		_exit(f->child(f->arg));
	return NULL;
}

/* fork(): the child runs child(arg) and exits with its result; returns the
 * child's pid (or -1) in the parent. Under qemu-user (7.2) the fork is made
 * by a thread started for it: qemu's fork_end drops the parent's other vCPUs
 * from its CPU list but leaves their indexes in the plugin core's table, and
 * a new thread's vCPU takes the list's highest index + 1, so the child's
 * first pthread_create hits "qemu_plugin_vcpu_init_hook: assertion failed"
 * and exits 127 whenever a thread younger than the forking one was alive at
 * the fork. The youngest thread forking leaves no such index. Natively the
 * caller forks, as it asked. */
static inline pid_t tu_fork(int (*child)(void *), void *arg)
{
	struct tu_forker f = { child, arg, -1 };
	pthread_t t;

	if (!tu_emulated()) {
		tu_forker_main(&f);
		return f.pid;
	}
	if (pthread_create(&t, NULL, tu_forker_main, &f) != 0 || pthread_join(t, NULL) != 0)
		return -1;
	return f.pid;
}

static inline void tu_store(void *p, unsigned size, uint64_t v)
{
	switch (size) {
	case 0: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST); break;
	case 1: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST); break;
	case 2: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST); break;
	default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); break;
	}
}

static inline uint64_t tu_load(const void *p, unsigned size)
{
	switch (size) {
	case 0: return __atomic_load_n((const uint8_t *)p, __ATOMIC_SEQ_CST);
	case 1: return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
	case 2: return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
	default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
	}
}

/* Runs a suite built by make() with Check and returns the process status. */
static inline int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
