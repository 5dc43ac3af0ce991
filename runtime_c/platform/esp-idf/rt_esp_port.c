/*
 * The portable part of the ESP-IDF port: boot sequence and the model table from the data
 * partition. No ESP-IDF header here (it compiles for any C99 target); ESP-IDF is reached only
 * through rt_platform.h and rt_esp_port.h, both implemented in rt_esp_os.c.
 */
#include <string.h>

#include "rt_esp_port.h"
#include "rt_esp_store.h"
#include "rt.h"
#include "rt_platform.h"

#ifndef RT_ESP_MAX_MODELS
#define RT_ESP_MAX_MODELS 16u
#endif

/* Models are not built into the app on this platform: they come from the data partition. */
const rt_builtin_model_t rt_builtin_models[1] = {{"", 0, 0u, {0}}};
const uint32_t rt_builtin_model_count = 0u;

static rt_store_t g_store;
static rt_store_record_t g_model_records[RT_ESP_MAX_MODELS];
static rt_builtin_model_t g_models[RT_ESP_MAX_MODELS];

/* Maps the store and hands its models to the core (in place: nothing is copied to RAM). */
static uint32_t load_store(void) {
    uint32_t size = 0;
    const uint8_t *base = rt_esp_storage_map(&size);
    if (base == 0) {
        rt_os_log("esp-idf: no data partition: no models");
        return 0;
    }
    rt_store_open(&g_store, base, size);
    uint32_t n = rt_store_models(&g_store, g_model_records, g_models, RT_ESP_MAX_MODELS);
    rt_set_model_table(g_models, n);
    rt_logf("esp-idf: data partition %lu KiB, %lu records, %lu models, %lu KiB free",
            (unsigned long)(size / 1024u), (unsigned long)g_store.count, (unsigned long)n,
            (unsigned long)(rt_store_free(&g_store) / 1024u));
    return n;
}

rt_status_t rt_esp_persist(const rt_item_t *item, const uint8_t *data, const uint8_t **mapped) {
    const rt_store_flash_t *f = rt_esp_storage_flash();
    if (f == 0 || g_store.base == 0) return RT_ERR_UNSUPPORTED;
    rt_store_record_t r;
    rt_status_t st =
        rt_store_put(&g_store, f, item->kind, item->name, data, item->size, item->sha256, &r);
    if (st == RT_OK || st == RT_PRESENT) *mapped = r.data;
    return st;
}

/* The core's hook for every committed upload (rt_platform.h): into the data partition, so the
 * item survives a reset. The core keeps using its RAM copy until then; a stored model is found
 * in place at the next boot (load_store). A failure to store is not the upload's failure: the
 * item stays usable until the reset. */
void rt_os_persist_upload(uint8_t kind, const char *name, const uint8_t sha256[32],
                          const uint8_t *data, uint32_t size) {
    rt_item_t item;
    memset(&item, 0, sizeof item);
    item.kind = kind;
    strncpy(item.name, name, RT_NAME_MAX);
    item.size = size;
    memcpy(item.sha256, sha256, 32);
    const uint8_t *mapped = 0;
    rt_status_t st = rt_esp_persist(&item, data, &mapped);
    const char *what = kind == RT_KIND_MODULE ? "module" : "model";
    if (st == RT_OK) {
        rt_logf("esp-idf: %s %s stored in the data partition", what, name);
    } else if (st == RT_PRESENT) {
        rt_logf("esp-idf: %s %s already in the data partition", what, name);
    } else {
        rt_logf("esp-idf: %s %s not stored (status %d): usable until reset", what, name, (int)st);
    }
}

void rt_esp_run(void) {
    rt_esp_init();
    load_store();
    if (rt_init() != RT_OK) {
        rt_os_log("esp-idf: runtime initialisation failed");
        return;
    }
    rt_logf("ready: target %s, engine %s, nn %s, %lu modules, %lu models", RT_TARGET_NAME,
            RT_ENGINE_NAME, RT_NN_NAME, (unsigned long)rt_module_count(),
            (unsigned long)rt_model_count());
    for (;;)
        rt_serve(); /* a UART never closes; if the core gives up, serve again */
}
