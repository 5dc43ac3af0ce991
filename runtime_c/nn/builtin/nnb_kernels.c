/* int8 kernels with TFLM reference numerics.
 *
 * Convolutions sum w * (x + input_offset) over the filter taps that fall inside the input
 * (TFLM's zero padding), then add the bias read in place from the model and requantize with
 * TFLM's double-rounding MultiplyByQuantizedMultiplier. Tap ranges are clipped once per output
 * pixel, so the inner loops are branch-free runs over contiguous memory (channels innermost)
 * that compilers vectorize. No allocation; stack use is a block of NNB_CBLOCK int32. */
#include "nnb_internal.h"

#define NNB_CBLOCK 32

static inline int8_t requant(int32_t acc, int32_t mult, int shift, int32_t off, int32_t lo,
                             int32_t hi) {
    int32_t v = nnb_mbqm(acc, mult, shift) + off;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

/* Bias of output channel oc, read in place from the model (any alignment). */
static inline int32_t bias_at(const nnb_op_t *op, int32_t oc) {
    if (!op->bias_raw) return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    {
        int32_t v;
        memcpy(&v, op->bias_raw + 4u * (uint32_t)oc, sizeof v);
        return v;
    }
#else
    return nnb_rd_i32(op->bias_raw + 4u * (uint32_t)oc);
#endif
}

/* acc + bias, requantized with output channel oc's multiplier (per-channel or per-tensor) */
static inline int8_t finish(const nnb_op_t *op, int32_t acc, int32_t oc) {
    const int32_t q = oc * op->per_ch;
    return requant(nnb_add_wrap(acc, bias_at(op, oc)), op->mult[q], op->shift[q], op->out_off,
                   op->act_min, op->act_max);
}

/* a[r] += sum over n of w_r[j] * (x[j] + off), for four weight rows */
static inline void dot4(const int8_t *x, int32_t off, const int8_t *w0, const int8_t *w1,
                        const int8_t *w2, const int8_t *w3, int32_t n, int32_t *a) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, j;
    for (j = 0; j < n; ++j) {
        const int16_t v = (int16_t)(x[j] + off);
        a0 += w0[j] * v;
        a1 += w1[j] * v;
        a2 += w2[j] * v;
        a3 += w3[j] * v;
    }
    a[0] += a0;
    a[1] += a1;
    a[2] += a2;
    a[3] += a3;
}

static inline int32_t dot1(const int8_t *x, int32_t off, const int8_t *w, int32_t n) {
    int32_t a = 0, j;
    for (j = 0; j < n; ++j)
        a += w[j] * (int16_t)(x[j] + off);
    return a;
}

