/* The licence-plate reader in one reactor guest: the stages of plates/plates.h called in a row,
 * for runtimes without deployments (the C runtime) and for comparing their strings with the
 * EVP pipeline's (guests/src/evp/plate_*.c run the same stages as separate modules).
 *
 *   read_plate(frame, len) -> number of characters (the string at text_ptr()), or
 *                             -1 not a PGM, -2 no plate, -3 out of memory (or an
 *                             image call failed),
 *                             -(1000 + e) wasi-nn error e
 *   read_plate_image(image) -> the same for a gray8 frame given as an image handle (the
 *                             runtime's FRAMES message: no PGM, no copy through the
 *                             host's memory writes); -1 not a gray8 image of 8..1024 px a
 *                             side. The guest drops the handle before it returns.
 *   times_ptr()            -> u32[5]: microseconds each stage took in the last read_plate
 *   plate_chars(frame, len) -> the normalised characters at chars_ptr() (no inference)
 *
 * Built natively too (no wasi-nn): the OCR training script harvests characters with exactly
 * this code. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "plates/crop.h"

#ifdef __wasm__
#include "edge_nn.h"
#define EXPORT(name) EDGE_EXPORT(name)
#else
#define EXPORT(name) __attribute__((visibility("default")))
#endif

#define MODEL "plate_ocr_int8"

static plates_scratch *scratch;
static uint8_t *crop;
static size_t crop_room;
static int8_t chars[PLATES_MAX_CHARS * PLATES_CHAR_BYTES];
static uint32_t times[PLATES_STAGES];

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

/* Stages 1-3 on w x h gray pixels (also a handle of them when `image` is not 0); returns the
 * number of characters or a negative error. */
static int32_t locate_crop_segment_px(const uint8_t *px, int32_t w, int32_t h, uint32_t image,
                                      uint64_t t0) {
    if (scratch == NULL && (scratch = malloc(sizeof *scratch)) == NULL) return -3;
    plates_box box;
    int found = plates_locate(px, w, h, scratch, &box);
    uint64_t t1 = now_us();
    times[0] = (uint32_t)(t1 - t0);
    if (found != 0) return -2;
    if ((size_t)box.w * (size_t)box.h > crop_room) {
        free(crop);
        crop_room = (size_t)box.w * (size_t)box.h;
        if ((crop = malloc(crop_room)) == NULL) return crop_room = 0, -3;
    }
#if PLATES_IMAGE_HANDLES
    if (image != 0 ? plates_cut_handle(image, box, crop) != 0
                   : plates_cut(px, w, h, box, crop) != 0)
        return -3;
#else
    (void)image;
    if (plates_cut(px, w, h, box, crop) != 0) return -3;
#endif
    uint64_t t2 = now_us();
    times[1] = (uint32_t)(t2 - t1);
    int32_t n = plates_segment(crop, box.w, box.h, scratch, chars, NULL);
    times[2] = (uint32_t)(now_us() - t2);
    return n < 0 ? -2 : n;
}

static int32_t locate_crop_segment(const uint8_t *frame, uint32_t len) {
    int32_t w, h;
    uint64_t t0 = now_us();
    const uint8_t *px = plates_parse_pgm(frame, len, &w, &h);
    if (px == NULL) return -1;
    return locate_crop_segment_px(px, w, h, 0, t0);
}

EXPORT("plate_chars") int32_t plate_chars(const uint8_t *frame, uint32_t len) {
    return locate_crop_segment(frame, len);
}

EXPORT("chars_ptr") int32_t chars_ptr(void) {
    return (int32_t)(uintptr_t)chars;
}

#ifdef __wasm__
static int8_t scores[PLATES_MAX_CHARS * PLATES_CLASSES];
static char text[PLATES_MAX_CHARS + 1];
static const char format[] = "LLDDLLL"; /* the plates of the demo */
static wasi_nn_graph_t graph;
static wasi_nn_ctx_t ctx;
static int have_ctx;

/* Stages 4-5 after locate_crop_segment's n characters (or its error). */
static int32_t ocr_assemble(int32_t n);

static void clear_result(void) {
    for (int i = 0; i < PLATES_STAGES; i++)
        times[i] = 0;
    text[0] = 0;
}

EXPORT("read_plate") int32_t read_plate(const uint8_t *frame, uint32_t len) {
    clear_result();
    return ocr_assemble(locate_crop_segment(frame, len));
}

static uint8_t *image_px;
static size_t image_room;

static int32_t read_image(uint32_t image) {
    uint64_t t0 = now_us();
    edge_image_info_t info;
    if (edge_image_info(image, &info) != 0 || info.format != EDGE_IMAGE_GRAY8 || info.width < 8 ||
        info.height < 8 || info.width > PLATES_MAX_SIDE || info.height > PLATES_MAX_SIDE)
        return -1;
    if (info.bytes > image_room) {
        free(image_px);
        image_room = info.bytes;
        if ((image_px = malloc(image_room)) == NULL) return image_room = 0, -3;
    }
    uint32_t written = 0;
    if (edge_image_read(image, image_px, info.bytes, &written) != 0) return -3;
    int32_t n =
        locate_crop_segment_px(image_px, (int32_t)info.width, (int32_t)info.height, image, t0);
    return ocr_assemble(n);
}

EXPORT("read_plate_image") int32_t read_plate_image(uint32_t image) {
    clear_result();
    int32_t n = read_image(image);
    edge_image_drop(image);
    return n;
}

static int32_t ocr_assemble(int32_t n) {
    if (n < 0) return n;
    uint64_t t0 = now_us();
    uint32_t err = WASI_NN_SUCCESS;
    if (!have_ctx) {
        err = edge_nn_load_named(MODEL, &graph);
        if (err == WASI_NN_SUCCESS) err = wasi_nn_init_execution_context(graph, &ctx);
        have_ctx = err == WASI_NN_SUCCESS;
    }
    static const uint32_t dims[4] = {1, PLATES_CHAR, PLATES_CHAR, 1};
    for (int32_t k = 0; k < n && err == WASI_NN_SUCCESS; k++) {
        wasi_nn_tensor_t t;
        edge_nn_tensor(&t, dims, 4, WASI_NN_TYPE_U8, chars + k * PLATES_CHAR_BYTES,
                       PLATES_CHAR_BYTES);
        uint32_t written = 0;
        err = wasi_nn_set_input(ctx, 0, &t);
        if (err == WASI_NN_SUCCESS) err = wasi_nn_compute(ctx);
        if (err == WASI_NN_SUCCESS) {
            err = wasi_nn_get_output(ctx, 0, (uint8_t *)(scores + k * PLATES_CLASSES),
                                     PLATES_CLASSES, &written);
        }
    }
    if (err != WASI_NN_SUCCESS) return -(int32_t)(1000 + err);
    uint64_t t1 = now_us();
    times[3] = (uint32_t)(t1 - t0);
    plates_assemble(scores, n, format, text);
    times[4] = (uint32_t)(now_us() - t1);
    return n;
}

EXPORT("text_ptr") int32_t text_ptr(void) {
    return (int32_t)(uintptr_t)text;
}
EXPORT("scores_ptr") int32_t scores_ptr(void) {
    return (int32_t)(uintptr_t)scores;
}
EXPORT("times_ptr") int32_t times_ptr(void) {
    return (int32_t)(uintptr_t)times;
}
#endif
