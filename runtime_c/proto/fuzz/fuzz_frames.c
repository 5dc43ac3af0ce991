/*
 * libFuzzer harness: arbitrary bytes -> frame decoder -> dispatcher -> fake core.
 *
 * Build and run for a long time (from the repository root):
 *   cmake -S runtime_c/proto -B build/proto-fuzz -DCMAKE_C_COMPILER=clang-19 -DPROTO_FUZZ=ON
 *   cmake --build build/proto-fuzz --target fuzz_frames
 *   mkdir -p build/proto-fuzz/corpus
 *   build/proto-fuzz/fuzz_frames build/proto-fuzz/corpus tests/corpus/frames \
 *       -max_total_time=3600 -jobs=2
 * The pytest (tests/protocol/test_fuzz.py) runs it for 20 s.
 *
 * The input is split in two: the first byte selects how many bytes are fed before a RESET-like
 * re-initialisation, so state carried across frames (uploads, cache, instances) is exercised.
 * Every frame needs a valid CRC to reach the dispatcher, so the corpus holds valid frames.
 */
#include "../test/fake_core.h"

#include <string.h>

static uint32_t fake_ms;

static int no_read(void *ctx, uint32_t timeout_ms) {
    (void)ctx;
    (void)timeout_ms;
    return PROTO_IO_CLOSED;
}

static int check_write(void *ctx, const uint8_t *data, size_t len) {
    /* Every response must itself be a well-formed frame of at most PROTO_MAX_ENCODED bytes. */
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
    return 0;
}

static uint32_t clock_ms(void *ctx) {
    (void)ctx;
    return fake_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fake_core_t core;
    static proto_device_t dev;
    static proto_decoder_t reply;
    fake_core_init(&core, 4096);
    proto_decoder_reset(&reply);
    proto_io_t io = {&reply, no_read, check_write, clock_ms};
    proto_device_init(&dev, &io, &fake_core_handlers, &core);
    proto_device_feed(&dev, data, size);
    fake_core_free(&core);
    return 0;
}
