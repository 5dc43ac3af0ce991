/* Operator preparation: decode one TFLite operator, validate it (types, shapes, parameters),
 * and fill its record: resolved tensor pointers and the quantization parameters TFLM computes
 * in its Prepare functions (same formulas, same double/float steps). Runs twice: once at
 * parse time with no arena (validation + size accounting), once at interpreter init. */
#include "nnb_internal.h"

typedef struct {
    const nnb_model_t *m;
    nnb_fb_t fb;
    nnb_error_t *err;
    nnb_alloc_t *al;
    uint8_t *act;
    uint32_t index;
    int32_t code;
    nnb_fbt_t op;
    nnb_fbv_t ins, outs;
} prep_t;

static void *take(nnb_alloc_t *al, uint32_t bytes) {
    uint32_t at = nnb_align_up(al->used, 8u);
    al->used = at + bytes;
    return al->base ? al->base + at : NULL;
}

static nnb_status_t bad(prep_t *p, const char *what) {
    return nnb_fail(p->err, NNB_INVALID_ENCODING, "%s (operator %u): %s", nnb_op_name(p->code),
                    p->index, what);
}

static nnb_status_t unsup(prep_t *p, const char *what) {
    return nnb_fail(p->err, NNB_UNSUPPORTED, "%s (operator %u): %s", nnb_op_name(p->code), p->index,
                    what);
}

/* Tensor index of input/output slot i; -1 when optional and absent. */
static nnb_status_t io_index(prep_t *p, const nnb_fbv_t *v, uint32_t i, int optional, int32_t *t) {
    int32_t idx;
    if (i >= v->n) {
        if (optional) {
            *t = -1;
            return NNB_OK;
        }
        return bad(p, "missing input or output");
    }
    idx = nnb_rd_i32(p->fb.b + v->pos + 4u * i);
    if (idx == -1 && optional) {
        *t = -1;
        return NNB_OK;
    }
    if (idx < 0 || (uint32_t)idx >= p->m->n_tensors) return bad(p, "tensor index out of range");
    *t = idx;
    return NNB_OK;
}

static nnb_status_t get_tensor(prep_t *p, const nnb_fbv_t *v, uint32_t i, int optional, int32_t *t,
                               nnb_tmeta_t *tm) {
    nnb_status_t st = io_index(p, v, i, optional, t);
    if (st != NNB_OK || *t < 0) return st;
    return nnb_tensor_meta(p->m, (uint32_t)*t, tm, p->err);
}

static void *tdata(prep_t *p, int32_t t, const nnb_tmeta_t *tm) {
    if (tm->data) return (void *)(uintptr_t)tm->data; /* constant: only ever read */
    if (!p->act) return NULL;
    return p->act + p->m->tensor_offset[t];
}

static nnb_status_t need_type(prep_t *p, const nnb_tmeta_t *tm, int32_t type, const char *role) {
    if (tm->type != type)
        return nnb_fail(p->err, NNB_UNSUPPORTED, "%s (operator %u): %s tensor type %s",
                        nnb_op_name(p->code), p->index, role, nnb_type_name(tm->type));
    return NNB_OK;
}

/* Quantized activation tensor: one scale > 0, zero point inside the type's range. */
static nnb_status_t need_quant(prep_t *p, const nnb_tmeta_t *tm, const char *role) {
    int32_t lo = tm->type == NNB_TYPE_UINT8 ? 0 : -128, hi = tm->type == NNB_TYPE_UINT8 ? 255 : 127;
    if (!(tm->scale > 0.0f && tm->scale < 3.0e38f))
        return nnb_fail(p->err, NNB_INVALID_ENCODING, "%s (operator %u): %s has no valid scale",
                        nnb_op_name(p->code), p->index, role);
    if (tm->n_scales > 1)
        return nnb_fail(p->err, NNB_UNSUPPORTED, "%s (operator %u): per-channel %s tensor",
                        nnb_op_name(p->code), p->index, role);
    if (tm->zero_point < lo || tm->zero_point > hi)
        return nnb_fail(p->err, NNB_INVALID_ENCODING,
                        "%s (operator %u): %s zero point out of range", nnb_op_name(p->code),
                        p->index, role);
    return NNB_OK;
}

static nnb_status_t options(prep_t *p, uint8_t want_type, nnb_fbt_t *opt, int *present) {
    uint8_t type;
    if (nnb_fb_u8(&p->fb, &p->op, 3, 0, &type)) return NNB_INVALID_ENCODING;
    if (nnb_fb_table(&p->fb, &p->op, 4, opt, present)) return NNB_INVALID_ENCODING;
    if (*present && type != want_type) return bad(p, "builtin options of the wrong type");
    return NNB_OK;
}

