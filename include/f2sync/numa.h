/* f2sync NUMA placement: the node a lock word whose node is F2_NODE_AUTO gets
 * is the calling thread's (its hwloc binding if that lies in one node, else
 * the node of the CPU it runs on). F2SYNC_NUMA=off|auto|<node> overrides. */
#ifndef F2SYNC_NUMA_H
#define F2SYNC_NUMA_H

#include "export.h"

F2_EXTERN_C_BEGIN

/* The node f2sync picks for the calling thread, or -1 when placement is off. */
F2_API int f2_numa_node_of_self(void);
/* The number of NUMA nodes f2sync sees (>= 1). */
F2_API int f2_numa_node_count(void);

F2_EXTERN_C_END

#endif
