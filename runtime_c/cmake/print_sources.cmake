# Prints the component source lists of one configuration, one `RT_<COMPONENT>_SOURCES=a;b;c`
# line each (as STATUS messages), for build_tools (footprint, ESP-IDF checks) and the tests:
#   cmake -DRT_ENGINE=... -DRT_NN=... -DRT_PLATFORM=... -DRT_CONFIG_DIR=... -DRT_GEN_DIR=...
#         [-DWASM2C_RUNTIME_DIR=...] [-DRT_LINKER_SCRIPT=...] -P print_sources.cmake
include(${CMAKE_CURRENT_LIST_DIR}/rt_components.cmake)
foreach(component CORE PROTO ENGINE NN PLATFORM GEN_GUEST GEN_MODEL GEN_ENGINE)
  foreach(kind SOURCES EXTERNAL_SOURCES IDF_REPLACED_SOURCES)
    if(component MATCHES "^GEN_")
      set(var RT_${component}_SOURCES)
    else()
      set(var RT_${component}_${kind})
    endif()
    message(STATUS "${var}=${${var}}")
  endforeach()
endforeach()
