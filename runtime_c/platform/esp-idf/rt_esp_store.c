/* The data partition's store (rt_esp_store.h): parse in place, append through flash callbacks. */
#include "rt_esp_store.h"

#include <string.h>

#include "proto.h"

static const uint8_t k_magic[4] = {'R', 'T', 'S', '1'};
#define FLAGS_AT 6u
#define CRC_AT 12u

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t align_up(uint32_t n, uint32_t a) {
    return (n + a - 1u) / a * a;
}

/* CRC-32 of bytes 0..5, 8..11 and 16..127: everything but the flags and the CRC itself. */
static uint32_t header_crc(const uint8_t *h) {
    uint32_t crc = proto_crc32(0, h, 6);
    crc = proto_crc32(crc, h + 8, 4);
    return proto_crc32(crc, h + 16, RT_STORE_HEADER - 16u);
}

/* Length of a valid record at off (header + data), or 0 when there is none. */
static uint32_t record_at(const rt_store_t *s, uint32_t off, rt_store_record_t *out) {
    if (off > s->size || s->size - off < RT_STORE_HEADER) return 0;
    const uint8_t *h = s->base + off;
    uint8_t name_len = h[5];
    if (memcmp(h, k_magic, 4) != 0 || name_len == 0 || name_len > RT_STORE_NAME_MAX ||
        header_crc(h) != le32(h + CRC_AT)) {
        return 0;
    }
    uint32_t size = le32(h + 8);
    if (size > s->size - off - RT_STORE_HEADER) return 0;
    if (out != NULL) {
        out->offset = off;
        out->kind = h[4];
        out->live = (h[FLAGS_AT] & 1u) != 0;
        memcpy(out->name, h + 48, name_len);
        out->name[name_len] = '\0';
        out->size = size;
        memcpy(out->sha256, h + 16, 32);
        out->data = h + RT_STORE_HEADER;
    }
    return RT_STORE_HEADER + size;
}

void rt_store_open(rt_store_t *s, const uint8_t *base, uint32_t size) {
    memset(s, 0, sizeof *s);
    s->base = base;
    s->size = size;
    uint32_t off = 0, len;
    while ((len = record_at(s, off, NULL)) != 0) {
        s->count++;
        off = align_up(off + len, RT_STORE_ALIGN);
    }
    s->end = off;
}

bool rt_store_record(const rt_store_t *s, uint32_t index, rt_store_record_t *out) {
    uint32_t off = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t len = record_at(s, off, out);
        if (len == 0) return false;
        if (i == index) return true;
        off = align_up(off + len, RT_STORE_ALIGN);
    }
    return false;
}

bool rt_store_find(const rt_store_t *s, uint8_t kind, const char *name, rt_store_record_t *out) {
    bool found = false;
    rt_store_record_t r;
    for (uint32_t i = 0; rt_store_record(s, i, &r); i++) {
        if (r.kind != kind || strcmp(r.name, name) != 0) continue;
        if (r.live) { /* a later live record shadows an earlier one */
            *out = r;
            found = true;
        } else if (found && out->offset < r.offset) {
            found = false; /* the newest record of that name was deleted */
        }
    }
    return found;
}

uint32_t rt_store_models(const rt_store_t *s, rt_store_record_t *records, rt_builtin_model_t *out,
                         uint32_t cap) {
    uint32_t n = 0;
    rt_store_record_t r;
    for (uint32_t i = 0; n < cap && rt_store_record(s, i, &r); i++) {
        if (r.kind != RT_STORE_KIND_MODEL) continue;
        bool seen = false;
        for (uint32_t j = 0; j < n && !seen; j++)
            seen = strcmp(records[j].name, r.name) == 0;
        if (seen || !rt_store_find(s, RT_STORE_KIND_MODEL, r.name, &records[n])) continue;
        out[n].name = records[n].name;
        out[n].data = records[n].data;
        out[n].size = records[n].size;
        memcpy(out[n].sha256, records[n].sha256, 32);
        n++;
    }
    return n;
}

uint32_t rt_store_free(const rt_store_t *s) {
    uint32_t used = s->end + RT_STORE_HEADER;
    return used < s->size ? s->size - used : 0;
}

