/*
 * Stub <sys/mman.h> for picolibc, which has none. wabt's wasm-rt-impl.c includes it
 * unconditionally, but with WASM_RT_MEMCHECK_SIGNAL_HANDLER=0 (the microcontroller mode) it
 * calls none of these: linear memory comes from calloc/realloc with explicit bounds checks.
 */
#ifndef QRV_SYS_MMAN_H
#define QRV_SYS_MMAN_H

#include <stddef.h>
#include <sys/types.h>

#define PROT_NONE 0x0
#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_FAILED ((void *)-1)

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);

#endif
