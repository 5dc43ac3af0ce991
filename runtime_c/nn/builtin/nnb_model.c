/* Model parsing: TFLite schema walk (subgraph 0), tensor metadata, dataflow checks, operator
 * validation (dry-run preparation) and the static activation plan. */
#include "nnb_internal.h"

#define UNSET 0xFFFFu

uint32_t nnb_type_size(int32_t type) {
    switch (type) {
    case NNB_TYPE_FLOAT32:
    case NNB_TYPE_INT32:
        return 4;
    case NNB_TYPE_UINT8:
    case NNB_TYPE_INT8:
        return 1;
    default:
        return 0;
    }
}

const char *nnb_type_name(int32_t type) {
    static const char *const names[] = {
        "FLOAT32",  "FLOAT16",  "INT32",     "UINT8",         "INT64",      "STRING",
        "BOOL",     "INT16",    "COMPLEX64", "INT8",          "FLOAT64",    "COMPLEX128",
        "UINT64",   "RESOURCE", "VARIANT",   "UINT32",        "UINT16",     "INT4",
        "BFLOAT16", "INT2",     "UINT4",     "FLOAT8_E4M3FN", "FLOAT8_E5M2"};
    if (type < 0 || type >= (int32_t)(sizeof names / sizeof names[0])) return "UNKNOWN";
    return names[type];
}

static nnb_fb_t model_fb(const nnb_model_t *m, nnb_error_t *err) {
    nnb_fb_t fb;
    fb.b = m->buf;
    fb.n = m->len;
    fb.err = err;
    return fb;
}

nnb_status_t nnb_tensor_meta(const nnb_model_t *m, uint32_t t, nnb_tmeta_t *tm, nnb_error_t *err) {
    nnb_fb_t fb = model_fb(m, err);
    nnb_fbv_t tensors, shape, buffers, data, scales, zps;
    nnb_fbt_t tt, bt, qt;
    uint8_t type, var;
    uint32_t bi, i;
    uint64_t count = 1, off, size;
    int present;
    memset(tm, 0, sizeof *tm);
    tensors.pos = m->tensors_vec;
    tensors.n = m->n_tensors;
    if (nnb_fb_vec_table(&fb, &tensors, t, &tt) || nnb_fb_vec(&fb, &tt, 0, 4, &shape) ||
        nnb_fb_u8(&fb, &tt, 1, 0, &type) || nnb_fb_u32(&fb, &tt, 2, 0, &bi) ||
        nnb_fb_u8(&fb, &tt, 5, 0, &var))
        return NNB_INVALID_ENCODING;
    if (shape.n > NNB_MAX_DIMS)
        return nnb_fail(err, NNB_UNSUPPORTED, "tensor %u: rank %u above %u", t, shape.n,
                        (unsigned)NNB_MAX_DIMS);
    tm->type = type;
    tm->rank = shape.n;
    tm->is_variable = var;
    for (i = 0; i < shape.n; ++i) {
        const int32_t d = nnb_rd_i32(m->buf + shape.pos + 4u * i);
        if (d < 1)
            return nnb_fail(err, NNB_UNSUPPORTED, "tensor %u: dynamic or empty dimension %d", t,
                            (int)d);
        tm->dims[i] = d;
        count *= (uint64_t)d;
        if (count > 0x7FFFFFFFu)
            return nnb_fail(err, NNB_TOO_LARGE, "tensor %u: too many elements", t);
    }
    tm->count = (uint32_t)count;
    if ((uint64_t)tm->count * nnb_type_size(type) > 0x7FFFFFFFu)
        return nnb_fail(err, NNB_TOO_LARGE, "tensor %u: too large", t);
    tm->bytes = tm->count * nnb_type_size(type);
    /* buffer */
    buffers.pos = m->buffers_vec;
    buffers.n = m->n_buffers;
    if (bi >= buffers.n)
        return nnb_fail(err, NNB_INVALID_ENCODING, "tensor %u: buffer index out of range", t);
    if (nnb_fb_vec_table(&fb, &buffers, bi, &bt) || nnb_fb_vec(&fb, &bt, 0, 1, &data) ||
        nnb_fb_u64(&fb, &bt, 1, &off) || nnb_fb_u64(&fb, &bt, 2, &size))
        return NNB_INVALID_ENCODING;
    if (data.n > 0) {
        tm->data = m->buf + data.pos;
        tm->data_len = data.n;
    } else if (off > 1u) { /* data stored after the flatbuffer (large models) */
        if (off > m->len || size > (uint64_t)m->len - off)
            return nnb_fail(err, NNB_INVALID_ENCODING, "tensor %u: buffer outside the model", t);
        if (size > 0) {
            tm->data = m->buf + off;
            tm->data_len = (uint32_t)size;
        }
    }
    if (tm->data && tm->bytes && tm->data_len != tm->bytes)
        return nnb_fail(err, NNB_INVALID_ENCODING, "tensor %u: buffer has %u bytes, shape needs %u",
                        t, tm->data_len, tm->bytes);
    /* quantization */
    if (nnb_fb_table(&fb, &tt, 4, &qt, &present)) return NNB_INVALID_ENCODING;
    if (present) {
        if (nnb_fb_vec(&fb, &qt, 2, 4, &scales) || nnb_fb_vec(&fb, &qt, 3, 8, &zps) ||
            nnb_fb_i32(&fb, &qt, 6, 0, &tm->qdim))
            return NNB_INVALID_ENCODING;
        tm->n_scales = scales.n;
        tm->scales_pos = scales.pos;
        tm->n_zps = zps.n;
        tm->zps_pos = zps.pos;
        if (scales.n > 0) tm->scale = nnb_rd_f32(m->buf + scales.pos);
        if (zps.n > 0) {
            const int64_t z = nnb_rd_i64(m->buf + zps.pos);
            if (z < -2147483647 || z > 2147483647)
                return nnb_fail(err, NNB_INVALID_ENCODING, "tensor %u: zero point out of range", t);
            tm->zero_point = (int32_t)z;
        }
        /* per-channel consistency is checked where scales are used (filters): TFLM ignores
         * bias quantization, and real models carry inconsistent bias metadata */
    }
    return NNB_OK;
}

