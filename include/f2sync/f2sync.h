/* f2sync: synchronization on Linux futex2. Umbrella header. */
#ifndef F2SYNC_F2SYNC_H
#define F2SYNC_F2SYNC_H

#include "f2sync/config.h" /* generated: in the build tree it lives apart from the sources */
#include "futex2.h"
#include "mutex.h"
#include "cond.h"
#include "rwlock.h"
#include "barrier.h"
#include "numa.h"
#include "runtime.h"

#endif
