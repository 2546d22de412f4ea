// AVX-512 VNNI matrix kernels over packed Q4_K and Q5_K weights against Q8_K
// activations: the AVX2 kernels' unpacking (one 8-row group, 256-bit
// registers), with vpdpbusd summing each sub-block's byte products straight
// into int32 lane r (no int16 stage, so Q5_K needs no split), one vpmulld
// by the rows' scales per sub-block, and the mins through vpdpwssd against
// the activation's bsums. Per row the integers are reference::DotQ4_K's
// and DotQ5_K's.
#include <cstring>
#include <type_traits>

#include "kernels/avx512/avx512_intrinsics.h"
#include "kernels/avx2/k_quant_lanes.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/packed_blocks.h"

namespace tf::TF_AVX512_NS {
namespace {

// Tokens per pass: 8 (4 registers each, of the 32 ymm AVX-512VL gives) spreads
// each unpacking of the levels over twice the dot products of 4, which took
// Q4_K from 250 to 290 GOPS on a Zen 4 core (docs/PERFORMANCE.md, issue 16).
constexpr int kTile = 8;

using namespace k_quant_lanes;


template <typename Packed, int T>
void K45Tile(int64_t n_blocks, const Packed* w, const BlockQ8_K* const* x, float* y, int64_t y_stride) {
  alignas(32) uint8_t values[128];
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    UnpackScaleMins(w[b].scales, values);
    __m256i sum[T], mins[T];
    for (int t = 0; t < T; ++t) sum[t] = mins[t] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      __m256i s[T];
      for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        __m256i lo, hi;
        K45Levels(w[b], g, j, &lo, &hi);
        for (int t = 0; t < T; ++t) {
          const int8_t* xq = x[t][b].qs + 32 * g + 4 * j;
          s[t] = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(s[t], lo, Broadcast4(xq)), hi, Broadcast4(xq + 16));
        }
      }
      const __m256i scale_mins = GroupScaleMins(values, g);
      const __m256i scales = _mm256_and_si256(scale_mins, _mm256_set1_epi32(0xFFFF));  // int32 lane r: the scale
      const __m256i group_mins = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(scale_mins, 0xF5), 0xF5);
      for (int t = 0; t < T; ++t) {
        sum[t] = _mm256_add_epi32(sum[t], _mm256_mullo_epi32(s[t], scales));
        mins[t] = _mm256_dpwssd_epi32(mins[t], group_mins, Broadcast4(x[t][b].bsums + 2 * g));
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].dmin)));
    for (int t = 0; t < T; ++t) {
      const __m256 xd = _mm256_set1_ps(x[t][b].d);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, xd), _mm256_cvtepi32_ps(sum[t]), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, xd), _mm256_cvtepi32_ps(mins[t]), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

template <typename Packed>
struct K45Kernel : packed_gemm::KernelShape<Packed, /*kPairs=*/false, kTile, 0, BlockQ8_K, kQK_K> {
  template <int T>
  static void Tile(int64_t nb, const Packed* w, const BlockQ8_K* const* x, float* y, int64_t s) {
    K45Tile<Packed, T>(nb, w, x, y, s);
  }
};

}  // namespace

void GemmQ4_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<K45Kernel<BlockQ4_Kx8>>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ5_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<K45Kernel<BlockQ5_Kx8>>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

}  // namespace tf::TF_AVX512_NS