/* CalculateActivationRangeQuantized */
static nnb_status_t act_range(prep_t *p, int32_t act, const nnb_tmeta_t *out, int32_t *lo,
                              int32_t *hi) {
    const int32_t qmin = out->type == NNB_TYPE_UINT8 ? 0 : -128;
    const int32_t qmax = out->type == NNB_TYPE_UINT8 ? 255 : 127;
    float lim[2] = {0.0f, 0.0f};
    int32_t q[2];
    int i;
    *lo = qmin;
    *hi = qmax;
    switch (act) {
    case NNB_ACT_NONE:
        return NNB_OK;
    case NNB_ACT_RELU:
        lim[0] = 0.0f;
        lim[1] = 0.0f;
        break;
    case NNB_ACT_RELU6:
        lim[0] = 0.0f;
        lim[1] = 6.0f;
        break;
    case NNB_ACT_RELU_N1_TO_1:
        lim[0] = -1.0f;
        lim[1] = 1.0f;
        break;
    default:
        return nnb_fail(p->err, NNB_UNSUPPORTED, "%s (operator %u): fused activation %d",
                        nnb_op_name(p->code), p->index, (int)act);
    }
    for (i = 0; i < 2; ++i) {
        const float tmp = nnb_roundf(lim[i] / out->scale);
        if (!(tmp >= -2147483648.0f && tmp <= 2147483520.0f))
            return unsup(p, "activation range overflows");
        q[i] = out->zero_point + (int32_t)tmp;
    }
    *lo = q[0] > qmin ? q[0] : qmin;
    if (act != NNB_ACT_RELU) *hi = q[1] < qmax ? q[1] : qmax;
    return NNB_OK;
}

static nnb_status_t padding_out(prep_t *p, int32_t padding, int32_t in, int32_t k, int32_t stride,
                                int32_t dil, int32_t out_tensor, int32_t *pad) {
    const int64_t eff = (int64_t)(k - 1) * dil + 1;
    int64_t out, total;
    /* keeps every coordinate the kernels compute (origin + tap * dilation) inside int32 */
    if (in > 0x3FFFFFFF || eff > 0x3FFFFFFF)
        return unsup(p, "spatial size or filter span above 2^30");
    if (padding == NNB_PAD_SAME)
        out = ((int64_t)in + stride - 1) / stride;
    else if (padding == NNB_PAD_VALID)
        out = ((int64_t)in + stride - eff) / stride;
    else
        return unsup(p, "padding type");
    if (out < 1) return bad(p, "filter larger than its input");
    if (out != out_tensor) return bad(p, "output shape does not match the input and parameters");
    total = (out - 1) * stride + eff - in;
    total = total > 0 ? total : 0;
    *pad = (int32_t)(total / 2);
    return NNB_OK;
}

/* Per-channel multipliers (PopulateConvolutionQuantizationParams); one entry when the filter
 * is quantized per tensor (TFLM broadcasts the same value to every channel). */
static nnb_status_t conv_quant(prep_t *p, nnb_op_t *r, const nnb_tmeta_t *in,
                               const nnb_tmeta_t *filt, const nnb_tmeta_t *bias,
                               const nnb_tmeta_t *out, int32_t n_ch, int32_t qdim,
                               int per_tensor_float_product) {
    int32_t c, n_q;
    if (filt->n_scales != 1 && filt->n_scales != (uint32_t)n_ch)
        return bad(p, "filter scale count does not match the channels");
    if (filt->n_scales > 1 && filt->qdim != qdim) return unsup(p, "filter quantized dimension");
    if (bias) {
        if (bias->type != NNB_TYPE_INT32) return unsup(p, "bias type (int32 only)");
        if (!bias->data) return unsup(p, "non-constant bias");
        if (bias->count < (uint32_t)n_ch) return bad(p, "bias size does not match the channels");
    }
    r->per_ch = filt->n_scales > 1;
    n_q = r->per_ch ? n_ch : 1;
    r->mult = (int32_t *)take(p->al, 4u * (uint32_t)n_q);
    r->shift = (int8_t *)take(p->al, (uint32_t)n_q);
    r->bias_raw = bias ? bias->data : NULL;
    if (!p->al->base) return NNB_OK;
    for (c = 0; c < n_q; ++c) {
        const float fs =
            r->per_ch ? nnb_rd_f32(p->m->buf + filt->scales_pos + 4u * (uint32_t)c) : filt->scale;
        double eff;
        int32_t mult;
        int shift;
        if (per_tensor_float_product && !r->per_ch)
            eff = (double)(in->scale * fs) / (double)out->scale; /* FC per-tensor: float product */
        else
            eff = (double)in->scale * (double)fs / (double)out->scale;
        nnb_quantize_multiplier(eff, &mult, &shift);
        r->mult[c] = mult;
        r->shift[c] = (int8_t)shift;
    }
    return NNB_OK;
}

