/* nnb_check: command-line driver of the nnb backend, for tests (host only).
 *
 *   nnb_check [--invoke] [--max-macs N] FILE...
 *
 * For each model file: parse, and with --invoke also init an arena of exactly
 * nnb_arena_required bytes, fill the inputs with a fixed pattern and invoke. Prints one line
 * per file: "<stage> <status> <arena bytes> <message>" (stage: parse, init, invoke, done).
 * Each model is copied into a buffer of exactly its size, so an out-of-bounds read is caught
 * by AddressSanitizer. Exit status 0 unless a file cannot be read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnb.h"

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = (unsigned char *)malloc(n > 0 ? (size_t)n : 1u);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    int invoke = 0, i, rc = 0;
    unsigned long long max_macs = 0;
    static nnb_model_t model;
    for (i = 1; i < argc; ++i) {
        size_t len = 0, need;
        unsigned char *buf;
        nnb_error_t err;
        nnb_status_t st;
        if (strcmp(argv[i], "--invoke") == 0) {
            invoke = 1;
            continue;
        }
        if (strcmp(argv[i], "--max-macs") == 0 && i + 1 < argc) {
            max_macs = strtoull(argv[++i], NULL, 10);
            continue;
        }
        buf = read_file(argv[i], &len);
        if (!buf) {
            fprintf(stderr, "nnb_check: cannot read %s\n", argv[i]);
            rc = 2;
            continue;
        }
        st = nnb_model_parse(&model, buf, len, &err);
        if (st != NNB_OK) {
            printf("parse %s 0 %s\n", nnb_status_name(st), err.msg);
        } else if (!invoke || (max_macs && nnb_model_macs(&model) > max_macs)) {
            printf("done ok %u parsed\n", (unsigned)nnb_arena_required(&model));
        } else {
            nnb_interp_t it;
            unsigned char *arena;
            uint32_t k;
            need = nnb_arena_required(&model);
            arena = (unsigned char *)malloc(need ? need : 1u);
            st = nnb_interp_init(&it, &model, arena, need, &err);
            if (st != NNB_OK) {
                printf("init %s %u %s\n", nnb_status_name(st), (unsigned)need, err.msg);
            } else {
                for (k = 0; k < nnb_input_count(&model); ++k) {
                    nnb_tensor_info_t info;
                    unsigned char *p = (unsigned char *)nnb_input_data(&it, k);
                    size_t b;
                    if (nnb_input_info(&model, k, &info) != NNB_OK || !p) continue;
                    for (b = 0; b < info.bytes; ++b)
                        p[b] = (unsigned char)(b * 37u + 11u);
                }
                st = nnb_invoke(&it, &err);
                if (st != NNB_OK)
                    printf("invoke %s %u %s\n", nnb_status_name(st), (unsigned)need, err.msg);
                else
                    printf("done ok %u invoked\n", (unsigned)need);
            }
            free(arena);
        }
        free(buf);
    }
    return rc;
}
