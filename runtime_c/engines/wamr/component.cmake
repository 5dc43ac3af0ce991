# Engine wamr: the WebAssembly Micro Runtime's interpreter (WAMR 2.4.5 from WAMR_ROOT, unpacked
# by build_tools/third_party.py); modules are uploaded at run time, none is compiled in.
# Every WAMR build option is here, with its reason (runtime_c/README.md has the table).
#
# Inputs besides rt_components.cmake's: WAMR_ROOT; RT_WAMR_INTERP fast (default) | classic.
# A bare-metal platform brings WAMR's platform port in platform/<name>/wamr/port.cmake
# (WAMR_BUILD_TARGET, WAMR_BUILD_PLATFORM, SHARED_PLATFORM_CONFIG); a hosted one uses WAMR's own
# port for the build host's system (linux, darwin).
#
# WAMR's runtime_lib.cmake adds its definitions and include directories at directory scope
# (they apply to the whole runtime build, harmlessly); the C flags it appends are dropped again
# so that project code keeps exactly RT_STRICT_FLAGS.
if(NOT EXISTS "${WAMR_ROOT}/build-scripts/runtime_lib.cmake")
  message(FATAL_ERROR "wamr engine: WAMR_ROOT ('${WAMR_ROOT}') is not a WAMR source tree")
endif()
if(NOT RT_WAMR_INTERP)
  set(RT_WAMR_INTERP fast)
endif()

# Interpreter only: fast (translates to a register-like form at load time, about 1.6x faster
# than classic, about 2.5x the wasm size in RAM per loaded module) or classic (runs the bytecode
# in place: about 1.15x the wasm size). AOT and JIT are off (no compiler on the device).
set(WAMR_BUILD_INTERP 1)
if(RT_WAMR_INTERP STREQUAL "fast")
  set(WAMR_BUILD_FAST_INTERP 1)
elseif(RT_WAMR_INTERP STREQUAL "classic")
  set(WAMR_BUILD_FAST_INTERP 0)
else()
  message(FATAL_ERROR "RT_WAMR_INTERP must be fast or classic (got '${RT_WAMR_INTERP}')")
endif()
set(WAMR_BUILD_AOT 0)
set(WAMR_BUILD_JIT 0)
set(WAMR_BUILD_FAST_JIT 0)
# The full loader: uploaded modules are untrusted and must be validated (the mini loader
# skips validation).
set(WAMR_BUILD_MINI_LOADER 0)
# The guest ABI is MVP + sign-ext + mutable-globals (docs/abi.md): no proposal beyond it.
set(WAMR_BUILD_BULK_MEMORY 0)
set(WAMR_BUILD_REF_TYPES 0)
set(WAMR_BUILD_SIMD 0)
set(WAMR_BUILD_TAIL_CALL 0)
set(WAMR_BUILD_EXCE_HANDLING 0)
set(WAMR_BUILD_GC 0)
set(WAMR_BUILD_MEMORY64 0)
set(WAMR_BUILD_MULTI_MODULE 0)
set(WAMR_BUILD_SHARED_MEMORY 0)
set(WAMR_BUILD_LIB_PTHREAD 0)
set(WAMR_BUILD_LIB_WASI_THREADS 0)
# The imports are the core's (generated rt_wamr_natives.c), not WAMR's libc or wasi-nn.
set(WAMR_BUILD_LIBC_BUILTIN 0)
set(WAMR_BUILD_LIBC_WASI 0)
set(WAMR_BUILD_WASI_NN 0)
# The thread manager only for its terminate flag, which the interpreter polls at every branch
# and call: the call time limit sets it from the platform's timer (rt_eng_wamr.c). No threads.
set(WAMR_BUILD_THREAD_MGR 1)
set(WAMR_DISABLE_WAKEUP_BLOCKING_OP 1)
# Explicit bounds checks, no signal handlers and no 8 GiB reservations: linear memory is an
# ordinary accounted allocation (WASM_MEM_ALLOC_WITH_USAGE routes it to rt_malloc).
set(WAMR_DISABLE_HW_BOUND_CHECK 1)
set(WAMR_DISABLE_STACK_HW_BOUND_CHECK 1)
set(WAMR_BUILD_ALLOC_WITH_USAGE 1)
# Memory is exactly pages x 64 KiB (the core bounds-checks guest pointers against that).
set(WAMR_BUILD_SHRUNK_MEMORY 0)
set(WAMR_BUILD_LOAD_CUSTOM_SECTION 0)
set(WAMR_BUILD_DUMP_CALL_STACK 0)
set(WAMR_BUILD_MEMORY_PROFILING 0)
set(WAMR_BUILD_PERF_PROFILING 0)
set(WAMR_BUILD_INSTRUCTION_METERING 0)
set(WAMR_BUILD_WASM_CACHE 0)
set(WAMR_BUILD_GLOBAL_HEAP_POOL 0)
# The x86-64 GS-base trick only serves AOT code; it would also need a configure-time try_run.
set(WAMR_DISABLE_WRITE_GS_BASE 1)
# WAMR's messages go to the runtime's debug log, never to the protocol link (stdout on posix).
set(WAMR_BH_VPRINTF rt_wamr_vprintf)

