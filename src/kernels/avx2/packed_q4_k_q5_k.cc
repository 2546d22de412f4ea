// AVX2 matrix kernels over packed Q4_K and Q5_K weights (BlockQ4_Kx8,
// BlockQ5_Kx8) against Q8_K activations.
//
// Per 8-row group and super-block: the 128 6-bit scales and mins of the 8
// rows come out of three loads in four steps (packed_blocks.h orders them
// so), once for all tokens of the tile. Each 32-weight sub-block is one
// scale per row: its levels (0..15, or 0..31 with Q5_K's fifth bit) meet
// 4-byte activation broadcasts in vpmaddubsw, the int16 pairs are summed
// (eight loads' worth for Q4_K: |sum| <= 8 * 2 * 15 * 127; four for Q5_K)
// and vpmaddwd by the row's scale puts them into int32 lane r. The mins
// come off per super-block: one vpmaddwd of the rows' mins against each
// sub-block's two bsums. Per row both integers are exactly those of
// reference::DotQ4_K/DotQ5_K.
#include <cstring>
#include <type_traits>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx2/k_quant_lanes.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/float16.h"
#include "tensor/packed_blocks.h"

namespace tf::avx2 {
namespace {

constexpr int kTile = 4;

using namespace k_quant_lanes;
  // tokens per pass over a group's weights

inline __m256i EvenLanes(__m256i v) { return _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(v, 0xA0), 0xA0); }
inline __m256i OddLanes(__m256i v) { return _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(v, 0xF5), 0xF5); }

// Chunks [j0, j0 + n) of group g for T tokens, int16 pairs then vpmaddwd by
// the rows' scales into sum[t].
template <typename Packed, int T>
inline void Chunks(const Packed& w, int g, int j0, int n, __m256i scales, const BlockQ8_K* const* x, int64_t b,
                   __m256i* sum) {
  __m256i p[T];
  for (int j = j0; j < j0 + n; ++j) {
    __m256i lo, hi;
    K45Levels(w, g, j, &lo, &hi);
    for (int t = 0; t < T; ++t) {
      const int8_t* xq = x[t][b].qs + 32 * g + 4 * j;
      const __m256i pair = _mm256_add_epi16(_mm256_maddubs_epi16(lo, Broadcast4(xq)),
                                            _mm256_maddubs_epi16(hi, Broadcast4(xq + 16)));
      p[t] = j == j0 ? pair : _mm256_add_epi16(p[t], pair);
    }
  }
  for (int t = 0; t < T; ++t) sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(p[t], scales));
}

template <typename Packed, int T>
void K45Tile(int64_t n_blocks, const Packed* w, const BlockQ8_K* const* x, float* y, int64_t y_stride) {
  // Q4_K's eight chunk pairs fit int16 in one run; Q5_K's levels are twice
  // as large, so two runs of four.
  constexpr int kRun = std::is_same_v<Packed, BlockQ5_Kx8> ? 2 : 4;
  alignas(32) uint8_t values[128];
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    UnpackScaleMins(w[b].scales, values);
    __m256i sum[T], mins[T];
    for (int t = 0; t < T; ++t) sum[t] = mins[t] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i scales = EvenLanes(GroupScaleMins(values, g));
      for (int j0 = 0; j0 < 4; j0 += kRun) Chunks<Packed, T>(w[b], g, j0, kRun, scales, x, b, sum);
    }
    for (int g = 0; g < 8; ++g) {
      const __m256i group_mins = OddLanes(GroupScaleMins(values, g));
      for (int t = 0; t < T; ++t) {
        mins[t] = _mm256_add_epi32(mins[t], _mm256_madd_epi16(group_mins, Broadcast4(x[t][b].bsums + 2 * g)));
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

// The 4-token tile with named registers: GCC keeps the generic tile's
// arrays on the stack (a store per update). Same operations per token as
// K45Tile, so a token's result does not depend on which tile it went through.
template <typename Packed>
inline __m256i K45Pair(__m256i lo, __m256i hi, const int8_t* xq) {
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, Broadcast4(xq)), _mm256_maddubs_epi16(hi, Broadcast4(xq + 16)));
}

