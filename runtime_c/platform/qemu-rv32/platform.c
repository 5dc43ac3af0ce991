/*
 * qemu-rv32 platform port: rt_platform.h on bare-metal QEMU riscv32 `virt` with picolibc.
 *
 * - Link: NS16550A UART, polled (LSR bit 5 to send, bit 0 to receive); the only UART carries the
 *   device protocol, so rt_os_log goes to a RAM ring (qrv_log_read) instead.
 * - Time: CLINT mtime (10 MHz). Deadline: CLINT mtimecmp + machine timer interrupt; the trap
 *   handler resumes at a trampoline (trap.S) that calls the deadline function in thread
 *   context and, if it returns instead of unwinding, resumes the interrupted code.
 * - Memory: qrv_heap (qrv_heap.h) over the heap the linker script leaves between .bss and the
 *   stack; in-use and peak count its blocks, headers included.
 * - Exit: sifive_test device, (code << 16) | 0x3333, or 0x5555 for 0.
 */
#include "qrv.h"
#include "qrv_config.h"
#include "qrv_heap.h"
#include "rt_platform.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define REG8(addr) (*(volatile uint8_t *)(uintptr_t)(addr))

#define UART_RBR (QRV_UART_BASE + 0)
#define UART_THR (QRV_UART_BASE + 0)
#define UART_IER (QRV_UART_BASE + 1)
#define UART_FCR (QRV_UART_BASE + 2)
#define UART_LCR (QRV_UART_BASE + 3)
#define UART_LSR (QRV_UART_BASE + 5)
#define LSR_DR 0x01u
#define LSR_THRE 0x20u

#define CLINT_MTIMECMP_LO (QRV_CLINT_BASE + 0x4000u)
#define CLINT_MTIMECMP_HI (QRV_CLINT_BASE + 0x4004u)
#define CLINT_MTIME_LO (QRV_CLINT_BASE + 0xBFF8u)
#define CLINT_MTIME_HI (QRV_CLINT_BASE + 0xBFFCu)

#define PLIC_BASE 0x0C000000u
#define PLIC_PRIORITY(irq) (PLIC_BASE + 4u * (irq))
#define PLIC_ENABLE (PLIC_BASE + 0x2000u) /* context 0: hart 0, M-mode */
#define PLIC_THRESHOLD (PLIC_BASE + 0x200000u)
#define PLIC_CLAIM (PLIC_BASE + 0x200004u)
#define QRV_UART_IRQ 10u

#define MCAUSE_INTERRUPT 0x80000000u
#define IRQ_M_TIMER 7u
#define MIE_MTIE (1u << 7)
#define MIE_MEIE (1u << 11)
#define MSTATUS_MIE (1u << 3)

/* GCC 12 marks its output rv32imac without zicsr: enable it around each CSR instruction. */
#define CSR_ASM(insn) ".option push\n.option arch, +zicsr\n" insn "\n.option pop"
#define CSR_READ(name, out) __asm__ volatile(CSR_ASM("csrr %0, " #name) : "=r"(out))
#define CSR_SET(name, bits) __asm__ volatile(CSR_ASM("csrs " #name ", %0")::"r"(bits))
#define CSR_CLEAR(name, bits) __asm__ volatile(CSR_ASM("csrc " #name ", %0")::"r"(bits))
#define CSR_WRITE(name, v) __asm__ volatile(CSR_ASM("csrw " #name ", %0")::"r"(v))

#define STACK_PAINT 0xA5A5A5A5u
#define LOG_RING 2048u

/* Symbols of the linker script (picolibc.ld, sized by the rendered qemu-rv32 script). */
extern uint32_t __heap_start[], __heap_end[], __stack[], __data_start[], __bss_end[];

extern void qrv_trap_entry(void);
extern void qrv_deadline_entry(void);

typedef struct {
    uint32_t heap_in_use, heap_peak;
    rt_os_deadline_fn deadline_fn;
    volatile bool deadline_armed;
    bool deadline_in_isr;      /* rt_os_deadline_notify: call fn in the interrupt and resume */
    uintptr_t deadline_resume; /* the interrupted pc, where qrv_deadline_entry returns to */
    uint64_t rng;
    char log[LOG_RING];
    uint32_t log_head, log_len;
} qrv_state_t;

static qrv_state_t qrv;

