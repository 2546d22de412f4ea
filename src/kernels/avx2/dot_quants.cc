// AVX2 dot products of quantized weights against 8-bit activations:
// Q4_0/Q8_0 x Q8_0, Q4_K/Q5_K/Q6_K x Q8_K. Integer products via maddubs/madd,
// one float scale per block.
#include <type_traits>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"
#include "tensor/quant_blocks.h"

namespace tf::avx2 {

float DotQ8_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ8_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[i].qs));
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloat(wb[i].d) * HalfToFloat(xb[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8Pairs(qw, qx)), acc);
  }
  return HorizontalSum(acc);
}

float DotQ4_0(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const BlockQ4_0*>(w);
  const auto* xb = static_cast<const BlockQ8_0*>(x);
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256i qw = _mm256_sub_epi8(UnpackNibbles(wb[i].qs), eight);
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloat(wb[i].d) * HalfToFloat(xb[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8Pairs(qw, qx)), acc);
  }
  return HorizontalSum(acc);
}

// Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; Q5_K adds
// one high bit per element (bit `sub` of qh[l] for element l of sub-block
// `sub`). Sub-blocks 2*pair and 2*pair+1 share one 32-byte load of nibbles.
namespace {
template <typename Block>
float DotQ45_K(int64_t n, const void* w, const void* x) {
  constexpr bool kHighBits = std::is_same_v<Block, BlockQ5_K>;
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t scales[8], mins[8];
    int sum_mins = 0;
    for (int sub = 0; sub < 8; ++sub) {
      UnpackKScaleMin(sub, wb[i].scales, &scales[sub], &mins[sub]);
      sum_mins += mins[sub] * (xb[i].bsums[2 * sub] + xb[i].bsums[2 * sub + 1]);
    }
    __m256i acc = _mm256_setzero_si256();
    for (int pair = 0; pair < 4; ++pair) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[i].qs + 32 * pair));
      __m256i q_lo = _mm256_and_si256(q, low_mask);
      __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      if constexpr (kHighBits) {
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[i].qh));
        q_lo = _mm256_or_si256(q_lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * pair), one), 4));
        q_hi = _mm256_or_si256(q_hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * pair + 1), one), 4));
      }
      const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].qs + 64 * pair));
      const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[i].qs + 64 * pair + 32));
      const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, x_lo), _mm256_set1_epi16(scales[2 * pair]));
      const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, x_hi), _mm256_set1_epi16(scales[2 * pair + 1]));
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(p_lo, p_hi));
    }
    const float d = HalfToFloat(wb[i].d) * xb[i].d;
    const float dmin = HalfToFloat(wb[i].dmin) * xb[i].d;
    sum += d * HorizontalSum(_mm256_cvtepi32_ps(acc)) - dmin * sum_mins;
  }
  return sum;
}
}  // namespace

float DotQ4_K(int64_t n, const void* w, const void* x) { return DotQ45_K<BlockQ4_K>(n, w, x); }
float DotQ5_K(int64_t n, const void* w, const void* x) { return DotQ45_K<BlockQ5_K>(n, w, x); }

// Q6_K: 32 elements at a time (a quarter of a 128-element half); the two
// 16-element groups of the quarter have their own scales. T tokens share
// each unpacked quarter. Weights are q - 32 with q in [0, 64): maddubs takes
// q unsigned and the - 32 comes back once per block as 32 * sum over groups
// of scale * bsum, one madd against the block's 16 scales.
template <int T>
inline void DotQ6_KTokens(int64_t n, const BlockQ6_K* wb, const BlockQ8_K* const* xb, float* out) {
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  // Shuffle control for scale pair p: byte 2p in every byte of the low
  // lane, 2p + 1 in the high lane; an arithmetic shift of each int16 by 8
  // then leaves that scale sign-extended in every int16 of its lane.
  __m256i pair_ctrl[8];
  for (int p = 0; p < 8; ++p) pair_ctrl[p] = _mm256_set_m128i(_mm_set1_epi8(char(2 * p + 1)), _mm_set1_epi8(char(2 * p)));
  __m256 sum[T];
  for (int t = 0; t < T; ++t) sum[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m128i scales8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[i].scales));
    const __m256i scales_both = _mm256_broadcastsi128_si256(scales8);
    __m256i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = wb[i].ql + 64 * half;
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[i].qh + 32 * half));
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i nibbles[4] = {
          _mm256_and_si256(ql0, low_mask), _mm256_and_si256(ql1, low_mask),
          _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
          _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask)};
      for (int k = 0; k < 4; ++k) {
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two_bits);
        const __m256i q = _mm256_or_si256(nibbles[k], _mm256_slli_epi16(high, 4));
        const __m256i scale = _mm256_srai_epi16(_mm256_shuffle_epi8(scales_both, pair_ctrl[4 * half + k]), 8);
        for (int t = 0; t < T; ++t) {
          const int8_t* xq = xb[t][i].qs + 128 * half + 32 * k;
          const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
          acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, qx), scale));
        }
      }
    }
    const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
    const float dw = HalfToFloat(wb[i].d);
    for (int t = 0; t < T; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t][i].bsums));
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(scales16, bsums), 5);  // 32 * scale * bsum
      const __m256 dot = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[t], offset));
      sum[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb[t][i].d), dot, sum[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HorizontalSum(sum[t]);
}

float DotQ6_K(int64_t n, const void* w, const void* x) {
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float out;
  DotQ6_KTokens<1>(n, static_cast<const BlockQ6_K*>(w), &xb, &out);
  return out;
}

void DotQ6_Kx4(int64_t n, const void* w, const void* x, size_t x_stride, float* out) {
  const auto* base = static_cast<const uint8_t*>(x);
  const BlockQ8_K* xb[4];
  for (int t = 0; t < 4; ++t) xb[t] = reinterpret_cast<const BlockQ8_K*>(base + t * x_stride);
  DotQ6_KTokens<4>(n, static_cast<const BlockQ6_K*>(w), xb, out);
}

}  // namespace tf::avx2
