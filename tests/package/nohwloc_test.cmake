# ctest -P script (build.nohwloc): configures and builds f2sync with
# -DF2SYNC_WITH_HWLOC=OFF in a scratch tree (which must not look hwloc up),
# checks that neither library
# carries hwloc code (no "libhwloc" or "hwloc_*" string, no dlopen import; the shim still
# needs dlsym for glibc's own calls), and runs the placement suites there, on
# every backend: the node layout then comes from sysfs and getcpu alone.
#   SRC_DIR  the source tree       WORK  scratch build directory
#   GENERATOR, CC, CXX, BUILD_TYPE   as in the calling build
#   NM       the nm program
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/run.cmake)

run(${CMAKE_COMMAND} -S ${SRC_DIR} -B ${WORK} -G ${GENERATOR}
    -DCMAKE_C_COMPILER=${CC} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    -DF2SYNC_WITH_HWLOC=OFF -DF2SYNC_WERROR=ON -DF2SYNC_BUILD_BENCH=OFF
    -DF2SYNC_BUILD_EXAMPLES=OFF)
# hwloc was not even looked for (README: no hwloc headers needed)
file(STRINGS ${WORK}/CMakeCache.txt hw REGEX "^(HWLOC_|pkgcfg_lib_HWLOC)")
if(hw)
  message(FATAL_ERROR "configured without hwloc, but it was looked up: ${hw}")
endif()
run(${CMAKE_COMMAND} --build ${WORK} -j 2 --target f2sync f2sync_pthread check_placement kprofile)

foreach(lib ${WORK}/src/libf2sync.so ${WORK}/src/pthread/libf2sync-pthread.so)
  file(STRINGS ${lib} hw REGEX "libhwloc|hwloc_[a-z]")
  if(hw)
    message(FATAL_ERROR "${lib} mentions hwloc: ${hw}")
  endif()
  run(${NM} -D --undefined-only ${lib})
  if(last_out MATCHES "[ \n]dlopen")
    message(FATAL_ERROR "${lib} imports dlopen:\n${last_out}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -E chdir ${WORK} ${CMAKE_CTEST_COMMAND} -j 2 --output-on-failure
    -R "^check_placement")
message(STATUS "${last_out}")
if(NOT last_out MATCHES "100% tests passed")
  message(FATAL_ERROR "placement suites without hwloc:\n${last_out}")
endif()
