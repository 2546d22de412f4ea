// Dequantization of every supported type against blocks built by hand, with
// the expected values written out from the GGUF block definitions; then a
// quantize -> dequantize round trip for every type we can produce.
#include "tensor/dequantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/float16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quantize.h"

namespace tf {
namespace {

constexpr uint16_t kHalfOne = 0x3C00;    // 1.0
constexpr uint16_t kHalfHalf = 0x3800;   // 0.5
constexpr uint16_t kHalfTwo = 0x4000;    // 2.0
constexpr uint16_t kHalfQuarter = 0x3400;  // 0.25

std::vector<float> Dequant(DType type, const void* block, int n) {
  std::vector<float> out(n);
  DequantizeRow(type, block, out.data(), n);
  return out;
}

TEST(DequantizeTest, F16AndBf16AndF32) {
  const uint16_t halves[2] = {0x3C00, 0xC400};  // 1, -4
  EXPECT_EQ(Dequant(DType::kF16, halves, 2), (std::vector<float>{1.0f, -4.0f}));
  const uint16_t bf[2] = {0x3F80, 0xC080};  // 1, -4
  EXPECT_EQ(Dequant(DType::kBF16, bf, 2), (std::vector<float>{1.0f, -4.0f}));
  const float f[2] = {3.5f, -0.25f};
  EXPECT_EQ(Dequant(DType::kF32, f, 2), (std::vector<float>{3.5f, -0.25f}));
}

TEST(DequantizeTest, Q4_0LowNibblesFirstThenHigh) {
  BlockQ4_0 b{};
  b.d = kHalfHalf;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = Dequant(DType::kQ4_0, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * (7 - j)) << j;
  }
}

TEST(DequantizeTest, Q4_1AddsMin) {
  BlockQ4_1 b{};
  b.d = kHalfTwo;
  b.m = 0xBC00;  // -1
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(3 | (12 << 4));
  auto y = Dequant(DType::kQ4_1, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * 3 - 1.0f);
    EXPECT_EQ(y[j + 16], 2.0f * 12 - 1.0f);
  }
}

TEST(DequantizeTest, Q5_0FifthBitFromQh) {
  BlockQ5_0 b{};
  b.d = kHalfOne;
  // Bit j of qh is element j's fifth bit, bit j+16 element j+16's.
  const uint32_t qh = 0x00010002;  // element 1 and element 16 get +16
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(5 | (9 << 4));
  auto y = Dequant(DType::kQ5_0, &b, 32);
  EXPECT_EQ(y[0], 5.0f - 16);
  EXPECT_EQ(y[1], 5.0f + 16 - 16);
  EXPECT_EQ(y[16], 9.0f + 16 - 16);
  EXPECT_EQ(y[17], 9.0f - 16);
}

TEST(DequantizeTest, Q5_1FifthBitAndMin) {
  BlockQ5_1 b{};
  b.d = kHalfHalf;
  b.m = kHalfOne;
  const uint32_t qh = 0x80000001;  // element 0 and element 31
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(1 | (2 << 4));
  auto y = Dequant(DType::kQ5_1, &b, 32);
  EXPECT_EQ(y[0], 0.5f * 17 + 1);
  EXPECT_EQ(y[1], 0.5f * 1 + 1);
  EXPECT_EQ(y[30], 0.5f * 2 + 1);
  EXPECT_EQ(y[31], 0.5f * 18 + 1);
}

TEST(DequantizeTest, Q8_0SignedBytes) {
  BlockQ8_0 b{};
  b.d = kHalfQuarter;
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 127);
  auto y = Dequant(DType::kQ8_0, &b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * (j * 8 - 127));
}

