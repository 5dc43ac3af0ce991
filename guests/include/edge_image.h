/* Image handles (module "edge_image"), as specified in docs/abi.md section 7: frames and the
 * images derived from them stay in the runtime; crop/resize/rotate/convert run natively and
 * pixels enter linear memory only through edge_image_read. Every function returns a wasi-nn
 * error code (wasi_nn_error_t); out-pointers are written only on success. */
#ifndef EDGE_IMAGE_H
#define EDGE_IMAGE_H

#include <stdint.h>

#include "wasi_nn.h"

#define EDGE_IMAGE_IMPORT(name) __attribute__((import_module("edge_image"), import_name(name)))

typedef uint32_t edge_image_t; /* a handle; 0 is never a valid one */

typedef enum {
    EDGE_IMAGE_GRAY8 = 0,  /* Y */
    EDGE_IMAGE_RGB888 = 1, /* R G B */
    EDGE_IMAGE_YUV422 = 2, /* Y0 U Y1 V per pixel pair (YUYV); even width */
} edge_image_format_t;

typedef enum {
    EDGE_IMAGE_NEAREST = 0,
    EDGE_IMAGE_BILINEAR = 1,
} edge_image_mode_t;

typedef enum {
    EDGE_IMAGE_NHWC = 0,
    EDGE_IMAGE_NCHW = 1,
} edge_image_layout_t;

#define EDGE_IMAGE_MAX_SIDE 4096u
#define EDGE_IMAGE_MAX_HANDLES 8u /* per instance, views included */

/* Written by edge_image_info: 16 bytes. */
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t format; /* edge_image_format_t */
    uint32_t bytes;  /* packed size: width * height * bytes per pixel */
} edge_image_info_t;

_Static_assert(sizeof(edge_image_info_t) == 16, "image info is 16 bytes");

/* Copies width*height*bpp bytes of packed rows (top row first) into a new image. */
EDGE_IMAGE_IMPORT("create")
uint32_t edge_image_create(uint32_t width, uint32_t height, uint32_t format, const void *src,
                           uint32_t src_len, edge_image_t *image_out);
/* A view of a rectangle: no pixels copied. */
EDGE_IMAGE_IMPORT("crop")
uint32_t edge_image_crop(edge_image_t image, uint32_t x, uint32_t y, uint32_t width,
                         uint32_t height, edge_image_t *image_out);
EDGE_IMAGE_IMPORT("resize")
uint32_t edge_image_resize(edge_image_t image, uint32_t width, uint32_t height, uint32_t mode,
                           edge_image_t *image_out);
/* Clockwise by quarter_turns * 90 degrees (0-3). */
EDGE_IMAGE_IMPORT("rotate")
uint32_t edge_image_rotate(edge_image_t image, uint32_t quarter_turns, edge_image_t *image_out);
EDGE_IMAGE_IMPORT("convert")
uint32_t edge_image_convert(edge_image_t image, uint32_t format, edge_image_t *image_out);
EDGE_IMAGE_IMPORT("info")
uint32_t edge_image_info(edge_image_t image, edge_image_info_t *info);
/* Copies the packed pixels into linear memory. */
EDGE_IMAGE_IMPORT("read")
uint32_t edge_image_read(edge_image_t image, void *dst, uint32_t dst_max_len,
                         uint32_t *bytes_written);
/* Sets input `index` of `ctx` straight from the image (raw u8 path; int8 inputs get p - 128). */
EDGE_IMAGE_IMPORT("to_tensor")
uint32_t edge_image_to_tensor(edge_image_t image, wasi_nn_ctx_t ctx, uint32_t index,
                              uint32_t layout);
EDGE_IMAGE_IMPORT("drop")
uint32_t edge_image_drop(edge_image_t image);

#endif