/* Valid filter taps [lo, hi) along one axis: 0 <= origin + k * dil < size. */
static inline void tap_range(int32_t origin, int32_t k, int32_t dil, int32_t size, int32_t *lo,
                             int32_t *hi) {
    int32_t l = origin >= 0 ? 0 : (-origin + dil - 1) / dil;
    int32_t h = size - 1 - origin < 0 ? 0 : (size - 1 - origin) / dil + 1;
    if (h > k) h = k;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* TFLM's loop over every tap with a bounds check (groups, width dilation). */
static void conv_pixel_generic(const nnb_op_t *op, const int8_t *xb, int32_t iy0, int32_t ix0,
                               int8_t *o) {
    const int32_t C = op->in_c, KC = op->k_c, KH = op->k_h, KW = op->k_w;
    const int32_t groups = C / KC, fpg = op->out_c / groups;
    int32_t oc;
    for (oc = 0; oc < op->out_c; ++oc) {
        const int32_t g = oc / fpg;
        const int8_t *wo = op->w + (size_t)oc * (size_t)(KH * KW * KC);
        int32_t acc = 0, fy, fx;
        for (fy = 0; fy < KH; ++fy) {
            const int32_t iy = iy0 + fy * op->dil_h;
            if (iy < 0 || iy >= op->in_h) continue;
            for (fx = 0; fx < KW; ++fx) {
                const int32_t ix = ix0 + fx * op->dil_w;
                if (ix < 0 || ix >= op->in_w) continue;
                acc += dot1(xb + ((size_t)iy * (size_t)op->in_w + (size_t)ix) * (size_t)C +
                                (size_t)(g * KC),
                            op->in_off, wo + (size_t)(fy * KW + fx) * (size_t)KC, KC);
            }
        }
        o[oc] = finish(op, acc, oc);
    }
}

void nnb_k_conv(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t H = op->in_h, W = op->in_w, C = op->in_c, OC = op->out_c;
    const int32_t KH = op->k_h, KW = op->k_w, off = op->in_off;
    const int32_t K = KH * KW * op->k_c;
    const int fast = (op->k_c == C && op->dil_w == 1);
    const size_t row = (size_t)KW * (size_t)C;
    int32_t b, oy, ox;
    for (b = 0; b < op->batches; ++b) {
        const int8_t *xb = in + (size_t)b * (size_t)H * (size_t)W * (size_t)C;
        for (oy = 0; oy < op->out_h; ++oy) {
            const int32_t iy0 = oy * op->stride_h - op->pad_h;
            int32_t fy0, fy1;
            tap_range(iy0, KH, op->dil_h, H, &fy0, &fy1);
            for (ox = 0; ox < op->out_w; ++ox) {
                const int32_t ix0 = ox * op->stride_w - op->pad_w;
                int8_t *o =
                    out + (((size_t)b * (size_t)op->out_h + (size_t)oy) * (size_t)op->out_w +
                           (size_t)ox) *
                              (size_t)OC;
                int32_t fx0, fx1, seg, oc, fy;
                size_t woff;
                if (!fast) {
                    conv_pixel_generic(op, xb, iy0, ix0, o);
                    continue;
                }
                tap_range(ix0, KW, 1, W, &fx0, &fx1);
                seg = (fx1 - fx0) * C; /* contiguous valid part of each filter row */
                woff = (size_t)fx0 * (size_t)C;
                for (oc = 0; oc + 4 <= OC; oc += 4) {
                    const int8_t *w0 = op->w + (size_t)oc * (size_t)K + woff;
                    int32_t a[4] = {0, 0, 0, 0}, k;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *xr = xb + ((size_t)(iy0 + fy * op->dil_h) * (size_t)W +
                                                 (size_t)(ix0 + fx0)) *
                                                    (size_t)C;
                        const int8_t *wr = w0 + (size_t)fy * row;
                        dot4(xr, off, wr, wr + K, wr + 2 * K, wr + 3 * K, seg, a);
                    }
                    for (k = 0; k < 4; ++k)
                        o[oc + k] = finish(op, a[k], oc + k);
                }
                for (; oc < OC; ++oc) {
                    const int8_t *w0 = op->w + (size_t)oc * (size_t)K + woff;
                    int32_t a = 0;
                    for (fy = fy0; fy < fy1; ++fy)
                        a += dot1(xb + ((size_t)(iy0 + fy * op->dil_h) * (size_t)W +
                                        (size_t)(ix0 + fx0)) *
                                           (size_t)C,
                                  off, w0 + (size_t)fy * row, seg);
                    o[oc] = finish(op, a, oc);
                }
            }
        }
    }
}

/* 1x1 convolution, stride 1, no padding: a (pixels x C) by (C x OC) matrix product. */
void nnb_k_conv_1x1(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t C = op->in_c, OC = op->out_c, off = op->in_off;
    const int32_t P = op->batches * op->in_h * op->in_w;
    int32_t p;
    for (p = 0; p < P; ++p) {
        const int8_t *x = in + (size_t)p * (size_t)C;
        int8_t *o = out + (size_t)p * (size_t)OC;
        int32_t oc, k;
        for (oc = 0; oc + 4 <= OC; oc += 4) {
            const int8_t *w0 = op->w + (size_t)oc * (size_t)C;
            int32_t a[4] = {0, 0, 0, 0};
            dot4(x, off, w0, w0 + C, w0 + 2 * C, w0 + 3 * C, C, a);
            for (k = 0; k < 4; ++k)
                o[oc + k] = finish(op, a[k], oc + k);
        }
        for (; oc < OC; ++oc)
            o[oc] = finish(op, dot1(x, off, op->w + (size_t)oc * (size_t)C, C), oc);
    }
}

