# WAMR on this platform (read by runtime_c/engines/wamr/component.cmake before WAMR's
# runtime_lib.cmake): rv32imac with the ilp32 ABI, and this folder's bare-metal port.
set(WAMR_BUILD_TARGET RISCV32_ILP32)
set(WAMR_BUILD_PLATFORM qemu-rv32)
set(SHARED_PLATFORM_CONFIG ${CMAKE_CURRENT_LIST_DIR}/shared_platform.cmake)