static nnb_status_t prep_conv(prep_t *p, nnb_op_t *r, int depthwise) {
    nnb_tmeta_t in, filt, bias, out;
    int32_t ti = -1, tf = -1, tb = -1, to = -1, padding = 0, act = 0;
    nnb_fbt_t opt;
    int present;
    nnb_status_t st;
    uint64_t depth;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->ins, 1, 0, &tf, &filt)) ||
        (st = get_tensor(p, &p->ins, 2, 1, &tb, &bias)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if ((st = need_type(p, &in, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &filt, NNB_TYPE_INT8, "filter")) ||
        (st = need_type(p, &out, NNB_TYPE_INT8, "output")))
        return st;
    if ((st = need_quant(p, &in, "input")) || (st = need_quant(p, &out, "output"))) return st;
    if (in.rank != 4 || filt.rank != 4 || out.rank != 4) return bad(p, "tensors must be 4-D");
    if (!filt.data) return unsup(p, "non-constant filter");
    if (!(filt.scale > 0.0f)) return bad(p, "filter has no valid scale");
    if ((st = options(p, depthwise ? 2 : 1, &opt, &present))) return st;
    r->stride_h = r->stride_w = 0;
    r->dil_h = r->dil_w = 1;
    r->depth_mult = 1;
    if (present) {
        uint8_t u;
        if (nnb_fb_u8(&p->fb, &opt, 0, 0, &u)) return NNB_INVALID_ENCODING;
        padding = u;
        if (nnb_fb_i32(&p->fb, &opt, 1, 0, &r->stride_w) ||
            nnb_fb_i32(&p->fb, &opt, 2, 0, &r->stride_h))
            return NNB_INVALID_ENCODING;
        if (depthwise) {
            if (nnb_fb_i32(&p->fb, &opt, 3, 0, &r->depth_mult) ||
                nnb_fb_u8(&p->fb, &opt, 4, 0, &u) || nnb_fb_i32(&p->fb, &opt, 5, 1, &r->dil_w) ||
                nnb_fb_i32(&p->fb, &opt, 6, 1, &r->dil_h))
                return NNB_INVALID_ENCODING;
        } else {
            if (nnb_fb_u8(&p->fb, &opt, 3, 0, &u) || nnb_fb_i32(&p->fb, &opt, 4, 1, &r->dil_w) ||
                nnb_fb_i32(&p->fb, &opt, 5, 1, &r->dil_h))
                return NNB_INVALID_ENCODING;
        }
        act = u;
    }
    if (r->stride_h < 1 || r->stride_w < 1 || r->dil_h < 1 || r->dil_w < 1 ||
        r->stride_h > 0xffff || r->stride_w > 0xffff || r->dil_h > 0xffff || r->dil_w > 0xffff)
        return bad(p, "strides and dilations must be in 1..65535");
    r->batches = in.dims[0];
    r->in_h = in.dims[1];
    r->in_w = in.dims[2];
    r->in_c = in.dims[3];
    r->out_h = out.dims[1];
    r->out_w = out.dims[2];
    r->out_c = out.dims[3];
    r->k_h = filt.dims[1];
    r->k_w = filt.dims[2];
    r->k_c = filt.dims[3];
    if (out.dims[0] != r->batches) return bad(p, "batch sizes differ");
    if (depthwise) {
        if (filt.dims[0] != 1 || filt.dims[3] != r->out_c) return bad(p, "filter shape");
        if (r->depth_mult < 1 || (int64_t)r->in_c * r->depth_mult != r->out_c)
            return bad(p, "output channels != input channels * depth_multiplier");
        depth = (uint64_t)r->k_h * (uint64_t)r->k_w;
    } else {
        if (filt.dims[0] != r->out_c) return bad(p, "filter shape");
        if (r->k_c < 1 || r->in_c % r->k_c != 0) return bad(p, "input channels vs filter depth");
        if (r->out_c % (r->in_c / r->k_c) != 0) return bad(p, "output channels vs groups");
        depth = (uint64_t)r->k_h * (uint64_t)r->k_w * (uint64_t)r->k_c;
    }
    if (depth > 65536u) return unsup(p, "accumulation depth above 65536");
    if ((st = padding_out(p, padding, r->in_h, r->k_h, r->stride_h, r->dil_h, r->out_h,
                          &r->pad_h)) ||
        (st = padding_out(p, padding, r->in_w, r->k_w, r->stride_w, r->dil_w, r->out_w, &r->pad_w)))
        return st;
    if ((st = act_range(p, act, &out, &r->act_min, &r->act_max))) return st;
    r->in_off = -in.zero_point;
    r->out_off = out.zero_point;
    r->w = (const int8_t *)filt.data;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    if ((st = conv_quant(p, r, &in, &filt, tb >= 0 ? &bias : NULL, &out, r->out_c,
                         depthwise ? 3 : 0, 0)))
        return st;
    if (depthwise)
        r->kind = NNB_K_DWCONV;
    else if (r->k_h == 1 && r->k_w == 1 && r->stride_h == 1 && r->stride_w == 1 && r->pad_h == 0 &&
             r->pad_w == 0 && r->k_c == r->in_c && r->out_h == r->in_h && r->out_w == r->in_w)
        r->kind = NNB_K_CONV_1X1;
    else
        r->kind = NNB_K_CONV;
    return NNB_OK;
}

