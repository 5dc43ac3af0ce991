/*
 * Host-side check of rt_esp_store.c against images written by build_tools/store_image.py:
 *   store_check IMAGE                          one line per record: offset kind live size name sha
 *   store_check IMAGE models                   the model table the port hands to the core
 *   store_check IMAGE append KIND NAME FILE OUT  append FILE (in 1000-byte chunks) to a copy of
 *                                              IMAGE on a simulated NOR flash, write it to OUT
 *   store_check IMAGE delete OFFSET OUT        clear the live flag of the record at OFFSET
 *   store_check IMAGE put KIND NAME FILE OUT   rt_store_put (content-addressed), status and the
 *                                              record's data offset
 * The simulated flash behaves like NOR: erase sets whole 4 KiB sectors to 0xFF, a write can
 * only clear bits (new = old & data).
 */
#include "rt_esp_store.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *g_flash;
static uint32_t g_size;

static int sim_erase(void *ctx, uint32_t offset, uint32_t len) {
    (void)ctx;
    if (offset % RT_STORE_SECTOR || len % RT_STORE_SECTOR || offset + len > g_size) return -1;
    memset(g_flash + offset, 0xFF, len);
    return 0;
}

static int sim_write(void *ctx, uint32_t offset, const void *data, uint32_t len) {
    (void)ctx;
    if (offset + len > g_size) return -1;
    const uint8_t *d = data;
    for (uint32_t i = 0; i < len; i++)
        g_flash[offset + i] &= d[i];
    return 0;
}

static uint8_t *read_file(const char *path, uint32_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1u);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(3);
    fclose(f);
    *size = (uint32_t)n;
    return buf;
}

static int write_out(const char *path) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(g_flash, 1, g_size, f) != g_size) return 3;
    fclose(f);
    return 0;
}

static void hex(const uint8_t *sha) {
    for (int i = 0; i < 32; i++)
        printf("%02x", sha[i]);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    g_flash = read_file(argv[1], &g_size);
    if (g_flash == NULL) return 3;
    rt_store_t s;
    rt_store_open(&s, g_flash, g_size);
    rt_store_flash_t f = {sim_erase, sim_write, NULL};
    if (argc == 2) {
        rt_store_record_t r;
        for (uint32_t i = 0; rt_store_record(&s, i, &r); i++) {
            printf("%lu %u %d %lu %s ", (unsigned long)r.offset, r.kind, r.live,
                   (unsigned long)r.size, r.name);
            hex(r.sha256);
            printf(" %lu\n", (unsigned long)(r.data - g_flash));
        }
        printf("end %lu free %lu\n", (unsigned long)s.end, (unsigned long)rt_store_free(&s));
        return 0;
    }
    if (strcmp(argv[2], "models") == 0) {
        rt_store_record_t recs[16];
        rt_builtin_model_t models[16];
        uint32_t n = rt_store_models(&s, recs, models, 16);
        for (uint32_t i = 0; i < n; i++) {
            printf("%s %lu ", models[i].name, (unsigned long)models[i].size);
            hex(models[i].sha256);
            printf(" %lu\n", (unsigned long)(models[i].data - g_flash));
        }
        return 0;
    }
    if (strcmp(argv[2], "append") == 0 && argc == 7) {
        uint32_t size;
        uint8_t *data = read_file(argv[5], &size);
        uint8_t sha[32];
        proto_sha256_t h;
        proto_sha256_init(&h);
        proto_sha256_update(&h, data, size);
        proto_sha256_final(&h, sha);
        rt_status_t st = rt_store_append_begin(&s, &f, (uint8_t)atoi(argv[3]), argv[4], size, sha);
        for (uint32_t off = 0; st == RT_OK && off < size; off += 1000u)
            st = rt_store_append_chunk(&s, &f, data + off, size - off < 1000u ? size - off : 1000u);
        if (st == RT_OK) st = rt_store_append_end(&s, &f);
        free(data);
        printf("status %d\n", (int)st);
        return st == RT_OK ? write_out(argv[6]) : 1;
    }
    if (strcmp(argv[2], "put") == 0 && argc == 7) {
        uint32_t size;
        uint8_t *data = read_file(argv[5], &size);
        uint8_t sha[32];
        proto_sha256_t h;
        proto_sha256_init(&h);
        proto_sha256_update(&h, data, size);
        proto_sha256_final(&h, sha);
        rt_store_record_t r;
        rt_status_t st = rt_store_put(&s, &f, (uint8_t)atoi(argv[3]), argv[4], data, size, sha, &r);
        int same = st <= RT_PRESENT && r.size == size && memcmp(r.data, data, size) == 0;
        free(data);
        printf("status %d at %lu same %d\n", (int)st,
               st <= RT_PRESENT ? (unsigned long)(r.data - g_flash) : 0ul, same);
        return st <= RT_PRESENT ? write_out(argv[6]) : 1;
    }
    if (strcmp(argv[2], "delete") == 0 && argc == 5) {
        rt_status_t st = rt_store_delete(&s, &f, (uint32_t)strtoul(argv[3], NULL, 0));
        printf("status %d\n", (int)st);
        return st == RT_OK ? write_out(argv[4]) : 1;
    }
    free(g_flash);
    return 2;
}
