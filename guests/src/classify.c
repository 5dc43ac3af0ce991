/* Loads a named int8 model through wasi-nn, runs one input, reports the top class and score.
 * Input and output use the raw (exact) quantized path of docs/abi.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_nn.h"

#define MAX_OUTPUT 4096
#define NAME_MAX_LEN 64

static char loaded_name[NAME_MAX_LEN + 1];
static wasi_nn_graph_t graph;
static wasi_nn_ctx_t ctx;
static int have_ctx;
static int8_t output[MAX_OUTPUT];
static uint32_t output_len;
static int32_t score;

EDGE_EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

/* Reuses graph and context while the model name stays the same: handles are a finite resource. */
static uint32_t ensure_model(const char *name, uint32_t name_len) {
    if (name_len > NAME_MAX_LEN) return WASI_NN_INVALID_ARGUMENT;
    if (have_ctx && strlen(loaded_name) == name_len && memcmp(loaded_name, name, name_len) == 0) {
        return WASI_NN_SUCCESS;
    }
    uint32_t err = wasi_nn_load_by_name(name, name_len, &graph);
    if (err != WASI_NN_SUCCESS) return err;
    err = wasi_nn_init_execution_context(graph, &ctx);
    if (err != WASI_NN_SUCCESS) return err;
    memcpy(loaded_name, name, name_len);
    loaded_name[name_len] = '\0';
    have_ctx = 1;
    return WASI_NN_SUCCESS;
}

/* Returns the top class index, or -(1000 + wasi-nn error) on failure. */
EDGE_EXPORT("classify")
int32_t classify(const char *name, uint32_t name_len, const uint32_t *dims, uint32_t dims_len,
                 const uint8_t *input, uint32_t input_len) {
    uint32_t err = ensure_model(name, name_len);
    if (err == WASI_NN_SUCCESS) {
        wasi_nn_tensor_t t;
        edge_nn_tensor(&t, dims, dims_len, WASI_NN_TYPE_U8, input, input_len);
        err = wasi_nn_set_input(ctx, 0, &t);
    }
    if (err == WASI_NN_SUCCESS) err = wasi_nn_compute(ctx);
    if (err == WASI_NN_SUCCESS) {
        err = wasi_nn_get_output(ctx, 0, (uint8_t *)output, sizeof output, &output_len);
    }
    if (err != WASI_NN_SUCCESS) {
        output_len = 0;
        return -(int32_t)(1000 + err);
    }
    int32_t top = edge_nn_argmax_i8(output, output_len);
    score = output[top];
    return top;
}

EDGE_EXPORT("score") int32_t get_score(void) {
    return score;
}
EDGE_EXPORT("output_ptr") int32_t output_ptr(void) {
    return (int32_t)(uintptr_t)output;
}
EDGE_EXPORT("output_len") int32_t get_output_len(void) {
    return (int32_t)output_len;
}
