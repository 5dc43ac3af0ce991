/*
 * rt_platform.h: the whole operating-system surface the portable core may use.
 *
 * Each platform (platform/<name>/) implements every function below; the core and the engines
 * call nothing else from the OS (no stdio, no malloc, no clocks). Modelled on WAMR's
 * platform_api_vmcore.h.
 */
#ifndef RT_PLATFORM_H
#define RT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory (the core adds accounting on top: see rt_mem_* in rt.h) ---- */
void *rt_os_malloc(size_t size);
/* A block that will likely be resized up to max bytes (a linear memory): a platform may place it
 * where the room up to max stays free; otherwise exactly rt_os_malloc. */
void *rt_os_malloc_growable(size_t size, size_t max);
/* A block that outlives the request that makes it (an upload, a loaded module): a platform may
 * place it apart from the transient blocks; otherwise exactly rt_os_malloc. */
void *rt_os_malloc_lasting(size_t size);
/* realloc's contract (the first min(old, size) bytes kept; NULL on failure, ptr still valid), in
 * place where the platform's heap can: a growing block then never needs old + new size at once. */
void *rt_os_realloc(void *ptr, size_t size);
void rt_os_free(void *ptr);

/* ---- time ---- */
/* Monotonic microseconds since an arbitrary start (64-bit: never wraps in practice). */
uint64_t rt_os_time_us(void);
/* Wall-clock nanoseconds since the Unix epoch; MCUs without a clock count from boot. */
uint64_t rt_os_realtime_ns(void);

/* ---- the link to the host tools (device protocol bytes) ---- */
#define RT_OS_READ_TIMEOUT (-1)
#define RT_OS_READ_CLOSED (-2)
/* One byte 0..255, RT_OS_READ_TIMEOUT after timeout_ms, RT_OS_READ_CLOSED when the link is gone. */
int rt_os_read_byte(uint32_t timeout_ms);
/* Write all len bytes; 0 on success. */
int rt_os_write(const uint8_t *data, size_t len);

/* ---- misc ---- */
/* Fill buf with random bytes (not for cryptography on every platform). */
void rt_os_random(uint8_t *buf, size_t len);
/* Debug log line (not the protocol link): stderr on POSIX, a second UART on an MCU. */
void rt_os_log(const char *msg);

/* ---- persistence of uploads ----
 * rt_os_persist_upload: the core calls it once for every upload it has committed (a module the
 * engine validated and loaded, a model stored in the registry), never for a refused or aborted
 * one, with the upload's bytes (valid only during the call; sha256 verified by the protocol).
 * A platform with storage may keep the item across restarts (ESP-IDF: the data partition,
 * content-addressed); the others only note it in the debug log. kind: 0 module, 1 model
 * (rt_kind_t). Runs in the serve loop, so it may take its time (flash writes). */
void rt_os_persist_upload(uint8_t kind, const char *name, const uint8_t sha256[32],
                          const uint8_t *data, uint32_t size);

/* ---- measurements (reported by STATS, docs/protocol.md) ----
 * rt_os_stack_high_water: stack bytes ever used since boot or the last rt_os_stack_reset_peak()
 * (an MCU paints its stack and scans for the deepest overwritten word); 0 = not measured.
 * rt_os_stack_reset_peak: restart that measurement from the current depth (no-op when not
 * measured). Must be safe to call from the serve loop between requests.
 * rt_os_counter: a free-running 64-bit counter in the unit rt_os_counter_unit() names:
 *   RT_OS_COUNTER_NONE     not available (always 0)
 *   RT_OS_COUNTER_INSTRET  instructions retired (an rv32 `instret` CSR)
 *   RT_OS_COUNTER_NS       nanoseconds of a monotonic clock (NOT instructions: a stand-in for
 *                          hosts that cannot count instructions cheaply)
 * The core reads it around each CALL to report the count spent in the last call. */
#define RT_OS_COUNTER_NONE 0u
#define RT_OS_COUNTER_INSTRET 1u
#define RT_OS_COUNTER_NS 2u
uint32_t rt_os_stack_high_water(void);
void rt_os_stack_reset_peak(void);
uint64_t rt_os_counter(void);
uint8_t rt_os_counter_unit(void);

/* ---- call time limit ----
 * rt_os_deadline_arm(ms, fn) makes the platform call fn() once, asynchronously (POSIX: from a
 * SIGALRM handler; MCU: from the timer interrupt through a thread-context trampoline), after
 * ms milliseconds unless rt_os_deadline_disarm() runs first. fn unwinds the guest call with
 * longjmp, or returns (the guest is in host code: the engine unwinds when it leaves it), and
 * then the interrupted code resumes where it was; the platform must leave the timer
 * signal/interrupt unmasked afterwards. */
typedef void (*rt_os_deadline_fn)(void);
void rt_os_deadline_arm(uint32_t ms, rt_os_deadline_fn fn);
/* rt_os_deadline_notify(ms, fn): the same timer, but fn runs inside the signal handler or the
 * interrupt itself and returns; the interrupted code then resumes where it was. fn may only do
 * what is safe there (set a flag atomically): for engines that stop guest code at their own
 * safe points (WAMR polls a terminate flag). */
void rt_os_deadline_notify(uint32_t ms, rt_os_deadline_fn fn);
void rt_os_deadline_disarm(void);

/* ---- cooperative tasks (the pipeline executor, docs/pipeline.md section 9) ----
 * A task is a function running on its own stack; control passes only by rt_os_task_switch, so
 * there is no preemption and no locking. The core allocates the context (rt_os_task_ctx_size()
 * bytes, 16-aligned) and the stack from its accounted heap.
 * rt_os_task_ctx_size: 0 when the platform has no tasks (then no pipelines either).
 * rt_os_task_init: prepare ctx so that the first switch to it runs entry(arg) on
 *   [stack, stack + size); entry must never return (it switches away for the last time).
 * rt_os_task_switch: save the running context in from and continue in to; returns when
 *   something switches back to from. A context that was never initialised (the serve loop's)
 *   is valid as from. ending != 0: from will never be resumed (its stack is about to be freed;
 *   ASan then drops its fake stack). */
size_t rt_os_task_ctx_size(void);
int rt_os_task_init(void *ctx, void *stack, size_t size, void (*entry)(void *), void *arg);
void rt_os_task_switch(void *from, void *to, int ending);

#ifdef __cplusplus
}
#endif

#endif /* RT_PLATFORM_H */