static void dw_pixel_generic(const nnb_op_t *op, const int8_t *xb, int32_t iy0, int32_t ix0,
                             int8_t *o) {
    const int32_t C = op->in_c, OC = op->out_c, DM = op->depth_mult;
    int32_t ic, mm;
    for (ic = 0; ic < C; ++ic) {
        for (mm = 0; mm < DM; ++mm) {
            const int32_t oc = ic * DM + mm;
            int32_t acc = 0, fy, fx;
            for (fy = 0; fy < op->k_h; ++fy) {
                const int32_t iy = iy0 + fy * op->dil_h;
                if (iy < 0 || iy >= op->in_h) continue;
                for (fx = 0; fx < op->k_w; ++fx) {
                    const int32_t ix = ix0 + fx * op->dil_w;
                    if (ix < 0 || ix >= op->in_w) continue;
                    acc +=
                        op->w[(size_t)(fy * op->k_w + fx) * (size_t)OC + (size_t)oc] *
                        (xb[((size_t)iy * (size_t)op->in_w + (size_t)ix) * (size_t)C + (size_t)ic] +
                         op->in_off);
                }
            }
            o[oc] = finish(op, acc, oc);
        }
    }
}

void nnb_k_dwconv(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t H = op->in_h, W = op->in_w, C = op->in_c, OC = op->out_c;
    const int32_t KH = op->k_h, KW = op->k_w, off = op->in_off;
    int32_t b, oy, ox;
    for (b = 0; b < op->batches; ++b) {
        const int8_t *xb = in + (size_t)b * (size_t)H * (size_t)W * (size_t)C;
        for (oy = 0; oy < op->out_h; ++oy) {
            const int32_t iy0 = oy * op->stride_h - op->pad_h;
            int32_t fy0, fy1;
            tap_range(iy0, KH, op->dil_h, H, &fy0, &fy1);
            for (ox = 0; ox < op->out_w; ++ox) {
                const int32_t ix0 = ox * op->stride_w - op->pad_w;
                int8_t *o =
                    out + (((size_t)b * (size_t)op->out_h + (size_t)oy) * (size_t)op->out_w +
                           (size_t)ox) *
                              (size_t)OC;
                int32_t c0, fx0, fx1;
                if (op->depth_mult != 1) {
                    dw_pixel_generic(op, xb, iy0, ix0, o);
                    continue;
                }
                tap_range(ix0, KW, op->dil_w, W, &fx0, &fx1);
                for (c0 = 0; c0 < C; c0 += NNB_CBLOCK) {
                    const int32_t nb = C - c0 < NNB_CBLOCK ? C - c0 : NNB_CBLOCK;
                    int32_t acc[NNB_CBLOCK], j, fy, fx;
                    for (j = 0; j < nb; ++j)
                        acc[j] = 0;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *xr =
                            xb + ((size_t)(iy0 + fy * op->dil_h) * (size_t)W) * (size_t)C +
                            (size_t)c0;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int8_t *xp = xr + (size_t)(ix0 + fx * op->dil_w) * (size_t)C;
                            const int8_t *wp =
                                op->w + (size_t)(fy * KW + fx) * (size_t)OC + (size_t)c0;
                            for (j = 0; j < nb; ++j)
                                acc[j] += wp[j] * (int16_t)(xp[j] + off);
                        }
                    }
                    for (j = 0; j < nb; ++j)
                        o[c0 + j] = finish(op, acc[j], c0 + j);
                }
            }
        }
    }
}

void nnb_k_fc(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t D = op->in_c, OC = op->out_c, off = op->in_off;
    int32_t b;
    for (b = 0; b < op->batches; ++b) {
        const int8_t *x = in + (size_t)b * (size_t)D;
        int8_t *o = out + (size_t)b * (size_t)OC;
        int32_t oc, k;
        for (oc = 0; oc + 4 <= OC; oc += 4) {
            const int8_t *w0 = op->w + (size_t)oc * (size_t)D;
            int32_t a[4] = {0, 0, 0, 0};
            dot4(x, off, w0, w0 + D, w0 + 2 * D, w0 + 3 * D, D, a);
            for (k = 0; k < 4; ++k)
                o[oc + k] = finish(op, a[k], oc + k);
        }
        for (; oc < OC; ++oc)
            o[oc] = finish(op, dot1(x, off, op->w + (size_t)oc * (size_t)D, D), oc);
    }
}

