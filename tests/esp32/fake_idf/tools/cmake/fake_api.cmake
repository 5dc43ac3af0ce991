# Part of the FAKE of ESP-IDF's CMake API (see project.cmake): the commands a component's
# CMakeLists calls, shared by the build pass (project.cmake) and the requirements pass
# (scripts/component_get_requirements.cmake).
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

