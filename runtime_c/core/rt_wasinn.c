/* wasi-nn (witx/preview1 ABI) over the NN backend seam, per docs/abi.md section 3.
 * Out-pointers are written only on success; every guest pointer is bounds-checked first. */
#include <math.h>
#include <string.h>

#include "rt_internal.h"

#define ENCODING_TFLITE 4u
#define TARGET_CPU 0u
#define TENSOR_STRUCT_SIZE 20u

enum { WT_F16 = 0, WT_F32 = 1, WT_F64 = 2, WT_U8 = 3, WT_I32 = 4, WT_I64 = 5 };

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void nn_log(const rt_instance_t *inst, const char *what, const char *msg) {
    if (msg[0] != '\0') rt_logf("instance %lu: wasi-nn %s: %s", (unsigned long)inst->id, what, msg);
}

static rt_graph_slot_t *find_graph(rt_instance_t *inst, uint32_t handle) {
    if (handle == 0) return NULL;
    for (uint32_t i = 0; i < RT_MAX_GRAPHS; i++) {
        if (inst->graphs[i].handle == handle) return &inst->graphs[i];
    }
    return NULL;
}

static rt_ctx_slot_t *find_ctx(rt_instance_t *inst, uint32_t handle) {
    if (handle == 0) return NULL;
    for (uint32_t i = 0; i < RT_MAX_CONTEXTS; i++) {
        if (inst->ctxs[i].handle == handle) return &inst->ctxs[i];
    }
    return NULL;
}

static rt_graph_slot_t *free_graph_slot(rt_instance_t *inst) {
    for (uint32_t i = 0; i < RT_MAX_GRAPHS; i++) {
        if (inst->graphs[i].handle == 0) return &inst->graphs[i];
    }
    return NULL;
}

/* Load model bytes into a free slot and write the handle to graph_out (already checked). */
static uint32_t load_into(rt_instance_t *inst, rt_graph_slot_t *slot, const uint8_t *model,
                          uint32_t len, uint8_t *owned, int32_t model_index, uint8_t *graph_out) {
    char msg[RT_MSG_MAX] = "";
    rt_nn_graph_t *g = NULL;
    uint32_t err = rt_nn_graph_load(model, len, &g, msg, sizeof msg);
    if (err != RT_NN_SUCCESS) {
        nn_log(inst, "load", msg);
        rt_free(owned);
        return err;
    }
    slot->handle = inst->next_graph++;
    slot->g = g;
    slot->owned = owned;
    slot->model_index = model_index;
    rt_model_ref(model_index, +1);
    put_u32(graph_out, slot->handle);
    return RT_NN_SUCCESS;
}