get_filename_component(_wamr_rt_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(_wamr_port ${_wamr_rt_root}/platform/${RT_PLATFORM}/wamr/port.cmake)
if(EXISTS ${_wamr_port})
  include(${_wamr_port})
elseif(CMAKE_SYSTEM_NAME)
  string(TOLOWER ${CMAKE_SYSTEM_NAME} WAMR_BUILD_PLATFORM)
else()  # script mode (listing sources)
  string(TOLOWER ${CMAKE_HOST_SYSTEM_NAME} WAMR_BUILD_PLATFORM)
endif()

if(CMAKE_SCRIPT_MODE_FILE)
  # Listing sources only (cmake -P print_sources.cmake): WAMR's directory-scope commands do
  # nothing there.
  macro(add_definitions)
  endmacro()
  macro(include_directories)
  endmacro()
  macro(enable_language)
  endmacro()
  list(PREPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_LIST_DIR}/script_mode)
  if(NOT WAMR_BUILD_TARGET)
    set(WAMR_BUILD_TARGET X86_64)
  endif()
endif()

set(_wamr_saved_c_flags "${CMAKE_C_FLAGS}")
set(WAMR_ROOT_DIR ${WAMR_ROOT})
include(${WAMR_ROOT}/build-scripts/runtime_lib.cmake)
set(CMAKE_C_FLAGS "${_wamr_saved_c_flags}")

# The natives (rt_wamr_natives.c) are generated from the ABI table (build_tools/abi/) and
# listed in rt_gen.cmake as RT_GEN_ENGINE_GLUE_SOURCES.
set(RT_ENGINE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/rt_eng_wamr.c ${RT_GEN_ENGINE_GLUE_SOURCES})
set(RT_ENGINE_EXTERNAL_SOURCES ${WAMR_RUNTIME_LIB_SOURCE})
if(EXISTS ${_wamr_port})  # the platform's own WAMR port is project code: strict warnings
  list(REMOVE_ITEM RT_ENGINE_EXTERNAL_SOURCES ${PLATFORM_SHARED_SOURCE})
  list(APPEND RT_ENGINE_SOURCES ${PLATFORM_SHARED_SOURCE})
endif()
set(RT_ENGINE_INCLUDES ${CMAKE_CURRENT_LIST_DIR})
set(RT_ENGINE_DEFINES "")
set(RT_ENGINE_LIBS "")
foreach(_src IN LISTS RT_ENGINE_EXTERNAL_SOURCES)
  if(_src MATCHES "\\.[sS]$")
    if(NOT EXISTS ${_wamr_port})  # hosted: a native-call trampoline that needs no exec stack
      rt_source_options(${_src} -Wa,--noexecstack)
    endif()
  elseif(RT_SANITIZE)
    # The fast interpreter stores operand pointers unaligned where the CPU allows it (x86-64),
    # by design: UBSan's alignment check would stop every load.
    rt_source_options(${_src} -fno-sanitize=alignment)
  endif()
endforeach()
if(NOT EXISTS ${_wamr_port} AND NOT CMAKE_SCRIPT_MODE_FILE)
  find_package(Threads REQUIRED)  # WAMR's hosted ports lock with pthreads
  set(RT_ENGINE_LIBS Threads::Threads)
endif()
