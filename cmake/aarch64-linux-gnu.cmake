# Cross-compiling for aarch64 with Debian's gcc-aarch64-linux-gnu; the arm64
# dev packages (check, libnuma-dev, libhwloc-dev :arm64) come from multiarch.
# Tests run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR) with / as its
# library prefix, so that the dynamic loader and libc.so.6 both come from
# libc6:arm64 (multiarch, /lib/aarch64-linux-gnu, pulled in by check:arm64).
# Not -L /usr/aarch64-linux-gnu: there qemu takes the loader from
# libc6-arm64-cross, but ld.so.cache (the host's) sends libc.so.6 to
# libc6:arm64, a different glibc build; ld.so and libc share private
# structures (_rtld_global), and with mismatched builds the first
# pthread_create spun forever walking a garbled stack-cache list.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config: the arm64 .pc files only (multiarch puts them here)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/)
