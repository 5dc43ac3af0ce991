/* Registry (modules + models), uploads, instances, calls, guest memory access, log capture. */
#include <string.h>

#include "rt_internal.h"
#include "rt_platform.h"

#ifndef RT_INSTANCE_MEMORY_BYTES
#error "rt_config.h must define RT_INSTANCE_MEMORY_BYTES (limits.instance_memory_kib)"
#endif

typedef struct {
    bool used;
    char name[RT_NAME_MAX + 1];
    uint8_t *data;
    uint32_t size;
    uint8_t sha256[32];
    uint32_t refs; /* graphs using it */
} rt_upload_model_t;

typedef struct {
    bool active;
    rt_item_t item;
    uint8_t *data;
    uint32_t received;
} rt_upload_t;

static rt_instance_t *g_instances[RT_MAX_INSTANCES];
static uint32_t g_next_id = 1;
static rt_upload_model_t g_models[RT_MAX_UPLOADED_MODELS];
static rt_upload_t g_put;
static uint32_t g_last_call_us;
static uint64_t g_last_call_counter;

/* ---- guest memory and logs ---- */

uint8_t *rt_guest_ptr(rt_instance_t *inst, uint32_t ptr, uint32_t len) {
    uint32_t size = 0;
    uint8_t *base = rt_eng_memory(inst->eng, &size);
    if (base == NULL || (uint64_t)ptr + (uint64_t)len > (uint64_t)size) return NULL;
    return base + ptr;
}

void rt_log_ring_write(rt_log_ring_t *r, const uint8_t *data, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) {
        r->buf[r->head] = data[i];
        r->head = (r->head + 1u) % RT_LOG_RING_BYTES;
        if (r->used < RT_LOG_RING_BYTES) {
            r->used++;
        } else {
            r->dropped++;
        }
    }
}

/* ---- lifecycle ---- */

rt_status_t rt_init(void) {
    return rt_eng_init();
}

static void put_abort(void) {
    rt_free(g_put.data);
    memset(&g_put, 0, sizeof g_put);
}

void rt_shutdown(void) {
    rt_frame_abort();
    rt_drop_all();
    put_abort();
    for (uint32_t i = 0; i < RT_MAX_UPLOADED_MODELS; i++) {
        rt_free(g_models[i].data);
        memset(&g_models[i], 0, sizeof g_models[i]);
    }
    rt_eng_shutdown();
}

/* ---- registry ---- */

/* The read-only model table: the generated built-in one, or the platform's (rt_set_model_table). */
static const rt_builtin_model_t *g_model_table;
static uint32_t g_model_table_count;

void rt_set_model_table(const rt_builtin_model_t *models, uint32_t count) {
    g_model_table = models;
    g_model_table_count = count;
}

static uint32_t table_count(void) {
    return g_model_table != NULL ? g_model_table_count : rt_builtin_model_count;
}

static const rt_builtin_model_t *table_at(uint32_t i) {
    return g_model_table != NULL ? &g_model_table[i] : &rt_builtin_models[i];
}

uint32_t rt_module_count(void) {
    return rt_eng_module_count();
}

static uint32_t uploaded_count(void) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < RT_MAX_UPLOADED_MODELS; i++)
        n += g_models[i].used ? 1u : 0u;
    return n;
}

uint32_t rt_model_count(void) {
    return table_count() + uploaded_count();
}

static void copy_name(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n > RT_NAME_MAX) n = RT_NAME_MAX;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

rt_status_t rt_list_item(uint32_t index, rt_item_t *out) {
    memset(out, 0, sizeof *out);
    uint32_t nmod = rt_eng_module_count();
    if (index < nmod) {
        const rt_eng_module_t *m = rt_eng_module_at(index);
        out->kind = RT_KIND_MODULE;
        copy_name(out->name, rt_eng_module_name(m));
        out->size = rt_eng_module_size(m);
        memcpy(out->sha256, rt_eng_module_sha256(m), 32);
        return RT_OK;
    }
    index -= nmod;
    if (index < table_count()) {
        const rt_builtin_model_t *b = table_at(index);
        out->kind = RT_KIND_MODEL;
        copy_name(out->name, b->name);
        out->size = b->size;
        memcpy(out->sha256, b->sha256, 32);
        return RT_OK;
    }
    index -= table_count();
    for (uint32_t i = 0; i < RT_MAX_UPLOADED_MODELS; i++) {
        if (!g_models[i].used) continue;
        if (index-- == 0) {
            out->kind = RT_KIND_MODEL;
            copy_name(out->name, g_models[i].name);
            out->size = g_models[i].size;
            memcpy(out->sha256, g_models[i].sha256, 32);
            return RT_OK;
        }
    }
    return RT_ERR_NOT_FOUND;
}

