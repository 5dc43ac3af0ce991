/*
 * ESP-IDF platform port: rt_platform.h and rt_esp_port.h over ESP-IDF 5.x. The only file of the
 * port that includes ESP-IDF headers (it is compiled by ESP-IDF's build, not here).
 *
 * - Link: the device protocol on the console's port: UART0 through the UART driver, or the
 *   USB-Serial-JTAG driver when that is the console (CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG).
 *   Logs (rt_os_log, and ESP-IDF's own through esp_log_set_vprintf) go to the same port as
 *   whole lines, under the lock that also covers each protocol write (one write per frame), so
 *   they fall between frames, where the host's decoder skips them (docs/protocol.md, section
 *   1). The lock is recursive: a driver that logs while writing does not deadlock.
 * - Memory: heap_caps_malloc with a size header for in-use/peak accounting; PSRAM first for
 *   allocations of 4 KiB and more where the chip has it (CONFIG_SPIRAM).
 * - Time: esp_timer (microseconds since boot). Deadline: a one-shot esp_timer; its callback
 *   runs in the esp_timer task, not in the guest's, so the deadline function must not longjmp:
 *   engines use rt_os_deadline_notify here (WAMR sets its terminate flag, which the
 *   interpreter checks at its next safe point).
 * - Watchdog: the runtime task is subscribed to the task watchdog and feeds it while it waits
 *   for bytes between requests.
 * - Stack: FreeRTOS's high-water mark of the runtime task (not resettable). Counter: none.
 */
#include "rt_esp_port.h"
#include "rt_platform.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_partition.h"
#include "esp_random.h"
#include "esp_task_wdt.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "sdkconfig.h"

#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
#include "driver/usb_serial_jtag.h"
#else
#include "driver/uart.h"
#define RT_UART UART_NUM_0
#endif

#define RX_BUFFER 4096
#define LOG_LINE 256
#define PSRAM_MIN_BYTES 4096u

typedef union {
    size_t size;
    uint64_t align;
} esp_block_t;

static struct {
    SemaphoreHandle_t link_lock;
    uint32_t heap_in_use, heap_peak;
    esp_timer_handle_t deadline;
    rt_os_deadline_fn deadline_fn;
    const esp_partition_t *storage;
    esp_partition_mmap_handle_t storage_map;
} g;

/* ---- link ---- */

static int link_write_raw(const uint8_t *data, size_t len) {
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    return usb_serial_jtag_write_bytes(data, len, portMAX_DELAY) == (int)len ? 0 : -1;
#else
    return uart_write_bytes(RT_UART, data, len) == (int)len ? 0 : -1;
#endif
}

int rt_os_write(const uint8_t *data, size_t len) {
    xSemaphoreTakeRecursive(g.link_lock, portMAX_DELAY);
    int rc = link_write_raw(data, len);
    xSemaphoreGiveRecursive(g.link_lock);
    return rc;
}

int rt_os_read_byte(uint32_t timeout_ms) {
    uint8_t b;
    esp_task_wdt_reset(); /* waiting between requests: the runtime task is alive */
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    int n = usb_serial_jtag_read_bytes(&b, 1, pdMS_TO_TICKS(timeout_ms));
#else
    int n = uart_read_bytes(RT_UART, &b, 1, pdMS_TO_TICKS(timeout_ms));
#endif
    return n == 1 ? b : RT_OS_READ_TIMEOUT;
}

static int log_vprintf(const char *fmt, va_list ap) {
    char line[LOG_LINE];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) return n;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1u;
    rt_os_write((const uint8_t *)line, len);
    return n;
}

void rt_os_log(const char *msg) {
    xSemaphoreTakeRecursive(g.link_lock, portMAX_DELAY);
    link_write_raw((const uint8_t *)msg, strlen(msg));
    link_write_raw((const uint8_t *)"\r\n", 2);
    xSemaphoreGiveRecursive(g.link_lock);
}

void rt_esp_init(void) {
    g.link_lock = xSemaphoreCreateRecursiveMutex();
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    usb_serial_jtag_driver_config_t cfg = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    cfg.rx_buffer_size = RX_BUFFER;
    ESP_ERROR_CHECK(usb_serial_jtag_driver_install(&cfg));
#else
    ESP_ERROR_CHECK(uart_driver_install(RT_UART, RX_BUFFER, 0, 0, NULL, 0));
#endif
    esp_log_set_vprintf(log_vprintf);
    ESP_ERROR_CHECK(esp_task_wdt_add(NULL));
}

/* ---- storage ---- */

const uint8_t *rt_esp_storage_map(uint32_t *size) {
    g.storage = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY,
                                         RT_DATA_PARTITION_NAME);
    if (g.storage == NULL) return NULL;
    const void *base = NULL;
    if (esp_partition_mmap(g.storage, 0, g.storage->size, ESP_PARTITION_MMAP_DATA, &base,
                           &g.storage_map) != ESP_OK) {
        return NULL;
    }
    *size = (uint32_t)g.storage->size;
    return (const uint8_t *)base;
}

static int storage_erase(void *ctx, uint32_t offset, uint32_t len) {
    (void)ctx;
    return esp_partition_erase_range(g.storage, offset, len) == ESP_OK ? 0 : -1;
}

