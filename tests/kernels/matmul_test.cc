// MatMul against naive float64 loops on random shapes with
// ragged row counts, for every compiled instruction set.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernel_tables.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "tensor/dequantize.h"
#include "tensor/quantize.h"

namespace tf {
namespace {

class MatMulTest : public ::testing::TestWithParam<testing::NamedTable> {};

TEST_P(MatMulTest, MatchesDequantizedFloat64Product) {
  const KernelTable& kernels = *GetParam().table;
  ThreadPool pool(3);
  MatmulScratch scratch;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K}) {
    const int64_t k = 512, m = 37, n_tokens = 19;  // m, n not multiples of the tiles
    std::vector<float> w_f(k * m), x(k * n_tokens);
    for (float& v : w_f) v = dist(rng);
    for (float& v : x) v = dist(rng);
    const size_t row_bytes = *RowBytes(type, k);
    std::vector<uint8_t> w_q(row_bytes * m);
    for (int64_t r = 0; r < m; ++r) QuantizeRow(type, w_f.data() + r * k, w_q.data() + r * row_bytes, k);
    TensorView w;
    w.type = type;
    w.n_dims = 2;
    w.ne = {k, m, 1, 1};
    w.data = w_q.data();
    w.nbytes = w_q.size();
    const int64_t y_stride = m + 3;
    std::vector<float> y(n_tokens * y_stride, -7.0f);
    MatMul(kernels, w, x.data(), n_tokens, y.data(), y_stride, &scratch, &pool);
    std::vector<float> w_deq(k);
    for (int64_t r = 0; r < m; ++r) {
      DequantizeRow(type, w_q.data() + r * row_bytes, w_deq.data(), k);
      for (int64_t t = 0; t < n_tokens; ++t) {
        double exact = 0.0, magnitude = 0.0;
        for (int64_t i = 0; i < k; ++i) {
          exact += static_cast<double>(w_deq[i]) * x[t * k + i];
          magnitude += std::fabs(w_deq[i] * x[t * k + i]);
        }
        // 8-bit activation quantization for quantized weights: error up to
        // about 1/127 of the activation scale per term.
        const double tol = type == DType::kF32 || type == DType::kF16 ? 1e-4 * magnitude : 0.02 * magnitude;
        ASSERT_NEAR(y[t * y_stride + r], exact, tol) << DTypeName(type) << " r=" << r << " t=" << t;
      }
    }
    for (int64_t t = 0; t < n_tokens; ++t) {  // the padding columns are untouched
      for (int64_t r = m; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -7.0f);
    }
  }
}

// The table's SiLU against the scalar one on values from far negative to
// far positive (both clamps of e^-g), in place, and over ragged lengths
// whose tails take the padded path.
TEST_P(MatMulTest, SiluMulMatchesReference) {
  const KernelTable& kernels = *GetParam().table;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (int64_t n : {1, 7, 8, 13, 64, 203}) {
    std::vector<float> gate(n), up(n);
    for (int64_t i = 0; i < n; ++i) {
      gate[i] = dist(rng);
      up[i] = dist(rng);
    }
    if (n > 10) {
      gate[3] = -200.0f;
      gate[5] = 150.0f;
      gate[9] = -88.5f;
    }
    std::vector<float> want(n), got = gate;
    SiluMul(gate.data(), up.data(), n, want.data());
    kernels.silu_mul(got.data(), up.data(), n, got.data());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-30f) << "n=" << n << " i=" << i << " g=" << gate[i];
    }
  }
}