static nnb_status_t io_vec(nnb_model_t *m, nnb_fb_t *fb, const nnb_fbt_t *sg, unsigned id,
                           uint16_t *dst, uint32_t *n, const char *what, nnb_error_t *err) {
    nnb_fbv_t v;
    uint32_t i;
    if (nnb_fb_vec(fb, sg, id, 4, &v)) return NNB_INVALID_ENCODING;
    if (v.n == 0) return nnb_fail(err, NNB_INVALID_ENCODING, "subgraph has no %s", what);
    if (v.n > NNB_MAX_IO)
        return nnb_fail(err, NNB_TOO_LARGE, "%u graph %s (limit %u)", v.n, what,
                        (unsigned)NNB_MAX_IO);
    for (i = 0; i < v.n; ++i) {
        const int32_t t = nnb_rd_i32(m->buf + v.pos + 4u * i);
        if (t < 0 || (uint32_t)t >= m->n_tensors)
            return nnb_fail(err, NNB_INVALID_ENCODING, "graph %s: tensor index out of range", what);
        dst[i] = (uint16_t)t;
    }
    *n = v.n;
    return NNB_OK;
}

/* Greedy by size over lifetimes (like TFLM's GreedyMemoryPlanner): each buffer, largest
 * first, goes to the lowest offset that overlaps no placed buffer alive at the same time. */
static void plan(nnb_model_t *m) {
    const uint32_t n = m->n_tensors;
    uint32_t i, total = 0;
    for (;;) {
        uint32_t best = n, best_size = 0, cand;
        int moved;
        for (i = 0; i < n; ++i) {
            if (m->t_owner[i] != i || m->t_first[i] == UNSET) continue;
            if (m->tensor_offset[i] != NNB_CONST_OFFSET) continue; /* placed */
            if (best == n || m->tensor_bytes[i] > best_size) {
                best = i;
                best_size = m->tensor_bytes[i];
            }
        }
        if (best == n) break;
        best_size = nnb_align_up(best_size ? best_size : 1u, NNB_ALIGN);
        cand = 0;
        do {
            moved = 0;
            for (i = 0; i < n; ++i) {
                uint32_t o, sz;
                if (i == best || m->t_owner[i] != i || m->t_first[i] == UNSET) continue;
                o = m->tensor_offset[i];
                if (o == NNB_CONST_OFFSET) continue;
                if (m->t_first[i] > m->t_last[best] || m->t_first[best] > m->t_last[i]) continue;
                sz = nnb_align_up(m->tensor_bytes[i] ? m->tensor_bytes[i] : 1u, NNB_ALIGN);
                if (cand < o + sz && o < cand + best_size) {
                    cand = o + sz;
                    moved = 1;
                }
            }
        } while (moved);
        m->tensor_offset[best] = cand;
        if (cand + best_size > total) total = cand + best_size;
    }
    for (i = 0; i < n; ++i)
        if (m->t_owner[i] != i) m->tensor_offset[i] = m->tensor_offset[m->t_owner[i]];
    m->activation_bytes = total;
}

