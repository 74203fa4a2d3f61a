# Thin wrapper: the README's two commands. Each installs what a fresh Debian 12
# machine lacks, configures and builds, then runs.
DEPS       := cmake make gcc g++ pkg-config libnuma-dev libhwloc-dev check
DEMO_DEPS  := libnsync-dev gnuplot-nox
TEST_DEPS  := python3 sysbench coreutils
JOBS       := $(shell nproc)

.PHONY: all deps demo test bench clean
all: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j $(JOBS)

deps:
	@tools/deps.sh $(DEPS)

demo:
	@tools/deps.sh $(DEPS) $(DEMO_DEPS)
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS) >/dev/null
	build/examples/futex2_demo

test:
	@tools/deps.sh $(DEPS) $(TEST_DEPS)
	tools/test.sh

clean:
	rm -rf build build-asan build-tsan
