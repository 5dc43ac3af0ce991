/*
 * wasm2c engine: guests translated to C at build time, linked into the firmware.
 *
 * Traps: wabt's runtime longjmps to wasm_rt_jmp_buf; rt_eng_call sets that up around every
 * export call, so a trap ends the call with a message, never the process. proc_exit and the
 * time limit use the same jump with their own codes.
 *
 * Time limit: wasm2c output has no interruption points, so the platform's deadline timer
 * (rt_os_deadline_arm) fires asynchronously and on_deadline() unwinds the guest from there:
 * POSIX from a SIGALRM handler (installed with SA_NODEFER so nothing stays masked), an MCU from
 * its timer interrupt via a trampoline that returns into thread context first. If the guest
 * is inside host code at that moment (an import, an allocation), the unwind is deferred to
 * rt_w2c_host_leave(), so the core and the allocator are never interrupted halfway.
 *
 * Memory cap: linear memory is calloc'd (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0, explicit bounds
 * checks) and max_pages is lowered to the instance limit, so memory.grow past it returns -1.
 */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "rt_engine.h"
#include "rt_platform.h"
#include "rt_w2c.h"
#include "wasm-rt-impl.h"

#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "wasm2c engine: build with -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 (explicit bounds checks)"
#endif
#if !WASM_RT_USE_STACK_DEPTH_COUNT
#error "wasm2c engine: needs WASM_RT_USE_STACK_DEPTH_COUNT (stack exhaustion becomes a trap)"
#endif

#define PAGE_BYTES 65536u
#define JMP_EXIT 0x100
#define JMP_TIMEOUT 0x101
#define JMP_NO_MEMORY 0x102

struct rt_eng_instance {
    const struct rt_eng_module *mod;
    rt_w2c_env_t env;
    void *inst; /* Z_<guest>_instance_t */
    int32_t exit_code;
    uint32_t timeout_ms; /* of the call in progress (restarted when its task resumes) */
    /* the call's state while its task is switched away (rt_eng_task_leave) */
    jmp_buf saved_jmp;
    uint32_t saved_depth, saved_saved_depth;
    sig_atomic_t saved_state, saved_host_depth, saved_pending;
};

enum { ST_IDLE = 0, ST_GUEST = 1, ST_HOST = 2 };
static volatile sig_atomic_t g_state = ST_IDLE;
static volatile sig_atomic_t g_timeout_pending;

/* ---- allocation for wasm-rt-impl.c (see rt_w2c_alloc.h) ---- */

void *rt_w2c_malloc(size_t size) {
    rt_w2c_host_enter();
    void *p = rt_malloc(size);
    rt_w2c_host_leave();
    return p;
}

void *rt_w2c_calloc(size_t n, size_t size) {
    rt_w2c_host_enter();
    void *p = rt_calloc(n, size);
    rt_w2c_host_leave();
    return p;
}

void *rt_w2c_realloc(void *ptr, size_t size) {
    rt_w2c_host_enter();
    void *p = rt_realloc(ptr, size);
    rt_w2c_host_leave();
    return p;
}

void rt_w2c_free(void *ptr) {
    rt_w2c_host_enter();
    rt_free(ptr);
    rt_w2c_host_leave();
}

/* ---- memory.grow (see rt_w2c_alloc.h) ---- */

uint32_t rt_w2c_upstream_grow_memory(wasm_rt_memory_t *memory, uint32_t delta);

/* The spec's memory.grow: the old size in pages, or -1 when the new size would exceed the
 * maximum (no wrap-around: delta is unsigned, so grow(-1) asks for 2^32 - 1 pages). */
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta) {
    if (delta == 0) return memory->pages;
    if (delta > memory->max_pages || memory->pages > memory->max_pages - delta) {
        return (uint32_t)-1;
    }
    return rt_w2c_upstream_grow_memory(memory, delta);
}

/* ---- linear memory allocation (see rt_w2c_alloc.h) ---- */

void rt_w2c_upstream_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages,
                                     uint32_t max_pages);

/* Called only while instantiating (rt_eng_instantiate's jump target is set). */
void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
    rt_w2c_upstream_allocate_memory(memory, initial_pages, max_pages);
    if (memory->data == NULL && initial_pages > 0) longjmp(wasm_rt_jmp_buf, JMP_NO_MEMORY);
}

/* ---- unwinding ---- */

static void on_deadline(void) {
    if (g_state == ST_GUEST) {
        g_state = ST_IDLE;
        longjmp(wasm_rt_jmp_buf, JMP_TIMEOUT);
    }
    if (g_state == ST_HOST) g_timeout_pending = 1;
}

/* Host code may nest (an import that allocates): only the outermost leave may unwind. */
static volatile sig_atomic_t g_host_depth;

