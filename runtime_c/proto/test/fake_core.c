/* Test double of the runtime core (see fake_core.h). Uses malloc: it only runs on POSIX. */
#include "fake_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void heap_add(fake_core_t *c, uint32_t n) {
    c->heap_in_use += n;
    if (c->heap_in_use > c->heap_high_water) c->heap_high_water = c->heap_in_use;
}

void fake_core_init(fake_core_t *core, uint32_t storage_budget) {
    memset(core, 0, sizeof *core);
    core->storage_budget = storage_budget;
    core->next_id = 1;
}

static void drop_instances(fake_core_t *c) {
    for (unsigned i = 0; i < FAKE_MAX_INSTANCES; i++) {
        if (c->instances[i]) {
            free(c->instances[i]);
            c->instances[i] = NULL;
            c->heap_in_use -= (uint32_t)sizeof(fake_instance_t);
        }
    }
}

void fake_core_free(fake_core_t *core) {
    drop_instances(core);
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++)
        free(core->items[i].data);
    free(core->pending_data);
    memset(core, 0, sizeof *core);
}

static fake_item_t *find_item(fake_core_t *c, uint8_t kind, const char *name) {
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++) {
        fake_item_t *it = &c->items[i];
        if (it->used && it->item.kind == kind && strcmp(it->item.name, name) == 0) return it;
    }
    return NULL;
}

static fake_instance_t *find_instance(fake_core_t *c, uint32_t id, proto_error_t *err) {
    for (unsigned i = 0; i < FAKE_MAX_INSTANCES; i++) {
        if (c->instances[i] && c->instances[i]->id == id && id != 0) return c->instances[i];
    }
    snprintf(err->text, sizeof err->text, "no instance %lu", (unsigned long)id);
    return NULL;
}

static void fc_hello(void *ctx, proto_hello_info_t *info) {
    fake_core_t *c = ctx;
    info->runtime_name = "proto-testdev";
    info->runtime_version = "0.1.0";
    info->engine = "fake";
    info->nn_backend = "none";
    info->target = "test";
    info->ram_bytes = 409600;
    info->flash_bytes = c->storage_budget;
    info->capabilities = PROTO_CAP_LOAD_MODULES | PROTO_CAP_LOAD_MODELS;
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++) {
        if (!c->items[i].used) continue;
        if (c->items[i].item.kind == PROTO_KIND_MODULE)
            info->modules++;
        else
            info->models++;
    }
}

static proto_status_t fc_put_begin(void *ctx, const proto_item_t *item, proto_error_t *err) {
    fake_core_t *c = ctx;
    fake_item_t *old = find_item(c, item->kind, item->name);
    if (old && memcmp(old->item.sha256, item->sha256, 32) == 0) return PROTO_ST_PRESENT;
    uint32_t free_bytes = c->storage_budget - c->storage_used;
    if (item->size > free_bytes) {
        snprintf(err->text, sizeof err->text, "does not fit: needs %lu bytes, %lu free",
                 (unsigned long)item->size, (unsigned long)free_bytes);
        return PROTO_ST_NO_SPACE;
    }
    unsigned slots = 0;
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++)
        slots += c->items[i].used ? 0u : 1u;
    if (slots == 0 && !old) {
        proto_error_set(err, "does not fit: item table full");
        return PROTO_ST_NO_SPACE;
    }
    free(c->pending_data);
    c->pending_data = malloc(item->size ? item->size : 1u);
    if (!c->pending_data) return PROTO_ST_INTERNAL;
    c->pending = *item;
    return PROTO_ST_OK;
}

static proto_status_t fc_put_chunk(void *ctx, uint32_t offset, const uint8_t *data, size_t len,
                                   proto_error_t *err) {
    fake_core_t *c = ctx;
    if (!c->pending_data || offset > c->pending.size || len > c->pending.size - offset) {
        proto_error_set(err, "chunk outside the reserved upload");
        return PROTO_ST_INTERNAL;
    }
    memcpy(c->pending_data + offset, data, len);
    return PROTO_ST_OK;
}

static proto_status_t fc_put_end(void *ctx, bool commit, proto_error_t *err) {
    fake_core_t *c = ctx;
    (void)err;
    if (!commit || !c->pending_data) {
        free(c->pending_data);
        c->pending_data = NULL;
        return PROTO_ST_OK;
    }
    fake_item_t *slot = find_item(c, c->pending.kind, c->pending.name);
    if (slot) {
        c->storage_used -= slot->item.size;
        free(slot->data);
    } else {
        for (unsigned i = 0; i < FAKE_MAX_ITEMS && !slot; i++) {
            if (!c->items[i].used) slot = &c->items[i];
        }
    }
    if (!slot) return PROTO_ST_NO_SPACE; /* cannot happen: checked in put_begin */
    slot->used = true;
    slot->item = c->pending;
    slot->data = c->pending_data;
    c->pending_data = NULL;
    c->storage_used += slot->item.size;
    return PROTO_ST_OK;
}

