/* int8 kernels with TFLM reference numerics.
 *
 * Convolutions sum w * (x + input_offset) over the filter taps that fall inside the input
 * (TFLM's zero padding), then add the bias read in place from the model and requantize with
 * TFLM's double-rounding MultiplyByQuantizedMultiplier. Tap ranges are clipped once per output
 * pixel, so the inner loops are branch-free runs over contiguous memory (channels innermost)
 * that compilers vectorize. No allocation; stack use is a block of NNB_CBLOCK int32. */
#include "nnb_internal.h"

#define NNB_CBLOCK 32

/* Kernel shapes for targets with and without SIMD. NNB_SIMD: the compiler vectorizes loops
 * over contiguous channels, so depthwise convolutions run channels innermost and the
 * multiply-accumulate operands are 16-bit lanes. Without SIMD (rv32, Xtensa) depthwise runs
 * channels outermost with the taps in registers, and a narrowing cast would only cost
 * sign-extension instructions. -DNNB_SCALAR_KERNELS selects the scalar shapes on any host (the
 * tests run both against TFLM). The numerics are the same either way. */
#if !defined(NNB_SCALAR_KERNELS) && (defined(__SSE2__) || defined(__ARM_NEON) ||                   \
                                     defined(__ARM_NEON__) || defined(__wasm_simd128__))
#define NNB_SIMD 1
typedef int16_t nnb_mac_t; /* (x + input offset) is in [-255, 255] */
#else
#define NNB_SIMD 0
typedef int32_t nnb_mac_t;
#endif

/* Kept out of line: each loop then gets the registers to itself (and the caller's frame stays
 * small); called once per block of outputs. */
#if defined(__GNUC__)
#define NNB_NOINLINE __attribute__((noinline))
#else
#define NNB_NOINLINE
#endif

/* Unrolling of the scalar multiply-accumulate loops: the loads then use immediate offsets and
 * the pointers advance once per four steps (SIMD hosts vectorize these loops instead). */
#if !NNB_SIMD && defined(__clang__)
#define NNB_UNROLL4 _Pragma("unroll 4")
#elif !NNB_SIMD && defined(__GNUC__)
#define NNB_UNROLL4 _Pragma("GCC unroll 4")
#else
#define NNB_UNROLL4
#endif

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

/* One output channel's requantization, unpacked once per channel by the kernels that run
 * channels outermost (same arithmetic as finish()). Held in locals: the int8 stores of the
 * kernels may alias the operator record, so values read through `op` would be reloaded. */
typedef struct {
    int32_t bias, mult, left, right, out_off, lo, hi;
} rq_t;

static void rq_init(const nnb_op_t *op, int32_t oc, rq_t *q) {
    const int32_t i = oc * op->per_ch, s = op->shift[i];
    q->bias = bias_at(op, oc);
    q->mult = op->mult[i];
    q->left = s > 0 ? s : 0;
    q->right = s > 0 ? 0 : -s;
    q->out_off = op->out_off;
    q->lo = op->act_min;
    q->hi = op->act_max;
}

