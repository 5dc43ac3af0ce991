/* nn_compare: the built-in backend (nnb API) and the tflm backend (rt_nn.h seam) in one process,
 * on the runtime's accounted heap (core/rt_mem.c). Used by the tests and the benchmark.
 *
 *   nn_compare run MODEL INPUTS OUT_BUILTIN OUT_TFLM [REPEAT]
 *       INPUTS: every graph input's bytes, concatenated. Runs both backends (REPEAT timed
 *       invokes each, inputs set before every invoke), writes each backend's outputs
 *       (concatenated) and prints one JSON line: per backend the status, the best and median
 *       ns per invoke, and the heap bytes one execution context costs.
 *   nn_compare sweep MODEL POSITIONS
 *       For every byte position in POSITIONS (text, one decimal number a line): flips that byte
 *       of the model (xor 0xFF), loads the model with the tflm backend and,
 *       when that succeeds, creates a context and invokes it on zero inputs. Prints one JSON
 *       line with the count of each status (and each failure on stderr). A crash is the
 *       failure this looks for.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnb.h"
#include "rt_nn.h"

/* Platform seam (rt_platform.h) for the accounted heap: the C library. */
void *rt_os_malloc(size_t size) {
    return malloc(size);
}
void *rt_os_malloc_growable(size_t size, size_t max) {
    (void)max;
    return rt_os_malloc(size);
}
void *rt_os_malloc_lasting(size_t size) {
    return rt_os_malloc(size);
}
void *rt_os_realloc(void *p, size_t size) {
    return realloc(p, size);
}
void rt_os_free(void *p) {
    free(p);
}
void rt_os_log(const char *line) {
    fprintf(stderr, "%s\n", line);
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = (uint8_t *)rt_malloc(n > 0 ? (size_t)n : 1u);
    if (buf != NULL && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        rt_free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    size_t w = fwrite(data, 1, len, f);
    fclose(f);
    return w == len ? 0 : -1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *status;
    char msg[RT_MSG_MAX];
    uint64_t best_ns, median_ns;
    size_t ctx_bytes;
    uint8_t *out;
    size_t out_len;
} result_t;

static void timing(result_t *r, uint64_t *ns, int repeat) {
    qsort(ns, (size_t)repeat, sizeof ns[0], cmp_u64);
    r->best_ns = ns[0];
    r->median_ns = ns[repeat / 2];
}

static void run_builtin(const uint8_t *model, size_t len, const uint8_t *in, size_t in_len,
                        int repeat, uint64_t *ns, result_t *r) {
    nnb_error_t err = {""};
    nnb_model_t *m = (nnb_model_t *)rt_malloc(sizeof *m);
    nnb_interp_t it;
    r->status = "ok";
    nnb_status_t s = nnb_model_parse(m, model, len, &err);
    size_t before = rt_mem_in_use();
    void *arena = s == NNB_OK ? rt_malloc(nnb_arena_required(m)) : NULL;
    if (s == NNB_OK) s = nnb_interp_init(&it, m, arena, nnb_arena_required(m), &err);
    r->ctx_bytes = rt_mem_in_use() - before + sizeof it;
    for (int k = 0; s == NNB_OK && k < repeat; k++) {
        size_t at = 0;
        for (uint32_t i = 0; s == NNB_OK && i < nnb_input_count(m); i++) {
            nnb_tensor_info_t info;
            nnb_input_info(m, i, &info);
            if (at + info.bytes > in_len) {
                s = NNB_INVALID_ARGUMENT;
                rt_fmt(err.msg, sizeof err.msg, "input file too short");
                break;
            }
            memcpy(nnb_input_data(&it, i), in + at, info.bytes);
            at += info.bytes;
        }
        uint64_t t0 = now_ns();
        if (s == NNB_OK) s = nnb_invoke(&it, &err);
        ns[k] = now_ns() - t0;
    }
    if (s != NNB_OK) {
        r->status = nnb_status_name(s);
        rt_fmt(r->msg, sizeof r->msg, "%s", err.msg);
    } else {
        timing(r, ns, repeat);
        for (uint32_t o = 0; o < nnb_output_count(m); o++) {
            nnb_tensor_info_t info;
            nnb_output_info(m, o, &info);
            r->out = (uint8_t *)rt_realloc(r->out, r->out_len + info.bytes);
            memcpy(r->out + r->out_len, nnb_output_data(&it, o), info.bytes);
            r->out_len += info.bytes;
        }
    }
    rt_free(arena);
    rt_free(m);
}

static const char *const kNames[] = {
    "ok",       "invalid_argument", "invalid_encoding",      "missing_memory",
    "busy",     "runtime_error",    "unsupported_operation", "too_large",
    "not_found"};

/* Loads, makes a context, sets inputs (from `in`, or zeros when in == NULL) and invokes
 * `repeat` times through the rt_nn.h seam. Returns the wasi-nn status. */
static uint32_t run_seam(const uint8_t *model, size_t len, const uint8_t *in, size_t in_len,
                         int repeat, uint64_t *ns, result_t *r) {
    rt_nn_graph_t *g = NULL;
    rt_nn_ctx_t *c = NULL;
    r->msg[0] = '\0';
    uint32_t s = rt_nn_graph_load(model, len, &g, r->msg, sizeof r->msg);
    size_t before = rt_mem_in_use();
    if (s == RT_NN_SUCCESS) s = rt_nn_ctx_init(g, &c, r->msg, sizeof r->msg);
    r->ctx_bytes = rt_mem_in_use() - before;
    for (int k = 0; s == RT_NN_SUCCESS && k < repeat; k++) {
        size_t at = 0;
        for (uint32_t i = 0; s == RT_NN_SUCCESS && i < rt_nn_io_count(g, 0); i++) {
            rt_nn_tensor_info_t info;
            rt_nn_io_info(g, 0, i, &info);
            uint8_t *dst = (uint8_t *)rt_nn_input_buf(c, i);
            if (in == NULL) {
                memset(dst, 0, info.bytes);
            } else if (at + info.bytes > in_len) {
                s = RT_NN_INVALID_ARGUMENT;
                rt_fmt(r->msg, sizeof r->msg, "input file too short");
            } else {
                memcpy(dst, in + at, info.bytes);
            }
            at += info.bytes;
        }
        uint64_t t0 = now_ns();
        if (s == RT_NN_SUCCESS) s = rt_nn_invoke(c, r->msg, sizeof r->msg);
        if (ns != NULL) ns[k] = now_ns() - t0;
    }
    r->status = s < sizeof kNames / sizeof kNames[0] ? kNames[s] : "?";
    if (s == RT_NN_SUCCESS && ns != NULL) {
        timing(r, ns, repeat);
        for (uint32_t o = 0; o < rt_nn_io_count(g, 1); o++) {
            rt_nn_tensor_info_t info;
            rt_nn_io_info(g, 1, o, &info);
            r->out = (uint8_t *)rt_realloc(r->out, r->out_len + info.bytes);
            memcpy(r->out + r->out_len, rt_nn_output_buf(c, o), info.bytes);
            r->out_len += info.bytes;
        }
    }
    rt_nn_ctx_free(c);
    rt_nn_graph_free(g);
    return s;
}

static void print_json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar((unsigned char)*s < 0x20 ? ' ' : *s);
    }
    putchar('"');
}

