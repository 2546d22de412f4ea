// AVX-512 float matrix products for attention and MLA's absorbed
// projections.
//
// Sgemm, C (+)= A * B: 4 rows x 32 columns per register tile (8 zmm
// accumulators, one broadcast of A per row, two loads of B per step), then
// 16- and 8-column tiles and the AVX2 kernel's scalar tail. Every element
// of C is the same FMA chain over k as in the AVX2 kernel (from zero or
// from C, one fused multiply-add per step, in order), only more columns
// share an instruction, so the result is bit-identical to it: MLA's
// absorbed key relies on sgemm and row_axpy producing the same sums.
//
// SgemmNT, C = A * B^T (scores): 2 rows of A x 4 rows of B per tile with
// 16-lane partial sums over k (k a multiple of 16), reduced at the end. A
// row's result never depends on whether it was paired or how many rows of
// B a call has (the odd last row and the last 1-3 rows of B go through the
// same tile, padded), so results are batch-invariant within this table.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx512/avx512_intrinsics.h"

namespace tf::TF_AVX512_NS {
namespace {

// Rows [0, M) x columns [0, 16 * W) of C in zmm registers.
template <int M, int W>
inline void Tile512(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                    bool accumulate) {
  __m512 acc[M][W];
  for (int i = 0; i < M; ++i) {
    for (int w = 0; w < W; ++w) acc[i][w] = accumulate ? _mm512_loadu_ps(c + i * ldc + 16 * w) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    __m512 bv[W];
    for (int w = 0; w < W; ++w) bv[w] = _mm512_loadu_ps(b + p * ldb + 16 * w);
    for (int i = 0; i < M; ++i) {
      const __m512 av = _mm512_set1_ps(a[i * lda + p]);
      for (int w = 0; w < W; ++w) acc[i][w] = _mm512_fmadd_ps(av, bv[w], acc[i][w]);
    }
  }
  for (int i = 0; i < M; ++i) {
    for (int w = 0; w < W; ++w) _mm512_storeu_ps(c + i * ldc + 16 * w, acc[i][w]);
  }
}

// 8 columns: the AVX2 kernel's narrow tile.
template <int M>
inline void Tile256(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                    bool accumulate) {
  __m256 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = accumulate ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const __m256 bv = _mm256_loadu_ps(b + p * ldb);
    for (int i = 0; i < M; ++i) acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(a[i * lda + p]), bv, acc[i]);
  }
  for (int i = 0; i < M; ++i) _mm256_storeu_ps(c + i * ldc, acc[i]);
}

template <int M>
void RowBlock(int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              bool accumulate) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) Tile512<M, 2>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j + 16 <= n; j += 16) Tile512<M, 1>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j + 8 <= n; j += 8) Tile256<M>(k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  if (j < n) {
    // Fewer than 8 columns left: the AVX2 kernel's own tail, for the same sums.
    avx2::Sgemm(M, n - j, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
  }
}

inline __m256 Halves(__m512 v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); }

// [sum(v0), ..., sum(v7)] in one vector.
inline __m256 ReduceEight(const __m512* v) {
  __m256 h[8];
  for (int i = 0; i < 8; ++i) h[i] = Halves(v[i]);
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(h[4], h[5]), _mm256_hadd_ps(h[6], h[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Rows a0, a1 of A against rows 0..3 of b over k (a multiple of 16):
// [c(a0, 0..3), c(a1, 0..3)]. Without a1 the second half is zero and a0's
// sums are the same as when paired.
inline __m256 DotTile2x4(int64_t k, const float* a0, const float* a1, const float* b, int64_t ldb) {
  __m512 s[8];
  for (__m512& v : s) v = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; p += 16) {
    const __m512 x0 = _mm512_loadu_ps(a0 + p);
    const __m512 x1 = a1 != nullptr ? _mm512_loadu_ps(a1 + p) : _mm512_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      const __m512 y = _mm512_loadu_ps(b + j * ldb + p);
      s[j] = _mm512_fmadd_ps(x0, y, s[j]);
      if (a1 != nullptr) s[4 + j] = _mm512_fmadd_ps(x1, y, s[4 + j]);
    }
  }
  return ReduceEight(s);
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

void SgemmNT(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc) {
  if (k % 16 != 0) {  // the AVX2 kernel's 8-lane sums (and its plain loops for other k)
    avx2::SgemmNT(m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  std::vector<float> tail;  // the last n % 4 rows of B, padded to 4 with zero rows
  for (int64_t i = 0; i < m; i += 2) {
    const float* a0 = a + i * lda;
    const bool pair = i + 1 < m;
    const float* a1 = pair ? a0 + lda : nullptr;
    for (int64_t j = 0; j < n; j += 4) {
      const int64_t count = std::min<int64_t>(4, n - j);
      const float* rows = b + j * ldb;
      int64_t ld = ldb;
      if (count < 4) {
        if (tail.empty()) {
          tail.assign(static_cast<size_t>(4 * k), 0.0f);
          for (int64_t t = 0; t < count; ++t) std::memcpy(tail.data() + t * k, rows + t * ldb, k * sizeof(float));
        }
        rows = tail.data();
        ld = k;
      }
      alignas(32) float out[8];
      _mm256_store_ps(out, DotTile2x4(k, a0, a1, rows, ld));
      std::memcpy(c + i * ldc + j, out, count * sizeof(float));
      if (pair) std::memcpy(c + (i + 1) * ldc + j, out + 4, count * sizeof(float));
    }
  }
}

}  // namespace tf::TF_AVX512_NS
