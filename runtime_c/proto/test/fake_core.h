/*
 * Test double of the runtime core: implements proto_handlers_t in RAM so that the protocol
 * can be tested end to end without an engine. Not part of any firmware.
 *
 * Exports every instance has (args are i32):
 *   add(a, b) -> a + b            count() -> calls so far on this instance (exactly-once check)
 *   sum_mem(addr, len) -> sum     echo_mem(src, dst, len) -> len (copies inside memory)
 *   print(addr, len) -> len       (appends memory bytes to the instance's log)
 *   trap() traps                  exit(code) exits       nop() returns no value
 *   sleep_ms(ms) -> ms            (only when the platform gave a sleep function)
 *   crash(how)                    (only when the platform gave a crash function) crashes the
 *                                 device on purpose: how 0 a CPU fault, 1 abort(); for the
 *                                 tests of crash reporting
 */
#ifndef FAKE_CORE_H
#define FAKE_CORE_H

#include "proto.h"

#define FAKE_MAX_ITEMS 16
#define FAKE_MAX_INSTANCES 4
#define FAKE_MEM_SIZE 16384u
#define FAKE_LOG_SIZE 4096u

typedef struct {
    bool used;
    proto_item_t item;
    uint8_t *data;
} fake_item_t;

typedef struct {
    uint32_t id; /* 0: free slot */
    uint32_t calls;
    uint8_t mem[FAKE_MEM_SIZE];
    uint8_t log[FAKE_LOG_SIZE];
    uint32_t log_len;
} fake_instance_t;

typedef struct {
    uint32_t storage_budget, storage_used;
    fake_item_t items[FAKE_MAX_ITEMS];
    proto_item_t pending;
    uint8_t *pending_data;
    fake_instance_t *instances[FAKE_MAX_INSTANCES];
    uint32_t next_id;
    uint32_t heap_in_use, heap_high_water, last_call_us;
    uint32_t resets;
    /* optional platform hooks (NULL in the fuzzer) */
    uint32_t (*now_us)(void);
    void (*sleep_ms)(uint32_t ms);
    void (*crash)(uint32_t how);
} fake_core_t;

void fake_core_init(fake_core_t *core, uint32_t storage_budget);
void fake_core_free(fake_core_t *core);
extern const proto_handlers_t fake_core_handlers;

#endif
