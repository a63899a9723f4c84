/* TFLite's int8 softmax in gemmlowp fixed point, step for step as nnmap.reference.softmax.
 *
 * Fixed-point values are int32 raw numbers kept in int64 (value = raw / 2^(31 - integer_bits)).
 * Output scale is 1/256 with zero point -128. Elements further below the row maximum than
 * diff_min contribute nothing and come out as -128.
 */
#include "nnmap_kernels.h"

#define NNMAP_SCALED_DIFF_INTEGER_BITS 5
#define NNMAP_ACCUMULATION_INTEGER_BITS 12
#define NNMAP_INT32_MAX ((int64_t)2147483647)
#define NNMAP_INT32_MIN ((int64_t)-2147483647 - 1)

static int64_t doubling_high_mul(int64_t a, int64_t b) {
  if (a == NNMAP_INT32_MIN && b == NNMAP_INT32_MIN) {
    return NNMAP_INT32_MAX;
  }
  int64_t product = a * b;
  int64_t nudge = product >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  return (product + nudge) / ((int64_t)1 << 31);
}

static int64_t rounding_divide_by_pot(int64_t x, int exponent) {
  int64_t mask = ((int64_t)1 << exponent) - 1;
  int64_t remainder = x & mask;
  int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static int64_t saturating_shift_left(int64_t x, int exponent) {
  int64_t threshold = ((int64_t)1 << (31 - exponent)) - 1;
  if (x > threshold) {
    return NNMAP_INT32_MAX;
  }
  if (x < -threshold) {
    return NNMAP_INT32_MIN;
  }
  return x * ((int64_t)1 << exponent);
}

/* exp(a) for a in [-1/4, 0) in Q0.31: Taylor expansion around -1/8. */
static int64_t exp_on_quarter_interval(int64_t a) {
  const int64_t constant_term = 1895147668;
  const int64_t one_third = 715827883;
  int64_t x = a + ((int64_t)1 << 28);
  int64_t x2 = doubling_high_mul(x, x);
  int64_t x3 = doubling_high_mul(x2, x);
  int64_t x4 = doubling_high_mul(x2, x2);
  int64_t x4_over_4 = rounding_divide_by_pot(x4, 2);
  int64_t poly = rounding_divide_by_pot(doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1);
  return constant_term + doubling_high_mul(constant_term, x + poly);
}

/* exp of a Q5.26 value <= 0, in Q0.31 (barrel shifter over exp(-2^k)). */
static int64_t exp_on_negative_values(int64_t a) {
  static const int64_t exp_of_powers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
  const int fractional_bits = 31 - NNMAP_SCALED_DIFF_INTEGER_BITS;
  const int64_t one_quarter = (int64_t)1 << (fractional_bits - 2);
  int64_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  int64_t result = exp_on_quarter_interval(
      saturating_shift_left(a_mod_quarter_minus_quarter, NNMAP_SCALED_DIFF_INTEGER_BITS));
  int64_t remainder = a_mod_quarter_minus_quarter - a;
  for (int k = 0; k < 7; ++k) {
    int64_t bit = (int64_t)1 << (fractional_bits + k - 2);
    if ((remainder & bit) != 0) {
      result = doubling_high_mul(result, exp_of_powers[k]);
    }
  }
  return a == 0 ? NNMAP_INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1) in Q0.31: three Newton-Raphson steps in Q2.29. */
static int64_t one_over_one_plus_x(int64_t a) {
  int64_t total = a + NNMAP_INT32_MAX;
  int64_t half_denominator = total >= 0 ? (total + 1) / 2 : -((1 - total) / 2);
  int64_t x = 1515870810 + doubling_high_mul(half_denominator, -1010580540);
  const int64_t one_q2 = (int64_t)1 << 29;
  for (int step = 0; step < 3; ++step) {
    int64_t one_minus_dx = one_q2 - doubling_high_mul(half_denominator, x);
    x = x + saturating_shift_left(doubling_high_mul(x, one_minus_dx), 2);
  }
  return saturating_shift_left(x, 1);
}

static int count_leading_zeros32(int64_t x) {
  if (x == 0) {
    return 32;
  }
  int bits = 0;
  for (int width = 16; width >= 1; width /= 2) {
    if (x < ((int64_t)1 << (32 - width))) {
      bits += width;
      x = x * ((int64_t)1 << width);
    }
  }
  return bits;
}

static int64_t scaled_exp(int64_t diff, int32_t input_multiplier, int32_t input_left_shift) {
  int64_t rescaled = doubling_high_mul(diff * ((int64_t)1 << input_left_shift), input_multiplier);
  return exp_on_negative_values(rescaled);
}

static void softmax_row(const int8_t *restrict data, int8_t *restrict out, int32_t depth,
                        int32_t input_multiplier, int32_t input_left_shift, int32_t diff_min) {
  int64_t row_max = data[0];
  for (int32_t i = 1; i < depth; ++i) {
    row_max = data[i] > row_max ? data[i] : row_max;
  }
  int64_t sum_of_exps = 0;
  for (int32_t i = 0; i < depth; ++i) {
    int64_t diff = data[i] - row_max;
    if (diff >= diff_min) {
      int64_t e = scaled_exp(diff, input_multiplier, input_left_shift);
      sum_of_exps += rounding_divide_by_pot(e, NNMAP_ACCUMULATION_INTEGER_BITS);
    }
  }
  int headroom = count_leading_zeros32(sum_of_exps);
  int bits_over_unit = NNMAP_ACCUMULATION_INTEGER_BITS - headroom;
  int64_t shifted_minus_one =
      ((sum_of_exps * ((int64_t)1 << headroom)) & (int64_t)0xFFFFFFFF) - ((int64_t)1 << 31);
  int64_t reciprocal = one_over_one_plus_x(shifted_minus_one);
  for (int32_t i = 0; i < depth; ++i) {
    int64_t diff = data[i] - row_max;
    int64_t value = -128;
    if (diff >= diff_min) {
      int64_t e = scaled_exp(diff, input_multiplier, input_left_shift);
      value = rounding_divide_by_pot(doubling_high_mul(reciprocal, e), bits_over_unit + 31 - 8);
      value = value - 128;
      value = value < -128 ? -128 : (value > 127 ? 127 : value);
    }
    out[i] = (int8_t)value;
  }
}

int32_t nnmap_softmax_int8(const int8_t *restrict data, int8_t *restrict out, int32_t rows,
                           int32_t depth, int32_t input_multiplier, int32_t input_left_shift,
                           int32_t diff_min) {
  for (int32_t row = 0; row < rows; ++row) {
    softmax_row(data + row * depth, out + row * depth, depth, input_multiplier,
                input_left_shift, diff_min);
  }
  return 0;
}
