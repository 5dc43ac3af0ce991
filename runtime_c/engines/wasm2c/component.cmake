# Engine wasm2c: guests translated to C at build time (build_tools lists them in rt_gen.cmake as
# RT_GEN_GUEST_SOURCES, with the module table RT_GEN_ENGINE_SOURCES, and the import glue
# generated from runtime_py/edge_runtime/abi/imports.toml, rt_w2c_imports.c, as RT_GEN_ENGINE_GLUE_SOURCES);
# wabt's runtime compiled in place from WASM2C_RUNTIME_DIR.
if(NOT EXISTS "${WASM2C_RUNTIME_DIR}/wasm-rt-impl.c")
  message(FATAL_ERROR "wasm2c engine: WASM2C_RUNTIME_DIR has no wasm-rt-impl.c (apt-get install wabt)")
endif()
set(RT_ENGINE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rt_eng_wasm2c.c
  ${RT_GEN_ENGINE_GLUE_SOURCES})
set(RT_ENGINE_EXTERNAL_SOURCES ${WASM2C_RUNTIME_DIR}/wasm-rt-impl.c ${RT_GEN_ENGINE_SOURCES})
set(RT_ENGINE_INCLUDES ${CMAKE_CURRENT_LIST_DIR} ${WASM2C_RUNTIME_DIR})
# Microcontroller mode everywhere: explicit bounds checks, calloc'd memory, and a call-depth
# limit that turns runaway recursion into a trap before a 16 KiB native stack runs out.
set(RT_ENGINE_DEFINES WASM_RT_MEMCHECK_SIGNAL_HANDLER=0 WASM_RT_MAX_CALL_STACK_DEPTH=200)
# wabt's runtime allocates through the core's accounted allocator.
rt_source_options(${WASM2C_RUNTIME_DIR}/wasm-rt-impl.c -include ${CMAKE_CURRENT_LIST_DIR}/rt_w2c_alloc.h)
