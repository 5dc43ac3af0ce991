# Platform qemu-rv32: bare metal on QEMU riscv32 virt (NS16550 UART, CLINT, sifive_test), built
# with toolchain.cmake beside this file. RT_LINKER_SCRIPT is rendered from the target file by
# build_tools (RAM/flash budgets; an overflow fails the link).
if(NOT EXISTS "${RT_LINKER_SCRIPT}")
  message(FATAL_ERROR "qemu-rv32: RT_LINKER_SCRIPT must name the rendered linker script")
endif()
set(_qrv_base ${CMAKE_CURRENT_LIST_DIR}/platform.c ${CMAKE_CURRENT_LIST_DIR}/qrv_heap.c
              ${CMAKE_CURRENT_LIST_DIR}/trap.S ${CMAKE_CURRENT_LIST_DIR}/task.S)
set(RT_PLATFORM_SOURCES ${_qrv_base} ${CMAKE_CURRENT_LIST_DIR}/main.c)
# The protocol-only test firmware (dispatcher + the protocol's fake core, no runtime core).
set(RT_PLATFORM_PROTOFW_SOURCES ${_qrv_base} ${CMAKE_CURRENT_LIST_DIR}/protofw_main.c)
set(RT_PLATFORM_INCLUDES ${CMAKE_CURRENT_LIST_DIR})
set(RT_PLATFORM_DEFINES "")
# Platform configuration that must take precedence over rt.h's defaults, in every C file.
set(RT_PLATFORM_C_FLAGS -include${CMAKE_CURRENT_LIST_DIR}/qrv_config.h)
set(RT_PLATFORM_LIBS m)
set(RT_PLATFORM_LINK_OPTIONS -T${RT_LINKER_SCRIPT} -Wl,--gc-sections)
set(RT_PLATFORM_EXECUTABLE_SUFFIX .elf)
