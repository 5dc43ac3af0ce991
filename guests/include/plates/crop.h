/* Cutting the plate out of a frame: the one step that touches a whole frame's pixels after
 * locating. With image handles (edge_image.h, docs/abi.md section 7) the frame becomes a handle and
 * the plate a view of it, read back alone; without them (or in a native build) rows are copied. */
#ifndef PLATES_CROP_H
#define PLATES_CROP_H

#include "plates/plates.h"

#if defined(__wasm__) && __has_include("edge_image.h")
#include "edge_image.h"
#define PLATES_IMAGE_HANDLES 1

/* 0, or the wasi-nn error of the first image call that failed. */
static inline uint32_t plates_cut(const uint8_t *px, int32_t w, int32_t h, plates_box b,
                                  uint8_t *out) {
    edge_image_t frame = 0, plate = 0;
    uint32_t written = 0, size = (uint32_t)b.w * (uint32_t)b.h;
    uint32_t err = edge_image_create((uint32_t)w, (uint32_t)h, EDGE_IMAGE_GRAY8, px,
                                     (uint32_t)w * (uint32_t)h, &frame);
    if (err == 0) {
        err = edge_image_crop(frame, (uint32_t)b.x, (uint32_t)b.y, (uint32_t)b.w, (uint32_t)b.h,
                              &plate);
    }
    if (err == 0) err = edge_image_read(plate, out, size, &written);
    if (plate) edge_image_drop(plate);
    if (frame) edge_image_drop(frame);
    return err;
}

/* plates_cut for a frame that already is a handle (the FRAMES protocol message): the plate is
 * a view of it, read back alone. */
static inline uint32_t plates_cut_handle(edge_image_t frame, plates_box b, uint8_t *out) {
    edge_image_t plate = 0;
    uint32_t written = 0, size = (uint32_t)b.w * (uint32_t)b.h;
    uint32_t err =
        edge_image_crop(frame, (uint32_t)b.x, (uint32_t)b.y, (uint32_t)b.w, (uint32_t)b.h, &plate);
    if (err == 0) err = edge_image_read(plate, out, size, &written);
    if (plate) edge_image_drop(plate);
    return err;
}
#else
#define PLATES_IMAGE_HANDLES 0

static inline uint32_t plates_cut(const uint8_t *px, int32_t w, int32_t h, plates_box b,
                                  uint8_t *out) {
    (void)h;
    plates_crop(px, w, b, out);
    return 0;
}
#endif

#endif
