/* start_cost SHIM [RUNS]: what libf2sync-pthread costs a process that never
 * contends a lock: its start (exec to exit of a program that does nothing)
 * and its first fork, each with and without the shim preloaded.
 *
 * The runs alternate (plain, shim, plain, shim, ...) so that a change in
 * machine load hits both sides alike; medians are printed. Nothing is
 * asserted about the times (they depend on the machine and its load): the
 * test fails only if a run fails. The numbers are quoted in docs/pthread.md.
 *
 * start_cost --first-fork: prints how long this process's first fork() took
 * in the parent, in nanoseconds (the mode the measurement runs). */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Prints "<wall ns> <cpu ns>" of the first fork() (the parent's side). */
static int first_fork(void)
{
	long long c0 = cpu_ns(), t0 = now_ns();
	pid_t p = fork();
	long long t1 = now_ns(), c1 = cpu_ns();

	if (p < 0)
		return 1;
	if (p == 0)
		_exit(0);
	if (waitpid(p, NULL, 0) != p)
		return 1;
	printf("%lld %lld\n", t1 - t0, c1 - c0);
	return 0;
}

/* The environment with LD_PRELOAD=shim added (shim NULL: removed). */
static char **env_with(const char *shim)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **e = calloc(n + 2, sizeof(*e)), *pre = NULL;
	size_t k = 0;
	if (!e)
		exit(2);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			e[k++] = environ[i];
	if (shim) {
		if (asprintf(&pre, "LD_PRELOAD=%s", shim) < 0)
			exit(2);
		e[k++] = pre;
	}
	e[k] = NULL;
	return e;
}

struct sample {
	long long wall, cpu;            /* the process, start to exit */
	long long fork_wall, fork_cpu;  /* its first fork */
};

/* Runs argv with env into *s. -1 on failure. */
static int run(char *const argv[], char **env, struct sample *s)
{
	struct rusage ru;
	int fd[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	char buf[64] = "";

	if (pipe(fd))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	long long t0 = now_ns();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, env))
		return -1;
	close(fd[1]);
	ssize_t got = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	if (wait4(pid, &st, 0, &ru) != pid)
		return -1;
	long long t1 = now_ns();
	posix_spawn_file_actions_destroy(&fa);
	if (!WIFEXITED(st) || WEXITSTATUS(st) || got <= 0 ||
	    sscanf(buf, "%lld %lld", &s->fork_wall, &s->fork_cpu) != 2)
		return -1;
	s->wall = t1 - t0;
	s->cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static double median_us(long long *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) / 1000.0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--first-fork"))
		return first_fork();
	if (argc < 2) {
		fprintf(stderr, "usage: start_cost SHIM [RUNS]\n");
		return 2;
	}
	int runs = argc > 2 ? atoi(argv[2]) : 200;
	if (runs < 1 || runs > 100000)
		return 2;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 2;
	self[n] = 0;
	char *child_argv[] = { self, "--first-fork", NULL };
	char **plain = env_with(NULL), **shim = env_with(argv[1]);
	struct sample *sp = calloc((size_t)runs, sizeof(*sp)), *ss = calloc((size_t)runs, sizeof(*ss));
	long long *v = calloc((size_t)runs, sizeof(*v));
	if (!sp || !ss || !v)
		return 2;
	for (int i = 0; i < runs; i++) {
		if (run(child_argv, plain, &sp[i]) || run(child_argv, shim, &ss[i])) {
			fprintf(stderr, "start_cost: a run failed\n");
			return 1;
		}
	}
	printf("start_cost: %d alternating runs, medians in us (glibc / shim / difference)\n", runs);
	static const char *const names[4] = {
		"process start to exit, wall", "process start to exit, CPU",
		"first fork(), wall", "first fork(), CPU (parent)" };
	for (int k = 0; k < 4; k++) {
		double m[2];
		for (int side = 0; side < 2; side++) {
			const struct sample *x = side ? ss : sp;
			for (int i = 0; i < runs; i++)
				v[i] = k == 0 ? x[i].wall : k == 1 ? x[i].cpu :
				       k == 2 ? x[i].fork_wall : x[i].fork_cpu;
			m[side] = median_us(v, runs);
		}
		printf("  %-30s %9.1f %9.1f %+9.1f\n", names[k], m[0], m[1], m[1] - m[0]);
	}
	return 0;
}
