/*
 * rt_esp_port.h: what the portable part of the ESP-IDF port (rt_esp_port.c, rt_esp_store.c) needs
 * from ESP-IDF beyond rt_platform.h, implemented in rt_esp_os.c, the only file of the port that
 * includes ESP-IDF headers.
 */
#ifndef RT_ESP_H
#define RT_ESP_H

#include <stdint.h>

#include "rt_esp_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets up the protocol link (UART0, or USB-Serial-JTAG when that is the console) and the task
 * watchdog for the calling task. */
void rt_esp_init(void);

/* Maps the data partition (esp_partition_mmap: read in place through the flash cache) and
 * returns its base and size; NULL when the partition table has none. */
const uint8_t *rt_esp_storage_map(uint32_t *size);

/* Erase/write callbacks on the data partition (esp_partition_erase_range/_write). */
const rt_store_flash_t *rt_esp_storage_flash(void);

/* Stores an upload the core has verified in the data partition (content-addressed: an
 * identical stored item is not written again) and returns where it is mapped, so it survives a
 * reset and is used in place (rt_esp_port.c). RT_ERR_UNSUPPORTED without a data partition. */
rt_status_t rt_esp_persist(const rt_item_t *item, const uint8_t *data, const uint8_t **mapped);

/* Runs the runtime on the calling task; never returns (rt_esp_port.c). */
void rt_esp_run(void);

#ifdef __cplusplus
}
#endif

#endif /* RT_ESP_H */
