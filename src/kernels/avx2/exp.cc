// AVX2 bodies built on a vectorized exp: attention's exp-and-sum and the
// gated feed-forward's SiLU.
#include <cmath>
#include <cstring>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"

namespace tf::avx2 {
namespace {

// e^v for v in [-87, 88]: range reduction to 2^k * e^r with |r| <= ln2/2,
// a degree-6 polynomial for e^r (relative error ~2e-7), and k added to the
// exponent bits (88 still gives a finite float).
inline __m256 ExpClamped(__m256 v) {
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(v, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_fnmadd_ps(k, ln2_lo, _mm256_fnmadd_ps(k, ln2_hi, v));
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_cvtps_epi32(k), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), exponent));
}

}  // namespace

// x[i] = exp(x[i] - shift) for x[i] <= shift, returning the sum; results
// below e^-87 are 0.
float ExpSum(float* x, int64_t n, float shift) {
  const __m256 lowest = _mm256_set1_ps(-87.0f);
  const __m256 shift_v = _mm256_set1_ps(shift);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), shift_v);
    const __m256 underflow = _mm256_cmp_ps(v, lowest, _CMP_LT_OQ);
    const __m256 e = _mm256_andnot_ps(underflow, ExpClamped(_mm256_max_ps(v, lowest)));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  float total = HorizontalSum(sum);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    total += x[i];
  }
  return total;
}

namespace {

// gate / (1 + e^-gate) * up for 8 lanes. e^-gate is clamped to [e^-87,
// e^88]: beyond it the sigmoid is 1, or gate / e^88 (< 1e-36) against 0.
inline __m256 SiluMul8(__m256 g, __m256 u) {
  const __m256 neg = _mm256_min_ps(_mm256_max_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(-87.0f)),
                                   _mm256_set1_ps(88.0f));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), ExpClamped(neg))), u);
}

}  // namespace

// The last n % 8 elements go through the same 8-lane body (padded), so an
// element's value never depends on where its row was split.
void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, SiluMul8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i == n) return;
  alignas(32) float g[8] = {}, u[8] = {}, o[8];
  std::memcpy(g, gate + i, (n - i) * sizeof(float));
  std::memcpy(u, up + i, (n - i) * sizeof(float));
  _mm256_store_ps(o, SiluMul8(_mm256_load_ps(g), _mm256_load_ps(u)));
  std::memcpy(out + i, o, (n - i) * sizeof(float));
}

}  // namespace tf::avx2
