/* nnb_prof: instructions per operator of the nnb kernels on bare-metal rv32 under QEMU, for
 * kernel work (bench_qemu.py measures the whole firmware; this isolates each operator).
 *
 *   riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 --specs=picolibc.specs -O2 -std=c99 \
 *     -Iruntime_c/nn/builtin runtime_c/nn/builtin/nnb_*.c runtime_c/nn/builtin/tools/nnb_prof.c \
 *     --oslib=semihost -Wl,--defsym=__flash=0x80000000,--defsym=__flash_size=0x200000 \
 *     -Wl,--defsym=__ram=0x80200000,--defsym=__ram_size=0x1e00000,--defsym=__stack_size=0x10000 \
 *     -o build/nnb_prof.elf
 *   cp MODEL.tflite model.tflite   # picolibc's semihosting passes no argv: a fixed name
 *   qemu-system-riscv32 -M virt -bios none -nographic -monitor none -serial none \
 *     -icount shift=0 -semihosting-config enable=on,target=native -kernel build/nnb_prof.elf
 *
 * The kernels are compiled at -O2 in the firmware too (component.cmake), so their counts are
 * the firmware's. Parses the model, inits an arena of exactly nnb_arena_required bytes, fills
 * the inputs with a fixed pattern, invokes once (whole graph, counted), then once more operator
 * by operator (inputs written again first: the plan may reuse their buffers). Prints
 * "total <n>", an FNV-1a hash of the outputs (to spot a changed result between two builds;
 * the oracle tests decide bit-exactness) and "op <i> <kind> <n> <shapes>". minstret counts
 * only with -icount. A host build (any C99 compiler, -D_POSIX_C_SOURCE=199309L) prints
 * nanoseconds instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnb_internal.h"

#if defined(__riscv)
static uint32_t instret(void) {
    uint32_t v;
    __asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstret\n.option pop"
                     : "=r"(v));
    return v;
}
#else /* a host build for quick looks: nanoseconds instead of instructions */
#include <time.h>
static uint32_t instret(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec);
}
#endif

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t cap = 1u << 16, n = 0, got;
    if (!f) return NULL;
    buf = (unsigned char *)malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = (unsigned char *)realloc(buf, cap);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void fill_inputs(nnb_interp_t *it, const nnb_model_t *m) {
    uint32_t k;
    for (k = 0; k < nnb_input_count(m); ++k) {
        nnb_tensor_info_t info;
        unsigned char *p = (unsigned char *)nnb_input_data(it, k);
        size_t b;
        if (nnb_input_info(m, k, &info) != NNB_OK || !p) continue;
        for (b = 0; b < info.bytes; ++b)
            p[b] = (unsigned char)((b * 2654435761u) >> 13);
    }
}

static const char *kind_name(int k) {
    static const char *names[] = {"?",       "conv",    "conv1x1", "dwconv", "fc",
                                  "avgpool", "maxpool", "add",     "copy",   "nop",
                                  "softmax", "lut8",    "quant",   "dequant"};
    return k >= 0 && k < (int)(sizeof names / sizeof names[0]) ? names[k] : "?";
}

int main(void) {
    static nnb_model_t model;
    nnb_error_t err;
    nnb_interp_t it, one;
    size_t len = 0, need;
    unsigned char *buf, *arena;
    uint32_t i, t0, t1, h = 2166136261u;
    const nnb_op_t *ops;
    if (!(buf = read_file("model.tflite", &len))) {
        printf("error cannot read model.tflite\n");
        exit(2);
    }
    if (nnb_model_parse(&model, buf, len, &err) != NNB_OK) {
        printf("error parse: %s\n", err.msg);
        exit(2);
    }
    need = nnb_arena_required(&model);
    arena = (unsigned char *)malloc(need);
    if (!arena || nnb_interp_init(&it, &model, arena, need, &err) != NNB_OK) {
        printf("error init: %s\n", err.msg);
        exit(2);
    }
    printf("arena %u\n", (unsigned)need);
    fill_inputs(&it, &model);
    t0 = instret();
    nnb_invoke(&it, &err);
    t1 = instret();
    printf("total %u\n", (unsigned)(t1 - t0));
    for (i = 0; i < nnb_output_count(&model); ++i) {
        nnb_tensor_info_t info;
        const unsigned char *p = (const unsigned char *)nnb_output_data(&it, i);
        size_t b;
        nnb_output_info(&model, i, &info);
        for (b = 0; b < info.bytes; ++b)
            h = (h ^ p[b]) * 16777619u;
    }
    printf("hash %08x\n", (unsigned)h);
    fill_inputs(&it, &model);
    ops = (const nnb_op_t *)it.ops;
    for (i = 0; i < it.n_ops; ++i) {
        const nnb_op_t *op = &ops[i];
        one = it;
        one.ops = (void *)(uintptr_t)op;
        one.n_ops = 1;
        t0 = instret();
        nnb_invoke(&one, &err);
        t1 = instret();
        printf("op %u %s %u in %dx%dx%d out %dx%dx%d k %dx%d s %d\n", (unsigned)i,
               kind_name(op->kind), (unsigned)(t1 - t0), (int)op->in_h, (int)op->in_w,
               (int)op->in_c, (int)op->out_h, (int)op->out_w, (int)op->out_c, (int)op->k_h,
               (int)op->k_w, (int)op->stride_h);
    }
    exit(0); /* picolibc's semihosting exit; returning from main would spin */
}
