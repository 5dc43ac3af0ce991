/* The licence-plate reader's stages (header-only, deterministic arithmetic, so the EVP modules
 * of guests/src/evp/plate_*.c, the reactor guest guests/src/plates.c and a native build of the
 * same code give bit-identical results).
 *
 * Stages: locate the plate in a grayscale frame (largest bright connected region of plate
 * shape) -> crop it -> segment the characters (dark connected regions of character shape
 * inside the crop) -> normalise each to PLATES_CHAR x PLATES_CHAR int8 (ink +127, paper -128)
 * -> the OCR model scores each -> assemble the string under the plate format.
 * Integer arithmetic, plus IEEE double (+ - * / only) in Otsu's threshold: deterministic on
 * every engine, soft-float included.
 *
 * Messages between the stages start with `plates_hdr` (frame id and per-stage times). */
#ifndef PLATES_H
#define PLATES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PLATES_CHAR 16 /* the OCR model's input is PLATES_CHAR x PLATES_CHAR x 1 int8 */
#define PLATES_CHAR_BYTES (PLATES_CHAR * PLATES_CHAR)
#define PLATES_MAX_CHARS 12
#define PLATES_MAX_RUNS 2048
#define PLATES_MAX_COMPS 256
#define PLATES_MAX_SIDE 1024     /* frames up to 1024 x 1024 */
#define PLATES_STAGES 5          /* locate, crop, segment, ocr, assemble */
#define PLATES_MAGIC 0x31544c50u /* "PLT1" */

