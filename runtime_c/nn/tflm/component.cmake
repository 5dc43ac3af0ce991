# NN backend tflm: TensorFlow Lite Micro (esp-tflite-micro) with ESP-NN's plain-C kernels behind
# the backend seam (rt_nn_tflm.cc). A model reaches TFLM only after the built-in backend's
# parser (nn/builtin, RT_NNB_SOURCES) and rt_tflm_verify.c accepted it.
#
# Inputs besides rt_components.cmake's: ESP_TFLITE_MICRO_ROOT, ESP_NN_ROOT (the pinned upstream
# trees, verified and unpacked under build/), and from ${RT_GEN_DIR}/rt_tflm.cmake
# (build_tools/tflm_ops.py, from the target's models) RT_TFLM_KERNELS: the kernels of the
# operators the resolver registers (rt_tflm_ops.h).
# Upstream code is compiled in place, as given: the TFLM core, only those kernels (the esp_nn/
# variants of the ones ESP-NN accelerates) and ESP-NN's *_ansi.c; rt_tflm_log.cc replaces
# upstream's debug_log.cc, port/esp_timer.h stands in for ESP-IDF's timer.
include(${CMAKE_CURRENT_LIST_DIR}/../builtin/component.cmake)

if(ESP_PLATFORM)
  # Inside ESP-IDF, TFLM and ESP-NN are the esp-tflite-micro and esp-nn components (the generated
  # idf_component.yml; chip-optimised kernels, upstream's debug_log.cc): only the glue and the
  # verifier are ours.
  set(RT_NN_SOURCES ${CMAKE_CURRENT_LIST_DIR}/rt_nn_tflm.cc ${CMAKE_CURRENT_LIST_DIR}/rt_tflm_verify.c
                    ${RT_NNB_SEAM_SOURCES} ${RT_NNB_SOURCES})
  set(RT_NN_EXTERNAL_SOURCES "")
  set(RT_NN_INCLUDES ${RT_NNB_INCLUDES} ${CMAKE_CURRENT_LIST_DIR})
  set(RT_NN_DEFINES "")
  set(RT_NN_LIBS "")
  set(RT_NN_IDF_REQUIRES espressif__esp-tflite-micro espressif__esp-nn)
  return()
endif()

if(NOT EXISTS "${RT_GEN_DIR}/rt_tflm.cmake")
  message(FATAL_ERROR "tflm backend: ${RT_GEN_DIR}/rt_tflm.cmake missing (written by build_tools)")
endif()
include(${RT_GEN_DIR}/rt_tflm.cmake)
set(TFLM_ROOT ${ESP_TFLITE_MICRO_ROOT})
foreach(var TFLM_ROOT ESP_NN_ROOT)
  if(NOT EXISTS "${${var}}/")
    message(FATAL_ERROR "tflm backend: ${var} must name the unpacked upstream tree (got '${${var}}')")
  endif()
endforeach()

set(_tflm_micro ${TFLM_ROOT}/tensorflow/lite/micro)
set(_tflm_lite ${TFLM_ROOT}/tensorflow/lite)
set(RT_TFLM_CORE_SOURCES
  ${_tflm_micro}/flatbuffer_utils.cc
  ${_tflm_micro}/memory_helpers.cc
  ${_tflm_micro}/micro_allocation_info.cc
  ${_tflm_micro}/micro_allocator.cc
  ${_tflm_micro}/micro_context.cc
  ${_tflm_micro}/micro_interpreter_context.cc
  ${_tflm_micro}/micro_interpreter_graph.cc
  ${_tflm_micro}/micro_interpreter.cc
  ${_tflm_micro}/micro_log.cc
  ${_tflm_micro}/micro_op_resolver.cc
  ${_tflm_micro}/micro_profiler.cc
  ${_tflm_micro}/micro_resource_variable.cc
  ${_tflm_micro}/micro_time.cc
  ${_tflm_micro}/micro_utils.cc
  ${_tflm_micro}/system_setup.cc
  ${_tflm_micro}/tflite_bridge/flatbuffer_conversions_bridge.cc
  ${_tflm_micro}/tflite_bridge/micro_error_reporter.cc
  ${_tflm_micro}/kernels/kernel_util.cc
  ${_tflm_micro}/kernels/micro_tensor_utils.cc
  ${_tflm_micro}/memory_planner/greedy_memory_planner.cc
  ${_tflm_micro}/memory_planner/linear_memory_planner.cc
  ${_tflm_micro}/arena_allocator/non_persistent_arena_buffer_allocator.cc
  ${_tflm_micro}/arena_allocator/persistent_arena_buffer_allocator.cc
  ${_tflm_micro}/arena_allocator/single_arena_buffer_allocator.cc
  ${_tflm_lite}/kernels/kernel_util.cc
  ${_tflm_lite}/core/c/common.cc
  ${_tflm_lite}/core/api/flatbuffer_conversions.cc
  ${_tflm_lite}/core/api/tensor_utils.cc
  ${_tflm_lite}/kernels/internal/common.cc
  ${_tflm_lite}/kernels/internal/quantization_util.cc
  ${_tflm_lite}/kernels/internal/portable_tensor_utils.cc
  ${_tflm_lite}/kernels/internal/tensor_utils.cc
  ${_tflm_lite}/kernels/internal/tensor_ctypes.cc
  ${_tflm_lite}/kernels/internal/reference/portable_tensor_utils.cc
  ${TFLM_ROOT}/tensorflow/compiler/mlir/lite/core/api/error_reporter.cc
  ${TFLM_ROOT}/tensorflow/compiler/mlir/lite/schema/schema_utils.cc)
