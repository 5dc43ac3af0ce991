/* Internal declarations of the nnb backend: flatbuffer reader, tensor metadata, operator
 * records, fixed-point arithmetic (TFLM/gemmlowp numerics), kernels. Not installed. */
#ifndef NNB_INTERNAL_H
#define NNB_INTERNAL_H

#include "nnb.h"

#include <stdint.h>
#include <string.h>

/* ---- errors -------------------------------------------------------------------------- */

/* Formats into err->msg (if err) and returns st. Supports %s %d %u only. */
nnb_status_t nnb_fail(nnb_error_t *err, nnb_status_t st, const char *fmt, ...);
const char *nnb_op_name(int32_t code);

/* ---- flatbuffer reader (every access bounds-checked) -------------------------------- */

typedef struct {
    const uint8_t *b;
    uint32_t n;
    nnb_error_t *err;
} nnb_fb_t;

typedef struct {
    uint32_t pos;    /* table start */
    uint32_t vt;     /* vtable start */
    uint32_t vtsize; /* vtable bytes */
    uint32_t tsize;  /* table bytes */
} nnb_fbt_t;

typedef struct {
    uint32_t pos; /* first element */
    uint32_t n;   /* element count */
} nnb_fbv_t;

static inline uint32_t nnb_rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t nnb_rd_u16(const uint8_t *p) {
    return (uint16_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8));
}
static inline int32_t nnb_rd_i32(const uint8_t *p) {
    return (int32_t)nnb_rd_u32(p);
}
static inline float nnb_rd_f32(const uint8_t *p) {
    uint32_t u = nnb_rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline int64_t nnb_rd_i64(const uint8_t *p) {
    return (int64_t)((uint64_t)nnb_rd_u32(p) | ((uint64_t)nnb_rd_u32(p + 4) << 32));
}

/* All return 0 on success, -1 after writing an INVALID_ENCODING reason to fb->err. */
int nnb_fb_root(const nnb_fb_t *fb, nnb_fbt_t *t);
int nnb_fb_table_at(const nnb_fb_t *fb, uint32_t pos, nnb_fbt_t *t);
/* Absolute position of scalar field `id` of `size` bytes, or 0 when absent. */
int nnb_fb_field(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, unsigned size, uint32_t *pos);
int nnb_fb_u8(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, uint8_t def, uint8_t *out);
int nnb_fb_i32(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, int32_t def, int32_t *out);
int nnb_fb_u32(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, uint32_t def, uint32_t *out);
int nnb_fb_f32(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, float def, float *out);
int nnb_fb_u64(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, uint64_t *out);
/* Vector field (absent: n = 0); elem_size bytes per element; all elements in bounds. */
int nnb_fb_vec(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, unsigned elem_size,
               nnb_fbv_t *v);
/* Sub-table field; *present = 0 when absent. */
int nnb_fb_table(const nnb_fb_t *fb, const nnb_fbt_t *t, unsigned id, nnb_fbt_t *sub, int *present);
/* Element i (< v->n) of a vector of tables. */
int nnb_fb_vec_table(const nnb_fb_t *fb, const nnb_fbv_t *v, uint32_t i, nnb_fbt_t *t);

/* ---- TFLite schema constants ---------------------------------------------------------- */

enum {
    NNB_OP_ADD = 0,
    NNB_OP_AVERAGE_POOL_2D = 1,
    NNB_OP_CONV_2D = 3,
    NNB_OP_DEPTHWISE_CONV_2D = 4,
    NNB_OP_DEQUANTIZE = 6,
    NNB_OP_FULLY_CONNECTED = 9,
    NNB_OP_LOGISTIC = 14,
    NNB_OP_MAX_POOL_2D = 17,
    NNB_OP_RESHAPE = 22,
    NNB_OP_SOFTMAX = 25,
    NNB_OP_QUANTIZE = 114
};

enum { NNB_ACT_NONE = 0, NNB_ACT_RELU = 1, NNB_ACT_RELU_N1_TO_1 = 2, NNB_ACT_RELU6 = 3 };
enum { NNB_PAD_SAME = 0, NNB_PAD_VALID = 1 };

/* ---- tensor metadata (decoded from the flatbuffer) ---------------------------------- */

typedef struct {
    int32_t type;
    uint32_t rank;
    int32_t dims[NNB_MAX_DIMS];
    uint32_t count;      /* elements */
    uint32_t bytes;      /* 0 for a type without a known size */
    const uint8_t *data; /* constant data inside the model, or NULL */
    uint32_t data_len;
    uint32_t n_scales, scales_pos; /* float32 LE vector */
    uint32_t n_zps, zps_pos;       /* int64 LE vector */
    float scale;                   /* first scale, 0 when none */
    int32_t zero_point;            /* first zero point */
    int32_t qdim;
    uint8_t is_variable;
} nnb_tmeta_t;

uint32_t nnb_type_size(int32_t type); /* 0 when not supported */
const char *nnb_type_name(int32_t type);
nnb_status_t nnb_tensor_meta(const nnb_model_t *m, uint32_t t, nnb_tmeta_t *tm, nnb_error_t *err);

/* ---- operator records (live in the arena) -------------------------------------------- */

enum {
    NNB_K_CONV = 1,
    NNB_K_CONV_1X1, /* 1x1, stride 1, no padding, no groups */
    NNB_K_DWCONV,
    NNB_K_FC,
    NNB_K_AVGPOOL,
    NNB_K_MAXPOOL,
    NNB_K_ADD,
    NNB_K_COPY, /* RESHAPE that could not alias */
    NNB_K_NOP,  /* RESHAPE aliased in the plan */
    NNB_K_SOFTMAX,
    NNB_K_LUT8,       /* int8/uint8 -> int8/uint8 through a 256-entry table */
    NNB_K_QUANT_F32,  /* float32 -> int8/uint8 */
    NNB_K_DEQUANT_F32 /* int8/uint8 -> float32 */
};

typedef struct {
    uint8_t kind;
    uint8_t in_signed;  /* LUT8/DEQUANT: input is int8 (else uint8) */
    uint8_t out_signed; /* LUT8/QUANT: output is int8 (else uint8) */
    uint8_t bcast;      /* ADD: broadcasting */
    int32_t per_ch;     /* conv/fc: 1 per-channel multipliers, 0 one per-tensor multiplier */
    uint32_t n;         /* element count (elementwise ops) */
    const void *in0;
    const void *in1;
    void *out;
    const int8_t *w;
    const uint8_t *bias_raw; /* int32 LE bias inside the model (border pixels), or NULL */
    int32_t *mult;           /* per-channel (or one per-tensor) multipliers */
    int8_t *shift;           /* per-channel (or one per-tensor) shifts */
    uint8_t *lut;            /* LUT8 table (256 bytes) */
    int32_t *bshape;         /* ADD broadcast: out dims[4], in1 strides[4], in2 strides[4] */
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, k_c;
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w, depth_mult;
    int32_t in_off, w_off, out_off, act_min, act_max;
    int32_t p[10]; /* op-specific scalars (ADD, SOFTMAX, QUANT) */
    float fscale;
} nnb_op_t;

/* Arena bump allocator used by operator preparation; base == NULL counts only. */
typedef struct {
    uint8_t *base;
    uint32_t used;
} nnb_alloc_t;

#define NNB_ALIGN 16u
static inline uint32_t nnb_align_up(uint32_t v, uint32_t a) {
    return (v + a - 1u) & ~(a - 1u);
}

/* Decode and validate operator `index`, fill *rec. With alloc->base == NULL nothing is
 * written to the arena (dry run at parse time: validation + size accounting). */
nnb_status_t nnb_op_prepare(const nnb_model_t *m, uint32_t index, nnb_op_t *rec, nnb_alloc_t *alloc,
                            uint8_t *activations, nnb_error_t *err);
int nnb_op_supported(int32_t code);
/* Opcode (builtin code) of operator `index`, plus its operator table. */
nnb_status_t nnb_op_code(const nnb_model_t *m, uint32_t index, int32_t *code, nnb_fbt_t *op,
                         nnb_error_t *err);

/* ---- fixed point (gemmlowp / TFLM reference numerics) --------------------------------- */

static inline int32_t nnb_add_wrap(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t nnb_sub_wrap(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}
static inline int32_t nnb_shl_wrap(int32_t a, int s) {
    return (int32_t)((uint32_t)a << s);
}

/* SaturatingRoundingDoublingHighMul. gemmlowp adds a sign-dependent nudge and truncates the
 * division by 2^31 towards zero; for a negative product p that is ceil((p + 1 - 2^30) / 2^31)
 * = floor((p + 2^30) / 2^31), the same as for p >= 0, so one add and one arithmetic shift give
 * the exact result (a few instructions on rv32 instead of a 64-bit division). */
static inline int32_t nnb_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

/* RoundingDivideByPOT, exponent in [0, 31]. Assumes arithmetic >> on negatives (gcc, clang). */
static inline int32_t nnb_rdbpot(int32_t x, int e) {
    const int32_t mask = (int32_t)((((uint32_t)1) << e) - 1u);
    const int32_t rem = x & mask;
    const int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > thr ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier (double rounding, TFLM default). */
static inline int32_t nnb_mbqm(int32_t x, int32_t mult, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return nnb_rdbpot(nnb_srdhm(nnb_shl_wrap(x, left), mult), right);
}

/* Load-time helpers (double is fine here). */
void nnb_quantize_multiplier(double m, int32_t *mult, int *shift);
double nnb_round(double x); /* half away from zero, like std::round */
float nnb_roundf(float x);  /* half away from zero, like std::round(float) */
double nnb_frexp(double x, int *e);
int32_t nnb_exp_on_negative_values(int32_t a, int integer_bits);
int32_t nnb_one_over_one_plus_x(int32_t a);
int32_t nnb_logistic_q(int32_t a, int integer_bits);

/* ---- kernels ------------------------------------------------------------------------- */

void nnb_k_conv(const nnb_op_t *op);
void nnb_k_conv_1x1(const nnb_op_t *op);
void nnb_k_dwconv(const nnb_op_t *op);
void nnb_k_fc(const nnb_op_t *op);
void nnb_k_avgpool(const nnb_op_t *op);
void nnb_k_maxpool(const nnb_op_t *op);
void nnb_k_add(const nnb_op_t *op);
void nnb_k_softmax(const nnb_op_t *op);
void nnb_k_lut8(const nnb_op_t *op);
void nnb_k_quant_f32(const nnb_op_t *op);
void nnb_k_dequant_f32(const nnb_op_t *op);

#endif /* NNB_INTERNAL_H */
