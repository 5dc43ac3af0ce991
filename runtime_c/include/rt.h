/*
 * rt.h: public API of the C micro-runtime core (portable C99).
 *
 * The core owns the module and model registry, instances and their limits, the wasi-nn and
 * WASI implementations (docs/abi.md), per-instance log capture and memory accounting. It talks
 * to the OS only through rt_platform.h, to the wasm engine through engines/rt_engine.h and to
 * the NN backend through nn/rt_nn.h. Configuration comes from the generated rt_config.h.
 */
#ifndef RT_H
#define RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_VERSION "0.1.0"
#define RT_NAME_MAX 64u
#define RT_MSG_MAX 120u

/* ---- configuration defaults (rt_config.h may override) ---- */
#ifndef RT_LOG_RING_BYTES
#define RT_LOG_RING_BYTES 4096u /* captured guest stdout+stderr per instance */
#endif
#ifndef RT_MAX_UPLOADED_MODELS
#define RT_MAX_UPLOADED_MODELS 8
#endif
#ifndef RT_HEAP_BUDGET_BYTES
#define RT_HEAP_BUDGET_BYTES RT_RAM_BYTES /* everything the core and the engine allocate */
#endif
#ifndef RT_ENABLE_MODEL_UPLOAD
#define RT_ENABLE_MODEL_UPLOAD 1
#endif

#if RT_MAX_GRAPHS < 1 || RT_MAX_CONTEXTS < 1 || RT_MAX_INSTANCES < 1
#error "rt_config.h: limits.max_graphs, max_contexts and max_instances must be >= 1"
#endif

/* Status of core operations. The values equal the device protocol's status codes
 * (docs/protocol.md section 4) so the protocol glue passes them through. */
typedef enum {
    RT_OK = 0,
    RT_PRESENT = 1,
    RT_ERR_BAD_REQUEST = 2,
    RT_ERR_UNSUPPORTED = 4,
    RT_ERR_NO_SPACE = 5,
    RT_ERR_NOT_FOUND = 6,
    RT_ERR_BAD_STATE = 7,
    RT_ERR_OUT_OF_BOUNDS = 9,
    RT_ERR_BUSY = 10,
    RT_ERR_INTERNAL = 11
} rt_status_t;

/* wasi-nn error codes (docs/abi.md section 3). */
typedef enum {
    RT_NN_SUCCESS = 0,
    RT_NN_INVALID_ARGUMENT = 1,
    RT_NN_INVALID_ENCODING = 2,
    RT_NN_MISSING_MEMORY = 3,
    RT_NN_BUSY = 4,
    RT_NN_RUNTIME_ERROR = 5,
    RT_NN_UNSUPPORTED_OPERATION = 6,
    RT_NN_TOO_LARGE = 7,
    RT_NN_NOT_FOUND = 8
} rt_nn_error_t;

typedef enum {
    RT_CALL_RETURNED = 0,
    RT_CALL_TRAPPED = 1,
    RT_CALL_EXITED = 2,
    RT_CALL_TIMEOUT = 3
} rt_call_outcome_t;

typedef struct {
    uint8_t outcome; /* rt_call_outcome_t */
    bool has_result;
    int32_t value; /* result, or the exit code when exited */
    uint32_t elapsed_us;
    char message[RT_MSG_MAX];
} rt_call_result_t;

typedef enum { RT_KIND_MODULE = 0, RT_KIND_MODEL = 1 } rt_kind_t;

typedef struct {
    uint8_t kind; /* rt_kind_t */
    char name[RT_NAME_MAX + 1];
    uint32_t size;
    uint8_t sha256[32];
} rt_item_t;

/* A model built into the firmware (generated table, read-only data). */
typedef struct {
    const char *name;
    const uint8_t *data;
    uint32_t size;
    uint8_t sha256[32];
} rt_builtin_model_t;

extern const rt_builtin_model_t rt_builtin_models[];
extern const uint32_t rt_builtin_model_count;

/* A platform whose models live in storage rather than in the image (the ESP-IDF port maps its
 * data partition at boot) replaces the built-in table with this one before rt_init(). The
 * array and the bytes it points to must stay valid until rt_shutdown(). */
void rt_set_model_table(const rt_builtin_model_t *models, uint32_t count);