static nnb_status_t prep_fc(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t in, filt, bias, out;
    int32_t ti = -1, tf = -1, tb = -1, to = -1, act = 0;
    nnb_fbt_t opt;
    int present;
    nnb_status_t st;
    uint32_t out_depth, accum, batches;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->ins, 1, 0, &tf, &filt)) ||
        (st = get_tensor(p, &p->ins, 2, 1, &tb, &bias)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if ((st = need_type(p, &in, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &filt, NNB_TYPE_INT8, "filter")) ||
        (st = need_type(p, &out, NNB_TYPE_INT8, "output")))
        return st;
    if ((st = need_quant(p, &in, "input")) || (st = need_quant(p, &out, "output"))) return st;
    if (!filt.data) return unsup(p, "non-constant filter");
    if (!(filt.scale > 0.0f)) return bad(p, "filter has no valid scale");
    if (filt.zero_point != 0) return unsup(p, "filter zero point must be 0");
    if (filt.rank != 2 || out.rank < 1) return bad(p, "filter must be 2-D");
    if ((st = options(p, 8, &opt, &present))) return st;
    if (present) {
        uint8_t u, fmt;
        if (nnb_fb_u8(&p->fb, &opt, 0, 0, &u) || nnb_fb_u8(&p->fb, &opt, 1, 0, &fmt))
            return NNB_INVALID_ENCODING;
        if (fmt != 0) return unsup(p, "shuffled weights format");
        act = u;
    }
    out_depth = (uint32_t)out.dims[out.rank - 1];
    accum = (uint32_t)filt.dims[1];
    if (out_depth > (uint32_t)filt.dims[0]) return bad(p, "output depth above filter rows");
    if (accum > 65536u) return unsup(p, "accumulation depth above 65536");
    batches = out.count / out_depth;
    if ((uint64_t)batches * accum > in.count) return bad(p, "input smaller than batches * depth");
    if ((st = act_range(p, act, &out, &r->act_min, &r->act_max))) return st;
    r->kind = NNB_K_FC;
    r->batches = (int32_t)batches;
    r->in_c = (int32_t)accum;
    r->out_c = (int32_t)out_depth;
    /* the kernel runs it as a 1x1 convolution of one pixel per batch */
    r->in_h = r->in_w = r->out_h = r->out_w = r->k_h = r->k_w = 1;
    r->stride_h = r->stride_w = r->dil_h = r->dil_w = 1;
    r->k_c = (int32_t)accum;
    r->in_off = -in.zero_point;
    r->out_off = out.zero_point;
    r->w = (const int8_t *)filt.data;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    if (filt.n_scales > 1 && filt.n_scales != (uint32_t)filt.dims[0])
        return bad(p, "filter scale count does not match the rows");
    /* quantization over the output rows actually used */
    if (filt.n_scales > 1) filt.n_scales = out_depth;
    return conv_quant(p, r, &in, &filt, tb >= 0 ? &bias : NULL, &out, (int32_t)out_depth, 0, 1);
}

