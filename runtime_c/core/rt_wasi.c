/* The wasi_snapshot_preview1 subset of docs/abi.md section 4. Guest pointers are checked
 * before use; a failing check is EFAULT. */
#include <string.h>

#include "rt_internal.h"
#include "rt_platform.h"

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t rt_wasi_fd_write(rt_instance_t *inst, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                          uint32_t nwritten) {
    if (fd != 1 && fd != 2) return RT_WASI_EBADF;
    if (iovs_len > UINT32_MAX / 8u) return RT_WASI_EFAULT;
    const uint8_t *v = rt_guest_ptr(inst, iovs, iovs_len * 8u);
    uint8_t *out = rt_guest_ptr(inst, nwritten, 4);
    if (v == NULL || out == NULL) return RT_WASI_EFAULT;
    /* check every buffer first: all or nothing */
    uint64_t total = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t len = get_u32(v + 8u * i + 4u);
        if (rt_guest_ptr(inst, get_u32(v + 8u * i), len) == NULL) return RT_WASI_EFAULT;
        total += len;
    }
    if (total > UINT32_MAX) return RT_WASI_EINVAL;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t len = get_u32(v + 8u * i + 4u);
        rt_log_ring_write(&inst->log, rt_guest_ptr(inst, get_u32(v + 8u * i), len), len);
    }
    put_u32(out, (uint32_t)total);
    return RT_WASI_ESUCCESS;
}

uint32_t rt_wasi_fd_read(rt_instance_t *inst, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                         uint32_t nread) {
    if (fd != 0) return RT_WASI_EBADF;
    if (iovs_len > UINT32_MAX / 8u || rt_guest_ptr(inst, iovs, iovs_len * 8u) == NULL) {
        return RT_WASI_EFAULT;
    }
    uint8_t *out = rt_guest_ptr(inst, nread, 4);
    if (out == NULL) return RT_WASI_EFAULT;
    put_u32(out, 0); /* end of file */
    return RT_WASI_ESUCCESS;
}

uint32_t rt_wasi_fd_close(rt_instance_t *inst, uint32_t fd) {
    (void)inst;
    return fd <= 2 ? RT_WASI_ESUCCESS : RT_WASI_EBADF;
}

uint32_t rt_wasi_fd_seek(rt_instance_t *inst, uint32_t fd, int64_t offset, uint32_t whence,
                         uint32_t newoffset) {
    (void)inst;
    (void)offset;
    (void)whence;
    (void)newoffset;
    return fd <= 2 ? RT_WASI_ESPIPE : RT_WASI_EBADF;
}

uint32_t rt_wasi_fd_fdstat_get(rt_instance_t *inst, uint32_t fd, uint32_t stat) {
    if (fd > 2) return RT_WASI_EBADF;
    uint8_t *p = rt_guest_ptr(inst, stat, 24);
    if (p == NULL) return RT_WASI_EFAULT;
    memset(p, 0, 24);
    p[0] = 2; /* filetype: character device */
    put_u64(p + 8, UINT64_MAX);
    put_u64(p + 16, UINT64_MAX);
    return RT_WASI_ESUCCESS;
}

void rt_wasi_proc_exit(rt_instance_t *inst, uint32_t code) {
    rt_eng_exit(inst->eng, (int32_t)code);
}

/* Arguments and environment (ARGS, docs/protocol.md): the layout of the Python host's
 * runtime_py/edge_runtime/host/wasi.py. sizes: the count and the bytes of the NUL-terminated
 * strings; get: one u32 pointer per string into buf, the strings back to back. Both ranges are
 * checked before anything is written. */
static uint32_t sizes(rt_instance_t *inst, uint32_t count, uint32_t bytes, uint32_t count_ptr,
                      uint32_t size_ptr) {
    uint8_t *c = rt_guest_ptr(inst, count_ptr, 4);
    uint8_t *s = rt_guest_ptr(inst, size_ptr, 4);
    if (c == NULL || s == NULL) return RT_WASI_EFAULT;
    put_u32(c, count);
    put_u32(s, bytes);
    return RT_WASI_ESUCCESS;
}

static uint32_t strings(rt_instance_t *inst, const uint8_t *blob, uint32_t count, uint32_t bytes,
                        uint32_t ptrs, uint32_t buf) {
    if (count > UINT32_MAX / 4u) return RT_WASI_EFAULT;
    uint8_t *p = rt_guest_ptr(inst, ptrs, 4u * count);
    uint8_t *b = rt_guest_ptr(inst, buf, bytes);
    if (p == NULL || b == NULL) return RT_WASI_EFAULT;
    uint32_t off = 0;
    for (uint32_t k = 0; k < count; k++) {
        put_u32(p + 4u * k, buf + off);
        off += (uint32_t)strlen((const char *)blob + off) + 1u;
    }
    if (bytes) memcpy(b, blob, bytes);
    return RT_WASI_ESUCCESS;
}

uint32_t rt_wasi_args_sizes_get(rt_instance_t *inst, uint32_t count_ptr, uint32_t size_ptr) {
    return sizes(inst, inst->argc, inst->argv_bytes, count_ptr, size_ptr);
}

uint32_t rt_wasi_args_get(rt_instance_t *inst, uint32_t argv_ptr, uint32_t buf_ptr) {
    return strings(inst, inst->args, inst->argc, inst->argv_bytes, argv_ptr, buf_ptr);
}

uint32_t rt_wasi_environ_sizes_get(rt_instance_t *inst, uint32_t count_ptr, uint32_t size_ptr) {
    return sizes(inst, inst->envc, inst->environ_bytes, count_ptr, size_ptr);
}

uint32_t rt_wasi_environ_get(rt_instance_t *inst, uint32_t environ_ptr, uint32_t buf_ptr) {
    const uint8_t *env = inst->args != NULL ? inst->args + inst->argv_bytes : NULL;
    return strings(inst, env, inst->envc, inst->environ_bytes, environ_ptr, buf_ptr);
}

uint32_t rt_wasi_clock_time_get(rt_instance_t *inst, uint32_t id, uint64_t precision,
                                uint32_t out) {
    (void)precision;
    if (id > 1) return RT_WASI_EINVAL;
    uint8_t *p = rt_guest_ptr(inst, out, 8);
    if (p == NULL) return RT_WASI_EFAULT;
    put_u64(p, id == 0 ? rt_os_realtime_ns() : rt_os_time_us() * 1000u);
    return RT_WASI_ESUCCESS;
}

uint32_t rt_wasi_random_get(rt_instance_t *inst, uint32_t buf, uint32_t len) {
    uint8_t *p = rt_guest_ptr(inst, buf, len);
    if (p == NULL) return RT_WASI_EFAULT;
    rt_os_random(p, len);
    return RT_WASI_ESUCCESS;
}

uint32_t rt_wasi_sched_yield(rt_instance_t *inst) {
    (void)inst;
    return RT_WASI_ESUCCESS;
}
