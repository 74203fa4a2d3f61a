# ctest -P script: install the build tree into a scratch prefix, then build
# and run a tiny consumer once through find_package(f2sync) and once through
# pkg-config.
#   BUILD_DIR  the f2sync build tree     WORK  scratch directory
#   SRC        tests/package/consumer      CC    the C compiler
#   GENERATOR  the CMake generator       LIBDIR  CMAKE_INSTALL_LIBDIR
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)

set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/f2sync/f2sync.h include/f2sync/config.h ${LIBDIR}/libf2sync.so.0
          ${LIBDIR}/libf2sync.a ${LIBDIR}/cmake/f2sync/f2syncConfig.cmake ${LIBDIR}/pkgconfig/f2sync.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
set(ENV{LD_LIBRARY_PATH} ${prefix}/${LIBDIR})

# 1. CMake package
run(${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/cmake-build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${CC})
run(${CMAKE_COMMAND} --build ${WORK}/cmake-build)
run(${WORK}/cmake-build/consumer)
message(STATUS "find_package consumer: ${last_out}")
if(NOT last_out MATCHES "consumer ok")
  message(FATAL_ERROR "find_package consumer printed: ${last_out}")
endif()

# 2. pkg-config, straight to the compiler
set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
run(pkg-config --cflags --libs f2sync)
string(STRIP "${last_out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} -std=c11 -Wall -Wextra -Werror ${SRC}/consumer.c ${flags} -o ${WORK}/consumer-pc)
run(${WORK}/consumer-pc)
message(STATUS "pkg-config consumer: ${last_out}")
if(NOT last_out MATCHES "consumer ok")
  message(FATAL_ERROR "pkg-config consumer printed: ${last_out}")
endif()
