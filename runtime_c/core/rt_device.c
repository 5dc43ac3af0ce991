/* The device protocol's handler table (runtime_c/proto/proto.h) over the core API, and the
 * serve loop over the platform's byte link. */
#include <string.h>

#include "proto.h"
#include "rt_internal.h"
#include "rt_pipe.h"
#include "rt_platform.h"

/* rt_status_t values are the protocol's status codes. */
typedef char rt_check_ok[(int)RT_OK == (int)PROTO_ST_OK ? 1 : -1];
typedef char rt_check_present[(int)RT_PRESENT == (int)PROTO_ST_PRESENT ? 1 : -1];
typedef char rt_check_bad[(int)RT_ERR_BAD_REQUEST == (int)PROTO_ST_BAD_REQUEST ? 1 : -1];
typedef char rt_check_unsup[(int)RT_ERR_UNSUPPORTED == (int)PROTO_ST_UNSUPPORTED ? 1 : -1];
typedef char rt_check_space[(int)RT_ERR_NO_SPACE == (int)PROTO_ST_NO_SPACE ? 1 : -1];
typedef char rt_check_nf[(int)RT_ERR_NOT_FOUND == (int)PROTO_ST_NOT_FOUND ? 1 : -1];
typedef char rt_check_state[(int)RT_ERR_BAD_STATE == (int)PROTO_ST_BAD_STATE ? 1 : -1];
typedef char rt_check_oob[(int)RT_ERR_OUT_OF_BOUNDS == (int)PROTO_ST_OUT_OF_BOUNDS ? 1 : -1];
typedef char rt_check_busy[(int)RT_ERR_BUSY == (int)PROTO_ST_BUSY ? 1 : -1];
typedef char rt_check_int[(int)RT_ERR_INTERNAL == (int)PROTO_ST_INTERNAL ? 1 : -1];
typedef char rt_check_unit_instret[RT_OS_COUNTER_INSTRET == PROTO_COUNTER_INSTRET ? 1 : -1];
typedef char rt_check_unit_ns[RT_OS_COUNTER_NS == PROTO_COUNTER_NS ? 1 : -1];
typedef char rt_check_msg[sizeof(((proto_call_result_t *)0)->message) >= RT_MSG_MAX ? 1 : -1];

static void h_hello(void *ctx, proto_hello_info_t *info) {
    (void)ctx;
    info->runtime_name = "rt-c";
    info->runtime_version = RT_VERSION;
    info->engine = RT_ENGINE_NAME;
    info->nn_backend = RT_NN_NAME;
    info->target = RT_TARGET_NAME;
    info->ram_bytes = (uint32_t)RT_RAM_BYTES;
    info->flash_bytes = (uint32_t)RT_FLASH_BYTES;
    info->capabilities = (uint8_t)((rt_can_upload(RT_KIND_MODULE) ? PROTO_CAP_LOAD_MODULES : 0u) |
                                   (rt_can_upload(RT_KIND_MODEL) ? PROTO_CAP_LOAD_MODELS : 0u) |
                                   (rt_pipe_supported() ? PROTO_CAP_PIPELINES : 0u));
    info->capabilities |= (uint8_t)(PROTO_CAP_ARGS | PROTO_CAP_FRAMES);
    info->modules = (uint16_t)rt_module_count();
    info->models = (uint16_t)rt_model_count();
}

static void to_item(const proto_item_t *in, rt_item_t *out) {
    memset(out, 0, sizeof *out);
    out->kind = in->kind;
    memcpy(out->name, in->name, sizeof out->name);
    out->size = in->size;
    memcpy(out->sha256, in->sha256, 32);
}

static proto_status_t h_put_begin(void *ctx, const proto_item_t *item, proto_error_t *err) {
    (void)ctx;
    rt_item_t it;
    to_item(item, &it);
    return (proto_status_t)rt_put_begin(&it, err->text, sizeof err->text);
}

static proto_status_t h_put_chunk(void *ctx, uint32_t offset, const uint8_t *data, size_t len,
                                  proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_put_chunk(offset, data, len, err->text, sizeof err->text);
}

static proto_status_t h_put_end(void *ctx, bool commit, proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_put_end(commit, err->text, sizeof err->text);
}

static proto_status_t h_list_item(void *ctx, uint16_t index, proto_item_t *out) {
    (void)ctx;
    rt_item_t it;
    rt_status_t st = rt_list_item(index, &it);
    if (st != RT_OK) return (proto_status_t)st;
    memset(out, 0, sizeof *out);
    out->kind = it.kind;
    memcpy(out->name, it.name, sizeof out->name);
    out->size = it.size;
    memcpy(out->sha256, it.sha256, 32);
    return PROTO_ST_OK;
}

static proto_status_t h_instantiate(void *ctx, const proto_module_ref_t *ref, uint32_t *instance,
                                    proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_instantiate(ref->by_sha256, ref->name, ref->sha256, instance,
                                          err->text, sizeof err->text);
}

static proto_status_t h_drop(void *ctx, uint32_t instance, proto_error_t *err) {
    (void)ctx;
    rt_status_t st = rt_drop(instance);
    if (st != RT_OK)
        rt_fmt(err->text, sizeof err->text, "no instance %lu", (unsigned long)instance);
    return (proto_status_t)st;
}

static proto_status_t h_call(void *ctx, const proto_call_req_t *req, proto_call_result_t *res,
                             proto_error_t *err) {
    (void)ctx;
    rt_call_result_t r;
    rt_status_t st = rt_call(req->instance, req->export_name, req->args, req->argc, &r, err->text,
                             sizeof err->text);
    if (st != RT_OK) return (proto_status_t)st;
    memset(res, 0, sizeof *res);
    res->outcome = r.outcome;
    res->has_result = r.has_result;
    res->value = r.value;
    res->elapsed_us = r.elapsed_us;
    memcpy(res->message, r.message, RT_MSG_MAX);
    res->message[sizeof res->message - 1] = '\0';
    return PROTO_ST_OK;
}