static nnb_status_t prep_pool(prep_t *p, nnb_op_t *r, int max) {
    nnb_tmeta_t in, out;
    int32_t ti = -1, to = -1, padding = 0, act = 0;
    nnb_fbt_t opt;
    int present;
    nnb_status_t st;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if ((st = need_type(p, &in, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &out, NNB_TYPE_INT8, "output")))
        return st;
    if ((st = need_quant(p, &out, "output"))) return st;
    if (in.rank != 4 || out.rank != 4) return bad(p, "tensors must be 4-D");
    if ((st = options(p, 5, &opt, &present))) return st;
    r->stride_h = r->stride_w = r->k_h = r->k_w = 0;
    if (present) {
        uint8_t u, a;
        if (nnb_fb_u8(&p->fb, &opt, 0, 0, &u) || nnb_fb_i32(&p->fb, &opt, 1, 0, &r->stride_w) ||
            nnb_fb_i32(&p->fb, &opt, 2, 0, &r->stride_h) ||
            nnb_fb_i32(&p->fb, &opt, 3, 0, &r->k_w) || nnb_fb_i32(&p->fb, &opt, 4, 0, &r->k_h) ||
            nnb_fb_u8(&p->fb, &opt, 5, 0, &a))
            return NNB_INVALID_ENCODING;
        padding = u;
        act = a;
    }
    if (r->stride_h < 1 || r->stride_w < 1 || r->k_h < 1 || r->k_w < 1 || r->stride_h > 0xffff ||
        r->stride_w > 0xffff || r->k_h > 0xffff || r->k_w > 0xffff)
        return bad(p, "strides and filter sizes must be in 1..65535");
    r->batches = in.dims[0];
    r->in_h = in.dims[1];
    r->in_w = in.dims[2];
    r->in_c = in.dims[3];
    r->out_h = out.dims[1];
    r->out_w = out.dims[2];
    r->out_c = out.dims[3];
    if (out.dims[0] != r->batches || r->out_c != r->in_c) return bad(p, "input and output shapes");
    r->dil_h = r->dil_w = 1;
    if ((st = padding_out(p, padding, r->in_h, r->k_h, r->stride_h, 1, r->out_h, &r->pad_h)) ||
        (st = padding_out(p, padding, r->in_w, r->k_w, r->stride_w, 1, r->out_w, &r->pad_w)))
        return st;
    if ((st = act_range(p, act, &out, &r->act_min, &r->act_max))) return st;
    if (!max && (uint64_t)(r->k_h < r->in_h ? r->k_h : r->in_h) *
                        (uint64_t)(r->k_w < r->in_w ? r->k_w : r->in_w) >
                    (1u << 23))
        return unsup(p, "pooling window above 2^23 elements (int32 sum)");
    r->kind = max ? NNB_K_MAXPOOL : NNB_K_AVGPOOL;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    return NNB_OK;
}

static nnb_status_t prep_add(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t a, b, out;
    int32_t ta = -1, tb = -1, to = -1, act = 0, i;
    int32_t da[4], db[4], dout[4];
    nnb_fbt_t opt;
    int present;
    nnb_status_t st;
    double twice_max, r1, r2, ro;
    int32_t m;
    int sh;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ta, &a)) ||
        (st = get_tensor(p, &p->ins, 1, 0, &tb, &b)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if ((st = need_type(p, &a, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &b, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &out, NNB_TYPE_INT8, "output")))
        return st;
    if ((st = need_quant(p, &a, "input")) || (st = need_quant(p, &b, "input")) ||
        (st = need_quant(p, &out, "output")))
        return st;
    if (a.rank > 4 || b.rank > 4 || out.rank > 4) return unsup(p, "rank above 4");
    if ((st = options(p, 11, &opt, &present))) return st;
    if (present) {
        uint8_t u;
        if (nnb_fb_u8(&p->fb, &opt, 0, 0, &u)) return NNB_INVALID_ENCODING;
        act = u;
    }
    for (i = 0; i < 4; ++i) {
        const int32_t k = i - 4;
        da[i] = (int32_t)a.rank + k >= 0 ? a.dims[a.rank + (uint32_t)k] : 1;
        db[i] = (int32_t)b.rank + k >= 0 ? b.dims[b.rank + (uint32_t)k] : 1;
        dout[i] = (int32_t)out.rank + k >= 0 ? out.dims[out.rank + (uint32_t)k] : 1;
        if ((da[i] != dout[i] && da[i] != 1) || (db[i] != dout[i] && db[i] != 1) ||
            (da[i] != dout[i] && db[i] != dout[i]))
            return bad(p, "input shapes do not broadcast to the output shape");
    }
    r->bcast = (a.count != out.count || b.count != out.count);
    if (r->bcast) {
        r->bshape = (int32_t *)take(p->al, 12u * 4u);
        if (p->al->base) {
            int32_t sa = 1, sb = 1;
            for (i = 3; i >= 0; --i) {
                r->bshape[i] = dout[i];
                r->bshape[4 + i] = da[i] == 1 ? 0 : sa;
                r->bshape[8 + i] = db[i] == 1 ? 0 : sb;
                sa *= da[i];
                sb *= db[i];
            }
        }
    }
    /* CalculateOpDataAdd, left_shift 20 for int8 */
    twice_max = 2.0 * (double)(a.scale > b.scale ? a.scale : b.scale);
    r1 = (double)a.scale / twice_max;
    r2 = (double)b.scale / twice_max;
    ro = twice_max / ((double)(1 << 20) * (double)out.scale);
    nnb_quantize_multiplier(r1, &m, &sh);
    r->p[0] = m;
    r->p[1] = sh;
    nnb_quantize_multiplier(r2, &m, &sh);
    r->p[2] = m;
    r->p[3] = sh;
    nnb_quantize_multiplier(ro, &m, &sh);
    r->p[4] = m;
    r->p[5] = sh;
    if (r->p[1] > 0 || r->p[3] > 0 || r->p[5] > 0)
        return unsup(p, "output scale too small for the input scales");
    r->p[6] = -a.zero_point;
    r->p[7] = -b.zero_point;
    r->out_off = out.zero_point;
    if ((st = act_range(p, act, &out, &r->act_min, &r->act_max))) return st;
    r->kind = NNB_K_ADD;
    r->n = out.count;
    r->in0 = tdata(p, ta, &a);
    r->in1 = tdata(p, tb, &b);
    r->out = tdata(p, to, &out);
    return NNB_OK;
}