static void mtimecmp_set(uint64_t when);

/* ---- UART ---- */

static void uart_putc(uint8_t c) {
    while ((REG8(UART_LSR) & LSR_THRE) == 0) {
    }
    REG8(UART_THR) = c;
}

static void uart_init(void) {
    REG8(UART_IER) = 0x01; /* RX data interrupt: only ever wakes wfi (see read_wait) */
    REG8(UART_LCR) = 0x03; /* 8N1 */
    REG8(UART_FCR) = 0x07; /* enable and clear FIFOs */
}

/* ---- time ---- */

uint64_t qrv_mtime(void) {
    for (;;) {
        uint32_t hi = REG32(CLINT_MTIME_HI);
        uint32_t lo = REG32(CLINT_MTIME_LO);
        if (REG32(CLINT_MTIME_HI) == hi) return ((uint64_t)hi << 32) | lo;
    }
}

uint64_t qrv_instret(void) {
    uint32_t hi, lo, hi2;
    do {
        CSR_READ(minstreth, hi);
        CSR_READ(minstret, lo);
        CSR_READ(minstreth, hi2);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

uint64_t qrv_cycles(void) {
    uint32_t hi, lo, hi2;
    do {
        CSR_READ(mcycleh, hi);
        CSR_READ(mcycle, lo);
        CSR_READ(mcycleh, hi2);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

uint64_t rt_os_time_us(void) {
    return qrv_mtime() / (QRV_MTIME_HZ / 1000000u);
}

uint64_t rt_os_realtime_ns(void) {
    return qrv_mtime() * (1000000000u / QRV_MTIME_HZ);
}

/* ---- the protocol link ---- */

/*
 * Waiting for a byte sleeps in wfi instead of polling: every UART register access takes QEMU's
 * global lock, so a tight LSR loop starves the thread that feeds the UART from the socket (a
 * polled receive path moved under 3 KB/s; sleeping until the RX interrupt is pending, far more).
 * Interrupts stay globally masked (mstatus.MIE = 0): the UART (through the PLIC) and the timer
 * only wake wfi, no trap is taken. The timer wake bounds the wait for the timeout.
 */
static int read_wait(uint64_t deadline) {
    uint32_t mstatus;
    CSR_READ(mstatus, mstatus);
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    mtimecmp_set(deadline);
    CSR_SET(mie, MIE_MEIE | MIE_MTIE);
    int c = RT_OS_READ_TIMEOUT;
    for (;;) {
        if (REG8(UART_LSR) & LSR_DR) {
            c = REG8(UART_RBR);
            break;
        }
        uint32_t id = REG32(PLIC_CLAIM);
        if (id != 0) REG32(PLIC_CLAIM) = id; /* complete: re-arms the level-triggered source */
        if (REG8(UART_LSR) & LSR_DR) continue;
        if (qrv_mtime() >= deadline) break;
        __asm__ volatile("wfi");
    }
    CSR_CLEAR(mie, MIE_MEIE | MIE_MTIE);
    mtimecmp_set(UINT64_MAX);
    CSR_SET(mstatus, mstatus & MSTATUS_MIE);
    return c;
}

int rt_os_read_byte(uint32_t timeout_ms) {
    if (REG8(UART_LSR) & LSR_DR) return REG8(UART_RBR);
    uint64_t deadline = qrv_mtime() + (uint64_t)timeout_ms * (QRV_MTIME_HZ / 1000u);
    if (!qrv.deadline_armed) return read_wait(deadline);
    do { /* the call deadline owns the timer: poll */
        if (REG8(UART_LSR) & LSR_DR) return REG8(UART_RBR);
    } while (qrv_mtime() < deadline);
    return RT_OS_READ_TIMEOUT;
}

int rt_os_write(const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++)
        uart_putc(data[i]);
    return 0;
}

/* ---- memory: qrv_heap over the linker script's heap region, with accounting ---- */

static void heap_init(void) {
    qrv_heap_init(__heap_start, (size_t)((uintptr_t)__heap_end - (uintptr_t)__heap_start));
}

static void heap_account(size_t before, size_t after) {
    qrv.heap_in_use = (uint32_t)(qrv.heap_in_use - before + after);
    if (qrv.heap_in_use > qrv.heap_peak) qrv.heap_peak = qrv.heap_in_use;
}

void *rt_os_malloc(size_t size) {
    void *p = qrv_heap_alloc(size);
    if (p != NULL) heap_account(0, qrv_heap_block_bytes(p));
    return p;
}

void *rt_os_malloc_growable(size_t size, size_t max) {
    void *p = qrv_heap_alloc_growable(size, max);
    if (p != NULL) heap_account(0, qrv_heap_block_bytes(p));
    return p;
}

void *rt_os_malloc_lasting(size_t size) {
    void *p = qrv_heap_alloc_high(size);
    if (p != NULL) heap_account(0, qrv_heap_block_bytes(p));
    return p;
}

void *rt_os_realloc(void *ptr, size_t size) {
    if (ptr == NULL) return rt_os_malloc(size);
    size_t before = qrv_heap_block_bytes(ptr);
    void *p = qrv_heap_resize(ptr, size);
    if (p != NULL) {
        heap_account(before, qrv_heap_block_bytes(p));
        return p;
    }
    p = rt_os_malloc(size); /* no room beside it: old and new block live at once */
    if (p == NULL) return NULL;
    size_t keep = before - QRV_HEAP_HEADER;
    memcpy(p, ptr, keep < size ? keep : size);
    rt_os_free(ptr);
    return p;
}

void rt_os_free(void *ptr) {
    if (ptr == NULL) return;
    heap_account(qrv_heap_block_bytes(ptr), 0);
    qrv_heap_free(ptr);
}

/* The C library's allocation functions over the same heap, unaccounted (the protocol
 * firmware's fake core uses them; the runtime allocates through rt_os_malloc), so that picolibc's
 * own malloc is never linked. Its sbrk is refused too: nothing else may take the region. */
void *malloc(size_t size) {
    return qrv_heap_alloc(size);
}

void free(void *ptr) {
    qrv_heap_free(ptr);
}

void *calloc(size_t n, size_t size) {
    if (size != 0 && n > (size_t)-1 / size) return NULL;
    void *p = qrv_heap_alloc(n * size);
    if (p != NULL) memset(p, 0, n * size);
    return p;
}

void *realloc(void *ptr, size_t size) {
    if (ptr == NULL) return qrv_heap_alloc(size);
    void *p = qrv_heap_resize(ptr, size);
    if (p != NULL) return p;
    p = qrv_heap_alloc(size);
    if (p == NULL) return NULL;
    size_t keep = qrv_heap_block_bytes(ptr) - QRV_HEAP_HEADER;
    memcpy(p, ptr, keep < size ? keep : size);
    qrv_heap_free(ptr);
    return p;
}

void *sbrk(ptrdiff_t incr);
void *sbrk(ptrdiff_t incr) {
    (void)incr;
    return (void *)-1;
}

uint32_t qrv_heap_in_use(void) {
    return qrv.heap_in_use;
}
uint32_t qrv_heap_high_water(void) {
    return qrv.heap_peak;
}
uint32_t qrv_heap_size(void) {
    return (uint32_t)((uintptr_t)__heap_end - (uintptr_t)__heap_start);
}
#define HEAP_RESERVE_BYTES 8192u

size_t qrv_heap_budget(void) {
    size_t heap = qrv_heap_size();
    size_t reserve = HEAP_RESERVE_BYTES + heap / 32u;
    return heap > reserve ? heap - reserve : 0;
}

uint32_t qrv_static_ram(void) {
    return (uint32_t)((uintptr_t)__bss_end - (uintptr_t)__data_start);
}

/* ---- stack painting ---- */

uint32_t qrv_stack_size(void) {
    return (uint32_t)((uintptr_t)__stack - (uintptr_t)__heap_end);
}

static void stack_paint(void) {
    uint32_t *p = __heap_end;
    uint32_t *limit = (uint32_t *)__builtin_frame_address(0) - 64; /* keep clear of live frames */
    while (p < limit)
        *p++ = STACK_PAINT;
}

uint32_t qrv_stack_high_water(void) {
    const uint32_t *p = __heap_end;
    while (p < __stack && *p == STACK_PAINT)
        p++;
    return (uint32_t)((uintptr_t)__stack - (uintptr_t)p);
}

uint32_t rt_os_stack_high_water(void) {
    return qrv_stack_high_water();
}

/* Re-paint the stack below the caller's frame: the peak restarts from the current depth.
 * Interrupts only wake wfi here (no trap is taken between requests), so nothing else runs on
 * the words being painted. */
void rt_os_stack_reset_peak(void) {
    stack_paint();
}

/* minstret. Under QEMU it counts instructions only with -icount (QEMU 7.2 feeds it from the
 * host's cycle counter otherwise); on silicon it is the core's retired-instruction count. */
uint64_t rt_os_counter(void) {
    return qrv_instret();
}

uint8_t rt_os_counter_unit(void) {
    return RT_OS_COUNTER_INSTRET;
}

uint32_t qrv_ram_high_water(void) {
    return qrv_static_ram() + qrv.heap_peak + qrv_stack_high_water();
}

/* ---- misc ---- */

void rt_os_random(uint8_t *buf, size_t len) {
    /* xorshift64*, seeded from the timer on first use: not for cryptography (docs/abi.md). */
    if (qrv.rng == 0) qrv.rng = qrv_mtime() | 1u;
    for (size_t i = 0; i < len; i++) {
        qrv.rng ^= qrv.rng >> 12;
        qrv.rng ^= qrv.rng << 25;
        qrv.rng ^= qrv.rng >> 27;
        buf[i] = (uint8_t)((qrv.rng * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static void log_putc(char c) {
    qrv.log[(qrv.log_head + qrv.log_len) % LOG_RING] = c;
    if (qrv.log_len < LOG_RING) {
        qrv.log_len++;
    } else {
        qrv.log_head = (qrv.log_head + 1) % LOG_RING;
    }
}

/* Uploads are not kept across restarts (RAM only): nothing to do. */
void rt_os_persist_upload(uint8_t kind, const char *name, const uint8_t sha256[32],
                          const uint8_t *data, uint32_t size) {
    (void)kind;
    (void)name;
    (void)sha256;
    (void)data;
    (void)size;
}

void rt_os_log(const char *msg) {
    for (const char *p = msg; *p; p++)
        log_putc(*p);
    log_putc('\n');
}

size_t qrv_log_read(char *out, size_t cap) {
    size_t n = 0;
    while (n < cap && qrv.log_len > 0) {
        out[n++] = qrv.log[qrv.log_head];
        qrv.log_head = (qrv.log_head + 1) % LOG_RING;
        qrv.log_len--;
    }
    return n;
}

/* ---- deadline: CLINT timer interrupt ---- */

static void mtimecmp_set(uint64_t when) {
    REG32(CLINT_MTIMECMP_HI) = 0xFFFFFFFFu; /* no spurious match while the halves change */
    REG32(CLINT_MTIMECMP_LO) = (uint32_t)when;
    REG32(CLINT_MTIMECMP_HI) = (uint32_t)(when >> 32);
}

static void deadline_start(uint32_t ms, rt_os_deadline_fn fn, bool in_isr) {
    qrv.deadline_fn = fn;
    qrv.deadline_in_isr = in_isr;
    qrv.deadline_armed = true;
    mtimecmp_set(qrv_mtime() + (uint64_t)ms * (QRV_MTIME_HZ / 1000u));
    CSR_SET(mie, MIE_MTIE);
    CSR_SET(mstatus, MSTATUS_MIE);
}

void rt_os_deadline_arm(uint32_t ms, rt_os_deadline_fn fn) {
    deadline_start(ms, fn, false);
}

void rt_os_deadline_notify(uint32_t ms, rt_os_deadline_fn fn) {
    deadline_start(ms, fn, true);
}

void rt_os_deadline_disarm(void) {
    CSR_CLEAR(mie, MIE_MTIE);
    qrv.deadline_armed = false;
    mtimecmp_set(UINT64_MAX);
}

/* Called by qrv_deadline_entry (trap.S) in thread context after the timer trap returned there
 * instead of to the interrupted code; returns the pc to resume at when fn returns. */
uintptr_t qrv_deadline_run(void);

uintptr_t qrv_deadline_run(void) {
    uintptr_t resume = qrv.deadline_resume; /* fn may longjmp: read before */
    rt_os_deadline_fn fn = qrv.deadline_fn;
    if (fn != NULL) fn();
    return resume;
}

static void put_hex(uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 28; i >= 0; i -= 4)
        uart_putc((uint8_t)digits[(v >> i) & 0xFu]);
}

static void put_text(const char *s) {
    while (*s)
        uart_putc((uint8_t)*s++);
}

uintptr_t qrv_trap(uint32_t mcause, uintptr_t mepc, uintptr_t sp);

uintptr_t qrv_trap(uint32_t mcause, uintptr_t mepc, uintptr_t sp) {
    if (mcause == (MCAUSE_INTERRUPT | IRQ_M_TIMER)) {
        CSR_CLEAR(mie, MIE_MTIE);
        mtimecmp_set(UINT64_MAX);
        if (qrv.deadline_armed) {
            qrv.deadline_armed = false;
            if (!qrv.deadline_in_isr) {
                qrv.deadline_resume = mepc;
                return (uintptr_t)qrv_deadline_entry;
            }
            if (qrv.deadline_fn != NULL) qrv.deadline_fn();
        }
        return mepc;
    }
    /* A CPU exception in firmware code is a bug: say where on the line, then stop QEMU. */
    put_text("\nqemu-rv32: fatal trap mcause=0x");
    put_hex(mcause);
    put_text(" mepc=0x");
    put_hex((uint32_t)mepc);
    put_text(" sp=0x");
    put_hex((uint32_t)sp);
    put_text("\n");
    qrv_exit(3);
}

/* ---- exit and picolibc hooks ---- */

void qrv_exit(uint32_t code) {
    code &= 0xFFFFu;
    REG32(QRV_TEST_BASE) = code == 0 ? 0x5555u : ((code << 16) | 0x3333u);
    for (;;) {
    }
}

void _exit(int code);
void _exit(int code) {
    qrv_exit((uint32_t)code);
}

/* picolibc's abort() raises SIGABRT through these. */
pid_t getpid(void);
pid_t getpid(void) {
    return 1;
}
int kill(pid_t pid, int sig);
int kill(pid_t pid, int sig) {
    (void)pid;
    rt_os_log("qemu-rv32: abort");
    put_text("\nqemu-rv32: abort (signal ");
    if (sig >= 10) uart_putc((uint8_t)('0' + (sig / 10) % 10));
    uart_putc((uint8_t)('0' + sig % 10));
    put_text(")\n");
    qrv_exit(128u + (uint32_t)sig);
}

/* stdio for anything that prints (the core does not): into the log ring. */
static int stdio_put(char c, FILE *f) {
    (void)f;
    log_putc(c);
    return (unsigned char)c;
}

static int stdio_get(FILE *f) {
    (void)f;
    return EOF;
}

static FILE qrv_stdio = FDEV_SETUP_STREAM(stdio_put, stdio_get, NULL, _FDEV_SETUP_RW);
FILE *const stdin = &qrv_stdio;
FILE *const stdout = &qrv_stdio;
FILE *const stderr = &qrv_stdio;

void qrv_init(void) {
    uart_init();
    REG32(PLIC_PRIORITY(QRV_UART_IRQ)) = 1;
    REG32(PLIC_ENABLE) = 1u << QRV_UART_IRQ;
    REG32(PLIC_THRESHOLD) = 0;
    CSR_WRITE(mtvec, (uintptr_t)qrv_trap_entry);
    mtimecmp_set(UINT64_MAX);
    stack_paint();
    heap_init();
}

/* ---- cooperative tasks (rt_platform.h): task.S switches ra, sp and s0-s11 ---- */

#define QRV_CTX_WORDS 14u
void qrv_ctx_switch(uint32_t *from, const uint32_t *to);
void qrv_task_start(void);

size_t rt_os_task_ctx_size(void) {
    return QRV_CTX_WORDS * sizeof(uint32_t);
}

int rt_os_task_init(void *ctx, void *stack, size_t size, void (*entry)(void *), void *arg) {
    uint32_t *c = (uint32_t *)ctx;
    for (uint32_t i = 0; i < QRV_CTX_WORDS; i++)
        c[i] = 0;
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15u; /* the ABI's 16-byte alignment */
    c[0] = (uint32_t)(uintptr_t)qrv_task_start;
    c[1] = (uint32_t)top;
    c[2] = (uint32_t)(uintptr_t)entry;
    c[3] = (uint32_t)(uintptr_t)arg;
    return 0;
}

void rt_os_task_switch(void *from, void *to, int ending) {
    (void)ending;
    qrv_ctx_switch((uint32_t *)from, (const uint32_t *)to);
}