static uint64_t op_macs(const nnb_op_t *r) {
    const uint64_t out_px = (uint64_t)r->batches * (uint64_t)r->out_h * (uint64_t)r->out_w;
    switch (r->kind) {
    case NNB_K_CONV:
    case NNB_K_CONV_1X1:
        return out_px * (uint64_t)r->out_c * (uint64_t)r->k_h * (uint64_t)r->k_w * (uint64_t)r->k_c;
    case NNB_K_DWCONV:
        return out_px * (uint64_t)r->out_c * (uint64_t)r->k_h * (uint64_t)r->k_w;
    case NNB_K_FC:
        return (uint64_t)r->batches * (uint64_t)r->out_c * (uint64_t)r->in_c;
    case NNB_K_AVGPOOL:
    case NNB_K_MAXPOOL:
        return out_px * (uint64_t)r->out_c * (uint64_t)r->k_h * (uint64_t)r->k_w;
    default:
        return r->n;
    }
}

nnb_status_t nnb_model_parse(nnb_model_t *m, const uint8_t *buf, size_t len, nnb_error_t *err) {
    nnb_fb_t fb;
    nnb_fbt_t root, sg;
    nnb_fbv_t subgraphs, v;
    uint32_t version, i, j;
    nnb_alloc_t dry;
    nnb_status_t st;
    if (err) err->msg[0] = '\0';
    if (!m) return nnb_fail(err, NNB_INVALID_ARGUMENT, "model is NULL");
    memset(m, 0, sizeof *m);
    if (!buf) return nnb_fail(err, NNB_INVALID_ARGUMENT, "model buffer is NULL");
    if (len < 8u)
        return nnb_fail(err, NNB_INVALID_ENCODING, "model too short (%u bytes)", (unsigned)len);
    if (len > 0x7FFFFFFFu) return nnb_fail(err, NNB_TOO_LARGE, "model above 2 GiB");
    m->buf = buf;
    m->len = (uint32_t)len;
    fb = model_fb(m, err);
    if (nnb_fb_root(&fb, &root) || nnb_fb_u32(&fb, &root, 0, 0, &version))
        return NNB_INVALID_ENCODING;
    if (version != 3u)
        return nnb_fail(err, NNB_UNSUPPORTED, "schema version %u (expected 3)", version);
    if (nnb_fb_vec(&fb, &root, 1, 4, &v)) return NNB_INVALID_ENCODING;
    m->opcodes_vec = v.pos;
    m->n_opcodes = v.n;
    if (nnb_fb_vec(&fb, &root, 4, 4, &v)) return NNB_INVALID_ENCODING;
    m->buffers_vec = v.pos;
    m->n_buffers = v.n;
    if (nnb_fb_vec(&fb, &root, 2, 4, &subgraphs)) return NNB_INVALID_ENCODING;
    if (subgraphs.n == 0) return nnb_fail(err, NNB_INVALID_ENCODING, "model has no subgraph");
    if (nnb_fb_vec_table(&fb, &subgraphs, 0, &sg)) return NNB_INVALID_ENCODING;
    if (nnb_fb_vec(&fb, &sg, 0, 4, &v)) return NNB_INVALID_ENCODING;
    m->tensors_vec = v.pos;
    m->n_tensors = v.n;
    if (nnb_fb_vec(&fb, &sg, 3, 4, &v)) return NNB_INVALID_ENCODING;
    m->ops_vec = v.pos;
    m->n_ops = v.n;
    if (m->n_tensors > NNB_MAX_TENSORS)
        return nnb_fail(err, NNB_TOO_LARGE, "model has %u tensors (limit %u)", m->n_tensors,
                        (unsigned)NNB_MAX_TENSORS);
    if (m->n_ops > NNB_MAX_OPS)
        return nnb_fail(err, NNB_TOO_LARGE, "model has %u operators (limit %u)", m->n_ops,
                        (unsigned)NNB_MAX_OPS);
    if (m->n_ops == 0) return nnb_fail(err, NNB_INVALID_ENCODING, "subgraph has no operators");
    if ((st = io_vec(m, &fb, &sg, 1, m->inputs, &m->n_inputs, "inputs", err)) ||
        (st = io_vec(m, &fb, &sg, 2, m->outputs, &m->n_outputs, "outputs", err)))
        return st;

    /* tensors: metadata, sizes; lifetimes start unset */
    for (i = 0; i < m->n_tensors; ++i) {
        nnb_tmeta_t tm;
        if ((st = nnb_tensor_meta(m, i, &tm, err))) return st;
        m->tensor_bytes[i] = tm.data ? 0u : tm.bytes;
        m->tensor_offset[i] = NNB_CONST_OFFSET;
        m->t_first[i] = UNSET;
        m->t_last[i] = 0;
        m->t_owner[i] = (uint16_t)i;
        if (tm.data) m->t_first[i] = UNSET - 1u; /* constant: readable, not planned */
    }
    for (i = 0; i < m->n_inputs; ++i) {
        nnb_tmeta_t tm;
        const uint32_t t = m->inputs[i];
        if ((st = nnb_tensor_meta(m, t, &tm, err))) return st;
        if (tm.data) return nnb_fail(err, NNB_INVALID_ENCODING, "graph input %u is a constant", i);
        if (!tm.bytes)
            return nnb_fail(err, NNB_UNSUPPORTED, "graph input %u: tensor type %s", i,
                            nnb_type_name(tm.type));
        m->t_first[t] = 0;
    }

    /* every operator supported? (reported before any other operator problem) */
    for (i = 0; i < m->n_ops; ++i) {
        nnb_fbt_t op;
        int32_t code;
        if ((st = nnb_op_code(m, i, &code, &op, err))) return st;
        if (!nnb_op_supported(code))
            return nnb_fail(err, NNB_UNSUPPORTED, "unsupported operator %s (%d)", nnb_op_name(code),
                            (int)code);
    }

    /* operators in execution order: dataflow, validation, persistent sizes */
    dry.base = NULL;
    dry.used = 0;
    for (i = 0; i < m->n_ops; ++i) {
        nnb_op_t rec;
        nnb_fbt_t op;
        nnb_fbv_t ins, outs;
        int32_t code;
        if ((st = nnb_op_code(m, i, &code, &op, err))) return st;
        if (nnb_fb_vec(&fb, &op, 1, 4, &ins) || nnb_fb_vec(&fb, &op, 2, 4, &outs))
            return NNB_INVALID_ENCODING;
        for (j = 0; j < ins.n; ++j) {
            const int32_t t = nnb_rd_i32(buf + ins.pos + 4u * j);
            if (t == -1) continue;
            if (t < 0 || (uint32_t)t >= m->n_tensors)
                return nnb_fail(err, NNB_INVALID_ENCODING, "operator %u: tensor index out of range",
                                i);
            if (m->t_first[t] == UNSET)
                return nnb_fail(err, NNB_INVALID_ENCODING,
                                "operator %u reads tensor %u before it is written", i, (unsigned)t);
            if (m->t_first[t] != UNSET - 1u && m->t_last[t] < i) m->t_last[t] = (uint16_t)i;
        }
        if (outs.n == 0) return nnb_fail(err, NNB_INVALID_ENCODING, "operator %u has no output", i);
        for (j = 0; j < outs.n; ++j) {
            const int32_t t = nnb_rd_i32(buf + outs.pos + 4u * j);
            if (t < 0 || (uint32_t)t >= m->n_tensors)
                return nnb_fail(err, NNB_INVALID_ENCODING, "operator %u: tensor index out of range",
                                i);
            if (m->t_first[t] != UNSET)
                return nnb_fail(err, NNB_INVALID_ENCODING,
                                "operator %u writes tensor %u that is already defined", i,
                                (unsigned)t);
            m->t_first[t] = (uint16_t)i;
            m->t_last[t] = (uint16_t)i;
        }
        if ((st = nnb_op_prepare(m, i, &rec, &dry, NULL, err))) return st;
        m->macs += op_macs(&rec);
        if (rec.kind == NNB_K_NOP) { /* RESHAPE: output shares the input's buffer */
            const int32_t tin = nnb_rd_i32(buf + ins.pos);
            const int32_t tout = nnb_rd_i32(buf + outs.pos);
            m->t_owner[tout] = m->t_owner[tin];
        }
    }
    for (i = 0; i < m->n_outputs; ++i) {
        const uint32_t t = m->outputs[i];
        if (m->t_first[t] == UNSET || m->t_first[t] == UNSET - 1u)
            return nnb_fail(err, NNB_INVALID_ENCODING, "graph output %u is never written", i);
        m->t_last[t] = (uint16_t)m->n_ops;
    }
    /* constants are not planned; aliases extend their owner's lifetime */
    for (i = 0; i < m->n_tensors; ++i) {
        if (m->t_first[i] == UNSET - 1u) m->t_first[i] = UNSET;
        if (m->t_owner[i] != i && m->t_first[i] != UNSET) {
            const uint16_t o = m->t_owner[i];
            if (m->t_last[i] > m->t_last[o]) m->t_last[o] = m->t_last[i];
        }
    }
    plan(m);
    m->persistent_bytes =
        nnb_align_up(m->n_ops * (uint32_t)sizeof(nnb_op_t), 8u) + nnb_align_up(dry.used, NNB_ALIGN);
    return NNB_OK;
}

