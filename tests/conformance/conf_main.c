/* pthread conformance: runs every suite; with F2P_EXPECT_SHIM=1 it also checks
 * that the pthread calls really resolve to libf2sync-pthread. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int conf_resolves_to_shim(const char *name)
{
	Dl_info info;
	void *p = dlsym(RTLD_DEFAULT, name);

	if (!p || !dladdr(p, &info) || !info.dli_fname)
		return 0;
	return strstr(info.dli_fname, "libf2sync-pthread") != NULL;
}

int main(void)
{
	static const char *const calls[] = {
		"pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_clocklock",
		"pthread_cond_wait", "pthread_cond_clockwait", "pthread_rwlock_rdlock",
		"pthread_barrier_wait", "pthread_cancel",
	};
	const char *expect = getenv("F2P_EXPECT_SHIM");
	SRunner *sr;
	int failed;

	if (expect && strcmp(expect, "1") == 0)
		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
			if (!conf_resolves_to_shim(calls[i])) {
				fprintf(stderr, "%s does not resolve to libf2sync-pthread\n", calls[i]);
				return 1;
			}
	sr = srunner_create(conf_mutex_suite());
	srunner_add_suite(sr, conf_cond_suite());
	srunner_add_suite(sr, conf_rwlock_suite());
	srunner_add_suite(sr, conf_barrier_suite());
	srunner_add_suite(sr, conf_process_suite());
	srunner_add_suite(sr, conf_undefined_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
