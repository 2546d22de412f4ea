// AVX-512 VNNI dot products for Q8_0/Q4_0 weights against Q8_0 activations:
// two blocks per 512-bit register, vpdpbusd for the byte products (the sign
// of the weight moves onto the activation so the weight can be unsigned).
#include "kernels/avx512/avx512_intrinsics.h"
#include "tensor/quant_blocks.h"

namespace tf::TF_AVX512_NS {
namespace {

inline float HalfToFloat(uint16_t h) { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }

// 16 int32 lanes: lanes 0-7 sum block a's products, 8-15 block b's.
inline __m512i SignedDot(__m512i w, __m512i x) {
  const __mmask64 negative = _mm512_movepi8_mask(w);
  const __m512i abs_w = _mm512_abs_epi8(w);
  const __m512i signed_x = _mm512_mask_sub_epi8(x, negative, _mm512_setzero_si512(), x);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), abs_w, signed_x);
}

inline __m512i Join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

inline __m256i LoadQ4Block(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(packed, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

inline __m256i Load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Per-lane scale: d_a in lanes 0-7, d_b in 8-15.
inline __m512 PairScale(float a, float b) {
  return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

// Sum over blocks of d_w * d_x * <q_w, q_x>, two blocks per register;
// `load_w(block)` gives a block's 32 weight levels as signed bytes.
template <typename WeightBlock, typename LoadWeights>
float DotBlocksQ8_0(int64_t nb, const WeightBlock* wb, const BlockQ8_0* xb, LoadWeights load_w) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i qw = Join(load_w(wb[i]), load_w(wb[i + 1]));
    const __m512i qx = Join(Load32(xb[i].qs), Load32(xb[i + 1].qs));
    const __m512 d = PairScale(HalfToFloat(wb[i].d) * HalfToFloat(xb[i].d),
                               HalfToFloat(wb[i + 1].d) * HalfToFloat(xb[i + 1].d));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(SignedDot(qw, qx)), acc);
  }
  if (i < nb) {  // odd block count: the upper half multiplies zeros
    const __m512i qw = Join(load_w(wb[i]), _mm256_setzero_si256());
    const __m512i qx = Join(Load32(xb[i].qs), _mm256_setzero_si256());
    const __m512 d = PairScale(HalfToFloat(wb[i].d) * HalfToFloat(xb[i].d), 0.0f);
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(SignedDot(qw, qx)), acc);
  }
  return ReduceAdd(acc);
}

}  // namespace

float DotQ8_0(int64_t n, const void* w, const void* x) {
  return DotBlocksQ8_0(n / kQK8_0, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [](const BlockQ8_0& b) { return Load32(b.qs); });
}

float DotQ4_0(int64_t n, const void* w, const void* x) {
  return DotBlocksQ8_0(n / kQK4_0, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                       [](const BlockQ4_0& b) { return LoadQ4Block(b.qs); });
}

}  // namespace tf::TF_AVX512_NS
