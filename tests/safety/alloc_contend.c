/* alloc_contend: a contended mutex + condvar + rwlock program whose threads
 * also allocate all the time, so that the host's allocator (jemalloc, when it
 * is preloaded) has its own pthread mutexes contended while f2sync's first
 * slow paths run. Under libf2sync-pthread, every pthread lock of the allocator
 * is an f2sync lock too: if a lock path of f2sync called malloc (or waited on
 * a set-up that calls malloc), this program would deadlock (issue 11).
 *
 * Exits 0 when every thread finished and the counts add up; the caller runs it
 * under a timeout, a hang is the failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define ROUNDS  400

static pthread_mutex_t mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long counter, turns, shared_value;
static int token; /* the cond hands a token around the threads */

/* Churns the allocator: several size classes, freed in another order. */
static void churn(unsigned seed)
{
	void *p[8];
	for (int i = 0; i < 8; i++) {
		p[i] = malloc(16u << ((seed + (unsigned)i) % 10));
		if (!p[i])
			abort();
		memset(p[i], i, 16);
	}
	for (int i = 7; i >= 0; i--)
		free(p[(i * 3) % 8]);
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;

	for (int r = 0; r < ROUNDS; r++) {
		churn((unsigned)(id * 7 + r));
		pthread_mutex_lock(&mx);
		counter++;
		if (r % 8 == 0) {
			/* wait for the token (bounded: a broadcast passes it on) */
			while (token % THREADS != id && token >= 0) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 200000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				if (pthread_cond_timedwait(&cv, &mx, &ts))
					break;
			}
			token++;
			turns++;
			pthread_cond_broadcast(&cv);
		} else if (r % 3 == 0) {
			pthread_cond_signal(&cv);
		}
		pthread_mutex_unlock(&mx);
		if (r % 2) {
			pthread_rwlock_wrlock(&rw);
			shared_value++;
			churn((unsigned)r);
			pthread_rwlock_unlock(&rw);
		} else {
			pthread_rwlock_rdlock(&rw);
			volatile long v = shared_value;
			(void)v;
			pthread_rwlock_unlock(&rw);
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i)) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (counter != (long)THREADS * ROUNDS || shared_value != (long)THREADS * ROUNDS / 2) {
		fprintf(stderr, "alloc_contend: counts %ld %ld\n", counter, shared_value);
		return 1;
	}
	return 0;
}
