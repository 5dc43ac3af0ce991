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

u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                       u32 iovs, u32 n, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                       u32 iovs, u32 n, u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_fd_write(env->rt, fd, iovs, n, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_fd_read(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                      u32 iovs, u32 n, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_read(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                      u32 iovs, u32 n, u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_fd_read(env->rt, fd, iovs, n, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd);
u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_fd_close(env->rt, fd);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_fd_seek(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                      u64 off, u32 whence, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_seek(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                      u64 off, u32 whence, u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_fd_seek(env->rt, fd, (int64_t)off, whence, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                            u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 fd,
                                            u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_fd_fdstat_get(env->rt, fd, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_args_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 a,
                                             u32 b);
u32 Z_wasi_snapshot_preview1Z_args_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 a,
                                             u32 b) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_sizes_get(env->rt, a, b);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_args_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 a,
                                       u32 b);
u32 Z_wasi_snapshot_preview1Z_args_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 a,
                                       u32 b) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_argv_get(env->rt, a, b);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *env,
                                                u32 a, u32 b);
u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *env,
                                                u32 a, u32 b) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_sizes_get(env->rt, a, b);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_environ_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 a,
                                          u32 b);
u32 Z_wasi_snapshot_preview1Z_environ_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 a,
                                          u32 b) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_argv_get(env->rt, a, b);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_clock_time_get(struct Z_wasi_snapshot_preview1_instance_t *env,
                                             u32 id, u64 precision, u32 out);
u32 Z_wasi_snapshot_preview1Z_clock_time_get(struct Z_wasi_snapshot_preview1_instance_t *env,
                                             u32 id, u64 precision, u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_clock_time_get(env->rt, id, precision, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_snapshot_preview1Z_random_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 buf,
                                         u32 len);
u32 Z_wasi_snapshot_preview1Z_random_get(struct Z_wasi_snapshot_preview1_instance_t *env, u32 buf,
                                         u32 len) {
    rt_w2c_host_enter();
    u32 r = rt_wasi_random_get(env->rt, buf, len);
    rt_w2c_host_leave();
    return r;
}

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

u32 Z_wasi_ephemeral_nnZ_load(struct Z_wasi_ephemeral_nn_instance_t *env, u32 b, u32 n, u32 enc,
                              u32 target, u32 out);
u32 Z_wasi_ephemeral_nnZ_load(struct Z_wasi_ephemeral_nn_instance_t *env, u32 b, u32 n, u32 enc,
                              u32 target, u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_load(env->rt, b, n, enc, target, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_ephemeral_nnZ_load_by_name(struct Z_wasi_ephemeral_nn_instance_t *env, u32 name, u32 len,
                                      u32 out);
u32 Z_wasi_ephemeral_nnZ_load_by_name(struct Z_wasi_ephemeral_nn_instance_t *env, u32 name, u32 len,
                                      u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_load_by_name(env->rt, name, len, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_ephemeral_nnZ_load_by_name_with_config(struct Z_wasi_ephemeral_nn_instance_t *env,
                                                  u32 name, u32 len, u32 cfg, u32 cfg_len, u32 out);
u32 Z_wasi_ephemeral_nnZ_load_by_name_with_config(struct Z_wasi_ephemeral_nn_instance_t *env,
                                                  u32 name, u32 len, u32 cfg, u32 cfg_len,
                                                  u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_load_by_name_with_config(env->rt, name, len, cfg, cfg_len, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_ephemeral_nnZ_init_execution_context(struct Z_wasi_ephemeral_nn_instance_t *env,
                                                u32 graph, u32 out);
u32 Z_wasi_ephemeral_nnZ_init_execution_context(struct Z_wasi_ephemeral_nn_instance_t *env,
                                                u32 graph, u32 out) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_init_execution_context(env->rt, graph, out);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_ephemeral_nnZ_set_input(struct Z_wasi_ephemeral_nn_instance_t *env, u32 ctx, u32 index,
                                   u32 tensor);
u32 Z_wasi_ephemeral_nnZ_set_input(struct Z_wasi_ephemeral_nn_instance_t *env, u32 ctx, u32 index,
                                   u32 tensor) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_set_input(env->rt, ctx, index, tensor);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_ephemeral_nnZ_compute(struct Z_wasi_ephemeral_nn_instance_t *env, u32 ctx);
u32 Z_wasi_ephemeral_nnZ_compute(struct Z_wasi_ephemeral_nn_instance_t *env, u32 ctx) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_compute(env->rt, ctx);
    rt_w2c_host_leave();
    return r;
}

u32 Z_wasi_ephemeral_nnZ_get_output(struct Z_wasi_ephemeral_nn_instance_t *env, u32 ctx, u32 index,
                                    u32 out, u32 max, u32 written);
u32 Z_wasi_ephemeral_nnZ_get_output(struct Z_wasi_ephemeral_nn_instance_t *env, u32 ctx, u32 index,
                                    u32 out, u32 max, u32 written) {
    rt_w2c_host_enter();
    u32 r = rt_wasinn_get_output(env->rt, ctx, index, out, max, written);
    rt_w2c_host_leave();
    return r;
}
