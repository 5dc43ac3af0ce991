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

/* edge_image (docs/abi.md section 7): pixels shared by an image and its views. */
#define RT_MAX_IMAGES 8u /* per instance, views included: exactly 8 (docs/abi.md) */
#define RT_IMAGE_MAX_SIDE 4096u

typedef struct {
    uint32_t refs;  /* handles using these pixels */
    uint32_t bytes; /* pixel bytes that follow this header */
} rt_image_buf_t;

typedef struct {
    uint32_t handle; /* 0 = free slot */
    rt_image_buf_t *buf;
    uint32_t offset;        /* of the top-left pixel in buf's pixels */
    uint16_t width, height; /* <= RT_IMAGE_MAX_SIDE */
    uint16_t stride;        /* bytes from one row to the next (<= 3 * RT_IMAGE_MAX_SIDE) */
    uint8_t format;
} rt_image_slot_t;

typedef struct rt_instance {
    uint32_t id; /* 0 = free slot */
    const rt_eng_module_t *module;
    rt_eng_instance_t *eng;
    rt_log_ring_t log;
    rt_graph_slot_t graphs[RT_MAX_GRAPHS];
    rt_ctx_slot_t ctxs[RT_MAX_CONTEXTS];
    uint32_t next_graph, next_ctx; /* handles are never reused within an instance */
    rt_image_slot_t images[RT_MAX_IMAGES];
    uint32_t next_image;
    /* WASI arguments and environment (ARGS): argc strings then envc strings, each
     * NUL-terminated, in one rt_malloc'd block (NULL: none); the byte counts include the NULs. */
    uint8_t *args;
    uint32_t argc, argv_bytes, envc, environ_bytes;
    bool called;               /* a CALL has run (ARGS is refused from then on) */
    struct rt_pipe_inst *pipe; /* the deployment's instance it runs as (rt_pipe.c), or NULL */
} rt_instance_t;

/* Instances for the pipeline executor (rt_core.c): created with their own memory cap and
 * owner, found by id, destroyed directly (DROP refuses instances with a pipe). */
rt_status_t rt_instance_create(bool by_sha256, const char *name, const uint8_t sha256[32],
                               uint32_t max_memory_bytes, struct rt_pipe_inst *pipe,
                               rt_instance_t **out, char *msg, size_t cap);
rt_instance_t *rt_instance_find(uint32_t id);
void rt_instance_destroy(rt_instance_t *inst);

/* The pipeline executor (rt_pipe.c, docs/pipeline.md section 9). */
bool rt_pipe_supported(void);
/* Runs every runnable task one slice; *wait_ms: how long the serve loop may wait for input
 * before the next timer (0: tasks are still runnable). */
void rt_pipe_run(uint32_t *wait_ms);
/* Ends every task (each at its next EVP call) and empties the deployment. */
void rt_pipe_reset(void);

/* env: the EVP module SDK (docs/abi.md section 6), for deployment instances. */
uint32_t rt_evp_initialize(rt_instance_t *inst);
uint32_t rt_evp_get_workspace_directory(rt_instance_t *inst, uint32_t h, uint32_t type);
uint32_t rt_evp_set_configuration_callback(rt_instance_t *inst, uint32_t h, uint32_t cb,
                                           uint32_t user);
uint32_t rt_evp_set_message_callback(rt_instance_t *inst, uint32_t h, uint32_t cb, uint32_t user);
uint32_t rt_evp_set_rpc_callback(rt_instance_t *inst, uint32_t h, uint32_t cb, uint32_t user);
uint32_t rt_evp_process_event(rt_instance_t *inst, uint32_t h, uint32_t timeout_ms);
uint32_t rt_evp_send_message(rt_instance_t *inst, uint32_t h, uint32_t topic, uint32_t buf,
                             uint32_t len, uint32_t cb, uint32_t user);
uint32_t rt_evp_send_state(rt_instance_t *inst, uint32_t h, uint32_t topic, uint32_t buf,
                           uint32_t len, uint32_t cb, uint32_t user);
uint32_t rt_evp_send_telemetry(rt_instance_t *inst, uint32_t h, uint32_t entries, uint32_t n,
                               uint32_t cb, uint32_t user);
uint32_t rt_evp_send_rpc_response(rt_instance_t *inst, uint32_t h, uint64_t id, uint32_t response,
                                  uint32_t status, uint32_t cb, uint32_t user);
uint32_t rt_evp_blob_operation(rt_instance_t *inst, uint32_t h, uint32_t type, uint32_t op,
                               uint32_t request, uint32_t local_store, uint32_t cb, uint32_t user);

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
/* set_input with the tensor struct's fields already read (the legacy ABI's tensor differs). */
uint32_t rt_wasinn_set_input_fields(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                    uint32_t dims_ptr, uint32_t dims_len, uint8_t type,
                                    uint32_t data_ptr, uint32_t data_len);
/* get_output into guest memory, the byte count returned in *written (host memory); only_f32:
 * unsupported_operation unless the output is float32 or dequantized to f32. */
uint32_t rt_wasinn_get_output_to(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                 uint32_t out_ptr, uint32_t out_max, bool only_f32,
                                 uint32_t *written);