uint64_t nnb_model_macs(const nnb_model_t *m) {
    return m->macs;
}
size_t nnb_arena_activation_bytes(const nnb_model_t *m) {
    return m->activation_bytes;
}
size_t nnb_arena_persistent_bytes(const nnb_model_t *m) {
    return m->persistent_bytes;
}
size_t nnb_arena_required(const nnb_model_t *m) {
    /* alignment slack + persistent records and tables + activations */
    return (size_t)(NNB_ALIGN - 1u) + nnb_align_up(m->persistent_bytes, NNB_ALIGN) +
           m->activation_bytes;
}

uint32_t nnb_input_count(const nnb_model_t *m) {
    return m->n_inputs;
}
uint32_t nnb_output_count(const nnb_model_t *m) {
    return m->n_outputs;
}

static nnb_status_t io_info(const nnb_model_t *m, uint32_t t, nnb_tensor_info_t *info) {
    nnb_tmeta_t tm;
    uint32_t i;
    nnb_status_t st = nnb_tensor_meta(m, t, &tm, NULL);
    if (st) return st;
    memset(info, 0, sizeof *info);
    info->type = tm.type;
    info->rank = tm.rank;
    for (i = 0; i < tm.rank; ++i)
        info->dims[i] = tm.dims[i];
    info->scale = tm.n_scales ? tm.scale : 0.0f;
    info->zero_point = tm.n_scales ? tm.zero_point : 0;
    info->bytes = tm.bytes;
    return NNB_OK;
}

nnb_status_t nnb_input_info(const nnb_model_t *m, uint32_t index, nnb_tensor_info_t *info) {
    if (!m || !info || index >= m->n_inputs) return NNB_INVALID_ARGUMENT;
    return io_info(m, m->inputs[index], info);
}

nnb_status_t nnb_output_info(const nnb_model_t *m, uint32_t index, nnb_tensor_info_t *info) {
    if (!m || !info || index >= m->n_outputs) return NNB_INVALID_ARGUMENT;
    return io_info(m, m->outputs[index], info);
}

const char *nnb_status_name(nnb_status_t s) {
    switch (s) {
    case NNB_OK:
        return "ok";
    case NNB_INVALID_ENCODING:
        return "invalid_encoding";
    case NNB_UNSUPPORTED:
        return "unsupported_operation";
    case NNB_TOO_LARGE:
        return "too_large";
    case NNB_INVALID_ARGUMENT:
        return "invalid_argument";
    case NNB_RUNTIME:
        return "runtime_error";
    }
    return "unknown";
}

size_t nnb_model_struct_size(void) {
    return sizeof(nnb_model_t);
}
size_t nnb_interp_struct_size(void) {
    return sizeof(nnb_interp_t);
}
