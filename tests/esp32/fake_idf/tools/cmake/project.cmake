# A FAKE of ESP-IDF's CMake build API (tools/cmake/project.cmake), for running the generated
# ESP-IDF project in CMake script mode where ESP-IDF cannot run (it is not installed here).
# It does what ESP-IDF does with component CMakeLists, in small, and records what they declare:
#   - ESP_PLATFORM is set; CONFIG_* come from the generated sdkconfig.defaults (plus the
#     FAKE_IDF_CONFIG list "NAME=value;..." for what ESP-IDF's own Kconfig would derive, e.g.
#     CONFIG_IDF_TARGET_ARCH_XTENSA);
#   - project() processes the components FAKE_IDF_COMPONENTS ("name=dir;...") in order, each
#     in its own scope under the project's (ESP-IDF: add_subdirectory from project()), first in
#     the requirements pass (CMAKE_BUILD_EARLY_EXPANSION, where idf_component_register only
#     records the requirements and returns) and then for real;
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

function(_fake_json_list out)
  set(items "")
  foreach(item IN LISTS ARGN)
    string(REPLACE "\\" "\\\\" item "${item}")
    string(REPLACE "\"" "\\\"" item "${item}")
    list(APPEND items "\"${item}\"")
  endforeach()
  list(JOIN items ", " joined)
  set(${out} "[${joined}]" PARENT_SCOPE)
endfunction()

macro(idf_component_register)
  cmake_parse_arguments(_fake_reg "" "KCONFIG" "SRCS;INCLUDE_DIRS;PRIV_INCLUDE_DIRS;REQUIRES;PRIV_REQUIRES" ${ARGN})
  _fake_json_list(_fake_srcs ${_fake_reg_SRCS})
  _fake_json_list(_fake_incs ${_fake_reg_INCLUDE_DIRS})
  _fake_json_list(_fake_req ${_fake_reg_REQUIRES})
  _fake_json_list(_fake_priv ${_fake_reg_PRIV_REQUIRES})
  _fake_json_list(_fake_defs ${_FAKE_DEFINITIONS})
  message(STATUS "FAKE_IDF ${_FAKE_PASS} ${COMPONENT_NAME} {\"SRCS\": ${_fake_srcs}, \"INCLUDE_DIRS\": ${_fake_incs}, \"REQUIRES\": ${_fake_req}, \"PRIV_REQUIRES\": ${_fake_priv}, \"DEFINITIONS\": ${_fake_defs}}")
  if(CMAKE_BUILD_EARLY_EXPANSION)
    return()  # ESP-IDF's requirements pass stops the component's file here
  endif()
endmacro()

function(idf_component_get_property var component property)
  if(NOT property STREQUAL "COMPONENT_DIR")
    message(FATAL_ERROR "fake ESP-IDF: property ${property} not faked")
  endif()
  foreach(pair IN LISTS FAKE_IDF_COMPONENTS)
    string(REGEX MATCH "^([^=]+)=(.*)$" _m "${pair}")
    if(CMAKE_MATCH_1 STREQUAL component)
      set(${var} "${CMAKE_MATCH_2}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "fake ESP-IDF: no component '${component}' in the build")
endfunction()

function(idf_build_get_property var property)
  set(${var} "${${property}}" PARENT_SCOPE)
endfunction()

macro(add_definitions)
  list(APPEND _FAKE_DEFINITIONS ${ARGN})
endmacro()
foreach(_cmd include_directories enable_language target_compile_definitions
             target_compile_options target_include_directories target_link_libraries
             set_source_files_properties)
  cmake_language(EVAL CODE "macro(${_cmd})\nendmacro()")
endforeach()

function(_fake_process_component name dir pass)
  set(COMPONENT_NAME ${name})
  set(COMPONENT_DIR ${dir})
  set(COMPONENT_LIB __idf_${name})
  set(_FAKE_PASS ${pass})
  set(_FAKE_DEFINITIONS "")
  set(CMAKE_CURRENT_SOURCE_DIR ${dir})
  if(pass STREQUAL "requirements")
    set(CMAKE_BUILD_EARLY_EXPANSION 1)
  endif()
  include(${dir}/CMakeLists.txt)
endfunction()

macro(project name)
  foreach(_fake_pass requirements build)
    foreach(_pair IN LISTS FAKE_IDF_COMPONENTS)
      string(REGEX MATCH "^([^=]+)=(.*)$" _m "${_pair}")
      _fake_process_component("${CMAKE_MATCH_1}" "${CMAKE_MATCH_2}" ${_fake_pass})
    endforeach()
  endforeach()
endmacro()
