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
  const float max_abs = HorizontalMax(amax);
  if (max_abs == 0.0f) return 0.0f;
  const __m256 target = _mm256_set1_ps(max_abs);
  for (int j = 0; j < kVectors; ++j) {
    const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign_bit, v[j]), target, _CMP_EQ_OQ));
    if (hits != 0) return x[8 * j + __builtin_ctz(static_cast<unsigned>(hits))];
  }
  return 0.0f;  // unreachable: some lane holds the maximum
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
  for (int j = 0; j < kVectors; j += 4) {  // 32 values: 4 vectors, 2 sums of 16
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[j + i], scale)), limit);
    out->bsums[j / 2] = static_cast<int16_t>(HorizontalSumI32(_mm256_add_epi32(q[0], q[1])));
    out->bsums[j / 2 + 1] = static_cast<int16_t>(HorizontalSumI32(_mm256_add_epi32(q[2], q[3])));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out->qs + 8 * j), PackBytes(q[0], q[1], q[2], q[3]));
  }
  out->d = 1.0f / iscale;
}

}  // namespace

void QuantizeQ8_K(const float* x, void* y, int64_t n) {
  auto* out = static_cast<BlockQ8_K*>(y);
  for (int64_t i = 0; i < n / kQK_K; ++i) QuantizeBlock(x + i * kQK_K, out + i);
}

}  // namespace tf::avx2
