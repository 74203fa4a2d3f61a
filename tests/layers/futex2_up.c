/* Compiled as a futex2-layer source (the f2_futex2 target's definitions,
 * from src/futex2): including the sync layer's header must fail the build
 * (build.layers.refused.futex2_up). */
#include "../sync/sync_impl.h"
