/* The qemu-rv32 heap: two-ended placement, in-place resize, boundary tags (qrv_heap.h). */
#include "qrv_heap.h"

#include <string.h>

/* Every block starts with this header; blocks are multiples of 8 bytes and so are headers, so
 * every payload is 8-byte aligned. The last 8 bytes of the region are a sentinel header
 * (size 0, in use) that ends every walk. */
typedef struct {
    uint32_t size; /* bytes of the block, header included; bit 0: in use */
    uint32_t prev; /* size of the block before it (0 for the first) */
} qh_hdr_t;

#define HDR ((uint32_t)sizeof(qh_hdr_t))
typedef char qh_header_is_qrv_heap_header[sizeof(qh_hdr_t) == QRV_HEAP_HEADER ? 1 : -1];
#define USED 1u
#define MIN_BLOCK (2u * HDR) /* a split never leaves a block smaller than this */

static uint8_t *g_base; /* the first block */
static uint8_t *g_end;  /* the sentinel */

static uint32_t bsize(const qh_hdr_t *h) {
    return h->size & ~USED;
}
static int used(const qh_hdr_t *h) {
    return (h->size & USED) != 0;
}
static qh_hdr_t *next_of(qh_hdr_t *h) {
    return (qh_hdr_t *)((uint8_t *)h + bsize(h));
}
static qh_hdr_t *prev_of(qh_hdr_t *h) {
    return h->prev == 0 ? NULL : (qh_hdr_t *)((uint8_t *)h - h->prev);
}
static qh_hdr_t *hdr_of(void *ptr) {
    return (qh_hdr_t *)ptr - 1;
}

/* Growable blocks and the room each keeps free just below it, up to its maximum: a growable block
 * sits at the top of its window, so that the room is contiguous with the free space under it
 * (a transient block that needs it under pressure finds one block, not two) and the block grows
 * down into it (qrv_heap_resize moves the contents down). */
#define MAX_GROWABLE 8u
static struct {
    qh_hdr_t *h; /* NULL: unused entry */
    uint32_t window;
} g_grow[MAX_GROWABLE];

/* Sets h's size (and flag) and tells the block after it. */
static void set_block(qh_hdr_t *h, uint32_t size, uint32_t flag) {
    h->size = size | flag;
    next_of(h)->prev = size;
}

void qrv_heap_init(void *base, size_t size) {
    uintptr_t b = ((uintptr_t)base + 7u) & ~(uintptr_t)7u;
    uintptr_t e = ((uintptr_t)base + size) & ~(uintptr_t)7u;
    memset(g_grow, 0, sizeof g_grow);
    g_base = (uint8_t *)b;
    g_end = (uint8_t *)(e - HDR);
    qh_hdr_t *end = (qh_hdr_t *)g_end;
    end->size = USED;
    qh_hdr_t *first = (qh_hdr_t *)g_base;
    first->prev = 0;
    set_block(first, (uint32_t)(g_end - g_base), 0);
}

