# WAMR platform port for the bare-metal qemu-rv32 firmware (no OS, one thread): included by
# WAMR's runtime_lib.cmake through SHARED_PLATFORM_CONFIG (runtime_c/engines/wamr/wamr.cmake).
set(PLATFORM_SHARED_DIR ${CMAKE_CURRENT_LIST_DIR})
add_definitions(-DBH_PLATFORM_QEMU_RV32)
include_directories(${PLATFORM_SHARED_DIR})
include_directories(${SHARED_DIR}/platform/include)
set(PLATFORM_SHARED_SOURCE ${PLATFORM_SHARED_DIR}/wamr_platform.c)
