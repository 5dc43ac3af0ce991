/* Thin exports over every wasi-nn function, so conformance cases (data) can drive the ABI
 * directly, including with bad handles and out-of-bounds pointers. */
#include <stdint.h>
#include <stdlib.h>

#include "edge_nn.h"

EDGE_EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

EDGE_EXPORT("nn_load")
int32_t nn_load(const wasi_nn_builder_t *b, uint32_t n, uint32_t enc, uint32_t target,
                wasi_nn_graph_t *out) {
    return (int32_t)wasi_nn_load(b, n, enc, target, out);
}

EDGE_EXPORT("nn_load_by_name")
int32_t nn_load_by_name(const char *name, uint32_t len, wasi_nn_graph_t *out) {
    return (int32_t)wasi_nn_load_by_name(name, len, out);
}

EDGE_EXPORT("nn_load_by_name_with_config")
int32_t nn_load_by_name_with_config(const char *name, uint32_t len, const char *cfg,
                                    uint32_t cfg_len, wasi_nn_graph_t *out) {
    return (int32_t)wasi_nn_load_by_name_with_config(name, len, cfg, cfg_len, out);
}

EDGE_EXPORT("nn_init_execution_context")
int32_t nn_init_execution_context(wasi_nn_graph_t g, wasi_nn_ctx_t *out) {
    return (int32_t)wasi_nn_init_execution_context(g, out);
}

EDGE_EXPORT("nn_set_input")
int32_t nn_set_input(wasi_nn_ctx_t ctx, uint32_t index, const wasi_nn_tensor_t *t) {
    return (int32_t)wasi_nn_set_input(ctx, index, t);
}

EDGE_EXPORT("nn_compute") int32_t nn_compute(wasi_nn_ctx_t ctx) {
    return (int32_t)wasi_nn_compute(ctx);
}

EDGE_EXPORT("nn_get_output")
int32_t nn_get_output(wasi_nn_ctx_t ctx, uint32_t index, uint8_t *out, uint32_t max,
                      uint32_t *written) {
    return (int32_t)wasi_nn_get_output(ctx, index, out, max, written);
}
