// AVX-512 VNNI matrix kernels over packed Q4_0/Q8_0 weights: the layout of
// the AVX2 kernels and the shared driver (kernels/packed_gemm_driver.h),
// with vpdpbusd accumulating the byte products straight into int32 (no
// int16 stage, no separate widening multiply).
#include <algorithm>
#include <cstring>

#include "kernels/avx512/avx512_intrinsics.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/packed_blocks.h"

namespace tf::TF_AVX512_NS {
namespace {

constexpr int kTile = 4;

inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int T>
void Q4_0x8Tile(int64_t n_blocks, const BlockQ4_0x8* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    __m256i q[8];
    for (int j = 0; j < 4; ++j) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * j));
      q[j] = _mm256_and_si256(raw, mask);
      q[j + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
    }
    for (int t = 0; t < T; ++t) {
      const BlockQ8S& xb = x[t][b];
      // Two independent chains halve the dpbusd latency on the critical path.
      __m256i even = _mm256_setzero_si256();
      __m256i odd = _mm256_setzero_si256();
      for (int g = 0; g < 8; g += 2) {
        even = _mm256_dpbusd_epi32(even, q[g], Broadcast4(xb.qs + 4 * g));
        odd = _mm256_dpbusd_epi32(odd, q[g + 1], Broadcast4(xb.qs + 4 * g + 4));
      }
      // Q4_0's "- 8" folded into the block's scaling via d_sum8.
      const __m256 dot = _mm256_cvtepi32_ps(_mm256_add_epi32(even, odd));
      const __m256 v = _mm256_fmsub_ps(dot, _mm256_set1_ps(xb.d), _mm256_set1_ps(xb.d_sum8));
      acc[t] = _mm256_fmadd_ps(dw, v, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

template <int T>
void Q8_0x8Tile(int64_t n_blocks, const BlockQ8_0x8* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < T; ++t) {
      const BlockQ8S& xb = x[t][b];
      __m256i even = _mm256_setzero_si256();
      __m256i odd = _mm256_setzero_si256();
      for (int g = 0; g < 8; ++g) {
        // vpdpbusd wants one unsigned operand: |x| against w carrying x's sign.
        const __m256i xv = Broadcast4(xb.qs + 4 * g);
        const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * g));
        __m256i& chain = (g % 2 == 0) ? even : odd;
        chain = _mm256_dpbusd_epi32(chain, _mm256_abs_epi8(xv), _mm256_sign_epi8(wq, xv));
      }
      const __m256i s32 = _mm256_add_epi32(even, odd);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xb.d)), _mm256_cvtepi32_ps(s32), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

// The kernel traits the shared driver (kernels/packed_gemm_driver.h) runs;
// decode goes group by group through the 1-token tile.
struct Q4Kernel : packed_gemm::KernelShape<BlockQ4_0x8, /*kPairs=*/false, kTile> {
  template <int T>
  static void Tile(int64_t nb, const Block* w, const BlockQ8S* const* x, float* y, int64_t s) {
    Q4_0x8Tile<T>(nb, w, x, y, s);
  }
};

struct Q8Kernel : packed_gemm::KernelShape<BlockQ8_0x8, /*kPairs=*/false, kTile> {
  template <int T>
  static void Tile(int64_t nb, const Block* w, const BlockQ8S* const* x, float* y, int64_t s) {
    Q8_0x8Tile<T>(nb, w, x, y, s);
  }
};

}  // namespace

void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q4Kernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q8Kernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

}  // namespace tf::TF_AVX512_NS