static inline int8_t rq_out(const rq_t *q, int32_t acc) {
    int32_t v = nnb_srdhm(nnb_shl_wrap(nnb_add_wrap(acc, q->bias), q->left), q->mult);
    v = nnb_rdbpot(v, q->right) + q->out_off;
    v = v < q->lo ? q->lo : v;
    v = v > q->hi ? q->hi : v;
    return (int8_t)v;
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

static int32_t wsum(const int8_t *w, size_t n) {
    int32_t a = 0;
    size_t j;
    for (j = 0; j < n; ++j)
        a += w[j];
    return a;
}

/* Convolution with the filter depth equal to the input depth and no width dilation; also the
 * 1x1 convolutions and FULLY_CONNECTED (a 1x1 convolution over `batches` pixels, geometry set
 * at prepare time). Output channels in blocks of 4 outermost: their requantization parameters
 * and weight rows stay put while the output pixels go by in pairs. The valid taps of a filter
 * row are one contiguous run of taps * C bytes in the input and in the filter, so a pair of
 * interior pixels is a 2x4 block of dot products over runs of equal length (6 loads feed 8
 * multiply-accumulates), on MCUs with the input offset folded out (sum of w * (x + off) = sum
 * of w * x + off * sum of w, each part and every partial sum within int32 for depths <= 65536);
 * pixels with clipped taps (SAME padding) run one at a time with the offset in the loop. A channel
 * tail (out_c % 4) recomputes the last channel in the unused lanes and does not store them. */
static void conv_gemm(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t H = op->in_h, W = op->in_w, C = op->in_c, OC = op->out_c;
    const int32_t KH = op->k_h, KW = op->k_w, OW = op->out_w, P = op->out_h * op->out_w;
    const int32_t off = op->in_off, dh = op->dil_h;
    /* the offset inside the pair loop: 0 when folded (MCUs); SIMD hosts keep it in the loop,
     * where (x + off) as a 16-bit lane is what their compilers turn into 16-bit multiplies */
    const int32_t poff = NNB_SIMD ? off : 0;
    const size_t K = (size_t)KH * (size_t)KW * (size_t)C, row = (size_t)KW * (size_t)C;
    const size_t xrow = (size_t)W * (size_t)C;
    const int32_t span_h = (KH - 1) * dh; /* last tap row, relative */
    int32_t b, oc0;
    for (b = 0; b < op->batches; ++b) {
        const int8_t *xb = in + (size_t)b * (size_t)H * xrow;
        int8_t *ob = out + (size_t)b * (size_t)P * (size_t)OC;
        for (oc0 = 0; oc0 < OC; oc0 += 4) {
            const int32_t nst = OC - oc0 < 4 ? OC - oc0 : 4;
            rq_t q[4];
            const int8_t *w0, *w1, *w2, *w3;
            int32_t k, p = 0, oy = 0, ox = 0, fold[4] = {0, 0, 0, 0};
            for (k = 0; k < 4; ++k)
                rq_init(op, oc0 + (k < nst ? k : nst - 1), &q[k]);
            w0 = op->w + (size_t)oc0 * K;
            w1 = nst > 1 ? w0 + K : w0;
            w2 = nst > 2 ? w1 + K : w1;
            w3 = nst > 3 ? w2 + K : w2;
            if (!NNB_SIMD && P > 1) { /* pairs fold the input offset: off * sum of w */
                fold[0] = off * wsum(w0, K);
                fold[1] = off * wsum(w1, K);
                fold[2] = off * wsum(w2, K);
                fold[3] = off * wsum(w3, K);
            }
            while (p < P) {
                const int32_t iy0 = oy * op->stride_h - op->pad_h;
                const int32_t ix0 = ox * op->stride_w - op->pad_w;
                /* the next pixel: to the right, or the first of the next row */
                const int32_t ix1 = ox + 1 < OW ? ix0 + op->stride_w : -op->pad_w;
                const int32_t iy1 = ox + 1 < OW ? iy0 : iy0 + op->stride_h;
                int8_t *o = ob + (size_t)p * (size_t)OC + (size_t)oc0;
                int32_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                const int in0 = iy0 >= 0 && iy0 + span_h < H && ix0 >= 0 && ix0 + KW <= W;
                const int in1 = iy1 >= 0 && iy1 + span_h < H && ix1 >= 0 && ix1 + KW <= W;
                if (p + 1 < P && in0 && in1) {
                    int32_t a0 = fold[0], a1 = fold[1], a2 = fold[2], a3 = fold[3], fy;
                    int32_t a4 = a0, a5 = a1, a6 = a2, a7 = a3;
                    for (fy = 0; fy < KH; ++fy) {
                        const int8_t *x0 =
                            xb + (size_t)(iy0 + fy * dh) * xrow + (size_t)ix0 * (size_t)C;
                        const int8_t *x1 =
                            xb + (size_t)(iy1 + fy * dh) * xrow + (size_t)ix1 * (size_t)C;
                        const size_t wo = (size_t)fy * row;
                        const int8_t *v0 = w0 + wo, *v1 = w1 + wo, *v2 = w2 + wo, *v3 = w3 + wo;
                        const int8_t *const e = x0 + row;
                        NNB_UNROLL4
                        while (x0 != e) {
                            const nnb_mac_t u = (nnb_mac_t)(*x0++ + poff);
                            const nnb_mac_t v = (nnb_mac_t)(*x1++ + poff);
                            nnb_mac_t t = *v0++;
                            a0 += t * u;
                            a4 += t * v;
                            t = *v1++;
                            a1 += t * u;
                            a5 += t * v;
                            t = *v2++;
                            a2 += t * u;
                            a6 += t * v;
                            t = *v3++;
                            a3 += t * u;
                            a7 += t * v;
                        }
                    }
                    acc[0] = a0;
                    acc[1] = a1;
                    acc[2] = a2;
                    acc[3] = a3;
                    acc[4] = a4;
                    acc[5] = a5;
                    acc[6] = a6;
                    acc[7] = a7;
                    for (k = 0; k < nst; ++k) {
                        o[k] = rq_out(&q[k], acc[k]);
                        o[(size_t)OC + (size_t)k] = rq_out(&q[k], acc[4 + k]);
                    }
                    p += 2;
                    ox += 2;
                } else {
                    int32_t fy0 = 0, fy1 = KH, fx0 = 0, fx1 = KW, fy;
                    size_t seg;
                    if (!in0) {
                        tap_range(iy0, KH, dh, H, &fy0, &fy1);
                        tap_range(ix0, KW, 1, W, &fx0, &fx1);
                    }
                    seg = (size_t)(fx1 - fx0) * (size_t)C;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x0 =
                            xb + (size_t)(iy0 + fy * dh) * xrow + (size_t)(ix0 + fx0) * (size_t)C;
                        const size_t wo = (size_t)fy * row + (size_t)fx0 * (size_t)C;
                        const int8_t *v0 = w0 + wo, *v1 = w1 + wo, *v2 = w2 + wo, *v3 = w3 + wo;
                        const int8_t *const e = x0 + seg;
                        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                        NNB_UNROLL4
                        while (x0 != e) {
                            const nnb_mac_t u = (nnb_mac_t)(*x0++ + off);
                            a0 += *v0++ * u;
                            a1 += *v1++ * u;
                            a2 += *v2++ * u;
                            a3 += *v3++ * u;
                        }
                        acc[0] += a0;
                        acc[1] += a1;
                        acc[2] += a2;
                        acc[3] += a3;
                    }
                    for (k = 0; k < nst; ++k)
                        o[k] = rq_out(&q[k], acc[k]);
                    p += 1;
                    ox += 1;
                }
                while (ox >= OW) {
                    ox -= OW;
                    ++oy;
                }
            }
        }
    }
}

