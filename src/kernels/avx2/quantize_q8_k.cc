// AVX2 quantizer of float rows into Q8_K blocks (the activations of the
// K-quant kernels): the same bytes as the scalar QuantizeRow(kQ8_K), which
// took 6-8% of a Q4_K prefill. Per 256-value block: the value of largest
// magnitude (the first one, with its sign), iscale = -127 / that value,
// q = min(127, round-to-nearest-even(iscale * x)) (one float multiply, as
// lrintf in the default rounding mode), the 16 sums of 16 and d = 1 / iscale.
#include <cstring>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"
#include "tensor/quant_blocks.h"

namespace tf::avx2 {
namespace {

constexpr int kVectors = kQK_K / 8;  // 8-float vectors per block

// The first element whose magnitude equals the block's largest, with its
// sign (what the scalar loop's strict "greater than" keeps).
float SignedAbsMax(const float* x, const __m256* v) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  for (int j = 0; j < kVectors; ++j) amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[j]), amax);
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float max_abs = _mm_cvtss_f32(m);
  if (max_abs == 0.0f) return 0.0f;
  const __m256 target = _mm256_set1_ps(max_abs);
  for (int j = 0; j < kVectors; ++j) {
    const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign_bit, v[j]), target, _CMP_EQ_OQ));
    if (hits != 0) return x[8 * j + __builtin_ctz(static_cast<unsigned>(hits))];
  }
  return 0.0f;  // unreachable: some lane holds the maximum
}

int32_t HorizontalSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

void QuantizeBlock(const float* x, BlockQ8_K* out) {
  __m256 v[kVectors];
  for (int j = 0; j < kVectors; ++j) v[j] = _mm256_loadu_ps(x + 8 * j);
  const float max = SignedAbsMax(x, v);
  if (max == 0.0f) {
    std::memset(out, 0, sizeof(BlockQ8_K));
    return;
  }
  const float iscale = -127.0f / max;
  const __m256 scale = _mm256_set1_ps(iscale);
  const __m256i limit = _mm256_set1_epi32(127);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int j = 0; j < kVectors; j += 4) {  // 32 values: 4 vectors, 2 sums of 16
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[j + i], scale)), limit);
    out->bsums[j / 2] = static_cast<int16_t>(HorizontalSumI32(_mm256_add_epi32(q[0], q[1])));
    out->bsums[j / 2 + 1] = static_cast<int16_t>(HorizontalSumI32(_mm256_add_epi32(q[2], q[3])));
    // packs interleave 128-bit lanes; the permute restores element order.
    const __m256i lo = _mm256_packs_epi32(q[0], q[1]);
    const __m256i hi = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(lo, hi), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out->qs + 8 * j), bytes);
  }
  out->d = 1.0f / iscale;
}

}  // namespace

void QuantizeQ8_K(const float* x, void* y, int64_t n) {
  auto* out = static_cast<BlockQ8_K*>(y);
  for (int64_t i = 0; i < n / kQK_K; ++i) QuantizeBlock(x + i * kQK_K, out + i);
}

}  // namespace tf::avx2
