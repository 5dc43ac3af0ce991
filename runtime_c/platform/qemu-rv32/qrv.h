/*
 * qemu-rv32 platform port: QEMU riscv32 `virt` board facts and the port's own extras.
 *
 * The portable core only calls rt_platform.h; the functions declared here are for the port's
 * main, the firmware glue and the measurements (stack/heap high-water marks, instret).
 */
#ifndef QRV_H
#define QRV_H

#include <stddef.h>
#include <stdint.h>

/* Memory map of QEMU's riscv `virt` machine. */
#define QRV_TEST_BASE 0x00100000u  /* sifive_test: exit device */
#define QRV_CLINT_BASE 0x02000000u /* mtimecmp (hart 0) at +0x4000, mtime at +0xBFF8 */
#define QRV_UART_BASE 0x10000000u  /* NS16550A */
#define QRV_MTIME_HZ 10000000u     /* CLINT timebase on virt */

/* Initialise UART, trap vector and stack painting; call first thing in main. */
void qrv_init(void);

/* Stop QEMU with an exit status (0..0xffff) through the sifive_test device. Never returns. */
void qrv_exit(uint32_t code) __attribute__((noreturn));

/* Raw 10 MHz machine timer. */
uint64_t qrv_mtime(void);

/* Retired-instruction and cycle counters (rdinstret / rdcycle). */
uint64_t qrv_instret(void);
uint64_t qrv_cycles(void);

/* Stack bytes ever used (from the painted stack region), the stack size, heap bytes in use and
 * their peak through rt_os_malloc, and the static RAM (.data + .bss) of the image. */
uint32_t qrv_stack_high_water(void);
uint32_t qrv_stack_size(void);
uint32_t qrv_heap_in_use(void);
uint32_t qrv_heap_high_water(void);
uint32_t qrv_heap_size(void);
uint32_t qrv_static_ram(void);

/* Whole-RAM high-water mark: static data + heap peak + stack peak (bytes). */
uint32_t qrv_ram_high_water(void);

/* Copy up to cap bytes of the debug log ring (rt_os_log) into out; returns bytes copied. */
size_t qrv_log_read(char *out, size_t cap);

#endif
