/*
 * WAMR engine (engines/rt_engine.h over wasm_runtime_*): the WebAssembly Micro Runtime's
 * interpreter, modules uploaded at run time (nothing is compiled into the firmware).
 *
 * Modules: rt_eng_module_add validates and loads the uploaded bytes with WAMR's full loader.
 * The fast interpreter translates the code at load time, so the upload buffer is freed right
 * after loading (LoadArgs.wasm_binary_freeable); the classic interpreter executes the bytecode
 * in place, so it keeps the buffer. Loaded modules no instance uses are a cache: unloaded,
 * least recently used first, when an upload or any WAMR allocation needs the room
 * (rt_eng_module_evict).
 *
 * Memory: WAMR allocates everything (runtime structures, modules, instances, linear memories:
 * WASM_MEM_ALLOC_WITH_USAGE) through rt_malloc & co, so the core's budget and high-water mark
 * cover it. Linear memory is capped at the instance limit (max_memory_pages), so memory.grow
 * past it returns -1.
 *
 * Time limit: the platform's deadline (rt_os_deadline_notify: POSIX from the SIGALRM handler,
 * an MCU from its timer interrupt) only sets WAMR's TERMINATE suspend flag on the instance's
 * exec env, atomically. The interpreter polls that flag at every branch and call
 * (WASM_ENABLE_THREAD_MGR) and returns, so guest code stops at an instruction boundary and
 * never inside WAMR's or the core's own code; host code (an import, an inference) runs to its
 * end first, as with the wasm2c engine.
 *
 * Traps become outcome "trapped" with WAMR's exception text; proc_exit sets an exception that
 * unwinds the interpreter and reports outcome "exited".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt_eng_wamr.h"
#include "rt_engine.h"
#include "rt_platform.h"
#include "wasm_exec_env.h"
#include "wasm_suspend_flags.h"

#if WASM_ENABLE_THREAD_MGR == 0
#error "wamr engine: needs WAMR_BUILD_THREAD_MGR=1 (the interpreter polls the terminate flag)"
#endif
#if WASM_MEM_ALLOC_WITH_USAGE == 0
#error "wamr engine: needs WAMR_BUILD_ALLOC_WITH_USAGE=1 (linear memory through rt_malloc)"
#endif
#if !WASM_SUSPEND_FLAGS_IS_ATOMIC
#error "wamr engine: the suspend flags must be atomic (set from a signal handler / interrupt)"
#endif

#define PAGE_BYTES 65536u
#define MAX_ARGS 8u

struct rt_eng_module {
    bool used;
    char name[RT_NAME_MAX + 1];
    uint8_t sha256[32];
    uint32_t size;
    uint8_t *bytes; /* the classic interpreter runs from them; NULL on the fast interpreter */
    wasm_module_t module;
    uint32_t instances;
    uint32_t last_use; /* LRU order for eviction */
};

struct rt_eng_instance {
    struct rt_eng_module *mod;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
    int32_t exit_code;
    bool exited;
    bool timed_out;      /* the deadline of this instance's call fired */
    uint32_t timeout_ms; /* of the call in progress (re-armed when its task resumes) */
};

static struct rt_eng_module g_mods[RT_WAMR_MAX_MODULES];
static uint32_t g_tick;
static bool g_ready;

/* The linear memory cap of the instance being created (WAMR allocates its memory inside
 * wasm_runtime_instantiate_ex2): the room wamr_malloc asks for beside it. */
static uint32_t g_memory_cap;

/* True while a module loads: what WAMR allocates then lives as long as the module (a cache
 * entry) and is placed apart from the transient blocks (rt_malloc_lasting). */
static bool g_loading;

/* The call the deadline applies to. */
static wasm_exec_env_t volatile g_call_env;
static rt_eng_instance_t *volatile g_call_inst;

/* ---- allocation: everything through the accounted heap ---- */