static proto_status_t fc_list_item(void *ctx, uint16_t index, proto_item_t *out) {
    fake_core_t *c = ctx;
    uint16_t seen = 0;
    for (unsigned i = 0; i < FAKE_MAX_ITEMS; i++) {
        if (!c->items[i].used) continue;
        if (seen++ == index) {
            *out = c->items[i].item;
            return PROTO_ST_OK;
        }
    }
    return PROTO_ST_NOT_FOUND;
}

static proto_status_t fc_instantiate(void *ctx, const proto_module_ref_t *ref, uint32_t *instance,
                                     proto_error_t *err) {
    fake_core_t *c = ctx;
    const fake_item_t *mod = NULL;
    for (unsigned i = 0; i < FAKE_MAX_ITEMS && !mod; i++) {
        const fake_item_t *it = &c->items[i];
        if (!it->used || it->item.kind != PROTO_KIND_MODULE) continue;
        bool hit = ref->by_sha256 ? memcmp(it->item.sha256, ref->sha256, 32) == 0
                                  : strcmp(it->item.name, ref->name) == 0;
        if (hit) mod = it;
    }
    if (!mod) {
        snprintf(err->text, sizeof err->text, "no module %s",
                 ref->by_sha256 ? "with that sha256" : ref->name);
        return PROTO_ST_NOT_FOUND;
    }
    for (unsigned i = 0; i < FAKE_MAX_INSTANCES; i++) {
        if (c->instances[i]) continue;
        fake_instance_t *in = calloc(1, sizeof *in);
        if (!in) return PROTO_ST_INTERNAL;
        heap_add(c, (uint32_t)sizeof *in);
        in->id = c->next_id++;
        c->instances[i] = in;
        *instance = in->id;
        return PROTO_ST_OK;
    }
    snprintf(err->text, sizeof err->text, "does not fit: all %u instance slots in use",
             (unsigned)FAKE_MAX_INSTANCES);
    return PROTO_ST_NO_SPACE;
}

static proto_status_t fc_drop(void *ctx, uint32_t instance, proto_error_t *err) {
    fake_core_t *c = ctx;
    for (unsigned i = 0; i < FAKE_MAX_INSTANCES; i++) {
        if (c->instances[i] && c->instances[i]->id == instance && instance != 0) {
            free(c->instances[i]);
            c->instances[i] = NULL;
            c->heap_in_use -= (uint32_t)sizeof(fake_instance_t);
            return PROTO_ST_OK;
        }
    }
    snprintf(err->text, sizeof err->text, "no instance %lu", (unsigned long)instance);
    return PROTO_ST_NOT_FOUND;
}

/* Bounds check written the way the guest ABI asks: no overflow in addr + len. */
static bool in_bounds(uint32_t addr, uint32_t len) {
    return addr <= FAKE_MEM_SIZE && len <= FAKE_MEM_SIZE - addr;
}

static void trap(proto_call_result_t *res, const char *msg) {
    res->outcome = PROTO_CALL_TRAPPED;
    snprintf(res->message, sizeof res->message, "%s", msg);
}

static void run_export(fake_core_t *c, fake_instance_t *in, const proto_call_req_t *req,
                       proto_call_result_t *res) {
    const char *e = req->export_name;
    const int32_t *a = req->args;
    uint32_t a0 = (uint32_t)a[0], a1 = (uint32_t)a[1], a2 = (uint32_t)a[2];
    res->has_result = true;
    if (strcmp(e, "add") == 0) {
        res->value = (int32_t)(a0 + a1); /* wrapping, as i32.add */
    } else if (strcmp(e, "count") == 0) {
        res->value = (int32_t)++in->calls;
    } else if (strcmp(e, "sum_mem") == 0 || strcmp(e, "print") == 0) {
        if (!in_bounds(a0, a1)) {
            trap(res, "out of bounds memory access");
            return;
        }
        if (e[0] == 's') {
            uint32_t sum = 0;
            for (uint32_t i = 0; i < a1; i++)
                sum += in->mem[a0 + i];
            res->value = (int32_t)sum;
        } else {
            uint32_t room = FAKE_LOG_SIZE - in->log_len, n = a1 < room ? a1 : room;
            memcpy(in->log + in->log_len, in->mem + a0, n);
            in->log_len += n;
            res->value = (int32_t)n;
        }
    } else if (strcmp(e, "echo_mem") == 0) {
        if (!in_bounds(a0, a2) || !in_bounds(a1, a2)) {
            trap(res, "out of bounds memory access");
            return;
        }
        memmove(in->mem + a1, in->mem + a0, a2);
        res->value = (int32_t)a2;
    } else if (strcmp(e, "trap") == 0) {
        trap(res, "unreachable executed");
    } else if (strcmp(e, "exit") == 0) {
        res->outcome = PROTO_CALL_EXITED;
        res->has_result = false;
        res->value = a[0];
        snprintf(res->message, sizeof res->message, "exited with code %ld", (long)a[0]);
    } else if (strcmp(e, "nop") == 0) {
        res->has_result = false;
    } else if (strcmp(e, "sleep_ms") == 0 && c->sleep_ms) {
        c->sleep_ms(a0);
        res->value = (int32_t)a0;
    } else if (strcmp(e, "crash") == 0 && c->crash) {
        c->crash(a0);
    }
}

