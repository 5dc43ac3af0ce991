/* Interpreter: lays out the caller's arena (operator records, per-operator tables,
 * activations), prepares every operator once, runs them in order. */
#include "nnb_internal.h"

nnb_status_t nnb_interp_init(nnb_interp_t *it, const nnb_model_t *m, void *arena, size_t arena_size,
                             nnb_error_t *err) {
    uintptr_t a;
    uint8_t *base;
    size_t need, pad;
    nnb_alloc_t al;
    nnb_op_t *ops;
    uint32_t i, records;
    nnb_status_t st;
    if (err) err->msg[0] = '\0';
    if (!it || !m || !m->buf)
        return nnb_fail(err, NNB_INVALID_ARGUMENT, "interpreter or model is NULL");
    memset(it, 0, sizeof *it);
    need = nnb_arena_required(m);
    if (!arena || arena_size < need)
        return nnb_fail(err, NNB_TOO_LARGE, "arena of %u bytes is too small: %u needed",
                        (unsigned)arena_size, (unsigned)need);
    a = (uintptr_t)arena;
    pad = (size_t)((NNB_ALIGN - (a % NNB_ALIGN)) % NNB_ALIGN);
    base = (uint8_t *)arena + pad;
    records = nnb_align_up(m->n_ops * (uint32_t)sizeof(nnb_op_t), 8u);
    ops = (nnb_op_t *)(void *)base;
    al.base = base + records;
    al.used = 0;
    it->model = m;
    it->arena = base;
    it->activations = base + nnb_align_up(m->persistent_bytes, NNB_ALIGN);
    it->ops = ops;
    it->n_ops = m->n_ops;
    for (i = 0; i < m->n_ops; ++i) {
        if ((st = nnb_op_prepare(m, i, &ops[i], &al, it->activations, err))) {
            it->model = NULL;
            return st;
        }
    }
    if (records + nnb_align_up(al.used, NNB_ALIGN) > m->persistent_bytes) {
        it->model = NULL; /* cannot happen: the parse-time dry run counted the same */
        return nnb_fail(err, NNB_RUNTIME, "internal: persistent size mismatch");
    }
    return NNB_OK;
}

static uint32_t io_tensor(const nnb_interp_t *it, uint32_t index, int output) {
    const nnb_model_t *m = it->model;
    if (output) return index < m->n_outputs ? m->outputs[index] : NNB_MAX_TENSORS;
    return index < m->n_inputs ? m->inputs[index] : NNB_MAX_TENSORS;
}

void *nnb_input_data(nnb_interp_t *it, uint32_t index) {
    uint32_t t;
    if (!it || !it->model) return NULL;
    t = io_tensor(it, index, 0);
    if (t >= NNB_MAX_TENSORS) return NULL;
    return it->activations + it->model->tensor_offset[t];
}

const void *nnb_output_data(const nnb_interp_t *it, uint32_t index) {
    uint32_t t;
    if (!it || !it->model) return NULL;
    t = io_tensor(it, index, 1);
    if (t >= NNB_MAX_TENSORS) return NULL;
    return it->activations + it->model->tensor_offset[t];
}

nnb_status_t nnb_set_input(nnb_interp_t *it, uint32_t index, const void *data, size_t len,
                           nnb_error_t *err) {
    uint32_t t;
    if (err) err->msg[0] = '\0';
    if (!it || !it->model)
        return nnb_fail(err, NNB_INVALID_ARGUMENT, "interpreter not initialised");
    t = io_tensor(it, index, 0);
    if (t >= NNB_MAX_TENSORS) return nnb_fail(err, NNB_INVALID_ARGUMENT, "no input %u", index);
    if (!data || len != it->model->tensor_bytes[t])
        return nnb_fail(err, NNB_INVALID_ARGUMENT, "input %u needs %u bytes, got %u", index,
                        it->model->tensor_bytes[t], (unsigned)len);
    memcpy(it->activations + it->model->tensor_offset[t], data, len);
    it->invoked = 0;
    return NNB_OK;
}

nnb_status_t nnb_get_output(const nnb_interp_t *it, uint32_t index, void *dst, size_t cap,
                            size_t *written, nnb_error_t *err) {
    uint32_t t, n;
    if (err) err->msg[0] = '\0';
    if (!it || !it->model)
        return nnb_fail(err, NNB_INVALID_ARGUMENT, "interpreter not initialised");
    t = io_tensor(it, index, 1);
    if (t >= NNB_MAX_TENSORS) return nnb_fail(err, NNB_INVALID_ARGUMENT, "no output %u", index);
    n = it->model->tensor_bytes[t];
    if (!dst || cap < n)
        return nnb_fail(err, NNB_TOO_LARGE, "output %u needs %u bytes, buffer has %u", index, n,
                        (unsigned)cap);
    memcpy(dst, it->activations + it->model->tensor_offset[t], n);
    if (written) *written = n;
    return NNB_OK;
}

nnb_status_t nnb_invoke(nnb_interp_t *it, nnb_error_t *err) {
    const nnb_op_t *op;
    uint32_t i;
    if (err) err->msg[0] = '\0';
    if (!it || !it->model)
        return nnb_fail(err, NNB_INVALID_ARGUMENT, "interpreter not initialised");
    op = (const nnb_op_t *)it->ops;
    for (i = 0; i < it->n_ops; ++i, ++op) {
        switch (op->kind) {
        case NNB_K_CONV:
            nnb_k_conv(op);
            break;
        case NNB_K_CONV_1X1:
            nnb_k_conv_1x1(op);
            break;
        case NNB_K_DWCONV:
            nnb_k_dwconv(op);
            break;
        case NNB_K_FC:
            nnb_k_fc(op);
            break;
        case NNB_K_AVGPOOL:
            nnb_k_avgpool(op);
            break;
        case NNB_K_MAXPOOL:
            nnb_k_maxpool(op);
            break;
        case NNB_K_ADD:
            nnb_k_add(op);
            break;
        case NNB_K_COPY:
            memcpy(op->out, op->in0, op->n);
            break;
        case NNB_K_NOP:
            break;
        case NNB_K_SOFTMAX:
            nnb_k_softmax(op);
            break;
        case NNB_K_LUT8:
            nnb_k_lut8(op);
            break;
        case NNB_K_QUANT_F32:
            nnb_k_quant_f32(op);
            break;
        case NNB_K_DEQUANT_F32:
            nnb_k_dequant_f32(op);
            break;
        default:
            return nnb_fail(err, NNB_RUNTIME, "operator %u: corrupt record", i);
        }
    }
    it->invoked = 1;
    return NNB_OK;
}