void nnb_k_conv(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t H = op->in_h, W = op->in_w, C = op->in_c, OC = op->out_c;
    int32_t b, oy, ox;
    if (op->k_c == C && op->dil_w == 1) {
        conv_gemm(op);
        return;
    }
    for (b = 0; b < op->batches; ++b) {
        const int8_t *xb = in + (size_t)b * (size_t)H * (size_t)W * (size_t)C;
        for (oy = 0; oy < op->out_h; ++oy)
            for (ox = 0; ox < op->out_w; ++ox)
                conv_pixel_generic(
                    op, xb, oy * op->stride_h - op->pad_h, ox * op->stride_w - op->pad_w,
                    out + (((size_t)b * (size_t)op->out_h + (size_t)oy) * (size_t)op->out_w +
                           (size_t)ox) *
                              (size_t)OC);
    }
}

void nnb_k_conv_1x1(const nnb_op_t *op) {
    conv_gemm(op);
}

#if NNB_SIMD
/* a[r] += sum over n of w_r[j] * (x[j] + off), for four weight rows (vectorized) */
static inline void dot4(const int8_t *x, int32_t off, const int8_t *w0, const int8_t *w1,
                        const int8_t *w2, const int8_t *w3, int32_t n, int32_t *a) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, j;
    for (j = 0; j < n; ++j) {
        const nnb_mac_t v = (nnb_mac_t)(x[j] + off);
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

/* FULLY_CONNECTED on SIMD hosts: one vectorized row product per four outputs, without the
 * per-block setup of conv_gemm (which dominates at one pixel). */
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
#else
void nnb_k_fc(const nnb_op_t *op) {
    conv_gemm(op);
}
#endif

#if NNB_SIMD
/* Depthwise convolution, depth multiplier 1, channels innermost in blocks of NNB_CBLOCK
 * accumulators (vectorized); taps clipped once per output pixel. */
static void dw_channels_inner(const nnb_op_t *op) {
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
                                acc[j] += wp[j] * (nnb_mac_t)(xp[j] + off);
                        }
                    }
                    for (j = 0; j < nb; ++j)
                        o[c0 + j] = finish(op, acc[j], c0 + j);
                }
            }
        }
    }
}
#endif