inline __m256 K45Finish(__m256 d, __m256 dmin, const BlockQ8_K& x, __m256i sum, __m256i mins, __m256 acc) {
  const __m256 xd = _mm256_set1_ps(x.d);
  acc = _mm256_fmadd_ps(_mm256_mul_ps(d, xd), _mm256_cvtepi32_ps(sum), acc);
  return _mm256_fnmadd_ps(_mm256_mul_ps(dmin, xd), _mm256_cvtepi32_ps(mins), acc);
}

template <typename Packed>
void K45Tile4(int64_t n_blocks, const Packed* w, const BlockQ8_K* const* x, float* y, int64_t y_stride) {
  constexpr int kRun = std::is_same_v<Packed, BlockQ5_Kx8> ? 2 : 4;
  const BlockQ8_K *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  alignas(32) uint8_t values[128];
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t b = 0; b < n_blocks; ++b) {
    UnpackScaleMins(w[b].scales, values);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (int g = 0; g < 8; ++g) {
      const __m256i scales = EvenLanes(GroupScaleMins(values, g));
      for (int j0 = 0; j0 < 4; j0 += kRun) {
        __m256i p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0;
        for (int j = j0; j < j0 + kRun; ++j) {
          __m256i lo, hi;
          K45Levels(w[b], g, j, &lo, &hi);
          const int off = 32 * g + 4 * j;
          p0 = _mm256_add_epi16(p0, K45Pair<Packed>(lo, hi, x0[b].qs + off));
          p1 = _mm256_add_epi16(p1, K45Pair<Packed>(lo, hi, x1[b].qs + off));
          p2 = _mm256_add_epi16(p2, K45Pair<Packed>(lo, hi, x2[b].qs + off));
          p3 = _mm256_add_epi16(p3, K45Pair<Packed>(lo, hi, x3[b].qs + off));
          __asm__("" : "+x"(p0), "+x"(p1), "+x"(p2), "+x"(p3));  // no reassociation across j
        }
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, scales));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, scales));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(p2, scales));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(p3, scales));
      }
    }
    __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
    for (int g = 0; g < 8; ++g) {
      const __m256i group_mins = OddLanes(GroupScaleMins(values, g));
      m0 = _mm256_add_epi32(m0, _mm256_madd_epi16(group_mins, Broadcast4(x0[b].bsums + 2 * g)));
      m1 = _mm256_add_epi32(m1, _mm256_madd_epi16(group_mins, Broadcast4(x1[b].bsums + 2 * g)));
      m2 = _mm256_add_epi32(m2, _mm256_madd_epi16(group_mins, Broadcast4(x2[b].bsums + 2 * g)));
      m3 = _mm256_add_epi32(m3, _mm256_madd_epi16(group_mins, Broadcast4(x3[b].bsums + 2 * g)));
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].dmin)));
    a0 = K45Finish(d, dmin, x0[b], s0, m0, a0);
    a1 = K45Finish(d, dmin, x1[b], s1, m1, a1);
    a2 = K45Finish(d, dmin, x2[b], s2, m2, a2);
    a3 = K45Finish(d, dmin, x3[b], s3, m3, a3);
  }
  _mm256_storeu_ps(y, a0);
  _mm256_storeu_ps(y + y_stride, a1);
  _mm256_storeu_ps(y + 2 * y_stride, a2);
  _mm256_storeu_ps(y + 3 * y_stride, a3);
}

template <typename Packed>
struct K45Kernel : packed_gemm::KernelShape<Packed, /*kPairs=*/false, kTile, 0, BlockQ8_K, kQK_K> {
  template <int T>
  static void Tile(int64_t nb, const Packed* w, const BlockQ8_K* const* x, float* y, int64_t s) {
    if constexpr (T == 4) {
      K45Tile4<Packed>(nb, w, x, y, s);
    } else {
      K45Tile<Packed, T>(nb, w, x, y, s);
    }
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

}  // namespace tf::avx2
