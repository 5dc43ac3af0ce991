# WAMR's build options (WAMR_BUILD_*), every one with its reason (runtime_c/README.md has the
# table). Read by every build of WAMR: this engine's component.cmake (WAMR compiled with the
# runtime) and, under ESP-IDF, the generated project's CMakeLists.txt before project(), so that
# the managed WAMR component (compiled once, by its own CMakeLists) sees exactly these values
# (ESP-IDF processes every component in the project's scope; runtime_c/cmake/rt_idf_project.cmake).
#
# Input: RT_WAMR_INTERP fast (default) | classic (the target's runtime.wamr_interp; under ESP-IDF
# the generated sdkconfig.defaults selects the same interpreter in WAMR's Kconfig).
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
