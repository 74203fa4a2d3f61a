/* The one place where the sync layer parks a thread: it runs the embedding
 * runtime's park hooks (runtime.h) around the futex wait, so a language
 * runtime can drop its global lock or tell its scheduler. Never on a fast
 * path: only a thread that is about to sleep comes here.
 *
 * Hooks are published as one immutable record through an atomic pointer, so
 * a parking thread always sees a matching (before, after, arg) triple. A
 * replaced record is never freed (a late parker may still hold it); hooks are
 * set a handful of times per process, so that costs a few bytes. Every record
 * stays linked on a list of all records ever made, so it remains reachable
 * (and leak checkers agree). */
#include <errno.h>
#include <stdlib.h>

#include "f2sync/runtime.h"
#include "sync_impl.h"
#include "../internal/atomic.h"

struct hooks {
	f2_park_hook_fn before;
	f2_park_hook_fn after;
	void *arg;
	struct hooks *older;   /* the list of every record ever made */
};

static struct hooks *current;
static struct hooks *all_records;

/* Links h onto all_records; concurrent setters may race, hence the CAS. */
static void keep(struct hooks *h)
{
	struct hooks *head = f2_load_relaxed(&all_records); /* a guess for the CAS */
	do
		h->older = head;
	while (!f2_cas_relaxed(&all_records, &head, h)); /* only keeps h reachable: no data is read through it */
}

int f2_set_park_hooks(f2_park_hook_fn before, f2_park_hook_fn after, void *arg)
{
	struct hooks *h = NULL;
	if (before || after) {
		h = malloc(sizeof *h);
		if (!h)
			return ENOMEM;
		*h = (struct hooks){ before, after, arg, NULL };
		keep(h);
	}
	/* release: pairs with the acquire in f2_park, publishing *h. */
	f2_store_release(&current, h);
	return 0;
}

/* Runs wait(arg) between the hooks. */
static int hooked(int (*wait)(const void *), const void *arg)
{
	/* acquire: pairs with the release in f2_set_park_hooks. */
	struct hooks *h = f2_load_acquire(&current);
	if (h && h->before)
		h->before(h->arg);
	int r = wait(arg);
	if (h && h->after)
		h->after(h->arg);
	return r;
}

struct park_args {
	void *addr;
	const struct f2_bound *bound;
	uint64_t val, mask;
	unsigned flags;
	const struct timespec *abs;
	clockid_t clk;
};

static int wait_public(const void *arg)
{
	const struct park_args *a = arg;
	return f2_futex_wait(a->addr, a->val, a->mask, a->flags, a->abs, a->clk);
}

static int wait_bound(const void *arg)
{
	const struct park_args *a = arg;
	return f2_wait_bound(a->bound, a->val, a->mask, a->abs, a->clk);
}

int f2_park(void *addr, uint64_t val, uint64_t mask, unsigned flags,
            const struct timespec *abs, clockid_t clk)
{
	struct park_args a = { addr, NULL, val, mask, flags, abs, clk };
	return hooked(wait_public, &a);
}

int f2_park_bound(const struct f2_bound *p, uint64_t val, uint64_t mask,
                  const struct timespec *abs, clockid_t clk)
{
	struct park_args a = { NULL, p, val, mask, 0, abs, clk };
	return hooked(wait_bound, &a);
}
