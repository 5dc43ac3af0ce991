/*
 * Force-included (-include) into wabt's wasm-rt-impl.c only: routes the runtime's allocations
 * (linear memories, tables, function types) through the core's accounted heap, so memory
 * accounting and the high-water mark cover guest memory as well.
 */
#ifndef RT_W2C_ALLOC_H
#define RT_W2C_ALLOC_H

#include <stdlib.h>

void *rt_w2c_malloc(size_t size);
void *rt_w2c_calloc(size_t n, size_t size);
void *rt_w2c_realloc(void *ptr, size_t size);
void rt_w2c_free(void *ptr);

#define malloc rt_w2c_malloc
#define calloc rt_w2c_calloc
#define realloc rt_w2c_realloc
#define free rt_w2c_free

/* wabt 1.0.32's wasm_rt_grow_memory gets memory.grow wrong at the edges: a delta that wraps
 * the page count to 0 (grow(-1) on a 1-page memory) returns 0, "success", and grow(0) reallocs
 * to the same size, which fails when the heap has no room for a second copy. Its definition
 * is renamed here; rt_eng_wasm2c.c defines wasm_rt_grow_memory with the spec's checks and
 * calls it only for a real growth. */
#define wasm_rt_grow_memory rt_w2c_upstream_grow_memory
/* Its wasm_rt_allocate_memory leaves the memory's data NULL when calloc fails, and the module
 * then copies its data segments to NULL + offset (a fault on an MCU, where address 0 is not
 * protected the same way): renamed too, rt_eng_wasm2c.c's definition ends the instantiation. */
#define wasm_rt_allocate_memory rt_w2c_upstream_allocate_memory

#endif
