#!/bin/sh
# The whole test run behind `make test`: a -Werror build with every ctest
# (unit suites once per backend and once in auto under each kernel profile of
# tests/kprofile, stress, build and example tests), then the unit suites again
# under ASan+UBSan, under TSan, and built by clang (-Werror, everything); and
# a -Werror aarch64 cross build with the unit suites under qemu-user.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc)
run_build() { # preset (CMakePresets.json: its settings and build directory)
	cmake --preset "$1" -DF2SYNC_WERROR=ON >/dev/null
	cmake --build --preset "$1" -j "$jobs" >/dev/null
}
status=0
echo "== build/: -Wall -Wextra -Werror, all tests"
run_build release
(cd build && ctest -j "$jobs" --output-on-failure) || status=1
echo "== build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer, unit tests"
run_build asan
(cd build-asan && ctest -j "$jobs" -L unit --output-on-failure) || status=1
echo "== build-tsan/: ThreadSanitizer, unit tests"
run_build tsan
(cd build-tsan && ctest -j "$jobs" -L unit --output-on-failure) || status=1
echo "== build-clang/: clang -Werror, everything; unit tests"
run_build clang
(cd build-clang && ctest -j "$jobs" -L unit --output-on-failure) || status=1
# The aarch64 unit suites under qemu-user 7.2 (ctest in build-aarch64): every
# check_* suite on each backend qemu-user serves (auto, legacy, emulate; it
# has no futex2 syscalls), see docs/design/futex2.md, "aarch64 under
# qemu-user".
echo "== build-aarch64/: aarch64 cross build (-Werror), unit suites under qemu-user"
run_build aarch64 || status=1
(cd build-aarch64 && ctest -j "$jobs" -L unit --output-on-failure \
	-R '^check_[a-z0-9_.]*\.(auto|legacy|emulate)$') || status=1
[ "$status" -eq 0 ] && echo "f2sync: all test runs passed" || echo "f2sync: some test runs FAILED"
exit "$status"
