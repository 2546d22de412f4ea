// Every llama and qwen2 reference in ../shared/fixtures/refs passes the
// fixtures rule, on the scalar reference kernels and on the fastest kernels
// this CPU has.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fixtures.h"
#include "model/reference_judge.h"

namespace tf {
namespace {

std::vector<std::string> DenseRefs() {
  std::vector<std::string> out;
  const auto dir = testing::FixturesDir() / "refs";
  if (!std::filesystem::exists(dir)) return {"<fixtures missing>"};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".json") continue;
    if (name.rfind("tiny-llama", 0) == 0 || name.rfind("tiny-qwen2", 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

using Case = std::tuple<std::string, Isa>;
class DenseRefTest : public ::testing::TestWithParam<Case> {};

TEST_P(DenseRefTest, PassesFixtureRule) {
  const auto& [ref, isa] = GetParam();
  ASSERT_NE(ref, "<fixtures missing>") << "fixtures not found at " << testing::FixturesDir();
  ThreadPool pool(2);
  const auto result = testing::JudgeAgainstReference(testing::FixturePath("refs/" + ref), isa, &pool);
  testing::ExpectPassesRule(result, /*moe=*/false);
  RecordProperty("max_check_diff", std::to_string(result.max_check_diff));
  RecordProperty("greedy_checked", result.greedy_compared);
  RecordProperty("check_within_tol", result.check_within_tol);
  RecordProperty("greedy_text_checked", result.greedy_text_checked);
}

std::vector<Isa> IsasToTest() {
  std::vector<Isa> isas = {Isa::kScalar};
  if (BestIsa() != Isa::kScalar) isas.push_back(BestIsa());
  return isas;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DenseRefTest, ::testing::Combine(::testing::ValuesIn(DenseRefs()),
                                                                     ::testing::ValuesIn(IsasToTest())),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param);
                           name = name.substr(0, name.size() - 5);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name + "_" + std::string(IsaName(std::get<1>(info.param)));
                         });

TEST(DenseRefCoverageTest, AllTwentyDenseReferencesAreFound) {
  EXPECT_EQ(DenseRefs().size(), 20u) << "expected 5 dense models x 4 prompts in " << testing::FixturesDir();
}

}  // namespace
}  // namespace tf
