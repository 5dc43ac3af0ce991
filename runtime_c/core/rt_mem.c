/* Accounted heap over rt_os_malloc, formatting helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rt.h"
#include "rt_platform.h"

/* Every block carries its size in front so free/realloc can account exactly. The header is
 * 16 bytes to keep the payload 16-byte aligned on every platform. */
typedef union {
    size_t size;
    uint8_t pad[16];
} rt_block_hdr_t;

static size_t g_in_use;
static size_t g_high_water;

typedef enum { BLOCK_PLAIN, BLOCK_GROWABLE, BLOCK_LASTING } block_kind_t;

static void *os_malloc(block_kind_t kind, size_t size, size_t max) {
    switch (kind) {
    case BLOCK_GROWABLE:
        return rt_os_malloc_growable(size, max);
    case BLOCK_LASTING:
        return rt_os_malloc_lasting(size);
    default:
        return rt_os_malloc(size);
    }
}

static void *accounted_malloc(block_kind_t kind, size_t size, size_t max) {
    if (size > (size_t)RT_HEAP_BUDGET_BYTES || g_in_use + size > (size_t)RT_HEAP_BUDGET_BYTES) {
        return NULL;
    }
    if (kind == BLOCK_GROWABLE && max <= size) kind = BLOCK_PLAIN;
    rt_block_hdr_t *h = (rt_block_hdr_t *)os_malloc(kind, sizeof(rt_block_hdr_t) + size,
                                                    sizeof(rt_block_hdr_t) + max);
    if (h == NULL) return NULL;
    h->size = size;
    g_in_use += size;
    if (g_in_use > g_high_water) g_high_water = g_in_use;
    return h + 1;
}

void *rt_malloc(size_t size) {
    return accounted_malloc(BLOCK_PLAIN, size, 0);
}

void *rt_malloc_lasting(size_t size) {
    return accounted_malloc(BLOCK_LASTING, size, 0);
}

void *rt_malloc_growable(size_t size, size_t max) {
    return max > (size_t)-1 - sizeof(rt_block_hdr_t) ? NULL
                                                     : accounted_malloc(BLOCK_GROWABLE, size, max);
}

void *rt_calloc(size_t n, size_t size) {
    if (size != 0 && n > (size_t)-1 / size) return NULL;
    void *p = rt_malloc(n * size);
    if (p != NULL) memset(p, 0, n * size);
    return p;
}

void rt_free(void *ptr) {
    if (ptr == NULL) return;
    rt_block_hdr_t *h = (rt_block_hdr_t *)ptr - 1;
    g_in_use -= h->size;
    rt_os_free(h);
}

void *rt_realloc(void *ptr, size_t size) {
    if (ptr == NULL) return rt_malloc(size);
    rt_block_hdr_t *h = (rt_block_hdr_t *)ptr - 1;
    size_t old = h->size;
    if (size <= old) { /* shrink in place: no second block, so this cannot fail for lack of room */
        g_in_use -= old - size;
        h->size = size;
        return ptr;
    }
    if (size - old > (size_t)RT_HEAP_BUDGET_BYTES - g_in_use) return NULL;
    /* The platform grows the block in place where its heap can (rt_os_realloc), so a growing
     * block (a linear memory on memory.grow) does not need old + new size at once. */
    rt_block_hdr_t *n = (rt_block_hdr_t *)rt_os_realloc(h, sizeof(rt_block_hdr_t) + size);
    if (n == NULL) return NULL; /* the old block stays valid */
    n->size = size;
    g_in_use += size - old;
    if (g_in_use > g_high_water) g_high_water = g_in_use;
    return n + 1;
}

size_t rt_mem_block_size(const void *ptr) {
    return ptr == NULL ? 0 : ((const rt_block_hdr_t *)ptr - 1)->size;
}

size_t rt_mem_in_use(void) {
    return g_in_use;
}
size_t rt_mem_high_water(void) {
    return g_high_water;
}
void rt_mem_reset_peak(void) {
    g_high_water = g_in_use;
}

size_t rt_fmt(char *out, size_t cap, const char *fmt, ...) {
    if (out == NULL || cap == 0) return 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

void rt_logf(const char *fmt, ...) {
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n >= 0) rt_os_log(line);
}
