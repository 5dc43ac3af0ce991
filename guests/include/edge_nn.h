/* Small helpers over wasi_nn.h for guests of this project (header-only). */
#ifndef EDGE_NN_H
#define EDGE_NN_H

#include <stdint.h>
#include <string.h>

#include "wasi_nn.h"

#define EDGE_EXPORT(name) __attribute__((export_name(name)))

static inline uint32_t edge_nn_load_named(const char *name, wasi_nn_graph_t *graph) {
    return wasi_nn_load_by_name(name, (uint32_t)strlen(name), graph);
}

/* Fills a tensor struct with zeroed padding, as docs/abi.md requires. */
static inline void edge_nn_tensor(wasi_nn_tensor_t *t, const uint32_t *dims, uint32_t dims_len,
                                  wasi_nn_type_t type, const void *data, uint32_t data_len) {
    memset(t, 0, sizeof *t);
    t->dims = dims;
    t->dims_len = dims_len;
    t->type = (uint8_t)type;
    t->data = (const uint8_t *)data;
    t->data_len = data_len;
}

/* Index of the largest int8 value; ties go to the lowest index. */
static inline int32_t edge_nn_argmax_i8(const int8_t *v, uint32_t n) {
    int32_t best = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (v[i] > v[best]) best = (int32_t)i;
    }
    return best;
}

#endif
