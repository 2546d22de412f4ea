// Every line of every ../shared/fixtures/vocab/*.out: tokenizing each case of
// the matching .inp (no BOS/EOS, special text not parsed) must give exactly
// the expected ids.
#include <gtest/gtest.h>

#include <sstream>

#include "common/fixtures.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_test_cases.h"

namespace tf {
namespace {

std::vector<std::string> SplitLines(const std::string& raw) {
  std::vector<std::string> lines;
  std::stringstream ss(raw);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

std::string FormatIds(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) {
    out += ' ';
    out += std::to_string(id);
  }
  return out;
}

class VocabFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabFixtureTest, EveryCaseMatches) {
  const std::string base = "vocab/ggml-vocab-" + GetParam() + ".gguf";
  const std::string gguf_path = testing::FixturePath(base);
  auto file = GgufFile::Open(gguf_path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tokenizer = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  const auto cases = SplitVocabTestCases(testing::ReadFile(testing::FixturePath(base + ".inp")));
  const auto expected = SplitLines(testing::ReadFile(testing::FixturePath(base + ".out")));
  ASSERT_EQ(cases.size(), expected.size());
  ASSERT_GT(cases.size(), 40u);
  int mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string got = FormatIds((*tokenizer)->Encode(cases[i], false, false));
    EXPECT_EQ(got, expected[i]) << "case " << i << ": '" << cases[i] << "'";
    mismatches += got != expected[i];
  }
  EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, VocabFixtureTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm",
                                           "deepseek-coder", "falcon", "mpt", "refact", "starcoder",
                                           "bert-bge"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tf