/* Requantizes n accumulators of one channel into o[0], o[step], ... */
static NNB_NOINLINE void rq_store(const rq_t *q, const int32_t *acc, int32_t n, int8_t *o,
                                  size_t step) {
    const rq_t r = *q;
    int32_t i;
    for (i = 0; i < n; ++i, o += step)
        *o = rq_out(&r, acc[i]);
}

/* One channel's 3x3 taps over n output pixels whose taps all lie inside the input: x is the
 * top-left tap of the first pixel, xstep the input step between pixels, C the channel stride,
 * xrow the row stride; acc[i] = folded + sum of k * x (folded = off * sum of k). */
static NNB_NOINLINE void dw3x3_run(const int8_t *x, size_t xstep, size_t C, size_t xrow,
                                   const int32_t *k, int32_t folded, int32_t n, int32_t *acc) {
    const int32_t k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6],
                  k7 = k[7], k8 = k[8];
    const size_t c2 = 2u * C;
    int32_t i;
    for (i = 0; i < n; ++i, x += xstep) {
        const int8_t *r1 = x + xrow, *r2 = r1 + xrow;
        acc[i] = folded + k0 * x[0] + k1 * x[C] + k2 * x[c2] + k3 * r1[0] + k4 * r1[C] +
                 k5 * r1[c2] + k6 * r2[0] + k7 * r2[C] + k8 * r2[c2];
    }
}

/* Depthwise convolution (any depth multiplier, stride, dilation), output channels outermost,
 * one output row at a time. For a 3x3 filter without dilation, the pixels of a row whose taps
 * all lie inside the input take the input offset out of the loop (sum of w * (x + off) = sum
 * of w * x + off * sum of w, exact in int32) and run the nine taps unrolled into a block of
 * accumulators, requantized in a second pass (each loop keeps its values in registers); other
 * pixels sum over their clipped tap ranges. */