static proto_status_t h_mem_write(void *ctx, uint32_t instance, uint32_t addr, const uint8_t *data,
                                  size_t len, proto_error_t *err) {
    (void)ctx;
    rt_status_t st = rt_mem_write(instance, addr, data, len);
    if (st == RT_ERR_OUT_OF_BOUNDS) {
        rt_fmt(err->text, sizeof err->text, "write of %lu bytes at 0x%lx is outside linear memory",
               (unsigned long)len, (unsigned long)addr);
    }
    return (proto_status_t)st;
}

static proto_status_t h_mem_read(void *ctx, uint32_t instance, uint32_t addr, uint8_t *out,
                                 size_t len, proto_error_t *err) {
    (void)ctx;
    rt_status_t st = rt_mem_read(instance, addr, out, len);
    if (st == RT_ERR_OUT_OF_BOUNDS) {
        rt_fmt(err->text, sizeof err->text, "read of %lu bytes at 0x%lx is outside linear memory",
               (unsigned long)len, (unsigned long)addr);
    }
    return (proto_status_t)st;
}

static proto_status_t h_logs(void *ctx, uint32_t instance, uint8_t *out, size_t cap, size_t *len,
                             bool *more, proto_error_t *err) {
    (void)ctx;
    (void)err;
    return (proto_status_t)rt_logs(instance, out, cap, len, more);
}

static void h_stats(void *ctx, proto_core_stats_t *out) {
    (void)ctx;
    out->ram_high_water = (uint32_t)rt_mem_high_water();
    out->heap_in_use = (uint32_t)rt_mem_in_use();
    out->last_call_us = rt_last_call_us();
    out->stack_high_water = rt_os_stack_high_water();
    out->counter_unit = rt_os_counter_unit();
    out->counter = rt_os_counter();
    out->last_call_counter = rt_last_call_counter();
}

static void h_reset_peaks(void *ctx) {
    (void)ctx;
    rt_mem_reset_peak();
    rt_os_stack_reset_peak();
}

/* ---- ARGS and FRAME_* ---- */

static proto_status_t h_args(void *ctx, const proto_args_req_t *req, proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_set_args(req->instance, req->str, req->len, req->argc, req->envc,
                                       err->text, sizeof err->text);
}

static proto_status_t h_frame_begin(void *ctx, uint32_t instance, uint16_t width, uint16_t height,
                                    uint8_t format, uint32_t *size, proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_frame_begin(instance, width, height, format, size, err->text,
                                          sizeof err->text);
}

static proto_status_t h_frame_chunk(void *ctx, uint32_t offset, const uint8_t *data, size_t len,
                                    uint32_t *received, proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_frame_chunk(offset, data, len, received, err->text, sizeof err->text);
}

static proto_status_t h_frame_end(void *ctx, uint32_t *image, proto_error_t *err) {
    (void)ctx;
    return (proto_status_t)rt_frame_end(image, err->text, sizeof err->text);
}

static void h_reset(void *ctx) {
    (void)ctx;
    rt_frame_abort();
    rt_drop_all();
    char msg[8];
    rt_put_end(false, msg, sizeof msg);
}

static proto_status_t h_ext(void *ctx, uint8_t type, proto_rd_t *r, proto_wr_t *w,
                            proto_error_t *err) {
    (void)ctx;
    return rt_pipe_request(type, r, w, err);
}

static const proto_handlers_t g_handlers = {
    h_hello, h_put_begin,   h_put_chunk,   h_put_end,   h_list_item, h_instantiate, h_drop,
    h_call,  h_mem_write,   h_mem_read,    h_logs,      h_stats,     h_reset,       h_reset_peaks,
    h_args,  h_frame_begin, h_frame_chunk, h_frame_end, /* ARGS, FRAME_* */
    h_ext,                                              /* PIPE_* */
};

const proto_handlers_t *rt_device_handlers(void) {
    return &g_handlers;
}

static int io_read_byte(void *ctx, uint32_t timeout_ms) {
    (void)ctx;
    int b = rt_os_read_byte(timeout_ms);
    if (b == RT_OS_READ_TIMEOUT) return PROTO_IO_TIMEOUT;
    if (b == RT_OS_READ_CLOSED) return PROTO_IO_CLOSED;
    return b;
}

static int io_write(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    return rt_os_write(data, len);
}

static uint32_t io_now_ms(void *ctx) {
    (void)ctx;
    return (uint32_t)(rt_os_time_us() / 1000u);
}

/* The dispatcher holds ~4 KB of buffers: static, so no MCU task stack has to hold it. */
static proto_device_t g_dev;

void rt_serve(void) {
    proto_io_t io = {NULL, io_read_byte, io_write, io_now_ms};
    proto_device_init(&g_dev, &io, &g_handlers, NULL);
    /* Between frames the deployment's tasks run (one slice each per turn); with nothing
     * runnable the loop waits for input or the next task timer. Input comes first: while
     * bytes keep arriving (a frame, or the next one right behind it) no task runs. */
    int got = 0;
    for (;;) {
        uint32_t wait_ms = 1000u;
        if (got == 0 && !proto_decoder_busy(&g_dev.dec)) rt_pipe_run(&wait_ms);
        got = proto_device_poll(&g_dev, got ? 0u : wait_ms);
        if (got == PROTO_IO_CLOSED) break;
    }
}
