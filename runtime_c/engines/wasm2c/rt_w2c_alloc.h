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

#endif
