/*
 * qrv_heap (the qemu-rv32 allocator) built natively and checked: placement of growable blocks,
 * in-place growth both ways, and random alloc/resize/free sequences against a shadow copy of
 * every block's contents, with the boundary tags checked after each operation.
 * Exit status 0 when every check holds; the first failure is printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qrv_heap.h"

#define HEAP_BYTES (376u * 1024u)
#define KIB 1024u

static uint8_t g_region[HEAP_BYTES + 8];

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "heap_check.c:%d: %s does not hold\n", __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void fill(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u);
}

static int same(const uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)(seed * 31u + i * 7u)) return 0;
    }
    return 1;
}

/* Two linear memories of 64 KiB (cap 128 KiB) between small blocks, as an instance pair on the
 * 400 KiB device: each grows to its cap into the room kept below it, without a second block. */
static void growable_blocks_grow_in_place(void) {
    qrv_heap_init(g_region, HEAP_BYTES);
    void *small[40];
    for (int i = 0; i < 20; i++)
        small[i] = qrv_heap_alloc(40u + (size_t)i * 24u);
    uint8_t *a = qrv_heap_alloc_growable(64 * KIB, 128 * KIB);
    for (int i = 20; i < 30; i++) /* exec envs, module code */
        small[i] = qrv_heap_alloc(i < 24 ? 18 * KIB : 2 * KIB);
    uint8_t *b = qrv_heap_alloc_growable(64 * KIB, 128 * KIB);
    for (int i = 30; i < 40; i++)
        small[i] = qrv_heap_alloc(100);
    for (int i = 0; i < 40; i++)
        CHECK(small[i] != NULL);
    CHECK(a != NULL && b != NULL);
    fill(a, 64 * KIB, 1);
    fill(b, 64 * KIB, 2);
    uint8_t *a2 = qrv_heap_resize(a, 128 * KIB);
    uint8_t *b2 = qrv_heap_resize(b, 128 * KIB);
    CHECK(a2 == a - 64 * KIB); /* down into its own room */
    CHECK(b2 != NULL);         /* down into its room and the free space under it */
    CHECK(same(a2, 64 * KIB, 1) && same(b2, 64 * KIB, 2));
    CHECK(qrv_heap_check() == 0);
    for (int i = 0; i < 40; i++) /* the small blocks stayed below both windows */
        CHECK((uint8_t *)small[i] < b2 && (uint8_t *)small[i] < a2);
}

/* The room a growable block keeps is the top of the free space under it, one free block with
 * it: under pressure a large transient block (an image, an arena) gets all of it at once. */
static void kept_room_is_contiguous_with_free_space(void) {
    qrv_heap_init(g_region, HEAP_BYTES);
    size_t whole = qrv_heap_largest_free();
    uint8_t *a = qrv_heap_alloc_growable(64 * KIB, 192 * KIB);
    CHECK(a != NULL);
    CHECK(qrv_heap_largest_free() >= whole - 64 * KIB - 2 * QRV_HEAP_HEADER);
    uint8_t *b = qrv_heap_alloc_growable(32 * KIB, 64 * KIB); /* below a's room */
    CHECK(b != NULL && b + 32 * KIB + 128 * KIB + QRV_HEAP_HEADER == a);
    size_t rest = whole - 224 * KIB - 2 * QRV_HEAP_HEADER; /* b's room and all under it */
    CHECK(qrv_heap_largest_free() == rest);
    uint8_t *big = qrv_heap_alloc(rest);
    CHECK(big != NULL);
    CHECK(qrv_heap_check() == 0);
    qrv_heap_free(big);
    qrv_heap_free(b);
    qrv_heap_free(a);
    CHECK(qrv_heap_largest_free() == whole);
}

/* A block grows into a free block before it: contents moved down, nothing allocated. */
static void grows_into_the_block_before(void) {
    qrv_heap_init(g_region, HEAP_BYTES);
    uint8_t *x = qrv_heap_alloc(8 * KIB);
    uint8_t *y = qrv_heap_alloc(8 * KIB);
    uint8_t *z = qrv_heap_alloc(100);
    CHECK(x != NULL && y != NULL && z != NULL);
    fill(y, 8 * KIB, 3);
    qrv_heap_free(x);
    uint8_t *y2 = qrv_heap_resize(y, 12 * KIB);
    CHECK(y2 == x);
    CHECK(same(y2, 8 * KIB, 3));
    CHECK(qrv_heap_check() == 0);
    CHECK(qrv_heap_resize(y2, 20 * KIB) == NULL); /* no room either side: caller moves it */
    CHECK(same(y2, 8 * KIB, 3));
    CHECK(qrv_heap_resize(y2, 4 * KIB) == y2); /* shrinking is in place */
    CHECK(qrv_heap_check() == 0);
}

/* Random sequences: every live block keeps its contents, tags stay consistent, and freeing
 * everything gives the whole heap back as one block. */
static void random_sequences(void) {
    enum { SLOTS = 64 };
    qrv_heap_init(g_region, HEAP_BYTES);
    size_t whole = qrv_heap_largest_free();
    uint8_t *p[SLOTS] = {0};
    size_t n[SLOTS] = {0};
    uint32_t seed[SLOTS] = {0};
    uint32_t rng = 12345u;
    for (uint32_t step = 0; step < 200000u; step++) {
        rng = rng * 1103515245u + 12345u;
        uint32_t r = rng >> 8;
        int i = (int)(r % SLOTS);
        size_t size = (r >> 6) % 4u == 0 ? (r >> 8) % (96u * KIB) : (r >> 8) % 600u;
        if (p[i] == NULL) {
            p[i] = (r >> 4) % 8u == 0 ? qrv_heap_alloc_growable(size, size * 2u)
                                      : qrv_heap_alloc(size);
            if (p[i] != NULL) {
                CHECK(((uintptr_t)p[i] & 7u) == 0);
                n[i] = size;
                seed[i] = step;
                fill(p[i], size, step);
            }
        } else if ((r >> 4) % 3u == 0) {
            CHECK(same(p[i], n[i], seed[i]));
            qrv_heap_free(p[i]);
            p[i] = NULL;
        } else {
            uint8_t *q = qrv_heap_resize(p[i], size);
            if (q != NULL) {
                size_t keep = n[i] < size ? n[i] : size;
                CHECK(same(q, keep, seed[i]));
                p[i] = q;
                n[i] = size;
                seed[i] = step;
                fill(q, size, step);
            } else {
                CHECK(same(p[i], n[i], seed[i]));
            }
        }
        CHECK(qrv_heap_check() == 0);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (p[i] != NULL) CHECK(same(p[i], n[i], seed[i]));
        qrv_heap_free(p[i]);
    }
    CHECK(qrv_heap_check() == 0);
    CHECK(qrv_heap_largest_free() == whole);
}

int main(void) {
    growable_blocks_grow_in_place();
    kept_room_is_contiguous_with_free_space();
    grows_into_the_block_before();
    random_sequences();
    printf("qrv_heap: all checks hold\n");
    return 0;
}