/* Loaded modules no instance uses are a cache: when the heap is full (a memory.grow, an
 * instance, a load), they are unloaded, least recently used first, and the allocation retried.
 * A module being instantiated counts as used (rt_eng_instantiate), so it is never among them. */
static void *wamr_malloc(mem_alloc_usage_t usage, unsigned int size) {
    for (;;) {
        void *p;
        if (usage == Alloc_For_LinearMemory) {
            /* Placed with room to grow to the instance's cap in place (memory.grow is a
             * realloc); zeroed as mmap'd pages would be. */
            p = rt_malloc_growable(size, g_memory_cap);
            if (p != NULL) memset(p, 0, size);
        } else {
            p = g_loading ? rt_malloc_lasting(size) : rt_malloc(size);
        }
        if (p != NULL || !rt_eng_module_evict()) return p;
    }
}

static void *wamr_realloc(mem_alloc_usage_t usage, bool full_size_mmaped, void *ptr,
                          unsigned int size) {
    (void)full_size_mmaped;
    size_t old = rt_mem_block_size(ptr);
    uint8_t *p = (uint8_t *)rt_realloc(ptr, size); /* on failure ptr stays valid */
    while (p == NULL && rt_eng_module_evict())
        p = (uint8_t *)rt_realloc(ptr, size);
    if (p != NULL && usage == Alloc_For_LinearMemory && size > old) memset(p + old, 0, size - old);
    return p;
}

static void wamr_free(mem_alloc_usage_t usage, void *ptr) {
    (void)usage;
    rt_free(ptr);
}

/* WAMR's own messages (WAMR_BH_VPRINTF): to the debug log, never to the protocol link. */
int rt_wamr_vprintf(const char *fmt, va_list ap);
int rt_wamr_vprintf(const char *fmt, va_list ap) {
    static char line[160];
    static size_t len;
    char chunk[160];
    int n = vsnprintf(chunk, sizeof chunk, fmt, ap);
    for (const char *c = chunk; n > 0 && *c != '\0'; c++) {
        if (*c == '\n' || len == sizeof line - 1) {
            line[len] = '\0';
            if (len > 0) rt_os_log(line);
            len = 0;
            if (*c == '\n') continue;
        }
        line[len++] = *c;
    }
    return n;
}

/* ---- the deadline: set a flag the interpreter polls (async-signal-safe) ---- */

static void on_deadline(void) {
    wasm_exec_env_t env = g_call_env;
    rt_eng_instance_t *e = g_call_inst;
    if (env == NULL || e == NULL) return;
    e->timed_out = true;
    WASM_SUSPEND_FLAGS_FETCH_OR(env->suspend_flags, WASM_SUSPEND_FLAG_TERMINATE);
}

/* ---- lifecycle ---- */

rt_status_t rt_eng_init(void) {
    RuntimeInitArgs args;
    memset(&args, 0, sizeof args);
    args.mem_alloc_type = Alloc_With_Allocator;
    args.mem_alloc_option.allocator.malloc_func = (void *)wamr_malloc;
    args.mem_alloc_option.allocator.realloc_func = (void *)wamr_realloc;
    args.mem_alloc_option.allocator.free_func = (void *)wamr_free;
    if (!wasm_runtime_full_init(&args)) return RT_ERR_INTERNAL;
    wasm_runtime_set_log_level(WASM_LOG_LEVEL_ERROR);
    if (!rt_wamr_register_natives()) {
        wasm_runtime_destroy();
        return RT_ERR_INTERNAL;
    }
    g_ready = true;
    return RT_OK;
}

static void unload(struct rt_eng_module *m) {
    if (m->module != NULL) wasm_runtime_unload(m->module);
    rt_free(m->bytes);
    memset(m, 0, sizeof *m);
}

void rt_eng_shutdown(void) {
    if (!g_ready) return;
    for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES; i++) {
        if (g_mods[i].used) unload(&g_mods[i]);
    }
    wasm_runtime_destroy();
    g_ready = false;
}

