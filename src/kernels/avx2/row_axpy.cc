// AVX2 row_axpy for Q4_0, Q8_0 and F32 rows: each block of 32 weights is
// widened to four float vectors once and then added into every output row.
#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"
#include "tensor/quant_blocks.h"

namespace tf::avx2 {
namespace {

// y_t[0..32) += a_t * w[0..32) for the n output rows.
inline void AddBlock(const __m256 w[4], const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride) {
  for (int64_t t = 0; t < n; ++t) {
    const __m256 coeff = _mm256_set1_ps(a[t * a_stride]);
    float* out = y + t * y_stride;
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(out + 8 * j, _mm256_fmadd_ps(coeff, w[j], _mm256_loadu_ps(out + 8 * j)));
    }
  }
}

// 32 int8 weights times their block scale, as four float vectors.
inline void WidenScaled(__m256i q, float d, __m256 w[4]) {
  const __m256 scale = _mm256_set1_ps(d);
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  w[0] = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)));
  w[1] = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))));
  w[2] = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)));
  w[3] = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))));
}

}  // namespace

void RowAxpyQ4_0(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride) {
  const auto* blocks = static_cast<const BlockQ4_0*>(w);
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 wf[4];
  for (int64_t b = 0; b < k / kQK4_0; ++b) {
    WidenScaled(_mm256_sub_epi8(UnpackNibbles(blocks[b].qs), eight), HalfToFloat(blocks[b].d), wf);
    AddBlock(wf, a, a_stride, n, y + b * kQK4_0, y_stride);
  }
}

void RowAxpyQ8_0(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride) {
  const auto* blocks = static_cast<const BlockQ8_0*>(w);
  __m256 wf[4];
  for (int64_t b = 0; b < k / kQK8_0; ++b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs));
    WidenScaled(q, HalfToFloat(blocks[b].d), wf);
    AddBlock(wf, a, a_stride, n, y + b * kQK8_0, y_stride);
  }
}

void RowAxpyF32(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride) {
  const auto* row = static_cast<const float*>(w);
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    const __m256 wf[4] = {_mm256_loadu_ps(row + i), _mm256_loadu_ps(row + i + 8), _mm256_loadu_ps(row + i + 16),
                          _mm256_loadu_ps(row + i + 24)};
    AddBlock(wf, a, a_stride, n, y + i, y_stride);
  }
  for (; i < k; ++i) {  // a tail shorter than one vector group
    for (int64_t t = 0; t < n; ++t) y[t * y_stride + i] += a[t * a_stride] * row[i];
  }
}

}  // namespace tf::avx2
