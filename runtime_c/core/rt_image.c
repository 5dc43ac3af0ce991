/* edge_image: image handles, per docs/abi.md section 7.
 *
 * Pixels live in rt_malloc'd buffers (accounted against the heap budget) with an 8-byte header
 * holding a reference count: an image and its views (crop, 0-turn rotate, same-format convert)
 * share one buffer. A handle is a 20-byte slot of the instance (RT_MAX_IMAGES of them, 24 on
 * 64-bit hosts). The arithmetic is the integer arithmetic of the document, shared with the Pi
 * host's numpy code (runtime_py/edge_runtime/host/image.py): both give the same pixels.
 * Out-pointers are written only on success; every guest pointer is bounds-checked first. */
#include <string.h>

#include "rt_internal.h"

enum { FMT_GRAY8 = 0, FMT_RGB888 = 1, FMT_YUV422 = 2, FMT_COUNT = 3 };
enum { MODE_NEAREST = 0, MODE_BILINEAR = 1 };
enum { LAYOUT_NHWC = 0, LAYOUT_NCHW = 1 };

static const uint8_t k_bpp[FMT_COUNT] = {1, 3, 2};

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static rt_image_slot_t *find_image(rt_instance_t *inst, uint32_t handle) {
    if (handle == 0) return NULL;
    for (uint32_t i = 0; i < RT_MAX_IMAGES; i++) {
        if (inst->images[i].handle == handle) return &inst->images[i];
    }
    return NULL;
}

static rt_image_slot_t *free_slot(rt_instance_t *inst) {
    for (uint32_t i = 0; i < RT_MAX_IMAGES; i++) {
        if (inst->images[i].handle == 0) return &inst->images[i];
    }
    return NULL;
}

static uint8_t *pixels(const rt_image_slot_t *s) {
    return (uint8_t *)(s->buf + 1) + s->offset;
}

static uint32_t row_bytes(const rt_image_slot_t *s) {
    return (uint32_t)s->width * k_bpp[s->format];
}

static bool size_ok(uint32_t w, uint32_t h, uint32_t format) {
    return format < FMT_COUNT && w >= 1 && h >= 1 && w <= RT_IMAGE_MAX_SIDE &&
           h <= RT_IMAGE_MAX_SIDE && !(format == FMT_YUV422 && (w & 1u) != 0);
}

/* Registers an image in `slot` over `buf` and writes its handle (out already checked). */
static void add(rt_instance_t *inst, rt_image_slot_t *slot, rt_image_buf_t *buf, uint32_t offset,
                uint32_t w, uint32_t h, uint32_t stride, uint32_t format, uint8_t *out) {
    slot->handle = inst->next_image++;
    slot->buf = buf;
    slot->offset = offset;
    slot->width = (uint16_t)w;
    slot->height = (uint16_t)h;
    slot->stride = (uint16_t)stride;
    slot->format = (uint8_t)format;
    buf->refs++;
    put_u32(out, slot->handle);
}

/* A new packed w x h image: its slot and pixels, or an error code (busy, too_large). */
static uint32_t alloc_image(rt_instance_t *inst, uint32_t w, uint32_t h, uint32_t format,
                            rt_image_slot_t **slot, rt_image_buf_t **buf) {
    *slot = free_slot(inst);
    if (*slot == NULL) return RT_NN_BUSY;
    uint32_t bytes = w * h * k_bpp[format]; /* <= 4096 * 4096 * 3: no overflow */
    *buf = (rt_image_buf_t *)rt_malloc(sizeof(rt_image_buf_t) + bytes);
    while (*buf == NULL && rt_eng_module_evict()) { /* loaded modules no instance uses */
        *buf = (rt_image_buf_t *)rt_malloc(sizeof(rt_image_buf_t) + bytes);
    }
    if (*buf == NULL) {
        rt_logf("instance %lu: edge_image: %lu bytes of pixels do not fit", (unsigned long)inst->id,
                (unsigned long)bytes);
        return RT_NN_TOO_LARGE;
    }
    (*buf)->refs = 0;
    (*buf)->bytes = bytes;
    return RT_NN_SUCCESS;
}

static void unref(rt_image_buf_t *buf) {
    if (--buf->refs == 0) rt_free(buf);
}