const char *rt_eng_name(void) {
    return "wamr";
}

/* ---- modules ---- */

uint32_t rt_eng_module_count(void) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES; i++)
        n += g_mods[i].used ? 1u : 0u;
    return n;
}

const rt_eng_module_t *rt_eng_module_at(uint32_t index) {
    for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES; i++) {
        if (g_mods[i].used && index-- == 0) return &g_mods[i];
    }
    return NULL;
}

const char *rt_eng_module_name(const rt_eng_module_t *m) {
    return m->name;
}
const uint8_t *rt_eng_module_sha256(const rt_eng_module_t *m) {
    return m->sha256;
}
uint32_t rt_eng_module_size(const rt_eng_module_t *m) {
    return m->size;
}
bool rt_eng_can_load_modules(void) {
    return true;
}

bool rt_eng_module_evict(void) {
    struct rt_eng_module *lru = NULL;
    for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES; i++) {
        struct rt_eng_module *m = &g_mods[i];
        if (m->used && m->instances == 0 && (lru == NULL || m->last_use < lru->last_use)) lru = m;
    }
    if (lru == NULL) return false;
    rt_logf("wamr: unloading %s to make room", lru->name);
    unload(lru);
    return true;
}

static bool is_out_of_memory(const char *err) {
    return strstr(err, "allocate memory failed") != NULL || strstr(err, "out of memory") != NULL;
}

rt_status_t rt_eng_module_add(const rt_item_t *item, uint8_t *bytes, char *msg, size_t cap) {
    struct rt_eng_module *slot = NULL;
    for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES; i++) {
        struct rt_eng_module *m = &g_mods[i];
        if (m->used && strcmp(m->name, item->name) == 0) {
            if (m->instances > 0) {
                rt_free(bytes);
                rt_fmt(msg, cap, "module '%s' is in use by an instance: drop it first", m->name);
                return RT_ERR_BUSY;
            }
            unload(m); /* replaced by the new bytes */
        }
    }
    for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES && slot == NULL; i++) {
        if (!g_mods[i].used) slot = &g_mods[i];
    }
    if (slot == NULL && rt_eng_module_evict()) {
        for (uint32_t i = 0; i < RT_WAMR_MAX_MODULES && slot == NULL; i++) {
            if (!g_mods[i].used) slot = &g_mods[i];
        }
    }
    if (slot == NULL) {
        rt_free(bytes);
        rt_fmt(msg, cap, "module table full (%d modules in use)", RT_WAMR_MAX_MODULES);
        return RT_ERR_NO_SPACE;
    }
    char name[RT_NAME_MAX + 1];
    memcpy(name, item->name, sizeof name);
    name[RT_NAME_MAX] = '\0';
    LoadArgs args;
    memset(&args, 0, sizeof args);
    args.name = name;
    args.wasm_binary_freeable = WASM_ENABLE_FAST_INTERP != 0;
    char err[128] = "";
    g_loading = true;
    wasm_module_t module = wasm_runtime_load_ex(bytes, item->size, &args, err, sizeof err);
    g_loading = false;
    if (module == NULL) {
        rt_free(bytes);
        if (is_out_of_memory(err)) {
            rt_fmt(msg, cap, "does not fit: loading module '%s' needs more than %lu bytes free",
                   name, (unsigned long)(RT_HEAP_BUDGET_BYTES - rt_mem_in_use()));
            return RT_ERR_NO_SPACE;
        }
        rt_fmt(msg, cap, "module '%s' does not load: %s", name, err);
        return RT_ERR_BAD_REQUEST;
    }
    rt_upload_committed(item, bytes); /* validated and loaded: the platform may keep it */
    if (WASM_ENABLE_FAST_INTERP != 0) {
        rt_free(bytes); /* translated at load time: the bytes are no longer referenced */
        bytes = NULL;
    }
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    memcpy(slot->name, name, sizeof slot->name);
    memcpy(slot->sha256, item->sha256, 32);
    slot->size = item->size;
    slot->bytes = bytes;
    slot->module = module;
    slot->last_use = ++g_tick;
    return RT_OK;
}

