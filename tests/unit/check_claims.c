/* Cost and safety claims of docs/api.md and docs/design/ that no other suite
 * checks (the map from every claim to its test: tests/docs/claims.md).
 *
 * System calls are counted, not timed: the measured operation runs in a
 * forked child under a seccomp filter that traps every system call a lock
 * path could make to sleep, wake or fence (futex, futex_waitv, futex_wake,
 * futex_wait, futex_requeue, membarrier, sched_yield). The SIGSYS handler
 * counts the call and fails it with -ENOSYS; the child reports the count in
 * its exit status. Each operation runs once before the filter goes in, so
 * one-time set-up (the kernel probe, placement of a fresh word) is not
 * counted: the claims are about the steady state. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>

#include "f2sync/f2sync.h"
#include "common/testutil.h"

#if defined(__x86_64__)
#define CL_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CL_ARCH AUDIT_ARCH_AARCH64
#else
#error "check_claims: unknown architecture"
#endif

static volatile sig_atomic_t trapped;

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	(void)sig;
	(void)si;
	trapped++;
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#else
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#endif
}

/* Traps the lock paths' system calls in the calling thread (no TSYNC: the
 * filter stays with this thread of the child). 0, or -1 if it could not. */
static int trap_lock_syscalls(void)
{
#define TRAP_IF(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 0)
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CL_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		TRAP_IF(SYS_futex),
		TRAP_IF(449),            /* futex_waitv */
		TRAP_IF(454),            /* futex_wake */
		TRAP_IF(455),            /* futex_wait */
		TRAP_IF(456),            /* futex_requeue */
		TRAP_IF(SYS_membarrier),
		TRAP_IF(SYS_sched_yield),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
#undef TRAP_IF
	/* TRAP_IF k jumps 7 - k statements forward: past the later TRAP_IFs
	 * and the ALLOW, onto the TRAP. */
	for (int k = 0; k < 7; k++)
		f[4 + k].jt = (unsigned char)(7 - k);
	struct sock_fprog prog = { (unsigned short)(sizeof f / sizeof f[0]), f };
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* Runs op(arg) once to warm up, then again in a child with the lock
 * syscalls trapped. Returns how many the second run made; an op that fails
 * (returns nonzero) fails the test. */
static int syscalls_of(int (*op)(void *), void *arg)
{
	int st;
	ck_assert_int_eq(op(arg), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (trap_lock_syscalls() != 0)
			_exit(251);
		/* the filter acts: a probe call is trapped and counted */
		syscall(SYS_sched_yield);
		if (trapped != 1)
			_exit(252);
		trapped = 0;
		int r = op(arg);
		_exit(r ? 250 : trapped > 200 ? 200 : trapped);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child killed by signal %d", WTERMSIG(st));
	ck_assert_msg(WEXITSTATUS(st) != 251 && WEXITSTATUS(st) != 252, "seccomp filter not in place (%d)",
	              WEXITSTATUS(st));
	ck_assert_msg(WEXITSTATUS(st) != 250, "the operation failed under the filter");
	return WEXITSTATUS(st);
}

/* ---- "no system call when nobody waits" -------------------------------- */

static int mutex_cycle(void *arg)
{
	f2_mutex_t *m = arg;
	struct timespec ts = tu_deadline(CLOCK_MONOTONIC, 1000000000);
	int r = 0;
	for (int i = 0; i < 100; i++) {
		r |= f2_mutex_lock(m) | f2_mutex_unlock(m);
		r |= f2_mutex_trylock(m) | f2_mutex_unlock(m);
		r |= f2_mutex_timedlock(m, &ts, CLOCK_MONOTONIC) | f2_mutex_unlock(m);
	}
	return r;
}

static int mutex8_cycle(void *arg)
{
	f2_mutex8_t *m = arg;
	struct timespec ts = tu_deadline(CLOCK_REALTIME, 1000000000);
	int r = 0;
	for (int i = 0; i < 100; i++) {
		r |= f2_mutex8_lock(m) | f2_mutex8_unlock(m);
		r |= f2_mutex8_trylock(m) | f2_mutex8_unlock(m);
		r |= f2_mutex8_timedlock(m, &ts, CLOCK_REALTIME) | f2_mutex8_unlock(m);
	}
	return r;
}

/* design.md section 5 / mutex.md: an uncontended lock and unlock (every
 * kind of lock, both widths) makes no system call. */
START_TEST(uncontended_mutex_no_syscall)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	f2_mutex8_t m8 = F2_MUTEX8_INITIALIZER;
	ck_assert_int_eq(syscalls_of(mutex_cycle, &m), 0);
	ck_assert_int_eq(syscalls_of(mutex8_cycle, &m8), 0);
}
END_TEST

static int rwlock_cycle(void *arg)
{
	f2_rwlock_t *rw = arg;
	struct timespec ts = tu_deadline(CLOCK_MONOTONIC, 1000000000);
	int r = 0;
	for (int i = 0; i < 100; i++) {
		r |= f2_rwlock_rdlock(rw) | f2_rwlock_rdlock(rw) | f2_rwlock_unlock(rw) |
		     f2_rwlock_unlock(rw);
		r |= f2_rwlock_wrlock(rw) | f2_rwlock_unlock(rw);
		r |= f2_rwlock_tryrdlock(rw) | f2_rwlock_unlock(rw);
		r |= f2_rwlock_trywrlock(rw) | f2_rwlock_unlock(rw);
		r |= f2_rwlock_timedrdlock(rw, &ts, CLOCK_MONOTONIC) | f2_rwlock_unlock(rw);
		r |= f2_rwlock_timedwrlock(rw, &ts, CLOCK_MONOTONIC) | f2_rwlock_unlock(rw);
	}
	return r;
}

/* The rwlock's uncontended paths (rwlock.md, "Who may take the lock": one
 * CAS each; design.md section 4) make no system call. */
START_TEST(uncontended_rwlock_no_syscall)
{
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	ck_assert_int_eq(syscalls_of(rwlock_cycle, &rw), 0);
}
END_TEST

struct cv {
	f2_cond_t c;
	f2_cond64_t c64;
	f2_mutex_t m;
};

static int cond_idle(void *arg)
{
	struct cv *x = arg;
	int r = 0;
	for (int i = 0; i < 100; i++)
		r |= f2_cond_signal(&x->c) | f2_cond_broadcast(&x->c) | f2_cond64_signal(&x->c64) |
		     f2_cond64_broadcast(&x->c64);
	return r;
}

/* api.md f2_cond_signal/broadcast: "No system call when nobody waits,
 * whatever waited before" (here: a wait that was signalled, and one that
 * timed out and whose surplus a signal removed). */
START_TEST(idle_cond_no_syscall)
{
	struct cv x = { F2_COND_INITIALIZER, F2_COND64_INITIALIZER, F2_MUTEX_INITIALIZER };
	struct timespec past = tu_deadline(CLOCK_MONOTONIC, 0);
	ck_assert_int_eq(syscalls_of(cond_idle, &x), 0);
	ck_assert_int_eq(f2_mutex_lock(&x.m), 0);
	ck_assert_int_eq(f2_cond_timedwait(&x.c, &x.m, &past, CLOCK_MONOTONIC), ETIMEDOUT);
	ck_assert_int_eq(f2_cond64_timedwait(&x.c64, &x.m, &past, CLOCK_MONOTONIC), ETIMEDOUT);
	ck_assert_int_eq(f2_mutex_unlock(&x.m), 0);
	/* the warm-up run of syscalls_of removes the surpluses */
	ck_assert_int_eq(syscalls_of(cond_idle, &x), 0);
}
END_TEST

static unsigned wake_flags;

static int wake_nobody(void *arg)
{
	int r = 0;
	for (int i = 0; i < 100; i++)
		r |= f2_futex_wake(arg, 1, 1, wake_flags) != 0;
	return r;
}

/* emulation.md: "A wake with no waiters is the validation ..., a hash, one
 * seq_cst fence and one load": no lock, no system call. Every size the
 * emulation serves on this backend, plain words and NUMA pairs. */
START_TEST(emulated_wake_nobody_no_syscall)
{
	static _Alignas(16) unsigned char word[16];
	unsigned done = 0;
	for (unsigned size = F2_SIZE_U8; size <= F2_SIZE_U64; size++) {
		for (unsigned numa = 0; numa <= F2_NUMA; numa += F2_NUMA) {
			wake_flags = size | numa | F2_PRIVATE;
			const char *b = f2_futex_backend(wake_flags);
			if (!b || strcmp(b, "emulated"))
				continue;
			memset(word, 0, sizeof word);
			ck_assert_int_eq(syscalls_of(wake_nobody, word), 0);
			done++;
		}
	}
	/* sizes 8, 16 and 64 are emulated on every kernel today */
	ck_assert_uint_ge(done, 3);
}
END_TEST

/* ---- api.md f2_futex_wake: a plain word is never read or written ------- */

/* Wake on every size of private plain word in memory that is no longer
 * readable (PROT_NONE) returns 0 and does not fault; a shared word may give
 * -EFAULT (the kernel looks the page up), never a crash. */
START_TEST(wake_plain_word_touches_nothing)
{
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(mprotect(p, 4096, PROT_NONE), 0);
	for (unsigned size = F2_SIZE_U8; size <= F2_SIZE_U64; size++) {
		ck_assert_int_eq(f2_futex_wake(p + 64, 1, 1, size | F2_PRIVATE), 0);
		if (f2_futex_backend(size)) {
			int r = f2_futex_wake(p + 64, 1, 1, size);
			ck_assert_msg(r == 0 || r == -EFAULT, "shared wake returned %d", r);
		}
	}
	munmap(p, 4096);
}
END_TEST

/* ---- api.md f2_set_park_hooks: "never on a fast path" ------------------ */

static int hook_calls;
static void hook(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&hook_calls, 1, __ATOMIC_RELAXED);
}

