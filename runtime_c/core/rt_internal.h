/* Core-internal declarations shared by core/ and the engines' import glue. */
#ifndef RT_INTERNAL_H
#define RT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rt.h"
#include "rt_engine.h"
#include "rt_nn.h"

typedef struct {
    uint8_t buf[RT_LOG_RING_BYTES];
    uint32_t head; /* next write position */
    uint32_t used; /* bytes held (oldest are overwritten when full) */
    uint32_t dropped;
} rt_log_ring_t;

typedef struct {
    uint32_t handle; /* 0 = free slot */
    rt_nn_graph_t *g;
    uint8_t *owned;      /* model bytes copied from the guest (load), or NULL */
    int32_t model_index; /* uploaded model referenced (load_by_name), or -1 */
} rt_graph_slot_t;

typedef enum { RT_REP_NONE = 0, RT_REP_RAW = 1, RT_REP_F32 = 2 } rt_rep_t;

typedef struct {
    uint32_t handle; /* 0 = free slot */
    uint32_t graph;  /* graph handle */
    rt_nn_ctx_t *c;
    const rt_nn_graph_t *g;
    uint8_t rep;         /* rt_rep_t */
    uint32_t inputs_set; /* bit per input */
    bool computed;
} rt_ctx_slot_t;

typedef struct rt_instance {
    uint32_t id; /* 0 = free slot */
    const rt_eng_module_t *module;
    rt_eng_instance_t *eng;
    rt_log_ring_t log;
    rt_graph_slot_t graphs[RT_MAX_GRAPHS];
    rt_ctx_slot_t ctxs[RT_MAX_CONTEXTS];
    uint32_t next_graph, next_ctx; /* handles are never reused within an instance */
} rt_instance_t;

/* Guest pointer check: a host pointer to [ptr, ptr+len) in linear memory, or NULL. */
uint8_t *rt_guest_ptr(rt_instance_t *inst, uint32_t ptr, uint32_t len);
void rt_log_ring_write(rt_log_ring_t *r, const uint8_t *data, uint32_t len);

/* Model registry lookup for load_by_name: data/size and an index for reference counting
 * (-1 for a built-in model). */
bool rt_model_find(const char *name, uint32_t name_len, const uint8_t **data, uint32_t *size,
                   int32_t *index);
void rt_model_ref(int32_t index, int delta);

/* wasi-nn (docs/abi.md section 3): every function returns a wasi-nn error code. */
uint32_t rt_wasinn_load(rt_instance_t *inst, uint32_t builder_ptr, uint32_t builder_len,
                        uint32_t encoding, uint32_t target, uint32_t graph_out);
uint32_t rt_wasinn_load_by_name(rt_instance_t *inst, uint32_t name_ptr, uint32_t name_len,
                                uint32_t graph_out);
uint32_t rt_wasinn_load_by_name_with_config(rt_instance_t *inst, uint32_t name_ptr,
                                            uint32_t name_len, uint32_t config_ptr,
                                            uint32_t config_len, uint32_t graph_out);
uint32_t rt_wasinn_init_execution_context(rt_instance_t *inst, uint32_t graph, uint32_t ctx_out);
uint32_t rt_wasinn_set_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                             uint32_t tensor_ptr);
uint32_t rt_wasinn_compute(rt_instance_t *inst, uint32_t ctx);
uint32_t rt_wasinn_get_output(rt_instance_t *inst, uint32_t ctx, uint32_t index, uint32_t out_ptr,
                              uint32_t out_max, uint32_t written_ptr);
void rt_wasinn_release(rt_instance_t *inst);

/* JSON object check for load_by_name_with_config: 0 ok (backend copied, "" if absent), -1 bad. */
int rt_json_backend(const char *s, uint32_t len, char *backend, size_t cap);

/* WASI subset (docs/abi.md section 4): errno values. */
#define RT_WASI_ESUCCESS 0u
#define RT_WASI_EBADF 8u
#define RT_WASI_EFAULT 21u
#define RT_WASI_EINVAL 28u
#define RT_WASI_ESPIPE 70u

uint32_t rt_wasi_fd_write(rt_instance_t *inst, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                          uint32_t nwritten);
uint32_t rt_wasi_fd_read(rt_instance_t *inst, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                         uint32_t nread);
uint32_t rt_wasi_fd_close(rt_instance_t *inst, uint32_t fd);
uint32_t rt_wasi_fd_seek(rt_instance_t *inst, uint32_t fd, int64_t offset, uint32_t whence,
                         uint32_t newoffset);
uint32_t rt_wasi_fd_fdstat_get(rt_instance_t *inst, uint32_t fd, uint32_t stat);
void rt_wasi_proc_exit(rt_instance_t *inst, uint32_t code);
uint32_t rt_wasi_sizes_get(rt_instance_t *inst, uint32_t count_ptr, uint32_t size_ptr);
uint32_t rt_wasi_argv_get(rt_instance_t *inst, uint32_t argv_ptr, uint32_t buf_ptr);
uint32_t rt_wasi_clock_time_get(rt_instance_t *inst, uint32_t id, uint64_t precision, uint32_t out);
uint32_t rt_wasi_random_get(rt_instance_t *inst, uint32_t buf, uint32_t len);
uint32_t rt_wasi_sched_yield(rt_instance_t *inst);

#endif /* RT_INTERNAL_H */
