// The ModelRunner: one pass over several sequences returns their logit
// rows in the order they were added, with the values each gets alone; KV
// blocks exported from one runner and imported into another (at other
// block ids, as the KV store and KV transfer will do) let the second
// continue exactly where the first would; bad input is refused before the
// cache is touched.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/model_runner.h"
#include "engine/sequence_runner.h"
#include "gguf/gguf_file.h"
#include "model/model.h"

namespace tf {
namespace {

struct Loaded {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
};

Loaded Load(const std::string& name) {
  Loaded m;
  auto file = GgufFile::Open(testing::FixturePath("models/" + name + ".gguf"));
  EXPECT_TRUE(file.ok()) << file.status().message();
  if (!file.ok()) return m;
  m.file = std::move(*file);
  auto model = LoadModel(*m.file, ModelOptions{}, testing::LoadPool());
  EXPECT_TRUE(model.ok()) << model.status().message();
  if (model.ok()) m.model = std::move(*model);
  return m;
}

std::vector<float> Row(ModelRunner& runner, size_t row) {
  const std::span<float> r = runner.logits(row);
  return std::vector<float>(r.begin(), r.end());
}

class ModelRunnerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelRunnerTest, ExportedBlocksContinueInAnotherRunnerExactly) {
  Loaded m = Load(GetParam());
  ASSERT_NE(m.model, nullptr);
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = {1, 7, 3, 9, 12, 4, 4, 30, 2, 8, 5};  // 2 full blocks of 4 and 3 tokens
  const std::vector<int32_t> next = {6, 11};
  for (DType type : {DType::kF32, DType::kBF16}) {
    SCOPED_TRACE(DTypeName(type));
    auto a = *ModelRunner::Create(m.model.get(), &pool, {type, 4, 8});
    auto b = *ModelRunner::Create(m.model.get(), &pool, {type, 4, 12});
    auto cold = *ModelRunner::Create(m.model.get(), &pool, {type, 4, 12});
    const std::vector<int32_t> table_a = {5, 2, 7, 0}, table_b = {9, 3, 11, 1};
    a->Add(prompt, 0, table_a, LogitRows::kLast);
    ASSERT_TRUE(a->Run().ok());
    std::vector<uint8_t> bytes(a->kv().block_bytes());
    for (size_t i = 0; i < 3; ++i) {  // the partial third block too: its filled slots are what matter
      ASSERT_TRUE(a->kv().ExportBlock(table_a[i], bytes).ok());
      ASSERT_TRUE(b->kv().ImportBlock(table_b[i], bytes).ok());
    }
    int64_t pos = static_cast<int64_t>(prompt.size());
    for (int32_t token : next) {
      for (ModelRunner* r : {a.get(), b.get(), cold.get()}) {
        r->Clear();
        r->Add(std::span<const int32_t>(&token, 1), pos, r == a.get() ? table_a : table_b, LogitRows::kLast);
        ASSERT_TRUE(r->Run().ok());
      }
      // The same cached values through the same arithmetic: bit for bit.
      EXPECT_EQ(Row(*b, 0), Row(*a, 0)) << "position " << pos;
      // Without the imported blocks the runner sees other keys.
      EXPECT_NE(Row(*cold, 0), Row(*a, 0)) << "position " << pos;
      ++pos;
    }
  }
}

TEST_P(ModelRunnerTest, LogitRowsFollowTheOrderSequencesWereAdded) {
  Loaded m = Load(GetParam());
  ASSERT_NE(m.model, nullptr);
  ThreadPool pool(2);
  const std::vector<std::vector<int32_t>> prompts = {{3, 5, 7}, {2, 2}, {9, 1, 4, 8}};
  const LogitRows wanted[] = {LogitRows::kAll, LogitRows::kNone, LogitRows::kLast};
  auto runner = *ModelRunner::Create(m.model.get(), &pool, {DType::kF32, 16, 3});
  const std::vector<int32_t> tables[] = {{2}, {0}, {1}};
  runner->Clear();
  for (int i = 0; i < 3; ++i) runner->Add(prompts[i], 0, tables[i], wanted[i]);
  EXPECT_EQ(runner->num_tokens(), 9);
  ASSERT_TRUE(runner->Run().ok());
  ASSERT_EQ(runner->num_logit_rows(), 4u);  // 3 of the first, none of the second, 1 of the third
  std::vector<float> alone;
  auto first = *SequenceRunner::Create(m.model.get(), &pool, 16);
  ASSERT_TRUE(first->Append(prompts[0], true, &alone).ok());
  auto third = *SequenceRunner::Create(m.model.get(), &pool, 16);
  std::vector<float> last;
  ASSERT_TRUE(third->Append(prompts[2], false, &last).ok());
  alone.insert(alone.end(), last.begin(), last.end());
  const std::span<const float> got = runner->logit_rows(0, 4);
  ASSERT_EQ(got.size(), alone.size());
  for (size_t i = 0; i < got.size(); ++i) {
    // Same per-token arithmetic; only the tiling of tokens differs.
    ASSERT_NEAR(got[i], alone[i], 1e-4f * (1.0f + std::fabs(alone[i]))) << "row " << i / runner->n_vocab();
  }
}

TEST_P(ModelRunnerTest, RefusesBadTokensAndBlockTablesBeforeComputing) {
  Loaded m = Load(GetParam());
  ASSERT_NE(m.model, nullptr);
  ThreadPool pool(1);
  auto runner = *ModelRunner::Create(m.model.get(), &pool, {DType::kF32, 4, 2});
  const std::vector<int32_t> table = {0, 1}, outside = {0, 2};
  const std::vector<int32_t> bad = {1, -1}, too_many(9, 1), fine = {1, 2};
  runner->Add(bad, 0, table, LogitRows::kLast);
  EXPECT_EQ(runner->Run().code(), StatusCode::kInvalidArgument);
  runner->Clear();
  runner->Add(too_many, 0, table, LogitRows::kLast);
  EXPECT_EQ(runner->Run().code(), StatusCode::kOutOfRange);
  runner->Clear();
  runner->Add(fine, 0, outside, LogitRows::kLast);
  EXPECT_FALSE(runner->Run().ok());
  runner->Clear();
  runner->Add(fine, 0, table, LogitRows::kLast);
  EXPECT_TRUE(runner->Run().ok());
  EXPECT_EQ(ModelRunner::Create(m.model.get(), &pool, {DType::kF32, 0, 2}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ModelRunner::Create(m.model.get(), &pool, {DType::kF32, 1025, 2}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ModelRunner::Create(m.model.get(), &pool, {DType::kQ8_0, 16, 2}).status().code(),
            StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelRunnerTest,
                         ::testing::Values("tiny-llama-spm-f16", "tiny-qwen2-gpt2-bf16", "tiny-deepseek3-q8_0"),
                         testing::FixtureModelTestName());

}  // namespace
}  // namespace tf
