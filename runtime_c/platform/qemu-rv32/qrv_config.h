/*
 * Platform configuration of the qemu-rv32 port, force-included (-include) before every source
 * of the firmware so that it takes precedence over the defaults in rt.h.
 */
#ifndef QRV_CONFIG_H
#define QRV_CONFIG_H

#include <stddef.h>

/* The core's heap budget is the heap the linker script left (RAM - .data - .bss - stack), less
 * a reserve for the allocator's own headers and fragmentation: an allocation the core admits
 * must never fail in malloc (wabt's runtime aborts when calloc fails). */
size_t qrv_heap_budget(void);
#define RT_HEAP_BUDGET_BYTES qrv_heap_budget()

/* Built-in models stay read-only in flash (no RAM copies); uploads (PUT model, `--model`) land
 * in the heap, within that budget. */

#endif
