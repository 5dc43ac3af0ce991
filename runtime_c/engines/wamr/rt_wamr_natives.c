/* Guest imports of the WAMR engine: NativeSymbol tables for wasi_snapshot_preview1 and
 * wasi_ephemeral_nn, forwarded to the same core functions as the wasm2c glue. Every pointer is
 * passed as an i32 offset ('i'), never as WAMR's checked '*': the core bounds-checks each one
 * against the current memory size (rt_guest_ptr), as on every engine. Hand-written in the shape
 * of the generated table (one row per import of docs/abi.md). */
#include "rt_eng_wamr.h"

typedef uint32_t u32;
typedef uint64_t u64;
typedef wasm_exec_env_t env_t;

/* args_get / environ_get: nothing to write (no arguments, empty environment). */
static u32 argv_get(rt_instance_t *inst, u32 a, u32 b) {
    (void)inst;
    (void)a;
    (void)b;
    return RT_WASI_ESUCCESS;
}

#define RT_WAMR_UNPAREN(...) __VA_ARGS__
#define NATIVE(prefix, name, params, call)                                                         \
    static u32 prefix##_##name(env_t env, RT_WAMR_UNPAREN params) {                                \
        return call;                                                                               \
    }

#define INST RT_WAMR_INST(env)
NATIVE(wasi, fd_write, (u32 fd, u32 iovs, u32 n, u32 out), rt_wasi_fd_write(INST, fd, iovs, n, out))
NATIVE(wasi, fd_read, (u32 fd, u32 iovs, u32 n, u32 out), rt_wasi_fd_read(INST, fd, iovs, n, out))
NATIVE(wasi, fd_close, (u32 fd), rt_wasi_fd_close(INST, fd))
NATIVE(wasi, fd_seek, (u32 fd, u64 off, u32 whence, u32 out),
       rt_wasi_fd_seek(INST, fd, (int64_t)off, whence, out))
NATIVE(wasi, fd_fdstat_get, (u32 fd, u32 out), rt_wasi_fd_fdstat_get(INST, fd, out))
NATIVE(wasi, args_sizes_get, (u32 a, u32 b), rt_wasi_sizes_get(INST, a, b))
NATIVE(wasi, args_get, (u32 a, u32 b), argv_get(INST, a, b))
NATIVE(wasi, environ_sizes_get, (u32 a, u32 b), rt_wasi_sizes_get(INST, a, b))
NATIVE(wasi, environ_get, (u32 a, u32 b), argv_get(INST, a, b))
NATIVE(wasi, clock_time_get, (u32 id, u64 precision, u32 out),
       rt_wasi_clock_time_get(INST, id, precision, out))
NATIVE(wasi, random_get, (u32 buf, u32 len), rt_wasi_random_get(INST, buf, len))

static u32 wasi_sched_yield(env_t env) {
    return rt_wasi_sched_yield(INST);
}

static void wasi_proc_exit(env_t env, u32 code) {
    rt_wasi_proc_exit(INST, code);
}

NATIVE(nn, load, (u32 b, u32 n, u32 enc, u32 target, u32 out),
       rt_wasinn_load(INST, b, n, enc, target, out))
NATIVE(nn, load_by_name, (u32 name, u32 len, u32 out), rt_wasinn_load_by_name(INST, name, len, out))
NATIVE(nn, load_by_name_with_config, (u32 name, u32 len, u32 cfg, u32 cfg_len, u32 out),
       rt_wasinn_load_by_name_with_config(INST, name, len, cfg, cfg_len, out))
NATIVE(nn, init_execution_context, (u32 graph, u32 out),
       rt_wasinn_init_execution_context(INST, graph, out))
NATIVE(nn, set_input, (u32 ctx, u32 index, u32 tensor),
       rt_wasinn_set_input(INST, ctx, index, tensor))
NATIVE(nn, compute, (u32 ctx), rt_wasinn_compute(INST, ctx))
NATIVE(nn, get_output, (u32 ctx, u32 index, u32 out, u32 max, u32 written),
       rt_wasinn_get_output(INST, ctx, index, out, max, written))

#define ROW(prefix, name, sig) {#name, (void *)prefix##_##name, sig, NULL}

/* WAMR keeps pointers to these arrays (and sorts them): static, writable storage. */
static NativeSymbol g_wasi[] = {
    ROW(wasi, fd_write, "(iiii)i"),    ROW(wasi, fd_read, "(iiii)i"),
    ROW(wasi, fd_close, "(i)i"),       ROW(wasi, fd_seek, "(iIii)i"),
    ROW(wasi, fd_fdstat_get, "(ii)i"), ROW(wasi, args_sizes_get, "(ii)i"),
    ROW(wasi, args_get, "(ii)i"),      ROW(wasi, environ_sizes_get, "(ii)i"),
    ROW(wasi, environ_get, "(ii)i"),   ROW(wasi, clock_time_get, "(iIi)i"),
    ROW(wasi, random_get, "(ii)i"),    ROW(wasi, sched_yield, "()i"),
    ROW(wasi, proc_exit, "(i)"),
};

static NativeSymbol g_nn[] = {
    ROW(nn, load, "(iiiii)i"),
    ROW(nn, load_by_name, "(iii)i"),
    ROW(nn, load_by_name_with_config, "(iiiii)i"),
    ROW(nn, init_execution_context, "(ii)i"),
    ROW(nn, set_input, "(iii)i"),
    ROW(nn, compute, "(i)i"),
    ROW(nn, get_output, "(iiiii)i"),
};

bool rt_wamr_register_natives(void) {
    return wasm_runtime_register_natives("wasi_snapshot_preview1", g_wasi,
                                         (uint32_t)(sizeof g_wasi / sizeof g_wasi[0])) &&
           wasm_runtime_register_natives("wasi_ephemeral_nn", g_nn,
                                         (uint32_t)(sizeof g_nn / sizeof g_nn[0]));
}
