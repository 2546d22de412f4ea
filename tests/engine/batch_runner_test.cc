// Sequences computed together (one forward pass, one slice each) give the
// logits they get alone: the batched path shares weights and regions, never
// state. Checked for the Llama and DeepSeek fixture models, with prompts of
// different lengths and then lockstep decode steps.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/batch_runner.h"
#include "engine/sequence_runner.h"
#include "gguf/gguf_file.h"
#include "model/model.h"

namespace tf {
namespace {

class BatchRunnerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchRunnerTest, BatchedSequencesMatchSequencesRunAlone) {
  auto file = GgufFile::Open(testing::FixturePath("models/" + GetParam() + ".gguf"));
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto model = LoadModel(**file, ModelOptions{}, testing::LoadPool());
  ASSERT_TRUE(model.ok()) << model.status().message();
  const int64_t n_vocab = (*model)->config().n_vocab;
  ThreadPool pool(2);
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 9, 2, 7}, {3}, {4, 4, 8, 100, 12, 13, 14, 15, 16, 2, 3}};
  const int steps = 3;

  // Alone: each prompt, then `steps` tokens fed one at a time.
  std::vector<std::vector<std::vector<float>>> alone(prompts.size());
  for (size_t s = 0; s < prompts.size(); ++s) {
    auto runner = *SequenceRunner::Create(model->get(), &pool, 64);
    std::vector<float> logits;
    ASSERT_TRUE(runner->Append(prompts[s], false, &logits).ok());
    alone[s].push_back(logits);
    for (int i = 0; i < steps; ++i) {
      const int32_t next = static_cast<int32_t>((s * 7 + i * 3 + 1) % n_vocab);
      ASSERT_TRUE(runner->Append(std::vector<int32_t>{next}, false, &logits).ok());
      alone[s].push_back(logits);
    }
  }
  // Together: all prompts in one pass, then lockstep single-token steps.
  auto batch = *BatchRunner::Create(model->get(), &pool, static_cast<int>(prompts.size()), 64);
  std::vector<std::span<const int32_t>> step(prompts.size());
  for (size_t s = 0; s < prompts.size(); ++s) step[s] = prompts[s];
  std::vector<float> logits;
  ASSERT_TRUE(batch->Step(step, &logits).ok());
  std::vector<std::vector<std::vector<float>>> together(prompts.size());
  auto collect = [&] {
    for (size_t s = 0; s < prompts.size(); ++s) {
      together[s].emplace_back(logits.begin() + s * n_vocab, logits.begin() + (s + 1) * n_vocab);
    }
  };
  collect();
  std::vector<int32_t> next(prompts.size());
  for (int i = 0; i < steps; ++i) {
    for (size_t s = 0; s < prompts.size(); ++s) {
      next[s] = static_cast<int32_t>((s * 7 + i * 3 + 1) % n_vocab);
      step[s] = std::span<const int32_t>(&next[s], 1);
    }
    ASSERT_TRUE(batch->Step(step, &logits).ok());
    collect();
  }
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (int i = 0; i <= steps; ++i) {
      for (int64_t v = 0; v < n_vocab; ++v) {
        // Same per-token arithmetic; only tiling of tokens differs.
        ASSERT_NEAR(together[s][i][v], alone[s][i][v], 1e-4f * (1.0f + std::fabs(alone[s][i][v])))
            << "sequence " << s << " step " << i << " token " << v;
      }
    }
  }
  EXPECT_EQ(batch->length(2), static_cast<int64_t>(prompts[2].size()) + steps);
}

// Request migration resubmits prompt + generated tokens as one prompt and
// expects greedy decoding to go on exactly as it would have: the logits of
// a position must not depend on whether it was computed as a decode step
// (alone, or beside other sequences' rows) or inside a prompt chunk.
TEST_P(BatchRunnerTest, PositionLogitsAreIdenticalInPromptChunksAndDecodeSteps) {
  auto file = GgufFile::Open(testing::FixturePath("models/" + GetParam() + ".gguf"));
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto model = *LoadModel(**file, ModelOptions{}, testing::LoadPool());
  const int64_t n_vocab = model->config().n_vocab;
  ThreadPool pool(2);
  const std::vector<int32_t> tokens = {1, 5, 9, 2, 7, 30, 11, 4, 8, 100, 12, 13, 14, 15, 16, 2, 3, 19, 21, 6};
  const size_t prompt = 5;
  // One chunk: every position's logits.
  auto chunked = *SequenceRunner::Create(model.get(), &pool, 64);
  std::vector<float> all;
  ASSERT_TRUE(chunked->Append(tokens, /*all_logits=*/true, &all).ok());
  // Prompt, then decode steps batched beside another sequence's prompt chunks.
  auto batch = *BatchRunner::Create(model.get(), &pool, 2, 64);
  const std::vector<int32_t> other = {3, 3, 8, 1, 2, 9, 9};
  std::vector<std::span<const int32_t>> step = {std::span<const int32_t>(tokens.data(), prompt), other};
  std::vector<float> logits;
  ASSERT_TRUE(batch->Step(step, &logits).ok());
  for (size_t pos = prompt - 1; pos + 1 < tokens.size(); ++pos) {
    if (pos >= prompt) {
      step = {std::span<const int32_t>(&tokens[pos], 1), pos % 2 ? std::span<const int32_t>(other.data(), 3)
                                                                 : std::span<const int32_t>(other.data(), 1)};
      ASSERT_TRUE(batch->Step(step, &logits).ok());
    }
    for (int64_t v = 0; v < n_vocab; ++v) {
      ASSERT_EQ(logits[v], all[pos * n_vocab + v]) << "position " << pos << " token " << v;
    }
  }
}

TEST_P(BatchRunnerTest, RejectsOverflowAndBadTokensWithoutCorruptingState) {
  auto file = GgufFile::Open(testing::FixturePath("models/" + GetParam() + ".gguf"));
  ASSERT_TRUE(file.ok());
  auto model = *LoadModel(**file, ModelOptions{}, testing::LoadPool());
  ThreadPool pool(1);
  auto batch = *BatchRunner::Create(model.get(), &pool, 2, 4);
  std::vector<float> logits;
  const std::vector<int32_t> five = {1, 2, 3, 4, 5}, bad = {-1}, one = {1};
  std::vector<std::span<const int32_t>> step = {five, {}};
  EXPECT_EQ(batch->Step(step, &logits).code(), StatusCode::kOutOfRange);
  step = {one, bad};
  EXPECT_FALSE(batch->Step(step, &logits).ok());
  EXPECT_EQ(batch->length(0), 0);
  EXPECT_EQ(batch->length(1), 0);
  EXPECT_FALSE(BatchRunner::Create(model.get(), &pool, 0, 4).ok());
}

INSTANTIATE_TEST_SUITE_P(Models, BatchRunnerTest,
                         ::testing::Values("tiny-llama-spm-q4_0", "tiny-llama-spm-q8_0", "tiny-deepseek3-q8_0"),
                         testing::FixtureModelTestName());

}  // namespace
}  // namespace tf
