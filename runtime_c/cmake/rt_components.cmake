# The one description of the C runtime's build: every consumer (the native build in
# runtime_c/CMakeLists.txt, the bare-metal rv32 build through the same file with a platform
# toolchain, the ESP-IDF component of the ESP32 firmware, the host's libnnb) includes this file
# or one of the component files below, so sources and flags are listed exactly once.
#
# Inputs (set before including):
#   RT_ENGINE    engine folder under engines/ (wasm2c, wamr)
#   RT_NN        NN backend folder under nn/ (builtin, tflm)
#   RT_PLATFORM  platform folder under platform/ (posix, qemu-rv32, esp-idf)
#   RT_CONFIG_DIR  directory holding the rendered rt_config.h
#   RT_GEN_DIR     directory holding generated sources and rt_gen.cmake (written by build_tools)
# Outputs: RT_<COMPONENT>_SOURCES (project code, strict warnings), RT_<COMPONENT>_EXTERNAL_SOURCES
# (third-party or generated code, built as given), RT_<COMPONENT>_INCLUDES, RT_<COMPONENT>_DEFINES
# for COMPONENT in CORE, PROTO, ENGINE, NN, PLATFORM, GEN; RT_INCLUDES (all include directories, in
# search order); RT_DEFINES; RT_IDF_REQUIRES (under ESP-IDF: the ESP-IDF components the runtime
# component requires, from each component's RT_<COMPONENT>_IDF_REQUIRES).
# Under ESP-IDF (ESP_PLATFORM, set by ESP-IDF's build system) a component whose upstream code is
# an ESP-IDF component of the generated manifest (src/idf_component.yml) lists only its own glue
# and names that component in RT_<COMPONENT>_IDF_REQUIRES, so upstream code is compiled once.
# A component folder describes itself in component.cmake; the build picks folders by name, so
# adding an engine, backend or platform is adding a folder, not editing this file.

get_filename_component(RT_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
include(${RT_ROOT}/cmake/rt_flags.cmake)

foreach(var RT_ENGINE RT_NN RT_PLATFORM)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
foreach(pair "engines/${RT_ENGINE}" "nn/${RT_NN}" "platform/${RT_PLATFORM}")
  if(NOT EXISTS "${RT_ROOT}/${pair}/component.cmake")
    message(FATAL_ERROR "runtime_c/${pair}: no such component (no component.cmake)")
  endif()
endforeach()
if(NOT EXISTS "${RT_CONFIG_DIR}/rt_config.h")
  message(FATAL_ERROR "RT_CONFIG_DIR must hold the rendered rt_config.h (got '${RT_CONFIG_DIR}')")
endif()
if(NOT EXISTS "${RT_GEN_DIR}/rt_gen.cmake")
  message(FATAL_ERROR "RT_GEN_DIR must hold rt_gen.cmake written by build_tools (got '${RT_GEN_DIR}')")
endif()

foreach(component ENGINE NN PLATFORM)
  set(RT_${component}_IDF_REQUIRES "")
endforeach()
include(${RT_ROOT}/core/component.cmake)
include(${RT_ROOT}/proto/component.cmake)
include(${RT_GEN_DIR}/rt_gen.cmake)
include(${RT_ROOT}/platform/${RT_PLATFORM}/component.cmake)
include(${RT_ROOT}/engines/${RT_ENGINE}/component.cmake)
include(${RT_ROOT}/nn/${RT_NN}/component.cmake)

# Platform includes come first among the project's: a bare-metal port may provide stub system
# headers (e.g. sys/mman.h for wabt's runtime).
set(RT_INCLUDES ${RT_CONFIG_DIR} ${RT_PLATFORM_INCLUDES} ${RT_CORE_INCLUDES} ${RT_PROTO_INCLUDES}
                ${RT_ENGINE_INCLUDES} ${RT_NN_INCLUDES} ${RT_GEN_INCLUDES})
set(RT_DEFINES ${RT_PLATFORM_DEFINES} ${RT_ENGINE_DEFINES} ${RT_NN_DEFINES})
set(RT_IDF_REQUIRES ${RT_ENGINE_IDF_REQUIRES} ${RT_NN_IDF_REQUIRES} ${RT_PLATFORM_IDF_REQUIRES})