/* ---- instances ---- */

static rt_status_t instantiate_failed(rt_eng_instance_t *e, const char *name, const char *err,
                                      char *msg, size_t cap) {
    rt_status_t st = RT_ERR_INTERNAL;
    if (is_out_of_memory(err)) {
        rt_fmt(msg, cap, "does not fit: instance of %s: %s", name, err);
        st = RT_ERR_NO_SPACE;
    } else if (err[0] != '\0') {
        rt_fmt(msg, cap, "instantiating %s failed: %s", name, err);
    }
    if (e->env != NULL) wasm_runtime_destroy_exec_env(e->env);
    if (e->inst != NULL) wasm_runtime_deinstantiate(e->inst);
    e->mod->instances--;
    rt_free(e);
    return st;
}

rt_status_t rt_eng_instantiate(const rt_eng_module_t *cm, struct rt_instance *owner,
                               uint32_t max_memory_bytes, rt_eng_instance_t **out, char *msg,
                               size_t cap) {
    struct rt_eng_module *m = (struct rt_eng_module *)cm;
    rt_eng_instance_t *e = (rt_eng_instance_t *)rt_calloc(1, sizeof *e);
    if (e == NULL) {
        rt_fmt(msg, cap, "does not fit: instance of %s", m->name);
        return RT_ERR_NO_SPACE;
    }
    e->mod = m;
    m->instances++; /* in use from here: not unloaded to make room for its own instance */
    uint32_t cap_pages = max_memory_bytes / PAGE_BYTES;
    struct InstantiationArgs2 *args = NULL;
    if (!wasm_runtime_instantiation_args_create(&args)) {
        return instantiate_failed(e, m->name, "allocate memory failed", msg, cap);
    }
    wasm_runtime_instantiation_args_set_default_stack_size(args, RT_WAMR_STACK_BYTES);
    wasm_runtime_instantiation_args_set_host_managed_heap_size(args, RT_WAMR_HEAP_BYTES);
    wasm_runtime_instantiation_args_set_max_memory_pages(args, cap_pages);
    char err[128] = "";
    g_memory_cap = max_memory_bytes;
    e->inst = wasm_runtime_instantiate_ex2(m->module, args, err, sizeof err);
    g_memory_cap = 0;
    wasm_runtime_instantiation_args_destroy(args);
    if (e->inst == NULL) return instantiate_failed(e, m->name, err, msg, cap);
    wasm_runtime_set_custom_data(e->inst, owner);
    wasm_memory_inst_t mem = wasm_runtime_get_default_memory(e->inst);
    if (mem != NULL && wasm_memory_get_cur_page_count(mem) > cap_pages) {
        rt_fmt(msg, cap, "does not fit: %s starts with %lu KiB of memory, limit %lu KiB", m->name,
               (unsigned long)wasm_memory_get_cur_page_count(mem) * 64u,
               (unsigned long)cap_pages * 64u);
        instantiate_failed(e, m->name, "", NULL, 0);
        return RT_ERR_NO_SPACE;
    }
    e->env = wasm_runtime_create_exec_env(e->inst, RT_WAMR_STACK_BYTES);
    if (e->env == NULL) return instantiate_failed(e, m->name, "allocate memory failed", msg, cap);
    m->last_use = ++g_tick;
    *out = e;
    return RT_OK;
}

void rt_eng_free(rt_eng_instance_t *e) {
    if (e == NULL) return;
    wasm_runtime_destroy_exec_env(e->env);
    wasm_runtime_deinstantiate(e->inst);
    e->mod->instances--;
    rt_free(e);
}