START_TEST(park_hooks_not_on_fast_path)
{
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	f2_mutex8_t m8 = F2_MUTEX8_INITIALIZER;
	f2_rwlock_t rw = F2_RWLOCK_INITIALIZER;
	struct cv x = { F2_COND_INITIALIZER, F2_COND64_INITIALIZER, F2_MUTEX_INITIALIZER };

	ck_assert_int_eq(f2_set_park_hooks(hook, hook, NULL), 0);
	ck_assert_int_eq(mutex_cycle(&m), 0);
	ck_assert_int_eq(mutex8_cycle(&m8), 0);
	ck_assert_int_eq(rwlock_cycle(&rw), 0);
	ck_assert_int_eq(cond_idle(&x), 0);
	ck_assert_int_eq(__atomic_load_n(&hook_calls, __ATOMIC_RELAXED), 0);
	/* the hooks are in place: a lock that has to wait runs both */
	struct timespec soon = tu_deadline(CLOCK_MONOTONIC, 20000000);
	ck_assert_int_eq(f2_mutex_lock(&m), 0);
	ck_assert_int_eq(f2_mutex_timedlock(&m, &soon, CLOCK_MONOTONIC), ETIMEDOUT);
	ck_assert_int_eq(f2_mutex_unlock(&m), 0);
	ck_assert_int_ge(__atomic_load_n(&hook_calls, __ATOMIC_RELAXED), 2);
	ck_assert_int_eq(f2_set_park_hooks(NULL, NULL, NULL), 0);
}
END_TEST

