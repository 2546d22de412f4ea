// AVX2 float matrix product C (+)= A * B with row-major A [m x k], B [k x n]:
// a 4 x 16 register tile (8 accumulators), one broadcast of A per row and
// two loads of B per step, so the FMA units set the pace. Ragged edges use
// narrower tiles and a scalar tail.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

// The main tile written out by hand: GCC keeps an accumulator array of the
// generic tile in memory (a store per FMA), which halves the FMA rate.
void Tile4x16(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              bool accumulate) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31;
  if (accumulate) {
    c00 = _mm256_loadu_ps(c), c01 = _mm256_loadu_ps(c + 8);
    c10 = _mm256_loadu_ps(c + ldc), c11 = _mm256_loadu_ps(c + ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
  } else {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = _mm256_setzero_ps();
  }
  const float* a0 = a;
  const float* a1 = a + lda;
  const float* a2 = a + 2 * lda;
  const float* a3 = a + 3 * lda;
  for (int64_t p = 0; p < k; ++p, b += ldb) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a0 + p);
    c00 = _mm256_fmadd_ps(av, b0, c00), c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a1 + p);
    c10 = _mm256_fmadd_ps(av, b0, c10), c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a2 + p);
    c20 = _mm256_fmadd_ps(av, b0, c20), c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a3 + p);
    c30 = _mm256_fmadd_ps(av, b0, c30), c31 = _mm256_fmadd_ps(av, b1, c31);
  }
  _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01);
  _mm256_storeu_ps(c + ldc, c10), _mm256_storeu_ps(c + ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
}

template <int M>
void RowBlock(int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              bool accumulate) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    if constexpr (M == 4) {
      Tile4x16(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
    } else {
      Tile<M, 2>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
    }
  }
  for (; j + 8 <= n; j += 8) Tile<M, 1>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j < n; ++j) {  // fewer than 8 columns left
    for (int i = 0; i < M; ++i) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b[p * ldb + j];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
    }
  }
}

// [sum(v0), ..., sum(v7)] in one vector.
inline __m256 ReduceEight(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4, __m256 v5, __m256 v6,
                          __m256 v7) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(v4, v5), _mm256_hadd_ps(v6, v7));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Rows i0, i1 of A against rows j..j+3 of B over k (a multiple of 8):
// returns [c(i0, j..j+3), c(i1, j..j+3)]. Without a1 (an odd last row) the
// second half is zero and row i0's sums are bit-identical to the paired
// case: results never depend on how many rows share a call (batch
// invariance).
inline __m256 DotTile2x4(int64_t k, const float* a0, const float* a1, const float* b, int64_t ldb) {
  __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
  if (a1 == nullptr) {
    for (int64_t p = 0; p < k; p += 8) {
      const __m256 x0 = _mm256_loadu_ps(a0 + p);
      s00 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + p), s00);
      s01 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + ldb + p), s01);
      s02 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + 2 * ldb + p), s02);
      s03 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + 3 * ldb + p), s03);
    }
    return ReduceEight(s00, s01, s02, s03, s10, s11, s12, s13);
  }
  for (int64_t p = 0; p < k; p += 8) {
    const __m256 x0 = _mm256_loadu_ps(a0 + p), x1 = _mm256_loadu_ps(a1 + p);
    __m256 y = _mm256_loadu_ps(b + p);
    s00 = _mm256_fmadd_ps(x0, y, s00), s10 = _mm256_fmadd_ps(x1, y, s10);
    y = _mm256_loadu_ps(b + ldb + p);
    s01 = _mm256_fmadd_ps(x0, y, s01), s11 = _mm256_fmadd_ps(x1, y, s11);
    y = _mm256_loadu_ps(b + 2 * ldb + p);
    s02 = _mm256_fmadd_ps(x0, y, s02), s12 = _mm256_fmadd_ps(x1, y, s12);
    y = _mm256_loadu_ps(b + 3 * ldb + p);
    s03 = _mm256_fmadd_ps(x0, y, s03), s13 = _mm256_fmadd_ps(x1, y, s13);
  }
  return ReduceEight(s00, s01, s02, s03, s10, s11, s12, s13);
}

float DotScalar(int64_t k, const float* a, const float* b) {
  float sum = 0.0f;
  for (int64_t p = 0; p < k; ++p) sum += a[p] * b[p];
  return sum;
}

}  // namespace

void SgemmNT(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc) {
  if (k % 8 != 0) {  // not a shape attention produces; plain loops
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = DotScalar(k, a + i * lda, b + j * ldb);
    }
    return;
  }
  std::vector<float> tail;  // the last n % 4 rows of B, padded to 4
  for (int64_t i = 0; i < m; i += 2) {
    const float* a0 = a + i * lda;
    const bool pair = i + 1 < m;
    const float* a1 = pair ? a0 + lda : nullptr;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      alignas(32) float out[8];
      _mm256_store_ps(out, DotTile2x4(k, a0, a1, b + j * ldb, ldb));
      std::memcpy(c + i * ldc + j, out, 4 * sizeof(float));
      if (pair) std::memcpy(c + (i + 1) * ldc + j, out + 4, 4 * sizeof(float));
    }
    if (j < n) {
      // The last 1-3 rows of B go through the same 4-wide tile (zero rows
      // pad it), so a row's result never depends on where a caller's row
      // range happened to end (batch invariance across thread splits).
      if (tail.empty()) {
        tail.assign(static_cast<size_t>(4 * k), 0.0f);
        for (int64_t t = 0; t < n - j; ++t) std::memcpy(tail.data() + t * k, b + (j + t) * ldb, k * sizeof(float));
      }
      alignas(32) float out[8];
      _mm256_store_ps(out, DotTile2x4(k, a0, a1, tail.data(), k));
      std::memcpy(c + i * ldc + j, out, (n - j) * sizeof(float));
      if (pair) std::memcpy(c + (i + 1) * ldc + j, out + 4, (n - j) * sizeof(float));
    }
  }
}

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
