/* Load-time numerics: multiplier quantization (QuantizeMultiplier from a double via frexp and
 * round-half-away-from-zero), and the gemmlowp fixed-point exp / reciprocal / logistic used by
 * TFLM's int8 SOFTMAX and LOGISTIC. No libm: frexp and round are done on the bits. */
#include "nnb_internal.h"

double nnb_frexp(double x, int *e) {
    uint64_t u;
    int ex, adj = 0;
    memcpy(&u, &x, sizeof u);
    ex = (int)((u >> 52) & 0x7ffu);
    if (ex == 0x7ff || (u << 1) == 0) { /* inf, nan, +-0 */
        *e = 0;
        return x;
    }
    if (ex == 0) {                /* subnormal: scale into the normal range first */
        x *= 18014398509481984.0; /* 2^54 */
        memcpy(&u, &x, sizeof u);
        ex = (int)((u >> 52) & 0x7ffu);
        adj = -54;
    }
    *e = ex - 1022 + adj;
    u = (u & ~((uint64_t)0x7ffu << 52)) | ((uint64_t)1022u << 52);
    memcpy(&x, &u, sizeof x);
    return x;
}

double nnb_round(double x) {
    double t, d;
    if (!(x > -4503599627370496.0 && x < 4503599627370496.0)) return x; /* |x| >= 2^52, nan */
    t = (double)(int64_t)x;
    d = x - t;
    if (d >= 0.5)
        t += 1.0;
    else if (d <= -0.5)
        t -= 1.0;
    return t;
}

float nnb_roundf(float x) {
    float t, d;
    if (!(x > -8388608.0f && x < 8388608.0f)) return x; /* |x| >= 2^23, nan */
    t = (float)(int32_t)x;
    d = x - t;
    if (d >= 0.5f)
        t += 1.0f;
    else if (d <= -0.5f)
        t -= 1.0f;
    return t;
}

void nnb_quantize_multiplier(double m, int32_t *mult, int *shift) {
    double q;
    int64_t q_fixed;
    int sh;
    if (m == 0.0 || !(m == m) || m > 1e300 || m < -1e300) {
        *mult = 0;
        *shift = 0;
        return;
    }
    q = nnb_frexp(m, &sh);
    q_fixed = (int64_t)nnb_round(q * 2147483648.0);
    if (q_fixed == ((int64_t)1 << 31)) {
        q_fixed /= 2;
        ++sh;
    }
    if (sh < -31) {
        sh = 0;
        q_fixed = 0;
    }
    if (sh > 31) sh = 31; /* absurd scales: keep shifts defined (TFLM would overflow) */
    *mult = (int32_t)q_fixed;
    *shift = sh;
}

/* SaturatingRoundingMultiplyByPOT with a run-time exponent. */
static int32_t sat_mul_pot(int32_t x, int e) {
    if (e > 0) {
        const int32_t thr = (int32_t)((((uint32_t)1) << (31 - e)) - 1u);
        if (x > thr) return INT32_MAX;
        if (x < -thr) return INT32_MIN;
        return nnb_shl_wrap(x, e);
    }
    if (e < 0) return nnb_rdbpot(x, -e);
    return x;
}

/* exp(x) for x in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter(int32_t a) {
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = nnb_add_wrap(a, 1 << 28); /* a + 1/8 */
    const int32_t x2 = nnb_srdhm(x, x);
    const int32_t x3 = nnb_srdhm(x2, x);
    const int32_t x4 = nnb_srdhm(x2, x2);
    const int32_t x4_over_4 = nnb_rdbpot(x4, 2);
    int32_t t = nnb_add_wrap(nnb_srdhm(nnb_add_wrap(x4_over_4, x3), constant_1_over_3), x2);
    t = nnb_rdbpot(t, 1);
    return nnb_add_wrap(constant_term, nnb_srdhm(constant_term, nnb_add_wrap(x, t)));
}

int32_t nnb_exp_on_negative_values(int32_t a, int integer_bits) {
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535,   720401,     242};
    const int frac_bits = 31 - integer_bits;
    const int32_t quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t mask = quarter - 1;
    const int32_t a_mod = nnb_sub_wrap(a & mask, quarter);
    int32_t result = exp_quarter(sat_mul_pot(a_mod, integer_bits));
    const int32_t remainder = nnb_sub_wrap(a_mod, a);
    int e;
    for (e = -2; e <= 4; ++e) {
        if (integer_bits > e) {
            const int sh = frac_bits + e;
            if (sh < 31 && (remainder & ((int32_t)1 << sh)))
                result = nnb_srdhm(result, mults[e + 2]);
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) result = 0;
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

int32_t nnb_one_over_one_plus_x(int32_t a) {
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = nnb_add_wrap(1515870810, nnb_srdhm(half, -1010580540));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t hx = nnb_srdhm(half, x);
        const int32_t one_minus = nnb_sub_wrap((int32_t)1 << 29, hx);
        x = nnb_add_wrap(x, sat_mul_pot(nnb_srdhm(x, one_minus), 2));
    }
    return sat_mul_pot(x, 1);
}

int32_t nnb_logistic_q(int32_t a, int integer_bits) {
    const int32_t absa = a > 0 ? a : nnb_sub_wrap(0, a);
    const int32_t rp =
        nnb_one_over_one_plus_x(nnb_exp_on_negative_values(nnb_sub_wrap(0, absa), integer_bits));
    if (a == 0) return (int32_t)1 << 30;
    return a > 0 ? rp : nnb_sub_wrap(INT32_MAX, rp);
}