static int find_uploaded(const char *name, uint32_t len) {
    for (int i = 0; i < RT_MAX_UPLOADED_MODELS; i++) {
        if (g_models[i].used && strlen(g_models[i].name) == len &&
            memcmp(g_models[i].name, name, len) == 0) {
            return i;
        }
    }
    return -1;
}

bool rt_model_find(const char *name, uint32_t name_len, const uint8_t **data, uint32_t *size,
                   int32_t *index) {
    int u = find_uploaded(name, name_len); /* an upload shadows a built-in model */
    if (u >= 0) {
        *data = g_models[u].data;
        *size = g_models[u].size;
        *index = u;
        return true;
    }
    for (uint32_t i = 0; i < table_count(); i++) {
        const rt_builtin_model_t *b = table_at(i);
        if (strlen(b->name) == name_len && memcmp(b->name, name, name_len) == 0) {
            *data = b->data;
            *size = b->size;
            *index = -1;
            return true;
        }
    }
    return false;
}

void rt_model_ref(int32_t index, int delta) {
    if (index < 0 || index >= RT_MAX_UPLOADED_MODELS) return;
    g_models[index].refs = (uint32_t)((int32_t)g_models[index].refs + delta);
}

bool rt_can_upload(uint8_t kind) {
    if (kind == RT_KIND_MODULE) return rt_eng_can_load_modules();
    return RT_ENABLE_MODEL_UPLOAD != 0;
}

static const rt_eng_module_t *module_by_sha(const uint8_t sha[32]) {
    for (uint32_t i = 0; i < rt_eng_module_count(); i++) {
        const rt_eng_module_t *m = rt_eng_module_at(i);
        if (memcmp(rt_eng_module_sha256(m), sha, 32) == 0) return m;
    }
    return NULL;
}

/* Upload storage, accounted like everything else: modules nobody uses make room if needed. */
static rt_status_t put_alloc(const rt_item_t *item, char *msg, size_t cap) {
    size_t size = item->size ? item->size : 1u;
    g_put.data = (uint8_t *)rt_malloc_lasting(size); /* kept as the module or model */
    while (g_put.data == NULL && rt_eng_module_evict())
        g_put.data = (uint8_t *)rt_malloc_lasting(size);
    if (g_put.data == NULL) {
        rt_fmt(msg, cap, "does not fit: needs %lu bytes, %lu free", (unsigned long)item->size,
               (unsigned long)(RT_HEAP_BUDGET_BYTES - rt_mem_in_use()));
        return RT_ERR_NO_SPACE;
    }
    g_put.active = true;
    g_put.item = *item;
    g_put.received = 0;
    return RT_OK;
}

rt_status_t rt_put_begin(const rt_item_t *item, char *msg, size_t cap) {
    put_abort(); /* a new PUT_BEGIN aborts an unfinished upload */
    if (item->kind == RT_KIND_MODULE) {
        if (module_by_sha(item->sha256) != NULL) return RT_PRESENT;
        if (!rt_eng_can_load_modules()) {
            rt_fmt(msg, cap,
                   "%s engine cannot load modules at run time: add '%s' to guests.modules",
                   rt_eng_name(), item->name);
            return RT_ERR_UNSUPPORTED;
        }
        return put_alloc(item, msg, cap);
    }
    if (!rt_can_upload(RT_KIND_MODEL)) {
        rt_fmt(msg, cap, "this firmware takes no model uploads (models are built in)");
        return RT_ERR_UNSUPPORTED;
    }
    int u = find_uploaded(item->name, (uint32_t)strlen(item->name));
    if (u >= 0 && memcmp(g_models[u].sha256, item->sha256, 32) == 0) return RT_PRESENT;
    if (u < 0) {
        for (uint32_t i = 0; i < table_count(); i++) {
            if (strcmp(table_at(i)->name, item->name) == 0 &&
                memcmp(table_at(i)->sha256, item->sha256, 32) == 0) {
                return RT_PRESENT;
            }
        }
    }
    if (u >= 0 && g_models[u].refs > 0) {
        rt_fmt(msg, cap, "model '%s' is in use by an instance: drop it first", item->name);
        return RT_ERR_BUSY;
    }
    if (u < 0 && uploaded_count() >= RT_MAX_UPLOADED_MODELS) {
        rt_fmt(msg, cap, "model table full (%d models)", RT_MAX_UPLOADED_MODELS);
        return RT_ERR_NO_SPACE;
    }
    return put_alloc(item, msg, cap);
}