/* A view of `src` (shares its pixels); busy when the table is full. */
static uint32_t add_view(rt_instance_t *inst, const rt_image_slot_t *src, uint32_t offset,
                         uint32_t w, uint32_t h, uint8_t *out) {
    rt_image_slot_t *slot = free_slot(inst);
    if (slot == NULL) return RT_NN_BUSY;
    add(inst, slot, src->buf, offset, w, h, src->stride, src->format, out);
    return RT_NN_SUCCESS;
}

uint32_t rt_image_create(rt_instance_t *inst, uint32_t width, uint32_t height, uint32_t format,
                         uint32_t src_ptr, uint32_t src_len, uint32_t image_out_ptr) {
    uint8_t *out = rt_guest_ptr(inst, image_out_ptr, 4);
    if (out == NULL || !size_ok(width, height, format)) return RT_NN_INVALID_ARGUMENT;
    if (src_len != width * height * k_bpp[format]) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *src = rt_guest_ptr(inst, src_ptr, src_len);
    if (src == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_image_slot_t *slot;
    rt_image_buf_t *buf;
    uint32_t err = alloc_image(inst, width, height, format, &slot, &buf);
    if (err != RT_NN_SUCCESS) return err;
    memcpy(buf + 1, src, src_len);
    add(inst, slot, buf, 0, width, height, width * k_bpp[format], format, out);
    return RT_NN_SUCCESS;
}

/* ---- frames the firmware hands in (rt_image_put_frame, the FRAME_* protocol messages) ---- */

uint32_t rt_image_frame_alloc(rt_instance_t *inst, uint32_t width, uint32_t height, uint32_t format,
                              rt_image_buf_t **buf, uint32_t *bytes) {
    if (!size_ok(width, height, format)) return RT_NN_INVALID_ARGUMENT;
    rt_image_slot_t *slot;
    uint32_t err = alloc_image(inst, width, height, format, &slot, buf);
    if (err == RT_NN_SUCCESS) *bytes = (*buf)->bytes;
    return err;
}

uint8_t *rt_image_buf_pixels(rt_image_buf_t *buf) {
    return (uint8_t *)(buf + 1);
}

void rt_image_buf_free(rt_image_buf_t *buf) {
    if (buf != NULL && buf->refs == 0) rt_free(buf);
}

uint32_t rt_image_frame_commit(rt_instance_t *inst, rt_image_buf_t *buf, uint32_t width,
                               uint32_t height, uint32_t format, uint32_t *image) {
    rt_image_slot_t *slot = free_slot(inst);
    if (slot == NULL) return RT_NN_BUSY;
    uint8_t out[4];
    add(inst, slot, buf, 0, width, height, width * k_bpp[format], format, out);
    *image = slot->handle;
    return RT_NN_SUCCESS;
}

uint32_t rt_image_put_frame(rt_instance_t *inst, uint32_t width, uint32_t height, uint32_t format,
                            const uint8_t *pixels, uint32_t *image) {
    if (pixels == NULL || image == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_image_buf_t *buf;
    uint32_t bytes = 0;
    uint32_t err = rt_image_frame_alloc(inst, width, height, format, &buf, &bytes);
    if (err != RT_NN_SUCCESS) return err;
    memcpy(buf + 1, pixels, bytes);
    return rt_image_frame_commit(inst, buf, width, height, format, image); /* a slot is free */
}

uint32_t rt_image_crop(rt_instance_t *inst, uint32_t image, uint32_t x, uint32_t y, uint32_t width,
                       uint32_t height, uint32_t image_out_ptr) {
    rt_image_slot_t *s = find_image(inst, image);
    uint8_t *out = rt_guest_ptr(inst, image_out_ptr, 4);
    if (s == NULL || out == NULL || width == 0 || height == 0) return RT_NN_INVALID_ARGUMENT;
    /* 64-bit sums: x + width cannot wrap. */
    if ((uint64_t)x + width > s->width || (uint64_t)y + height > s->height) {
        return RT_NN_INVALID_ARGUMENT;
    }
    if (s->format == FMT_YUV422 && ((x | width) & 1u) != 0) return RT_NN_INVALID_ARGUMENT;
    uint32_t offset = s->offset + y * s->stride + x * k_bpp[s->format];
    return add_view(inst, s, offset, width, height, out);
}

/* Source column (or row) of destination index i in nearest mode. */
static uint32_t nearest(uint32_t i, uint32_t src_n, uint32_t dst_n) {
    return ((2u * i + 1u) * src_n) / (2u * dst_n);
}

typedef struct {
    uint32_t lo, hi, w; /* neighbours and the weight of hi (0-255) */
} tap_t;

static tap_t tap(uint32_t i, uint32_t src_n, uint32_t dst_n) {
    /* (2i + 1) * src_n * 128 < 8191 * 4096 * 128 < 2^32 */
    uint32_t num = ((2u * i + 1u) * src_n * 128u) / dst_n;
    uint32_t p = num > 128u ? num - 128u : 0u;
    tap_t t = {p >> 8, (p >> 8) + 1u < src_n ? (p >> 8) + 1u : src_n - 1u, p & 255u};
    return t;
}

uint32_t rt_image_resize(rt_instance_t *inst, uint32_t image, uint32_t width, uint32_t height,
                         uint32_t mode, uint32_t image_out_ptr) {
    rt_image_slot_t *s = find_image(inst, image);
    uint8_t *out = rt_guest_ptr(inst, image_out_ptr, 4);
    if (s == NULL || out == NULL || s->format == FMT_YUV422 || mode > MODE_BILINEAR ||
        !size_ok(width, height, s->format)) {
        return RT_NN_INVALID_ARGUMENT;
    }
    rt_image_slot_t *slot;
    rt_image_buf_t *buf;
    uint32_t err = alloc_image(inst, width, height, s->format, &slot, &buf);
    if (err != RT_NN_SUCCESS) return err;
    const uint8_t *src = pixels(s);
    uint32_t n = k_bpp[s->format], stride = s->stride;
    uint8_t *dst = (uint8_t *)(buf + 1);
    for (uint32_t y = 0; y < height; y++) {
        if (mode == MODE_NEAREST) {
            const uint8_t *row = src + nearest(y, s->height, height) * stride;
            for (uint32_t x = 0; x < width; x++) {
                const uint8_t *p = row + nearest(x, s->width, width) * n;
                for (uint32_t k = 0; k < n; k++)
                    *dst++ = p[k];
            }
            continue;
        }
        tap_t ty = tap(y, s->height, height);
        const uint8_t *r0 = src + ty.lo * stride, *r1 = src + ty.hi * stride;
        for (uint32_t x = 0; x < width; x++) {
            tap_t tx = tap(x, s->width, width);
            for (uint32_t k = 0; k < n; k++) {
                uint32_t a = r0[tx.lo * n + k], b = r0[tx.hi * n + k];
                uint32_t c = r1[tx.lo * n + k], d = r1[tx.hi * n + k];
                uint32_t top = a * (256u - tx.w) + b * tx.w, bot = c * (256u - tx.w) + d * tx.w;
                *dst++ = (uint8_t)((top * (256u - ty.w) + bot * ty.w + 32768u) >> 16);
            }
        }
    }
    add(inst, slot, buf, 0, width, height, width * n, s->format, out);
    return RT_NN_SUCCESS;
}

uint32_t rt_image_rotate(rt_instance_t *inst, uint32_t image, uint32_t quarter_turns,
                         uint32_t image_out_ptr) {
    rt_image_slot_t *s = find_image(inst, image);
    uint8_t *out = rt_guest_ptr(inst, image_out_ptr, 4);
    if (s == NULL || out == NULL || s->format == FMT_YUV422 || quarter_turns > 3u) {
        return RT_NN_INVALID_ARGUMENT;
    }
    if (quarter_turns == 0) return add_view(inst, s, s->offset, s->width, s->height, out);
    uint32_t sw = s->width, sh = s->height, n = k_bpp[s->format];
    uint32_t w = quarter_turns == 2u ? sw : sh, h = quarter_turns == 2u ? sh : sw;
    rt_image_slot_t *slot;
    rt_image_buf_t *buf;
    uint32_t err = alloc_image(inst, w, h, s->format, &slot, &buf);
    if (err != RT_NN_SUCCESS) return err;
    const uint8_t *src = pixels(s);
    uint8_t *dst = (uint8_t *)(buf + 1);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint32_t sx, sy; /* clockwise: the source pixel of (x, y) */
            if (quarter_turns == 1u) {
                sx = y;
                sy = sh - 1u - x;
            } else if (quarter_turns == 2u) {
                sx = sw - 1u - x;
                sy = sh - 1u - y;
            } else {
                sx = sw - 1u - y;
                sy = x;
            }
            const uint8_t *p = src + sy * s->stride + sx * n;
            for (uint32_t k = 0; k < n; k++)
                *dst++ = p[k];
        }
    }
    add(inst, slot, buf, 0, w, h, w * n, s->format, out);
    return RT_NN_SUCCESS;
}

