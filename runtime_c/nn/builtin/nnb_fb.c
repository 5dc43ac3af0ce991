/* A small, strict reader for FlatBuffers binary data (written for TFLite models).
 *
 * Every position is checked against the buffer before it is read: tables (their vtable and
 * their declared size), fields (inside the table's declared size), vectors (length * element
 * size inside the buffer). Positions are uint32; the buffer is at most 2 GiB - 1, so the
 * additions below are done in uint64 where they could wrap. */
#include "nnb_internal.h"

#include <stdarg.h>

/* ---- error formatting (tiny: %s %d %u) ---------------------------------------------- */

static size_t put_str(char *dst, size_t at, size_t cap, const char *s) {
    while (*s && at + 1 < cap)
        dst[at++] = *s++;
    return at;
}

static size_t put_uint(char *dst, size_t at, size_t cap, uint32_t v) {
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (v % 10u));
        v /= 10u;
    } while (v && n < (int)sizeof tmp);
    while (n > 0 && at + 1 < cap)
        dst[at++] = tmp[--n];
    return at;
}

nnb_status_t nnb_fail(nnb_error_t *err, nnb_status_t st, const char *fmt, ...) {
    va_list ap;
    size_t at = 0;
    const size_t cap = sizeof err->msg;
    if (!err) return st;
    va_start(ap, fmt);
    while (*fmt && at + 1 < cap) {
        if (fmt[0] == '%' && fmt[1] == 's') {
            const char *s = va_arg(ap, const char *);
            at = put_str(err->msg, at, cap, s ? s : "(null)");
            fmt += 2;
        } else if (fmt[0] == '%' && fmt[1] == 'u') {
            at = put_uint(err->msg, at, cap, va_arg(ap, unsigned));
            fmt += 2;
        } else if (fmt[0] == '%' && fmt[1] == 'd') {
            int v = va_arg(ap, int);
            if (v < 0) {
                at = put_str(err->msg, at, cap, "-");
                at = put_uint(err->msg, at, cap, (uint32_t)0 - (uint32_t)v);
            } else {
                at = put_uint(err->msg, at, cap, (uint32_t)v);
            }
            fmt += 2;
        } else {
            err->msg[at++] = *fmt++;
        }
    }
    err->msg[at] = '\0';
    va_end(ap);
    return st;
}

static int fb_bad(const nnb_fb_t *fb, const char *what, uint32_t pos) {
    nnb_fail(fb->err, NNB_INVALID_ENCODING, "flatbuffer: %s at %u", what, pos);
    return -1;
}

/* ---- tables --------------------------------------------------------------------------- */

int nnb_fb_table_at(const nnb_fb_t *fb, uint32_t pos, nnb_fbt_t *t) {
    int64_t vt;
    uint32_t vtsize, tsize;
    if ((uint64_t)pos + 4u > fb->n) return fb_bad(fb, "table out of bounds", pos);
    vt = (int64_t)pos - (int64_t)nnb_rd_i32(fb->b + pos);
    if (vt < 0 || (uint64_t)vt + 4u > fb->n) return fb_bad(fb, "vtable out of bounds", pos);
    vtsize = nnb_rd_u16(fb->b + vt);
    tsize = nnb_rd_u16(fb->b + vt + 2);
    if (vtsize < 4u || (vtsize & 1u) || (uint64_t)vt + vtsize > fb->n)
        return fb_bad(fb, "bad vtable size", (uint32_t)vt);
    if (tsize < 4u || (uint64_t)pos + tsize > fb->n) return fb_bad(fb, "bad table size", pos);
    t->pos = pos;
    t->vt = (uint32_t)vt;
    t->vtsize = vtsize;
    t->tsize = tsize;
    return 0;
}

int nnb_fb_root(const nnb_fb_t *fb, nnb_fbt_t *t) {
    if (fb->n < 8u) return fb_bad(fb, "buffer too short", fb->n);
    return nnb_fb_table_at(fb, nnb_rd_u32(fb->b), t);
}

int nnb_fb_field(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, unsigned size,
                 uint32_t *pos) {
    uint32_t slot = 4u + 2u * id;
    uint32_t off;
    *pos = 0;
    if (slot + 2u > t->vtsize) return 0; /* field newer than this table: absent */
    off = nnb_rd_u16(fb->b + t->vt + slot);
    if (off == 0) return 0;
    if (off < 4u || off + size > t->tsize) return fb_bad(fb, "field outside its table", t->pos);
    *pos = t->pos + off;
    return 0;
}

int nnb_fb_u8(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, uint8_t def, uint8_t *out) {
    uint32_t p;
    if (nnb_fb_field(fb, t, id, 1, &p)) return -1;
    *out = p ? fb->b[p] : def;
    return 0;
}

int nnb_fb_i32(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, int32_t def, int32_t *out) {
    uint32_t p;
    if (nnb_fb_field(fb, t, id, 4, &p)) return -1;
    *out = p ? nnb_rd_i32(fb->b + p) : def;
    return 0;
}

int nnb_fb_u32(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, uint32_t def, uint32_t *out) {
    uint32_t p;
    if (nnb_fb_field(fb, t, id, 4, &p)) return -1;
    *out = p ? nnb_rd_u32(fb->b + p) : def;
    return 0;
}

int nnb_fb_f32(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, float def, float *out) {
    uint32_t p;
    if (nnb_fb_field(fb, t, id, 4, &p)) return -1;
    *out = p ? nnb_rd_f32(fb->b + p) : def;
    return 0;
}

int nnb_fb_u64(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, uint64_t *out) {
    uint32_t p;
    if (nnb_fb_field(fb, t, id, 8, &p)) return -1;
    *out = p ? (uint64_t)nnb_rd_i64(fb->b + p) : 0u;
    return 0;
}

/* Follows the uoffset stored at field position p. */
static int fb_follow(const nnb_fb_t *fb, uint32_t p, uint32_t *target) {
    uint64_t tg = (uint64_t)p + nnb_rd_u32(fb->b + p);
    if (tg + 4u > fb->n) return fb_bad(fb, "offset out of bounds", p);
    *target = (uint32_t)tg;
    return 0;
}

int nnb_fb_vec(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, unsigned elem_size,
               nnb_fbv_t *v) {
    uint32_t p, tg, n;
    v->pos = 0;
    v->n = 0;
    if (nnb_fb_field(fb, t, id, 4, &p)) return -1;
    if (!p) return 0;
    if (fb_follow(fb, p, &tg)) return -1;
    n = nnb_rd_u32(fb->b + tg);
    if ((uint64_t)n * elem_size > (uint64_t)fb->n - tg - 4u)
        return fb_bad(fb, "vector longer than the buffer", tg);
    v->pos = tg + 4u;
    v->n = n;
    return 0;
}

int nnb_fb_table(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, nnb_fbt_t *sub,
                 int *present) {
    uint32_t p, tg;
    *present = 0;
    if (nnb_fb_field(fb, t, id, 4, &p)) return -1;
    if (!p) return 0;
    if (fb_follow(fb, p, &tg)) return -1;
    if (nnb_fb_table_at(fb, tg, sub)) return -1;
    *present = 1;
    return 0;
}

int nnb_fb_vec_table(const nnb_fb_t *fb, const nnb_fbv_t *v, uint32_t i, nnb_fbt_t *t) {
    uint32_t p = v->pos + 4u * i, tg;
    if (i >= v->n) return fb_bad(fb, "vector index out of range", v->pos);
    if (fb_follow(fb, p, &tg)) return -1;
    return nnb_fb_table_at(fb, tg, t);
}
