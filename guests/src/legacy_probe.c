/* Thin exports over every legacy `wasi_nn` function (docs/abi.md section 8), so conformance
 * cases (data) can drive that ABI directly, including with bad handles and pointers. */
#include <stdint.h>
#include <stdlib.h>

#include "edge_nn.h"
#include "wasi_nn_legacy.h"

EDGE_EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

EDGE_EXPORT("legacy_load")
int32_t legacy_load(const wasi_nn_legacy_builder_array_t *b, uint32_t enc, uint32_t target,
                    wasi_nn_legacy_graph_t *out) {
    return (int32_t)wasi_nn_legacy_load(b, enc, target, out);
}

EDGE_EXPORT("legacy_load_by_name")
int32_t legacy_load_by_name(const char *name, uint32_t len, wasi_nn_legacy_graph_t *out) {
    return (int32_t)wasi_nn_legacy_load_by_name(name, len, out);
}

EDGE_EXPORT("legacy_init_execution_context")
int32_t legacy_init_execution_context(wasi_nn_legacy_graph_t g, wasi_nn_legacy_ctx_t *out) {
    return (int32_t)wasi_nn_legacy_init_execution_context(g, out);
}

EDGE_EXPORT("legacy_set_input")
int32_t legacy_set_input(wasi_nn_legacy_ctx_t ctx, uint32_t index,
                         const wasi_nn_legacy_tensor_t *t) {
    return (int32_t)wasi_nn_legacy_set_input(ctx, index, t);
}

EDGE_EXPORT("legacy_compute") int32_t legacy_compute(wasi_nn_legacy_ctx_t ctx) {
    return (int32_t)wasi_nn_legacy_compute(ctx);
}

EDGE_EXPORT("legacy_get_output")
int32_t legacy_get_output(wasi_nn_legacy_ctx_t ctx, uint32_t index, float *out, uint32_t *size) {
    return (int32_t)wasi_nn_legacy_get_output(ctx, index, out, size);
}
