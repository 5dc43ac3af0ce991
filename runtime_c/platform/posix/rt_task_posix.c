/* Cooperative tasks on POSIX (rt_platform.h): ucontext's makecontext/swapcontext. Under
 * AddressSanitizer every switch is announced with __sanitizer_start_switch_fiber /
 * __sanitizer_finish_switch_fiber, so ASan knows which stack is live (otherwise it reports
 * false stack-buffer errors and loses fake stacks). */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#include "rt_platform.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_TASK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RT_TASK_ASAN 1
#endif

#ifdef RT_TASK_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

typedef struct {
    ucontext_t uc;
    const void *stack; /* NULL until known (the serve loop's: learnt at the first switch) */
    size_t size;
    void *fake_stack;
    void (*entry)(void *);
    void *arg;
} posix_task_t;

size_t rt_os_task_ctx_size(void) {
    return sizeof(posix_task_t);
}

/* The task being started (makecontext passes only ints: the switch hands it over). */
static posix_task_t *g_starting;
#ifdef RT_TASK_ASAN
static posix_task_t *g_switch_from;
#endif

static void trampoline(void) {
    posix_task_t *t = g_starting;
#ifdef RT_TASK_ASAN
    posix_task_t *from = g_switch_from;
    __sanitizer_finish_switch_fiber(NULL, &from->stack, &from->size);
#endif
    t->entry(t->arg);
}

int rt_os_task_init(void *ctx, void *stack, size_t size, void (*entry)(void *), void *arg) {
    posix_task_t *t = (posix_task_t *)ctx;
    memset(t, 0, sizeof *t);
    if (getcontext(&t->uc) != 0) return -1;
    t->uc.uc_stack.ss_sp = stack;
    t->uc.uc_stack.ss_size = size;
    t->uc.uc_link = NULL;
    t->stack = stack;
    t->size = size;
    t->entry = entry;
    t->arg = arg;
    makecontext(&t->uc, trampoline, 0);
    return 0;
}

void rt_os_task_switch(void *from_ctx, void *to_ctx, int ending) {
    posix_task_t *from = (posix_task_t *)from_ctx;
    posix_task_t *to = (posix_task_t *)to_ctx;
    g_starting = to;
#ifdef RT_TASK_ASAN
    g_switch_from = from;
    __sanitizer_start_switch_fiber(ending ? NULL : &from->fake_stack, to->stack, to->size);
#else
    (void)ending;
#endif
    swapcontext(&from->uc, &to->uc);
#ifdef RT_TASK_ASAN
    /* back in from: whoever switched here is g_switch_from */
    __sanitizer_finish_switch_fiber(from->fake_stack, &g_switch_from->stack, &g_switch_from->size);
#endif
}
