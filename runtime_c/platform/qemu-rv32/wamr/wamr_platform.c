/*
 * WAMR platform port, bare metal (qemu-rv32): platform_api_vmcore.h and the parts of
 * platform_api_extension.h the thread manager links against, over rt_platform.h and the
 * accounted heap. One thread of execution: locks and condition variables do nothing, thread
 * creation fails.
 */
#include "platform_api_extension.h"
#include "platform_api_vmcore.h"
#include "rt.h"
#include "rt_platform.h"

/* The bottom of the stack region the linker script leaves above the heap (qrv platform.c). */
extern uint32_t __heap_end[];

int rt_wamr_vprintf(const char *fmt, va_list ap);

int bh_platform_init(void) {
    return 0;
}

void bh_platform_destroy(void) {}

void *os_malloc(unsigned size) {
    return rt_malloc(size);
}

void *os_realloc(void *ptr, unsigned size) {
    return rt_realloc(ptr, size);
}

void os_free(void *ptr) {
    rt_free(ptr);
}

int os_printf(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = rt_wamr_vprintf(format, ap);
    va_end(ap);
    return n;
}

int os_vprintf(const char *format, va_list ap) {
    return rt_wamr_vprintf(format, ap);
}

uint64 os_time_get_boot_us(void) {
    return rt_os_time_us();
}

uint64 os_time_thread_cputime_us(void) {
    return rt_os_time_us();
}

korp_tid os_self_thread(void) {
    return 1;
}

uint8 *os_thread_get_stack_boundary(void) {
    return (uint8 *)__heap_end;
}

void os_thread_jit_write_protect_np(bool enabled) {
    (void)enabled;
}

int os_mutex_init(korp_mutex *mutex) {
    *mutex = 0;
    return BHT_OK;
}

int os_recursive_mutex_init(korp_mutex *mutex) {
    return os_mutex_init(mutex);
}

int os_mutex_destroy(korp_mutex *mutex) {
    (void)mutex;
    return BHT_OK;
}

int os_mutex_lock(korp_mutex *mutex) {
    (void)mutex;
    return BHT_OK;
}

int os_mutex_unlock(korp_mutex *mutex) {
    (void)mutex;
    return BHT_OK;
}

int os_cond_init(korp_cond *cond) {
    *cond = 0;
    return BHT_OK;
}

int os_cond_destroy(korp_cond *cond) {
    (void)cond;
    return BHT_OK;
}

int os_cond_wait(korp_cond *cond, korp_mutex *mutex) {
    (void)cond;
    (void)mutex;
    return BHT_OK;
}

int os_cond_reltimedwait(korp_cond *cond, korp_mutex *mutex, uint64 useconds) {
    (void)cond;
    (void)mutex;
    (void)useconds;
    return BHT_OK;
}

int os_cond_signal(korp_cond *cond) {
    (void)cond;
    return BHT_OK;
}

int os_cond_broadcast(korp_cond *cond) {
    (void)cond;
    return BHT_OK;
}

int os_thread_create(korp_tid *p_tid, thread_start_routine_t start, void *arg,
                     unsigned int stack_size) {
    (void)p_tid;
    (void)start;
    (void)arg;
    (void)stack_size;
    return BHT_ERROR;
}

int os_thread_create_with_prio(korp_tid *p_tid, thread_start_routine_t start, void *arg,
                               unsigned int stack_size, int prio) {
    (void)prio;
    return os_thread_create(p_tid, start, arg, stack_size);
}

int os_thread_join(korp_tid thread, void **retval) {
    (void)thread;
    if (retval != NULL) *retval = NULL;
    return BHT_OK;
}

int os_thread_detach(korp_tid thread) {
    (void)thread;
    return BHT_OK;
}

void os_thread_exit(void *retval) {
    (void)retval;
}

int os_usleep(uint32 usec) {
    uint64_t end = rt_os_time_us() + usec;
    while (rt_os_time_us() < end) {
    }
    return 0;
}

/* Linear memory does not come here (WASM_MEM_ALLOC_WITH_USAGE): only the loader's and the
 * runtime's occasional page-sized needs, from the accounted heap. */
void *os_mmap(void *hint, size_t size, int prot, int flags, os_file_handle file) {
    (void)hint;
    (void)prot;
    (void)flags;
    (void)file;
    void *p = rt_calloc(1, size);
    return p;
}

void os_munmap(void *addr, size_t size) {
    (void)size;
    rt_free(addr);
}

int os_mprotect(void *addr, size_t size, int prot) {
    (void)addr;
    (void)size;
    (void)prot;
    return 0;
}

void *os_mremap(void *old_addr, size_t old_size, size_t new_size) {
    (void)old_size;
    return rt_realloc(old_addr, new_size);
}

void os_dcache_flush(void) {}

void os_icache_flush(void *start, size_t len) {
    (void)start;
    (void)len;
}

int os_dumps_proc_mem_info(char *out, unsigned int size) {
    (void)out;
    (void)size;
    return -1;
}