static uint8_t clamp255(int32_t v) {
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* floor(v / 256) for v >= -65536 (every use below), without shifting a negative value (C's /
 * truncates and >> of a negative is implementation-defined). */
static int32_t floor_div256(int32_t v) {
    return ((v + 65536) >> 8) - 256;
}

static void rgb_to_yuv(const uint8_t *p, int32_t *y, int32_t *u, int32_t *v) {
    int32_t r = p[0], g = p[1], b = p[2];
    *y = clamp255((77 * r + 150 * g + 29 * b + 128) >> 8); /* every sum here is >= 0 */
    *u = clamp255((-43 * r - 85 * g + 128 * b + 32896) >> 8);
    *v = clamp255((128 * r - 107 * g - 21 * b + 32896) >> 8);
}

static void yuv_to_rgb(int32_t y, int32_t u, int32_t v, uint8_t *out) {
    int32_t d = u - 128, e = v - 128;
    out[0] = clamp255(y + floor_div256(359 * e + 128));
    out[1] = clamp255(y - floor_div256(88 * d + 183 * e + 128));
    out[2] = clamp255(y + floor_div256(454 * d + 128));
}

/* Pixel i of a row as Y, U, V (the pair's chroma for yuv422). */
static void row_yuv(const uint8_t *row, uint32_t format, uint32_t i, int32_t *y, int32_t *u,
                    int32_t *v) {
    if (format == FMT_GRAY8) {
        *y = row[i];
        *u = *v = 128;
    } else if (format == FMT_RGB888) {
        rgb_to_yuv(row + 3u * i, y, u, v);
    } else {
        const uint8_t *q = row + 4u * (i >> 1);
        *y = q[(i & 1u) ? 2 : 0];
        *u = q[1];
        *v = q[3];
    }
}

static void convert_row(const uint8_t *src, uint32_t from, uint8_t *dst, uint32_t to, uint32_t w) {
    if (to == FMT_YUV422) {
        for (uint32_t i = 0; i < w; i += 2u) {
            int32_t y0, u0, v0, y1, u1, v1;
            row_yuv(src, from, i, &y0, &u0, &v0);
            row_yuv(src, from, i + 1u, &y1, &u1, &v1);
            uint8_t *q = dst + 2u * i;
            q[0] = (uint8_t)y0;
            q[1] = (uint8_t)((u0 + u1 + 1) >> 1);
            q[2] = (uint8_t)y1;
            q[3] = (uint8_t)((v0 + v1 + 1) >> 1);
        }
        return;
    }
    for (uint32_t i = 0; i < w; i++) {
        if (from == FMT_RGB888 && to == FMT_GRAY8) { /* Y only */
            const uint8_t *p = src + 3u * i;
            dst[i] = (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2] + 128u) >> 8);
            continue;
        }
        if (from == FMT_GRAY8) { /* to rgb888: R = G = B = Y */
            dst[3u * i] = dst[3u * i + 1u] = dst[3u * i + 2u] = src[i];
            continue;
        }
        int32_t y, u, v;
        row_yuv(src, from, i, &y, &u, &v);
        if (to == FMT_GRAY8) {
            dst[i] = (uint8_t)y;
        } else {
            yuv_to_rgb(y, u, v, dst + 3u * i);
        }
    }
}

