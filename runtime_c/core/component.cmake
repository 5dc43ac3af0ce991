# Core: wasi-nn, image handles, the WASI subset, model registry, instances, memory accounting, device side.
set(RT_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rt_mem.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_core.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_wasi.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_wasinn.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_image.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_wasinn_legacy.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_device.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_pipe.c)
get_filename_component(_rt_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(RT_CORE_INCLUDES ${_rt_root}/include ${CMAKE_CURRENT_LIST_DIR} ${_rt_root}/engines ${_rt_root}/nn)
