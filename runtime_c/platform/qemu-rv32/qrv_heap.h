/*
 * qrv_heap: the qemu-rv32 platform's allocator over the one heap region the linker script leaves
 * between .bss and the stack (it replaces picolibc's malloc).
 *
 * Why its own: on a 400 KiB device a WebAssembly instance's linear memory (64 KiB and more) is
 * the largest block, and memory.grow reallocates it. With a first-fit heap, instances end up next
 * to each other and small long-lived blocks pin the holes that unloaded modules leave, so a grow
 * that needs old + new size at once failed although the heap held enough free bytes (it depended
 * on which modules had been uploaded before). So:
 * - A block that will grow (qrv_heap_alloc_growable: a linear memory, with its maximum) is placed
 *   from the top of the heap down, at the top of a window as large as its maximum: the rest of
 *   the window stays free below it (the heap remembers that room for up to 8 such blocks, and
 *   the next one is placed under it), and it grows down into it. The room is thus the top of the
 *   free space under the block, one free block with it: a large transient block (an image, an
 *   arena) that needs it under pressure finds it whole. (With the room above the block, the free
 *   space was split in two by the block and a 27.6 KiB image failed beside two 27 KiB holes.)
 * - Long-lived blocks (qrv_heap_alloc_high: uploads and loaded modules, a cache WAMR unloads under
 *   pressure) are placed from the top too, so unloading them frees room away from the small
 *   blocks. Every other block is placed from the bottom up (the lowest free block that fits).
 * - qrv_heap_resize grows a block where its neighbours allow it: into a free block after it, or
 *   into a free block before it (the contents moved down). Shrinking is always in place.
 * - Free blocks merge with free neighbours at once (boundary tags: every block header also holds
 *   the size of the block before it).
 * Plain C over a caller-given region, so it is also built and checked natively
 * (test/heap_check.c). One heap per program; not thread-safe (the platform has one thread).
 */
#ifndef QRV_HEAP_H
#define QRV_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the header in front of every block's payload. */
#define QRV_HEAP_HEADER 8u

/* Takes over [base, base + size); base is rounded up to 8 bytes. Call once, before any use. */
void qrv_heap_init(void *base, size_t size);
/* 8-byte aligned, or NULL when no free block fits. */
void *qrv_heap_alloc(size_t size);
/* A block of size bytes expected to grow up to max (qrv_heap_alloc's alignment and failure): the
 * room up to max stays free above it when the heap has a free block that large. */
void *qrv_heap_alloc_growable(size_t size, size_t max);
/* A long-lived block (an upload, a loaded module): the top of the highest free block that fits,
 * so that such blocks gather at the top beside the linear memories, apart from the transient
 * blocks placed from the bottom; unloading them then leaves contiguous room. */
void *qrv_heap_alloc_high(size_t size);
void qrv_heap_free(void *ptr);
/* Resizes the block at ptr (not NULL) without a second block: in place, or moved down into a
 * free block before it. The first min(old, size) bytes are kept. NULL when the neighbours leave
 * no room (ptr stays valid): the caller then allocates, copies and frees. */
void *qrv_heap_resize(void *ptr, size_t size);
/* Bytes the block at ptr occupies, its header included (0 for NULL): what accounting counts. */
size_t qrv_heap_block_bytes(const void *ptr);
/* The largest block qrv_heap_alloc could return now (payload bytes). */
size_t qrv_heap_largest_free(void);
/* Walks every block and checks the tags; 0 when consistent (tests). */
int qrv_heap_check(void);

#endif
