// AVX2 float matrix product C (+)= A * B with row-major A [m x k], B [k x n]:
// a 4 x 16 register tile (8 accumulators), one broadcast of A per row and
// two loads of B per step, so the FMA units set the pace. Ragged edges use
// narrower tiles and a scalar tail.
#include <algorithm>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"

namespace tf::avx2 {
namespace {

// Rows [0, M) x columns [j, j + 8 * W) of C, W in {1, 2}.
template <int M, int W>
inline void Tile(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                 bool accumulate) {
  __m256 acc[M][W];
  for (int i = 0; i < M; ++i) {
    for (int w = 0; w < W; ++w) acc[i][w] = accumulate ? _mm256_loadu_ps(c + i * ldc + 8 * w) : _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    __m256 bv[W];
    for (int w = 0; w < W; ++w) bv[w] = _mm256_loadu_ps(b + p * ldb + 8 * w);
    for (int i = 0; i < M; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * lda + p);
      for (int w = 0; w < W; ++w) acc[i][w] = _mm256_fmadd_ps(av, bv[w], acc[i][w]);
    }
  }
  for (int i = 0; i < M; ++i) {
    for (int w = 0; w < W; ++w) _mm256_storeu_ps(c + i * ldc + 8 * w, acc[i][w]);
  }
}

template <int M>
void RowBlock(int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              bool accumulate) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) Tile<M, 2>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j + 8 <= n; j += 8) Tile<M, 1>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j < n; ++j) {  // fewer than 8 columns left
    for (int i = 0; i < M; ++i) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b[p * ldb + j];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
    }
  }
}

}  // namespace

void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
           int64_t ldc, bool accumulate) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) RowBlock<4>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
  switch (m - i) {
    case 3: RowBlock<3>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 2: RowBlock<2>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 1: RowBlock<1>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    default: break;
  }
}

}  // namespace tf::avx2
