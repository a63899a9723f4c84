/* layer conv (Conv2D): TVM-generated from a TE compute by nnmap */
#include "nnmap_kernels.h"

int32_t nnmap_layer_00_conv2d(const int8_t* restrict data, const int8_t* restrict weight, const int32_t* restrict bias, const int32_t* restrict mult, const int32_t* restrict shift, int8_t* restrict out) {
  int32_t acc_ptr[4];
  for (int32_t i1 = 0; i1 < 4; ++i1) {
    for (int32_t i2 = 0; i2 < 4; ++i2) {
      for (int32_t ax0_init = 0; ax0_init < 4; ++ax0_init) {
        acc_ptr[ax0_init] = 0;
      }
      for (int32_t ax1 = 0; ax1 < 3; ++ax1) {
        for (int32_t ax2 = 0; ax2 < 3; ++ax2) {
          for (int32_t ax3 = 0; ax3 < 2; ++ax3) {
            for (int32_t ax0 = 0; ax0 < 4; ++ax0) {
              int32_t cse_v1 = (i1 + ax1);
              int32_t cse_v2 = (i2 + ax2);
              int8_t condval_6;
              if ((((1 <= cse_v1) && (cse_v1 < 5)) && (1 <= cse_v2)) && (cse_v2 < 5)) {
                condval_6 = data[((((((i1 * 8) + (ax1 * 8)) + (i2 * 2)) + (ax2 * 2)) + ax3) - 10)];
              } else {
                condval_6 = (int8_t)1;
              }
              acc_ptr[ax0] = (acc_ptr[ax0] + (((int32_t)condval_6) * ((int32_t)weight[((((ax1 * 24) + (ax2 * 8)) + (ax3 * 4)) + ax0)])));
            }
          }
        }
      }
      for (int32_t i3 = 0; i3 < 4; ++i3) {
        int64_t product = ((((int64_t)acc_ptr[i3]) + ((int64_t)bias[i3])) * ((int64_t)mult[i3]));
        int32_t value = ((int32_t)((product + (((int64_t)0 <= product) ? (int64_t)1073741824 : (int64_t)-1073741823)) / (int64_t)2147483648));
        int32_t v_ = 0 - shift[i3];
        int32_t unclamped = (((value >> ((v_) > (0) ? (v_) : (0))) + ((((((int32_t)(((uint32_t)1 << ((uint32_t)((v_) > (0) ? (v_) : (0)))) - (uint32_t)1)) >> 1) + ((value < 0) ? 1 : 0)) < (value & ((int32_t)(((uint32_t)1 << ((uint32_t)((v_) > (0) ? (v_) : (0)))) - (uint32_t)1)))) ? 1 : 0)) - 3);
        int32_t v__1 = (unclamped) < (127) ? (unclamped) : (127);
        out[(((i1 * 16) + (i2 * 4)) + i3)] = ((int8_t)((v__1) > (0) ? (v__1) : (0)));
      }
    }
  }
  return 0;
}
