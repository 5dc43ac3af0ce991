/* Guest imports of wasm2c modules (the Z_<module>Z_<name> symbols wasm2c output calls),
 * forwarded to the core's WASI subset and wasi-nn implementation. Generated once from the
 * ABI tables in docs/abi.md; the signatures are wasm2c's (u32 for i32, u64 for i64). */
#include "rt_internal.h"
#include "rt_w2c.h"

typedef uint32_t u32;
typedef uint64_t u64;

/* args_get / environ_get: nothing to write (no arguments, empty environment). */
static uint32_t rt_wasi_argv_get(rt_instance_t *inst, uint32_t a, uint32_t b) {
    (void)inst;
    (void)a;
    (void)b;
    return RT_WASI_ESUCCESS;
}

#define RT_W2C_UNPAREN(...) __VA_ARGS__

/* One wasm2c import returning an i32: declares and defines Z_<module>Z_<name>, bracketing the
 * core call with host enter/leave so that the time-limit jump never lands inside core code. */
#define RT_W2C_IMPORT(module, name, params, call)                                                  \
    u32 Z_##module##Z_##name(struct Z_##module##_instance_t *env, RT_W2C_UNPAREN params);          \
    u32 Z_##module##Z_##name(struct Z_##module##_instance_t *env, RT_W2C_UNPAREN params) {         \
        rt_w2c_host_enter();                                                                       \
        u32 r = call;                                                                              \
        rt_w2c_host_leave();                                                                       \
        return r;                                                                                  \
    }

#define WASI(name, params, call) RT_W2C_IMPORT(wasi_snapshot_preview1, name, params, call)
#define WASI_NN(name, params, call) RT_W2C_IMPORT(wasi_ephemeral_nn, name, params, call)

WASI(fd_write, (u32 fd, u32 iovs, u32 n, u32 out), rt_wasi_fd_write(env->rt, fd, iovs, n, out))
WASI(fd_read, (u32 fd, u32 iovs, u32 n, u32 out), rt_wasi_fd_read(env->rt, fd, iovs, n, out))
WASI(fd_close, (u32 fd), rt_wasi_fd_close(env->rt, fd))
WASI(fd_seek, (u32 fd, u64 off, u32 whence, u32 out),
     rt_wasi_fd_seek(env->rt, fd, (int64_t)off, whence, out))
WASI(fd_fdstat_get, (u32 fd, u32 out), rt_wasi_fd_fdstat_get(env->rt, fd, out))
WASI(args_sizes_get, (u32 a, u32 b), rt_wasi_sizes_get(env->rt, a, b))
WASI(args_get, (u32 a, u32 b), rt_wasi_argv_get(env->rt, a, b))
WASI(environ_sizes_get, (u32 a, u32 b), rt_wasi_sizes_get(env->rt, a, b))
WASI(environ_get, (u32 a, u32 b), rt_wasi_argv_get(env->rt, a, b))
WASI(clock_time_get, (u32 id, u64 precision, u32 out),
     rt_wasi_clock_time_get(env->rt, id, precision, out))
WASI(random_get, (u32 buf, u32 len), rt_wasi_random_get(env->rt, buf, len))

u32 Z_wasi_snapshot_preview1Z_sched_yield(struct Z_wasi_snapshot_preview1_instance_t *env);
u32 Z_wasi_snapshot_preview1Z_sched_yield(struct Z_wasi_snapshot_preview1_instance_t *env) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_sched_yield(env->rt);
    rt_w2c_host_leave();
    return r;
}

void Z_wasi_snapshot_preview1Z_proc_exit(struct Z_wasi_snapshot_preview1_instance_t *env, u32 code);
void Z_wasi_snapshot_preview1Z_proc_exit(struct Z_wasi_snapshot_preview1_instance_t *env,
                                         u32 code) {
    rt_wasi_proc_exit(env->rt, code);
}

WASI_NN(load, (u32 b, u32 n, u32 enc, u32 target, u32 out),
        rt_wasinn_load(env->rt, b, n, enc, target, out))
WASI_NN(load_by_name, (u32 name, u32 len, u32 out), rt_wasinn_load_by_name(env->rt, name, len, out))
WASI_NN(load_by_name_with_config, (u32 name, u32 len, u32 cfg, u32 cfg_len, u32 out),
        rt_wasinn_load_by_name_with_config(env->rt, name, len, cfg, cfg_len, out))
WASI_NN(init_execution_context, (u32 graph, u32 out),
        rt_wasinn_init_execution_context(env->rt, graph, out))
WASI_NN(set_input, (u32 ctx, u32 index, u32 tensor),
        rt_wasinn_set_input(env->rt, ctx, index, tensor))
WASI_NN(compute, (u32 ctx), rt_wasinn_compute(env->rt, ctx))
WASI_NN(get_output, (u32 ctx, u32 index, u32 out, u32 max, u32 written),
        rt_wasinn_get_output(env->rt, ctx, index, out, max, written))