static void print_result(const char *name, const result_t *r) {
    printf("\"%s\": {\"status\": \"%s\", \"message\": ", name, r->status);
    print_json_str(r->msg);
    printf(", \"best_ns\": %llu, \"median_ns\": %llu, \"ctx_bytes\": %lu}",
           (unsigned long long)r->best_ns, (unsigned long long)r->median_ns,
           (unsigned long)r->ctx_bytes);
}

static int cmd_run(int argc, char **argv) {
    size_t len = 0, in_len = 0;
    uint8_t *model = read_file(argv[2], &len);
    uint8_t *in = read_file(argv[3], &in_len);
    int repeat = argc > 6 ? atoi(argv[6]) : 1;
    if (model == NULL || in == NULL || repeat < 1) {
        fprintf(stderr, "nn_compare: cannot read %s or %s\n", argv[2], argv[3]);
        return 2;
    }
    uint64_t *ns = (uint64_t *)rt_malloc(sizeof(uint64_t) * (size_t)repeat);
    result_t b, t;
    memset(&b, 0, sizeof b);
    memset(&t, 0, sizeof t);
    run_builtin(model, len, in, in_len, repeat, ns, &b);
    run_seam(model, len, in, in_len, repeat, ns, &t);
    int rc = 0;
    if (b.out != NULL && write_file(argv[4], b.out, b.out_len) != 0) rc = 2;
    if (t.out != NULL && write_file(argv[5], t.out, t.out_len) != 0) rc = 2;
    printf("{\"backend\": \"%s\", ", rt_nn_backend_name());
    print_result("builtin", &b);
    printf(", ");
    print_result("tflm", &t);
    printf("}\n");
    rt_free(b.out);
    rt_free(t.out);
    rt_free(ns);
    rt_free(in);
    rt_free(model);
    return rc;
}

static int cmd_sweep(char **argv) {
    size_t len = 0;
    uint8_t *model = read_file(argv[2], &len);
    FILE *positions = fopen(argv[3], "r");
    if (model == NULL || positions == NULL) {
        fprintf(stderr, "nn_compare: cannot read %s or %s\n", argv[2], argv[3]);
        return 2;
    }
    unsigned long counts[sizeof kNames / sizeof kNames[0] + 1];
    memset(counts, 0, sizeof counts);
    unsigned long leaked = 0, flips = 0, pos = 0;
    while (fscanf(positions, "%lu", &pos) == 1) {
        if (pos >= len) continue;
        result_t r;
        memset(&r, 0, sizeof r);
        size_t before = rt_mem_in_use();
        model[pos] ^= 0xFFu;
        uint32_t s = run_seam(model, len, NULL, 0, 1, NULL, &r);
        model[pos] ^= 0xFFu;
        flips++;
        if (rt_mem_in_use() != before) leaked++;
        if (s != RT_NN_SUCCESS) fprintf(stderr, "flip %lu: %s: %s\n", pos, r.status, r.msg);
        counts[s < sizeof kNames / sizeof kNames[0] ? s : sizeof kNames / sizeof kNames[0]]++;
    }
    fclose(positions);
    printf("{\"bytes\": %lu, \"flips\": %lu, \"leaks\": %lu", (unsigned long)len, flips, leaked);
    for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; i++)
        printf(", \"%s\": %lu", kNames[i], counts[i]);
    printf("}\n");
    rt_free(model);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 6 && strcmp(argv[1], "run") == 0) return cmd_run(argc, argv);
    if (argc == 4 && strcmp(argv[1], "sweep") == 0) return cmd_sweep(argv);
    fprintf(stderr, "usage: nn_compare run MODEL INPUTS OUT_BUILTIN OUT_TFLM [REPEAT]\n"
                    "       nn_compare sweep MODEL POSITIONS\n");
    return 2;
}
