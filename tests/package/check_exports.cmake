# ctest -P script: the shared library exports exactly the F2_API functions.
cmake_minimum_required(VERSION 3.25)
#   LIB     path of libf2sync.so      NM   the nm program
#   HEADERS ;-list of public headers
# Fails when a dynamic symbol does not start with f2_, or when a function
# declared F2_API in a header is not exported.
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D failed on ${LIB}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(exported "")
set(bad "")
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-fA-F]* *[A-Za-z] +([^ ]+)$")
    string(REGEX REPLACE "@.*" "" sym "${CMAKE_MATCH_1}")  # drop a symbol version
    list(APPEND exported ${sym})
    if(NOT sym MATCHES "^f2_")
      list(APPEND bad ${sym})
    endif()
  endif()
endforeach()
list(LENGTH exported n)
if(n EQUAL 0)
  message(FATAL_ERROR "no dynamic symbols found in ${LIB}")
endif()

set(missing "")
set(declared 0)
foreach(h IN LISTS HEADERS)
  file(READ ${h} text)
  string(PREPEND text "\n")
  # A line "F2_API <return type> <name>(": the name is the identifier before
  # '('. Anchored at a line start so export.h's own #define is not one.
  string(REGEX MATCHALL "\n[ \t]*F2_API[^;(#]*[ *]([A-Za-z_][A-Za-z0-9_]*)[ \t]*\\(" decls "${text}")
  foreach(d IN LISTS decls)
    string(REGEX REPLACE ".*[ *]([A-Za-z_][A-Za-z0-9_]*)[ \t]*\\($" "\\1" name "${d}")
    math(EXPR declared "${declared} + 1")
    if(NOT name IN_LIST exported)
      list(APPEND missing ${name})
    endif()
  endforeach()
endforeach()

message(STATUS "${n} exported symbols, ${declared} F2_API declarations")
if(bad)
  message(FATAL_ERROR "exported symbols without the f2_ prefix: ${bad}")
endif()
if(missing)
  message(FATAL_ERROR "F2_API functions not exported by ${LIB}: ${missing}")
endif()
