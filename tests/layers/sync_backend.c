/* Compiled as a sync-layer source (the f2_sync target's definitions, from
 * src/sync): including a futex2 backend header must fail the build
 * (build.layers.refused.sync_backend). */
#include "../futex2/futex2_impl.h"