static void pool(const nnb_op_t *op, int max) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t H = op->in_h, W = op->in_w, C = op->in_c;
    int32_t b, oy, ox;
    for (b = 0; b < op->batches; ++b) {
        for (oy = 0; oy < op->out_h; ++oy) {
            const int32_t iy0 = oy * op->stride_h - op->pad_h;
            const int32_t fy0 = iy0 < 0 ? -iy0 : 0;
            const int32_t fy1 = op->k_h < H - iy0 ? op->k_h : H - iy0;
            for (ox = 0; ox < op->out_w; ++ox) {
                const int32_t ix0 = ox * op->stride_w - op->pad_w;
                const int32_t fx0 = ix0 < 0 ? -ix0 : 0;
                const int32_t fx1 = op->k_w < W - ix0 ? op->k_w : W - ix0;
                const int32_t cnt = (fy1 - fy0) * (fx1 - fx0);
                int8_t *o =
                    out + (((size_t)b * (size_t)op->out_h + (size_t)oy) * (size_t)op->out_w +
                           (size_t)ox) *
                              (size_t)C;
                int32_t c0;
                for (c0 = 0; c0 < C; c0 += NNB_CBLOCK) {
                    const int32_t nb = C - c0 < NNB_CBLOCK ? C - c0 : NNB_CBLOCK;
                    int32_t acc[NNB_CBLOCK], j, fy, fx;
                    for (j = 0; j < nb; ++j)
                        acc[j] = max ? -128 : 0;
                    for (fy = fy0; fy < fy1; ++fy) {
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int8_t *xp =
                                in +
                                (((size_t)b * (size_t)H + (size_t)(iy0 + fy)) * (size_t)W +
                                 (size_t)(ix0 + fx)) *
                                    (size_t)C +
                                (size_t)c0;
                            if (max) {
                                for (j = 0; j < nb; ++j)
                                    acc[j] = xp[j] > acc[j] ? xp[j] : acc[j];
                            } else {
                                for (j = 0; j < nb; ++j)
                                    acc[j] += xp[j];
                            }
                        }
                    }
                    for (j = 0; j < nb; ++j) {
                        int32_t v = acc[j];
                        if (!max && cnt > 0) v = v > 0 ? (v + cnt / 2) / cnt : (v - cnt / 2) / cnt;
                        v = v < op->act_min ? op->act_min : v;
                        v = v > op->act_max ? op->act_max : v;
                        o[c0 + j] = (int8_t)v;
                    }
                }
            }
        }
    }
}

void nnb_k_avgpool(const nnb_op_t *op) {
    pool(op, 0);
}
void nnb_k_maxpool(const nnb_op_t *op) {
    pool(op, 1);
}

static inline int8_t add1(int32_t x, int32_t y, const nnb_op_t *op) {
    const int32_t s1 = nnb_mbqm(nnb_shl_wrap(x + op->p[6], 20), op->p[0], op->p[1]);
    const int32_t s2 = nnb_mbqm(nnb_shl_wrap(y + op->p[7], 20), op->p[2], op->p[3]);
    int32_t v = nnb_mbqm(nnb_add_wrap(s1, s2), op->p[4], op->p[5]) + op->out_off;
    v = v < op->act_min ? op->act_min : v;
    v = v > op->act_max ? op->act_max : v;
    return (int8_t)v;
}

void nnb_k_add(const nnb_op_t *op) {
    const int8_t *a = (const int8_t *)op->in0;
    const int8_t *b = (const int8_t *)op->in1;
    int8_t *out = (int8_t *)op->out;
    uint32_t i;
    if (!op->bcast) {
        for (i = 0; i < op->n; ++i)
            out[i] = add1(a[i], b[i], op);
    } else {
        const int32_t *d = op->bshape, *sa = op->bshape + 4, *sb = op->bshape + 8;
        int32_t i0, i1, i2, i3;
        for (i0 = 0; i0 < d[0]; ++i0)
            for (i1 = 0; i1 < d[1]; ++i1)
                for (i2 = 0; i2 < d[2]; ++i2)
                    for (i3 = 0; i3 < d[3]; ++i3) {
                        const size_t ia =
                            (size_t)(i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3]);
                        const size_t ib =
                            (size_t)(i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3]);
                        *out++ = add1(a[ia], b[ib], op);
                    }
    }
}

