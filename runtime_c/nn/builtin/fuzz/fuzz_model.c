/* libFuzzer harness for the nnb backend: parse + plan + init + invoke with a fixed arena.
 *
 * Build (clang-19, from the repository root):
 *   clang-19 -std=c99 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Iruntime_c/nn/builtin runtime_c/nn/builtin/fuzz/fuzz_model.c runtime_c/nn/builtin/nnb_*.c \
 *     -o build/fuzz_model
 * Long run (seeds in tests/corpus/model, new inputs kept in a scratch corpus):
 *   mkdir -p build/fuzz-corpus && build/fuzz_model -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
 *     -jobs=2 -workers=2 build/fuzz-corpus tests/corpus/model
 * The pytest (tests/nn_builtin/test_fuzz.py) runs it for a bounded time on every CI run.
 *
 * Invariants checked beyond "no crash, no sanitizer report": a model that parses must
 * initialise in nnb_arena_required bytes, and invoke must succeed. Models whose work estimate
 * is above FUZZ_MAX_MACS are parsed and initialised but not invoked (keeps iterations fast). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnb.h"

#define FUZZ_ARENA (96u * 1024u)
#define FUZZ_MAX_MACS 2000000u

static nnb_model_t model;
static nnb_interp_t interp;
static uint64_t arena_words[FUZZ_ARENA / 8u];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nnb_error_t err;
    nnb_status_t st;
    size_t need;
    uint32_t i;
    st = nnb_model_parse(&model, data, size, &err);
    if (st != NNB_OK) {
        if (err.msg[0] == '\0') abort(); /* every failure says why */
        return 0;
    }
    need = nnb_arena_required(&model);
    if (need > FUZZ_ARENA) {
        /* too small an arena must be refused cleanly */
        if (nnb_interp_init(&interp, &model, arena_words, FUZZ_ARENA, &err) != NNB_TOO_LARGE)
            abort();
        return 0;
    }
    if (need > 0 && nnb_interp_init(&interp, &model, arena_words, need - 1, &err) != NNB_TOO_LARGE)
        abort();
    if (nnb_interp_init(&interp, &model, arena_words, need, &err) != NNB_OK) abort();
    for (i = 0; i < nnb_input_count(&model); ++i) {
        nnb_tensor_info_t info;
        uint8_t *p = (uint8_t *)nnb_input_data(&interp, i);
        if (nnb_input_info(&model, i, &info) != NNB_OK || !p) abort();
        memset(p, (int)(0x5a + i), info.bytes);
        if (info.type == NNB_TYPE_FLOAT32 && info.bytes >= 4) {
            const float specials[1] = {1e30f};
            memcpy(p, specials, sizeof specials);
        }
    }
    if (nnb_model_macs(&model) > FUZZ_MAX_MACS) return 0;
    if (nnb_invoke(&interp, &err) != NNB_OK) abort();
    for (i = 0; i < nnb_output_count(&model); ++i)
        if (!nnb_output_data(&interp, i)) abort();
    return 0;
}
