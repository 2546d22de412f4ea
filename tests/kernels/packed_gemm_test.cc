// Packed (row-interleaved) weights (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K): packing is lossless,
// every ISA's packed kernel matches the scalar dot products of the unpacked rows, the BlockQ8S
// quantizer matches Q8_0's values, and MatMul / MatMulMany /
// MatMulSiluGate give the same results with and without packing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernel_tables.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/reference/reference_kernels.h"
#include "tensor/float16.h"
#include "tensor/packed_blocks.h"
#include "tensor/quantize.h"
#include "tensor/repack.h"

namespace tf {
namespace {

std::vector<uint8_t> RandomMatrix(DType type, int64_t k, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> f(k);
  const size_t row_bytes = *RowBytes(type, k);
  std::vector<uint8_t> out(row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : f) v = dist(rng);
    QuantizeRow(type, f.data(), out.data() + r * row_bytes, k);
  }
  return out;
}

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The packed kernel's activations for n_tokens rows of x: bytes and row stride.
struct PackedActs {
  std::vector<uint8_t> bytes;
  size_t stride = 0;
};
PackedActs QuantizePackedActs(const KernelTable& kernels, DType type, const std::vector<float>& x, int64_t k,
                              int64_t n_tokens) {
  const ActFormat format = PackedActFormat(type);
  PackedActs out;
  out.stride = ActFormatRowBytes(format, k);
  out.bytes.resize(out.stride * n_tokens);
  for (int64_t t = 0; t < n_tokens; ++t) kernels.Quantizer(format)(x.data() + t * k, out.bytes.data() + t * out.stride, k);
  return out;
}

// The packed types, and the widths their blocks allow.
constexpr DType kPackedTypes[] = {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
bool IsKQuant(DType type) { return type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K; }
int64_t BlockWeights(DType type) { return IsKQuant(type) ? 256 : 32; }

TensorView ViewOf(DType type, int64_t k, int64_t rows, const std::vector<uint8_t>& data) {
  TensorView w;
  w.type = type;
  w.n_dims = 2;
  w.ne = {k, rows, 1, 1};
  w.data = data.data();
  w.nbytes = data.size();
  return w;
}

TEST(RepackTest, PackUnpackRoundTripsAndOnlyWholeGroupsPack) {
  for (DType type : kPackedTypes) {
    const int64_t k = 3 * BlockWeights(type), rows = 24;
    const std::vector<uint8_t> original = RandomMatrix(type, k, rows, 3);
    std::vector<uint8_t> packed(original.size()), back(original.size());
    PackRows(type, original.data(), k, rows, packed.data());
    EXPECT_NE(packed, original);  // the layout really changed
    UnpackRows(type, packed.data(), k, rows, back.data());
    EXPECT_EQ(back, original) << DTypeName(type);
  }
  EXPECT_TRUE(CanPack(DType::kQ4_0, 64, 16));
  EXPECT_FALSE(CanPack(DType::kQ4_0, 64, 12));  // not whole 8-row groups
  EXPECT_FALSE(CanPack(DType::kQ4_1, 256, 16)); // no packed layout
  EXPECT_TRUE(CanPack(DType::kQ4_K, 256, 16));
  EXPECT_FALSE(CanPack(DType::kQ5_K, 224, 16));
  EXPECT_FALSE(CanPack(DType::kQ8_0, 48, 16));  // not whole blocks
  EXPECT_TRUE(CanPack(DType::kQ6_K, 512, 16));
  EXPECT_FALSE(CanPack(DType::kQ6_K, 512, 12));
  EXPECT_FALSE(CanPack(DType::kQ6_K, 96, 16));  // not whole super-blocks
}

TEST(RepackTest, RowsKeepsPackedOnlyForWholeGroups) {
  const std::vector<uint8_t> data = RandomMatrix(DType::kQ4_0, 64, 32, 4);
  TensorView w = ViewOf(DType::kQ4_0, 64, 32, data);
  std::vector<uint8_t> packed(data.size());
  w.packed = packed.data();
  EXPECT_EQ(w.Rows(8, 16).packed, packed.data() + 8 * w.row_bytes());
  EXPECT_EQ(w.Rows(4, 8).packed, nullptr);
  EXPECT_EQ(w.Rows(8, 12).packed, nullptr);
}

class PackedGemmTest : public ::testing::TestWithParam<testing::NamedTable> {};

TEST_P(PackedGemmTest, QuantizeQ8SMatchesQ8_0Values) {
  const KernelTable& kernels = *GetParam().table;
  ASSERT_NE(kernels.Quantizer(ActFormat::kQ8S), nullptr);
  const int64_t n = 32 * 9;
  std::vector<float> x = RandomFloats(n, 11);
  x[5] = 0.0f;
  for (int i = 64; i < 96; ++i) x[i] = 0.0f;  // an all-zero block
  std::vector<BlockQ8S> q8s(n / 32);
  std::vector<BlockQ8_0> q8_0(n / 32);
  kernels.Quantizer(ActFormat::kQ8S)(x.data(), q8s.data(), n);
  QuantizeRow(DType::kQ8_0, x.data(), q8_0.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      ASSERT_EQ(q8s[b].qs[j], q8_0[b].qs[j]) << "block " << b << " value " << j;
      sum += q8_0[b].qs[j];
    }
    EXPECT_EQ(q8s[b].d_sum8, 8.0f * q8s[b].d * static_cast<float>(sum)) << "block " << b;
    EXPECT_EQ(q8s[b].d, Fp16ToFloat(q8_0[b].d)) << "block " << b;
  }
}

// Q8_K activations (the K-quant kernels'): the same bytes as the scalar
// quantizer, with ties for the largest magnitude (the first one's sign
// wins), an all-zero block and values that round at exactly .5.
TEST_P(PackedGemmTest, QuantizeQ8_KMatchesReferenceBytes) {
  const KernelTable& kernels = *GetParam().table;
  ASSERT_NE(kernels.Quantizer(ActFormat::kQ8_K), nullptr);
  const int64_t n = kQK_K * 5;
  std::vector<float> x = RandomFloats(n, 13);
  for (int i = kQK_K; i < 2 * kQK_K; ++i) x[i] = 0.0f;        // block 1: all zero
  x[2 * kQK_K + 7] = 3.0f, x[2 * kQK_K + 100] = -3.0f;        // block 2: a tie, positive first
  x[3 * kQK_K + 9] = -4.0f, x[3 * kQK_K + 200] = 4.0f;        // block 3: a tie, negative first
  for (int i = 0; i < 16; ++i) x[4 * kQK_K + i] = (i - 8) * (127.0f / 254.0f);  // block 4: halves
  x[4 * kQK_K + 255] = -127.0f / 127.0f;
  std::vector<BlockQ8_K> got(n / kQK_K), want(n / kQK_K);
  std::memset(got.data(), 0x5A, got.size() * sizeof(BlockQ8_K));
  kernels.Quantizer(ActFormat::kQ8_K)(x.data(), got.data(), n);
  QuantizeRow(DType::kQ8_K, x.data(), want.data(), n);
  for (size_t b = 0; b < got.size(); ++b) {
    EXPECT_EQ(got[b].d, want[b].d) << "block " << b;
    for (int j = 0; j < kQK_K; ++j) ASSERT_EQ(got[b].qs[j], want[b].qs[j]) << "block " << b << " value " << j;
    for (int g = 0; g < kQK_K / 16; ++g) ASSERT_EQ(got[b].bsums[g], want[b].bsums[g]) << "block " << b << " sum " << g;
  }
}

// The packed kernel against the reference dot product of each unpacked row
// with the same activations (Q8_0 values for the BlockQ8S types, the same
// Q8_K blocks for the K-quants): integer sums are exact, so only the float
// accumulation order differs (relative 1e-5 of the magnitude).
TEST_P(PackedGemmTest, MatchesReferenceDotOfUnpackedRows) {
  const KernelTable& kernels = *GetParam().table;
  for (DType type : kPackedTypes) {
    const PackedGemmFn gemm = kernels.PackedGemm(type);
    ASSERT_NE(gemm, nullptr) << DTypeName(type);
    const VecDotFn ref_dot = type == DType::kQ4_0   ? reference::DotQ4_0
                             : type == DType::kQ8_0 ? reference::DotQ8_0
                             : type == DType::kQ4_K ? reference::DotQ4_K
                             : type == DType::kQ5_K ? reference::DotQ5_K
                                                    : reference::DotQ6_K;
    const DType ref_act = IsKQuant(type) ? DType::kQ8_K : DType::kQ8_0;
    const int64_t unit = BlockWeights(type);
    for (int64_t k : {unit, 3 * unit, int64_t{2048}}) {
      for (int64_t n_tokens : {1, 2, 3, 4, 5, 7, 8, 9, 17}) {
        const int64_t rows = 24;
        const std::vector<uint8_t> w = RandomMatrix(type, k, rows, static_cast<uint32_t>(k + n_tokens));
        std::vector<uint8_t> packed(w.size());
        PackRows(type, w.data(), k, rows, packed.data());
        const std::vector<float> x = RandomFloats(k * n_tokens, 7);
        const PackedActs act = QuantizePackedActs(kernels, type, x, k, n_tokens);
        const size_t ref_stride = *RowBytes(ref_act, k);
        std::vector<uint8_t> act_ref(ref_stride * n_tokens);
        for (int64_t t = 0; t < n_tokens; ++t) QuantizeRow(ref_act, x.data() + t * k, act_ref.data() + t * ref_stride, k);
        const int64_t y_stride = rows + 5;
        std::vector<float> y(n_tokens * y_stride, -3.0f);
        gemm(k, packed.data(), rows / 8, act.bytes.data(), act.stride, n_tokens, y.data(), y_stride);
        const size_t row_bytes = w.size() / rows;
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            const float want = ref_dot(k, w.data() + r * row_bytes, act_ref.data() + t * ref_stride);
            ASSERT_NEAR(y[t * y_stride + r], want, 1e-5f * (std::fabs(want) + k))
                << DTypeName(type) << " k=" << k << " t=" << t << " r=" << r;
          }
          for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -3.0f);
        }
      }
    }
  }
}

