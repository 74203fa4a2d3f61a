/* preload_demo: an unmodified python3 on f2sync locks.
 *
 * usage: preload_demo <python3> <script.py> <path/to/libf2sync-pthread.so>
 *
 * Runs the script twice: as is, and with LD_PRELOAD=libf2sync-pthread.so and
 * F2SYNC_STATS=1, so that every pthread mutex, condvar, rwlock and barrier
 * call of the interpreter goes to f2sync. It prints both outputs' timings and
 * the shim's call counts, and exits 1 unless both runs succeed, print the same
 * text, and the shim reports a nonzero number of f2sync calls (proof that the
 * replacement was really used, not silently skipped). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run {
	char out[1 << 16], err[1 << 16];
	int status;
	double secs;
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Reads fd to EOF into buf (NUL-terminated, truncated to fit). */
static void slurp(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	char sink[4096];

	while ((n = read(fd, len + 1 < cap ? buf + len : sink,
	                 len + 1 < cap ? cap - 1 - len : sizeof sink)) > 0)
		if (len + 1 < cap)
			len += (size_t)n;
	buf[len] = 0;
}

static int run(char *const argv[], const char *preload, struct run *r)
{
	int out[2];
	FILE *err = tmpfile();
	double t0 = now();

	if (!err || pipe(out))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(fileno(err), 2);
		close(out[0]);
		close(out[1]);
		if (preload) {
			setenv("LD_PRELOAD", preload, 1);
			setenv("F2SYNC_STATS", "1", 1);
		} else {
			unsetenv("LD_PRELOAD");
		}
		execvp(argv[0], argv);
		perror("exec");
		_exit(127);
	}
	close(out[1]);
	slurp(out[0], r->out, sizeof r->out);
	close(out[0]);
	waitpid(pid, &r->status, 0);
	r->secs = now() - t0;
	rewind(err);
	slurp(fileno(err), r->err, sizeof r->err);
	fclose(err);
	return 0;
}

/* Sum of f2sync_calls=N over the shim's stats lines (one per process). */
static unsigned long f2sync_calls(const char *err)
{
	unsigned long sum = 0;
	for (const char *p = err; (p = strstr(p, "f2sync_calls=")); p++)
		sum += strtoul(p + strlen("f2sync_calls="), NULL, 10);
	return sum;
}

int main(int argc, char **argv)
{
	static struct run plain, shim;
	int bad = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: preload_demo <python3> <script.py> <libf2sync-pthread.so>\n");
		return 2;
	}
	if (access(argv[3], R_OK)) {
		fprintf(stderr, "no shim at %s\n", argv[3]);
		return 1;
	}
	char *cmd[] = { argv[1], argv[2], NULL };
	if (run(cmd, NULL, &plain) || run(cmd, argv[3], &shim)) {
		perror("preload_demo");
		return 1;
	}
	printf("--- %s %s (glibc locks): %.2f s, status %d\n%s", argv[1], argv[2], plain.secs,
	       plain.status, plain.out);
	printf("--- same, LD_PRELOAD=%s: %.2f s, status %d\n%s", argv[3], shim.secs, shim.status,
	       shim.out);
	printf("--- shim statistics (stderr):\n%s", shim.err);
	unsigned long calls = f2sync_calls(shim.err);
	if (plain.status || shim.status) {
		printf("WRONG: a run failed\n%s", plain.err);
		bad = 1;
	}
	if (strcmp(plain.out, shim.out) || !plain.out[0]) {
		printf("WRONG: the outputs differ (or are empty)\n");
		bad = 1;
	}
	if (calls == 0 || f2sync_calls(plain.err) != 0) {
		printf("WRONG: the shim was not used (f2sync calls: %lu)\n", calls);
		bad = 1;
	}
	if (!bad)
		printf("same output with and without the shim; %lu pthread calls went to f2sync\n", calls);
	return bad;
}
