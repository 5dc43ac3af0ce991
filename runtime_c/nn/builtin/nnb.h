/*
 * nnb: the built-in int8 NN backend of the C micro-runtime.
 *
 * Runs int8 TFLite models with the numerics of TensorFlow Lite Micro's reference kernels
 * (bit-exact), in portable C99, with no heap allocation at all.
 *
 * Life cycle (maps onto wasi-nn: graph = nnb_model_t, execution context = nnb_interp_t):
 *
 *     nnb_model_t model;                      // fixed size; may be static
 *     nnb_error_t err;
 *     if (nnb_model_parse(&model, buf, len, &err) != NNB_OK) { ... err.msg ... }
 *     size_t need = nnb_arena_required(&model);
 *     nnb_interp_t it;                        // fixed size; one per execution context
 *     nnb_interp_init(&it, &model, arena, arena_size, &err);  // arena: caller's memory
 *     nnb_set_input(&it, 0, data, n, &err);   // or write to nnb_input_data(&it, 0)
 *     nnb_invoke(&it, &err);
 *     nnb_get_output(&it, 0, out, cap, &written, &err);
 *
 * - The model buffer is read in place (it may live in read-only flash) and must outlive the
 *   model and every interpreter made from it. It is never written. Any alignment works.
 * - nnb_model_parse validates the whole flatbuffer (every offset, vtable and vector length),
 *   every operator (supported, tensor types, shapes, parameters) and computes the static memory
 *   plan. A malformed model gives NNB_INVALID_ENCODING, an unsupported operator or tensor type
 *   NNB_UNSUPPORTED ("unsupported operator TANH (28)"). Nothing is read out of bounds.
 * - An interpreter keeps all its state in the caller's arena (operator records, per-channel
 *   multipliers, lookup tables, activations). Several interpreters of one model are
 *   independent. Nothing is allocated during nnb_invoke.
 * - Not thread-safe per interpreter; distinct interpreters may run concurrently.
 *
 * Status codes map to wasi-nn errors: INVALID_ENCODING -> invalid_encoding, UNSUPPORTED ->
 * unsupported_operation, TOO_LARGE -> too_large, INVALID_ARGUMENT -> invalid_argument,
 * RUNTIME -> runtime_error.
 */
#ifndef NNB_H
#define NNB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time limits (override with -D). They bound the fixed-size structs below. */
#ifndef NNB_MAX_TENSORS
#define NNB_MAX_TENSORS 256 /* tensors in the executed subgraph */
#endif
#ifndef NNB_MAX_OPS
#define NNB_MAX_OPS 256 /* operators in the executed subgraph */
#endif
#ifndef NNB_MAX_IO
#define NNB_MAX_IO 8 /* graph inputs, and graph outputs */
#endif
#define NNB_MAX_DIMS 6
#define NNB_ERROR_LEN 96

typedef enum {
    NNB_OK = 0,
    NNB_INVALID_ENCODING = 1, /* not a valid TFLite flatbuffer / inconsistent model */
    NNB_UNSUPPORTED = 2,      /* operator, tensor type or parameter this backend lacks */
    NNB_TOO_LARGE = 3,        /* arena (or a fixed limit) too small: message says how much */
    NNB_INVALID_ARGUMENT = 4, /* bad index, size or pointer from the caller */
    NNB_RUNTIME = 5           /* failure during nnb_invoke */
} nnb_status_t;

/* Tensor element types, numbered as TFLite's TensorType. */
typedef enum {
    NNB_TYPE_FLOAT32 = 0,
    NNB_TYPE_INT32 = 2,
    NNB_TYPE_UINT8 = 3,
    NNB_TYPE_INT8 = 9
} nnb_type_t;

typedef struct {
    char msg[NNB_ERROR_LEN]; /* NUL-terminated, short reason; "" on success */
} nnb_error_t;

typedef struct {
    int32_t type; /* nnb_type_t */
    uint32_t rank;
    int32_t dims[NNB_MAX_DIMS];
    float scale;        /* 0 when not quantized */
    int32_t zero_point; /* 0 when not quantized */
    size_t bytes;       /* element count * element size */
} nnb_tensor_info_t;

