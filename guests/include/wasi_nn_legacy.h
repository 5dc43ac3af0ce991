/* The legacy wasi-nn ABI (module "wasi_nn", WAMR's pre-ephemeral interface that EVP/AITRIOS apps
 * import), written from the signatures in docs/abi.md section 8. Error codes, encodings and
 * targets are those of wasi_nn.h; tensor types use the legacy numbering below. */
#ifndef WASI_NN_LEGACY_H
#define WASI_NN_LEGACY_H

#include <stdint.h>

#define WASI_NN_LEGACY_IMPORT(name) __attribute__((import_module("wasi_nn"), import_name(name)))

typedef uint32_t wasi_nn_legacy_graph_t;
typedef uint32_t wasi_nn_legacy_ctx_t;

typedef enum {
    WASI_NN_LEGACY_TYPE_FP16 = 0,
    WASI_NN_LEGACY_TYPE_FP32 = 1,
    WASI_NN_LEGACY_TYPE_UP8 = 2,
    WASI_NN_LEGACY_TYPE_IP32 = 3,
} wasi_nn_legacy_type_t;

typedef struct {
    const uint8_t *buf;
    uint32_t size;
} wasi_nn_legacy_builder_t;

typedef struct {
    const wasi_nn_legacy_builder_t *buf;
    uint32_t size;
} wasi_nn_legacy_builder_array_t;

typedef struct {
    const uint32_t *buf;
    uint32_t size;
} wasi_nn_legacy_dims_t;

/* 12 bytes, no data length: the runtime reads prod(dims) f32 values at `data`. */
typedef struct {
    const wasi_nn_legacy_dims_t *dims;
    uint8_t type;
    uint8_t pad[3];
    const float *data;
} wasi_nn_legacy_tensor_t;

_Static_assert(sizeof(wasi_nn_legacy_builder_array_t) == 8, "builder array is 8 bytes");
_Static_assert(sizeof(wasi_nn_legacy_tensor_t) == 12, "legacy tensor is 12 bytes");

WASI_NN_LEGACY_IMPORT("load")
uint32_t wasi_nn_legacy_load(const wasi_nn_legacy_builder_array_t *builders, uint32_t encoding,
                             uint32_t target, wasi_nn_legacy_graph_t *graph_out);
/* `name` is a device path (e.g. "./models/x.tflite"): docs/abi.md section 8 says how it maps. */
WASI_NN_LEGACY_IMPORT("load_by_name")
uint32_t wasi_nn_legacy_load_by_name(const char *name, uint32_t name_len,
                                     wasi_nn_legacy_graph_t *graph_out);
WASI_NN_LEGACY_IMPORT("init_execution_context")
uint32_t wasi_nn_legacy_init_execution_context(wasi_nn_legacy_graph_t graph,
                                               wasi_nn_legacy_ctx_t *ctx_out);
WASI_NN_LEGACY_IMPORT("set_input")
uint32_t wasi_nn_legacy_set_input(wasi_nn_legacy_ctx_t ctx, uint32_t index,
                                  const wasi_nn_legacy_tensor_t *tensor);
WASI_NN_LEGACY_IMPORT("compute")
uint32_t wasi_nn_legacy_compute(wasi_nn_legacy_ctx_t ctx);
/* *size counts f32 elements: room at `out` on entry, values written on success. */
WASI_NN_LEGACY_IMPORT("get_output")
uint32_t wasi_nn_legacy_get_output(wasi_nn_legacy_ctx_t ctx, uint32_t index, float *out,
                                   uint32_t *size);

#endif
