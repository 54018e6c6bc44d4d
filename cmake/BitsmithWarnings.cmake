# bitsmith_set_warnings(target): the project's warning set; errors when BITSMITH_WERROR is ON (CI).
function(bitsmith_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports false -Wrestrict positives inside libstdc++'s std::string operator+ at -O2/-O3
    # (GCC bugs 105329 and 105651, fixed in GCC 13); they would make every "a" + to_string(i) fail.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(BITSMITH_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # With -fsanitize=address GCC reports false -Wmaybe-uninitialized positives inside libstdc++
    # (std::function in <regex>, std::optional); GCC's manual warns that sanitizers cause them.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(BITSMITH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