static nnb_status_t prep_reshape(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t in, out;
    int32_t ti = -1, to = -1;
    nnb_status_t st;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if (in.type != out.type) return bad(p, "input and output types differ");
    if (!in.bytes) return need_type(p, &in, NNB_TYPE_INT8, "input");
    if (in.bytes != out.bytes) return bad(p, "input and output sizes differ");
    r->n = in.bytes;
    r->kind = in.data ? NNB_K_COPY : NNB_K_NOP; /* NOP: the plan gives both one buffer */
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    return NNB_OK;
}

static nnb_status_t prep_softmax(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t in, out;
    int32_t ti = -1, to = -1;
    float beta = 0.0f;
    nnb_fbt_t opt;
    int present, shift, left_shift;
    nnb_status_t st;
    double real, radius;
    int32_t mult;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if ((st = need_type(p, &in, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &out, NNB_TYPE_INT8, "output")))
        return st;
    if ((st = need_quant(p, &in, "input")) || (st = need_quant(p, &out, "output"))) return st;
    if (out.zero_point != -128 || out.scale != 1.0f / 256.0f)
        return unsup(p, "int8 output must have scale 1/256 and zero point -128");
    if (in.count != out.count || in.rank < 1) return bad(p, "input and output sizes differ");
    if ((st = options(p, 9, &opt, &present))) return st;
    if (present && nnb_fb_f32(&p->fb, &opt, 0, 0.0f, &beta)) return NNB_INVALID_ENCODING;
    /* PreprocessSoftmaxScaling(beta, input_scale, 5) */
    real = (double)beta * (double)in.scale * (double)(1 << 26);
    if (real > 2147483647.0) real = 2147483647.0;
    if (!(real > 1.0)) return unsup(p, "beta * input scale too small");
    nnb_quantize_multiplier(real, &mult, &shift);
    if (shift < 0 || shift > 31) return unsup(p, "beta * input scale out of range");
    left_shift = shift;
    /* diff_min = -CalculateInputRadius(5, left_shift, 31) */
    radius = 31.0 * (double)(1 << 26);
    for (shift = 0; shift < left_shift; ++shift)
        radius *= 0.5;
    r->p[0] = mult;
    r->p[1] = left_shift;
    r->p[2] = -(int32_t)radius; /* positive: the cast truncates, i.e. floor */
    r->p[3] = in.dims[in.rank - 1];
    if (r->p[3] < 1) return bad(p, "empty softmax depth");
    r->n = in.count;
    r->kind = NNB_K_SOFTMAX;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    return NNB_OK;
}