/* An export callable with i32 arguments and at most one i32 result, or NULL. */
static wasm_function_inst_t find_export(const rt_eng_instance_t *e, const char *name,
                                        uint32_t *argc, uint32_t *results) {
    wasm_function_inst_t f = wasm_runtime_lookup_function(e->inst, name);
    if (f == NULL) return NULL;
    uint32_t np = wasm_func_get_param_count(f, e->inst);
    uint32_t nr = wasm_func_get_result_count(f, e->inst);
    if (np > MAX_ARGS || nr > 1) return NULL;
    wasm_valkind_t kinds[MAX_ARGS];
    wasm_func_get_param_types(f, e->inst, kinds);
    for (uint32_t i = 0; i < np; i++) {
        if (kinds[i] != WASM_I32) return NULL;
    }
    if (nr == 1) {
        wasm_func_get_result_types(f, e->inst, kinds);
        if (kinds[0] != WASM_I32) return NULL;
    }
    *argc = np;
    *results = nr;
    return f;
}

bool rt_eng_has_export(const rt_eng_instance_t *e, const char *name) {
    uint32_t argc, results;
    return find_export(e, name, &argc, &results) != NULL;
}

uint8_t *rt_eng_memory(rt_eng_instance_t *e, uint32_t *size) {
    wasm_memory_inst_t mem = e != NULL ? wasm_runtime_get_default_memory(e->inst) : NULL;
    if (mem == NULL) {
        *size = 0;
        return NULL;
    }
    uint64_t bytes = wasm_memory_get_cur_page_count(mem) * wasm_memory_get_bytes_per_page(mem);
    *size = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
    return (uint8_t *)wasm_memory_get_base_address(mem);
}

void rt_eng_exit(rt_eng_instance_t *e, int32_t code) {
    /* Called from the proc_exit native: the exception unwinds the interpreter when it returns. */
    e->exit_code = code;
    e->exited = true;
    wasm_runtime_set_exception(e->inst, "wasi proc exit");
}

static const char *trap_text(const char *exception) {
    static const char prefix[] = "Exception: ";
    if (exception == NULL) return "unknown";
    return strncmp(exception, prefix, sizeof prefix - 1) == 0 ? exception + sizeof prefix - 1
                                                              : exception;
}

rt_status_t rt_eng_call(rt_eng_instance_t *e, const char *export_name, const int32_t *args,
                        uint32_t argc, uint32_t timeout_ms, rt_call_result_t *res, char *msg,
                        size_t cap) {
    memset(res, 0, sizeof *res);
    uint32_t want, results;
    wasm_function_inst_t f = find_export(e, export_name, &want, &results);
    if (f == NULL) {
        rt_fmt(msg, cap, "%s has no export '%s' taking i32 arguments", e->mod->name, export_name);
        return RT_ERR_NOT_FOUND;
    }
    if (argc != want) {
        rt_fmt(msg, cap, "export '%s' takes %u arguments, got %lu", export_name, (unsigned)want,
               (unsigned long)argc);
        return RT_ERR_BAD_REQUEST;
    }
    uint32_t argv[MAX_ARGS > 1 ? MAX_ARGS : 1] = {0};
    for (uint32_t i = 0; i < argc; i++)
        argv[i] = (uint32_t)args[i];
    e->exit_code = 0;
    e->exited = false;
    e->mod->last_use = ++g_tick;
    wasm_runtime_clear_exception(e->inst);
    WASM_SUSPEND_FLAGS_FETCH_AND(e->env->suspend_flags, ~WASM_SUSPEND_FLAG_TERMINATE);
    e->timed_out = false;
    e->timeout_ms = timeout_ms;
    uint64_t start = rt_os_time_us();
    g_call_inst = e;
    g_call_env = e->env;
    if (timeout_ms > 0) rt_os_deadline_notify(timeout_ms, on_deadline);
    bool ok = wasm_runtime_call_wasm(e->env, f, argc, argv);
    if (timeout_ms > 0) rt_os_deadline_disarm();
    g_call_env = NULL;
    g_call_inst = NULL;
    uint64_t elapsed = rt_os_time_us() - start;
    res->elapsed_us = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
    if (e->exited) {
        res->outcome = RT_CALL_EXITED;
        res->value = e->exit_code;
        rt_fmt(res->message, sizeof res->message, "exited with code %ld", (long)e->exit_code);
    } else if (e->timed_out) {
        res->outcome = RT_CALL_TIMEOUT;
        rt_fmt(res->message, sizeof res->message, "time limit of %lu ms exceeded",
               (unsigned long)timeout_ms);
    } else if (!ok) {
        res->outcome = RT_CALL_TRAPPED;
        rt_fmt(res->message, sizeof res->message, "trap: %s",
               trap_text(wasm_runtime_get_exception(e->inst)));
    } else {
        res->outcome = RT_CALL_RETURNED;
        res->has_result = results == 1;
        res->value = results == 1 ? (int32_t)argv[0] : 0;
    }
    wasm_runtime_clear_exception(e->inst);
    WASM_SUSPEND_FLAGS_FETCH_AND(e->env->suspend_flags, ~WASM_SUSPEND_FLAG_TERMINATE);
    e->timed_out = false;
    return RT_OK;
}

