// Every weight-type dot product of every compiled instruction set against the
// scalar reference, on random rows with lengths that exercise the tails.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/kernel_tables.h"
#include "tensor/dequantize.h"
#include "tensor/float16.h"
#include "tensor/quantize.h"

namespace tf {
namespace {

const DType kWeightTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0,
                              DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0,
                              DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

std::vector<float> RandomRow(std::mt19937& rng, int64_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> Quantize(DType type, const std::vector<float>& x) {
  std::vector<uint8_t> out(*RowBytes(type, static_cast<int64_t>(x.size())));
  QuantizeRow(type, x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

class VecDotTest : public ::testing::TestWithParam<testing::NamedTable> {};

TEST_P(VecDotTest, MatchesScalarReferenceForEveryWeightType) {
  const KernelTable& fast = *GetParam().table;
  const KernelTable& ref = GetKernelTable(Isa::kScalar);
  std::mt19937 rng(1234);
  for (DType type : kWeightTypes) {
    const int64_t block = Traits(type).block_size;
    for (int64_t n : {1, 7, 16, 33, 100, 256, 512, 768, 2048, 4352}) {
      if (n % block != 0) continue;
      const WeightKernel& wk = ref.ForWeight(type);
      ASSERT_NE(fast.ForWeight(type).vec_dot, nullptr);
      const DType act_type = *ActFormatDType(wk.act);
      // A table may read activations in another format than the reference
      // (AVX-512 BF16: bf16 activations for bf16 weights); it is then held
      // to the exact dot of what it was given.
      const DType fast_act_type = *ActFormatDType(fast.ForWeight(type).act);
      if (fast_act_type != act_type) {
        ASSERT_TRUE(type == DType::kBF16 && fast_act_type == DType::kBF16) << DTypeName(type);
      }
      for (int trial = 0; trial < 5; ++trial) {
        const auto w_f = RandomRow(rng, n, 0.5f);
        const auto x_f = RandomRow(rng, n, 2.0f);
        const auto w = Quantize(type, w_f);
        const auto x = Quantize(act_type, x_f);
        const float expected = wk.vec_dot(n, w.data(), x.data());
        if (fast_act_type != act_type) {
          const auto x_fast = Quantize(fast_act_type, x_f);
          std::vector<float> w_deq(n), x_deq(n);
          DequantizeRow(type, w.data(), w_deq.data(), n);
          DequantizeRow(fast_act_type, x_fast.data(), x_deq.data(), n);
          double exact = 0.0, magnitude = 0.0;
          for (int64_t i = 0; i < n; ++i) {
            exact += static_cast<double>(w_deq[i]) * x_deq[i];
            magnitude += std::fabs(static_cast<double>(w_deq[i]) * x_deq[i]);
          }
          ASSERT_NEAR(fast.ForWeight(type).vec_dot(n, w.data(), x_fast.data()), exact, 1e-5 * magnitude + 1e-6)
              << GetParam().name << " " << DTypeName(type) << " (" << DTypeName(fast_act_type) << " activations) n=" << n;
          continue;
        }
        const float got = fast.ForWeight(type).vec_dot(n, w.data(), x.data());
        // Same integer sums; only the order of float accumulation differs,
        // so the error is bounded by a few ulps of the sum of |terms|.
        std::vector<float> w_deq(n), x_deq(n);
        DequantizeRow(type, w.data(), w_deq.data(), n);
        DequantizeRow(act_type, x.data(), x_deq.data(), n);
        double magnitude = 0.0;
        for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(w_deq[i] * x_deq[i]);
        const double tol = 1e-5 * magnitude + 1e-6;
        ASSERT_NEAR(got, expected, tol) << GetParam().name << " " << DTypeName(type) << " n=" << n;
        // And the reference itself equals the dot of the dequantized rows; Q8_1
        // stores the block sum d*sum(q) as fp16, which adds up to 2^-11 of it
        // per block (the format's own rounding).
        double exact = 0.0;
        for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(w_deq[i]) * x_deq[i];
        const double ref_tol = act_type == DType::kQ8_1 ? tol + 1e-3 * magnitude : tol;
        ASSERT_NEAR(expected, exact, ref_tol) << "reference " << DTypeName(type) << " n=" << n;
      }
    }
  }
}

TEST_P(VecDotTest, FloatHelpersMatchReference) {
  const KernelTable& fast = *GetParam().table;
  std::mt19937 rng(99);
  for (int64_t n : {1, 5, 16, 31, 64, 130}) {
    const auto a = RandomRow(rng, n, 1.0f), b = RandomRow(rng, n, 1.0f);
    double exact = 0.0;
    for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(a[i]) * b[i];
    EXPECT_NEAR(fast.dot_f32(n, a.data(), b.data()), exact, 1e-4) << n;
    std::vector<float> y = b, y_ref = b;
    fast.axpy_f32(n, 0.75f, a.data(), y.data());
    for (int64_t i = 0; i < n; ++i) y_ref[i] += 0.75f * a[i];
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-6) << n;
    // bf16 rows (a bf16 KV cache): against the same math on the rounded values.
    std::vector<uint16_t> a16(n);
    for (int64_t i = 0; i < n; ++i) a16[i] = FloatToBf16(a[i]);
    double exact16 = 0.0;
    for (int64_t i = 0; i < n; ++i) exact16 += static_cast<double>(Bf16ToFloat(a16[i])) * b[i];
    EXPECT_NEAR(fast.dot_f32_bf16(n, b.data(), a16.data()), exact16, 1e-4) << n;
    std::vector<float> z = b, z_ref = b;
    fast.axpy_bf16(n, -1.5f, a16.data(), z.data());
    for (int64_t i = 0; i < n; ++i) z_ref[i] += -1.5f * Bf16ToFloat(a16[i]);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(z[i], z_ref[i], 1e-6) << n;
  }
}

// The 4-token variants (where a table has them) against the one-token
// reference on four different activation rows.
TEST_P(VecDotTest, FourTokenVariantsMatchScalarReference) {
  const KernelTable& fast = *GetParam().table;
  const KernelTable& ref = GetKernelTable(Isa::kScalar);
  std::mt19937 rng(99);
  int checked = 0;
  for (DType type : kWeightTypes) {
    const VecDot4Fn dot4 = fast.ForWeight(type).vec_dot4;
    if (dot4 == nullptr) continue;
    const WeightKernel& wk = ref.ForWeight(type);
    for (int64_t n : {256, 2048}) {
      const auto w = Quantize(type, RandomRow(rng, n, 0.5f));
      const DType act_type = *ActFormatDType(wk.act);
      const size_t act_bytes = *RowBytes(act_type, n);
      std::vector<uint8_t> x(4 * act_bytes);
      for (int t = 0; t < 4; ++t) {
        const auto row = RandomRow(rng, n, 2.0f);
        QuantizeRow(act_type, row.data(), x.data() + t * act_bytes, n);
      }
      float got[4];
      dot4(n, w.data(), x.data(), act_bytes, got);
      for (int t = 0; t < 4; ++t) {
        const float want = wk.vec_dot(n, w.data(), x.data() + t * act_bytes);
        // Same integer sums per block; float accumulation order differs.
        EXPECT_NEAR(got[t], want, 1e-4f * (std::fabs(want) + 1.0f)) << DTypeName(type) << " n=" << n << " t=" << t;
      }
      ++checked;
    }
  }
  if (fast.isa == Isa::kScalar) {
    EXPECT_EQ(checked, 0);  // the scalar table has none; nothing to compare
  } else {
    EXPECT_GT(checked, 0) << "no 4-token kernel in this table";
  }
}

INSTANTIATE_TEST_SUITE_P(CompiledIsas, VecDotTest, ::testing::ValuesIn(testing::TablesToTest()),
                         [](const auto& info) { return info.param.name; });

TEST(KernelTableTest, BestIsaIsAvailableAndScalarAlwaysIs) {
  const auto isas = AvailableIsas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::kScalar);
  EXPECT_NE(std::find(isas.begin(), isas.end(), BestIsa()), isas.end());
}

}  // namespace
}  // namespace tf
