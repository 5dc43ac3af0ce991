/*
 * Test device: the protocol dispatcher over stdin/stdout with the fake core (a test double of
 * the runtime core). Diagnostics go to stderr only: stdout carries frames.
 *
 * usage: proto_testdev [--storage BYTES]
 */
#define _POSIX_C_SOURCE 200809L
#include "fake_core.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    uint8_t buf[4096];
    size_t len, pos;
    bool closed;
} stdio_link_t;

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t now_ms(void *ctx) {
    (void)ctx;
    return (uint32_t)(mono_us() / 1000u);
}

static uint32_t now_us(void) {
    return (uint32_t)mono_us();
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The fake core's crash export: die the way a runtime bug would (the host must say so). */
static void crash(uint32_t how) {
    fprintf(stderr, "proto_testdev: crashing on request (%s)\n", how ? "abort" : "CPU fault");
    if (how) abort();
    __builtin_trap();
}

static int read_byte(void *ctx, uint32_t timeout_ms) {
    stdio_link_t *l = ctx;
    if (l->pos < l->len) return l->buf[l->pos++];
    if (l->closed) return PROTO_IO_CLOSED;
    struct pollfd p = {0, POLLIN, 0};
    int r = poll(&p, 1, (int)timeout_ms);
    if (r == 0) return PROTO_IO_TIMEOUT;
    if (r < 0) return errno == EINTR ? PROTO_IO_TIMEOUT : PROTO_IO_CLOSED;
    ssize_t n = read(0, l->buf, sizeof l->buf);
    if (n <= 0) {
        if (n < 0 && errno == EINTR) return PROTO_IO_TIMEOUT;
        l->closed = true;
        return PROTO_IO_CLOSED;
    }
    l->len = (size_t)n;
    l->pos = 1;
    return l->buf[0];
}

static int write_all(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    while (len > 0) {
        ssize_t n = write(1, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    uint32_t storage = 65536;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--storage") == 0 && i + 1 < argc) {
            storage = (uint32_t)strtoul(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: %s [--storage BYTES]\n", argv[0]);
            return 2;
        }
    }
    static stdio_link_t link;
    static fake_core_t core;
    static proto_device_t dev;
    fake_core_init(&core, storage);
    core.now_us = now_us;
    core.sleep_ms = sleep_ms;
    core.crash = crash;
    proto_io_t io = {&link, read_byte, write_all, now_ms};
    proto_device_init(&dev, &io, &fake_core_handlers, &core);
    fprintf(stderr, "proto_testdev: ready, storage %lu bytes, max payload %u\n",
            (unsigned long)storage, (unsigned)PROTO_MAX_PAYLOAD);
    proto_device_run(&dev);
    fprintf(stderr,
            "proto_testdev: link closed; frames ok %lu, bad crc %lu, bad frame %lu, "
            "timeouts %lu, duplicates %lu\n",
            (unsigned long)dev.counters.frames_ok, (unsigned long)dev.counters.bad_crc,
            (unsigned long)dev.counters.bad_frame, (unsigned long)dev.counters.timeouts,
            (unsigned long)dev.counters.duplicates);
    fake_core_free(&core);
    return 0;
}
