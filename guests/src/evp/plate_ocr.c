/* Plate reader, stage 4 (EVP module): scores every character with the int8 OCR model through
 * wasi-nn (raw int8 path, docs/abi.md).
 * In: "chars" (plate_segment.c). Out ("scores"): plates_hdr, int32 count, then count rows of
 * PLATES_CLASSES int8 scores (classes in plates_alphabet order).
 * Configuration: "model", the name to load (default plate_ocr_int8). */
#include "plates/module.h"

#include <stdio.h>

#include "edge_nn.h"

static char model[65] = "plate_ocr_int8";
static wasi_nn_graph_t graph;
static wasi_nn_ctx_t ctx;
static int loaded;
static int8_t scores[PLATES_MAX_CHARS * PLATES_CLASSES];

static void config(const char *topic, const char *value, size_t len) {
    if (strcmp(topic, "model") == 0 && len < sizeof model) {
        memcpy(model, value, len);
        model[len] = 0;
        loaded = 0;
    }
}

static uint32_t classify(const int8_t *chars, int32_t count) {
    uint32_t err = WASI_NN_SUCCESS;
    if (!loaded) {
        err = edge_nn_load_named(model, &graph);
        if (err == WASI_NN_SUCCESS) err = wasi_nn_init_execution_context(graph, &ctx);
        if (err != WASI_NN_SUCCESS) return err;
        loaded = 1;
    }
    static const uint32_t dims[4] = {1, PLATES_CHAR, PLATES_CHAR, 1};
    for (int32_t k = 0; k < count && err == WASI_NN_SUCCESS; k++) {
        wasi_nn_tensor_t t;
        uint32_t written = 0;
        edge_nn_tensor(&t, dims, 4, WASI_NN_TYPE_U8, chars + k * PLATES_CHAR_BYTES,
                       PLATES_CHAR_BYTES);
        err = wasi_nn_set_input(ctx, 0, &t);
        if (err == WASI_NN_SUCCESS) err = wasi_nn_compute(ctx);
        if (err == WASI_NN_SUCCESS) {
            err = wasi_nn_get_output(ctx, 0, (uint8_t *)(scores + k * PLATES_CLASSES),
                                     PLATES_CLASSES, &written);
        }
    }
    return err;
}

static size_t ocr(struct EVP_client *h, const uint8_t *in, size_t len, uint8_t **out, size_t *cap) {
    uint64_t t0 = plates_now_us();
    const plates_hdr *hdr = plates_header(in, len);
    int32_t count;
    if (hdr == NULL || len < sizeof *hdr + 4) return 0;
    memcpy(&count, in + sizeof *hdr, 4);
    if (count < 0 || count > PLATES_MAX_CHARS ||
        len - sizeof *hdr - 4 < (size_t)count * PLATES_CHAR_BYTES)
        return 0;
    uint32_t err = classify((const int8_t *)(in + sizeof *hdr + 4), count);
    if (err != WASI_NN_SUCCESS) {
        char state[96];
        size_t n = (size_t)snprintf(state, sizeof state, "wasi-nn error %u with model %s",
                                    (unsigned)err, model);
        EVP_sendState(h, "error", state, n, NULL, NULL);
        return 0;
    }
    size_t n = sizeof *hdr + 4 + (size_t)count * PLATES_CLASSES;
    if (plates_reserve(out, cap, n)) return 0;
    plates_hdr *o = (plates_hdr *)*out;
    *o = *hdr;
    memcpy(*out + sizeof *o, &count, 4);
    memcpy(*out + sizeof *o + 4, scores, (size_t)count * PLATES_CLASSES);
    o->stage_us[3] = (uint32_t)(plates_now_us() - t0);
    return n;
}

int main(void) {
    return plates_module_main("scores", ocr, config);
}
