# f2_warnings(<target>...): the project's warning flags on its own targets
# (PRIVATE: never on a consumer's, and not directory-wide), with -Werror when
# F2SYNC_WERROR is on.
function(f2_warnings)
  foreach(t IN LISTS ARGN)
    target_compile_options(${t} PRIVATE -Wall -Wextra $<$<BOOL:${F2SYNC_WERROR}>:-Werror>)
  endforeach()
endfunction()