// A row's result for a token is bit for bit the same however the call is
// cut: the token alone (decode) or in a tile with others, the row's group
// paired with a neighbour or alone (chunking decides which), so a prompt
// chunked one way gives the same logits as another and as decode steps.
TEST_P(PackedGemmTest, ResultDoesNotDependOnTokenCountOrGrouping) {
  const KernelTable& kernels = *GetParam().table;
  for (DType type : kPackedTypes) {
    const PackedGemmFn gemm = kernels.PackedGemm(type);
    ASSERT_NE(gemm, nullptr) << DTypeName(type);
    const int64_t k = 512, rows = 40, n_tokens = 11, n_groups = rows / 8;
    const std::vector<uint8_t> w = RandomMatrix(type, k, rows, 99);
    std::vector<uint8_t> packed(w.size());
    PackRows(type, w.data(), k, rows, packed.data());
    const size_t group_bytes = w.size() / n_groups;
    const std::vector<float> x = RandomFloats(k * n_tokens, 5);
    const PackedActs act = QuantizePackedActs(kernels, type, x, k, n_tokens);
    const size_t act_stride = act.stride;
    const uint8_t* act_bytes = act.bytes.data();
    std::vector<float> all(n_tokens * rows);
    gemm(k, packed.data(), n_groups, act_bytes, act_stride, n_tokens, all.data(), rows);
    for (int64_t t = 0; t < n_tokens; ++t) {
      std::vector<float> one(rows);
      gemm(k, packed.data(), n_groups, act_bytes + t * act_stride, act_stride, 1, one.data(), rows);
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_EQ(one[r], all[t * rows + r]) << DTypeName(type) << " alone: t=" << t << " r=" << r;
      }
    }
    // Groups one at a time, then starting at an odd group (pairs shift by one).
    for (const int64_t first : {int64_t{0}, int64_t{1}}) {
      std::vector<float> part(n_tokens * rows, 0.0f);
      if (first == 1) gemm(k, packed.data(), 1, act_bytes, act_stride, n_tokens, part.data(), rows);
      for (int64_t g = first; g < n_groups; g += first == 0 ? 1 : n_groups) {
        const int64_t count = first == 0 ? 1 : n_groups - first;
        gemm(k, packed.data() + g * group_bytes, count, act_bytes, act_stride, n_tokens, part.data() + g * 8, rows);
      }
      for (int64_t i = 0; i < n_tokens * rows; ++i) {
        ASSERT_EQ(part[i], all[i]) << DTypeName(type) << " grouping from " << first << ": i=" << i;
      }
    }
  }
}

