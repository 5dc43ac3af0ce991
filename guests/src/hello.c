/* Engine smoke test: arithmetic, memory, printf, and the failure modes runtimes must contain. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <wasi/api.h>

#include "edge_nn.h"

EDGE_EXPORT("add") int32_t add(int32_t a, int32_t b) {
    return a + b;
}

EDGE_EXPORT("fib") int32_t fib(int32_t n) {
    uint32_t a = 0, b = 1;
    for (int32_t i = 0; i < n; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    return (int32_t)a;
}

EDGE_EXPORT("alloc") void *guest_alloc(int32_t size) {
    return size > 0 ? aligned_alloc(16, ((size_t)size + 15u) & ~(size_t)15u) : NULL;
}

/* FNV-1a over a buffer the runtime wrote into guest memory. */
EDGE_EXPORT("checksum") int32_t checksum(const uint8_t *p, int32_t n) {
    uint32_t h = 2166136261u;
    for (int32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return (int32_t)h;
}

/* Fills a heap buffer with a pattern and sums it back: exercises malloc and memory.grow. */
EDGE_EXPORT("mem_fill") int32_t mem_fill(int32_t size, int32_t seed) {
    uint8_t *buf = malloc((size_t)size);
    if (buf == NULL) return -1;
    for (int32_t i = 0; i < size; i++)
        buf[i] = (uint8_t)(seed + i * 7);
    uint32_t sum = 0;
    for (int32_t i = 0; i < size; i++)
        sum += buf[i];
    free(buf);
    return (int32_t)sum;
}

EDGE_EXPORT("say_hello") int32_t say_hello(int32_t n) {
    int w = printf("hello from wasm %d\n", (int)n);
    fflush(stdout);
    return w;
}

EDGE_EXPORT("trap") int32_t trap(void) {
    __builtin_trap();
}

EDGE_EXPORT("spin") int32_t spin(int32_t n) {
    volatile uint32_t x = (uint32_t)n;
    for (;;)
        x = x * 1664525u + 1013904223u;
}

/* Allocates 64 KiB blocks until malloc fails; returns how many it got. */
EDGE_EXPORT("exhaust") int32_t exhaust(void) {
    int32_t count = 0;
    while (malloc(65536) != NULL)
        count++;
    return count;
}

/* Raw memory.grow: returns the old size in pages or -1. */
EDGE_EXPORT("grow") int32_t grow(int32_t pages) {
    return (int32_t)__builtin_wasm_memory_grow(0, (uint32_t)pages);
}

/* The WASI arguments and environment, one per line, as the command guest print_args prints
 * them (`run TARGET hello print_args --env KEY=VALUE -- ARGS`); returns argc, -1 on an error. */
EDGE_EXPORT("print_args") int32_t print_args(void) {
    __wasi_size_t argc, argv_size, envc, env_size;
    if (__wasi_args_sizes_get(&argc, &argv_size) != 0 ||
        __wasi_environ_sizes_get(&envc, &env_size) != 0)
        return -1;
    uint8_t **ptrs = malloc(sizeof *ptrs * (argc + envc + 1u));
    uint8_t *buf = malloc(argv_size + env_size + 1u);
    int32_t n = -1;
    if (ptrs != NULL && buf != NULL && __wasi_args_get(ptrs, buf) == 0 &&
        __wasi_environ_get(ptrs + argc, buf + argv_size) == 0) {
        printf("argc=%d\n", (int)argc);
        for (__wasi_size_t i = 0; i < argc; i++)
            printf("argv[%d]=%s\n", (int)i, (const char *)ptrs[i]);
        for (__wasi_size_t i = 0; i < envc; i++)
            printf("env %s\n", (const char *)ptrs[argc + i]);
        n = (int32_t)argc;
    }
    fflush(stdout);
    free(ptrs);
    free(buf);
    return n;
}