/* A parsed model (a wasi-nn graph). Treat as opaque. */
typedef struct {
    const uint8_t *buf;
    uint32_t len;
    uint32_t n_tensors, n_ops, n_inputs, n_outputs;
    uint32_t tensors_vec, ops_vec, opcodes_vec, buffers_vec; /* vector element positions */
    uint32_t n_opcodes, n_buffers;
    uint16_t inputs[NNB_MAX_IO], outputs[NNB_MAX_IO];
    uint32_t persistent_bytes; /* operator records, per-channel data, tables */
    uint32_t activation_bytes; /* planned activation region */
    uint64_t macs;             /* work per invoke: multiply-accumulates + element operations */
    uint32_t tensor_offset[NNB_MAX_TENSORS]; /* activation offset, or NNB_CONST_OFFSET */
    uint32_t tensor_bytes[NNB_MAX_TENSORS];  /* byte size (0: unused or unknown type) */
    uint16_t t_first[NNB_MAX_TENSORS];       /* planning: first op writing/reading it */
    uint16_t t_last[NNB_MAX_TENSORS];        /* planning: last op reading it */
    uint16_t t_owner[NNB_MAX_TENSORS];       /* planning: tensor whose buffer it shares */
} nnb_model_t;

#define NNB_CONST_OFFSET 0xFFFFFFFFu

/* An interpreter (a wasi-nn execution context). Treat as opaque. */
typedef struct {
    const nnb_model_t *model;
    uint8_t *arena;       /* caller's memory, aligned up */
    uint8_t *activations; /* start of the activation region inside the arena */
    void *ops;            /* operator records inside the arena */
    uint32_t n_ops;
    uint32_t invoked; /* 1 after a successful nnb_invoke */
} nnb_interp_t;

/* Parse and validate `buf` (len bytes); fills *m. err may be NULL. */
nnb_status_t nnb_model_parse(nnb_model_t *m, const uint8_t *buf, size_t len, nnb_error_t *err);

/* Arena bytes nnb_interp_init needs for this model (includes alignment slack). */
size_t nnb_arena_required(const nnb_model_t *m);
/* The parts of it: planned activations, and persistent per-operator data. */
size_t nnb_arena_activation_bytes(const nnb_model_t *m);
size_t nnb_arena_persistent_bytes(const nnb_model_t *m);

/* Work per nnb_invoke (multiply-accumulates plus element operations): a cost estimate, e.g.
 * to refuse models too slow for a time budget before running them. */
uint64_t nnb_model_macs(const nnb_model_t *m);

uint32_t nnb_input_count(const nnb_model_t *m);
uint32_t nnb_output_count(const nnb_model_t *m);
nnb_status_t nnb_input_info(const nnb_model_t *m, uint32_t index, nnb_tensor_info_t *info);
nnb_status_t nnb_output_info(const nnb_model_t *m, uint32_t index, nnb_tensor_info_t *info);

/* Build an interpreter in `arena` (any alignment). NNB_TOO_LARGE names the bytes needed. */
nnb_status_t nnb_interp_init(nnb_interp_t *it, const nnb_model_t *m, void *arena, size_t arena_size,
                             nnb_error_t *err);

/* Direct access to a graph input/output buffer inside the arena (NULL for a bad index).
 * Input buffers may be overwritten by nnb_invoke: set inputs again before each invoke. */
void *nnb_input_data(nnb_interp_t *it, uint32_t index);
const void *nnb_output_data(const nnb_interp_t *it, uint32_t index);

/* Copy helpers: len must equal the tensor's byte size. */
nnb_status_t nnb_set_input(nnb_interp_t *it, uint32_t index, const void *data, size_t len,
                           nnb_error_t *err);
nnb_status_t nnb_get_output(const nnb_interp_t *it, uint32_t index, void *dst, size_t cap,
                            size_t *written, nnb_error_t *err);

/* Run all operators. Allocates nothing; uses only the arena and a small stack. */
nnb_status_t nnb_invoke(nnb_interp_t *it, nnb_error_t *err);

/* "ok", "invalid_encoding", "unsupported_operation", "too_large", "invalid_argument",
 * "runtime_error" (the wasi-nn names). */
const char *nnb_status_name(nnb_status_t s);

/* Sizes of the structs, for bindings that allocate them opaquely (Python ctypes). */
size_t nnb_model_struct_size(void);
size_t nnb_interp_struct_size(void);

#ifdef __cplusplus
}
#endif
#endif /* NNB_H */