/* Block bytes for a payload of size, or 0 when it cannot be represented. */
static uint32_t block_for(size_t size) {
    if (size > UINT32_MAX - 2u * HDR) return 0;
    uint32_t need = ((uint32_t)size + HDR + 7u) & ~7u;
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* Marks need bytes of the free block h in use: its bottom, or its top (from_top); the rest stays
 * a free block when it is large enough to be one. Returns the used block. */
static qh_hdr_t *take(qh_hdr_t *h, uint32_t need, int from_top) {
    uint32_t size = bsize(h);
    if (size - need < MIN_BLOCK) {
        set_block(h, size, USED);
        return h;
    }
    if (!from_top) {
        set_block(h, need, USED);
        qh_hdr_t *rest = next_of(h);
        set_block(rest, size - need, 0);
        return h;
    }
    set_block(h, size - need, 0);
    qh_hdr_t *top = next_of(h);
    top->prev = size - need;
    set_block(top, need, USED);
    return top;
}

/* Merges the free block h with a free block after it. */
static void merge_next(qh_hdr_t *h) {
    qh_hdr_t *n = next_of(h);
    if (!used(n)) set_block(h, bsize(h) + bsize(n), h->size & USED);
}

/* The lowest (or highest) free block of at least need bytes, or NULL. */
static qh_hdr_t *find_free(uint32_t need, int highest) {
    qh_hdr_t *fit = NULL;
    for (qh_hdr_t *h = (qh_hdr_t *)g_base; g_base != NULL && (uint8_t *)h < g_end; h = next_of(h)) {
        if (!used(h) && bsize(h) >= need) {
            fit = h;
            if (!highest) break;
        }
    }
    return fit;
}

void *qrv_heap_alloc(size_t size) {
    uint32_t need = block_for(size);
    qh_hdr_t *fit = need == 0 ? NULL : find_free(need, 0);
    return fit == NULL ? NULL : take(fit, need, 0) + 1;
}

static void shrink(qh_hdr_t *h, uint32_t need);

/* The entry of the growable block h (NULL: a free entry), or NULL. */
static uint32_t grow_entry(const qh_hdr_t *h) {
    for (uint32_t i = 0; i < MAX_GROWABLE; i++) {
        if (g_grow[i].h == h) return i;
    }
    return MAX_GROWABLE;
}

static const uint32_t *window_of(const qh_hdr_t *h) {
    uint32_t i = grow_entry(h);
    return i < MAX_GROWABLE ? &g_grow[i].window : NULL;
}

/* Bytes at the top of the free block h kept for the growable block right after it. */
static uint32_t reserved_above(qh_hdr_t *h) {
    qh_hdr_t *n = next_of(h);
    const uint32_t *w = used(n) ? window_of(n) : NULL;
    return w == NULL || *w <= bsize(n) ? 0u : *w - bsize(n);
}

/* The highest free block with at least need bytes below the room it keeps (keep: honour that
 * room), or NULL. */
static qh_hdr_t *find_high(uint32_t need, int keep) {
    qh_hdr_t *fit = NULL;
    for (qh_hdr_t *h = (qh_hdr_t *)g_base; g_base != NULL && (uint8_t *)h < g_end; h = next_of(h)) {
        uint32_t r = keep ? reserved_above(h) : 0u;
        if (!used(h) && bsize(h) >= need && bsize(h) - need >= r) fit = h;
    }
    return fit;
}

/* Marks need bytes of the free block h in use, ending `below` bytes under its top (0 or a split
 * that leaves a free block above). */
static qh_hdr_t *take_under(qh_hdr_t *h, uint32_t need, uint32_t below) {
    if (below < MIN_BLOCK) return take(h, need, 1);
    qh_hdr_t *b = take(h, bsize(h) - below, 0); /* the part under the kept room */
    set_block(b, bsize(b), 0);
    return take(b, need, 1);
}

void *qrv_heap_alloc_growable(size_t size, size_t max) {
    uint32_t need = block_for(size);
    if (need == 0) return NULL;
    uint32_t window = block_for(max);
    if (window < need) window = need;
    qh_hdr_t *fit = find_high(window, 1);
    qh_hdr_t *h;
    if (fit != NULL) { /* its window at the top of that block, below the room others keep */
        h = take_under(fit, need, reserved_above(fit));
    } else { /* no room for a window: at least away from the small blocks */
        fit = find_high(need, 0);
        if (fit == NULL) return NULL;
        h = take(fit, need, 1);
        window = need;
    }
    uint32_t i = grow_entry(NULL);
    if (i < MAX_GROWABLE) { /* else it keeps no room */
        g_grow[i].h = h;
        g_grow[i].window = window;
    }
    return h + 1;
}

void *qrv_heap_alloc_high(size_t size) {
    uint32_t need = block_for(size);
    qh_hdr_t *fit = need == 0 ? NULL : find_free(need, 1);
    return fit == NULL ? NULL : take(fit, need, 1) + 1;
}

void qrv_heap_free(void *ptr) {
    if (ptr == NULL) return;
    qh_hdr_t *h = hdr_of(ptr);
    uint32_t i = grow_entry(h);
    if (i < MAX_GROWABLE) g_grow[i].h = NULL;
    set_block(h, bsize(h), 0);
    merge_next(h);
    qh_hdr_t *p = prev_of(h);
    if (p != NULL && !used(p)) merge_next(p);
}

/* Gives back the tail of the used block h beyond need bytes, when it makes a block. */
static void shrink(qh_hdr_t *h, uint32_t need) {
    uint32_t size = bsize(h);
    if (size - need < MIN_BLOCK) return;
    set_block(h, need, USED);
    qh_hdr_t *rest = next_of(h);
    rest->prev = need;
    set_block(rest, size - need, 0);
    merge_next(rest);
}

void *qrv_heap_resize(void *ptr, size_t size) {
    uint32_t need = block_for(size);
    if (need == 0) return NULL;
    qh_hdr_t *h = hdr_of(ptr);
    uint32_t cur = bsize(h);
    if (need <= cur) {
        shrink(h, need);
        return ptr;
    }
    qh_hdr_t *n = next_of(h);
    uint32_t after = used(n) ? 0u : bsize(n);
    if (cur + after >= need) { /* into the free block after it */
        set_block(h, cur + after, USED);
        shrink(h, need);
        return ptr;
    }
    qh_hdr_t *p = prev_of(h);
    uint32_t before = p != NULL && !used(p) ? bsize(p) : 0u;
    if (before + cur + after >= need) { /* into the free block before it: move the contents down */
        set_block(p, before + cur + after, USED);
        memmove(p + 1, ptr, cur - HDR);
        uint32_t i = grow_entry(h);
        if (i < MAX_GROWABLE) g_grow[i].h = p;
        shrink(p, need);
        return p + 1;
    }
    return NULL;
}

size_t qrv_heap_block_bytes(const void *ptr) {
    return ptr == NULL ? 0u : bsize((const qh_hdr_t *)ptr - 1);
}

size_t qrv_heap_largest_free(void) {
    uint32_t best = 0;
    for (qh_hdr_t *h = (qh_hdr_t *)g_base; g_base != NULL && (uint8_t *)h < g_end; h = next_of(h)) {
        if (!used(h) && bsize(h) > best) best = bsize(h);
    }
    return best > HDR ? best - HDR : 0;
}

int qrv_heap_check(void) {
    uint32_t prev = 0;
    int prev_free = 0;
    qh_hdr_t *h = (qh_hdr_t *)g_base;
    while ((uint8_t *)h < g_end) {
        uint32_t size = bsize(h);
        if (h->prev != prev) return 1;                    /* boundary tag wrong */
        if (size < MIN_BLOCK || size % 8u != 0) return 2; /* impossible size */
        if ((uint8_t *)h + size > g_end) return 3;        /* runs past the sentinel */
        if (prev_free && !used(h)) return 4;              /* two free blocks not merged */
        prev = size;
        prev_free = !used(h);
        h = next_of(h);
    }
    if ((uint8_t *)h != g_end || h->size != USED || h->prev != prev) return 5; /* sentinel */
    return 0;
}
