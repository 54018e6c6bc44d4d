# bitsmith_set_warnings(target): the project's warning set; errors when BITSMITH_WERROR is ON (CI).
function(bitsmith_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(BITSMITH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