uint32_t rt_image_convert(rt_instance_t *inst, uint32_t image, uint32_t format,
                          uint32_t image_out_ptr) {
    rt_image_slot_t *s = find_image(inst, image);
    uint8_t *out = rt_guest_ptr(inst, image_out_ptr, 4);
    if (s == NULL || out == NULL || !size_ok(s->width, s->height, format)) {
        return RT_NN_INVALID_ARGUMENT;
    }
    if (format == s->format) return add_view(inst, s, s->offset, s->width, s->height, out);
    rt_image_slot_t *slot;
    rt_image_buf_t *buf;
    uint32_t err = alloc_image(inst, s->width, s->height, format, &slot, &buf);
    if (err != RT_NN_SUCCESS) return err;
    const uint8_t *src = pixels(s);
    uint8_t *dst = (uint8_t *)(buf + 1);
    uint32_t dst_row = (uint32_t)s->width * k_bpp[format];
    for (uint32_t y = 0; y < s->height; y++) {
        convert_row(src + y * s->stride, s->format, dst + y * dst_row, format, s->width);
    }
    add(inst, slot, buf, 0, s->width, s->height, dst_row, format, out);
    return RT_NN_SUCCESS;
}

uint32_t rt_image_info(rt_instance_t *inst, uint32_t image, uint32_t info_ptr) {
    rt_image_slot_t *s = find_image(inst, image);
    uint8_t *out = rt_guest_ptr(inst, info_ptr, 16);
    if (s == NULL || out == NULL) return RT_NN_INVALID_ARGUMENT;
    put_u32(out, s->width);
    put_u32(out + 4, s->height);
    put_u32(out + 8, s->format);
    put_u32(out + 12, row_bytes(s) * s->height);
    return RT_NN_SUCCESS;
}

