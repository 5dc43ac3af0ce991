/*
 * rt_nn.h: the NN backend seam. One implementation per backend (nn/builtin_glue.c over
 * nn/builtin/nnb.h, nn/tflm/ for TensorFlow Lite Micro), picked at build time from the
 * target's runtime.nn_backend (RT_NN_* in rt_config.h).
 *
 * Status values are wasi-nn error codes (rt_nn_error_t in rt.h). Allocation happens only in
 * rt_nn_graph_load and rt_nn_ctx_init (through rt_malloc); rt_nn_invoke allocates nothing.
 */
#ifndef RT_NN_H
#define RT_NN_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_NN_MAX_DIMS 6

/* Element types, numbered as TFLite's TensorType. */
typedef enum {
    RT_NN_T_FLOAT32 = 0,
    RT_NN_T_INT32 = 2,
    RT_NN_T_UINT8 = 3,
    RT_NN_T_INT64 = 4,
    RT_NN_T_INT8 = 9
} rt_nn_type_t;

typedef struct {
    uint8_t type; /* rt_nn_type_t */
    uint32_t rank;
    uint32_t dims[RT_NN_MAX_DIMS];
    float scale;        /* 0 when not quantized */
    int32_t zero_point; /* 0 when not quantized */
    uint32_t count;     /* elements */
    uint32_t bytes;     /* count * element size */
} rt_nn_tensor_info_t;

typedef struct rt_nn_graph rt_nn_graph_t;
typedef struct rt_nn_ctx rt_nn_ctx_t;

const char *rt_nn_backend_name(void);
/* model must stay valid and unchanged until rt_nn_graph_free. */
uint32_t rt_nn_graph_load(const uint8_t *model, size_t len, rt_nn_graph_t **out, char *msg,
                          size_t cap);
void rt_nn_graph_free(rt_nn_graph_t *g);
uint32_t rt_nn_io_count(const rt_nn_graph_t *g, int output);
uint32_t rt_nn_io_info(const rt_nn_graph_t *g, int output, uint32_t index,
                       rt_nn_tensor_info_t *info);
uint32_t rt_nn_ctx_init(rt_nn_graph_t *g, rt_nn_ctx_t **out, char *msg, size_t cap);
void rt_nn_ctx_free(rt_nn_ctx_t *c);
/* Buffers of graph inputs / outputs inside the context (NULL for a bad index). */
void *rt_nn_input_buf(rt_nn_ctx_t *c, uint32_t index);
const void *rt_nn_output_buf(const rt_nn_ctx_t *c, uint32_t index);
uint32_t rt_nn_invoke(rt_nn_ctx_t *c, char *msg, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RT_NN_H */
