# CMake toolchain of the qemu-rv32 platform: Debian's riscv64-unknown-elf-gcc + picolibc,
# rv32imac/ilp32 (a multilib of that toolchain; a -march with _zicsr would select the default
# rv64 multilib instead, so the port enables zicsr around its CSR instructions).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_CXX_COMPILER riscv64-unknown-elf-g++)
set(CMAKE_ASM_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(_rv32 "-march=rv32imac -mabi=ilp32 --specs=picolibc.specs -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${_rv32}")
set(CMAKE_CXX_FLAGS_INIT "${_rv32}")
set(CMAKE_ASM_FLAGS_INIT "${_rv32}")
# CMake passes CMAKE_C_FLAGS to the link step as well (so --specs must not appear twice).
# Size-optimised like an MCU build, with debug info for the footprint report and gdb.
set(RT_OPT_FLAGS -Os -g)
