/*
 * libFuzzer harness: request payloads -> the real core (rt_device.c's handler table over
 * rt_core.c, rt_pipe.c, rt_image.c, the wasm2c engine with the target's guests and EVP modules
 * compiled in, the posix platform). The frame layer is fuzzed on its own (with a fake core) by
 * runtime_c/proto/fuzz/fuzz_frames.c; here every request is framed by
 * the harness (CRC and COBS computed), so no input is wasted on framing and the mutations land
 * in the payloads the core parses (PIPE_*, ARGS, FRAME_*, PUT_*, INSTANTIATE, CALL, MEM_*).
 *
 * Input: records, each `type u8, length u16 LE, payload` (a short last record takes what is
 * left). Type 0x00 is not sent: it runs the pipeline executor's scheduler, payload[0] % 8 + 1
 * turns (the tasks of a started deployment run between requests, as in rt_serve).
 * Every request goes through proto_device_feed with its own sequence number; every response
 * must be one well-formed response frame. FUZZ_REQUESTS_TRACE=1 in the environment prints
 * every response's type, sequence number and status (to check that seeds reach the handlers).
 *
 * Per input: rt_init(), the requests, a RESET, then the invariants:
 *   - after RESET the accounted heap is back to where rt_init() left it, unless a model upload
 *     was committed (uploads survive RESET): then only less than the budget;
 *   - after rt_shutdown() nothing is left on the accounted heap.
 * A violation is __builtin_trap() (a crash libFuzzer reports, with the input).
 *
 * The posix platform's call time limit (SIGALRM from ITIMER_REAL) stays as in production: it
 * takes over the signal libFuzzer's -timeout uses, so a hang inside the core is caught by the
 * caller's wall-clock limit, not by -timeout.
 *
 * Build (cmake -DRT_APP=fuzz, clang-19) and run: see tests/runtime_c/test_fuzz_requests.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "rt_internal.h"
#include "rt_pipe.h"
#include "rt_platform.h"

static proto_decoder_t g_reply;
static proto_device_t g_dev;
static uint8_t g_wire[PROTO_MAX_ENCODED];

static int no_read(void *ctx, uint32_t timeout_ms) {
    (void)ctx;
    (void)timeout_ms;
    return PROTO_IO_CLOSED;
}

static int g_trace; /* FUZZ_REQUESTS_TRACE set: one line per response on stderr */

static int check_write(void *ctx, const uint8_t *data, size_t len) {
    /* Every response must itself be one well-formed response frame. */
    proto_decoder_t *d = ctx;
    if (len > PROTO_MAX_ENCODED) __builtin_trap();
    int frames = 0;
    for (size_t i = 0; i < len; i++) {
        proto_dec_result_t r = proto_decoder_feed(d, data[i]);
        if (r == PROTO_DEC_FRAME)
            frames++;
        else if (r != PROTO_DEC_NONE)
            __builtin_trap();
    }
    if (frames != 1 || !(d->hdr.flags & PROTO_FLAG_RESPONSE)) __builtin_trap();
    if (g_trace) {
        unsigned st = d->payload_len >= 2 ? (unsigned)(d->payload[0] | d->payload[1] << 8) : 0u;
        fprintf(stderr, "fuzz_requests: type 0x%02x seq %u status %u %.*s\n", d->hdr.type,
                d->hdr.seq, st, st != 0 && d->payload_len > 2 ? (int)d->payload_len - 2 : 0,
                (const char *)d->payload + 2);
    }
    return 0;
}

static uint32_t clock_ms(void *ctx) {
    (void)ctx;
    return (uint32_t)(rt_os_time_us() / 1000u);
}

static void send(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len) {
    proto_header_t hdr = {type, 0, seq};
    size_t n = proto_frame_encode(&hdr, payload, len, g_wire, sizeof g_wire);
    if (n == 0) __builtin_trap(); /* len <= PROTO_MAX_PAYLOAD always fits */
    proto_device_feed(&g_dev, g_wire, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_trace = getenv("FUZZ_REQUESTS_TRACE") != NULL;
    if (rt_mem_in_use() != 0) __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (rt_init() != RT_OK) __builtin_trap();
    size_t heap_start = rt_mem_in_use();
    uint32_t models_start = rt_model_count();
    proto_decoder_reset(&g_reply);
    proto_io_t io = {&g_reply, no_read, check_write, clock_ms};
    proto_device_init(&g_dev, &io, rt_device_handlers(), NULL);

    uint16_t seq = 1;
    size_t at = 0;
    while (at < size) {
        uint8_t type = data[at++];
        size_t len = 0;
        if (at + 2 <= size) {
            len = (size_t)data[at] | (size_t)data[at + 1] << 8;
            at += 2;
        } else {
            at = size;
        }
        if (len > size - at) len = size - at;
        if (len > PROTO_MAX_PAYLOAD) len = PROTO_MAX_PAYLOAD;
        if (type == 0x00) {
            unsigned turns = len > 0 ? (data[at] % 8u) + 1u : 1u;
            for (unsigned t = 0; t < turns; t++) {
                uint32_t wait_ms;
                rt_pipe_run(&wait_ms);
            }
        } else {
            send(type, seq++, data + at, len);
        }
        at += len;
    }

    send(PROTO_MSG_RESET, seq, NULL, 0);
    size_t after_reset = rt_mem_in_use();
    if (rt_model_count() == models_start ? after_reset != heap_start
                                         : after_reset > (size_t)RT_HEAP_BUDGET_BYTES) {
        fprintf(stderr, "fuzz_requests: heap after RESET %lu bytes, %lu at the start\n",
                (unsigned long)after_reset, (unsigned long)heap_start);
        __builtin_trap();
    }
    rt_shutdown();
    if (rt_mem_in_use() != 0) {
        fprintf(stderr, "fuzz_requests: %lu bytes left on the heap after rt_shutdown\n",
                (unsigned long)rt_mem_in_use());
        __builtin_trap();
    }
    return 0;
}
