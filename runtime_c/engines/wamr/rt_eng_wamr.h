/*
 * WAMR engine: what its natives table (rt_wamr_natives.c, generated from the ABI table) needs
 * from the engine, and the engine's configuration defaults (rt_config.h, rendered from the
 * target file, may override).
 */
#ifndef RT_ENG_WAMR_H
#define RT_ENG_WAMR_H

#include <stdbool.h>
#include <stdint.h>

#include "rt_internal.h"
#include "wasm_export.h"

/* Per instance: WAMR's interpreter stack (frames and operands; limits.wasm_stack_kib) and the
 * host-managed heap WAMR may place in linear memory (limits.wasm_heap_kib; 0: the guest's own
 * malloc manages its memory, as on every other engine). */
#ifndef RT_WAMR_STACK_BYTES
#define RT_WAMR_STACK_BYTES (16u * 1024u)
#endif
#ifndef RT_WAMR_HEAP_BYTES
#define RT_WAMR_HEAP_BYTES 0u
#endif
/* Modules loaded at run time held at once (more are loaded by unloading unused ones). */
#ifndef RT_WAMR_MAX_MODULES
#define RT_WAMR_MAX_MODULES 8
#endif

/* The core's instance behind a native call (set as the module instance's custom data). */
#define RT_WAMR_INST(exec_env)                                                                     \
    ((rt_instance_t *)wasm_runtime_get_custom_data(wasm_runtime_get_module_inst(exec_env)))

/* Registers the wasi_snapshot_preview1 and wasi_ephemeral_nn natives (rt_wamr_natives.c). */
bool rt_wamr_register_natives(void);

#endif /* RT_ENG_WAMR_H */
