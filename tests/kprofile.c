/* kprofile: runs a program as if on an older kernel (or libc), so that the
 * test suite exercises the probing and routing a user of that system gets.
 *
 *   kprofile <profile> <program> [args...]
 *
 * It installs a seccomp filter (no root needed: PR_SET_NO_NEW_PRIVS first)
 * that fails the syscalls the profile's kernel lacks with that kernel's
 * errno, exports F2TEST_PROFILE=<profile> (the routing test reads it), and
 * execs the program. The filter is inherited by every thread and child.
 *
 * Profiles (what each kernel answers; numbers from the unified syscall table,
 * the same on x86-64 and aarch64):
 *   k6.16   Linux 6.16+: everything; no filter.
 *   k6.7    Linux 6.7-6.15: futex_wake/futex_wait (454/455) refuse a flag
 *           outside FUTEX2_SIZE_MASK|FUTEX2_PRIVATE with EINVAL, as the
 *           kernel's "flags & ~FUTEX2_VALID_MASK" check does before
 *           FUTEX2_NUMA exists. futex_requeue and futex_waitv carry their
 *           flags in memory, which a seccomp filter cannot read; f2sync never
 *           passes FUTEX2_NUMA to them unless its futex_wake probe accepted
 *           it, so the filter covers every call that could carry it.
 *   k5.16   Linux 5.16-6.6: no futex_wake/futex_wait/futex_requeue: ENOSYS.
 *   k5.10   Linux 5.10-5.15: also no futex_waitv (449): ENOSYS.
 *   k4.18   Linux 4.18-5.9 (RHEL 8): as k5.10, and membarrier refuses the
 *           MEMBARRIER_CMD_(REGISTER_)PRIVATE_EXPEDITED_RSEQ commands with
 *           EINVAL (unknown commands). The same refusal stands for a seccomp
 *           policy on a new kernel. MEMBARRIER_CMD_QUERY still answers with
 *           the host's mask (seccomp can fail a call, not rewrite its
 *           result); f2sync never queries: it registers, and falls back when
 *           that fails.
 *   norseq  every syscall, but glibc without rseq
 *           (GLIBC_TUNABLES=glibc.pthread.rseq=0, appended to any tunables
 *           already set): the store unlock must fall back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define KP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define KP_ARCH AUDIT_ARCH_AARCH64
#else
#error "kprofile: unknown architecture"
#endif

#define NR_FUTEX_WAITV   449
#define NR_FUTEX_WAKE    454
#define NR_FUTEX_WAIT    455
#define NR_FUTEX_REQUEUE 456
/* futex2 flags a 6.7-6.15 kernel accepts (FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) */
#define K67_VALID_FLAGS  0x83u
#define MB_PRIVATE_EXPEDITED_RSEQ          (1u << 7)
#define MB_REGISTER_PRIVATE_EXPEDITED_RSEQ (1u << 8)

/* What a profile takes away. */
struct profile {
	const char *name;
	int no_numa;     /* futex_wake/futex_wait: EINVAL for FUTEX2_NUMA */
	int no_futex2;   /* 454..456: ENOSYS */
	int no_waitv;    /* 449: ENOSYS */
	int no_mb_rseq;  /* membarrier rseq commands: EINVAL */
	int no_rseq;     /* glibc.pthread.rseq=0 */
};

static const struct profile profiles[] = {
	{ "k6.16", 0, 0, 0, 0, 0 },
	{ "k6.7", 1, 0, 0, 0, 0 },
	{ "k5.16", 0, 1, 0, 0, 0 },
	{ "k5.10", 0, 1, 1, 0, 0 },
	{ "k4.18", 0, 1, 1, 1, 0 },
	{ "norseq", 0, 0, 0, 0, 1 },
};

#define MAX_INSNS 64
#define ARG_LO(i) ((unsigned)offsetof(struct seccomp_data, args[0]) + 8u * (i)) /* little endian */