/* The legacy `wasi_nn` module (docs/abi.md section 8), over the same tables. */
uint32_t rt_wasinn_legacy_load(rt_instance_t *inst, uint32_t builder_array_ptr, uint32_t encoding,
                               uint32_t target, uint32_t graph_out);
uint32_t rt_wasinn_legacy_load_by_name(rt_instance_t *inst, uint32_t name_ptr, uint32_t name_len,
                                       uint32_t graph_out);
uint32_t rt_wasinn_legacy_set_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                    uint32_t tensor_ptr);
uint32_t rt_wasinn_legacy_get_output(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                                     uint32_t out_ptr, uint32_t size_ptr);
void rt_wasinn_release(rt_instance_t *inst);

/* For edge_image.to_tensor: the raw (u8 path) input buffer of input `index` of context `ctx`
 * and its description, or NULL (invalid_argument: bad handle or index, an input that is not
 * int8/uint8, a context already using the f32 representation). rt_wasinn_raw_input_set then
 * records the input as set, as set_input does. */
uint8_t *rt_wasinn_raw_input(rt_instance_t *inst, uint32_t ctx, uint32_t index,
                             rt_nn_tensor_info_t *info);
void rt_wasinn_raw_input_set(rt_instance_t *inst, uint32_t ctx, uint32_t index);

/* edge_image (docs/abi.md section 7): every function returns a wasi-nn error code. */
uint32_t rt_image_create(rt_instance_t *inst, uint32_t width, uint32_t height, uint32_t format,
                         uint32_t src_ptr, uint32_t src_len, uint32_t image_out_ptr);
uint32_t rt_image_crop(rt_instance_t *inst, uint32_t image, uint32_t x, uint32_t y, uint32_t width,
                       uint32_t height, uint32_t image_out_ptr);
uint32_t rt_image_resize(rt_instance_t *inst, uint32_t image, uint32_t width, uint32_t height,
                         uint32_t mode, uint32_t image_out_ptr);
uint32_t rt_image_rotate(rt_instance_t *inst, uint32_t image, uint32_t quarter_turns,
                         uint32_t image_out_ptr);
uint32_t rt_image_convert(rt_instance_t *inst, uint32_t image, uint32_t format,
                          uint32_t image_out_ptr);
uint32_t rt_image_info(rt_instance_t *inst, uint32_t image, uint32_t info_ptr);
uint32_t rt_image_read(rt_instance_t *inst, uint32_t image, uint32_t dst_ptr, uint32_t dst_max_len,
                       uint32_t bytes_written_out_ptr);
uint32_t rt_image_to_tensor(rt_instance_t *inst, uint32_t image, uint32_t ctx, uint32_t index,
                            uint32_t layout);
uint32_t rt_image_drop(rt_instance_t *inst, uint32_t image);
/* A handle for a frame the firmware holds (a camera driver, the pipeline executor): the
 * pixels (packed rows, width * height * bytes-per-pixel) are copied once into the runtime and
 * never pass through linear memory; the caller hands *image to an export as an i32. A wasi-nn
 * error code, as rt_image_create. */
uint32_t rt_image_put_frame(rt_instance_t *inst, uint32_t width, uint32_t height, uint32_t format,
                            const uint8_t *pixels, uint32_t *image);
/* The two halves of rt_image_put_frame, for frames that arrive in pieces (FRAME_*): an
 * unregistered buffer for a packed width x height frame (invalid_argument, busy when the
 * instance has no free handle, too_large), its pixels, and registering it as a new handle
 * (busy when the table filled up meanwhile: the caller frees the buffer). */
uint32_t rt_image_frame_alloc(rt_instance_t *inst, uint32_t width, uint32_t height, uint32_t format,
                              rt_image_buf_t **buf, uint32_t *bytes);
uint8_t *rt_image_buf_pixels(rt_image_buf_t *buf);
void rt_image_buf_free(rt_image_buf_t *buf); /* one no handle uses yet */
uint32_t rt_image_frame_commit(rt_instance_t *inst, rt_image_buf_t *buf, uint32_t width,
                               uint32_t height, uint32_t format, uint32_t *image);
/* Drops every image of the instance (when it ends). */
void rt_image_release(rt_instance_t *inst);

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
uint32_t rt_wasi_args_sizes_get(rt_instance_t *inst, uint32_t count_ptr, uint32_t size_ptr);
uint32_t rt_wasi_args_get(rt_instance_t *inst, uint32_t argv_ptr, uint32_t buf_ptr);
uint32_t rt_wasi_environ_sizes_get(rt_instance_t *inst, uint32_t count_ptr, uint32_t size_ptr);
uint32_t rt_wasi_environ_get(rt_instance_t *inst, uint32_t environ_ptr, uint32_t buf_ptr);
uint32_t rt_wasi_clock_time_get(rt_instance_t *inst, uint32_t id, uint64_t precision, uint32_t out);
uint32_t rt_wasi_random_get(rt_instance_t *inst, uint32_t buf, uint32_t len);
uint32_t rt_wasi_sched_yield(rt_instance_t *inst);

#endif /* RT_INTERNAL_H */
