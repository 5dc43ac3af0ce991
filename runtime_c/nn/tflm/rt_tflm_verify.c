/* What TFLM reads of a model beyond what the built-in backend's parser (nnb_model_parse)
 * already validated, checked with the same bounds-checked flatbuffer reader (nnb_fb.c).
 *
 * nnb_model_parse walks subgraph 0 completely (every table, vtable, field and vector in bounds,
 * tensor indices, dataflow, buffer sizes against shapes, operator parameters). TFLM reads the
 * same parts through FlatBuffers accessors, which dereference scalars in place: so here every
 * table, vtable, vector and scalar TFLM touches must also be aligned (relative to a 16-byte
 * aligned model; an MCU faults on misaligned loads), constant tensor data aligned for its
 * element type, every field of the builtin options tables TFLM's parsers read inside its
 * table, and the parts nnb does not read (other subgraphs, metadata, intermediates) absent or
 * harmless. */
#include "rt_tflm_verify.h"

#include "nnb_internal.h"

typedef struct {
    nnb_fb_t fb;
    nnb_error_t *err;
} vctx_t;

static nnb_status_t misaligned(vctx_t *v, const char *what, uint32_t pos) {
    return nnb_fail(v->err, NNB_INVALID_ENCODING, "flatbuffer: misaligned %s at %u", what, pos);
}

static nnb_status_t table(vctx_t *v, const nnb_fbt_t *t) {
    if ((t->pos & 3u) != 0) return misaligned(v, "table", t->pos);
    if ((t->vt & 1u) != 0) return misaligned(v, "vtable", t->vt);
    return NNB_OK;
}

/* Scalar field `id` of `size` bytes: inside its table (nnb_fb_field) and aligned. */
static nnb_status_t scalar(vctx_t *v, const nnb_fbt_t *t, unsigned id, unsigned size) {
    uint32_t p;
    if (nnb_fb_field(&v->fb, t, id, size, &p)) return NNB_INVALID_ENCODING;
    if (p != 0 && (p % size) != 0) return misaligned(v, "field", p);
    return NNB_OK;
}

/* Vector field: offset field aligned, length word aligned, elements aligned to elem_align. */
static nnb_status_t vector(vctx_t *v, const nnb_fbt_t *t, unsigned id, unsigned elem_size,
                           unsigned elem_align, nnb_fbv_t *out) {
    nnb_status_t st = scalar(v, t, id, 4);
    if (st) return st;
    if (nnb_fb_vec(&v->fb, t, id, elem_size, out)) return NNB_INVALID_ENCODING;
    if (out->pos != 0 && ((out->pos - 4u) & 3u) != 0) return misaligned(v, "vector", out->pos);
    if (out->pos != 0 && out->n > 0 && (out->pos % elem_align) != 0)
        return misaligned(v, "vector elements", out->pos);
    return NNB_OK;
}

static nnb_status_t sub_table(vctx_t *v, const nnb_fbt_t *t, unsigned id, nnb_fbt_t *sub,
                              int *present) {
    nnb_status_t st = scalar(v, t, id, 4);
    if (st) return st;
    if (nnb_fb_table(&v->fb, t, id, sub, present)) return NNB_INVALID_ENCODING;
    return *present ? table(v, sub) : NNB_OK;
}

/* Elements of a vector of tables: each offset slot in bounds (nnb_fb_vec), each table valid. */
static nnb_status_t table_elem(vctx_t *v, const nnb_fbv_t *vec, uint32_t i, nnb_fbt_t *t) {
    if (nnb_fb_vec_table(&v->fb, vec, i, t)) return NNB_INVALID_ENCODING;
    return table(v, t);
}

/* Fields TFLM's parsers read per builtin options table: one character per field id, '1' '4'
 * scalar sizes, 'v' a vector of int32, '-' unused. Indexed by BuiltinOptions type. */
typedef struct {
    uint8_t type;
    const char *fields;
} options_t;

static const options_t kOptions[] = {
    {1, "1441441"}, /* Conv2DOptions */
    {2, "1444144"}, /* DepthwiseConv2DOptions */
    {5, "144441"},  /* Pool2DOptions */
    {8, "11111"},   /* FullyConnectedOptions */
    {9, "4"},       /* SoftmaxOptions */
    {11, "11"},     /* AddOptions */
    {17, "v"},      /* ReshapeOptions */
    {21, "1"},      /* MulOptions */
    {38, ""},       /* DequantizeOptions */
    {89, ""},       /* QuantizeOptions */
};

static nnb_status_t options(vctx_t *v, const nnb_fbt_t *op, uint32_t index) {
    uint8_t type;
    nnb_fbt_t opt;
    int present;
    nnb_status_t st;
    size_t k;
    unsigned id;
    if ((st = scalar(v, op, 3, 1))) return st;
    if (nnb_fb_u8(&v->fb, op, 3, 0, &type)) return NNB_INVALID_ENCODING;
    if ((st = sub_table(v, op, 4, &opt, &present))) return st;
    if (!present || type == 0) return NNB_OK;
    for (k = 0; k < sizeof kOptions / sizeof kOptions[0]; ++k) {
        if (kOptions[k].type != type) continue;
        for (id = 0; kOptions[k].fields[id] != '\0'; ++id) {
            const char f = kOptions[k].fields[id];
            if (f == 'v') {
                nnb_fbv_t vec;
                if ((st = vector(v, &opt, id, 4, 4, &vec))) return st;
            } else if (f != '-') {
                if ((st = scalar(v, &opt, id, (unsigned)(f - '0')))) return st;
            }
        }
        return NNB_OK;
    }
    /* A table of a type no registered parser reads: TFLM never looks inside it. */
    (void)index;
    return NNB_OK;
}

