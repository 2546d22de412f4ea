#include "tensor/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "tensor/float16.h"
#include "tensor/quant_blocks.h"

namespace tf {
namespace {

int NearestInt(float x) { return static_cast<int>(std::lrintf(x)); }

// The element of largest magnitude, with its sign.
float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void MinMax(const float* x, int n, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int j = 1; j < n; ++j) {
    *min = std::min(*min, x[j]);
    *max = std::max(*max, x[j]);
  }
}

void QuantQ4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    const float d = SignedAbsMax(x, kQK4_0) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = FloatToFp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + kQK4_0 / 2] * id + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantQ4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK4_1) {
    float min, max;
    MinMax(x, kQK4_1, &min, &max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = FloatToFp16(d);
    y[i].m = FloatToFp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, static_cast<int>((x[j + kQK4_1 / 2] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantQ5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK5_0) {
    const float d = SignedAbsMax(x, kQK5_0) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = FloatToFp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>(x[j] * id + 16.5f));
      const int q1 = std::min(31, static_cast<int>(x[j + kQK5_0 / 2] * id + 16.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void QuantQ5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK5_1) {
    float min, max;
    MinMax(x, kQK5_1, &min, &max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = FloatToFp16(d);
    y[i].m = FloatToFp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>((x[j] - min) * id + 0.5f));
      const int q1 = std::min(31, static_cast<int>((x[j + kQK5_1 / 2] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void QuantQ8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = FloatToFp16(d);
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(NearestInt(x[j] * id));
  }
}

void QuantQ8_1(const float* x, BlockQ8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_1) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      y[i].qs[j] = static_cast<int8_t>(NearestInt(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].d = FloatToFp16(d);
    y[i].s = FloatToFp16(d * static_cast<float>(sum));
  }
}

void QuantQ8_K(const float* x, BlockQ8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    const float max = SignedAbsMax(x, kQK_K);
    if (max == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[j])));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

// Q4_K/Q5_K share the (scale, min) search: per 32-element sub-block the
// affine range [min(0, lo), hi] is split into `levels` steps; the 8 scales and
// 8 mins are then themselves quantized to 6 bits against the block maxima.
struct KSubBlockParams {
  uint8_t scales[8];
  uint8_t mins[8];
  float d;
  float dmin;
};

KSubBlockParams FitKScales(const float* x, int levels) {
  float sub_scale[8], sub_min[8];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    float lo, hi;
    MinMax(x + 32 * j, 32, &lo, &hi);
    lo = std::min(lo, 0.0f);
    sub_scale[j] = (hi - lo) / levels;
    sub_min[j] = -lo;
    max_scale = std::max(max_scale, sub_scale[j]);
    max_min = std::max(max_min, sub_min[j]);
  }
  KSubBlockParams p;
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < 8; ++j) {
    p.scales[j] = static_cast<uint8_t>(std::min(63, NearestInt(inv_scale * sub_scale[j])));
    p.mins[j] = static_cast<uint8_t>(std::min(63, NearestInt(inv_min * sub_min[j])));
  }
  p.d = max_scale / 63.0f;
  p.dmin = max_min / 63.0f;
  return p;
}

// Quantizes one element against the rounded (fp16) block parameters.
int KQuantLevel(float x, float d, float dmin, uint8_t scale, uint8_t min, int levels) {
  const float step = d * scale;
  if (step == 0.0f) return 0;
  const int q = NearestInt((x + dmin * min) / step);
  return std::clamp(q, 0, levels);
}

void QuantQ4_K(const float* x, BlockQ4_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    const KSubBlockParams p = FitKScales(x, 15);
    y[i].d = FloatToFp16(p.d);
    y[i].dmin = FloatToFp16(p.dmin);
    PackKScaleMin(p.scales, p.mins, y[i].scales);
    const float d = Fp16ToFloat(y[i].d), dmin = Fp16ToFloat(y[i].dmin);
    for (int pair = 0; pair < 4; ++pair) {
      const int s0 = 2 * pair, s1 = 2 * pair + 1;
      for (int l = 0; l < 32; ++l) {
        const int lo = KQuantLevel(x[64 * pair + l], d, dmin, p.scales[s0], p.mins[s0], 15);
        const int hi = KQuantLevel(x[64 * pair + 32 + l], d, dmin, p.scales[s1], p.mins[s1], 15);
        y[i].qs[32 * pair + l] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
  }
}

void QuantQ5_K(const float* x, BlockQ5_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    const KSubBlockParams p = FitKScales(x, 31);
    y[i].d = FloatToFp16(p.d);
    y[i].dmin = FloatToFp16(p.dmin);
    PackKScaleMin(p.scales, p.mins, y[i].scales);
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    const float d = Fp16ToFloat(y[i].d), dmin = Fp16ToFloat(y[i].dmin);
    for (int pair = 0; pair < 4; ++pair) {
      const int s0 = 2 * pair, s1 = 2 * pair + 1;
      for (int l = 0; l < 32; ++l) {
        const int lo = KQuantLevel(x[64 * pair + l], d, dmin, p.scales[s0], p.mins[s0], 31);
        const int hi = KQuantLevel(x[64 * pair + 32 + l], d, dmin, p.scales[s1], p.mins[s1], 31);
        y[i].qs[32 * pair + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
        y[i].qh[l] |= static_cast<uint8_t>(((lo >> 4) << s0) | ((hi >> 4) << s1));
      }
    }
  }
}

void QuantQ6_K(const float* x, BlockQ6_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float sub_scale[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int g = 0; g < 16; ++g) {
      sub_scale[g] = SignedAbsMax(x + 16 * g, 16) / -32.0f;
      if (std::fabs(sub_scale[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(sub_scale[g]);
        max_scale = sub_scale[g];
      }
    }
    uint8_t levels[kQK_K] = {};
    if (max_abs_scale == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
    } else {
      const float iscale = -128.0f / max_scale;
      y[i].d = FloatToFp16(1.0f / iscale);
      const float d = Fp16ToFloat(y[i].d);
      for (int g = 0; g < 16; ++g) {
        y[i].scales[g] = static_cast<int8_t>(std::min(127, NearestInt(iscale * sub_scale[g])));
        const float step = d * y[i].scales[g];
        for (int l = 0; l < 16; ++l) {
          const int q = step != 0.0f ? NearestInt(x[16 * g + l] / step) : 0;
          levels[16 * g + l] = static_cast<uint8_t>(std::clamp(q, -32, 31) + 32);
        }
      }
    }
    for (int half = 0; half < 2; ++half) {
      const uint8_t* L = levels + 128 * half;
      uint8_t* ql = y[i].ql + 64 * half;
      uint8_t* qh = y[i].qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((L[l] & 0x0F) | ((L[l + 64] & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((L[l + 32] & 0x0F) | ((L[l + 96] & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((L[l] >> 4) | ((L[l + 32] >> 4) << 2) |
                                     ((L[l + 64] >> 4) << 4) | ((L[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

bool CanQuantize(DType type) {
  switch (type) {
    case DType::kF32: case DType::kF16: case DType::kBF16:
    case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
    case DType::kQ8_0: case DType::kQ8_1: case DType::kQ4_K: case DType::kQ5_K:
    case DType::kQ6_K: case DType::kQ8_K:
      return true;
    default:
      return false;
  }
}

void QuantizeRow(DType type, const float* src, void* dst, int64_t n) {
  const int64_t nb = n / Traits(type).block_size;
  TF_CHECK(nb * Traits(type).block_size == n) << "row of " << n << " is not whole blocks";
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = FloatToFp16(src[i]);
      return;
    }
    case DType::kBF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = FloatToBf16(src[i]);
      return;
    }
    case DType::kQ4_0: return QuantQ4_0(src, static_cast<BlockQ4_0*>(dst), nb);
    case DType::kQ4_1: return QuantQ4_1(src, static_cast<BlockQ4_1*>(dst), nb);
    case DType::kQ5_0: return QuantQ5_0(src, static_cast<BlockQ5_0*>(dst), nb);
    case DType::kQ5_1: return QuantQ5_1(src, static_cast<BlockQ5_1*>(dst), nb);
    case DType::kQ8_0: return QuantQ8_0(src, static_cast<BlockQ8_0*>(dst), nb);
    case DType::kQ8_1: return QuantQ8_1(src, static_cast<BlockQ8_1*>(dst), nb);
    case DType::kQ4_K: return QuantQ4_K(src, static_cast<BlockQ4_K*>(dst), nb);
    case DType::kQ5_K: return QuantQ5_K(src, static_cast<BlockQ5_K*>(dst), nb);
    case DType::kQ6_K: return QuantQ6_K(src, static_cast<BlockQ6_K*>(dst), nb);
    case DType::kQ8_K: return QuantQ8_K(src, static_cast<BlockQ8_K*>(dst), nb);
    default:
      TF_CHECK(false) << "QuantizeRow: cannot produce type " << DTypeName(type);
  }
}

}  // namespace tf