uint32_t rt_wasinn_load(rt_instance_t *inst, uint32_t builder_ptr, uint32_t builder_len,
                        uint32_t encoding, uint32_t target, uint32_t graph_out) {
    uint8_t *out = rt_guest_ptr(inst, graph_out, 4);
    if (out == NULL) return RT_NN_INVALID_ARGUMENT;
    if (builder_len > UINT32_MAX / 8u) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *b = rt_guest_ptr(inst, builder_ptr, builder_len * 8u);
    if (b == NULL) return RT_NN_INVALID_ARGUMENT;
    if (encoding != ENCODING_TFLITE) return RT_NN_INVALID_ENCODING;
    if (target != TARGET_CPU) return RT_NN_UNSUPPORTED_OPERATION;
    if (builder_len != 1) return RT_NN_INVALID_ARGUMENT;
    uint32_t len = get_u32(b + 4);
    const uint8_t *src = rt_guest_ptr(inst, get_u32(b), len);
    if (src == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_graph_slot_t *slot = free_graph_slot(inst);
    if (slot == NULL) return RT_NN_BUSY;
    /* The guest may change its memory later: the graph keeps its own copy. */
    uint8_t *copy = (uint8_t *)rt_malloc(len ? len : 1u);
    if (copy == NULL) {
        rt_logf("instance %lu: wasi-nn load: model of %lu bytes does not fit",
                (unsigned long)inst->id, (unsigned long)len);
        return RT_NN_TOO_LARGE;
    }
    if (len) memcpy(copy, src, len);
    return load_into(inst, slot, copy, len, copy, -1, out);
}

static bool name_valid(const uint8_t *s, uint32_t len) {
    if (len < 1 || len > RT_NAME_MAX) return false;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

uint32_t rt_wasinn_load_by_name(rt_instance_t *inst, uint32_t name_ptr, uint32_t name_len,
                                uint32_t graph_out) {
    return rt_wasinn_load_by_name_with_config(inst, name_ptr, name_len, 0, 0, graph_out);
}

uint32_t rt_wasinn_load_by_name_with_config(rt_instance_t *inst, uint32_t name_ptr,
                                            uint32_t name_len, uint32_t config_ptr,
                                            uint32_t config_len, uint32_t graph_out) {
    uint8_t *out = rt_guest_ptr(inst, graph_out, 4);
    const uint8_t *name = rt_guest_ptr(inst, name_ptr, name_len);
    if (out == NULL || name == NULL || !name_valid(name, name_len)) return RT_NN_INVALID_ARGUMENT;
    if (config_len > 0) {
        const uint8_t *cfg = rt_guest_ptr(inst, config_ptr, config_len);
        char backend[32];
        if (cfg == NULL ||
            rt_json_backend((const char *)cfg, config_len, backend, sizeof backend) != 0) {
            return RT_NN_INVALID_ARGUMENT;
        }
        if (backend[0] != '\0' && strcmp(backend, rt_nn_backend_name()) != 0) {
            rt_logf("instance %lu: wasi-nn: backend '%s' is not in this firmware (has '%s')",
                    (unsigned long)inst->id, backend, rt_nn_backend_name());
            return RT_NN_UNSUPPORTED_OPERATION;
        }
    }
    const uint8_t *data = NULL;
    uint32_t size = 0;
    int32_t index = -1;
    if (!rt_model_find((const char *)name, name_len, &data, &size, &index)) {
        return RT_NN_NOT_FOUND;
    }
    rt_graph_slot_t *slot = free_graph_slot(inst);
    if (slot == NULL) return RT_NN_BUSY;
    return load_into(inst, slot, data, size, NULL, index, out);
}

uint32_t rt_wasinn_init_execution_context(rt_instance_t *inst, uint32_t graph, uint32_t ctx_out) {
    uint8_t *out = rt_guest_ptr(inst, ctx_out, 4);
    if (out == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_graph_slot_t *g = find_graph(inst, graph);
    if (g == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_ctx_slot_t *slot = NULL;
    for (uint32_t i = 0; i < RT_MAX_CONTEXTS && slot == NULL; i++) {
        if (inst->ctxs[i].handle == 0) slot = &inst->ctxs[i];
    }
    if (slot == NULL) return RT_NN_BUSY;
    char msg[RT_MSG_MAX] = "";
    rt_nn_ctx_t *c = NULL;
    uint32_t err = rt_nn_ctx_init(g->g, &c, msg, sizeof msg);
    if (err != RT_NN_SUCCESS) {
        nn_log(inst, "init_execution_context", msg);
        return err;
    }
    memset(slot, 0, sizeof *slot);
    slot->handle = inst->next_ctx++;
    slot->graph = graph;
    slot->c = c;
    slot->g = g->g;
    put_u32(out, slot->handle);
    return RT_NN_SUCCESS;
}

static bool is_quantized(const rt_nn_tensor_info_t *info) {
    return info->type == RT_NN_T_INT8 || info->type == RT_NN_T_UINT8;
}

/* q = clamp(round_half_away_from_zero(x / scale) + zero_point, qmin, qmax); NaN -> zero_point */
static int32_t quantize(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
    if (isnan(x)) return zp;
    float v = roundf(x / scale) + (float)zp;
    if (!(v >= (float)qmin)) return qmin; /* also catches -inf */
    if (v > (float)qmax) return qmax;
    return (int32_t)v;
}

uint32_t rt_wasinn_set_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                             uint32_t tensor_ptr) {
    if (find_ctx(inst, ctx) == NULL) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *t = rt_guest_ptr(inst, tensor_ptr, TENSOR_STRUCT_SIZE);
    if (t == NULL) return RT_NN_INVALID_ARGUMENT;
    /* The type is one byte; the padding is ignored. */
    return rt_wasinn_set_input_fields(inst, ctx, index, get_u32(t), get_u32(t + 4), t[8],
                                      get_u32(t + 12), get_u32(t + 16));
}

uint32_t rt_wasinn_set_input_fields(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                    uint32_t dims_ptr, uint32_t dims_len, uint8_t type,
                                    uint32_t data_ptr, uint32_t data_len) {
    rt_ctx_slot_t *c = find_ctx(inst, ctx);
    if (c == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_nn_tensor_info_t info;
    if (index >= rt_nn_io_count(c->g, 0) || rt_nn_io_info(c->g, 0, index, &info) != 0) {
        return RT_NN_INVALID_ARGUMENT;
    }
    if (dims_len > RT_NN_MAX_DIMS) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *dims = rt_guest_ptr(inst, dims_ptr, dims_len * 4u);
    const uint8_t *data = rt_guest_ptr(inst, data_ptr, data_len);
    if (dims == NULL || data == NULL || dims_len != info.rank) return RT_NN_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < dims_len; i++) {
        if (get_u32(dims + 4u * i) != info.dims[i]) return RT_NN_INVALID_ARGUMENT;
    }
    uint8_t *dst = (uint8_t *)rt_nn_input_buf(c->c, index);
    if (dst == NULL) return RT_NN_RUNTIME_ERROR;
    if (is_quantized(&info)) {
        uint8_t rep = type == WT_U8 ? RT_REP_RAW : type == WT_F32 ? RT_REP_F32 : RT_REP_NONE;
        if (rep == RT_REP_NONE || (c->rep != RT_REP_NONE && c->rep != rep)) {
            return RT_NN_INVALID_ARGUMENT;
        }
        if (rep == RT_REP_RAW) {
            if (data_len != info.count) return RT_NN_INVALID_ARGUMENT;
            memcpy(dst, data, data_len);
        } else {
            if (data_len / 4u != info.count || data_len % 4u != 0 || info.scale == 0.0f) {
                return RT_NN_INVALID_ARGUMENT;
            }
            int32_t qmin = info.type == RT_NN_T_INT8 ? -128 : 0;
            int32_t qmax = info.type == RT_NN_T_INT8 ? 127 : 255;
            for (uint32_t i = 0; i < info.count; i++) {
                uint32_t bits = get_u32(data + 4u * i);
                float x;
                memcpy(&x, &bits, 4);
                dst[i] = (uint8_t)quantize(x, info.scale, info.zero_point, qmin, qmax);
            }
        }
        c->rep = rep;
    } else {
        uint8_t want = info.type == RT_NN_T_FLOAT32 ? WT_F32
                       : info.type == RT_NN_T_INT32 ? WT_I32
                       : info.type == RT_NN_T_INT64 ? WT_I64
                                                    : 0xFF;
        if (type != want || data_len != info.bytes) return RT_NN_INVALID_ARGUMENT;
        memcpy(dst, data, data_len);
    }
    c->inputs_set |= 1u << index;
    return RT_NN_SUCCESS;
}

uint8_t *rt_wasinn_raw_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                             rt_nn_tensor_info_t *info) {
    rt_ctx_slot_t *c = find_ctx(inst, ctx);
    if (c == NULL || index >= rt_nn_io_count(c->g, 0) || rt_nn_io_info(c->g, 0, index, info) != 0) {
        return NULL;
    }
    if (!is_quantized(info) || c->rep == RT_REP_F32) return NULL;
    return (uint8_t *)rt_nn_input_buf(c->c, index);
}

void rt_wasinn_raw_input_set(rt_instance_t *inst, uint32_t ctx, uint32_t index) {
    rt_ctx_slot_t *c = find_ctx(inst, ctx);
    if (c == NULL) return;
    c->rep = RT_REP_RAW;
    c->inputs_set |= 1u << index;
}

uint32_t rt_wasinn_compute(rt_instance_t *inst, uint32_t ctx) {
    rt_ctx_slot_t *c = find_ctx(inst, ctx);
    if (c == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t n = rt_nn_io_count(c->g, 0);
    uint32_t all = n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1u;
    if ((c->inputs_set & all) != all) return RT_NN_INVALID_ARGUMENT;
    /* Compute consumes the inputs (docs/abi.md): the backend may use them as scratch. */
    c->inputs_set = 0;
    char msg[RT_MSG_MAX] = "";
    uint32_t err = rt_nn_invoke(c->c, msg, sizeof msg);
    if (err != RT_NN_SUCCESS) {
        nn_log(inst, "compute", msg);
        c->computed = false;
        return err;
    }
    c->computed = true;
    return RT_NN_SUCCESS;
}

uint32_t rt_wasinn_get_output(rt_instance_t *inst, uint32_t ctx, uint32_t index, uint32_t out_ptr,
                              uint32_t out_max, uint32_t written_ptr) {
    if (find_ctx(inst, ctx) == NULL) return RT_NN_INVALID_ARGUMENT;
    uint8_t *written = rt_guest_ptr(inst, written_ptr, 4);
    if (written == NULL) return RT_NN_INVALID_ARGUMENT;
    uint32_t size = 0;
    uint32_t err = rt_wasinn_get_output_to(inst, ctx, index, out_ptr, out_max, false, &size);
    if (err == RT_NN_SUCCESS) put_u32(written, size);
    return err;
}

uint32_t rt_wasinn_get_output_to(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                 uint32_t out_ptr, uint32_t out_max, bool only_f32,
                                 uint32_t *written) {
    rt_ctx_slot_t *c = find_ctx(inst, ctx);
    if (c == NULL) return RT_NN_INVALID_ARGUMENT;
    rt_nn_tensor_info_t info;
    if (index >= rt_nn_io_count(c->g, 1) || rt_nn_io_info(c->g, 1, index, &info) != 0) {
        return RT_NN_INVALID_ARGUMENT;
    }
    if (!c->computed) return RT_NN_INVALID_ARGUMENT;
    bool f32 = is_quantized(&info) && c->rep == RT_REP_F32;
    if (only_f32 && !f32 && info.type != RT_NN_T_FLOAT32) {
        rt_logf("instance %lu: wasi-nn get_output: output %lu is neither float32 nor quantized",
                (unsigned long)inst->id, (unsigned long)index);
        return RT_NN_UNSUPPORTED_OPERATION;
    }
    uint32_t size = f32 ? info.count * 4u : info.bytes;
    if (out_max < size) return RT_NN_TOO_LARGE;
    uint8_t *out = rt_guest_ptr(inst, out_ptr, size);
    if (out == NULL) return RT_NN_INVALID_ARGUMENT;
    const uint8_t *src = (const uint8_t *)rt_nn_output_buf(c->c, index);
    if (src == NULL) return RT_NN_RUNTIME_ERROR;
    if (f32) {
        for (uint32_t i = 0; i < info.count; i++) {
            int32_t q = info.type == RT_NN_T_INT8 ? (int32_t)(int8_t)src[i] : (int32_t)src[i];
            float v = (float)(q - info.zero_point) * info.scale;
            uint32_t bits;
            memcpy(&bits, &v, 4);
            put_u32(out + 4u * i, bits);
        }
    } else {
        memcpy(out, src, size);
    }
    *written = size;
    return RT_NN_SUCCESS;
}

void rt_wasinn_release(rt_instance_t *inst) {
    for (uint32_t i = 0; i < RT_MAX_CONTEXTS; i++) {
        if (inst->ctxs[i].handle != 0) rt_nn_ctx_free(inst->ctxs[i].c);
        memset(&inst->ctxs[i], 0, sizeof inst->ctxs[i]);
    }
    for (uint32_t i = 0; i < RT_MAX_GRAPHS; i++) {
        rt_graph_slot_t *g = &inst->graphs[i];
        if (g->handle != 0) {
            rt_nn_graph_free(g->g);
            rt_free(g->owned);
            rt_model_ref(g->model_index, -1);
        }
        memset(g, 0, sizeof *g);
    }
}

/* ---- a strict, allocation-free JSON checker (RFC 8259 subset: no duplicate-key check) ---- */

typedef struct {
    const char *s;
    uint32_t len, pos, depth;
} json_t;

static void json_ws(json_t *j) {
    while (j->pos < j->len) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        j->pos++;
    }
}

static int json_value(json_t *j, char *str_out, size_t cap);

/* Parses a string; copies its raw bytes (escapes kept as written) into out if out != NULL. */
static int json_string(json_t *j, char *out, size_t cap) {
    if (j->pos >= j->len || j->s[j->pos] != '"') return -1;
    j->pos++;
    size_t n = 0;
    while (j->pos < j->len) {
        unsigned char c = (unsigned char)j->s[j->pos++];
        if (c == '"') {
            if (out != NULL) out[n < cap ? n : cap - 1] = '\0';
            return 0;
        }
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (j->pos >= j->len) return -1;
            char e = j->s[j->pos++];
            if (e == 'u') {
                for (int k = 0; k < 4; k++) {
                    if (j->pos >= j->len) return -1;
                    char h = j->s[j->pos++];
                    bool hex =
                        (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
                    if (!hex) return -1;
                }
            } else if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
                return -1;
            }
            c = 0xFF; /* escaped: never matches a plain backend name */
        }
        if (out != NULL && n + 1 < cap) out[n++] = (char)c;
    }
    return -1;
}

static int json_number(json_t *j) {
    uint32_t start = j->pos;
    if (j->pos < j->len && j->s[j->pos] == '-') j->pos++;
    uint32_t digits = j->pos;
    while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
        j->pos++;
    if (j->pos == digits) return -1;
    if (j->s[digits] == '0' && j->pos - digits > 1) return -1;
    if (j->pos < j->len && j->s[j->pos] == '.') {
        uint32_t f = ++j->pos;
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
            j->pos++;
        if (j->pos == f) return -1;
    }
    if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-')) j->pos++;
        uint32_t e = j->pos;
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
            j->pos++;
        if (j->pos == e) return -1;
    }
    return j->pos > start ? 0 : -1;
}

