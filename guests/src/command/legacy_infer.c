/* A WASI command module written against the legacy `wasi_nn` ABI, as EVP/AITRIOS apps are
 * (docs/abi.md section 8): the model's device path is argv[1] (or $MODEL_PATH), every further
 * argument is one f32 input value; it prints $LABEL and each f32 output.
 *   python -m build_tools run host legacy_infer.wasm --env LABEL=demo -- \
 *       ./models/hello_world_int8.tflite 1.5 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_nn_legacy.h"

#define MAX_VALUES 64u
#define ENCODING_TFLITE 4u
#define TARGET_CPU 0u

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : getenv("MODEL_PATH");
    const char *label = getenv("LABEL");
    if (model == NULL || argc - 2 > (int)MAX_VALUES) {
        fprintf(stderr, "usage: %s MODEL_PATH VALUE... (at most %u values)\n",
                argc > 0 ? argv[0] : "legacy_infer", MAX_VALUES);
        return 2;
    }
    static float input[MAX_VALUES], output[MAX_VALUES];
    uint32_t n = argc > 2 ? (uint32_t)(argc - 2) : 0u;
    for (uint32_t i = 0; i < n; i++)
        input[i] = strtof(argv[2 + i], NULL);
    wasi_nn_legacy_graph_t graph;
    wasi_nn_legacy_ctx_t ctx;
    uint32_t err = wasi_nn_legacy_load_by_name(model, (uint32_t)strlen(model), &graph);
    if (err == 0) err = wasi_nn_legacy_init_execution_context(graph, &ctx);
    if (err != 0) {
        fprintf(stderr, "%s: error %u\n", model, (unsigned)err);
        return 1;
    }
    uint32_t dims[2] = {1u, n};
    wasi_nn_legacy_dims_t shape = {dims, 2u};
    wasi_nn_legacy_tensor_t tensor = {&shape, WASI_NN_LEGACY_TYPE_FP32, {0, 0, 0}, input};
    uint32_t size = MAX_VALUES; /* in f32 elements */
    err = wasi_nn_legacy_set_input(ctx, 0, &tensor);
    if (err == 0) err = wasi_nn_legacy_compute(ctx);
    if (err == 0) err = wasi_nn_legacy_get_output(ctx, 0, output, &size);
    if (err != 0) {
        fprintf(stderr, "inference: error %u\n", (unsigned)err);
        return 1;
    }
    printf("argv[0]=%s label=%s\n", argv[0], label != NULL ? label : "(unset)");
    for (uint32_t i = 0; i < size; i++)
        printf("output[%u]=%.9g\n", (unsigned)i, (double)output[i]);
    return 0;
}
