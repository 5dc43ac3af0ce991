/*
 * wasm2c engine: the shapes of the generated module table (build_tools/runtime_c.py writes
 * rt_w2c_modules.c and one <guest>_glue.c per guest translated by wasm2c).
 */
#ifndef RT_W2C_H
#define RT_W2C_H

#include <stddef.h>
#include <stdint.h>

#include "wasm-rt.h"

/* The import "instances" wasm2c passes to imported functions (struct Z_<module>_instance_t,
 * one per import module of the ABI table) and rt_w2c_env_t holding one of each: generated from
 * runtime_py/edge_runtime/abi/imports.toml into the gen directory, with the import glue. */
#include "rt_w2c_env.h"

/* Uniform thunk over a generated export: i32 arguments in, at most one i32 out. */
typedef int32_t (*rt_w2c_thunk_t)(void *instance, const int32_t *args);

typedef struct {
    const char *name;
    uint8_t argc;
    uint8_t has_result;
    rt_w2c_thunk_t fn;
} rt_w2c_export_t;

struct rt_eng_module {
    const char *name;
    uint8_t sha256[32];
    uint32_t wasm_size;
    size_t instance_size;
    void (*init_module)(void);
    void (*instantiate)(void *instance, rt_w2c_env_t *env);
    void (*free)(void *instance);
    wasm_rt_memory_t *(*memory)(void *instance); /* NULL: no exported memory */
    const rt_w2c_export_t *exports;
    uint32_t export_count;
    /* The function table (EVP callbacks go through it), NULL when the module has none. */
    wasm_rt_funcref_table_t *(*table)(void *instance);
};

extern const struct rt_eng_module *const rt_w2c_modules[];
extern const uint32_t rt_w2c_module_count;

/* Bracket host code reached from guest code (imports, allocation): the time-limit signal then
 * defers its unwind until the host code is done, so core state is never left half-updated. */
void rt_w2c_host_enter(void);
void rt_w2c_host_leave(void);

#endif /* RT_W2C_H */
