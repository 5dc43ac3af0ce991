// NN backend seam (rt_nn.h) over TensorFlow Lite Micro (esp-tflite-micro) with ESP-NN's kernels:
// the production backend of the ESP32 targets, built from the same sources on every platform.
//
// - Before TFLM sees a model, the built-in backend's parser validates it completely
//   (nnb_model_parse: every offset, vtable, bound, tensor index, buffer size and operator
//   parameter) and rt_tflm_verify checks what TFLM reads beyond that (alignment, options fields,
//   metadata). A model that fails is invalid_encoding (unsupported_operation for an operator or
//   tensor type), with the reason; TFLM never parses unchecked bytes.
// - The op resolver registers exactly the operators of the target's models (rt_tflm_ops.h,
//   generated at build time); any other operator is unsupported_operation naming it.
// - Arena: from the runtime's accounted heap (the target's RAM budget). The first context of a
//   graph measures the need (AllocateTensors in all the free heap, then the smallest arena from
//   arena_used_bytes up that allocates); every later context gets exactly that.
// - TFLM's log lines (MicroPrintf) become the wasi-nn error message of the failing call.
#include <cstdint>
#include <cstring>
#include <new>

extern "C" {
#include "nnb_internal.h"
}
#include "rt_nn.h"
#include "rt_nn_nnb.h"
#include "rt_tflm_ops.h"
#include "rt_tflm_verify.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

// The first line TFLM logged (MicroPrintf) since the call began: the most specific reason.
// Filled by rt_tflm_log.cc (TFLM's DebugLog) where that replaces upstream's debug_log.cc.
extern "C" char rt_tflm_log[RT_MSG_MAX];
char rt_tflm_log[RT_MSG_MAX];

namespace {

using Resolver = tflite::MicroMutableOpResolver<RT_TFLM_OP_COUNT>;
constexpr size_t kAlign = 16;

void tflm_msg(char *msg, size_t cap, const char *what) {
    rt_fmt(msg, cap, "%s%s%s", what, rt_tflm_log[0] ? ": " : "", rt_tflm_log);
}

bool registered(int32_t code) {
#define RT_TFLM_IS(NAME, CODE, METHOD)                                                             \
    if (code == (CODE)) return true;
    RT_TFLM_OPS(RT_TFLM_IS)
#undef RT_TFLM_IS
    return false;
}

} // namespace

struct rt_nn_graph {
    nnb_model_t model; // validated; serves the input/output descriptions
    uint8_t *copy;     // 16-byte aligned copy when the caller's bytes were not aligned
    const tflite::Model *tfl;
    Resolver resolver;
    size_t arena_need; // measured by the first context (0: not yet)
};

struct rt_nn_ctx {
    tflite::MicroInterpreter *interp;
    alignas(tflite::MicroInterpreter) unsigned char storage[sizeof(tflite::MicroInterpreter)];
    uint8_t *arena;
};

extern "C" {

const char *rt_nn_backend_name(void) {
    return "tflm";
}

uint32_t rt_nn_graph_load(const uint8_t *model, size_t len, rt_nn_graph_t **out, char *msg,
                          size_t cap) {
    void *mem = rt_malloc(sizeof(rt_nn_graph_t));
    if (mem == nullptr) {
        rt_fmt(msg, cap, "does not fit: graph needs %lu bytes",
               (unsigned long)sizeof(rt_nn_graph_t));
        return RT_NN_TOO_LARGE;
    }
    rt_nn_graph_t *g = new (mem) rt_nn_graph_t();
    const uint8_t *buf = model;
    if (((uintptr_t)model % kAlign) != 0 && len > 0) {
        // FlatBuffers accessors load scalars in place: TFLM needs an aligned model.
        g->copy = (uint8_t *)rt_malloc(len);
        if (g->copy == nullptr) {
            rt_nn_graph_free(g);
            rt_fmt(msg, cap, "does not fit: aligned copy of the model needs %lu bytes",
                   (unsigned long)len);
            return RT_NN_TOO_LARGE;
        }
        memcpy(g->copy, model, len);
        buf = g->copy;
    }
    nnb_error_t err = {""};
    nnb_status_t s = nnb_model_parse(&g->model, buf, len, &err);
    for (uint32_t i = 0; s == NNB_OK && i < g->model.n_ops; i++) {
        int32_t code = 0;
        nnb_fbt_t op;
        s = nnb_op_code(&g->model, i, &code, &op, &err);
        if (s == NNB_OK && !registered(code)) {
            rt_fmt(err.msg, sizeof err.msg, "unsupported operator %s (%d)", nnb_op_name(code),
                   (int)code);
            s = NNB_UNSUPPORTED;
        }
    }
    if (s == NNB_OK) s = rt_tflm_verify(&g->model, &err);
    if (s != NNB_OK) {
        rt_fmt(msg, cap, "%s", err.msg);
        rt_nn_graph_free(g);
        return rt_nn_nnb_status(s);
    }
    g->tfl = tflite::GetModel(buf);
#define RT_TFLM_ADD(NAME, CODE, METHOD) g->resolver.METHOD();
    RT_TFLM_OPS(RT_TFLM_ADD)
#undef RT_TFLM_ADD
    *out = g;
    return RT_NN_SUCCESS;
}

void rt_nn_graph_free(rt_nn_graph_t *g) {
    if (g == nullptr) return;
    rt_free(g->copy);
    g->~rt_nn_graph();
    rt_free(g);
}

uint32_t rt_nn_io_count(const rt_nn_graph_t *g, int output) {
    return output ? nnb_output_count(&g->model) : nnb_input_count(&g->model);
}

uint32_t rt_nn_io_info(const rt_nn_graph_t *g, int output, uint32_t index,
                       rt_nn_tensor_info_t *info) {
    return rt_nn_nnb_io_info(&g->model, output, index, info);
}

} // extern "C"