rt_status_t rt_put_chunk(uint32_t offset, const uint8_t *data, size_t len, char *msg, size_t cap) {
    if (!g_put.active) {
        rt_fmt(msg, cap, "no upload in progress");
        return RT_ERR_BAD_STATE;
    }
    if (offset != g_put.received || (uint64_t)offset + len > g_put.item.size) {
        rt_fmt(msg, cap, "expected offset %lu", (unsigned long)g_put.received);
        return RT_ERR_BAD_STATE;
    }
    memcpy(g_put.data + offset, data, len);
    g_put.received += (uint32_t)len;
    return RT_OK;
}

rt_status_t rt_put_end(bool commit, char *msg, size_t cap) {
    if (!g_put.active) {
        rt_fmt(msg, cap, "no upload in progress");
        return RT_ERR_BAD_STATE;
    }
    if (!commit) {
        put_abort();
        return RT_OK;
    }
    if (g_put.item.kind == RT_KIND_MODULE) { /* the engine owns the bytes from here */
        rt_item_t item = g_put.item;
        uint8_t *bytes = g_put.data;
        g_put.data = NULL;
        put_abort();
        return rt_eng_module_add(&item, bytes, msg, cap);
    }
    int u = find_uploaded(g_put.item.name, (uint32_t)strlen(g_put.item.name));
    if (u < 0) {
        for (int i = 0; i < RT_MAX_UPLOADED_MODELS; i++) {
            if (!g_models[i].used) {
                u = i;
                break;
            }
        }
    } else {
        rt_free(g_models[u].data);
    }
    if (u < 0) { /* cannot happen: checked in put_begin */
        put_abort();
        return RT_ERR_NO_SPACE;
    }
    rt_upload_model_t *m = &g_models[u];
    m->used = true;
    copy_name(m->name, g_put.item.name);
    m->data = g_put.data;
    m->size = g_put.item.size;
    m->refs = 0;
    memcpy(m->sha256, g_put.item.sha256, 32);
    g_put.data = NULL;
    put_abort();
    rt_item_t item = {0};
    item.kind = RT_KIND_MODEL;
    copy_name(item.name, m->name);
    item.size = m->size;
    memcpy(item.sha256, m->sha256, 32);
    rt_upload_committed(&item, m->data);
    return RT_OK;
}

void rt_upload_committed(const rt_item_t *item, const uint8_t *data) {
    rt_os_persist_upload((uint8_t)item->kind, item->name, item->sha256, data, item->size);
}

/* ---- instances ---- */

static rt_instance_t *find_instance(uint32_t id) {
    if (id == 0) return NULL;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        if (g_instances[i] != NULL && g_instances[i]->id == id) return g_instances[i];
    }
    return NULL;
}

static void frame_abort_for(uint32_t id);

static void free_instance(uint32_t slot) {
    rt_instance_t *inst = g_instances[slot];
    if (inst == NULL) return;
    frame_abort_for(inst->id);
    rt_free(inst->args);
    rt_image_release(inst);
    rt_wasinn_release(inst);
    rt_eng_free(inst->eng);
    rt_free(inst);
    g_instances[slot] = NULL;
}