list(TRANSFORM RT_TFLM_KERNELS PREPEND ${_tflm_micro}/kernels/ OUTPUT_VARIABLE RT_TFLM_KERNEL_SOURCES)
set(RT_ESP_NN_SOURCES
  ${ESP_NN_ROOT}/src/activation_functions/esp_nn_relu_ansi.c
  ${ESP_NN_ROOT}/src/activation_functions/esp_nn_hard_swish_ansi.c
  ${ESP_NN_ROOT}/src/basic_math/esp_nn_add_ansi.c
  ${ESP_NN_ROOT}/src/basic_math/esp_nn_mul_ansi.c
  ${ESP_NN_ROOT}/src/common/esp_nn_mean_ansi.c
  ${ESP_NN_ROOT}/src/convolution/esp_nn_conv_ansi.c
  ${ESP_NN_ROOT}/src/convolution/esp_nn_depthwise_conv_ansi.c
  ${ESP_NN_ROOT}/src/fully_connected/esp_nn_fully_connected_ansi.c
  ${ESP_NN_ROOT}/src/logistic/esp_nn_logistic_ansi.c
  ${ESP_NN_ROOT}/src/pooling/esp_nn_avg_pool_ansi.c
  ${ESP_NN_ROOT}/src/pooling/esp_nn_max_pool_ansi.c
  ${ESP_NN_ROOT}/src/softmax/esp_nn_softmax_ansi.c)

set(RT_NN_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rt_nn_tflm.cc
  ${CMAKE_CURRENT_LIST_DIR}/rt_tflm_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/rt_tflm_verify.c
  ${RT_NNB_SEAM_SOURCES} ${RT_NNB_SOURCES})
set(RT_NN_EXTERNAL_SOURCES ${RT_TFLM_CORE_SOURCES} ${RT_TFLM_KERNEL_SOURCES} ${RT_ESP_NN_SOURCES})
# Project sources that stand in for an upstream file off ESP-IDF (TFLM's DebugLog port): under
# ESP-IDF the managed component compiles its own, so the ESP-IDF branch leaves them out.
set(RT_NN_IDF_REPLACED_SOURCES ${CMAKE_CURRENT_LIST_DIR}/rt_tflm_log.cc)
set(RT_NN_INCLUDES ${RT_NNB_INCLUDES} ${CMAKE_CURRENT_LIST_DIR})
# TF_LITE_STATIC_MEMORY as in the ESP-IDF component; ESP_NN selects the esp_nn/ kernels' ESP-NN
# paths (without CONFIG_NN_OPTIMIZED, esp_nn.h maps them to the portable *_ansi functions).
set(RT_NN_DEFINES TF_LITE_STATIC_MEMORY TF_LITE_DISABLE_X86_NEON ESP_NN=1)
set(RT_NN_LIBS stdc++ m)
# Both backends in one process on the accounted heap (tests, tests/bench); native builds only.
set(RT_NN_TOOL nn_compare)
set(RT_NN_TOOL_SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools/nn_compare.c)

# Upstream headers as system headers (no warnings from them in the project's strict code).
set(_tflm_isystem
  -isystem ${TFLM_ROOT} -isystem ${TFLM_ROOT}/third_party/flatbuffers/include
  -isystem ${TFLM_ROOT}/third_party/gemmlowp -isystem ${TFLM_ROOT}/third_party/ruy
  -isystem ${TFLM_ROOT}/third_party/kissfft)
set(_tflm_cxx -std=c++17 -fno-exceptions -fno-rtti -fno-threadsafe-statics)
set(_esp_nn_isystem -isystem ${ESP_NN_ROOT}/include -isystem ${ESP_NN_ROOT}/src/common
                    -isystem ${CMAKE_CURRENT_LIST_DIR}/port)
if(NOT CMAKE_SCRIPT_MODE_FILE)
  enable_language(CXX)
  # A cross compiler without a C++ library for its target (Debian's riscv64-unknown-elf-g++)
  # would fail on every TFLM file: say so once.
  include(CheckIncludeFileCXX)
  check_include_file_cxx(cstdint RT_TFLM_HAVE_CXX_HEADERS)
  if(NOT RT_TFLM_HAVE_CXX_HEADERS)
    message(FATAL_ERROR "tflm backend: ${CMAKE_CXX_COMPILER} has no C++ standard library headers "
                        "(<cstdint>) for this target; TFLM needs a toolchain with libstdc++ for it")
  endif()
endif()
# Upstream's fixed-point code shifts negative values left; ESP-NN's rounding divide computes
# (1 << 31) - 1 for a shift of 31, and its requantization shifts by the model's exponent
# unchecked (35 for a corrupted scale: x86 and RISC-V mask the count). All undefined in C/C++17,
# all wrapping the same way in every build here (outputs equal the oracle's): sanitizer builds
# keep every other check on upstream code, ASan included.
set(_upstream_sanitize "")
set(_esp_nn_sanitize "")
if(RT_SANITIZE)
  set(_upstream_sanitize -fno-sanitize=shift-base)
  set(_esp_nn_sanitize -fno-sanitize=shift,signed-integer-overflow)
endif()
foreach(source IN LISTS RT_TFLM_CORE_SOURCES RT_TFLM_KERNEL_SOURCES)
  rt_source_options(${source} ${_tflm_cxx} ${_tflm_isystem} ${_esp_nn_isystem}
                    ${_upstream_sanitize})
endforeach()
foreach(source IN LISTS RT_ESP_NN_SOURCES)
  rt_source_options(${source} ${_esp_nn_isystem} ${_esp_nn_sanitize})
endforeach()
rt_source_options(${CMAKE_CURRENT_LIST_DIR}/rt_nn_tflm.cc ${_tflm_cxx} ${_tflm_isystem})
rt_source_options(${CMAKE_CURRENT_LIST_DIR}/rt_tflm_log.cc ${_tflm_cxx} ${_tflm_isystem})
