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
// each unpacked quarter.
template <int T>
inline void DotQ6_KTokens(int64_t n, const BlockQ6_K* wb, const BlockQ8_K* const* xb, float* out) {
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  float sum[T] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
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
        const int g = 8 * half + 2 * k;
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(wb[i].scales[g + 1]), _mm_set1_epi16(wb[i].scales[g]));
        for (int t = 0; t < T; ++t) {
          const int8_t* xq = xb[t][i].qs + 128 * half + 32 * k;
          const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
          acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, qx), scale));
        }
      }
    }
    const float dw = HalfToFloat(wb[i].d);
    for (int t = 0; t < T; ++t) {
      int offset_correction = 0;  // sum over groups of scale * 32 * sum(x)
      for (int g = 0; g < 16; ++g) offset_correction += wb[i].scales[g] * xb[t][i].bsums[g];
      const __m128i acc128 = _mm_add_epi32(_mm256_castsi256_si128(acc[t]), _mm256_extracti128_si256(acc[t], 1));
      const __m128i s2 = _mm_add_epi32(acc128, _mm_shuffle_epi32(acc128, 0x4E));
      const __m128i s1 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1));
      sum[t] += dw * xb[t][i].d * static_cast<float>(_mm_cvtsi128_si32(s1) - 32 * offset_correction);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = sum[t];
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