static const char kOfflinePlan[] = "OfflineMemoryAllocation";

static nnb_status_t metadata(vctx_t *v, const nnb_fbt_t *root, uint32_t n_buffers) {
    nnb_fbv_t md;
    uint32_t i;
    nnb_status_t st;
    if ((st = vector(v, root, 6, 4, 4, &md))) return st;
    for (i = 0; i < md.n; ++i) {
        nnb_fbt_t m;
        nnb_fbv_t name;
        uint32_t buffer;
        if ((st = table_elem(v, &md, i, &m))) return st;
        if ((st = vector(v, &m, 0, 1, 1, &name)) || (st = scalar(v, &m, 1, 4))) return st;
        if (nnb_fb_u32(&v->fb, &m, 1, 0, &buffer)) return NNB_INVALID_ENCODING;
        if (buffer >= n_buffers)
            return nnb_fail(v->err, NNB_INVALID_ENCODING, "metadata %u: buffer index out of range",
                            i);
        if (name.n == sizeof kOfflinePlan - 1u &&
            memcmp(v->fb.b + name.pos, kOfflinePlan, name.n) == 0)
            return nnb_fail(v->err, NNB_UNSUPPORTED, "offline memory plan (metadata %s)",
                            kOfflinePlan);
    }
    return NNB_OK;
}

static nnb_status_t tensors(vctx_t *v, const nnb_model_t *m, const nnb_fbv_t *tv) {
    uint32_t i;
    nnb_status_t st;
    for (i = 0; i < tv->n; ++i) {
        nnb_fbt_t t, q;
        nnb_fbv_t vec;
        int present;
        nnb_tmeta_t tm;
        if ((st = table_elem(v, tv, i, &t))) return st;
        if ((st = vector(v, &t, 0, 4, 4, &vec)) || (st = scalar(v, &t, 1, 1)) ||
            (st = scalar(v, &t, 2, 4)) || (st = scalar(v, &t, 5, 1)) ||
            (st = sub_table(v, &t, 4, &q, &present)))
            return st;
        if (present && ((st = vector(v, &q, 2, 4, 4, &vec)) ||
                        (st = vector(v, &q, 3, 8, 8, &vec)) || (st = scalar(v, &q, 6, 4))))
            return st;
        if ((st = nnb_tensor_meta(m, i, &tm, v->err))) return st;
        if (tm.data != NULL && tm.bytes != 0 && tm.count != 0) {
            const uint32_t elem = tm.bytes / tm.count;
            if (((uint32_t)(tm.data - m->buf) % elem) != 0)
                return misaligned(v, "tensor data", (uint32_t)(tm.data - m->buf));
        }
    }
    return NNB_OK;
}

nnb_status_t rt_tflm_verify(const nnb_model_t *m, nnb_error_t *err) {
    vctx_t v;
    nnb_fbt_t root, sg, t;
    nnb_fbv_t subgraphs, opcodes, buffers, tv, ops, vec;
    uint32_t i;
    nnb_status_t st;
    v.fb.b = m->buf;
    v.fb.n = m->len;
    v.fb.err = err;
    v.err = err;
    if ((nnb_rd_u32(m->buf) & 3u) != 0) return misaligned(&v, "root", 0);
    if (nnb_fb_root(&v.fb, &root)) return NNB_INVALID_ENCODING;
    if ((st = table(&v, &root)) || (st = scalar(&v, &root, 0, 4)) ||
        (st = vector(&v, &root, 1, 4, 4, &opcodes)) ||
        (st = vector(&v, &root, 2, 4, 4, &subgraphs)) ||
        (st = vector(&v, &root, 4, 4, 4, &buffers)))
        return st;
    if (subgraphs.n != 1)
        return nnb_fail(err, NNB_UNSUPPORTED, "model has %u subgraphs (tflm backend: 1)",
                        subgraphs.n);
    for (i = 0; i < opcodes.n; ++i) {
        if ((st = table_elem(&v, &opcodes, i, &t)) || (st = scalar(&v, &t, 0, 1)) ||
            (st = scalar(&v, &t, 2, 4)) || (st = scalar(&v, &t, 3, 4)))
            return st;
    }
    for (i = 0; i < buffers.n; ++i) {
        if ((st = table_elem(&v, &buffers, i, &t)) || (st = vector(&v, &t, 0, 1, 1, &vec)) ||
            (st = scalar(&v, &t, 1, 8)) || (st = scalar(&v, &t, 2, 8)))
            return st;
    }
    if ((st = metadata(&v, &root, buffers.n))) return st;
    if ((st = table_elem(&v, &subgraphs, 0, &sg)) || (st = vector(&v, &sg, 0, 4, 4, &tv)) ||
        (st = vector(&v, &sg, 1, 4, 4, &vec)) || (st = vector(&v, &sg, 2, 4, 4, &vec)) ||
        (st = vector(&v, &sg, 3, 4, 4, &ops)))
        return st;
    if ((st = tensors(&v, m, &tv))) return st;
    for (i = 0; i < ops.n; ++i) {
        nnb_fbt_t op;
        if ((st = table_elem(&v, &ops, i, &op)) || (st = scalar(&v, &op, 0, 4)) ||
            (st = vector(&v, &op, 1, 4, 4, &vec)) || (st = vector(&v, &op, 2, 4, 4, &vec)) ||
            (st = vector(&v, &op, 8, 4, 4, &vec)))
            return st;
        if (vec.n != 0)
            return nnb_fail(err, NNB_INVALID_ENCODING, "operator %u has intermediate tensors", i);
        if ((st = options(&v, &op, i))) return st;
    }
    return NNB_OK;
}
