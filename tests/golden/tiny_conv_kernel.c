/* layer conv (Conv2D): TVM-generated from a TE compute by nnmap */
#include "nnmap_kernels.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* acc[0..k) += sum over c < rows of x[c] * w[c * stride + 0..k) (int8 x int8 -> int32). */
static inline void nnmap_mac_rows_i8(int32_t *restrict acc, const int8_t *restrict x,
                                     const int8_t *restrict w, int32_t rows, int32_t k,
                                     int32_t stride) {
  int32_t j = 0;
#if defined(__AVX2__)
  for (; j + 16 <= k; j += 16) {
    __m256i low = _mm256_loadu_si256((const __m256i *)(acc + j));
    __m256i high = _mm256_loadu_si256((const __m256i *)(acc + j + 8));
    int32_t c = 0;
    for (; c + 2 <= rows; c += 2) {
      __m256i first = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + c * stride + j)));
      __m256i second = _mm256_cvtepi8_epi16(
          _mm_loadu_si128((const __m128i *)(w + (c + 1) * stride + j)));
      __m256i pair = _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)(int16_t)x[c + 1] << 16) |
                                                 (uint32_t)(uint16_t)(int16_t)x[c]));
      __m256i even = _mm256_unpacklo_epi16(first, second);
      __m256i odd = _mm256_unpackhi_epi16(first, second);
      __m256i lanes_low = _mm256_madd_epi16(even, pair);
      __m256i lanes_high = _mm256_madd_epi16(odd, pair);
      low = _mm256_add_epi32(low, _mm256_permute2x128_si256(lanes_low, lanes_high, 0x20));
      high = _mm256_add_epi32(high, _mm256_permute2x128_si256(lanes_low, lanes_high, 0x31));
    }
    if (c < rows) {
      __m256i last = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + c * stride + j)));
      __m256i value = _mm256_set1_epi16((int16_t)x[c]);
      __m256i product = _mm256_mullo_epi16(last, value);
      low = _mm256_add_epi32(low, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(product)));
      high = _mm256_add_epi32(high, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(product, 1)));
    }
    _mm256_storeu_si256((__m256i *)(acc + j), low);
    _mm256_storeu_si256((__m256i *)(acc + j + 8), high);
  }
  for (; j + 8 <= k; j += 8) {
    __m128i low = _mm_loadu_si128((const __m128i *)(acc + j));
    __m128i high = _mm_loadu_si128((const __m128i *)(acc + j + 4));
    int32_t c = 0;
    for (; c + 2 <= rows; c += 2) {
      __m128i first = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(w + c * stride + j)));
      __m128i second = _mm_cvtepi8_epi16(
          _mm_loadl_epi64((const __m128i *)(w + (c + 1) * stride + j)));
      __m128i pair = _mm_set1_epi32((int32_t)(((uint32_t)(uint16_t)(int16_t)x[c + 1] << 16) |
                                              (uint32_t)(uint16_t)(int16_t)x[c]));
      low = _mm_add_epi32(low, _mm_madd_epi16(_mm_unpacklo_epi16(first, second), pair));
      high = _mm_add_epi32(high, _mm_madd_epi16(_mm_unpackhi_epi16(first, second), pair));
    }
    if (c < rows) {
      __m128i last = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(w + c * stride + j)));
      __m128i product = _mm_mullo_epi16(last, _mm_set1_epi16((int16_t)x[c]));
      low = _mm_add_epi32(low, _mm_cvtepi16_epi32(product));
      high = _mm_add_epi32(high, _mm_cvtepi16_epi32(_mm_srli_si128(product, 8)));
    }
    _mm_storeu_si128((__m128i *)(acc + j), low);
    _mm_storeu_si128((__m128i *)(acc + j + 8 - 4), high);
  }
#endif
  if (j < k) {
    const int8_t *restrict row = w;
    for (int32_t c = 0; c < rows; ++c, row += stride) {
      const int32_t value = (int32_t)x[c];
      for (int32_t i = j; i < k; ++i) {
        acc[i] += value * (int32_t)row[i];
      }
    }
  }
}


int32_t nnmap_layer_00_conv2d(const int8_t* restrict data, const int8_t* restrict weight, const int32_t* restrict bias, const int32_t* restrict mult, const int32_t* restrict shift, int8_t* restrict out) {
  int8_t padded_ptr[36];
  int32_t acc_ptr[4];
  for (int32_t y = 0; y < 4; ++y) {
    for (int32_t ax0 = 0; ax0 < 3; ++ax0) {
      for (int32_t ax1 = 0; ax1 < 6; ++ax1) {
        for (int32_t ax2 = 0; ax2 < 2; ++ax2) {
          int32_t cse_v1 = (y + ax0);
          int32_t cse_v2 = (ax1 * 2);
          int8_t condval_6;
          if ((((1 <= cse_v1) && (cse_v1 < 5)) && (1 <= ax1)) && (ax1 < 5)) {
            condval_6 = data[(((((y * 8) + (ax0 * 8)) + cse_v2) + ax2) - 10)];
          } else {
            condval_6 = (int8_t)1;
          }
          padded_ptr[(((ax0 * 12) + cse_v2) + ax2)] = condval_6;
        }
      }
    }
    for (int32_t x_0 = 0; x_0 < 4; ++x_0) {
      for (int32_t k_1_init = 0; k_1_init < 4; ++k_1_init) {
        acc_ptr[k_1_init] = 0;
      }
      for (int32_t fy = 0; fy < 3; ++fy) {
        for (int32_t fx = 0; fx < 3; ++fx) {
          nnmap_mac_rows_i8((&(acc_ptr[0])), (&(padded_ptr[(((fy * 12) + (x_0 * 2)) + (fx * 2))])), (&(weight[((fy * 24) + (fx * 8))])), 2, 4, 4);
        }
      }
      for (int32_t ax0_1 = 0; ax0_1 < 4; ++ax0_1) {
        int64_t product = ((((int64_t)acc_ptr[ax0_1]) + ((int64_t)bias[ax0_1])) * ((int64_t)mult[ax0_1]));
        int32_t value = ((int32_t)((product + (((int64_t)0 <= product) ? (int64_t)1073741824 : (int64_t)-1073741823)) / (int64_t)2147483648));
        int32_t v_ = 0 - shift[ax0_1];
        int32_t unclamped = (((value >> ((v_) > (0) ? (v_) : (0))) + ((((((int32_t)(((uint32_t)1 << ((uint32_t)((v_) > (0) ? (v_) : (0)))) - (uint32_t)1)) >> 1) + ((value < 0) ? 1 : 0)) < (value & ((int32_t)(((uint32_t)1 << ((uint32_t)((v_) > (0) ? (v_) : (0)))) - (uint32_t)1)))) ? 1 : 0)) - 3);
        int32_t v__1 = (unclamped) < (127) ? (unclamped) : (127);
        out[(((y * 16) + (x_0 * 4)) + ax0_1)] = ((int8_t)((v__1) > (0) ? (v__1) : (0)));
      }
    }
  }
  return 0;
}