namespace {

void ctx_destroy(rt_nn_ctx_t *c) {
    if (c->interp != nullptr) c->interp->~MicroInterpreter();
    c->interp = nullptr;
    rt_free(c->arena);
    c->arena = nullptr;
}

// An interpreter over a fresh arena of `size` bytes with its tensors allocated.
uint32_t ctx_build(rt_nn_graph_t *g, rt_nn_ctx_t *c, size_t size, char *msg, size_t cap) {
    c->arena = (uint8_t *)rt_malloc(size);
    if (c->arena == nullptr) {
        rt_fmt(msg, cap, "does not fit: arena needs %lu bytes, %lu free", (unsigned long)size,
               (unsigned long)(RT_HEAP_BUDGET_BYTES - rt_mem_in_use()));
        return RT_NN_TOO_LARGE;
    }
    rt_tflm_log[0] = '\0';
    c->interp = new (c->storage) tflite::MicroInterpreter(g->tfl, g->resolver, c->arena, size);
    if (c->interp->AllocateTensors() != kTfLiteOk) {
        // The arena is the whole free heap (or the measured need): a failure that is not a
        // kernel's Prepare is the model not fitting.
        bool memory = strstr(rt_tflm_log, "too small") != nullptr ||
                      strstr(rt_tflm_log, "Failed to allocate") != nullptr;
        tflm_msg(msg, cap, memory ? "does not fit" : "TFLM AllocateTensors");
        ctx_destroy(c);
        return memory ? RT_NN_TOO_LARGE : RT_NN_RUNTIME_ERROR;
    }
    return RT_NN_SUCCESS;
}

} // namespace

extern "C" {

uint32_t rt_nn_ctx_init(rt_nn_graph_t *g, rt_nn_ctx_t **out, char *msg, size_t cap) {
    void *mem = rt_malloc(sizeof(rt_nn_ctx_t));
    if (mem == nullptr) {
        rt_fmt(msg, cap, "does not fit: context needs %lu bytes",
               (unsigned long)sizeof(rt_nn_ctx_t));
        return RT_NN_TOO_LARGE;
    }
    rt_nn_ctx_t *c = new (mem) rt_nn_ctx_t();
    if (g->arena_need == 0) {
        size_t in_use = rt_mem_in_use();
        size_t free_bytes = RT_HEAP_BUDGET_BYTES > in_use ? RT_HEAP_BUDGET_BYTES - in_use : 0;
        // Headroom for the allocator's own block headers.
        size_t probe = free_bytes > 4 * kAlign ? free_bytes - 4 * kAlign : 0;
        uint32_t r = ctx_build(g, c, probe, msg, cap);
        if (r != RT_NN_SUCCESS) {
            rt_free(c);
            return r;
        }
        // arena_used_bytes leaves out the temporaries of Prepare and the planner: grow from
        // it until AllocateTensors succeeds, and keep the size for the next contexts.
        size_t need = c->interp->arena_used_bytes() + kAlign;
        ctx_destroy(c);
        for (;;) {
            r = ctx_build(g, c, need, msg, cap);
            if (r == RT_NN_SUCCESS || need >= probe) break; /* the probe allocated */
            need += need / 64 + 64;
        }
        if (r != RT_NN_SUCCESS) {
            rt_free(c);
            return r;
        }
        g->arena_need = need;
        if (msg != nullptr && cap > 0) msg[0] = '\0'; /* the growth steps' messages */
        *out = c;
        return RT_NN_SUCCESS;
    }
    uint32_t r = ctx_build(g, c, g->arena_need, msg, cap);
    if (r != RT_NN_SUCCESS) {
        rt_free(c);
        return r;
    }
    *out = c;
    return RT_NN_SUCCESS;
}

void rt_nn_ctx_free(rt_nn_ctx_t *c) {
    if (c == nullptr) return;
    ctx_destroy(c);
    rt_free(c);
}

void *rt_nn_input_buf(rt_nn_ctx_t *c, uint32_t index) {
    if (index >= c->interp->inputs_size()) return nullptr;
    return c->interp->input(index)->data.data;
}

const void *rt_nn_output_buf(const rt_nn_ctx_t *c, uint32_t index) {
    if (index >= c->interp->outputs_size()) return nullptr;
    return c->interp->output(index)->data.data;
}

uint32_t rt_nn_invoke(rt_nn_ctx_t *c, char *msg, size_t cap) {
    rt_tflm_log[0] = '\0';
    if (c->interp->Invoke() != kTfLiteOk) {
        tflm_msg(msg, cap, "TFLM Invoke");
        return RT_NN_RUNTIME_ERROR;
    }
    return RT_NN_SUCCESS;
}

} // extern "C"
