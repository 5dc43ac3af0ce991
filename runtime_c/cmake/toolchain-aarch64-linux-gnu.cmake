# CMake toolchain for 64-bit ARM Linux (Raspberry Pi OS 64-bit): clang-19 cross-compiling
# against Debian's arm64 cross C library and libgcc (libc6-dev-arm64-cross,
# libgcc-12-dev-arm64-cross), linked with lld. Used for the runtime wheel's libnnb
# (build_tools/nnb.py) with the same CMakeLists as the native build.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER clang-19)
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fuse-ld=lld")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