static nnb_status_t prep_logistic(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t in, out;
    int32_t ti = -1, to = -1, mult, radius_i;
    nnb_status_t st;
    int left_shift, k;
    double q, radius;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if ((st = need_type(p, &in, NNB_TYPE_INT8, "input")) ||
        (st = need_type(p, &out, NNB_TYPE_INT8, "output")))
        return st;
    if ((st = need_quant(p, &in, "input")) || (st = need_quant(p, &out, "output"))) return st;
    if (out.zero_point != -128) return unsup(p, "int8 output zero point must be -128");
    if (in.count != out.count) return bad(p, "input and output sizes differ");
    /* CalculateArithmeticOpDataLogistic: frexp of input_scale * 2^27, no 2^31 fix-up */
    q = nnb_frexp((double)in.scale * (double)(1 << 27), &left_shift);
    q = nnb_round(q * 2147483648.0);
    mult = q >= 2147483648.0 ? INT32_MIN : (int32_t)q; /* what the C++ cast gives on x86 */
    if (left_shift > 31) left_shift = 31;              /* absurd scales: keep the shifts defined */
    if (left_shift < -31) left_shift = -31;
    /* CalculateInputRadius(4, left_shift, 31) */
    radius = 15.0 * (double)(1 << 27);
    for (k = 0; k < left_shift; ++k)
        radius *= 0.5;
    for (k = 0; k > left_shift && radius < 4.0e9; --k)
        radius *= 2.0;
    radius_i = radius >= 2147483647.0 ? INT32_MAX : (int32_t)radius;
    r->kind = NNB_K_LUT8;
    r->in_signed = 1;
    r->out_signed = 1;
    r->n = in.count;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    r->lut = (uint8_t *)take(p->al, 256u);
    if (!p->al->base) return NNB_OK;
    for (k = 0; k < 256; ++k) {
        const int32_t x = (int32_t)(int8_t)(uint8_t)k - in.zero_point;
        int32_t o;
        if (x <= -radius_i) {
            o = -128;
        } else if (x >= radius_i) {
            o = 127;
        } else {
            const int32_t in_q4 = nnb_mbqm(x, mult, left_shift);
            o = nnb_rdbpot(nnb_logistic_q(in_q4, 4), 31 - 8) - 128;
            o = o < -128 ? -128 : (o > 127 ? 127 : o);
        }
        r->lut[k] = (uint8_t)(int8_t)o;
    }
    return NNB_OK;
}

static nnb_status_t prep_quantize(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t in, out;
    int32_t ti = -1, to = -1;
    nnb_status_t st;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if (out.type != NNB_TYPE_INT8 && out.type != NNB_TYPE_UINT8)
        return need_type(p, &out, NNB_TYPE_INT8, "output");
    if ((st = need_quant(p, &out, "output"))) return st;
    if (in.count != out.count) return bad(p, "input and output sizes differ");
    r->n = in.count;
    r->out_signed = out.type == NNB_TYPE_INT8;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    if (in.type == NNB_TYPE_FLOAT32) {
        if (!r->out_signed) return unsup(p, "float32 to uint8 (TFLM has int8 only)");
        r->kind = NNB_K_QUANT_F32;
        r->fscale = out.scale;
        r->out_off = out.zero_point;
        return NNB_OK;
    }
    if (in.type != NNB_TYPE_INT8 && in.type != NNB_TYPE_UINT8)
        return need_type(p, &in, NNB_TYPE_INT8, "input");
    if ((st = need_quant(p, &in, "input"))) return st;
    r->kind = NNB_K_LUT8;
    r->in_signed = in.type == NNB_TYPE_INT8;
    r->lut = (uint8_t *)take(p->al, 256u);
    if (p->al->base) {
        /* Requantize with QuantizeMultiplier(input_scale / output_scale) */
        const int32_t qmin = r->out_signed ? -128 : 0, qmax = r->out_signed ? 127 : 255;
        int32_t mult, k;
        int shift;
        nnb_quantize_multiplier((double)in.scale / (double)out.scale, &mult, &shift);
        for (k = 0; k < 256; ++k) {
            const int32_t v = r->in_signed ? (int32_t)(int8_t)(uint8_t)k : k;
            int32_t o = nnb_mbqm(v - in.zero_point, mult, shift) + out.zero_point;
            o = o < qmin ? qmin : (o > qmax ? qmax : o);
            r->lut[k] = (uint8_t)o;
        }
    }
    return NNB_OK;
}

static nnb_status_t prep_dequantize(prep_t *p, nnb_op_t *r) {
    nnb_tmeta_t in, out;
    int32_t ti = -1, to = -1;
    nnb_status_t st;
    if ((st = get_tensor(p, &p->ins, 0, 0, &ti, &in)) ||
        (st = get_tensor(p, &p->outs, 0, 0, &to, &out)))
        return st;
    if (in.type != NNB_TYPE_INT8 && in.type != NNB_TYPE_UINT8)
        return need_type(p, &in, NNB_TYPE_INT8, "input");
    if ((st = need_type(p, &out, NNB_TYPE_FLOAT32, "output"))) return st;
    if ((st = need_quant(p, &in, "input"))) return st;
    if (in.count != out.count) return bad(p, "input and output sizes differ");
    r->kind = NNB_K_DEQUANT_F32;
    r->in_signed = in.type == NNB_TYPE_INT8;
    r->n = in.count;
    r->fscale = in.scale;
    r->in_off = in.zero_point;
    r->in0 = tdata(p, ti, &in);
    r->out = tdata(p, to, &out);
    return NNB_OK;
}

