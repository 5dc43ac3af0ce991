# A FAKE of ESP-IDF's CMake build API (tools/cmake/project.cmake), for running the generated
# ESP-IDF project in CMake script mode where ESP-IDF cannot run (it is not installed here).
# It does what ESP-IDF does with component CMakeLists, in small, and records what they declare:
#   - ESP_PLATFORM is set; CONFIG_* come from the generated sdkconfig.defaults (plus the
#     FAKE_IDF_CONFIG list "NAME=value;..." for what ESP-IDF's own Kconfig would derive, e.g.
#     CONFIG_IDF_TARGET_ARCH_XTENSA);
#   - project() processes the components FAKE_IDF_COMPONENTS ("name=dir;...") in order: first
#     the requirements pass, as ESP-IDF runs it (a separate `cmake -P` process with only
#     ESP_PLATFORM=1 and CMAKE_BUILD_EARLY_EXPANSION: no CONFIG_*, no project variables;
#     idf_component_register records the requirements and returns), then the build pass, each
#     component in its own scope under the project's (ESP-IDF: add_subdirectory from project());
#   - idf_component_register prints one line per component and pass:
#       FAKE_IDF <pass> <name> {"SRCS": [...], "INCLUDE_DIRS": [...], "REQUIRES": [...],
#                               "PRIV_REQUIRES": [...], "DEFINITIONS": [...]}
#     DEFINITIONS: what the component's CMakeLists added with add_definitions (directory scope);
#   - idf_component_get_property(var name COMPONENT_DIR), idf_build_get_property(var IDF_TARGET).
# Commands that are not scriptable and only act on targets are accepted and ignored.
set(ESP_PLATFORM 1)
set(IDF_TARGET "${FAKE_IDF_TARGET}")

file(STRINGS "${FAKE_IDF_SDKCONFIG}" _fake_lines REGEX "^CONFIG_[A-Za-z0-9_]+=")
foreach(_line IN LISTS _fake_lines FAKE_IDF_CONFIG)
  string(REGEX MATCH "^([A-Za-z0-9_]+)=(.*)$" _m "${_line}")
  set(_name "${CMAKE_MATCH_1}")
  string(REGEX REPLACE "^\"(.*)\"$" "\\1" _value "${CMAKE_MATCH_2}")
  set(${_name} "${_value}")
endforeach()

set(_FAKE_IDF_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/fake_api.cmake)

function(_fake_process_component name dir)
  set(COMPONENT_NAME ${name})
  set(COMPONENT_DIR ${dir})
  set(COMPONENT_LIB __idf_${name})
  set(_FAKE_PASS build)
  set(_FAKE_DEFINITIONS "")
  set(CMAKE_CURRENT_SOURCE_DIR ${dir})
  include(${dir}/CMakeLists.txt)
endfunction()

macro(project name)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -D ESP_PLATFORM=1 -D "FAKE_IDF_COMPONENTS=${FAKE_IDF_COMPONENTS}"
            -P ${_FAKE_IDF_CMAKE_DIR}/scripts/component_get_requirements.cmake
    OUTPUT_VARIABLE _fake_out ERROR_VARIABLE _fake_err RESULT_VARIABLE _fake_rc)
  if(NOT _fake_rc EQUAL 0)
    message(FATAL_ERROR "fake ESP-IDF: requirements pass failed:\n${_fake_err}")
  endif()
  string(REPLACE "\n" ";" _fake_out "${_fake_out}")
  foreach(_line IN LISTS _fake_out)
    if(_line MATCHES "^-- (FAKE_IDF .*)$")
      message(STATUS "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  foreach(_pair IN LISTS FAKE_IDF_COMPONENTS)
    string(REGEX MATCH "^([^=]+)=(.*)$" _m "${_pair}")
    _fake_process_component("${CMAKE_MATCH_1}" "${CMAKE_MATCH_2}")
  endforeach()
endmacro()