// Packs scales/mins by hand the way the format defines the 12 bytes:
// bytes 0-3: scale[0..3] low 6 bits, top 2 bits = scale[4..7] >> 4
// bytes 4-7: min[0..3] low 6 bits, top 2 bits = min[4..7] >> 4
// bytes 8-11: scale[4..7] & 15 | (min[4..7] & 15) << 4
void HandPackScales(const int sc[8], const int mn[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

TEST(DequantizeTest, Q4_KSubBlockScalesAndMins) {
  BlockQ4_K b{};
  b.d = kHalfHalf;
  b.dmin = kHalfQuarter;
  const int sc[8] = {1, 2, 3, 63, 17, 33, 48, 60};
  const int mn[8] = {0, 5, 10, 20, 40, 63, 1, 2};
  HandPackScales(sc, mn, b.scales);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  auto y = Dequant(DType::kQ4_K, &b, 256);
  for (int pair = 0; pair < 4; ++pair) {
    for (int l = 0; l < 32; ++l) {
      const int q_lo = (32 * pair + l) % 16, q_hi = 15 - q_lo;
      const int s0 = 2 * pair, s1 = 2 * pair + 1;
      EXPECT_EQ(y[64 * pair + l], 0.5f * sc[s0] * q_lo - 0.25f * mn[s0]);
      EXPECT_EQ(y[64 * pair + 32 + l], 0.5f * sc[s1] * q_hi - 0.25f * mn[s1]);
    }
  }
}

TEST(DequantizeTest, Q5_KHighBitsPerSubBlock) {
  BlockQ5_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfOne;
  const int sc[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  const int mn[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  HandPackScales(sc, mn, b.scales);
  for (int i = 0; i < 128; ++i) b.qs[i] = 0x21;  // low nibble 1, high nibble 2
  b.qh[3] = 0x05;  // element 3 of sub-blocks 0 and 2 gets +16
  auto y = Dequant(DType::kQ5_K, &b, 256);
  EXPECT_EQ(y[3], 17.0f);         // sub-block 0, bit 0
  EXPECT_EQ(y[32 + 3], 2.0f);     // sub-block 1, bit 1 not set
  EXPECT_EQ(y[64 + 3], 17.0f);    // sub-block 2, bit 2
  EXPECT_EQ(y[4], 1.0f);
}

TEST(DequantizeTest, Q6_KLayout) {
  BlockQ6_K b{};
  b.d = kHalfOne;
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<int8_t>(g - 8);
  // Element e (in the first 128): l = e % 32, quarter k = e / 32.
  // k=0: low nibble ql[l], bits qh[l] 0-1; k=1: ql[l+32] low, bits 2-3;
  // k=2: ql[l] high, bits 4-5; k=3: ql[l+32] high, bits 6-7.
  b.ql[5] = 0x3A;       // e=5: 0xA, e=69: 0x3
  b.ql[5 + 32] = 0x7C;  // e=37: 0xC, e=101: 0x7
  b.qh[5] = 0xE4;       // bits: e5: 0, e37: 1, e69: 2, e101: 3
  auto y = Dequant(DType::kQ6_K, &b, 256);
  // scale group of element e is e / 16.
  EXPECT_EQ(y[5], 1.0f * (0 - 8) * ((0xA | (0 << 4)) - 32));
  EXPECT_EQ(y[37], 1.0f * (2 - 8) * ((0xC | (1 << 4)) - 32));
  EXPECT_EQ(y[69], 1.0f * (4 - 8) * ((0x3 | (2 << 4)) - 32));
  EXPECT_EQ(y[101], 1.0f * (6 - 8) * ((0x7 | (3 << 4)) - 32));
  EXPECT_EQ(y[128 + 5], 1.0f * (8 - 8) * (0 - 32));  // second half untouched: q = 0
}

// Quantizing random data and dequantizing gives back the data within the
// resolution of each format (a bound per block relative to its range).
struct RoundTripCase {
  DType type;
  float max_rel_error;  // of the block's max magnitude
};

class QuantRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(QuantRoundTripTest, WithinFormatResolution) {
  const auto [type, max_rel_error] = GetParam();
  const int n = 1024;
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> q(*RowBytes(type, n));
  QuantizeRow(type, x.data(), q.data(), n);
  std::vector<float> y(n);
  DequantizeRow(type, q.data(), y.data(), n);
  float amax = 0.0f;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  for (int i = 0; i < n; ++i) {
    ASSERT_LE(std::fabs(x[i] - y[i]), max_rel_error * amax) << DTypeName(type) << " i=" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantRoundTripTest,
    ::testing::Values(RoundTripCase{DType::kF32, 0.0f}, RoundTripCase{DType::kF16, 1e-3f},
                      RoundTripCase{DType::kBF16, 8e-3f}, RoundTripCase{DType::kQ8_0, 1.0f / 127},
                      RoundTripCase{DType::kQ8_1, 1.0f / 127}, RoundTripCase{DType::kQ8_K, 1.0f / 127},
                      RoundTripCase{DType::kQ4_0, 1.0f / 8}, RoundTripCase{DType::kQ4_1, 1.0f / 15},
                      RoundTripCase{DType::kQ5_0, 1.0f / 16}, RoundTripCase{DType::kQ5_1, 1.0f / 31},
                      RoundTripCase{DType::kQ4_K, 0.16f}, RoundTripCase{DType::kQ5_K, 0.08f},
                      RoundTripCase{DType::kQ6_K, 0.04f}),
    [](const auto& info) { return std::string(DTypeName(info.param.type)); });

}  // namespace
}  // namespace tf
