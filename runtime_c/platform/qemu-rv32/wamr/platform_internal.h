/*
 * WAMR platform port, bare metal (qemu-rv32): the types WAMR's platform headers expect.
 * One thread, no file system: mutexes and condition variables are counters, thread creation
 * fails (WAMR is built without threads; its thread manager is on only for the terminate flag).
 */
#ifndef _PLATFORM_INTERNAL_H
#define _PLATFORM_INTERNAL_H

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BH_PLATFORM_QEMU_RV32
#define BH_PLATFORM_QEMU_RV32
#endif

#define BH_APPLET_PRESERVED_STACK_SIZE (2 * 1024)
#define BH_THREAD_DEFAULT_PRIORITY 0

typedef uint32_t korp_tid;
typedef uint32_t korp_thread;
typedef uint32_t korp_mutex;
typedef uint32_t korp_cond;
typedef uint32_t korp_sem;
typedef struct {
    uint32_t dummy;
} korp_rwlock;

typedef int os_file_handle;
typedef void *os_dir_stream;
typedef int os_raw_file_handle;

static inline os_file_handle os_get_invalid_handle(void) {
    return -1;
}

static inline int os_getpagesize(void) {
    return 4096;
}

#endif /* _PLATFORM_INTERNAL_H */
