/* object_table: a language runtime's object table, one lock per object.
 *
 * One million objects, three ways:
 *   f2_mutex8_t       a 2-byte lock next to the object's fields;
 *   header-bit lock   two bits of the 32-bit header word the object already
 *                     has (f2_bitlock_*); a "collector" thread sets and clears
 *                     a mark bit in the same headers at the same time;
 *   pthread_mutex_t   the 40-byte glibc mutex, for comparison.
 * Many threads increment random objects' counters under their locks, most of
 * them in a small hot set so that the locks are contended. It prints the
 * memory each table needs and checks that no increment was lost and that every
 * header's runtime bits ended as the collector left them (exit 1 otherwise).
 *
 * usage: object_table [threads [ops-per-thread]]   (default 8 1000000) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <f2sync/f2sync.h>

#define OBJECTS  (1u << 20)
#define HOT      256u           /* 7 of 8 operations hit these */

/* Header word of the runtime's objects: bits 0-1 are the lock, 31 the mark
 * bit, 2-30 an identity hash; only the lock bits belong to f2sync. */
#define H_LOCK   0u
#define H_WAIT   1u
#define H_MARK   (1u << 31)
#define H_HASH   0x7ffffffcu

struct obj8 { f2_mutex8_t lock; uint16_t kind; uint32_t value; };
struct objh { uint32_t header; uint32_t value; };
struct objp { pthread_mutex_t lock; uint32_t value; };

enum table { T_MUTEX8, T_HEADER, T_PTHREAD };
static const char *const table_name[] = { "f2_mutex8_t", "header bits", "pthread_mutex_t" };
static const size_t lock_bytes[] = { sizeof(f2_mutex8_t), 0, sizeof(pthread_mutex_t) };

static struct obj8 *t8;
static struct objh *th;
static struct objp *tp;
static long ops;
static enum table current;
static int collector_stop;

static uint32_t hash_of(uint32_t i)
{
	return (i * 2654435761u) & H_HASH;
}

static uint32_t next(uint64_t *s)
{
	*s ^= *s << 13; /* xorshift64 */
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

static void *hammer(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	for (long n = 0; n < ops; n++) {
		uint32_t r = next(&seed);
		uint32_t i = (r & 7) ? (r >> 3) % HOT : (r >> 3) % OBJECTS;
		switch (current) {
		case T_MUTEX8:
			f2_mutex8_lock(&t8[i].lock);
			t8[i].value++;
			f2_mutex8_unlock(&t8[i].lock);
			break;
		case T_HEADER:
			f2_bitlock_lock(&th[i].header, F2_SIZE_U32, H_LOCK, H_WAIT);
			th[i].value++;
			f2_bitlock_unlock(&th[i].header, F2_SIZE_U32, H_LOCK, H_WAIT);
			break;
		case T_PTHREAD:
			pthread_mutex_lock(&tp[i].lock);
			tp[i].value++;
			pthread_mutex_unlock(&tp[i].lock);
			break;
		}
	}
	return NULL;
}

/* Marks and unmarks the hot objects' headers while the lockers run, the way
 * a concurrent collector would; ends with every even object marked. */
static void *collector(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&collector_stop, __ATOMIC_ACQUIRE)) {
		for (uint32_t i = 0; i < HOT; i++)
			__atomic_fetch_or(&th[i].header, H_MARK, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i < HOT; i++)
			__atomic_fetch_and(&th[i].header, ~H_MARK, __ATOMIC_RELAXED);
	}
	for (uint32_t i = 0; i < OBJECTS; i += 2)
		__atomic_fetch_or(&th[i].header, H_MARK, __ATOMIC_RELAXED);
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t value_sum(enum table t)
{
	uint64_t s = 0;
	for (uint32_t i = 0; i < OBJECTS; i++)
		s += t == T_MUTEX8 ? t8[i].value : t == T_HEADER ? th[i].value : tp[i].value;
	return s;
}

static int run(enum table t, int threads, size_t objsize)
{
	pthread_t tid[threads], gc;
	double t0 = now();

	current = t;
	collector_stop = 0;
	if (t == T_HEADER)
		pthread_create(&gc, NULL, collector, NULL);
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, hammer, (void *)(uintptr_t)i);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	if (t == T_HEADER) {
		__atomic_store_n(&collector_stop, 1, __ATOMIC_RELEASE);
		pthread_join(gc, NULL);
	}
	double secs = now() - t0;
	uint64_t sum = value_sum(t), want = (uint64_t)threads * (uint64_t)ops;
	printf("  %-16s %3zu B/object (lock %2zu B) %7.1f MiB  %6.3f s  increments %llu/%llu\n",
	       table_name[t], objsize, lock_bytes[t], objsize * (double)OBJECTS / (1 << 20), secs,
	       (unsigned long long)sum, (unsigned long long)want);
	return sum != want;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 8, bad = 0;
	ops = argc > 2 ? atol(argv[2]) : 1000000;
	if (threads < 1 || threads > 1024 || ops < 1) {
		fprintf(stderr, "usage: object_table [threads 1..1024 [ops-per-thread]]\n");
		return 2;
	}
	t8 = calloc(OBJECTS, sizeof *t8); /* zeroed f2 objects are unlocked */
	th = calloc(OBJECTS, sizeof *th);
	tp = calloc(OBJECTS, sizeof *tp);
	if (!t8 || !th || !tp) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (uint32_t i = 0; i < OBJECTS; i++) {
		th[i].header = hash_of(i);
		pthread_mutex_init(&tp[i].lock, NULL);
	}
	printf("%u objects, %d threads x %ld increments (7/8 on %u hot objects):\n", OBJECTS,
	       threads, ops, HOT);
	bad |= run(T_MUTEX8, threads, sizeof(struct obj8));
	bad |= run(T_HEADER, threads, sizeof(struct objh));
	bad |= run(T_PTHREAD, threads, sizeof(struct objp));

	long wrong_headers = 0;
	for (uint32_t i = 0; i < OBJECTS; i++)
		wrong_headers += th[i].header != (hash_of(i) | (i % 2 ? 0 : H_MARK));
	printf("lock memory for the table: f2_mutex8_t %.1f MiB, header bits 0 MiB, pthread %.1f MiB\n",
	       (double)sizeof(f2_mutex8_t) * OBJECTS / (1 << 20),
	       (double)sizeof(pthread_mutex_t) * OBJECTS / (1 << 20));
	printf("headers whose runtime bits changed: %ld\n", wrong_headers);
	for (uint32_t i = 0; i < OBJECTS; i++)
		pthread_mutex_destroy(&tp[i].lock);
	free(t8);
	free(th);
	free(tp);
	if (bad || wrong_headers)
		printf("WRONG: lost increments or clobbered header bits\n");
	return bad || wrong_headers;
}