/* The OCR model's classes, in output order (no I, O, Q: plates avoid them). */
static const char plates_alphabet[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
#define PLATES_CLASSES 33
#define PLATES_DIGITS 10

typedef struct {
    int32_t x, y, w, h;
} plates_box;

typedef struct {
    uint32_t magic;
    uint32_t frame;
    uint32_t stage_us[PLATES_STAGES];
} plates_hdr;

typedef struct {
    int16_t y, x0, x1; /* inclusive span on row y */
    int16_t parent;    /* union-find over runs (always a lower index) */
    int16_t label;     /* component index */
} plates_run;

typedef struct {
    int32_t x0, y0, x1, y1; /* inclusive bounding box */
    int32_t area;
} plates_comp;

/* Scratch space of the stages (~25 KB): on the heap in the guests (their stack is small and
 * their initial memory 64 KiB). */
typedef struct {
    plates_run runs[PLATES_MAX_RUNS];
    plates_comp comps[PLATES_MAX_COMPS];
} plates_scratch;

/* --- frames ------------------------------------------------------------------------------ */

static inline int plates_pgm_int(const uint8_t *b, size_t len, size_t *pos, int32_t *out) {
    for (;;) { /* whitespace and comments */
        if (*pos >= len) return -1;
        if (b[*pos] == '#') {
            while (*pos < len && b[*pos] != '\n')
                (*pos)++;
        } else if (b[*pos] == ' ' || b[*pos] == '\n' || b[*pos] == '\r' || b[*pos] == '\t') {
            (*pos)++;
        } else {
            break;
        }
    }
    int32_t v = 0;
    int digits = 0;
    while (*pos < len && b[*pos] >= '0' && b[*pos] <= '9' && digits < 7) {
        v = v * 10 + (b[*pos] - '0');
        (*pos)++;
        digits++;
    }
    if (digits == 0) return -1;
    *out = v;
    return 0;
}

/* A binary PGM (P5, maxval 255): the pixels, or NULL when `b` is not one. */
static inline const uint8_t *plates_parse_pgm(const uint8_t *b, size_t len, int32_t *w,
                                              int32_t *h) {
    size_t pos = 2;
    int32_t maxval;
    if (len < 2 || b[0] != 'P' || b[1] != '5') return NULL;
    if (plates_pgm_int(b, len, &pos, w) || plates_pgm_int(b, len, &pos, h) ||
        plates_pgm_int(b, len, &pos, &maxval))
        return NULL;
    pos++; /* one whitespace byte */
    if (maxval != 255 || *w < 8 || *h < 8 || *w > PLATES_MAX_SIDE || *h > PLATES_MAX_SIDE)
        return NULL;
    if (pos > len || len - pos < (size_t)*w * (size_t)*h) return NULL;
    return b + pos;
}

/* --- thresholds and connected components ---------------------------------------------------- */

/* Otsu's threshold over a region: pixels <= t are dark. */
static inline int32_t plates_otsu(const uint8_t *px, int32_t stride, plates_box r) {
    uint32_t hist[256] = {0};
    for (int32_t y = r.y; y < r.y + r.h; y++) {
        for (int32_t x = r.x; x < r.x + r.w; x++)
            hist[px[y * stride + x]]++;
    }
    uint64_t total = (uint64_t)r.w * (uint64_t)r.h, sum = 0;
    for (uint32_t i = 0; i < 256; i++)
        sum += (uint64_t)i * hist[i];
    uint64_t w0 = 0, sum0 = 0;
    double best_var = -1.0;
    int32_t best = 127;
    for (int32_t t = 0; t < 255; t++) {
        w0 += hist[t];
        sum0 += (uint64_t)t * hist[t];
        if (w0 == 0) continue;
        uint64_t w1 = total - w0;
        if (w1 == 0) break;
        /* between-class variance times total^2 */
        double d = (double)sum0 * (double)total - (double)sum * (double)w0;
        double var = d * d / ((double)w0 * (double)w1);
        if (var > best_var) {
            best_var = var;
            best = t;
        }
    }
    return best;
}

static inline int32_t plates_find(plates_run *runs, int32_t i) {
    while (runs[i].parent != i) {
        runs[i].parent = runs[runs[i].parent].parent;
        i = runs[i].parent;
    }
    return i;
}

/* 4-connected components of the pixels of `r` that are dark (<= thr) when `dark`, else bright
 * (> thr). Coordinates in the result are relative to `r`. Returns the number of components, or
 * -1 when there are more runs or components than the scratch space holds. */
static inline int32_t plates_components(const uint8_t *px, int32_t stride, plates_box r,
                                        int32_t thr, int dark, plates_scratch *s) {
    plates_run *runs = s->runs;
    int32_t n = 0, prev_start = 0, prev_end = 0;
    for (int32_t y = 0; y < r.h; y++) {
        const uint8_t *row = px + (r.y + y) * stride + r.x;
        int32_t row_start = n;
        for (int32_t x = 0; x < r.w;) {
            int in = dark ? row[x] <= thr : row[x] > thr;
            if (!in) {
                x++;
                continue;
            }
            int32_t x0 = x;
            while (x < r.w && (dark ? row[x] <= thr : row[x] > thr))
                x++;
            if (n >= PLATES_MAX_RUNS) return -1;
            runs[n].y = (int16_t)y;
            runs[n].x0 = (int16_t)x0;
            runs[n].x1 = (int16_t)(x - 1);
            runs[n].parent = (int16_t)n;
            for (int32_t p = prev_start; p < prev_end; p++) {
                if (runs[p].x0 <= runs[n].x1 && x0 <= runs[p].x1) {
                    int32_t a = plates_find(runs, p), b = plates_find(runs, n);
                    if (a != b) runs[a > b ? a : b].parent = (int16_t)(a < b ? a : b);
                }
            }
            n++;
        }
        prev_start = row_start;
        prev_end = n;
    }
    /* A parent always has a lower index than its child, so one pass in index order labels every
     * run with its root's component. */
    int32_t ncomp = 0;
    for (int32_t i = 0; i < n; i++) {
        plates_comp *c;
        if (runs[i].parent == i) {
            if (ncomp >= PLATES_MAX_COMPS) return -1;
            runs[i].label = (int16_t)ncomp;
            c = &s->comps[ncomp++];
            c->x0 = runs[i].x0, c->x1 = runs[i].x1, c->y0 = c->y1 = runs[i].y;
            c->area = 0;
        } else {
            runs[i].label = runs[runs[i].parent].label;
            c = &s->comps[runs[i].label];
            if (runs[i].x0 < c->x0) c->x0 = runs[i].x0;
            if (runs[i].x1 > c->x1) c->x1 = runs[i].x1;
            if (runs[i].y > c->y1) c->y1 = runs[i].y;
        }
        c->area += runs[i].x1 - runs[i].x0 + 1;
    }
    return ncomp;
}

/* --- stage 1: locate ---------------------------------------------------------------------- */

/* The plate: the largest bright component whose box is 2-8 times wider than high and covers at
 * least 1/64 of the frame. Returns 0 and the box in frame coordinates, or -1. */
static inline int plates_locate(const uint8_t *px, int32_t w, int32_t h, plates_scratch *s,
                                plates_box *out) {
    plates_box all = {0, 0, w, h};
    int32_t thr = plates_otsu(px, w, all);
    int32_t n = plates_components(px, w, all, thr, 0, s);
    int32_t best = -1, best_area = (w * h) / 64;
    for (int32_t i = 0; i < n; i++) {
        const plates_comp *c = &s->comps[i];
        int32_t bw = c->x1 - c->x0 + 1, bh = c->y1 - c->y0 + 1;
        if (bw < 2 * bh || bw > 8 * bh) continue;
        if (bw * bh > best_area) {
            best_area = bw * bh;
            best = i;
        }
    }
    if (best < 0) return -1;
    const plates_comp *c = &s->comps[best];
    out->x = c->x0, out->y = c->y0, out->w = c->x1 - c->x0 + 1, out->h = c->y1 - c->y0 + 1;
    return 0;
}

/* --- stage 2: crop ------------------------------------------------------------------------ */

static inline void plates_crop(const uint8_t *px, int32_t stride, plates_box b, uint8_t *out) {
    for (int32_t y = 0; y < b.h; y++)
        memcpy(out + y * b.w, px + (b.y + y) * stride + b.x, b.w);
}

/* --- stage 3: segment --------------------------------------------------------------------- */

/* Scales the character box `c` of the crop into PLATES_CHAR x PLATES_CHAR (aspect kept,
 * centred, area average), ink +127 and paper -128 after stretching the box's contrast. */
static inline void plates_normalise(const uint8_t *px, int32_t stride, const plates_comp *c,
                                    int8_t *out) {
    int32_t cw = c->x1 - c->x0 + 1, ch = c->y1 - c->y0 + 1;
    int32_t side = (cw > ch ? cw : ch) + 2; /* one pixel of paper around the taller side */
    int32_t ox = c->x0 - (side - cw) / 2, oy = c->y0 - (side - ch) / 2;
    int32_t lo = 255, hi = 0;
    for (int32_t y = c->y0; y <= c->y1; y++) {
        for (int32_t x = c->x0; x <= c->x1; x++) {
            int32_t v = px[y * stride + x];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    int32_t range = hi - lo > 0 ? hi - lo : 1;
    for (int32_t gy = 0; gy < PLATES_CHAR; gy++) {
        int32_t ya = gy * side / PLATES_CHAR, yb = (gy + 1) * side / PLATES_CHAR;
        if (yb <= ya) yb = ya + 1;
        for (int32_t gx = 0; gx < PLATES_CHAR; gx++) {
            int32_t xa = gx * side / PLATES_CHAR, xb = (gx + 1) * side / PLATES_CHAR;
            if (xb <= xa) xb = xa + 1;
            int32_t sum = 0, cnt = 0;
            for (int32_t y = oy + ya; y < oy + yb; y++) {
                for (int32_t x = ox + xa; x < ox + xb; x++) {
                    int inside = x >= c->x0 && x <= c->x1 && y >= c->y0 && y <= c->y1;
                    sum += inside ? px[y * stride + x] : hi;
                    cnt++;
                }
            }
            int32_t v = (hi - (sum + cnt / 2) / cnt) * 255 / range; /* ink high */
            if (v < 0) v = 0;
            if (v > 255) v = 255;
            out[gy * PLATES_CHAR + gx] = (int8_t)(v - 128);
        }
    }
}

/* Whether two character candidates look like neighbours on one line: heights within 20 %,
 * vertical centres within half a height. */
static inline int plates_same_line(const plates_comp *a, const plates_comp *b) {
    int32_t ha = a->y1 - a->y0 + 1, hb = b->y1 - b->y0 + 1;
    int32_t dh = ha > hb ? ha - hb : hb - ha;
    int32_t dc = (a->y0 + a->y1) - (b->y0 + b->y1); /* twice the centre distance */
    if (dc < 0) dc = -dc;
    return dh * 5 <= ha && dc <= ha;
}

/* Character boxes of a plate crop, left to right: dark components not touching the crop's
 * edge, at least 1/5 of its height and at most 5/4 as wide as high; of those, the largest
 * group on one line (plates_same_line with one member). Writes up to PLATES_MAX_CHARS
 * normalised characters to `chars`; returns how many (or -1 when the scratch overflowed). */
static inline int32_t plates_segment(const uint8_t *px, int32_t w, int32_t h, plates_scratch *s,
                                     int8_t *chars, plates_box *boxes) {
    plates_box all = {0, 0, w, h};
    int32_t thr = plates_otsu(px, w, all);
    int32_t n = plates_components(px, w, all, thr, 1, s);
    if (n < 0) return -1;
    int32_t m = 0; /* candidates are moved to the front of comps */
    for (int32_t i = 0; i < n; i++) {
        plates_comp c = s->comps[i];
        int32_t bw = c.x1 - c.x0 + 1, bh = c.y1 - c.y0 + 1;
        if (c.x0 == 0 || c.y0 == 0 || c.x1 == w - 1 || c.y1 == h - 1) continue;
        if (bh < 6 || bh * 5 < h || bw * 4 > bh * 5) continue;
        s->comps[m++] = c;
    }
    int32_t best = -1, best_count = 0;
    for (int32_t i = 0; i < m; i++) {
        int32_t count = 0;
        for (int32_t j = 0; j < m; j++)
            count += plates_same_line(&s->comps[i], &s->comps[j]);
        int32_t hi = s->comps[i].y1 - s->comps[i].y0;
        if (count > best_count ||
            (count == best_count && hi > s->comps[best].y1 - s->comps[best].y0)) {
            best = i;
            best_count = count;
        }
    }
    int32_t idx[PLATES_MAX_CHARS];
    int32_t found = 0;
    for (int32_t i = 0; i < m && best >= 0; i++) {
        const plates_comp *c = &s->comps[i];
        if (!plates_same_line(&s->comps[best], c)) continue;
        if (found == PLATES_MAX_CHARS) break;
        int32_t j = found++; /* insertion by x0 */
        while (j > 0 && s->comps[idx[j - 1]].x0 > c->x0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    for (int32_t k = 0; k < found; k++) {
        const plates_comp *c = &s->comps[idx[k]];
        plates_normalise(px, w, c, chars + k * PLATES_CHAR_BYTES);
        if (boxes) {
            boxes[k].x = c->x0, boxes[k].y = c->y0;
            boxes[k].w = c->x1 - c->x0 + 1, boxes[k].h = c->y1 - c->y0 + 1;
        }
    }
    return found;
}

/* --- stage 5: assemble -------------------------------------------------------------------- */

/* The string from `n` rows of PLATES_CLASSES int8 scores. When `format` (L letter, D digit,
 * anything else either) has n characters, each position's best class of its kind is taken;
 * otherwise the best class overall. Writes n characters and a NUL to `out`. */
static inline void plates_assemble(const int8_t *scores, int32_t n, const char *format, char *out) {
    int constrained = format != NULL && (int32_t)strlen(format) == n;
    for (int32_t k = 0; k < n; k++) {
        const int8_t *row = scores + k * PLATES_CLASSES;
        int32_t lo = 0, hi = PLATES_CLASSES;
        if (constrained && format[k] == 'D') hi = PLATES_DIGITS;
        if (constrained && format[k] == 'L') lo = PLATES_DIGITS;
        int32_t best = lo;
        for (int32_t i = lo + 1; i < hi; i++) {
            if (row[i] > row[best]) best = i;
        }
        out[k] = plates_alphabet[best];
    }
    out[n] = 0;
}

#endif