static int storage_write(void *ctx, uint32_t offset, const void *data, uint32_t len) {
    (void)ctx;
    return esp_partition_write(g.storage, offset, data, len) == ESP_OK ? 0 : -1;
}

static const rt_store_flash_t k_flash = {storage_erase, storage_write, NULL};

const rt_store_flash_t *rt_esp_storage_flash(void) {
    return g.storage != NULL ? &k_flash : NULL;
}

/* ---- memory ---- */

void *rt_os_malloc(size_t size) {
    if (size > (size_t)-1 - sizeof(esp_block_t)) return NULL;
    size_t total = sizeof(esp_block_t) + size;
    esp_block_t *b = NULL;
#if CONFIG_SPIRAM
    if (size >= PSRAM_MIN_BYTES) b = heap_caps_malloc(total, MALLOC_CAP_SPIRAM | MALLOC_CAP_8BIT);
#endif
    if (b == NULL) b = heap_caps_malloc(total, MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT);
    if (b == NULL) return NULL;
    b->size = size;
    g.heap_in_use += (uint32_t)total;
    if (g.heap_in_use > g.heap_peak) g.heap_peak = g.heap_in_use;
    return b + 1;
}

void *rt_os_malloc_growable(size_t size, size_t max) {
    (void)max; /* heap_caps_realloc grows in place where the TLSF heap can */
    return rt_os_malloc(size);
}

void *rt_os_malloc_lasting(size_t size) {
    return rt_os_malloc(size);
}

void *rt_os_realloc(void *ptr, size_t size) {
    if (ptr == NULL) return rt_os_malloc(size);
    if (size > (size_t)-1 - sizeof(esp_block_t)) return NULL;
    esp_block_t *b = (esp_block_t *)ptr - 1;
    size_t old = b->size;
    /* In place where the block's heap allows it (multi_heap), else moved within the same caps. */
    esp_block_t *n = heap_caps_realloc(b, sizeof(esp_block_t) + size, MALLOC_CAP_8BIT);
    if (n == NULL) return NULL;
    n->size = size;
    g.heap_in_use = (uint32_t)(g.heap_in_use - old + size);
    if (g.heap_in_use > g.heap_peak) g.heap_peak = g.heap_in_use;
    return n + 1;
}

void rt_os_free(void *ptr) {
    if (ptr == NULL) return;
    esp_block_t *b = (esp_block_t *)ptr - 1;
    g.heap_in_use -= (uint32_t)(b->size + sizeof(esp_block_t));
    heap_caps_free(b);
}

/* ---- time, randomness, measurements ---- */

uint64_t rt_os_time_us(void) {
    return (uint64_t)esp_timer_get_time();
}

uint64_t rt_os_realtime_ns(void) {
    return (uint64_t)esp_timer_get_time() * 1000u; /* no wall clock: time since boot */
}

void rt_os_random(uint8_t *buf, size_t len) {
    esp_fill_random(buf, len);
}

uint32_t rt_os_stack_high_water(void) {
    UBaseType_t free_words = uxTaskGetStackHighWaterMark(NULL);
    return (uint32_t)(CONFIG_ESP_MAIN_TASK_STACK_SIZE - free_words * sizeof(StackType_t));
}

void rt_os_stack_reset_peak(void) {
    /* FreeRTOS keeps one high-water mark per task since it started: not resettable. */
}

uint64_t rt_os_counter(void) {
    return 0u;
}

uint8_t rt_os_counter_unit(void) {
    return RT_OS_COUNTER_NONE;
}

/* ---- call deadline ---- */

static void deadline_cb(void *arg) {
    (void)arg;
    rt_os_deadline_fn fn = g.deadline_fn;
    if (fn != NULL) fn();
}

void rt_os_deadline_arm(uint32_t ms, rt_os_deadline_fn fn) {
    if (g.deadline == NULL) {
        const esp_timer_create_args_t args = {.callback = deadline_cb, .name = "rt_deadline"};
        ESP_ERROR_CHECK(esp_timer_create(&args, &g.deadline));
    }
    g.deadline_fn = fn;
    esp_timer_stop(g.deadline);
    ESP_ERROR_CHECK(esp_timer_start_once(g.deadline, (uint64_t)ms * 1000u));
}

/* The notify flavour (an engine that stops guest code at its own safe points, WAMR): the same
 * one-shot timer; fn runs in the esp_timer task and only sets the engine's flag. */
void rt_os_deadline_notify(uint32_t ms, rt_os_deadline_fn fn) {
    rt_os_deadline_arm(ms, fn);
}

void rt_os_deadline_disarm(void) {
    if (g.deadline != NULL) esp_timer_stop(g.deadline);
    g.deadline_fn = NULL;
}

/* ---- entry ---- */

void app_main(void) {
    rt_esp_run();
}

/* ---- cooperative tasks: not yet on ESP-IDF (FreeRTOS tasks handing off through a semaphore
 * would serve); a size of 0 turns the pipeline capability off. ---- */

size_t rt_os_task_ctx_size(void) {
    return 0;
}

int rt_os_task_init(void *ctx, void *stack, size_t size, void (*entry)(void *), void *arg) {
    (void)ctx;
    (void)stack;
    (void)size;
    (void)entry;
    (void)arg;
    return -1;
}

void rt_os_task_switch(void *from, void *to, int ending) {
    (void)from;
    (void)to;
    (void)ending;
}
