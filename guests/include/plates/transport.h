/* How the plate crosses from the locate stage to the crop stage: the one place pixels of the
 * whole frame move between modules. The located message carries the frame's pixels (image
 * handles are valid only in the instance that made them, so a handle cannot travel); the crop
 * stage cuts the plate out with plates_cut (plates/crop.h: a view of an image handle when the
 * runtime has them). */
#ifndef PLATES_TRANSPORT_H
#define PLATES_TRANSPORT_H

#include "plates/crop.h"
#include "plates/module.h"

typedef struct {
    plates_hdr hdr;
    plates_box box;
    int32_t frame_w, frame_h;
    /* then frame_w * frame_h pixels */
} plates_located;

/* The located message for `box` in the frame `px` (w x h); returns its length, 0 on no memory. */
static inline size_t plates_located_pack(const plates_hdr *hdr, plates_box box, const uint8_t *px,
                                         int32_t w, int32_t h, uint8_t **out, size_t *cap) {
    size_t n = sizeof(plates_located) + (size_t)w * (size_t)h;
    if (plates_reserve(out, cap, n)) return 0;
    plates_located *m = (plates_located *)*out;
    m->hdr = *hdr;
    m->box = box;
    m->frame_w = w, m->frame_h = h;
    if (w > 0 && h > 0) memcpy(*out + sizeof *m, px, (size_t)w * (size_t)h);
    return n;
}

/* Crops the located plate into *crop (grown as needed, plates_reserve); returns the message's
 * header and sets *box (empty when no plate was found), or NULL for a malformed message or no
 * memory. */
static inline const plates_hdr *plates_located_crop(const uint8_t *in, size_t len, uint8_t **crop,
                                                    size_t *room, plates_box *box) {
    if (plates_header(in, len) == NULL || len < sizeof(plates_located)) return NULL;
    const plates_located *m = (const plates_located *)in;
    plates_box b = m->box;
    if (m->frame_w < 0 || m->frame_h < 0 || m->frame_w > PLATES_MAX_SIDE ||
        m->frame_h > PLATES_MAX_SIDE || len - sizeof *m < (size_t)m->frame_w * (size_t)m->frame_h)
        return NULL;
    if (b.x < 0 || b.y < 0 || b.w < 0 || b.h < 0 || b.x + b.w > m->frame_w ||
        b.y + b.h > m->frame_h || plates_reserve(crop, room, (size_t)b.w * (size_t)b.h))
        return NULL;
    if (b.w > 0 && b.h > 0 && plates_cut(in + sizeof *m, m->frame_w, m->frame_h, b, *crop) != 0)
        return NULL;
    *box = b;
    return &m->hdr;
}

#endif