rt_status_t rt_instance_create(bool by_sha256, const char *name, const uint8_t sha256[32],
                               uint32_t max_memory_bytes, struct rt_pipe_inst *pipe,
                               rt_instance_t **out, char *msg, size_t cap) {
    const rt_eng_module_t *m = NULL;
    if (by_sha256) {
        m = module_by_sha(sha256);
    } else {
        for (uint32_t i = 0; i < rt_eng_module_count() && m == NULL; i++) {
            if (strcmp(rt_eng_module_name(rt_eng_module_at(i)), name) == 0) m = rt_eng_module_at(i);
        }
    }
    if (m == NULL) {
        rt_fmt(msg, cap, "no module %s", by_sha256 ? "with that sha256" : name);
        return RT_ERR_NOT_FOUND;
    }
    uint32_t slot = RT_MAX_INSTANCES;
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        if (g_instances[i] == NULL) {
            slot = i;
            break;
        }
    }
    if (slot == RT_MAX_INSTANCES) {
        rt_fmt(msg, cap, "instance table full (%d instances)", RT_MAX_INSTANCES);
        return RT_ERR_NO_SPACE;
    }
    rt_instance_t *inst = (rt_instance_t *)rt_calloc(1, sizeof *inst);
    if (inst == NULL) {
        rt_fmt(msg, cap, "does not fit: instance needs %lu bytes", (unsigned long)sizeof *inst);
        return RT_ERR_NO_SPACE;
    }
    inst->module = m;
    inst->pipe = pipe;
    inst->next_graph = 1;
    inst->next_ctx = 1;
    inst->next_image = 1;
    rt_status_t st = rt_eng_instantiate(m, inst, max_memory_bytes, &inst->eng, msg, cap);
    if (st != RT_OK) {
        rt_free(inst);
        return st;
    }
    inst->id = g_next_id++;
    g_instances[slot] = inst;
    if (rt_eng_has_export(inst->eng, "_initialize")) {
        rt_call_result_t res;
        st = rt_eng_call(inst->eng, "_initialize", NULL, 0, RT_CALL_TIMEOUT_MS, &res, msg, cap);
        if (st == RT_OK && res.outcome != RT_CALL_RETURNED) {
            rt_fmt(msg, cap, "_initialize failed: %s", res.message);
            st = RT_ERR_INTERNAL;
        }
        if (st != RT_OK) {
            free_instance(slot);
            return st;
        }
    }
    *out = inst;
    return RT_OK;
}

rt_status_t rt_instantiate(bool by_sha256, const char *name, const uint8_t sha256[32], uint32_t *id,
                           char *msg, size_t cap) {
    rt_instance_t *inst = NULL;
    rt_status_t st = rt_instance_create(by_sha256, name, sha256, RT_INSTANCE_MEMORY_BYTES, NULL,
                                        &inst, msg, cap);
    if (st == RT_OK) *id = inst->id;
    return st;
}

rt_instance_t *rt_instance_find(uint32_t id) {
    return find_instance(id);
}

void rt_instance_destroy(rt_instance_t *inst) {
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        if (g_instances[i] == inst) free_instance(i);
    }
}

rt_status_t rt_drop(uint32_t id) {
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++) {
        if (g_instances[i] != NULL && g_instances[i]->id == id) {
            if (g_instances[i]->pipe != NULL) return RT_ERR_BUSY; /* the deployment's */
            free_instance(i);
            return RT_OK;
        }
    }
    return RT_ERR_NOT_FOUND;
}

void rt_drop_all(void) {
    rt_pipe_reset(); /* ends the deployment's tasks first */
    for (uint32_t i = 0; i < RT_MAX_INSTANCES; i++)
        free_instance(i);
}

rt_status_t rt_call(uint32_t id, const char *export_name, const int32_t *args, uint32_t argc,
                    rt_call_result_t *res, char *msg, size_t cap) {
    memset(res, 0, sizeof *res);
    rt_instance_t *inst = find_instance(id);
    if (inst == NULL) {
        rt_fmt(msg, cap, "no instance %lu", (unsigned long)id);
        return RT_ERR_NOT_FOUND;
    }
    if (inst->pipe != NULL) {
        rt_fmt(msg, cap, "instance %lu runs in the deployment: no direct calls", (unsigned long)id);
        return RT_ERR_BUSY;
    }
    inst->called = true;
    uint64_t counter0 = rt_os_counter();
    rt_status_t st =
        rt_eng_call(inst->eng, export_name, args, argc, RT_CALL_TIMEOUT_MS, res, msg, cap);
    uint64_t counter1 = rt_os_counter();
    if (st == RT_OK) {
        g_last_call_us = res->elapsed_us;
        g_last_call_counter = counter1 - counter0;
    }
    return st;
}

