# Thin wrapper: the README's two commands. `make demo`, `make test` (and
# `make test-numa`, `make bench`) install what a fresh Debian 12 machine lacks,
# configure and build, then run; `make deps` only installs. A plain `make`
# only builds (CMakePresets.json, preset release, into build/) and never runs
# apt-get: it needs the DEPS below installed first.
DEPS       := cmake make gcc g++ pkg-config libnuma-dev libhwloc-dev check scdoc
DEMO_DEPS  := libnsync-dev libabsl-dev gnuplot-nox
# jemalloc and redis: the safety tests under the shim. clang: the second
# compiler; the aarch64 cross toolchain, qemu-user and the arm64 dev libraries
# (multiarch, tools/deps.sh adds the architecture): the aarch64 run of the unit suites.
TEST_DEPS  := python3 sysbench coreutils libjemalloc2 redis-server redis-tools clang \
              gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
              check:arm64 libnuma-dev:arm64 libhwloc-dev:arm64
# The NUMA guests of `make test-numa`: a kernel to boot, qemu, and what the
# initramfs is made of.
GUEST_DEPS := qemu-system-x86 linux-image-amd64 busybox-static cpio
JOBS       := $(shell nproc)

.PHONY: all deps demo test test-numa bench clean
all:
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

deps:
	@tools/deps.sh $(DEPS)

# The quick f2bench run (about a minute): f2sync against glibc, nsync and abseil,
# target table first. The futex2 walk-through example stays available as
# build/examples/futex2_demo.
demo:
	@tools/deps.sh $(DEPS) $(DEMO_DEPS)
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS) --target f2bench >/dev/null
	build/bench/f2bench --quick --csv build/demo-out

# The full benchmark (at most 15 minutes on 2 cores): CSVs in build/bench-out,
# plots in docs/img, report in docs/benchmarks.md.
bench:
	@tools/deps.sh $(DEPS) $(DEMO_DEPS) $(TEST_DEPS) linux-perf
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS) >/dev/null
	bench/run_bench.sh build build/bench-out full

test:
	@tools/deps.sh $(DEPS) $(TEST_DEPS)
	tools/test.sh

# NUMA on a real multi-node kernel: Debian's kernel in qemu (TCG, no KVM
# needed) as 2 nodes x 2 CPUs and as 4 nodes x 1 CPU, running the placement
# checks and the unit suites (docs/numa.md). About ten minutes, so a target
# of its own, which CI runs after `make test`.
test-numa:
	@tools/deps.sh $(DEPS) $(TEST_DEPS) $(GUEST_DEPS)
	@cmake -S . -B build-numa -DCMAKE_BUILD_TYPE=RelWithDebInfo -DF2SYNC_WERROR=ON \
		-DF2SYNC_GUEST_TESTS=ON -DF2SYNC_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-numa -j $(JOBS) --target numa_guest_programs >/dev/null
	cd build-numa && ctest -L guest --output-on-failure

clean:
	rm -rf build build-debug build-asan build-tsan build-clang build-aarch64 build-numa
