# Part of the FAKE of ESP-IDF's CMake API (see ../project.cmake): ESP-IDF's requirements pass
# (its tools/cmake/scripts/component_get_requirements.cmake), run as a separate `cmake -P`
# process with ESP_PLATFORM=1: every component's CMakeLists with CMAKE_BUILD_EARLY_EXPANSION
# set, each in a function scope, no CONFIG_* and none of the project's variables.
include(${CMAKE_CURRENT_LIST_DIR}/../fake_api.cmake)
set(CMAKE_BUILD_EARLY_EXPANSION 1)
function(_fake_requirements name dir)
  set(COMPONENT_NAME ${name})
  set(COMPONENT_DIR ${dir})
  set(_FAKE_PASS requirements)
  set(_FAKE_DEFINITIONS "")
  include(${dir}/CMakeLists.txt)
endfunction()
foreach(_pair IN LISTS FAKE_IDF_COMPONENTS)
  string(REGEX MATCH "^([^=]+)=(.*)$" _m "${_pair}")
  _fake_requirements("${CMAKE_MATCH_1}" "${CMAKE_MATCH_2}")
endforeach()
