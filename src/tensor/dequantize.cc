#include "tensor/dequantize.h"

#include <cstring>

#include "base/check.h"
#include "tensor/float16.h"
#include "tensor/quant_blocks.h"

namespace tf {
namespace {

void DequantQ4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = Fp16ToFloat(b[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = d * ((b[i].qs[j] & 0x0F) - 8);
      y[j + kQK4_0 / 2] = d * ((b[i].qs[j] >> 4) - 8);
    }
  }
}

void DequantQ4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_1) {
    const float d = Fp16ToFloat(b[i].d);
    const float m = Fp16ToFloat(b[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = d * (b[i].qs[j] & 0x0F) + m;
      y[j + kQK4_1 / 2] = d * (b[i].qs[j] >> 4) + m;
    }
  }
}

uint32_t LoadQh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

void DequantQ5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK5_0) {
    const float d = Fp16ToFloat(b[i].d);
    const uint32_t qh = LoadQh(b[i].qh);
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int hi0 = (qh >> j) & 1;
      const int hi1 = (qh >> (j + 16)) & 1;
      y[j] = d * (((b[i].qs[j] & 0x0F) | (hi0 << 4)) - 16);
      y[j + kQK5_0 / 2] = d * (((b[i].qs[j] >> 4) | (hi1 << 4)) - 16);
    }
  }
}

void DequantQ5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK5_1) {
    const float d = Fp16ToFloat(b[i].d);
    const float m = Fp16ToFloat(b[i].m);
    const uint32_t qh = LoadQh(b[i].qh);
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int hi0 = (qh >> j) & 1;
      const int hi1 = (qh >> (j + 16)) & 1;
      y[j] = d * ((b[i].qs[j] & 0x0F) | (hi0 << 4)) + m;
      y[j + kQK5_1 / 2] = d * ((b[i].qs[j] >> 4) | (hi1 << 4)) + m;
    }
  }
}

void DequantQ8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = Fp16ToFloat(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * b[i].qs[j];
  }
}

void DequantQ8_1(const BlockQ8_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_1) {
    const float d = Fp16ToFloat(b[i].d);
    for (int j = 0; j < kQK8_1; ++j) y[j] = d * b[i].qs[j];
  }
}

// Q4_K: each 64 elements use two sub-blocks; low nibbles then high nibbles.
void DequantQ4_K(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Fp16ToFloat(b[i].d);
    const float dmin = Fp16ToFloat(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int pair = 0; pair < 4; ++pair, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      UnpackKScaleMin(2 * pair, b[i].scales, &sc0, &m0);
      UnpackKScaleMin(2 * pair + 1, b[i].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0;
      const float d1 = d * sc1, min1 = dmin * m1;
      for (int l = 0; l < 32; ++l) *y++ = d0 * (q[l] & 0x0F) - min0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] >> 4) - min1;
    }
  }
}

// Q5_K: as Q4_K; sub-block 2p takes its fifth bit from bit 2p of qh[l],
// sub-block 2p+1 from bit 2p+1.
void DequantQ5_K(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Fp16ToFloat(b[i].d);
    const float dmin = Fp16ToFloat(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int pair = 0; pair < 4; ++pair, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      UnpackKScaleMin(2 * pair, b[i].scales, &sc0, &m0);
      UnpackKScaleMin(2 * pair + 1, b[i].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0;
      const float d1 = d * sc1, min1 = dmin * m1;
      const int bit0 = 2 * pair, bit1 = 2 * pair + 1;
      for (int l = 0; l < 32; ++l) {
        *y++ = d0 * ((q[l] & 0x0F) + (((b[i].qh[l] >> bit0) & 1) << 4)) - min0;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d1 * ((q[l] >> 4) + (((b[i].qh[l] >> bit1) & 1) << 4)) - min1;
      }
    }
  }
}

// Q6_K: per 128 elements, ql holds 64 bytes of low nibbles, qh 32 bytes of
// 2-bit pairs; element l + 32k takes nibble/bits as below.
void DequantQ6_K(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Fp16ToFloat(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[s] * q1;
        y[l + 32] = d * sc[s + 2] * q2;
        y[l + 64] = d * sc[s + 4] * q3;
        y[l + 96] = d * sc[s + 6] * q4;
      }
    }
  }
}

void DequantQ8_K(const BlockQ8_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    for (int j = 0; j < kQK_K; ++j) y[j] = b[i].d * b[i].qs[j];
  }
}

}  // namespace

void DequantizeRow(DType type, const void* src, float* dst, int64_t n) {
  const int64_t nb = n / Traits(type).block_size;
  TF_CHECK(nb * Traits(type).block_size == n) << "row of " << n << " is not whole blocks";
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFloat(h[i]);
      return;
    }
    case DType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(h[i]);
      return;
    }
    case DType::kQ4_0: return DequantQ4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
    case DType::kQ4_1: return DequantQ4_1(static_cast<const BlockQ4_1*>(src), dst, nb);
    case DType::kQ5_0: return DequantQ5_0(static_cast<const BlockQ5_0*>(src), dst, nb);
    case DType::kQ5_1: return DequantQ5_1(static_cast<const BlockQ5_1*>(src), dst, nb);
    case DType::kQ8_0: return DequantQ8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
    case DType::kQ8_1: return DequantQ8_1(static_cast<const BlockQ8_1*>(src), dst, nb);
    case DType::kQ4_K: return DequantQ4_K(static_cast<const BlockQ4_K*>(src), dst, nb);
    case DType::kQ5_K: return DequantQ5_K(static_cast<const BlockQ5_K*>(src), dst, nb);
    case DType::kQ6_K: return DequantQ6_K(static_cast<const BlockQ6_K*>(src), dst, nb);
    case DType::kQ8_K: return DequantQ8_K(static_cast<const BlockQ8_K*>(src), dst, nb);
    default:
      TF_CHECK(false) << "DequantizeRow: type " << DTypeName(type) << " is not dequantizable";
  }
}

}  // namespace tf
