/* WAMR engine seam (engines/rt_engine.h over wasm_runtime_*). Production engine of the ESP32
 * targets: built by the ESP-IDF component espressif/wasm-micro-runtime or from a WAMR source
 * tree (WAMR_ROOT). The core's imports are registered as NativeSymbol tables calling the same
 * rt_wasi_* / rt_wasinn_* functions as the wasm2c glue. */
#include "rt_engine.h"

#if !defined(RT_HAVE_WAMR)
#error "wamr engine: build with ESP-IDF or WAMR_ROOT"
#endif
