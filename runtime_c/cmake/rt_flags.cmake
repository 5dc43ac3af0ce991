# Compiler flags of the C runtime, for every build of it (native, rv32, ESP-IDF, libnnb).
# Project code: C99 with warnings as errors. Third-party and generated code (wabt's runtime,
# wasm2c output, model tables, upstream sources): built as given, GNU C11, warnings off.
set(RT_C_STANDARD 99)
set(RT_STRICT_FLAGS -Wall -Wextra -Werror)
set(RT_EXTERNAL_C_STANDARD 11)  # with GNU extensions (gnu11)
set(RT_EXTERNAL_FLAGS -w)
set(RT_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)

# Per-source compile options that also work when a component file is read in script mode
# (cmake -P cmake/print_sources.cmake, which lists the sources for build_tools and the tests).
function(rt_source_options source)
  if(NOT CMAKE_SCRIPT_MODE_FILE)
    set_source_files_properties(${source} PROPERTIES COMPILE_OPTIONS "${ARGN}")
  endif()
endfunction()
