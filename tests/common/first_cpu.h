/* The first CPU this process may run on: where the SCHED_FIFO tests pin
 * their threads so that priorities, not CPUs, decide who runs. */
#ifndef F2_TEST_FIRST_CPU_H
#define F2_TEST_FIRST_CPU_H

#include <sched.h>

static inline int tu_first_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			return c;
	return 0;
}

#endif
