# Thin wrapper: the README's two commands. Each installs what a fresh Debian 12
# machine lacks, configures and builds, then runs.
DEPS       := cmake make gcc g++ pkg-config libnuma-dev libhwloc-dev check scdoc
DEMO_DEPS  := libnsync-dev gnuplot-nox
# clang: the second compiler; the aarch64 cross toolchain, qemu-user and the
# arm64 dev libraries (multiarch, tools/deps.sh adds the architecture): the
# aarch64 run of the unit suites.
TEST_DEPS  := python3 sysbench coreutils clang gcc-aarch64-linux-gnu g++-aarch64-linux-gnu \
              libc6-dev-arm64-cross qemu-user check:arm64 libnuma-dev:arm64 libhwloc-dev:arm64
JOBS       := $(shell nproc)

.PHONY: all deps demo test bench clean
all: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j $(JOBS)

deps:
	@tools/deps.sh $(DEPS)

# The quick f2bench run (about a minute): f2sync against glibc and nsync,
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

clean:
	rm -rf build build-asan build-tsan build-clang build-aarch64
