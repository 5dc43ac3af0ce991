/* Plate reader, stage 1 (EVP module): finds the plate in a frame.
 * In: a binary PGM frame (any alias). Out ("located"): the plate's box and the frame
 * (plates/transport.h), numbered in arrival order. A frame without a plate (or not a PGM) is
 * counted in the state "missed" and passed on with an empty box. */
#include <stdio.h>

#include "plates/transport.h"

static plates_scratch *scratch;
static uint32_t frames, missed;

static size_t locate(struct EVP_client *h, const uint8_t *in, size_t len, uint8_t **out,
                     size_t *cap) {
    uint64_t t0 = plates_now_us();
    plates_hdr hdr = {PLATES_MAGIC, frames++, {0}};
    int32_t w = 0, hgt = 0;
    plates_box box = {0, 0, 0, 0};
    const uint8_t *px = plates_parse_pgm(in, len, &w, &hgt);
    if (px == NULL) w = hgt = 0;
    if (px == NULL || plates_locate(px, w, hgt, scratch, &box) != 0) {
        /* Passed on with an empty box: every frame gets its (empty) result downstream. */
        char state[48];
        int n = snprintf(state, sizeof state, "%u of %u", (unsigned)++missed, (unsigned)frames);
        EVP_sendState(h, "missed", state, (size_t)n, NULL, NULL);
        box.w = box.h = 0;
    }
    hdr.stage_us[0] = (uint32_t)(plates_now_us() - t0);
    return plates_located_pack(&hdr, box, px, w, hgt, out, cap);
}

int main(void) {
    scratch = malloc(sizeof *scratch);
    if (scratch == NULL) return 4;
    return plates_module_main("located", locate, NULL);
}
