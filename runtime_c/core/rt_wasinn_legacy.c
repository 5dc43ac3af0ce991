/* The legacy `wasi_nn` module (WAMR's pre-ephemeral ABI, still imported by EVP/AITRIOS apps),
 * per docs/abi.md section 8. It shares the graph and context tables of `wasi_ephemeral_nn`
 * (rt_wasinn.c); only the structures, the input representation and the output size differ. */
#include <string.h>

#include "rt_internal.h"

#define LEGACY_TENSOR_SIZE 12u /* {u32 dims_ptr, u8 type + 3 pad, u32 data_ptr} */
#define LEGACY_TYPE_FP32 1u    /* legacy numbering: fp16 0, fp32 1, up8 2, ip32 3 */
#define EPHEMERAL_TYPE_F32 1u

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t rt_wasinn_legacy_load(rt_instance_t *inst, uint32_t builder_array_ptr, uint32_t encoding,
                               uint32_t target, uint32_t graph_out) {
    /* graph_builder_array {u32 buf -> graph_builder[{u32 buf, u32 size}], u32 size} */
    const uint8_t *arr = rt_guest_ptr(inst, builder_array_ptr, 8u);
    if (arr == NULL) return RT_NN_INVALID_ARGUMENT;
    return rt_wasinn_load(inst, get_u32(arr), get_u32(arr + 4), encoding, target, graph_out);
}

/* A device path such as "./models/x.tflite" names the model "x" of the runtime's model store
 * (the only directory an instance is given): the last path component without ".tflite". A ".."
 * component, which would leave the store, is refused. */
uint32_t rt_wasinn_legacy_load_by_name(rt_instance_t *inst, uint32_t name_ptr, uint32_t name_len,
                                       uint32_t graph_out) {
    const uint8_t *s = rt_guest_ptr(inst, name_ptr, name_len);
    if (s == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t start = 0;
    for (uint32_t i = 0; i <= name_len; i++) {
        if (i == name_len || s[i] == '/') {
            if (i - start == 2u && s[start] == '.' && s[start + 1] == '.') {
                rt_logf("instance %lu: wasi-nn load_by_name: '..' leaves the model store",
                        (unsigned long)inst->id);
                return RT_NN_INVALID_ARGUMENT;
            }
            if (i < name_len) start = i + 1u;
        }
    }
    uint32_t len = name_len - start;
    static const char suffix[] = ".tflite";
    uint32_t sl = (uint32_t)sizeof suffix - 1u;
    if (len > sl && memcmp(s + name_len - sl, suffix, sl) == 0) len -= sl;
    return rt_wasinn_load_by_name(inst, name_ptr + start, len, graph_out);
}

uint32_t rt_wasinn_legacy_set_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                    uint32_t tensor_ptr) {
    const uint8_t *t = rt_guest_ptr(inst, tensor_ptr, LEGACY_TENSOR_SIZE);
    if (t == NULL) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *d = rt_guest_ptr(inst, get_u32(t), 8u); /* tensor_dimensions {buf, size} */
    if (d == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t dims_ptr = get_u32(d), dims_len = get_u32(d + 4);
    if (t[4] != LEGACY_TYPE_FP32 || dims_len > RT_NN_MAX_DIMS) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *dims = rt_guest_ptr(inst, dims_ptr, dims_len * 4u);
    if (dims == NULL) return RT_NN_INVALID_ARGUMENT;
    /* No data length in the legacy tensor: the data is prod(dims) f32 values. */
    uint32_t count = 1;
    for (uint32_t i = 0; i < dims_len; i++) {
        uint32_t e = get_u32(dims + 4u * i);
        if (e != 0 && count > UINT32_MAX / 4u / e) return RT_NN_INVALID_ARGUMENT;
        count *= e;
    }
    return rt_wasinn_set_input_fields(inst, ctx, index, dims_ptr, dims_len, EPHEMERAL_TYPE_F32,
                                      get_u32(t + 8), count * 4u);
}

uint32_t rt_wasinn_legacy_get_output(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                     uint32_t out_ptr, uint32_t size_ptr) {
    uint8_t *size = rt_guest_ptr(inst, size_ptr, 4u);
    if (size == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t elements = get_u32(size); /* in and out: counted in f32 elements */
    uint32_t max = elements > UINT32_MAX / 4u ? UINT32_MAX : elements * 4u;
    uint32_t written = 0;
    uint32_t err = rt_wasinn_get_output_to(inst, ctx, index, out_ptr, max, true, &written);
    if (err == RT_NN_SUCCESS) put_u32(size, written / 4u);
    return err;
}
