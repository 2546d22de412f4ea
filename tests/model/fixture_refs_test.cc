// Every reference in ../shared/fixtures/refs passes the fixtures rule, on
// every kernel table this CPU can execute (scalar reference, AVX2, AVX-512)
// and on the AVX-512 kernels compiled against SIMDe (emulated) where the
// CPU can run their AVX2 host code: llama/qwen2 (dense) and deepseek2
// (mixture-of-experts: argmax at >= 90% of confident positions), the
// grouped-routing DeepSeek fixture with the routing its metadata declares.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/fixtures.h"
#include "kernels/kernel_tables.h"
#include "model/reference_judge.h"

namespace tf {
namespace {

bool IsMoe(const std::string& ref) { return ref.rfind("tiny-deepseek3", 0) == 0; }

std::vector<std::string> Refs(const std::string& prefix) {
  std::vector<std::string> out;
  const auto dir = testing::FixturesDir() / "refs";
  if (!std::filesystem::exists(dir)) return {"<fixtures missing>"};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".json" && name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> AllRefs() {
  std::vector<std::string> out;
  for (const char* prefix : {"tiny-llama", "tiny-qwen2", "tiny-deepseek3"}) {
    for (auto& r : Refs(prefix)) out.push_back(r);
  }
  return out;
}

using Case = std::tuple<std::string, testing::NamedTable>;
class FixtureRefTest : public ::testing::TestWithParam<Case> {};

TEST_P(FixtureRefTest, PassesFixtureRule) {
  const auto& [ref, table] = GetParam();
  ASSERT_NE(ref, "<fixtures missing>") << "fixtures not found at " << testing::FixturesDir();
  ThreadPool pool(2);
  const auto result = testing::JudgeAgainstReference(testing::FixturePath("refs/" + ref), *table.table, &pool);
  testing::ExpectPassesRule(result, IsMoe(ref));
  if (ref.rfind("tiny-deepseek3-grouped", 0) == 0) {
    // DeepSeek's own code made these references with the routing the file
    // declares (2 groups of 8 experts, the best 1 used): every check
    // position and every confident argmax match, far inside the fixed 0.3.
    EXPECT_EQ(result.check_within_tol, result.check_positions);
    EXPECT_EQ(result.confident_argmax_equal, result.confident_positions) << result.detail;
    EXPECT_LT(result.max_check_diff, 1e-3);
  }
  RecordProperty("max_check_diff", std::to_string(result.max_check_diff));
  RecordProperty("greedy_checked", result.greedy_compared);
  RecordProperty("check_within_tol", result.check_within_tol);
  RecordProperty("greedy_text_checked", result.greedy_text_checked);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = std::get<0>(info.param);
  name = name.substr(0, name.size() - 5);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureRefTest,
                         ::testing::Combine(::testing::ValuesIn(AllRefs()), ::testing::ValuesIn(testing::TablesToTest())),
                         CaseName);

TEST(FixtureRefCoverageTest, EveryReferenceFileIsJudgedOnEveryTable) {
  // 5 dense models and 2 DeepSeek models, 4 prompts each.
  EXPECT_EQ(Refs("tiny-llama").size() + Refs("tiny-qwen2").size(), 20u) << testing::FixturesDir();
  EXPECT_EQ(Refs("tiny-deepseek3").size(), 8u) << testing::FixturesDir();
  EXPECT_EQ(AllRefs().size(), 28u);
  // Scalar always; AVX2 and the emulated AVX-512 on any AVX2 machine.
  const auto tables = testing::TablesToTest();
  EXPECT_GE(tables.size(), GetCpuFeatures().HasAvx2Set() ? 3u : 1u);
}

// The AVX-512 table replaces exactly these AVX2 kernels; everything else
// it runs is AVX2's (tokenfab info prints the same list). The emulated
// build must override the same entries, or the fixture runs above would
// test something other than what AVX-512 machines execute.
TEST(KernelTableOverridesTest, Avx512TableSaysWhichKernelsItOverrides) {
  if (!GetCpuFeatures().HasAvx2Set()) GTEST_SKIP() << "no AVX2: neither AVX-512 table can be built here";
  const std::vector<std::string> expected = {
      "vec_dot f32",  "vec_dot f16",  "vec_dot q4_0", "packed_gemm q4_0", "vec_dot q8_0",
      "packed_gemm q8_0", "packed_gemm q4_K", "packed_gemm q5_K", "packed_gemm q6_K", "vec_dot bf16",
      "dot_f32",  "axpy_f32", "bf16_to_f32", "sgemm", "sgemm_nt"};
  const KernelTable& avx2 = GetKernelTable(Isa::kAvx2);
  EXPECT_EQ(KernelOverrides(testing::EmulatedAvx512Table(), avx2), expected);
  const auto isas = AvailableIsas();
  if (std::find(isas.begin(), isas.end(), Isa::kAvx512) != isas.end()) {
    EXPECT_EQ(KernelOverrides(GetKernelTable(Isa::kAvx512), avx2), expected);
  }
  // AVX2 over scalar, for contrast: the table every AVX-512 one starts from.
  EXPECT_FALSE(KernelOverrides(avx2, GetKernelTable(Isa::kScalar)).empty());
  EXPECT_TRUE(KernelOverrides(avx2, avx2).empty());
}

}  // namespace
}  // namespace tf
