// Scalar reference for the packed matrix kernels: reads the interleaved
// layouts of packed_blocks.h value by value. Per row and block the integer
// sum is exact; it is scaled by d_w * d_x once per block, like the file-layout
// dot products, so packed and unpacked results agree to rounding.
#include <type_traits>

#include "kernels/reference/reference_kernels.h"
#include "tensor/float16.h"
#include "tensor/packed_blocks.h"

namespace tf::reference {
namespace {

// Weight k (0..31) of row r in a packed Q4_0 block, as stored (0..15).
int Q4_0x8Value(const BlockQ4_0x8& b, int r, int k) {
  const int byte = k % 16;  // byte of the file layout
  const uint8_t packed = b.qs[32 * (byte / 4) + 4 * r + byte % 4];
  return k < 16 ? (packed & 0x0F) : (packed >> 4);
}

int Q8_0x8Value(const BlockQ8_0x8& b, int r, int k) { return b.qs[32 * (k / 4) + 4 * r + k % 4]; }

template <typename Block, int kOffset, int (*Value)(const Block&, int, int)>
void PackedGemm(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  const int64_t n_blocks = k / 32;
  for (int64_t g = 0; g < n_groups; ++g) {
    const auto* wb = reinterpret_cast<const Block*>(w) + g * n_blocks;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* xb = reinterpret_cast<const BlockQ8S*>(act + t * act_stride);
      for (int r = 0; r < kPackRows; ++r) {
        float sum = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          int32_t sumi = 0;
          for (int j = 0; j < 32; ++j) sumi += (Value(wb[b], r, j) - kOffset) * xb[b].qs[j];
          sum += Fp16ToFloat(wb[b].d[r]) * xb[b].d * static_cast<float>(sumi);
        }
        y[t * y_stride + g * kPackRows + r] = sum;
      }
    }
  }
}

// Level (0..63) of weight k (0..255) of row r in a packed Q6_K block.
int Q6_Kx8Level(const BlockQ6_Kx8& b, int r, int k) {
  const BlockQ6_Kx8::Group& group = b.groups[k / 32];
  const int h = (k % 32) / 16, j = (k % 16) / 4, lane = 4 * r + k % 4;
  return ((group.ql[32 * j + lane] >> (4 * h)) & 0x0F) | (((group.qh[32 * h + lane] >> (2 * j)) & 3) << 4);
}

// Level (0..15 or 0..31) of weight k of row r in a packed Q4_K/Q5_K block.
template <typename Packed>
int K45Level(const Packed& b, int r, int k) {
  const int g = k / 32, h = (k % 32) / 16, j = (k % 16) / 4, lane = 4 * r + k % 4;
  if constexpr (std::is_same_v<Packed, BlockQ5_Kx8>) {
    const int low = (b.groups[g].qs[32 * j + lane] >> (4 * h)) & 0x0F;
    return low | (((b.groups[g].qh[lane] >> (j + 4 * h)) & 1) << 4);
  } else {
    return (b.qs[g][32 * j + lane] >> (4 * h)) & 0x0F;
  }
}

// Value v (16g + 2r + m) of packed Q4_K/Q5_K scales and mins.
int KScaleMin(const KScaleMinx8& s, int v) {
  return ((s.lo[v % 64] >> (4 * (v / 64))) & 0x0F) | (((s.hi[v % 32] >> (2 * (v / 32))) & 3) << 4);
}

// As reference::DotQ4_K/DotQ5_K per row: the integer sums of scale * q * x
// and of min * (the sub-block's two bsums), scaled by d and dmin.
template <typename Packed>
void PackedK45Gemm(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                   int64_t n_tokens, float* y, int64_t y_stride) {
  const int64_t n_blocks = k / kQK_K;
  for (int64_t g = 0; g < n_groups; ++g) {
    const auto* wb = reinterpret_cast<const Packed*>(w) + g * n_blocks;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* xb = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
      for (int r = 0; r < kPackRows; ++r) {
        float sum = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          int32_t sum_scaled = 0, sum_mins = 0;
          for (int sub = 0; sub < 8; ++sub) {
            int32_t sumi = 0;
            for (int l = 0; l < 32; ++l) sumi += K45Level(wb[b], r, 32 * sub + l) * xb[b].qs[32 * sub + l];
            sum_scaled += KScaleMin(wb[b].scales, 16 * sub + 2 * r) * sumi;
            sum_mins += KScaleMin(wb[b].scales, 16 * sub + 2 * r + 1) * (xb[b].bsums[2 * sub] + xb[b].bsums[2 * sub + 1]);
          }
          const float d = Fp16ToFloat(wb[b].d[r]) * xb[b].d, dmin = Fp16ToFloat(wb[b].dmin[r]) * xb[b].d;
          sum += d * static_cast<float>(sum_scaled) - dmin * static_cast<float>(sum_mins);
        }
        y[t * y_stride + g * kPackRows + r] = sum;
      }
    }
  }
}

}  // namespace

void GemmQ4_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  PackedK45Gemm<BlockQ4_Kx8>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ5_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  PackedK45Gemm<BlockQ5_Kx8>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

// Per row and super-block: the exact integer sum of scale * (q - 32) * x
// over the 16 sub-blocks, scaled by d_w * d_x (as reference::DotQ6_K).
void GemmQ6_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  const int64_t n_blocks = k / kQK_K;
  for (int64_t g = 0; g < n_groups; ++g) {
    const auto* wb = reinterpret_cast<const BlockQ6_Kx8*>(w) + g * n_blocks;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* xb = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride);
      for (int r = 0; r < kPackRows; ++r) {
        float sum = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          int32_t sum_scaled = 0;
          for (int sub = 0; sub < kQK_K / 16; ++sub) {
            int32_t sumi = 0;
            for (int l = 0; l < 16; ++l) sumi += (Q6_Kx8Level(wb[b], r, 16 * sub + l) - 32) * xb[b].qs[16 * sub + l];
            sum_scaled += wb[b].scales[16 * (sub / 2) + 2 * r + sub % 2] * sumi;
          }
          sum += Fp16ToFloat(wb[b].d[r]) * xb[b].d * static_cast<float>(sum_scaled);
        }
        y[t * y_stride + g * kPackRows + r] = sum;
      }
    }
  }
}

void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  PackedGemm<BlockQ4_0x8, 8, Q4_0x8Value>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  PackedGemm<BlockQ8_0x8, 0, Q8_0x8Value>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

}  // namespace tf::reference
