// Scalar reference dot products for the 32-element block types against
// 8-bit activations: Q4_0/Q5_0/Q8_0 x Q8_0 and Q4_1/Q5_1 x Q8_1. Integer
// sums per block, scaled once per block, as the formats are defined.
#include <cstring>

#include "kernels/reference/reference_kernels.h"
#include "tensor/float16.h"
#include "tensor/quant_blocks.h"

namespace tf::reference {
namespace {

uint32_t HighBits(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

}  // namespace

float DotQ4_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ4_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      sumi += ((wb[i].qs[j] & 0x0F) - 8) * xb[i].qs[j];
      sumi += ((wb[i].qs[j] >> 4) - 8) * xb[i].qs[j + kQK4_0 / 2];
    }
    sum += sumi * Fp16ToFloat(wb[i].d) * Fp16ToFloat(xb[i].d);
  }
  return sum;
}

float DotQ4_1(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ4_1*>(w);
  const auto* xb = static_cast<const BlockQ8_1*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      sumi += (wb[i].qs[j] & 0x0F) * xb[i].qs[j];
      sumi += (wb[i].qs[j] >> 4) * xb[i].qs[j + kQK4_1 / 2];
    }
    // sum_j (d q_j + m) x_j = d dx sum q_j xq_j + m * (dx sum xq_j)
    sum += sumi * Fp16ToFloat(wb[i].d) * Fp16ToFloat(xb[i].d) + Fp16ToFloat(wb[i].m) * Fp16ToFloat(xb[i].s);
  }
  return sum;
}

float DotQ5_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ5_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const uint32_t qh = HighBits(wb[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = ((wb[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
      const int q1 = ((wb[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      sumi += q0 * xb[i].qs[j] + q1 * xb[i].qs[j + kQK5_0 / 2];
    }
    sum += sumi * Fp16ToFloat(wb[i].d) * Fp16ToFloat(xb[i].d);
  }
  return sum;
}

float DotQ5_1(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ5_1*>(w);
  const auto* xb = static_cast<const BlockQ8_1*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const uint32_t qh = HighBits(wb[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = (wb[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
      const int q1 = (wb[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      sumi += q0 * xb[i].qs[j] + q1 * xb[i].qs[j + kQK5_1 / 2];
    }
    sum += sumi * Fp16ToFloat(wb[i].d) * Fp16ToFloat(xb[i].d) + Fp16ToFloat(wb[i].m) * Fp16ToFloat(xb[i].s);
  }
  return sum;
}

float DotQ8_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ8_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += wb[i].qs[j] * xb[i].qs[j];
    sum += sumi * Fp16ToFloat(wb[i].d) * Fp16ToFloat(xb[i].d);
  }
  return sum;
}

}  // namespace tf::reference
