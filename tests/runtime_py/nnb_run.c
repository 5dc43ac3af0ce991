/* nnb_run: runs one inference through the libnnb shared library it is linked against (the
 * runtime wheel's prebuilt one), for tests/runtime_py/test_nnb_aarch64.py.
 *
 *   nnb_run MODEL INPUT   (INPUT: the raw bytes of input 0)
 *
 * Prints output 0 as lowercase hex on one line; exit 1 with a message on any error. */
#include <stdio.h>
#include <stdlib.h>

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
    static nnb_model_t model;
    static nnb_interp_t it;
    nnb_error_t err;
    nnb_tensor_info_t info;
    size_t model_len = 0, input_len = 0, need, i, written = 0;
    unsigned char *model_buf, *input, *arena, *out;
    if (argc != 3) {
        fprintf(stderr, "usage: nnb_run MODEL INPUT\n");
        return 1;
    }
    model_buf = read_file(argv[1], &model_len);
    input = read_file(argv[2], &input_len);
    if (!model_buf || !input) {
        fprintf(stderr, "nnb_run: cannot read the model or the input\n");
        return 1;
    }
    if (nnb_model_parse(&model, model_buf, model_len, &err) != NNB_OK) {
        fprintf(stderr, "nnb_run: parse: %s\n", err.msg);
        return 1;
    }
    need = nnb_arena_required(&model);
    arena = (unsigned char *)malloc(need ? need : 1u);
    if (!arena || nnb_interp_init(&it, &model, arena, need, &err) != NNB_OK ||
        nnb_set_input(&it, 0, input, input_len, &err) != NNB_OK ||
        nnb_invoke(&it, &err) != NNB_OK || nnb_output_info(&model, 0, &info) != NNB_OK) {
        fprintf(stderr, "nnb_run: %s\n", arena ? err.msg : "out of memory");
        return 1;
    }
    out = (unsigned char *)malloc(info.bytes ? info.bytes : 1u);
    if (!out || nnb_get_output(&it, 0, out, info.bytes, &written, &err) != NNB_OK) {
        fprintf(stderr, "nnb_run: output: %s\n", out ? err.msg : "out of memory");
        return 1;
    }
    for (i = 0; i < written; ++i)
        printf("%02x", out[i]);
    printf("\n");
    free(out);
    free(arena);
    free(input);
    free(model_buf);
    return 0;
}