/* ---- pipeline instances: calls on tasks ---- */

bool rt_eng_can_run_tasks(void) {
    return true;
}

/* WAMR compares the native stack pointer with a boundary (native stack overflow becomes an
 * exception): on a task's stack that is the task's, with room left for host code below it. */
void rt_eng_set_stack(rt_eng_instance_t *e, void *lo, size_t size) {
    size_t guard = size / 4u < 8192u ? size / 4u : 8192u;
    wasm_runtime_set_native_stack_boundary(e->env, (uint8_t *)lo + guard);
}

void rt_eng_task_leave(rt_eng_instance_t *e) {
    if (g_call_inst != e) return;
    if (e->timeout_ms > 0) rt_os_deadline_disarm();
    g_call_env = NULL;
    g_call_inst = NULL;
}

void rt_eng_task_enter(rt_eng_instance_t *e) {
    g_call_inst = e;
    g_call_env = e->env;
    if (e->timeout_ms > 0) rt_os_deadline_notify(e->timeout_ms, on_deadline);
}

rt_status_t rt_eng_call_nested(rt_eng_instance_t *e, const char *export_name, uint32_t table_index,
                               const int32_t *args, uint32_t argc, int32_t *result) {
    uint32_t argv[MAX_ARGS > 1 ? MAX_ARGS : 1] = {0};
    *result = 0;
    if (argc > MAX_ARGS) return RT_ERR_BAD_REQUEST;
    for (uint32_t i = 0; i < argc; i++)
        argv[i] = (uint32_t)args[i];
    bool ok;
    if (export_name != NULL) {
        uint32_t want, results;
        wasm_function_inst_t f = find_export(e, export_name, &want, &results);
        if (f == NULL || want != argc) {
            wasm_runtime_set_exception(e->inst, "missing export");
            return RT_ERR_NOT_FOUND;
        }
        ok = wasm_runtime_call_wasm(e->env, f, argc, argv);
    } else {
        ok = wasm_runtime_call_indirect(e->env, table_index, argc, argv);
    }
    if (e->exited) {
        /* WAMR clears proc_exit's exception at the end of a call: set it again so that the
         * surrounding call unwinds too. */
        wasm_runtime_set_exception(e->inst, "wasi proc exit");
        return RT_ERR_INTERNAL;
    }
    if (!ok || wasm_runtime_get_exception(e->inst) != NULL) return RT_ERR_INTERNAL;
    /* The time limit stops the interpreter without an exception: the whole call is ending. */
    if (WASM_SUSPEND_FLAGS_GET(e->env->suspend_flags) & WASM_SUSPEND_FLAG_TERMINATE)
        return RT_ERR_INTERNAL;
    *result = (int32_t)argv[0];
    return RT_OK;
}
