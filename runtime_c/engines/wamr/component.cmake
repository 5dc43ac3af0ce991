# Engine wamr: the WebAssembly Micro Runtime's interpreter (WAMR 2.4.5, pinned in
# build_tools/third_party.toml); modules are uploaded at run time, none is compiled in.
# WAMR's build options are in options.cmake, each with its reason.
#
# Two ways WAMR's own sources are built:
# - everywhere but ESP-IDF: from WAMR_ROOT (unpacked by build_tools/third_party.py), listed here
#   as RT_ENGINE_EXTERNAL_SOURCES. A bare-metal platform brings WAMR's platform port in
#   platform/<name>/wamr/port.cmake (WAMR_BUILD_TARGET, WAMR_BUILD_PLATFORM,
#   SHARED_PLATFORM_CONFIG); a hosted one uses WAMR's own port for the build host's system.
# - ESP-IDF (ESP_PLATFORM, a fact of the build system): WAMR is the managed component
#   `wasm-micro-runtime` of the generated src/idf_component.yml (at the lock file's revision),
#   compiled once by its own CMakeLists (build-scripts/esp-idf/wamr) with WAMR's esp-idf port and
#   the same options.cmake (the generated project includes it before project()). This file then
#   lists only the engine glue, and RT_ENGINE_IDF_REQUIRES names the component to depend on.
#
# Either way WAMR's runtime_lib.cmake is included here for its definitions and include
# directories (directory scope), so the glue sees exactly the WASM_ENABLE_* values WAMR was
# built with (rt_eng_wamr.c reads WAMR's exec env); the C flags it appends are dropped again so
# that project code keeps exactly RT_STRICT_FLAGS.
#
# Inputs besides rt_components.cmake's: WAMR_ROOT (not under ESP-IDF); RT_WAMR_INTERP.
# Outputs besides the RT_ENGINE_* lists: RT_ENGINE_IDF_REQUIRES (ESP-IDF component names).
include(${CMAKE_CURRENT_LIST_DIR}/options.cmake)

get_filename_component(_wamr_rt_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(_wamr_port ${_wamr_rt_root}/platform/${RT_PLATFORM}/wamr/port.cmake)
set(RT_ENGINE_IDF_REQUIRES "")
if(ESP_PLATFORM)
  # The build name idf-component-manager gives the manifest's `wasm-micro-runtime` dependency.
  set(RT_ENGINE_IDF_REQUIRES wasm-micro-runtime)
  set(_wamr_port "")
  if(NOT CMAKE_BUILD_EARLY_EXPANSION)  # ESP-IDF's requirements pass knows no properties yet
    idf_component_get_property(WAMR_ROOT ${RT_ENGINE_IDF_REQUIRES} COMPONENT_DIR)
  endif()
  # As WAMR's esp-idf component sets them (build-scripts/esp-idf/wamr/CMakeLists.txt).
  set(WAMR_BUILD_PLATFORM esp-idf)
  if(CONFIG_IDF_TARGET_ARCH_RISCV)
    set(WAMR_BUILD_TARGET RISCV32_ILP32)
  elseif(CONFIG_IDF_TARGET_ARCH_XTENSA)
    set(WAMR_BUILD_TARGET XTENSA)
  endif()
elseif(EXISTS ${_wamr_port})
  include(${_wamr_port})
elseif(CMAKE_SYSTEM_NAME)
  string(TOLOWER ${CMAKE_SYSTEM_NAME} WAMR_BUILD_PLATFORM)
else()  # script mode (listing sources)
  string(TOLOWER ${CMAKE_HOST_SYSTEM_NAME} WAMR_BUILD_PLATFORM)
endif()

# The natives (rt_wamr_natives.c) are generated from the ABI table (build_tools/abi/) and
# listed in rt_gen.cmake as RT_GEN_ENGINE_GLUE_SOURCES.
set(RT_ENGINE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/rt_eng_wamr.c ${RT_GEN_ENGINE_GLUE_SOURCES})
set(RT_ENGINE_EXTERNAL_SOURCES "")
set(RT_ENGINE_INCLUDES ${CMAKE_CURRENT_LIST_DIR})
set(RT_ENGINE_DEFINES "")
set(RT_ENGINE_LIBS "")
if(CMAKE_BUILD_EARLY_EXPANSION)
  return()  # ESP-IDF's requirements pass: the lists and requirements are all it reads
endif()

if(NOT EXISTS "${WAMR_ROOT}/build-scripts/runtime_lib.cmake")
  message(FATAL_ERROR "wamr engine: WAMR_ROOT ('${WAMR_ROOT}') is not a WAMR source tree")
endif()

if(CMAKE_SCRIPT_MODE_FILE AND NOT ESP_PLATFORM)  # (a stand-in for ESP-IDF brings its own)
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

if(ESP_PLATFORM)
  return()  # WAMR's sources are the managed component's
endif()
set(RT_ENGINE_EXTERNAL_SOURCES ${WAMR_RUNTIME_LIB_SOURCE})
if(EXISTS ${_wamr_port})  # the platform's own WAMR port is project code: strict warnings
  list(REMOVE_ITEM RT_ENGINE_EXTERNAL_SOURCES ${PLATFORM_SHARED_SOURCE})
  list(APPEND RT_ENGINE_SOURCES ${PLATFORM_SHARED_SOURCE})
endif()
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
