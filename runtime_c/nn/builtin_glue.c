/* NN backend seam (rt_nn.h) over the built-in int8 backend (builtin/nnb.h). */
#include <string.h>

#include "nnb.h"
#include "rt_nn.h"
#include "rt_nn_nnb.h"

struct rt_nn_graph {
    nnb_model_t model;
};

struct rt_nn_ctx {
    nnb_interp_t it;
    void *arena;
};

static void copy_msg(char *msg, size_t cap, const nnb_error_t *err) {
    if (msg != NULL && cap > 0) rt_fmt(msg, cap, "%s", err->msg);
}

const char *rt_nn_backend_name(void) {
    return "builtin";
}

uint32_t rt_nn_graph_load(const uint8_t *model, size_t len, rt_nn_graph_t **out, char *msg,
                          size_t cap) {
    rt_nn_graph_t *g = (rt_nn_graph_t *)rt_malloc(sizeof *g);
    if (g == NULL) {
        rt_fmt(msg, cap, "does not fit: graph needs %lu bytes", (unsigned long)sizeof *g);
        return RT_NN_TOO_LARGE;
    }
    nnb_error_t err = {""};
    nnb_status_t s = nnb_model_parse(&g->model, model, len, &err);
    if (s != NNB_OK) {
        copy_msg(msg, cap, &err);
        rt_free(g);
        return rt_nn_nnb_status(s);
    }
    *out = g;
    return RT_NN_SUCCESS;
}

void rt_nn_graph_free(rt_nn_graph_t *g) {
    rt_free(g);
}

uint32_t rt_nn_io_count(const rt_nn_graph_t *g, int output) {
    return output ? nnb_output_count(&g->model) : nnb_input_count(&g->model);
}

uint32_t rt_nn_io_info(const rt_nn_graph_t *g, int output, uint32_t index,
                       rt_nn_tensor_info_t *info) {
    return rt_nn_nnb_io_info(&g->model, output, index, info);
}

uint32_t rt_nn_ctx_init(rt_nn_graph_t *g, rt_nn_ctx_t **out, char *msg, size_t cap) {
    size_t need = nnb_arena_required(&g->model);
    rt_nn_ctx_t *c = (rt_nn_ctx_t *)rt_malloc(sizeof *c);
    void *arena = rt_malloc(need ? need : 1u);
    if (c == NULL || arena == NULL) {
        rt_free(c);
        rt_free(arena);
        rt_fmt(msg, cap, "does not fit: arena needs %lu bytes, %lu free", (unsigned long)need,
               (unsigned long)(RT_HEAP_BUDGET_BYTES - rt_mem_in_use()));
        return RT_NN_TOO_LARGE;
    }
    nnb_error_t err = {""};
    nnb_status_t s = nnb_interp_init(&c->it, &g->model, arena, need, &err);
    if (s != NNB_OK) {
        copy_msg(msg, cap, &err);
        rt_free(c);
        rt_free(arena);
        return rt_nn_nnb_status(s);
    }
    c->arena = arena;
    *out = c;
    return RT_NN_SUCCESS;
}

void rt_nn_ctx_free(rt_nn_ctx_t *c) {
    if (c == NULL) return;
    rt_free(c->arena);
    rt_free(c);
}

void *rt_nn_input_buf(rt_nn_ctx_t *c, uint32_t index) {
    return nnb_input_data(&c->it, index);
}

const void *rt_nn_output_buf(const rt_nn_ctx_t *c, uint32_t index) {
    return nnb_output_data(&c->it, index);
}

uint32_t rt_nn_invoke(rt_nn_ctx_t *c, char *msg, size_t cap) {
    nnb_error_t err = {""};
    nnb_status_t s = nnb_invoke(&c->it, &err);
    if (s != NNB_OK) copy_msg(msg, cap, &err);
    return rt_nn_nnb_status(s);
}
