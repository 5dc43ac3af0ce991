/* esp_timer.h for building esp-tflite-micro's ESP-NN kernels off ESP-IDF: they only time
 * themselves into unused counters, so the clock reads 0. */
#ifndef RT_TFLM_PORT_ESP_TIMER_H
#define RT_TFLM_PORT_ESP_TIMER_H

#include <stdint.h>

static inline int64_t esp_timer_get_time(void) {
    return 0;
}

#endif