void rt_w2c_host_enter(void) {
    if (g_host_depth++ == 0 && g_state == ST_GUEST) g_state = ST_HOST;
}

void rt_w2c_host_leave(void) {
    if (--g_host_depth == 0 && g_state == ST_HOST) {
        g_state = ST_GUEST;
        if (g_timeout_pending) {
            g_timeout_pending = 0;
            g_state = ST_IDLE;
            longjmp(wasm_rt_jmp_buf, JMP_TIMEOUT);
        }
    }
}

void rt_eng_exit(rt_eng_instance_t *inst, int32_t code) {
    inst->exit_code = code;
    g_host_depth = 0; /* proc_exit is called from inside an import */
    g_state = ST_IDLE;
    longjmp(wasm_rt_jmp_buf, JMP_EXIT);
}

/* ---- the seam ---- */

rt_status_t rt_eng_init(void) {
    wasm_rt_init();
    for (uint32_t i = 0; i < rt_w2c_module_count; i++)
        rt_w2c_modules[i]->init_module();
    return RT_OK;
}

void rt_eng_shutdown(void) {
    wasm_rt_free();
}

const char *rt_eng_name(void) {
    return "wasm2c";
}

uint32_t rt_eng_module_count(void) {
    return rt_w2c_module_count;
}

const rt_eng_module_t *rt_eng_module_at(uint32_t index) {
    return index < rt_w2c_module_count ? rt_w2c_modules[index] : NULL;
}

const char *rt_eng_module_name(const rt_eng_module_t *m) {
    return m->name;
}
const uint8_t *rt_eng_module_sha256(const rt_eng_module_t *m) {
    return m->sha256;
}
uint32_t rt_eng_module_size(const rt_eng_module_t *m) {
    return m->wasm_size;
}
bool rt_eng_can_load_modules(void) {
    return false;
}

rt_status_t rt_eng_module_add(const rt_item_t *item, uint8_t *bytes, char *msg, size_t cap) {
    rt_free(bytes);
    rt_fmt(msg, cap, "wasm2c engine cannot load modules at run time: add '%s' to guests.modules",
           item->name);
    return RT_ERR_UNSUPPORTED;
}

bool rt_eng_module_evict(void) {
    return false;
}

rt_status_t rt_eng_instantiate(const rt_eng_module_t *m, struct rt_instance *owner,
                               uint32_t max_memory_bytes, rt_eng_instance_t **out, char *msg,
                               size_t cap) {
    rt_eng_instance_t *e = (rt_eng_instance_t *)rt_calloc(1, sizeof *e);
    void *inst = rt_calloc(1, m->instance_size);
    if (e == NULL || inst == NULL) {
        rt_free(e);
        rt_free(inst);
        rt_fmt(msg, cap, "does not fit: instance of %s", m->name);
        return RT_ERR_NO_SPACE;
    }
    e->mod = m;
    e->inst = inst;
    rt_w2c_env_init(&e->env, owner);
    /* Instantiation allocates (memory, table) and may trap (a data segment out of bounds). */
    wasm_rt_call_stack_depth = 0;
    int jmp = WASM_RT_SETJMP(wasm_rt_jmp_buf);
    if (jmp != 0) {
        wasm_rt_call_stack_depth = 0;
        if (jmp == JMP_NO_MEMORY) {
            uint32_t pages = m->memory != NULL ? m->memory(inst)->pages : 0;
            rt_fmt(msg, cap, "does not fit: %s needs %lu bytes of linear memory", m->name,
                   (unsigned long)pages * PAGE_BYTES);
        } else {
            rt_fmt(msg, cap, "instantiating %s trapped: %s", m->name,
                   wasm_rt_strerror((wasm_rt_trap_t)jmp));
        }
        /* wasm2c's free functions are safe on partially initialised (zeroed) instances. */
        m->free(inst);
        rt_free(inst);
        rt_free(e);
        return jmp == JMP_NO_MEMORY ? RT_ERR_NO_SPACE : RT_ERR_INTERNAL;
    }
    m->instantiate(inst, &e->env);
    if (m->memory != NULL) {
        wasm_rt_memory_t *mem = m->memory(inst);
        uint32_t cap_pages = max_memory_bytes / PAGE_BYTES;
        if (mem->data == NULL && mem->pages > 0) {
            rt_fmt(msg, cap, "does not fit: %s needs %lu bytes of linear memory", m->name,
                   (unsigned long)mem->pages * PAGE_BYTES);
            m->free(inst);
            rt_free(inst);
            rt_free(e);
            return RT_ERR_NO_SPACE;
        }
        if (mem->pages > cap_pages) {
            rt_fmt(msg, cap, "does not fit: %s starts with %lu KiB of memory, limit %lu KiB",
                   m->name, (unsigned long)mem->pages * 64u, (unsigned long)cap_pages * 64u);
            m->free(inst);
            rt_free(inst);
            rt_free(e);
            return RT_ERR_NO_SPACE;
        }
        if (mem->max_pages > cap_pages) mem->max_pages = cap_pages;
    }
    *out = e;
    return RT_OK;
}

