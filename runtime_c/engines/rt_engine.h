/*
 * rt_engine.h: the wasm engine seam. One implementation per folder engines/<name>/, picked at
 * build time from the target's runtime.engine (RT_ENGINE_* in rt_config.h).
 *
 * The engine runs guest code and owns linear memory; it forwards guest imports to the core's
 * rt_wasi_* and rt_wasinn_* functions (core/rt_internal.h) and reports traps, proc_exit and
 * the call time limit as call outcomes. It allocates only through rt_malloc & co.
 */
#ifndef RT_ENGINE_H
#define RT_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rt_instance;
typedef struct rt_eng_module rt_eng_module_t;     /* a module the engine can instantiate */
typedef struct rt_eng_instance rt_eng_instance_t; /* engine-side instance */

/* One-time engine initialisation (wasm2c: registers function types of every module). */
rt_status_t rt_eng_init(void);
void rt_eng_shutdown(void);
const char *rt_eng_name(void);

/* Modules compiled into the firmware (wasm2c), or loaded at run time (wamr). */
uint32_t rt_eng_module_count(void);
const rt_eng_module_t *rt_eng_module_at(uint32_t index);
const char *rt_eng_module_name(const rt_eng_module_t *m);
const uint8_t *rt_eng_module_sha256(const rt_eng_module_t *m);
uint32_t rt_eng_module_size(const rt_eng_module_t *m);
/* True if modules can be loaded at run time (wasm2c: false, they are compiled in). */
bool rt_eng_can_load_modules(void);
/* Run-time loading (only when rt_eng_can_load_modules()). rt_eng_module_add takes ownership of
 * bytes (rt_malloc'd, sha256 already verified by the protocol): it validates and loads them as
 * module item->name, replacing a module of that name that no instance uses, and frees bytes on
 * failure. RT_ERR_BAD_REQUEST: not a valid module (msg says why); RT_ERR_BUSY: the module it
 * would replace has instances; RT_ERR_NO_SPACE: does not fit. On success it calls
 * rt_upload_committed(item, bytes) once, after loading and before it frees the bytes. */
rt_status_t rt_eng_module_add(const rt_item_t *item, uint8_t *bytes, char *msg, size_t cap);
/* The core's side (rt_core.c): an upload is committed; hands it to rt_os_persist_upload. */
void rt_upload_committed(const rt_item_t *item, const uint8_t *data);
/* Unload one loaded module that no instance uses (the least recently used) to make room for an
 * upload; false when there is none. */
bool rt_eng_module_evict(void);

/* Create an instance whose linear memory is capped at max_memory_bytes. */
rt_status_t rt_eng_instantiate(const rt_eng_module_t *m, struct rt_instance *owner,
                               uint32_t max_memory_bytes, rt_eng_instance_t **out, char *msg,
                               size_t cap);
void rt_eng_free(rt_eng_instance_t *inst);
bool rt_eng_has_export(const rt_eng_instance_t *inst, const char *name);

/* Call an export with i32 arguments under a time limit (0 = none). RT_ERR_NOT_FOUND for an
 * unknown export, RT_ERR_BAD_REQUEST for a wrong argument count; a trap is RT_OK with
 * res->outcome set. */
rt_status_t rt_eng_call(rt_eng_instance_t *inst, const char *export_name, const int32_t *args,
                        uint32_t argc, uint32_t timeout_ms, rt_call_result_t *res, char *msg,
                        size_t cap);

/* Current linear memory (base may move after memory.grow; re-read after every guest call).
 * Returns NULL when the module has no memory. */
uint8_t *rt_eng_memory(rt_eng_instance_t *inst, uint32_t *size);

/* Called by the core's proc_exit: ends the current call with outcome "exited". */
void rt_eng_exit(rt_eng_instance_t *inst, int32_t code);

/* ---- pipeline instances (core/rt_pipe.c): a call that runs on a task and yields ----
 * rt_eng_can_run_tasks: false when the engine lacks what follows (then no pipelines).
 * rt_eng_set_stack: the native stack the instance's calls run on from now (a task's), for an
 *   engine that checks its native stack depth.
 * rt_eng_task_leave / rt_eng_task_enter: the core is inside an import of inst and is about to
 *   switch to another task / is back. The engine saves and restores its per-call state and
 *   stops / restarts the call's time limit (time spent switched away does not count).
 * rt_eng_call_nested: from inside an import of inst (host code), call an export (export_name)
 *   or, with export_name NULL, element `table_index` of the module's function table, with
 *   i32 arguments; *result gets the i32 result (0 when none). RT_OK when it returned. Any other
 *   status: the guest trapped or exited (or the element/export is missing or of another
 *   type): the surrounding call is ending with that outcome, and the import must return at
 *   once without calling guest code again. */
bool rt_eng_can_run_tasks(void);
void rt_eng_set_stack(rt_eng_instance_t *inst, void *lo, size_t size);
void rt_eng_task_leave(rt_eng_instance_t *inst);
void rt_eng_task_enter(rt_eng_instance_t *inst);
rt_status_t rt_eng_call_nested(rt_eng_instance_t *inst, const char *export_name,
                               uint32_t table_index, const int32_t *args, uint32_t argc,
                               int32_t *result);

#ifdef __cplusplus
}
#endif

#endif /* RT_ENGINE_H */
