# NN backend builtin: the portable int8 interpreter (nnb_*.c) behind the backend seam
# (nn/builtin_glue.c). RT_NNB_SOURCES alone is also the host's libnnb (nn/builtin/CMakeLists.txt).
set(RT_NNB_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/nnb_fb.c
  ${CMAKE_CURRENT_LIST_DIR}/nnb_math.c
  ${CMAKE_CURRENT_LIST_DIR}/nnb_model.c
  ${CMAKE_CURRENT_LIST_DIR}/nnb_ops.c
  ${CMAKE_CURRENT_LIST_DIR}/nnb_interp.c
  ${CMAKE_CURRENT_LIST_DIR}/nnb_kernels.c
  ${CMAKE_CURRENT_LIST_DIR}/nnb_opnames.c)
set(RT_NNB_INCLUDES ${CMAKE_CURRENT_LIST_DIR})
# What backends describing models through this reader share (status mapping, tensor info).
set(RT_NNB_SEAM_SOURCES ${CMAKE_CURRENT_LIST_DIR}/../rt_nn_nnb.c)
set(RT_NN_SOURCES ${CMAKE_CURRENT_LIST_DIR}/../builtin_glue.c ${RT_NNB_SEAM_SOURCES} ${RT_NNB_SOURCES})
set(RT_NN_INCLUDES ${RT_NNB_INCLUDES})
# The kernels run at -O2 in every build, also where the rest is size-optimised (the rv32
# firmware's -Os): at -Os GCC spills the register-blocked multiply-accumulate loops (person_detect
# on qemu-rv32: 54.3 M instructions with the kernels at -Os, 36.7 M at -O2, for +2.4 KB of text).
# GCC's -O2 only vectorizes with its "very cheap" cost model, so the vectorizer is enabled too
# (no effect on targets without SIMD; clang vectorizes at -O2 already).
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  rt_source_options(${CMAKE_CURRENT_LIST_DIR}/nnb_kernels.c -O2 -ftree-vectorize)
else()
  rt_source_options(${CMAKE_CURRENT_LIST_DIR}/nnb_kernels.c -O2)
endif()
