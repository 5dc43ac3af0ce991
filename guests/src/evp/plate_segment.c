/* Plate reader, stage 3 (EVP module): finds the characters on a plate crop.
 * In: "crop" (plate_crop.c). Out ("chars"): plates_hdr, int32 count, then count characters of
 * PLATES_CHAR x PLATES_CHAR int8 (the OCR model's input). */
#include "plates/module.h"

static plates_scratch *scratch;
static int8_t chars[PLATES_MAX_CHARS * PLATES_CHAR_BYTES];

static size_t segment(struct EVP_client *h, const uint8_t *in, size_t len, uint8_t **out,
                      size_t *cap) {
    (void)h;
    uint64_t t0 = plates_now_us();
    const plates_hdr *hdr = plates_header(in, len);
    int32_t size[2];
    if (hdr == NULL || len < sizeof *hdr + 8) return 0;
    memcpy(size, in + sizeof *hdr, 8);
    if (size[0] < 0 || size[1] < 0 || size[0] > PLATES_MAX_SIDE || size[1] > PLATES_MAX_SIDE ||
        len - sizeof *hdr - 8 < (size_t)size[0] * (size_t)size[1])
        return 0;
    int32_t count = 0; /* an empty crop (no plate) has no characters */
    if (size[0] > 0 && size[1] > 0)
        count = plates_segment(in + sizeof *hdr + 8, size[0], size[1], scratch, chars, NULL);
    if (count < 0) count = 0;
    size_t n = sizeof *hdr + 4 + (size_t)count * PLATES_CHAR_BYTES;
    if (plates_reserve(out, cap, n)) return 0;
    plates_hdr *o = (plates_hdr *)*out;
    *o = *hdr;
    memcpy(*out + sizeof *o, &count, 4);
    memcpy(*out + sizeof *o + 4, chars, (size_t)count * PLATES_CHAR_BYTES);
    o->stage_us[2] = (uint32_t)(plates_now_us() - t0);
    return n;
}

int main(void) {
    scratch = malloc(sizeof *scratch);
    if (scratch == NULL) return 4;
    return plates_module_main("chars", segment, NULL);
}