void rt_eng_free(rt_eng_instance_t *inst) {
    if (inst == NULL) return;
    inst->mod->free(inst->inst);
    rt_free(inst->inst);
    rt_free(inst);
}

static const rt_w2c_export_t *find_export(const struct rt_eng_module *m, const char *name) {
    for (uint32_t i = 0; i < m->export_count; i++) {
        if (strcmp(m->exports[i].name, name) == 0) return &m->exports[i];
    }
    return NULL;
}

bool rt_eng_has_export(const rt_eng_instance_t *inst, const char *name) {
    return find_export(inst->mod, name) != NULL;
}

uint8_t *rt_eng_memory(rt_eng_instance_t *inst, uint32_t *size) {
    if (inst == NULL || inst->mod->memory == NULL) {
        *size = 0;
        return NULL;
    }
    wasm_rt_memory_t *mem = inst->mod->memory(inst->inst);
    *size = mem->size;
    return mem->data;
}

rt_status_t rt_eng_call(rt_eng_instance_t *inst, const char *export_name, const int32_t *args,
                        uint32_t argc, uint32_t timeout_ms, rt_call_result_t *res, char *msg,
                        size_t cap) {
    memset(res, 0, sizeof *res);
    const rt_w2c_export_t *ex = find_export(inst->mod, export_name);
    if (ex == NULL) {
        rt_fmt(msg, cap, "%s has no export '%s' taking i32 arguments", inst->mod->name,
               export_name);
        return RT_ERR_NOT_FOUND;
    }
    if (argc != ex->argc) {
        rt_fmt(msg, cap, "export '%s' takes %u arguments, got %lu", export_name, (unsigned)ex->argc,
               (unsigned long)argc);
        return RT_ERR_BAD_REQUEST;
    }
    int32_t argv[8] = {0};
    for (uint32_t i = 0; i < argc && i < 8; i++)
        argv[i] = args[i];
    volatile uint64_t start = rt_os_time_us();
    volatile int32_t value = 0;
    inst->exit_code = 0;
    inst->timeout_ms = timeout_ms;
    g_timeout_pending = 0;
    g_host_depth = 0;
    wasm_rt_call_stack_depth = 0;
    int jmp = WASM_RT_SETJMP(wasm_rt_jmp_buf);
    if (jmp == 0) {
        if (timeout_ms > 0) rt_os_deadline_arm(timeout_ms, on_deadline);
        g_state = ST_GUEST;
        value = ex->fn(inst->inst, argv);
        g_state = ST_IDLE;
        rt_os_deadline_disarm();
        res->outcome = RT_CALL_RETURNED;
        res->has_result = ex->has_result != 0;
        res->value = ex->has_result ? value : 0;
    } else {
        g_state = ST_IDLE;
        rt_os_deadline_disarm();
        g_host_depth = 0;
        g_timeout_pending = 0;
        wasm_rt_call_stack_depth = 0;
        if (jmp == JMP_EXIT) {
            res->outcome = RT_CALL_EXITED;
            res->value = inst->exit_code;
            rt_fmt(res->message, sizeof res->message, "exited with code %ld",
                   (long)inst->exit_code);
        } else if (jmp == JMP_TIMEOUT) {
            res->outcome = RT_CALL_TIMEOUT;
            rt_fmt(res->message, sizeof res->message, "time limit of %lu ms exceeded",
                   (unsigned long)timeout_ms);
        } else {
            res->outcome = RT_CALL_TRAPPED;
            rt_fmt(res->message, sizeof res->message, "trap: %s",
                   wasm_rt_strerror((wasm_rt_trap_t)jmp));
        }
    }
    uint64_t elapsed = rt_os_time_us() - start;
    res->elapsed_us = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
    return RT_OK;
}

/* ---- pipeline instances: calls on tasks ----
 * A task switches away only from inside an import (host code). Everything above that belongs
 * to the call in progress on that task is saved in its instance and restored when the task
 * resumes: the trap target (wasm_rt_jmp_buf, set by rt_eng_call on the task's own stack), the
 * stack depth count, the guest/host state and a deadline that fired while in host code. The
 * deadline timer itself is stopped while the task is away and restarted for the next slice. */

bool rt_eng_can_run_tasks(void) {
    return true;
}