static int json_lit(json_t *j, const char *lit) {
    size_t n = strlen(lit);
    if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n) != 0) return -1;
    j->pos += (uint32_t)n;
    return 0;
}

/* Object members; on the top level (backend != NULL) records the "backend" string. */
static int json_object(json_t *j, char *backend, size_t cap) {
    j->pos++; /* '{' */
    json_ws(j);
    if (j->pos < j->len && j->s[j->pos] == '}') {
        j->pos++;
        return 0;
    }
    for (;;) {
        char key[16];
        json_ws(j);
        if (json_string(j, key, sizeof key) != 0) return -1;
        json_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != ':') return -1;
        j->pos++;
        json_ws(j);
        if (backend != NULL && strcmp(key, "backend") == 0) {
            if (json_string(j, backend, cap) != 0) return -1; /* must be a string */
        } else if (json_value(j, NULL, 0) != 0) {
            return -1;
        }
        json_ws(j);
        if (j->pos >= j->len) return -1;
        char c = j->s[j->pos++];
        if (c == '}') return 0;
        if (c != ',') return -1;
    }
}

static int json_value(json_t *j, char *str_out, size_t cap) {
    (void)str_out;
    (void)cap;
    json_ws(j);
    if (j->pos >= j->len || ++j->depth > 16) return -1;
    char c = j->s[j->pos];
    int r;
    if (c == '{') {
        r = json_object(j, NULL, 0);
    } else if (c == '[') {
        j->pos++;
        json_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ']') {
            j->pos++;
            r = 0;
        } else {
            for (;;) {
                if (json_value(j, NULL, 0) != 0) return -1;
                json_ws(j);
                if (j->pos >= j->len) return -1;
                char d = j->s[j->pos++];
                if (d == ']') break;
                if (d != ',') return -1;
            }
            r = 0;
        }
    } else if (c == '"') {
        r = json_string(j, NULL, 0);
    } else if (c == 't') {
        r = json_lit(j, "true");
    } else if (c == 'f') {
        r = json_lit(j, "false");
    } else if (c == 'n') {
        r = json_lit(j, "null");
    } else {
        r = json_number(j);
    }
    j->depth--;
    return r;
}

int rt_json_backend(const char *s, uint32_t len, char *backend, size_t cap) {
    json_t j = {s, len, 0, 0};
    backend[0] = '\0';
    json_ws(&j);
    if (j.pos >= j.len || j.s[j.pos] != '{') return -1;
    if (json_object(&j, backend, cap) != 0) return -1;
    json_ws(&j);
    return j.pos == j.len ? 0 : -1;
}
