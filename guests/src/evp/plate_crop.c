/* Plate reader, stage 2 (EVP module): cuts the located plate out of its frame.
 * In: "located" (plates/transport.h). Out ("crop"): plates_hdr, int32 width, int32 height,
 * then the plate's pixels (0 x 0 when no plate was found). */
#include "plates/transport.h"

static uint8_t *crop;
static size_t room;

static size_t crop_stage(struct EVP_client *h, const uint8_t *in, size_t len, uint8_t **out,
                         size_t *cap) {
    (void)h;
    uint64_t t0 = plates_now_us();
    plates_box box;
    const plates_hdr *hdr = plates_located_crop(in, len, &crop, &room, &box);
    if (hdr == NULL) return 0;
    size_t n = sizeof(plates_hdr) + 8 + (size_t)box.w * (size_t)box.h;
    if (plates_reserve(out, cap, n)) return 0;
    plates_hdr *o = (plates_hdr *)*out;
    *o = *hdr;
    int32_t size[2] = {box.w, box.h};
    memcpy(*out + sizeof *o, size, 8);
    if (box.w > 0 && box.h > 0) memcpy(*out + sizeof *o + 8, crop, (size_t)box.w * (size_t)box.h);
    o->stage_us[1] = (uint32_t)(plates_now_us() - t0);
    return n;
}

int main(void) {
    return plates_module_main("crop", crop_stage, NULL);
}