void rt_eng_set_stack(rt_eng_instance_t *inst, void *lo, size_t size) {
    (void)inst; /* stack exhaustion is WASM_RT_USE_STACK_DEPTH_COUNT's trap */
    (void)lo;
    (void)size;
}

void rt_eng_task_leave(rt_eng_instance_t *inst) {
    if (inst->timeout_ms > 0) rt_os_deadline_disarm();
    memcpy(inst->saved_jmp, wasm_rt_jmp_buf, sizeof(jmp_buf));
    inst->saved_depth = wasm_rt_call_stack_depth;
    inst->saved_saved_depth = wasm_rt_saved_call_stack_depth;
    inst->saved_state = g_state;
    inst->saved_host_depth = g_host_depth;
    inst->saved_pending = g_timeout_pending;
    g_state = ST_IDLE;
    g_host_depth = 0;
    g_timeout_pending = 0;
}

void rt_eng_task_enter(rt_eng_instance_t *inst) {
    memcpy(wasm_rt_jmp_buf, inst->saved_jmp, sizeof(jmp_buf));
    wasm_rt_call_stack_depth = inst->saved_depth;
    wasm_rt_saved_call_stack_depth = inst->saved_saved_depth;
    g_host_depth = inst->saved_host_depth;
    g_timeout_pending = inst->saved_pending;
    g_state = inst->saved_state;
    if (inst->timeout_ms > 0) rt_os_deadline_arm(inst->timeout_ms, on_deadline);
}

/* Function types of the callbacks: (i32 x argc) -> () as wasm2c registers them. */
static uint32_t callback_type(uint32_t argc) {
    switch (argc) {
    case 1:
        return wasm_rt_register_func_type(1, 0, WASM_RT_I32);
    case 2:
        return wasm_rt_register_func_type(2, 0, WASM_RT_I32, WASM_RT_I32);
    case 3:
        return wasm_rt_register_func_type(3, 0, WASM_RT_I32, WASM_RT_I32, WASM_RT_I32);
    case 4:
        return wasm_rt_register_func_type(4, 0, WASM_RT_I32, WASM_RT_I32, WASM_RT_I32, WASM_RT_I32);
    default:
        return 0;
    }
}

typedef void (*cb1_t)(void *, uint32_t);
typedef void (*cb2_t)(void *, uint32_t, uint32_t);
typedef void (*cb3_t)(void *, uint32_t, uint32_t, uint32_t);
typedef void (*cb4_t)(void *, uint32_t, uint32_t, uint32_t, uint32_t);

/* Guest code called from host code: a trap, exit or the time limit longjmps straight to the
 * surrounding rt_eng_call (the import's frames are left, as with any trap), so this returns
 * only when the callee returned. */
rt_status_t rt_eng_call_nested(rt_eng_instance_t *inst, const char *export_name,
                               uint32_t table_index, const int32_t *args, uint32_t argc,
                               int32_t *result) {
    *result = 0;
    const rt_w2c_export_t *ex = NULL;
    wasm_rt_funcref_t f = wasm_rt_funcref_null_value;
    if (export_name != NULL) {
        ex = find_export(inst->mod, export_name);
        if (ex == NULL || ex->argc != argc) wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);
    } else {
        wasm_rt_funcref_table_t *t = inst->mod->table ? inst->mod->table(inst->inst) : NULL;
        if (t == NULL || table_index >= t->size || t->data[table_index].func == NULL || argc < 1 ||
            argc > 4 || t->data[table_index].func_type != callback_type(argc))
            wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);
        f = t->data[table_index];
    }
    int32_t argv[8] = {0};
    for (uint32_t i = 0; i < argc && i < 8; i++)
        argv[i] = args[i];
    sig_atomic_t state = g_state, depth = g_host_depth;
    g_host_depth = 0;
    g_state = ST_GUEST;
    if (g_timeout_pending) {
        g_timeout_pending = 0;
        g_state = ST_IDLE;
        longjmp(wasm_rt_jmp_buf, JMP_TIMEOUT);
    }
    uint32_t a0 = (uint32_t)argv[0], a1 = (uint32_t)argv[1], a2 = (uint32_t)argv[2],
             a3 = (uint32_t)argv[3];
    if (ex != NULL) {
        *result = ex->fn(inst->inst, argv);
    } else if (argc == 1) {
        ((cb1_t)f.func)(f.module_instance, a0);
    } else if (argc == 2) {
        ((cb2_t)f.func)(f.module_instance, a0, a1);
    } else if (argc == 3) {
        ((cb3_t)f.func)(f.module_instance, a0, a1, a2);
    } else {
        ((cb4_t)f.func)(f.module_instance, a0, a1, a2, a3);
    }
    g_state = state;
    g_host_depth = depth;
    return RT_OK;
}