// Whole-matrix entry points, packed vs unpacked weights, many tokens (more
// than one token chunk) and a thread pool.
TEST_P(PackedGemmTest, MatMulEntryPointsAgreeWithUnpackedPath) {
  const KernelTable& kernels = *GetParam().table;
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (DType type : kPackedTypes) {
    const int64_t k = 512, rows = 72, n_tokens = 37;
    const std::vector<uint8_t> gate_w = RandomMatrix(type, k, rows, 21), up_w = RandomMatrix(type, k, rows, 22);
    std::vector<uint8_t> gate_p(gate_w.size()), up_p(up_w.size());
    PackRows(type, gate_w.data(), k, rows, gate_p.data());
    PackRows(type, up_w.data(), k, rows, up_p.data());
    TensorView gate = ViewOf(type, k, rows, gate_w), up = ViewOf(type, k, rows, up_w);
    TensorView gate_packed = gate, up_packed = up;
    gate_packed.packed = gate_p.data();
    up_packed.packed = up_p.data();
    const std::vector<float> x = RandomFloats(k * n_tokens, 23);

    std::vector<float> g(n_tokens * rows), u(n_tokens * rows), want(n_tokens * rows);
    MatMul(kernels, gate, x.data(), n_tokens, g.data(), rows, &scratch, &pool);
    MatMul(kernels, up, x.data(), n_tokens, u.data(), rows, &scratch, &pool);
    SiluMul(g.data(), u.data(), n_tokens * rows, want.data());

    std::vector<float> g2(n_tokens * rows), u2(n_tokens * rows), fused(n_tokens * rows);
    const MatMulJob jobs[] = {{gate_packed, g2.data(), rows}, {up_packed, u2.data(), rows}};
    MatMulMany(kernels, jobs, x.data(), n_tokens, &scratch, &pool);
    MatMulSiluGate(kernels, gate_packed, up_packed, x.data(), n_tokens, fused.data(), rows, &scratch, &pool);
    for (size_t i = 0; i < g.size(); ++i) {
      // Same integer sums; the float accumulation order differs.
      ASSERT_NEAR(g2[i], g[i], 1e-4f * (std::fabs(g[i]) + 1.0f)) << DTypeName(type) << " " << i;
      ASSERT_NEAR(u2[i], u[i], 1e-4f * (std::fabs(u[i]) + 1.0f)) << DTypeName(type) << " " << i;
      ASSERT_NEAR(fused[i], want[i], 1e-4f * (std::fabs(want[i]) + 1.0f)) << DTypeName(type) << " " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, PackedGemmTest, ::testing::ValuesIn(testing::TablesToTest()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tf
