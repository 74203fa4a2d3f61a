# ctest -P script: the libraries name no NUMA or device library in DT_NEEDED
# (issue 11: a process that preloads the shim must not load hwloc, libnuma or
# libudev; placement.c dlopen()s hwloc only where there are several nodes).
#   READELF  the readelf program     LIBS  ;-list of shared libraries
cmake_minimum_required(VERSION 3.25)
foreach(lib IN LISTS LIBS)
  execute_process(COMMAND ${READELF} -d ${lib} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -d failed on ${lib}")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" needed "${out}")
  if(NOT needed)
    message(FATAL_ERROR "${lib}: no DT_NEEDED entries found (readelf output changed?)")
  endif()
  foreach(n IN LISTS needed)
    if(n MATCHES "hwloc|numa|udev")
      message(FATAL_ERROR "${lib} needs a library it must only dlopen: ${n}")
    endif()
    message(STATUS "${lib}: ${n}")
  endforeach()
endforeach()