/* ---- api.md f2_futex_wait: -ENOSYS for an unknown or missing backend ---- */

/* In a process started with F2SYNC_BACKEND=<bad>: every futex call is
 * -ENOSYS, no kind of word has a backend, and an uncontended mutex still
 * works (it needs none). Exit status 0 when all of that holds. */
static int forced_bad_backend(void)
{
	_Alignas(8) uint32_t pair[2] = { 0, 0 };
	struct f2_futex_waitv v = { 1, pair, F2_SIZE_U32 | F2_PRIVATE, 0 };
	f2_mutex_t m = F2_MUTEX_INITIALIZER;
	int bad = 0;
	bad |= f2_futex_wake(pair, 1, 1, F2_SIZE_U32 | F2_PRIVATE) != -ENOSYS;
	bad |= f2_futex_wait(pair, 1, 1, F2_SIZE_U32 | F2_PRIVATE, NULL, 0) != -ENOSYS;
	bad |= f2_futex_waitv(&v, 1, NULL, 0) != -ENOSYS;
	bad |= f2_futex_backend(F2_SIZE_U32 | F2_PRIVATE) != NULL;
	bad |= f2_futex_backend(F2_SIZE_U8 | F2_PRIVATE) != NULL;
	bad |= f2_mutex_lock(&m) != 0 || f2_mutex_unlock(&m) != 0;
	return bad;
}

static void run_with_backend(const char *backend)
{
	int st;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = { "check_claims", "--forced-bad-backend", NULL };
		setenv("F2SYNC_BACKEND", backend, 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "F2SYNC_BACKEND=%s: status %#x",
	              backend, st);
}

START_TEST(bad_backend_is_enosys)
{
	run_with_backend("no-such-backend");
	/* a backend this kernel (or the kprofile filter) does not have */
	if (syscall(454, NULL, 0ull, 0, 0u) == -1 && errno == ENOSYS)
		run_with_backend("futex2");
}
END_TEST

/* ---- sizes (api.md headings, sync.md table) ----------------------------- */

START_TEST(object_sizes)
{
	ck_assert_uint_eq(sizeof(f2_mutex_t), 8);
	ck_assert_uint_eq(sizeof(f2_mutex8_t), 2);
	ck_assert_uint_eq(sizeof(f2_cond_t), 24);
	ck_assert_uint_eq(sizeof(f2_cond64_t), 32);
	ck_assert_uint_eq(sizeof(f2_rwlock_t), 8);
	ck_assert_uint_eq(sizeof(f2_barrier_t), 24);
}
END_TEST

static Suite *claims_suite(void)
{
	Suite *s = suite_create("claims");
	TCase *tc = tcase_create("claims");
	tcase_add_test(tc, object_sizes);
	tcase_add_test(tc, wake_plain_word_touches_nothing);
	tcase_add_test(tc, park_hooks_not_on_fast_path);
	/* Under qemu-user (the aarch64 run) a guest cannot install a seccomp
	 * filter (seccomp(2) ENOSYS, PR_SET_SECCOMP EINVAL), which the counting
	 * needs, nor exec itself without binfmt_misc, which the forced-backend
	 * child needs; every native run checks these claims. */
	if (!tu_emulated()) {
		tcase_add_test(tc, uncontended_mutex_no_syscall);
		tcase_add_test(tc, uncontended_rwlock_no_syscall);
		tcase_add_test(tc, idle_cond_no_syscall);
		tcase_add_test(tc, emulated_wake_nobody_no_syscall);
		tcase_add_test(tc, bad_backend_is_enosys);
	} else {
		printf("syscall counts and the forced-backend child: not run: qemu-user has "
		       "no guest seccomp and no binfmt_misc exec\n");
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--forced-bad-backend"))
		return forced_bad_backend();
	return tu_run(claims_suite());
}
