// Attention's building blocks on every ISA against the scalar reference:
// the float GEMMs (C = A B, C += A B, C = A B^T) on ragged shapes, and the
// vectorized exp-and-sum, plus flash attention against a naive softmax over
// a long context with a bf16 cache.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/flash_attention.h"
#include "kernels/kernel_tables.h"
#include "kernels/reference/reference_kernels.h"
#include "tensor/float16.h"

namespace tf {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

class AttentionKernelsTest : public ::testing::TestWithParam<testing::NamedTable> {};

TEST_P(AttentionKernelsTest, SgemmMatchesReference) {
  const KernelTable& kernels = *GetParam().table;
  for (int64_t m : {1, 3, 4, 9}) {
    for (int64_t n : {1, 7, 16, 37}) {
      for (int64_t k : {1, 8, 64, 70}) {
        const int64_t lda = k + 1, ldb = n + 2, ldc = n + 3;
        const std::vector<float> a = Random(m * lda, 1), b = Random(k * ldb, 2), c0 = Random(m * ldc, 3);
        for (bool accumulate : {false, true}) {
          std::vector<float> want = c0, got = c0;
          reference::Sgemm(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc, accumulate);
          kernels.sgemm(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate);
          for (size_t i = 0; i < want.size(); ++i) {
            // Summation order differs: relative 1e-5 of the magnitude (sqrt(k) terms of size 1).
            ASSERT_NEAR(got[i], want[i], 1e-5f * (std::fabs(want[i]) + k)) << m << "x" << n << "x" << k;
          }
        }
      }
    }
  }
}

TEST_P(AttentionKernelsTest, SgemmNTMatchesReference) {
  const KernelTable& kernels = *GetParam().table;
  for (int64_t m : {1, 2, 5, 8}) {
    for (int64_t n : {1, 3, 4, 64, 65}) {
      for (int64_t k : {8, 64, 576, 5}) {
        const int64_t lda = k + 8, ldb = k + 16, ldc = n + 1;
        const std::vector<float> a = Random(m * lda, 4), b = Random(n * ldb, 5);
        std::vector<float> want(m * ldc, -1.0f), got(m * ldc, -1.0f);
        reference::SgemmNT(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc);
        kernels.sgemm_nt(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], 1e-5f * (std::fabs(want[i]) + k)) << m << "x" << n << "x" << k << " @" << i;
        }
      }
    }
  }
}

TEST_P(AttentionKernelsTest, ExpSumMatchesStdExp) {
  const KernelTable& kernels = *GetParam().table;
  std::vector<float> x = Random(203, 6);
  for (float& v : x) v *= 30.0f;  // down to far below the max: exercises underflow
  x[17] = -1e30f;                 // a score that underflows completely
  float shift = 0;
  for (float v : x) shift = std::max(shift, v);
  std::vector<float> got = x;
  const float sum = kernels.exp_sum(got.data(), static_cast<int64_t>(got.size()), shift);
  double want_sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i] - shift));  // the argument as float, as specified
    want_sum += want;
    // The polynomial is good to a few float ulps; results below e^-87 are 0.
    ASSERT_NEAR(got[i], want, 1e-6 * want + 1e-37) << i << " x=" << x[i];
  }
  EXPECT_NEAR(sum, want_sum, 1e-5 * want_sum);
}

// A long context (several key blocks, one partial) through a bf16 cache in
// scattered blocks, rows with different causal limits, against float64.
TEST_P(AttentionKernelsTest, FlashAttentionMatchesNaiveSoftmax) {
  const KernelTable& kernels = *GetParam().table;
  const int dim = 40, dim_v = 24, n_pos = 3 * kFlashKeyBlock + 17, n_rows = 5;
  const std::vector<float> keys = Random(n_pos * dim, 7), values = Random(n_pos * dim_v, 8), q = Random(n_rows * dim, 9);
  // Cache rows in reverse order in memory (not evenly spaced as the kernel's
  // fast path wants going forward), rounded to bf16.
  std::vector<uint16_t> k_cache(n_pos * dim), v_cache(n_pos * dim_v);
  std::vector<const void*> k_rows(n_pos), v_rows(n_pos);
  for (int p = 0; p < n_pos; ++p) {
    const int slot = n_pos - 1 - p;
    for (int d = 0; d < dim; ++d) k_cache[slot * dim + d] = FloatToBf16(keys[p * dim + d]);
    for (int d = 0; d < dim_v; ++d) v_cache[slot * dim_v + d] = FloatToBf16(values[p * dim_v + d]);
    k_rows[p] = k_cache.data() + slot * dim;
    v_rows[p] = v_cache.data() + slot * dim_v;
  }
  const std::vector<int64_t> last_pos = {0, 63, 64, 150, n_pos - 1};
  std::vector<float> out(n_rows * dim_v);
  FlashScratch scratch;
  const float scale = 0.3f;
  FlashAttend(kernels, {k_rows, v_rows, 0, 0, DType::kBF16, dim, dim_v, scale},
              {q.data(), n_rows, last_pos.data(), out.data()}, &scratch);
  for (int r = 0; r < n_rows; ++r) {
    std::vector<double> w(last_pos[r] + 1);
    double max = -1e300, total = 0;
    for (int64_t p = 0; p <= last_pos[r]; ++p) {
      double dot = 0;
      for (int d = 0; d < dim; ++d) dot += double(q[r * dim + d]) * Bf16ToFloat(k_cache[(n_pos - 1 - p) * dim + d]);
      w[p] = dot * scale;
      max = std::max(max, w[p]);
    }
    for (double& v : w) total += (v = std::exp(v - max));
    for (int d = 0; d < dim_v; ++d) {
      double want = 0;
      for (int64_t p = 0; p <= last_pos[r]; ++p) want += w[p] / total * Bf16ToFloat(v_cache[(n_pos - 1 - p) * dim_v + d]);
      ASSERT_NEAR(out[r * dim_v + d], want, 1e-4) << "row " << r << " dim " << d;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, AttentionKernelsTest, ::testing::ValuesIn(testing::TablesToTest()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tf
