// Scalar reference dot products for the 256-element K-quant types against
// Q8_K activations. Integer sums per sub-block, scaled by the sub-block's
// 6-bit (Q4_K/Q5_K) or 8-bit (Q6_K) scale; the mins of Q4_K/Q5_K use the
// activation block's precomputed 16-element sums (bsums).
#include "kernels/reference/reference_kernels.h"
#include "tensor/float16.h"
#include "tensor/quant_blocks.h"

namespace tf::reference {

float DotQ4_K(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ4_K*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFloat(wb[i].d) * xb[i].d;
    const float dmin = Fp16ToFloat(wb[i].dmin) * xb[i].d;
    int sum_scaled = 0, sum_mins = 0;
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t scale, min;
      UnpackKScaleMin(sub, wb[i].scales, &scale, &min);
      const uint8_t* q = wb[i].qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      int sumi = 0;
      for (int l = 0; l < 32; ++l) sumi += ((q[l] >> shift) & 0x0F) * xb[i].qs[32 * sub + l];
      sum_scaled += scale * sumi;
      sum_mins += min * (xb[i].bsums[2 * sub] + xb[i].bsums[2 * sub + 1]);
    }
    sum += d * sum_scaled - dmin * sum_mins;
  }
  return sum;
}

float DotQ5_K(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ5_K*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFloat(wb[i].d) * xb[i].d;
    const float dmin = Fp16ToFloat(wb[i].dmin) * xb[i].d;
    int sum_scaled = 0, sum_mins = 0;
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t scale, min;
      UnpackKScaleMin(sub, wb[i].scales, &scale, &min);
      const uint8_t* q = wb[i].qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      int sumi = 0;
      for (int l = 0; l < 32; ++l) {
        const int level = ((q[l] >> shift) & 0x0F) | (((wb[i].qh[l] >> sub) & 1) << 4);
        sumi += level * xb[i].qs[32 * sub + l];
      }
      sum_scaled += scale * sumi;
      sum_mins += min * (xb[i].bsums[2 * sub] + xb[i].bsums[2 * sub + 1]);
    }
    sum += d * sum_scaled - dmin * sum_mins;
  }
  return sum;
}

float DotQ6_K(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ6_K*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int levels[kQK_K];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = wb[i].ql + 64 * half;
      const uint8_t* qh = wb[i].qh + 32 * half;
      int* L = levels + 128 * half;
      for (int l = 0; l < 32; ++l) {
        L[l] = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        L[l + 32] = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        L[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        L[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      }
    }
    int sum_scaled = 0;
    for (int g = 0; g < 16; ++g) {
      int sumi = 0;
      for (int l = 0; l < 16; ++l) sumi += levels[16 * g + l] * xb[i].qs[16 * g + l];
      sum_scaled += wb[i].scales[g] * sumi;
    }
    sum += Fp16ToFloat(wb[i].d) * xb[i].d * sum_scaled;
  }
  return sum;
}

}  // namespace tf::reference
