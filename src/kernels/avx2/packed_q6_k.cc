// AVX2 matrix kernel over packed Q6_K weights (BlockQ6_Kx8, tensor/
// packed_blocks.h) against Q8_K activations: the output head of most
// Q4_0/Q8_0 files, so it runs once per decoded token over 9-11% of a
// model's bytes.
//
// Per 8-row group, super-block and 32-weight group g: four 32-byte loads
// of low nibbles and two of high-bit fields give the levels q (0..63) of 4
// weights x 8 rows per register, for each of the group's two 16-weight
// sub-blocks. vpmaddubsw(q, x) against a 4-byte activation broadcast makes
// int16 pairs (|pair| <= 2 * 63 * 127, so two loads' pairs still fit);
// vpmaddwd against the sub-block scales (one per row, already in the lanes
// the pairs of row r occupy) sums them into int32 lane r. The "- 32" comes
// off once per super-block: 32 * sum_s scale[r][s] * bsum[s], one vpmaddwd
// per group of the scales against the activation's 16-weight sums. The
// super-block's sum is exact in int32 (< 2^28), so each row gets exactly the
// integer of reference::DotQ6_K, then one convert and FMA.
#include <cstring>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx2/k_quant_lanes.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/packed_blocks.h"

namespace tf::avx2 {
namespace {

constexpr int kTile = 4;  // tokens per pass over a group's weights

using namespace k_quant_lanes;


// Adds chunks J and J+1 of group g for one token into its int32 row sums.
template <int J>
inline __m256i TwoChunks(const __m256i lo[2], const __m256i hi[2], __m256i scale_a, __m256i scale_b,
                         const int8_t* xq, __m256i sum) {
  const __m256i pa = _mm256_add_epi16(_mm256_maddubs_epi16(lo[0], Broadcast4(xq + 4 * J)),
                                      _mm256_maddubs_epi16(lo[1], Broadcast4(xq + 4 * J + 4)));
  const __m256i pb = _mm256_add_epi16(_mm256_maddubs_epi16(hi[0], Broadcast4(xq + 16 + 4 * J)),
                                      _mm256_maddubs_epi16(hi[1], Broadcast4(xq + 16 + 4 * J + 4)));
  return _mm256_add_epi32(sum, _mm256_add_epi32(_mm256_madd_epi16(pa, scale_a), _mm256_madd_epi16(pb, scale_b)));
}

// 32 * sum_s scale[r][s] * bsum[s] for one token: the "- 32" of row r.
inline __m256i Offset(const BlockQ6_Kx8& w, const BlockQ8_K& x) {
  __m256i off = _mm256_setzero_si256();
  for (int g = 0; g < 8; ++g) off = _mm256_add_epi32(off, _mm256_madd_epi16(Q6_KGroupScales(w, g), Broadcast4(x.bsums + 2 * g)));
  return _mm256_slli_epi32(off, 5);
}

template <int T>
void Q6_Kx8Tile(int64_t n_blocks, const BlockQ6_Kx8* w, const BlockQ8_K* const* x, float* y, int64_t y_stride) {
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i sum[T];
    for (int t = 0; t < T; ++t) sum[t] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const BlockQ6_Kx8::Group& group = w[b].groups[g];
      const __m256i scales = Q6_KGroupScales(w[b], g);
      const __m256i scale_a = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(scales, 0xA0), 0xA0);
      const __m256i scale_b = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(scales, 0xF5), 0xF5);
      const __m256i qh0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group.qh));
      const __m256i qh1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group.qh + 32));
      __m256i lo[2], hi[2];
      Q6_KLevels<0>(group, qh0, qh1, &lo[0], &hi[0]);
      Q6_KLevels<1>(group, qh0, qh1, &lo[1], &hi[1]);
      for (int t = 0; t < T; ++t) sum[t] = TwoChunks<0>(lo, hi, scale_a, scale_b, x[t][b].qs + 32 * g, sum[t]);
      Q6_KLevels<2>(group, qh0, qh1, &lo[0], &hi[0]);
      Q6_KLevels<3>(group, qh0, qh1, &lo[1], &hi[1]);
      for (int t = 0; t < T; ++t) sum[t] = TwoChunks<2>(lo, hi, scale_a, scale_b, x[t][b].qs + 32 * g, sum[t]);
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < T; ++t) {
      const __m256 total = _mm256_cvtepi32_ps(_mm256_sub_epi32(sum[t], Offset(w[b], x[t][b])));
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

}  // namespace tf::avx2