rt_status_t rt_mem_write(uint32_t id, uint32_t addr, const uint8_t *data, size_t len) {
    rt_instance_t *inst = find_instance(id);
    if (inst == NULL) return RT_ERR_NOT_FOUND;
    if (len > UINT32_MAX) return RT_ERR_OUT_OF_BOUNDS;
    uint8_t *p = rt_guest_ptr(inst, addr, (uint32_t)len);
    if (p == NULL) return RT_ERR_OUT_OF_BOUNDS;
    if (len) memcpy(p, data, len);
    return RT_OK;
}

rt_status_t rt_mem_read(uint32_t id, uint32_t addr, uint8_t *out, size_t len) {
    rt_instance_t *inst = find_instance(id);
    if (inst == NULL) return RT_ERR_NOT_FOUND;
    if (len > UINT32_MAX) return RT_ERR_OUT_OF_BOUNDS;
    uint8_t *p = rt_guest_ptr(inst, addr, (uint32_t)len);
    if (p == NULL) return RT_ERR_OUT_OF_BOUNDS;
    if (len) memcpy(out, p, len);
    return RT_OK;
}

rt_status_t rt_logs(uint32_t id, uint8_t *out, size_t cap, size_t *len, bool *more) {
    rt_instance_t *inst = find_instance(id);
    if (inst == NULL) return RT_ERR_NOT_FOUND;
    rt_log_ring_t *r = &inst->log;
    size_t n = r->used < cap ? r->used : cap;
    uint32_t start = (r->head + RT_LOG_RING_BYTES - r->used) % RT_LOG_RING_BYTES;
    for (size_t i = 0; i < n; i++)
        out[i] = r->buf[(start + i) % RT_LOG_RING_BYTES];
    r->used -= (uint32_t)n;
    *len = n;
    *more = r->used > 0;
    return RT_OK;
}

uint32_t rt_last_call_us(void) {
    return g_last_call_us;
}

uint64_t rt_last_call_counter(void) {
    return g_last_call_counter;
}

/* ---- ARGS and FRAME_* (docs/protocol.md) ---- */

rt_status_t rt_set_args(uint32_t id, const uint8_t *const *str, const uint8_t *len, uint32_t argc,
                        uint32_t envc, char *msg, size_t cap) {
    rt_instance_t *inst = find_instance(id);
    if (inst == NULL) {
        rt_fmt(msg, cap, "no instance %lu", (unsigned long)id);
        return RT_ERR_NOT_FOUND;
    }
    if (inst->called) {
        rt_fmt(msg, cap, "instance %lu has already run a call: arguments come before the first",
               (unsigned long)id);
        return RT_ERR_BAD_STATE;
    }
    uint32_t argv_bytes = 0, environ_bytes = 0;
    for (uint32_t i = 0; i < argc + envc; i++)
        *(i < argc ? &argv_bytes : &environ_bytes) += (uint32_t)len[i] + 1u;
    uint8_t *blob = NULL;
    if (argv_bytes + environ_bytes > 0) {
        blob = (uint8_t *)rt_malloc(argv_bytes + environ_bytes);
        if (blob == NULL) {
            rt_fmt(msg, cap, "does not fit: arguments need %lu bytes",
                   (unsigned long)(argv_bytes + environ_bytes));
            return RT_ERR_NO_SPACE;
        }
        uint32_t off = 0;
        for (uint32_t i = 0; i < argc + envc; i++) {
            if (len[i]) memcpy(blob + off, str[i], len[i]);
            off += len[i];
            blob[off++] = 0;
        }
    }
    rt_free(inst->args);
    inst->args = blob;
    inst->argc = argc;
    inst->envc = envc;
    inst->argv_bytes = argv_bytes;
    inst->environ_bytes = environ_bytes;
    return RT_OK;
}

/* The one frame in flight (FRAME_BEGIN .. FRAME_END): its pixels, not yet a handle. */
static struct {
    uint32_t instance; /* 0: none in flight */
    rt_image_buf_t *buf;
    uint32_t width, height, format, size, received;
} g_frame;

