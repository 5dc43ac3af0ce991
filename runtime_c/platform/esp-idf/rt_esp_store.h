/*
 * rt_esp_store.h: the data partition's store of guests and models (docs/esp32.md), read in place
 * from the mapped partition and appended to through two flash callbacks.
 *
 * Portable C99 (no ESP-IDF header): the format is written by build_tools/store_image.py; this
 * file and its tests run on any host and compile for rv32 with the Debian toolchain.
 */
#ifndef RT_STORE_H
#define RT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_STORE_HEADER 128u
#define RT_STORE_ALIGN 16u
#define RT_STORE_SECTOR 4096u
#define RT_STORE_NAME_MAX 64u
#define RT_STORE_KIND_MODULE 0u /* the values of rt_kind_t (rt.h) */
#define RT_STORE_KIND_MODEL 1u

typedef struct {
    uint32_t offset; /* of the record header in the partition */
    uint8_t kind;
    bool live;
    char name[RT_STORE_NAME_MAX + 1];
    uint32_t size;
    uint8_t sha256[32];
    const uint8_t *data; /* in the mapped partition: used in place, never copied */
} rt_store_record_t;

/* Flash access for appends: offsets are relative to the partition start. Both return 0 on
 * success. erase works on whole 4 KiB sectors. */
typedef struct {
    int (*erase)(void *ctx, uint32_t offset, uint32_t len);
    int (*write)(void *ctx, uint32_t offset, const void *data, uint32_t len);
    void *ctx;
} rt_store_flash_t;

typedef struct {
    const uint8_t *base; /* the partition, mapped (reads go through the cache: see the port) */
    uint32_t size;
    uint32_t end;   /* offset just past the last record (16-aligned): where an append goes */
    uint32_t count; /* records, deleted ones included */
    /* an append in progress */
    bool writing;
    uint32_t w_offset, w_size, w_done;
    uint8_t w_head[RT_STORE_HEADER];
} rt_store_t;

/* Scans the records of a mapped partition. Never fails: an empty or foreign partition is an
 * empty store (the list ends at the first header that is not a valid record). */
void rt_store_open(rt_store_t *s, const uint8_t *base, uint32_t size);

/* Record `index` (0 = first written), deleted ones included. false past the end. */
bool rt_store_record(const rt_store_t *s, uint32_t index, rt_store_record_t *out);

/* The live record of that kind and name written last. */
bool rt_store_find(const rt_store_t *s, uint8_t kind, const char *name, rt_store_record_t *out);

/* The live models (the newest record per name) as a model table for rt_set_model_table();
 * names point into `out`'s records. Returns how many were written (at most cap). */
uint32_t rt_store_models(const rt_store_t *s, rt_store_record_t *records, rt_builtin_model_t *out,
                         uint32_t cap);

/* Bytes free for one more item of `size` bytes (header and alignment included). */
uint32_t rt_store_free(const rt_store_t *s);

/* Append: begin (checks space, erases the sectors the record needs), chunks in order, end
 * (writes the header last: a record whose upload was cut short is never valid). The caller
 * checks the sha256 of the bytes before end; rt_store_open() again to see the new record. */
rt_status_t rt_store_append_begin(rt_store_t *s, const rt_store_flash_t *f, uint8_t kind,
                                  const char *name, uint32_t size, const uint8_t sha256[32]);
rt_status_t rt_store_append_chunk(rt_store_t *s, const rt_store_flash_t *f, const uint8_t *data,
                                  uint32_t len);
rt_status_t rt_store_append_end(rt_store_t *s, const rt_store_flash_t *f);

/* Stores a whole item (an upload the core has verified) and finds it again: RT_PRESENT without
 * writing when the newest live record of that kind and name has the same sha256 (content
 * addressing), else appends it. On RT_OK/RT_PRESENT, *out is the stored record (data in the
 * mapped partition). RT_ERR_NO_SPACE when it does not fit. */
rt_status_t rt_store_put(rt_store_t *s, const rt_store_flash_t *f, uint8_t kind, const char *name,
                         const uint8_t *data, uint32_t size, const uint8_t sha256[32],
                         rt_store_record_t *out);

/* Clears the record's live flag (flash bits only go 1 -> 0). */
rt_status_t rt_store_delete(const rt_store_t *s, const rt_store_flash_t *f, uint32_t offset);

#ifdef __cplusplus
}
#endif

#endif /* RT_STORE_H */
