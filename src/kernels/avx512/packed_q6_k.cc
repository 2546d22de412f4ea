// AVX-512 VNNI matrix kernel over packed Q6_K weights (BlockQ6_Kx8) against
// Q8_K activations: the levels are unpacked as in the AVX2 kernel (one
// 8-row group, 256-bit registers), but vpdpbusd sums each chunk's byte
// products straight into int32 lane r per sub-block, so the int16 stage
// and its overflow limit go; the sub-block sums are then scaled with one
// vpmulld each, and the "- 32" comes off with vpdpwssd of the scales
// against the activation's 16-weight sums. The per-row integer is exactly
// reference::DotQ6_K's, so the result is the same as the AVX2 kernel's.
#include <cstring>

#include "kernels/avx512/avx512_intrinsics.h"
#include "kernels/avx2/k_quant_lanes.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/packed_blocks.h"

namespace tf::TF_AVX512_NS {
namespace {

constexpr int kTile = 4;  // tokens per pass: 4 registers each of the 32

using namespace k_quant_lanes;


// Chunk J of a group for every token: lo (first sub-block's weights
// 4J..4J+3 of 8 rows) and hi (the second's) against the token's bytes.
template <int J, int T>
inline void Chunk(const BlockQ6_Kx8::Group& group, __m256i qh0, __m256i qh1, const int8_t* const* xq, __m256i* sa,
                  __m256i* sb) {
  __m256i lo, hi;
  Q6_KLevels<J>(group, qh0, qh1, &lo, &hi);
  for (int t = 0; t < T; ++t) {
    sa[t] = _mm256_dpbusd_epi32(sa[t], lo, Broadcast4(xq[t] + 4 * J));
    sb[t] = _mm256_dpbusd_epi32(sb[t], hi, Broadcast4(xq[t] + 16 + 4 * J));
  }
}

template <int T>
void Q6_Kx8Tile(int64_t n_blocks, const BlockQ6_Kx8* w, const BlockQ8_K* const* x, float* y, int64_t y_stride) {
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i sum[T], off[T];
    for (int t = 0; t < T; ++t) sum[t] = off[t] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const BlockQ6_Kx8::Group& group = w[b].groups[g];
      const __m256i qh0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group.qh));
      const __m256i qh1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group.qh + 32));
      const int8_t* xq[T];
      __m256i sa[T], sb[T];
      for (int t = 0; t < T; ++t) {
        xq[t] = x[t][b].qs + 32 * g;
        sa[t] = sb[t] = _mm256_setzero_si256();
      }
      Chunk<0, T>(group, qh0, qh1, xq, sa, sb);
      Chunk<1, T>(group, qh0, qh1, xq, sa, sb);
      Chunk<2, T>(group, qh0, qh1, xq, sa, sb);
      Chunk<3, T>(group, qh0, qh1, xq, sa, sb);
      const __m256i scales = Q6_KGroupScales(w[b], g);
      // int32 lane r: the low int16 is sub-block 0's scale, the high one sub-block 1's.
      const __m256i scale_a = _mm256_srai_epi32(_mm256_slli_epi32(scales, 16), 16);
      const __m256i scale_b = _mm256_srai_epi32(scales, 16);
      for (int t = 0; t < T; ++t) {
        sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(_mm256_mullo_epi32(sa[t], scale_a),
                                                           _mm256_mullo_epi32(sb[t], scale_b)));
        off[t] = _mm256_dpwssd_epi32(off[t], scales, Broadcast4(x[t][b].bsums + 2 * g));
      }
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < T; ++t) {
      const __m256 total = _mm256_cvtepi32_ps(_mm256_sub_epi32(sum[t], _mm256_slli_epi32(off[t], 5)));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x[t][b].d)), total, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

struct Q6_KKernel : packed_gemm::KernelShape<BlockQ6_Kx8, /*kPairs=*/false, kTile, 0, BlockQ8_K, kQK_K> {
  template <int T>
  static void Tile(int64_t nb, const Block* w, const Act* const* x, float* y, int64_t s) {
    Q6_Kx8Tile<T>(nb, w, x, y, s);
  }
};

}  // namespace

void GemmQ6_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q6_KKernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

}  // namespace tf::TF_AVX512_NS