uint32_t rt_image_read(rt_instance_t *inst, uint32_t image, uint32_t dst_ptr, uint32_t dst_max_len,
                       uint32_t bytes_written_out_ptr) {
    rt_image_slot_t *s = find_image(inst, image);
    uint8_t *written = rt_guest_ptr(inst, bytes_written_out_ptr, 4);
    if (s == NULL || written == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t row = row_bytes(s), size = row * s->height;
    if (dst_max_len < size) return RT_NN_TOO_LARGE;
    uint8_t *dst = rt_guest_ptr(inst, dst_ptr, size);
    if (dst == NULL) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *src = pixels(s);
    for (uint32_t y = 0; y < s->height; y++) {
        memcpy(dst + y * row, src + y * s->stride, row);
    }
    put_u32(written, size);
    return RT_NN_SUCCESS;
}

uint32_t rt_image_to_tensor(rt_instance_t *inst, uint32_t image, uint32_t ctx, uint32_t index,
                            uint32_t layout) {
    rt_image_slot_t *s = find_image(inst, image);
    if (s == NULL || layout > LAYOUT_NCHW || s->format == FMT_YUV422) {
        return RT_NN_INVALID_ARGUMENT;
    }
    rt_nn_tensor_info_t info;
    uint8_t *dst = rt_wasinn_raw_input(inst, ctx, index, &info);
    if (dst == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t c = k_bpp[s->format], h = s->height, w = s->width;
    uint32_t want[4] = {1u, h, w, c};
    if (layout == LAYOUT_NCHW) {
        want[1] = c;
        want[2] = h;
        want[3] = w;
    }
    if (info.rank != 4u) return RT_NN_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < 4u; i++) {
        if (info.dims[i] != want[i]) return RT_NN_INVALID_ARGUMENT;
    }
    /* int8 input: p - 128, which is p ^ 0x80 as a byte; uint8: p. */
    uint8_t flip = info.type == RT_NN_T_INT8 ? 0x80u : 0u;
    const uint8_t *src = pixels(s);
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *row = src + y * s->stride;
        if (layout == LAYOUT_NHWC) {
            uint8_t *d = dst + y * w * c;
            for (uint32_t i = 0; i < w * c; i++)
                d[i] = row[i] ^ flip;
        } else {
            for (uint32_t k = 0; k < c; k++) {
                uint8_t *d = dst + (k * h + y) * w;
                for (uint32_t x = 0; x < w; x++)
                    d[x] = row[x * c + k] ^ flip;
            }
        }
    }
    rt_wasinn_raw_input_set(inst, ctx, index);
    return RT_NN_SUCCESS;
}

uint32_t rt_image_drop(rt_instance_t *inst, uint32_t image) {
    rt_image_slot_t *s = find_image(inst, image);
    if (s == NULL) return RT_NN_INVALID_ARGUMENT;
    unref(s->buf);
    memset(s, 0, sizeof *s);
    return RT_NN_SUCCESS;
}

void rt_image_release(rt_instance_t *inst) {
    for (uint32_t i = 0; i < RT_MAX_IMAGES; i++) {
        if (inst->images[i].handle != 0) unref(inst->images[i].buf);
        memset(&inst->images[i], 0, sizeof inst->images[i]);
    }
}
