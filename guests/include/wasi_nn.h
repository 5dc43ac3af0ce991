/* wasi-nn, witx/preview1 ABI (module "wasi_ephemeral_nn"), as specified in docs/abi.md. */
#ifndef WASI_NN_H
#define WASI_NN_H

#include <stdint.h>

#define WASI_NN_IMPORT(name) __attribute__((import_module("wasi_ephemeral_nn"), import_name(name)))

typedef uint32_t wasi_nn_graph_t;
typedef uint32_t wasi_nn_ctx_t;

typedef enum {
    WASI_NN_SUCCESS = 0,
    WASI_NN_INVALID_ARGUMENT = 1,
    WASI_NN_INVALID_ENCODING = 2,
    WASI_NN_MISSING_MEMORY = 3,
    WASI_NN_BUSY = 4,
    WASI_NN_RUNTIME_ERROR = 5,
    WASI_NN_UNSUPPORTED_OPERATION = 6,
    WASI_NN_TOO_LARGE = 7,
    WASI_NN_NOT_FOUND = 8,
} wasi_nn_error_t;

typedef enum {
    WASI_NN_TYPE_F16 = 0,
    WASI_NN_TYPE_F32 = 1,
    WASI_NN_TYPE_F64 = 2,
    WASI_NN_TYPE_U8 = 3,
    WASI_NN_TYPE_I32 = 4,
    WASI_NN_TYPE_I64 = 5,
} wasi_nn_type_t;

typedef enum {
    WASI_NN_ENCODING_OPENVINO = 0,
    WASI_NN_ENCODING_ONNX = 1,
    WASI_NN_ENCODING_TENSORFLOW = 2,
    WASI_NN_ENCODING_PYTORCH = 3,
    WASI_NN_ENCODING_TFLITE = 4,
} wasi_nn_encoding_t;

typedef enum {
    WASI_NN_TARGET_CPU = 0,
    WASI_NN_TARGET_GPU = 1,
    WASI_NN_TARGET_TPU = 2,
} wasi_nn_target_t;

typedef struct {
    const uint8_t *buf;
    uint32_t len;
} wasi_nn_builder_t;

/* 20 bytes; the three bytes after `type` must be zero (some hosts read a u32). */
typedef struct {
    const uint32_t *dims;
    uint32_t dims_len;
    uint8_t type;
    uint8_t pad[3];
    const uint8_t *data;
    uint32_t data_len;
} wasi_nn_tensor_t;

_Static_assert(sizeof(wasi_nn_builder_t) == 8, "builder entry is 8 bytes");
_Static_assert(sizeof(wasi_nn_tensor_t) == 20, "tensor struct is 20 bytes");

WASI_NN_IMPORT("load")
uint32_t wasi_nn_load(const wasi_nn_builder_t *builders, uint32_t builder_len, uint32_t encoding,
                      uint32_t target, wasi_nn_graph_t *graph_out);
WASI_NN_IMPORT("load_by_name")
uint32_t wasi_nn_load_by_name(const char *name, uint32_t name_len, wasi_nn_graph_t *graph_out);
WASI_NN_IMPORT("load_by_name_with_config")
uint32_t wasi_nn_load_by_name_with_config(const char *name, uint32_t name_len, const char *config,
                                          uint32_t config_len, wasi_nn_graph_t *graph_out);
WASI_NN_IMPORT("init_execution_context")
uint32_t wasi_nn_init_execution_context(wasi_nn_graph_t graph, wasi_nn_ctx_t *ctx_out);
WASI_NN_IMPORT("set_input")
uint32_t wasi_nn_set_input(wasi_nn_ctx_t ctx, uint32_t index, const wasi_nn_tensor_t *tensor);
WASI_NN_IMPORT("compute")
uint32_t wasi_nn_compute(wasi_nn_ctx_t ctx);
WASI_NN_IMPORT("get_output")
uint32_t wasi_nn_get_output(wasi_nn_ctx_t ctx, uint32_t index, uint8_t *out, uint32_t out_max_len,
                            uint32_t *bytes_written);

#endif