nnb_status_t nnb_op_code(const nnb_model_t *m, uint32_t index, int32_t *code, nnb_fbt_t *op,
                         nnb_error_t *err) {
    nnb_fb_t fb;
    nnb_fbv_t ops, codes;
    nnb_fbt_t oc;
    uint32_t oi;
    uint8_t dep;
    int32_t bc;
    fb.b = m->buf;
    fb.n = m->len;
    fb.err = err;
    ops.pos = m->ops_vec;
    ops.n = m->n_ops;
    codes.pos = m->opcodes_vec;
    codes.n = m->n_opcodes;
    if (nnb_fb_vec_table(&fb, &ops, index, op) || nnb_fb_u32(&fb, op, 0, 0, &oi))
        return NNB_INVALID_ENCODING;
    if (oi >= codes.n)
        return nnb_fail(err, NNB_INVALID_ENCODING, "operator %u: opcode index out of range", index);
    if (nnb_fb_vec_table(&fb, &codes, oi, &oc) || nnb_fb_u8(&fb, &oc, 0, 0, &dep) ||
        nnb_fb_i32(&fb, &oc, 3, 0, &bc))
        return NNB_INVALID_ENCODING;
    *code = (int32_t)(int8_t)dep > bc ? (int32_t)(int8_t)dep : bc;
    return NNB_OK;
}

int nnb_op_supported(int32_t code) {
    switch (code) {
    case NNB_OP_CONV_2D:
    case NNB_OP_DEPTHWISE_CONV_2D:
    case NNB_OP_FULLY_CONNECTED:
    case NNB_OP_AVERAGE_POOL_2D:
    case NNB_OP_MAX_POOL_2D:
    case NNB_OP_ADD:
    case NNB_OP_RESHAPE:
    case NNB_OP_SOFTMAX:
    case NNB_OP_LOGISTIC:
    case NNB_OP_QUANTIZE:
    case NNB_OP_DEQUANTIZE:
        return 1;
    default:
        return 0;
    }
}

nnb_status_t nnb_op_prepare(const nnb_model_t *m, uint32_t index, nnb_op_t *rec, nnb_alloc_t *alloc,
                            uint8_t *activations, nnb_error_t *err) {
    prep_t p;
    nnb_status_t st;
    memset(rec, 0, sizeof *rec);
    p.m = m;
    p.fb.b = m->buf;
    p.fb.n = m->len;
    p.fb.err = err;
    p.err = err;
    p.al = alloc;
    p.act = activations;
    p.index = index;
    if ((st = nnb_op_code(m, index, &p.code, &p.op, err))) return st;
    if (nnb_fb_vec(&p.fb, &p.op, 1, 4, &p.ins) || nnb_fb_vec(&p.fb, &p.op, 2, 4, &p.outs))
        return NNB_INVALID_ENCODING;
    if (!nnb_op_supported(p.code))
        return nnb_fail(err, NNB_UNSUPPORTED, "unsupported operator %s (%d)", nnb_op_name(p.code),
                        (int)p.code);
    if (p.outs.n != 1) return bad(&p, "expected exactly one output");
    switch (p.code) {
    case NNB_OP_CONV_2D:
        return prep_conv(&p, rec, 0);
    case NNB_OP_DEPTHWISE_CONV_2D:
        return prep_conv(&p, rec, 1);
    case NNB_OP_FULLY_CONNECTED:
        return prep_fc(&p, rec);
    case NNB_OP_AVERAGE_POOL_2D:
        return prep_pool(&p, rec, 0);
    case NNB_OP_MAX_POOL_2D:
        return prep_pool(&p, rec, 1);
    case NNB_OP_ADD:
        return prep_add(&p, rec);
    case NNB_OP_RESHAPE:
        return prep_reshape(&p, rec);
    case NNB_OP_SOFTMAX:
        return prep_softmax(&p, rec);
    case NNB_OP_LOGISTIC:
        return prep_logistic(&p, rec);
    case NNB_OP_QUANTIZE:
        return prep_quantize(&p, rec);
    case NNB_OP_DEQUANTIZE:
        return prep_dequantize(&p, rec);
    default:
        return nnb_fail(err, NNB_UNSUPPORTED, "unsupported operator %s (%d)", nnb_op_name(p.code),
                        (int)p.code);
    }
}