static int clz32(uint32_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return x ? __builtin_clz(x) : 32;
#else
    int n = 0;
    if (!x) return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

void nnb_k_softmax(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t mult = op->p[0], ls = op->p[1], diff_min = op->p[2], depth = op->p[3];
    const uint32_t rows = op->n / (uint32_t)depth;
    uint32_t r;
    for (r = 0; r < rows; ++r) {
        const int8_t *x = in + (size_t)r * (size_t)depth;
        int8_t *y = out + (size_t)r * (size_t)depth;
        int32_t mx = -128, sum = 0, c, hr, nbits, shifted, exponent;
        for (c = 0; c < depth; ++c)
            mx = x[c] > mx ? x[c] : mx;
        for (c = 0; c < depth; ++c) {
            const int32_t diff = x[c] - mx;
            if (diff >= diff_min) {
                const int32_t rescaled = nnb_srdhm(nnb_shl_wrap(diff, ls), mult);
                sum = nnb_add_wrap(sum, nnb_rdbpot(nnb_exp_on_negative_values(rescaled, 5), 12));
            }
        }
        /* GetReciprocal(sum, 12) */
        hr = clz32((uint32_t)sum);
        nbits = 12 - hr;
        shifted = nnb_one_over_one_plus_x(
            (int32_t)((hr < 32 ? ((uint32_t)sum << hr) : 0u) - 0x80000000u));
        exponent = nbits + 31 - 8;
        exponent = exponent < 0 ? 0 : (exponent > 31 ? 31 : exponent);
        for (c = 0; c < depth; ++c) {
            const int32_t diff = x[c] - mx;
            if (diff >= diff_min) {
                const int32_t rescaled = nnb_srdhm(nnb_shl_wrap(diff, ls), mult);
                const int32_t e = nnb_exp_on_negative_values(rescaled, 5);
                int32_t v = nnb_rdbpot(nnb_srdhm(shifted, e), exponent) - 128;
                v = v < -128 ? -128 : (v > 127 ? 127 : v);
                y[c] = (int8_t)v;
            } else {
                y[c] = -128;
            }
        }
    }
}

void nnb_k_lut8(const nnb_op_t *op) {
    const uint8_t *in = (const uint8_t *)op->in0;
    uint8_t *out = (uint8_t *)op->out;
    const uint8_t *lut = op->lut;
    uint32_t i;
    for (i = 0; i < op->n; ++i)
        out[i] = lut[in[i]];
}

void nnb_k_quant_f32(const nnb_op_t *op) {
    const float *in = (const float *)op->in0;
    const int32_t lo = op->out_signed ? -128 : 0, hi = op->out_signed ? 127 : 255;
    uint32_t i;
    for (i = 0; i < op->n; ++i) {
        const float r = nnb_roundf(in[i] / op->fscale);
        /* out-of-range and NaN convert as x86 does (INT32_MIN), then + zero point (wrapping) */
        const int32_t q = (r >= -2147483648.0f && r < 2147483648.0f) ? (int32_t)r : INT32_MIN;
        int32_t v = nnb_add_wrap(q, op->out_off);
        v = v < lo ? lo : (v > hi ? hi : v);
        if (op->out_signed)
            ((int8_t *)op->out)[i] = (int8_t)v;
        else
            ((uint8_t *)op->out)[i] = (uint8_t)v;
    }
}

void nnb_k_dequant_f32(const nnb_op_t *op) {
    float *out = (float *)op->out;
    uint32_t i;
    /* scale * (q - zp): the double product of TFLM is exact, so one float rounding matches */
    for (i = 0; i < op->n; ++i) {
        const int32_t q =
            op->in_signed ? ((const int8_t *)op->in0)[i] : ((const uint8_t *)op->in0)[i];
        out[i] = op->fscale * (float)(q - op->in_off);
    }
}