rt_status_t rt_store_append_begin(rt_store_t *s, const rt_store_flash_t *f, uint8_t kind,
                                  const char *name, uint32_t size, const uint8_t sha256[32]) {
    size_t name_len = strlen(name);
    s->writing = false;
    if (name_len == 0 || name_len > RT_STORE_NAME_MAX || kind > RT_STORE_KIND_MODEL) {
        return RT_ERR_BAD_REQUEST;
    }
    if (size > rt_store_free(s)) return RT_ERR_NO_SPACE;
    /* The bytes up to the end of the sector holding s->end are erased (the image is padded so
     * and every append keeps it so); erase the sectors after it that the record reaches. */
    uint32_t first = align_up(s->end, RT_STORE_SECTOR);
    uint32_t last = align_up(s->end + RT_STORE_HEADER + size, RT_STORE_SECTOR);
    if (last > first && f->erase(f->ctx, first, last - first) != 0) return RT_ERR_INTERNAL;
    uint8_t *h = s->w_head;
    memset(h, 0xFF, RT_STORE_HEADER);
    memcpy(h, k_magic, 4);
    h[4] = kind;
    h[5] = (uint8_t)name_len;
    put_le32(h + 8, size);
    memcpy(h + 16, sha256, 32);
    memset(h + 48, 0, RT_STORE_NAME_MAX);
    memcpy(h + 48, name, name_len);
    put_le32(h + CRC_AT, header_crc(h));
    s->writing = true;
    s->w_offset = s->end;
    s->w_size = size;
    s->w_done = 0;
    return RT_OK;
}

rt_status_t rt_store_append_chunk(rt_store_t *s, const rt_store_flash_t *f, const uint8_t *data,
                                  uint32_t len) {
    if (!s->writing) return RT_ERR_BAD_STATE;
    if (len > s->w_size - s->w_done) return RT_ERR_OUT_OF_BOUNDS;
    if (len > 0 && f->write(f->ctx, s->w_offset + RT_STORE_HEADER + s->w_done, data, len) != 0) {
        s->writing = false;
        return RT_ERR_INTERNAL;
    }
    s->w_done += len;
    return RT_OK;
}

rt_status_t rt_store_append_end(rt_store_t *s, const rt_store_flash_t *f) {
    if (!s->writing || s->w_done != s->w_size) return RT_ERR_BAD_STATE;
    s->writing = false;
    if (f->write(f->ctx, s->w_offset, s->w_head, RT_STORE_HEADER) != 0) return RT_ERR_INTERNAL;
    s->end = align_up(s->w_offset + RT_STORE_HEADER + s->w_size, RT_STORE_ALIGN);
    s->count++;
    return RT_OK;
}

rt_status_t rt_store_put(rt_store_t *s, const rt_store_flash_t *f, uint8_t kind, const char *name,
                         const uint8_t *data, uint32_t size, const uint8_t sha256[32],
                         rt_store_record_t *out) {
    if (rt_store_find(s, kind, name, out) && out->size == size &&
        memcmp(out->sha256, sha256, 32) == 0) {
        return RT_PRESENT;
    }
    rt_status_t st = rt_store_append_begin(s, f, kind, name, size, sha256);
    if (st == RT_OK) st = rt_store_append_chunk(s, f, data, size);
    if (st == RT_OK) st = rt_store_append_end(s, f);
    if (st != RT_OK) return st;
    return rt_store_record(s, s->count - 1u, out) ? RT_OK : RT_ERR_INTERNAL;
}

rt_status_t rt_store_delete(const rt_store_t *s, const rt_store_flash_t *f, uint32_t offset) {
    if (record_at(s, offset, NULL) == 0) return RT_ERR_NOT_FOUND;
    uint8_t flags[2] = {(uint8_t)(s->base[offset + FLAGS_AT] & 0xFEu),
                        s->base[offset + FLAGS_AT + 1]};
    return f->write(f->ctx, offset + FLAGS_AT, flags, 2) == 0 ? RT_OK : RT_ERR_INTERNAL;
}