void nnb_k_dwconv(const nnb_op_t *op) {
    const int8_t *in = (const int8_t *)op->in0;
    int8_t *out = (int8_t *)op->out;
    const int32_t H = op->in_h, W = op->in_w, C = op->in_c, OC = op->out_c, DM = op->depth_mult;
    const int32_t KH = op->k_h, KW = op->k_w, OH = op->out_h, OW = op->out_w, off = op->in_off;
    const int32_t dh = op->dil_h, dw = op->dil_w, sh = op->stride_h, sw = op->stride_w;
    const size_t xrow = (size_t)W * (size_t)C, t = (size_t)OC, ostep = (size_t)OC;
    const int k3 = KH == 3 && KW == 3 && dh == 1 && dw == 1;
    /* 3x3: output columns [ox_lo, ox_hi) have all three taps inside the row */
    const int32_t ox_lo = (op->pad_w + sw - 1) / sw;
    int32_t ox_hi = W - 3 + op->pad_w < 0 ? 0 : (W - 3 + op->pad_w) / sw + 1;
    int32_t b, oc;
#if NNB_SIMD
    if (DM == 1) {
        dw_channels_inner(op);
        return;
    }
#endif
    if (ox_hi > OW) ox_hi = OW;
    for (b = 0; b < op->batches; ++b) {
        const int8_t *xb = in + (size_t)b * (size_t)H * xrow;
        int8_t *ob = out + (size_t)b * (size_t)OH * (size_t)OW * (size_t)OC;
        for (oc = 0; oc < OC; ++oc) {
            const int8_t *wc = op->w + oc;
            const int8_t *xc = xb + oc / DM;
            int32_t k[9], folded = 0, oy, i;
            rq_t q;
            rq_init(op, oc, &q);
            if (k3) {
                for (i = 0; i < 9; ++i) {
                    k[i] = wc[(size_t)i * t];
                    folded += k[i];
                }
                folded *= off;
            }
            for (oy = 0; oy < OH; ++oy) {
                const int32_t iy0 = oy * sh - op->pad_h;
                int8_t *orow = ob + (size_t)oy * (size_t)OW * ostep + (size_t)oc;
                int32_t fy0, fy1, ox = 0;
                tap_range(iy0, KH, dh, H, &fy0, &fy1);
                while (ox < OW) {
                    const int32_t ix0 = ox * sw - op->pad_w;
                    int32_t acc[NNB_CBLOCK];
                    if (k3 && fy1 - fy0 == 3 && ox >= ox_lo && ox < ox_hi) {
                        const int32_t n = ox_hi - ox < NNB_CBLOCK ? ox_hi - ox : NNB_CBLOCK;
                        dw3x3_run(xc + (size_t)iy0 * xrow + (size_t)ix0 * (size_t)C,
                                  (size_t)sw * (size_t)C, (size_t)C, xrow, k, folded, n, acc);
                        rq_store(&q, acc, n, orow + (size_t)ox * ostep, ostep);
                        ox += n;
                    } else {
                        int32_t fx0, fx1, fy, fx;
                        acc[0] = 0;
                        tap_range(ix0, KW, dw, W, &fx0, &fx1);
                        for (fy = fy0; fy < fy1; ++fy) {
                            const int8_t *xr = xc + (size_t)(iy0 + fy * dh) * xrow;
                            const int8_t *wr = wc + (size_t)(fy * KW) * t;
                            for (fx = fx0; fx < fx1; ++fx)
                                acc[0] += wr[(size_t)fx * t] *
                                          (xr[(size_t)(ix0 + fx * dw) * (size_t)C] + off);
                        }
                        orow[(size_t)ox * ostep] = rq_out(&q, acc[0]);
                        ++ox;
                    }
                }
            }
        }
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

/* ADD's parameters, copied out of the record once (the int8 stores may alias it). */
typedef struct {
    int32_t m1, s1, m2, s2, m, s, off1, off2, out_off, lo, hi;
} add_t;

static inline int8_t add1(int32_t x, int32_t y, const add_t *p) {
    const int32_t a = nnb_mbqm(nnb_shl_wrap(x + p->off1, 20), p->m1, p->s1);
    const int32_t b = nnb_mbqm(nnb_shl_wrap(y + p->off2, 20), p->m2, p->s2);
    int32_t v = nnb_mbqm(nnb_add_wrap(a, b), p->m, p->s) + p->out_off;
    v = v < p->lo ? p->lo : v;
    v = v > p->hi ? p->hi : v;
    return (int8_t)v;
}

/* Without broadcasting: one run of n elements (shape {1, 1, 1, n}, unit strides). */
void nnb_k_add(const nnb_op_t *op) {
    const int8_t *a = (const int8_t *)op->in0;
    const int8_t *b = (const int8_t *)op->in1;
    int8_t *out = (int8_t *)op->out;
    const add_t p = {op->p[0], op->p[1], op->p[2],    op->p[3],    op->p[4],   op->p[5],
                     op->p[6], op->p[7], op->out_off, op->act_min, op->act_max};
    uint32_t d[4] = {1, 1, 1, op->n}, i0, i1, i2, i3;
    size_t sa[4] = {0, 0, 0, 1}, sb[4] = {0, 0, 0, 1};
    if (op->bcast) {
        for (i0 = 0; i0 < 4; ++i0) {
            d[i0] = (uint32_t)op->bshape[i0];
            sa[i0] = (size_t)op->bshape[4 + i0];
            sb[i0] = (size_t)op->bshape[8 + i0];
        }
    }
    for (i0 = 0; i0 < d[0]; ++i0)
        for (i1 = 0; i1 < d[1]; ++i1)
            for (i2 = 0; i2 < d[2]; ++i2) {
                const int8_t *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                const int8_t *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                for (i3 = 0; i3 < d[3]; ++i3, pa += sa[3], pb += sb[3])
                    *out++ = add1(*pa, *pb, &p);
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
