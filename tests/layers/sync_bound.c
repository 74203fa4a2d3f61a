/* Compiled as a sync-layer source: the futex2 header made for the sync layer
 * compiles (build.layers.allowed.sync_bound), so the refusals next to it fail
 * for the layering and not for the way they are compiled. */
#include "../futex2/bound.h"

int f2_layers_probe(void);
int f2_layers_probe(void)
{
	return (int)sizeof(struct f2_bound);
}