// row_axpy against y + a * dequantize(row) in float64, for every type the
// table has one for, over several output rows with strides, a row length
// with a float tail, and the columns past k left alone.
TEST_P(MatMulTest, RowAxpyMatchesDequantizedRow) {
  const KernelTable& kernels = *GetParam().table;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  int tested = 0;
  for (size_t slot = 0; slot < kNumDTypeSlots; ++slot) {
    const RowAxpyFn fn = kernels.row_axpy[slot];
    const DType type = static_cast<DType>(slot);
    if (fn == nullptr || !CanQuantize(type)) continue;
    const int64_t k = Traits(type).block_size == 1 ? 517 : 512, n = 5, a_stride = 3, y_stride = k + 9;
    std::vector<float> w_f(k), a(n * a_stride), w_deq(k);
    for (float& v : w_f) v = dist(rng);
    for (float& v : a) v = dist(rng);
    std::vector<uint8_t> w_q(*RowBytes(type, k));
    QuantizeRow(type, w_f.data(), w_q.data(), k);
    DequantizeRow(type, w_q.data(), w_deq.data(), k);
    std::vector<float> y(n * y_stride);
    for (float& v : y) v = dist(rng);
    const std::vector<float> y0 = y;
    fn(k, w_q.data(), a.data(), a_stride, n, y.data(), y_stride);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < y_stride; ++i) {
        const double want = i < k ? y0[t * y_stride + i] + static_cast<double>(a[t * a_stride]) * w_deq[i]
                                  : y0[t * y_stride + i];
        ASSERT_NEAR(y[t * y_stride + i], want, 1e-5 * (1.0 + std::fabs(want)))
            << DTypeName(type) << " t=" << t << " i=" << i;
      }
    }
    ++tested;
  }
  EXPECT_GE(tested, 3);  // every table has at least the scalar Q4_0, Q8_0, F32
}

INSTANTIATE_TEST_SUITE_P(CompiledIsas, MatMulTest, ::testing::ValuesIn(testing::TablesToTest()),
                         [](const auto& info) { return info.param.name; });

TEST(OpsTest, RopeRotatesPairsAndPreservesNorm) {
  RopeParams p;
  p.rotary_dims = 8;
  p.freq_base = 10000.0f;
  for (RopeStyle style : {RopeStyle::kAdjacentPairs, RopeStyle::kHalves}) {
    p.style = style;
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float norm_before = 0, norm_after = 0;
    for (float v : x) norm_before += v * v;
    ApplyRope(p, 3, 1, 8, 8, x);
    for (float v : x) norm_after += v * v;
    EXPECT_NEAR(norm_before, norm_after, 1e-3);
    // Pair 0 rotates by angle = position (theta_0 = 1).
    const int a = 0, b = style == RopeStyle::kAdjacentPairs ? 1 : 4;
    const float x0 = 1, x1 = style == RopeStyle::kAdjacentPairs ? 2 : 5;
    EXPECT_NEAR(x[a], x0 * std::cos(3.0f) - x1 * std::sin(3.0f), 1e-5);
    EXPECT_NEAR(x[b], x0 * std::sin(3.0f) + x1 * std::cos(3.0f), 1e-5);
  }
  // Position 0 is the identity.
  float y[4] = {1, 2, 3, 4};
  p.rotary_dims = 4;
  ApplyRope(p, 0, 1, 4, 4, y);
  EXPECT_FLOAT_EQ(y[1], 2.0f);
}

TEST(OpsTest, LinearRopeScalingDividesThePosition) {
  RopeParams scaled;
  scaled.rotary_dims = 16;
  scaled.freq_scale = 0.25f;  // rope.scaling.factor 4
  RopeParams plain = scaled;
  plain.freq_scale = 1.0f;
  float a[16], b[16];
  for (int i = 0; i < 16; ++i) a[i] = b[i] = static_cast<float>(i % 5) - 2.0f;
  ApplyRope(scaled, 12, 1, 16, 16, a);
  ApplyRope(plain, 3, 1, 16, 16, b);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
}

TEST(OpsTest, RmsNormAndSoftmax) {
  const float x[4] = {1, -2, 3, -4}, w[4] = {1, 1, 2, 0.5f};
  float out[4];
  RmsNorm(x, w, 0.0f, 1, 4, out);
  const float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
  EXPECT_NEAR(out[2], 3 / rms * 2, 1e-6);
  float s[3] = {1.0f, 2.0f, -INFINITY};
  Softmax(s, 3);
  EXPECT_NEAR(s[0] + s[1], 1.0f, 1e-6);
  EXPECT_EQ(s[2], 0.0f);
  EXPECT_NEAR(s[1] / s[0], std::exp(1.0f), 1e-5);
}

}  // namespace
}  // namespace tf
