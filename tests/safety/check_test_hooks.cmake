# ctest -P script: the shipped libraries carry none of the test-only counters
# (src/internal/test_hooks.h), and the tests' build of the library does (so a
# renamed hook cannot make this check pass by matching nothing).
#   NM  the nm program   SHIPPED  ;-list of libraries   TESTLIB  f2sync_test
cmake_minimum_required(VERSION 3.25)
set(hooks f2_mx_handoffs f2_mx_spins f2_mx_spin_reads f2_mx_spin_yields f2_mx_spin_gap_ns f2_bl_spin_reads f2_cv_requeued f2_cv_spins f2_cv_spin_seen f2_cv_spin_ns f2_futex_count_wakes f2_futex_wakes
  f2_futex_count_wake f2_test_tuning_replace f2_rw_spins
  f2_rw_backoffs)
function(symbols lib out)
  execute_process(COMMAND ${NM} ${lib} OUTPUT_VARIABLE text RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${lib}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
foreach(lib IN LISTS SHIPPED)
  symbols(${lib} text)
  foreach(h IN LISTS hooks)
    if(text MATCHES "[ \n]${h}\n")
      message(FATAL_ERROR "${lib} has the test-only symbol ${h}")
    endif()
  endforeach()
endforeach()
symbols(${TESTLIB} text)
foreach(h IN LISTS hooks)
  if(NOT text MATCHES " [BDT] ${h}\n")
    message(FATAL_ERROR "${TESTLIB} lacks the test hook ${h} (test_hooks.h renamed?)")
  endif()
endforeach()