struct prog {
	struct sock_filter f[MAX_INSNS];
	unsigned short n;
};

static void emit(struct prog *p, struct sock_filter insn)
{
	if (p->n == MAX_INSNS) {
		fputs("kprofile: filter too long\n", stderr);
		exit(127);
	}
	p->f[p->n++] = insn;
}

static void ld_nr(struct prog *p)
{
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
}

/* if (nr == sysno) return -err; */
static void fail_nr(struct prog *p, unsigned sysno, unsigned err)
{
	ld_nr(p);
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sysno, 0, 1));
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err));
}

/* if (nr == sysno && (arg & bits)) return -err; */
static void fail_arg_bits(struct prog *p, unsigned sysno, unsigned arg, unsigned bits,
                          unsigned err)
{
	ld_nr(p);
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sysno, 0, 3));
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(arg)));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, bits, 0, 1));
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err));
}

/* if (nr == sysno && arg == val) return -err; */
static void fail_arg_eq(struct prog *p, unsigned sysno, unsigned arg, unsigned val, unsigned err)
{
	ld_nr(p);
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sysno, 0, 3));
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(arg)));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, val, 0, 1));
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err));
}

static void build(struct prog *p, const struct profile *pr)
{
	/* Another ABI (x32, ia32) numbers its syscalls differently: leave it. */
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KP_ARCH, 1, 0));
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	if (pr->no_numa) {
		fail_arg_bits(p, NR_FUTEX_WAKE, 3, ~K67_VALID_FLAGS, EINVAL);
		fail_arg_bits(p, NR_FUTEX_WAIT, 3, ~K67_VALID_FLAGS, EINVAL);
	}
	if (pr->no_futex2) {
		fail_nr(p, NR_FUTEX_WAKE, ENOSYS);
		fail_nr(p, NR_FUTEX_WAIT, ENOSYS);
		fail_nr(p, NR_FUTEX_REQUEUE, ENOSYS);
	}
	if (pr->no_waitv)
		fail_nr(p, NR_FUTEX_WAITV, ENOSYS);
	if (pr->no_mb_rseq) {
		fail_arg_eq(p, SYS_membarrier, 0, MB_PRIVATE_EXPEDITED_RSEQ, EINVAL);
		fail_arg_eq(p, SYS_membarrier, 0, MB_REGISTER_PRIVATE_EXPEDITED_RSEQ, EINVAL);
	}
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
}

static int install(const struct profile *pr)
{
	struct prog p = { .n = 0 };
	build(&p, pr);
	struct sock_fprog fp = { .len = p.n, .filter = p.f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp);
}

static int add_rseq_tunable(void)
{
	const char *old = getenv("GLIBC_TUNABLES");
	const char *t = "glibc.pthread.rseq=0";
	char buf[4096];
	if (old && *old) {
		if ((size_t)snprintf(buf, sizeof buf, "%s:%s", old, t) >= sizeof buf)
			return -1;
		t = buf;
	}
	return setenv("GLIBC_TUNABLES", t, 1);
}

static void usage(void)
{
	fputs("usage: kprofile <profile> <program> [args...]\nprofiles:", stderr);
	for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
		fprintf(stderr, " %s", profiles[i].name);
	fputc('\n', stderr);
	exit(127);
}

int main(int argc, char **argv)
{
	const struct profile *pr = NULL;
	if (argc < 3)
		usage();
	for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
		if (!strcmp(argv[1], profiles[i].name))
			pr = &profiles[i];
	if (!pr)
		usage();
	if (setenv("F2TEST_PROFILE", pr->name, 1) || (pr->no_rseq && add_rseq_tunable())) {
		perror("kprofile: setenv");
		return 127;
	}
	if (install(pr)) {
		perror("kprofile: seccomp");
		return 127;
	}
	execvp(argv[2], argv + 2);
	perror("kprofile: exec");
	return 127;
}