void rt_frame_abort(void) {
    rt_image_buf_free(g_frame.buf);
    memset(&g_frame, 0, sizeof g_frame);
}

static void frame_abort_for(uint32_t id) {
    if (g_frame.instance == id) rt_frame_abort();
}

rt_status_t rt_frame_begin(uint32_t id, uint32_t width, uint32_t height, uint32_t format,
                           uint32_t *size, char *msg, size_t cap) {
    rt_frame_abort(); /* a new begin frees an unfinished frame */
    rt_instance_t *inst = find_instance(id);
    if (inst == NULL) {
        rt_fmt(msg, cap, "no instance %lu", (unsigned long)id);
        return RT_ERR_NOT_FOUND;
    }
    rt_image_buf_t *buf = NULL;
    uint32_t bytes = 0;
    switch (rt_image_frame_alloc(inst, width, height, format, &buf, &bytes)) {
    case RT_NN_SUCCESS:
        break;
    case RT_NN_INVALID_ARGUMENT:
        rt_fmt(msg, cap, "frame %lux%lu format %lu: sides 1-%u, format 0-2, yuv422 width even",
               (unsigned long)width, (unsigned long)height, (unsigned long)format,
               RT_IMAGE_MAX_SIDE);
        return RT_ERR_BAD_REQUEST;
    case RT_NN_BUSY:
        rt_fmt(msg, cap, "instance %lu has no free image handle (%u in use)", (unsigned long)id,
               RT_MAX_IMAGES);
        return RT_ERR_NO_SPACE;
    default:
        rt_fmt(msg, cap, "does not fit: frame needs %lu bytes, %lu free",
               (unsigned long)width * height *
                   (format == 1   ? 3u
                    : format == 2 ? 2u
                                  : 1u),
               (unsigned long)(RT_HEAP_BUDGET_BYTES - rt_mem_in_use()));
        return RT_ERR_NO_SPACE;
    }
    g_frame.instance = id;
    g_frame.buf = buf;
    g_frame.width = width;
    g_frame.height = height;
    g_frame.format = format;
    g_frame.size = bytes;
    g_frame.received = 0;
    *size = bytes;
    return RT_OK;
}

rt_status_t rt_frame_chunk(uint32_t offset, const uint8_t *data, size_t len, uint32_t *received,
                           char *msg, size_t cap) {
    if (g_frame.instance == 0) {
        rt_fmt(msg, cap, "no frame in flight");
        return RT_ERR_BAD_STATE;
    }
    if (offset != g_frame.received) {
        rt_fmt(msg, cap, "expected offset %lu, got %lu", (unsigned long)g_frame.received,
               (unsigned long)offset);
        return RT_ERR_BAD_STATE;
    }
    if (len > g_frame.size - g_frame.received) {
        rt_fmt(msg, cap, "chunk goes past the frame's %lu bytes", (unsigned long)g_frame.size);
        return RT_ERR_BAD_REQUEST;
    }
    memcpy(rt_image_buf_pixels(g_frame.buf) + offset, data, len);
    g_frame.received += (uint32_t)len;
    *received = g_frame.received;
    return RT_OK;
}

rt_status_t rt_frame_end(uint32_t *image, char *msg, size_t cap) {
    if (g_frame.instance == 0) {
        rt_fmt(msg, cap, "no frame in flight");
        return RT_ERR_BAD_STATE;
    }
    if (g_frame.received != g_frame.size) {
        rt_fmt(msg, cap, "only %lu of %lu bytes received", (unsigned long)g_frame.received,
               (unsigned long)g_frame.size);
        return RT_ERR_BAD_STATE;
    }
    rt_instance_t *inst = find_instance(g_frame.instance);
    uint32_t err = inst == NULL ? RT_NN_INVALID_ARGUMENT
                                : rt_image_frame_commit(inst, g_frame.buf, g_frame.width,
                                                        g_frame.height, g_frame.format, image);
    if (err != RT_NN_SUCCESS) {
        rt_fmt(msg, cap, "instance %lu has no free image handle (%u in use)",
               (unsigned long)g_frame.instance, RT_MAX_IMAGES);
        rt_frame_abort();
        return RT_ERR_NO_SPACE;
    }
    g_frame.buf = NULL; /* the handle owns it now */
    rt_frame_abort();
    return RT_OK;
}
