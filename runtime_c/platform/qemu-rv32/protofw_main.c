/*
 * Protocol bring-up firmware for the qemu-rv32 port: the device protocol dispatcher over the
 * UART with the protocol's test double of the core (runtime_c/proto/test/fake_core.c). Used by
 * the port's own tests (link faults, QEMU launcher) independently of the wasm engine.
 */
#include "fake_core.h"
#include "qrv.h"
#include "rt_platform.h"

#include <stdlib.h>

static int link_read(void *ctx, uint32_t timeout_ms) {
    (void)ctx;
    int c = rt_os_read_byte(timeout_ms);
    return c == RT_OS_READ_TIMEOUT ? PROTO_IO_TIMEOUT : c;
}

static int link_write(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    return rt_os_write(data, len);
}

static uint32_t link_now_ms(void *ctx) {
    (void)ctx;
    return (uint32_t)(rt_os_time_us() / 1000u);
}

static uint32_t now_us(void) {
    return (uint32_t)rt_os_time_us();
}

static void sleep_ms(uint32_t ms) {
    uint64_t end = rt_os_time_us() + (uint64_t)ms * 1000u;
    while (rt_os_time_us() < end) {
    }
}

/* The fake core's crash export: a CPU fault (ebreak: the fatal trap handler, exit 3) or
 * abort() (exit 128 + SIGABRT). This firmware is test-only; the runtime firmware has no such
 * path. */
static void crash(uint32_t how) {
    if (how) abort();
    __builtin_trap();
}

static fake_core_t core;
static proto_device_t dev;

int main(void) {
    qrv_init();
    fake_core_init(&core, 64u * 1024u);
    core.now_us = now_us;
    core.sleep_ms = sleep_ms;
    core.crash = crash;
    const proto_io_t io = {NULL, link_read, link_write, link_now_ms};
    proto_device_init(&dev, &io, &fake_core_handlers, &core);
    proto_device_run(&dev);
    qrv_exit(0);
}
