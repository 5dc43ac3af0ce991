// NN backend seam (rt_nn.h) over TensorFlow Lite Micro: the production backend of the ESP32
// targets (ESP-IDF component espressif/esp-tflite-micro with ESP-NN kernels). Built only
// inside ESP-IDF; the MicroInterpreter gets the context arena at rt_nn_ctx_init.
#include "rt_nn.h"

#if !defined(RT_HAVE_TFLM)
#error "tflm backend: build with ESP-IDF (espressif/esp-tflite-micro) or TFLM_ROOT"
#endif
