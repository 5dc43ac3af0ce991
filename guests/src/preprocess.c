/* Image preprocessing as a guest would do it before inference: bilinear resize of an RGB
 * frame to 96x96 and normalisation to int8 (x - 128). Compute-heavy, no imports: used by
 * tests/bench/bench_wasm2c.py to compare wasm2c output with the same C compiled natively. */
#include <stdint.h>
#include <stdlib.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define SRC_W 320
#define SRC_H 240
#define DST 96

#define FRAME_BYTES (SRC_H * SRC_W * 3)

/* Heap, not static: the frame does not fit the 64 KiB initial memory every target uses. */
static uint8_t *frame;
static int8_t *out;

EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

/* Bilinear resize (16.16 fixed point) + int8 normalisation; returns a checksum of the result. */
EXPORT("preprocess")
int32_t preprocess(const uint8_t *src, int32_t w, int32_t h, int8_t *dst) {
    if (w < 2 || h < 2) return 0;
    uint32_t sx = ((uint32_t)(w - 1) << 16) / (DST - 1), sy = ((uint32_t)(h - 1) << 16) / (DST - 1);
    uint32_t sum = 0;
    for (int32_t y = 0; y < DST; y++) {
        uint32_t fy = (uint32_t)y * sy, y0 = fy >> 16, wy = (fy >> 8) & 0xFF;
        uint32_t y1 = y0 + 1 < (uint32_t)h ? y0 + 1 : y0;
        for (int32_t x = 0; x < DST; x++) {
            uint32_t fx = (uint32_t)x * sx, x0 = fx >> 16, wx = (fx >> 8) & 0xFF;
            uint32_t x1 = x0 + 1 < (uint32_t)w ? x0 + 1 : x0;
            for (int32_t c = 0; c < 3; c++) {
                uint32_t a = src[(y0 * (uint32_t)w + x0) * 3 + (uint32_t)c];
                uint32_t b = src[(y0 * (uint32_t)w + x1) * 3 + (uint32_t)c];
                uint32_t d = src[(y1 * (uint32_t)w + x0) * 3 + (uint32_t)c];
                uint32_t e = src[(y1 * (uint32_t)w + x1) * 3 + (uint32_t)c];
                uint32_t top = a * (256 - wx) + b * wx, bot = d * (256 - wx) + e * wx;
                uint32_t v = (top * (256 - wy) + bot * wy + (1u << 15)) >> 16;
                int8_t q = (int8_t)((int32_t)v - 128);
                dst[(y * DST + x) * 3 + c] = q;
                sum = sum * 31u + (uint8_t)q;
            }
        }
    }
    return (int32_t)sum;
}

/* Runs preprocess on an internal synthetic frame `iters` times (no data transfer). */
EXPORT("bench") int32_t bench(int32_t iters) {
    if (frame == NULL) {
        frame = malloc(FRAME_BYTES);
        out = malloc(DST * DST * 3);
        if (frame == NULL || out == NULL) return -1;
    }
    uint32_t seed = 12345u;
    for (uint32_t i = 0; i < FRAME_BYTES; i++) {
        seed = seed * 1103515245u + 12345u;
        frame[i] = (uint8_t)(seed >> 16);
    }
    int32_t r = 0;
    for (int32_t i = 0; i < iters; i++) {
        frame[i % FRAME_BYTES] ^= (uint8_t)i;
        r ^= preprocess(frame, SRC_W, SRC_H, out);
    }
    return r;
}