/* ---- accounted heap: every allocation of the core and the engine goes through here ---- */
void *rt_malloc(size_t size);
void *rt_calloc(size_t n, size_t size);
void *rt_realloc(void *ptr, size_t size);
/* rt_malloc for a block that will likely grow up to max bytes by rt_realloc (a linear memory):
 * the platform may leave that room beside it (rt_os_malloc_growable); accounted as size. */
void *rt_malloc_growable(size_t size, size_t max);
/* rt_malloc for a block that outlives the request that makes it (an upload, a loaded module):
 * the platform may keep such blocks apart from the transient ones (rt_os_malloc_lasting), so
 * that unloading them leaves contiguous room rather than holes pinned by small blocks. */
void *rt_malloc_lasting(size_t size);
void rt_free(void *ptr);
/* Usable size of a block from rt_malloc & co (what was asked for). */
size_t rt_mem_block_size(const void *ptr);
size_t rt_mem_in_use(void);
size_t rt_mem_high_water(void);
/* Restart the heap peak from what is in use now (STATS "reset peaks"). */
void rt_mem_reset_peak(void);

/* Formatting without stdio (the core must not use the C library's printf on every MCU). */
size_t rt_fmt(char *out, size_t cap, const char *fmt, ...);
void rt_logf(const char *fmt, ...);

/* ---- lifecycle ---- */
rt_status_t rt_init(void);
void rt_shutdown(void); /* drops instances and uploads: everything is freed */

/* ---- registry ---- */
uint32_t rt_module_count(void);
uint32_t rt_model_count(void);
/* Items in LIST order: modules, then models. RT_ERR_NOT_FOUND past the end. */
rt_status_t rt_list_item(uint32_t index, rt_item_t *out);
bool rt_can_upload(uint8_t kind);
rt_status_t rt_put_begin(const rt_item_t *item, char *msg, size_t cap);
rt_status_t rt_put_chunk(uint32_t offset, const uint8_t *data, size_t len, char *msg, size_t cap);
rt_status_t rt_put_end(bool commit, char *msg, size_t cap);

/* ---- instances ---- */
/* by_sha256 selects sha256, otherwise name. */
rt_status_t rt_instantiate(bool by_sha256, const char *name, const uint8_t sha256[32], uint32_t *id,
                           char *msg, size_t cap);
rt_status_t rt_drop(uint32_t id);
void rt_drop_all(void);
rt_status_t rt_call(uint32_t id, const char *export_name, const int32_t *args, uint32_t argc,
                    rt_call_result_t *res, char *msg, size_t cap);
rt_status_t rt_mem_write(uint32_t id, uint32_t addr, const uint8_t *data, size_t len);
rt_status_t rt_mem_read(uint32_t id, uint32_t addr, uint8_t *out, size_t len);
rt_status_t rt_logs(uint32_t id, uint8_t *out, size_t cap, size_t *len, bool *more);
uint32_t rt_last_call_us(void);
/* rt_os_counter() units spent in the last successful rt_call (0 when none ran). */
uint64_t rt_last_call_counter(void);

/* ARGS (docs/protocol.md): argc + envc checked strings (str[i], len[i] bytes), copied
 * NUL-terminated into the instance; BAD_STATE once the instance has run a call. */
rt_status_t rt_set_args(uint32_t id, const uint8_t *const *str, const uint8_t *len, uint32_t argc,
                        uint32_t envc, char *msg, size_t cap);
/* FRAME_BEGIN / FRAME_CHUNK / FRAME_END: one frame in flight, streamed into accounted storage
 * that becomes an image handle of the instance at the end. rt_frame_abort frees a frame in
 * flight (dropping its instance and rt_shutdown do too). */
rt_status_t rt_frame_begin(uint32_t id, uint32_t width, uint32_t height, uint32_t format,
                           uint32_t *size, char *msg, size_t cap);
rt_status_t rt_frame_chunk(uint32_t offset, const uint8_t *data, size_t len, uint32_t *received,
                           char *msg, size_t cap);
rt_status_t rt_frame_end(uint32_t *image, char *msg, size_t cap);
void rt_frame_abort(void);

/* Serve the device protocol over rt_os_read_byte/rt_os_write until the link closes. */
void rt_serve(void);

#ifdef __cplusplus
}
#endif

#endif /* RT_H */