static bool known_export(const fake_core_t *c, const char *e) {
    static const char *const names[] = {"add",      "count", "sum_mem", "print",
                                        "echo_mem", "trap",  "exit",    "nop"};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(e, names[i]) == 0) return true;
    }
    if (strcmp(e, "crash") == 0) return c->crash != NULL;
    return strcmp(e, "sleep_ms") == 0 && c->sleep_ms != NULL;
}

static proto_status_t fc_call(void *ctx, const proto_call_req_t *req, proto_call_result_t *res,
                              proto_error_t *err) {
    fake_core_t *c = ctx;
    fake_instance_t *in = find_instance(c, req->instance, err);
    if (!in) return PROTO_ST_NOT_FOUND;
    if (!known_export(c, req->export_name)) {
        snprintf(err->text, sizeof err->text, "no export '%s'", req->export_name);
        return PROTO_ST_NOT_FOUND;
    }
    uint32_t t0 = c->now_us ? c->now_us() : 0;
    run_export(c, in, req, res);
    res->elapsed_us = c->now_us ? c->now_us() - t0 : 0;
    c->last_call_us = res->elapsed_us;
    return PROTO_ST_OK;
}

static proto_status_t mem_check(uint32_t addr, size_t len, proto_error_t *err) {
    if (len <= FAKE_MEM_SIZE && in_bounds(addr, (uint32_t)len)) return PROTO_ST_OK;
    snprintf(err->text, sizeof err->text, "%lu bytes at 0x%lx outside %lu bytes of memory",
             (unsigned long)len, (unsigned long)addr, (unsigned long)FAKE_MEM_SIZE);
    return PROTO_ST_OUT_OF_BOUNDS;
}

static proto_status_t fc_mem_write(void *ctx, uint32_t instance, uint32_t addr, const uint8_t *data,
                                   size_t len, proto_error_t *err) {
    fake_instance_t *in = find_instance(ctx, instance, err);
    if (!in) return PROTO_ST_NOT_FOUND;
    proto_status_t st = mem_check(addr, len, err);
    if (st == PROTO_ST_OK && len > 0) memcpy(in->mem + addr, data, len);
    return st;
}

static proto_status_t fc_mem_read(void *ctx, uint32_t instance, uint32_t addr, uint8_t *out,
                                  size_t len, proto_error_t *err) {
    fake_instance_t *in = find_instance(ctx, instance, err);
    if (!in) return PROTO_ST_NOT_FOUND;
    proto_status_t st = mem_check(addr, len, err);
    if (st == PROTO_ST_OK && len > 0) memcpy(out, in->mem + addr, len);
    return st;
}

static proto_status_t fc_logs(void *ctx, uint32_t instance, uint8_t *out, size_t cap, size_t *len,
                              bool *more, proto_error_t *err) {
    fake_instance_t *in = find_instance(ctx, instance, err);
    if (!in) return PROTO_ST_NOT_FOUND;
    size_t n = in->log_len < cap ? in->log_len : cap;
    memcpy(out, in->log, n);
    memmove(in->log, in->log + n, in->log_len - n);
    in->log_len -= (uint32_t)n;
    *len = n;
    *more = in->log_len > 0;
    return PROTO_ST_OK;
}

static void fc_stats(void *ctx, proto_core_stats_t *out) {
    fake_core_t *c = ctx;
    out->ram_high_water = c->heap_high_water;
    out->heap_in_use = c->heap_in_use;
    out->last_call_us = c->last_call_us;
}

static void fc_reset_peaks(void *ctx) {
    fake_core_t *c = ctx;
    c->heap_high_water = c->heap_in_use;
}

static void fc_reset(void *ctx) {
    fake_core_t *c = ctx;
    drop_instances(c);
    c->resets++;
}

const proto_handlers_t fake_core_handlers = {
    fc_hello, fc_put_begin, fc_put_chunk, fc_put_end, fc_list_item, fc_instantiate, fc_drop,
    fc_call, fc_mem_write, fc_mem_read, fc_logs, fc_stats, fc_reset, fc_reset_peaks,
    /* ARGS, FRAME_*: unsupported here; the dispatcher parses their payloads all the same */
    NULL, NULL, NULL, NULL, NULL, /* ext: no pipelines (PIPE_* answer UNKNOWN_TYPE) */
};
