/* Host check driver for rt_image.c (tests/runtime_c/test_image_core.py): rt_image.c and
 * rt_mem.c as they are, with linear memory a static array, wasi-nn and the engine absent.
 *
 *   image_check FORMAT WIDTH HEIGHT [OP ARGS...]... < pixels > result
 *
 * reads the packed pixels from stdin, makes one image with rt_image_put_frame and one with
 * rt_image_create (from "linear memory"), applies the ops to both (crop X Y W H | resize W H
 * MODE | rotate TURNS | convert FORMAT), writes the result's info (16 bytes) and pixels (via
 * rt_image_read) to stdout, and exits 0 only if both chains agree and, once every image is
 * dropped, the accounted heap is back to zero. An error code from a call exits 10 + code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"
#include "rt_platform.h"

#define MEM_BYTES (4u << 20)
static uint8_t g_mem[MEM_BYTES];

uint8_t *rt_guest_ptr(rt_instance_t *inst, uint32_t ptr, uint32_t len) {
    (void)inst;
    if ((uint64_t)ptr + len > MEM_BYTES) return NULL;
    return g_mem + ptr;
}

uint8_t *rt_wasinn_raw_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                             rt_nn_tensor_info_t *info) {
    (void)inst;
    (void)ctx;
    (void)index;
    (void)info;
    return NULL;
}

void rt_wasinn_raw_input_set(rt_instance_t *inst, uint32_t ctx, uint32_t index) {
    (void)inst;
    (void)ctx;
    (void)index;
}

bool rt_eng_module_evict(void) {
    return false; /* no engine here */
}

void *rt_os_malloc(size_t size) {
    return malloc(size);
}

void *rt_os_malloc_growable(size_t size, size_t max) {
    (void)max;
    return rt_os_malloc(size);
}
void *rt_os_malloc_lasting(size_t size) {
    return rt_os_malloc(size);
}
void *rt_os_realloc(void *ptr, size_t size) {
    return realloc(ptr, size);
}

void rt_os_free(void *ptr) {
    free(ptr);
}

void rt_os_log(const char *msg) {
    fprintf(stderr, "%s\n", msg);
}

enum { OUT_PTR = 0, INFO_PTR = 16, WRITTEN_PTR = 32, SRC_PTR = 64, DST_PTR = 2u << 20 };

static uint32_t u32_at(uint32_t ptr) {
    return (uint32_t)g_mem[ptr] | (uint32_t)g_mem[ptr + 1] << 8 | (uint32_t)g_mem[ptr + 2] << 16 |
           (uint32_t)g_mem[ptr + 3] << 24;
}

static void check(uint32_t err, const char *what) {
    if (err != 0) {
        fprintf(stderr, "%s: error %u\n", what, (unsigned)err);
        exit(10 + (int)err);
    }
}

/* Applies argv[i..] ops to `image`; returns the final handle. */
static uint32_t apply(rt_instance_t *inst, uint32_t image, int argc, char **argv) {
    for (int i = 4; i < argc;) {
        const char *op = argv[i++];
        uint32_t a[4] = {0, 0, 0, 0};
        int n = strcmp(op, "crop") == 0 ? 4 : strcmp(op, "resize") == 0 ? 3 : 1;
        for (int k = 0; k < n && i < argc; k++)
            a[k] = (uint32_t)strtoul(argv[i++], NULL, 10);
        uint32_t err;
        if (strcmp(op, "crop") == 0) {
            err = rt_image_crop(inst, image, a[0], a[1], a[2], a[3], OUT_PTR);
        } else if (strcmp(op, "resize") == 0) {
            err = rt_image_resize(inst, image, a[0], a[1], a[2], OUT_PTR);
        } else if (strcmp(op, "rotate") == 0) {
            err = rt_image_rotate(inst, image, a[0], OUT_PTR);
        } else {
            err = rt_image_convert(inst, image, a[0], OUT_PTR);
        }
        check(err, op);
        check(rt_image_drop(inst, image), "drop"); /* views keep their pixels */
        image = u32_at(OUT_PTR);
    }
    return image;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    uint32_t format = (uint32_t)atoi(argv[1]), w = (uint32_t)atoi(argv[2]);
    uint32_t h = (uint32_t)atoi(argv[3]);
    static const uint32_t bpp[3] = {1, 3, 2};
    if (format > 2) return 2;
    uint32_t size = w * h * bpp[format];
    static uint8_t pixels[3u << 20];
    if (size > sizeof pixels || fread(pixels, 1, size, stdin) != size) return 2;
    static rt_instance_t inst;
    inst.next_image = 1;
    uint32_t frame = 0;
    check(rt_image_put_frame(&inst, w, h, format, pixels, &frame), "put_frame");
    memcpy(g_mem + SRC_PTR, pixels, size);
    check(rt_image_create(&inst, w, h, format, SRC_PTR, size, OUT_PTR), "create");
    uint32_t created = u32_at(OUT_PTR);
    uint32_t a = apply(&inst, frame, argc, argv), b = apply(&inst, created, argc, argv);
    check(rt_image_info(&inst, a, INFO_PTR), "info");
    uint32_t bytes = u32_at(INFO_PTR + 12);
    check(rt_image_read(&inst, b, DST_PTR + bytes, bytes, WRITTEN_PTR), "read");
    check(rt_image_read(&inst, a, DST_PTR, bytes, WRITTEN_PTR), "read");
    int same = memcmp(g_mem + DST_PTR, g_mem + DST_PTR + bytes, bytes) == 0;
    fwrite(g_mem + INFO_PTR, 1, 16, stdout);
    fwrite(g_mem + DST_PTR, 1, bytes, stdout);
    rt_image_release(&inst);
    if (!same) return 3;
    return rt_mem_in_use() == 0 ? 0 : 4;
}
