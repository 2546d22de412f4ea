// Scalar reference for the packed matrix kernels: reads the interleaved
// layouts of packed_blocks.h value by value. Per row and block the integer
// sum is exact; it is scaled by d_w * d_x once per block, like the file-layout
// dot products, so packed and unpacked results agree to rounding.
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

}  // namespace

void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  PackedGemm<BlockQ4_0x8, 8, Q4_0x8Value>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  PackedGemm<BlockQ8_0x8, 0, Q8_0x8Value>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

}  // namespace tf::reference
