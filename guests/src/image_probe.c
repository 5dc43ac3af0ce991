/* Thin exports over every edge_image function (and the wasi-nn calls an inference needs), so
 * conformance cases (data) can drive the image ABI directly, including with bad handles and
 * out-of-bounds pointers. */
#include <stdint.h>
#include <stdlib.h>

#include "edge_image.h"
#include "edge_nn.h"

EDGE_EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

EDGE_EXPORT("img_create")
int32_t img_create(uint32_t w, uint32_t h, uint32_t format, const void *src, uint32_t len,
                   edge_image_t *out) {
    return (int32_t)edge_image_create(w, h, format, src, len, out);
}

EDGE_EXPORT("img_crop")
int32_t img_crop(edge_image_t image, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                 edge_image_t *out) {
    return (int32_t)edge_image_crop(image, x, y, w, h, out);
}

EDGE_EXPORT("img_resize")
int32_t img_resize(edge_image_t image, uint32_t w, uint32_t h, uint32_t mode, edge_image_t *out) {
    return (int32_t)edge_image_resize(image, w, h, mode, out);
}

EDGE_EXPORT("img_rotate")
int32_t img_rotate(edge_image_t image, uint32_t quarter_turns, edge_image_t *out) {
    return (int32_t)edge_image_rotate(image, quarter_turns, out);
}

EDGE_EXPORT("img_convert")
int32_t img_convert(edge_image_t image, uint32_t format, edge_image_t *out) {
    return (int32_t)edge_image_convert(image, format, out);
}

EDGE_EXPORT("img_info") int32_t img_info(edge_image_t image, edge_image_info_t *info) {
    return (int32_t)edge_image_info(image, info);
}

EDGE_EXPORT("img_read")
int32_t img_read(edge_image_t image, void *dst, uint32_t max, uint32_t *written) {
    return (int32_t)edge_image_read(image, dst, max, written);
}

EDGE_EXPORT("img_to_tensor")
int32_t img_to_tensor(edge_image_t image, wasi_nn_ctx_t ctx, uint32_t index, uint32_t layout) {
    return (int32_t)edge_image_to_tensor(image, ctx, index, layout);
}

EDGE_EXPORT("img_drop") int32_t img_drop(edge_image_t image) {
    return (int32_t)edge_image_drop(image);
}

EDGE_EXPORT("nn_load_by_name")
int32_t nn_load_by_name(const char *name, uint32_t len, wasi_nn_graph_t *out) {
    return (int32_t)wasi_nn_load_by_name(name, len, out);
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

/* The guest-side alternative to handles, for tests/bench/bench_image.py: from a gray8 frame in
 * linear memory, the square [x, x + side) x [y, y + side) resized (nearest, the formula of
 * docs/abi.md section 7) to a 96x96 int8 tensor in linear memory (p - 128) and set with
 * set_input: what image_crop + image_resize + image_to_tensor do natively. Returns a wasi-nn
 * error code. */
EDGE_EXPORT("copy_pipeline")
int32_t copy_pipeline(const uint8_t *frame, uint32_t w, uint32_t x, uint32_t y, uint32_t side,
                      wasi_nn_ctx_t ctx, int8_t *tensor) {
    for (uint32_t r = 0; r < 96u; r++) {
        const uint8_t *row = frame + (y + ((2u * r + 1u) * side) / 192u) * w + x;
        for (uint32_t c = 0; c < 96u; c++) {
            tensor[r * 96u + c] = (int8_t)(row[((2u * c + 1u) * side) / 192u] ^ 0x80u);
        }
    }
    static const uint32_t dims[4] = {1, 96, 96, 1};
    wasi_nn_tensor_t t;
    edge_nn_tensor(&t, dims, 4, WASI_NN_TYPE_U8, tensor, 96u * 96u);
    return (int32_t)wasi_nn_set_input(ctx, 0, &t);
}
