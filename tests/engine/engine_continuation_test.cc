// Request migration's engine half: a request resubmitted with the tokens an
// earlier attempt streamed (GenerationRequest::continued) and its sampler's
// draw count goes on exactly as the uninterrupted run: the same tokens, and
// text that, appended to what the earlier attempt streamed, is the same
// text. Checked for greedy and seeded sampling, across a held-back stop
// string and under the JSON constraint, cutting at several points.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"

namespace tf {
namespace {

using testing::CollectingSink;
using testing::Load;
using testing::Loaded;

EngineConfig ContinuationConfig() {
  EngineConfig c;
  c.block_size = 4;
  c.num_kv_blocks = 128;
  c.ctx_size = 96;
  c.sched.max_batch_tokens = 64;
  c.sched.max_num_seqs = 8;
  c.sched.watermark_blocks = 1;
  return c;
}

struct GenRun {
  std::vector<StreamDelta> deltas;  // the token deltas, then the final one
  std::vector<int32_t> tokens;
  std::string text;
  StreamDelta last;
};

GenRun Generate(Engine* engine, GenerationRequest g) {
  auto sink = std::make_shared<CollectingSink>();
  g.sink = sink;
  EXPECT_TRUE(engine->Submit(std::move(g)).ok());
  GenRun run;
  run.last = sink->Wait();
  run.deltas = sink->deltas();
  for (const StreamDelta& d : run.deltas) {
    if (d.num_tokens == 1) run.tokens.push_back(d.token);
    run.text += d.text;
  }
  return run;
}

// Cuts `full` after `k` tokens and checks the continuation finishes it.
void ExpectContinues(Engine* engine, const GenerationRequest& base, const GenRun& full, size_t k) {
  SCOPED_TRACE("cut after " + std::to_string(k) + " tokens");
  ASSERT_LT(k, full.tokens.size());
  std::string streamed;
  uint64_t draws = 0;
  for (size_t i = 0; i < k; ++i) {
    streamed += full.deltas[i].text;
    draws = full.deltas[i].num_draws;
  }
  GenerationRequest g = base;
  g.continued.assign(full.tokens.begin(), full.tokens.begin() + static_cast<std::ptrdiff_t>(k));
  g.num_draws_done = draws;
  g.max_tokens = base.max_tokens - static_cast<int64_t>(k);
  const GenRun rest = Generate(engine, g);
  std::vector<int32_t> joined = g.continued;
  joined.insert(joined.end(), rest.tokens.begin(), rest.tokens.end());
  EXPECT_EQ(joined, full.tokens);
  EXPECT_EQ(streamed + rest.text, full.text);
  EXPECT_EQ(rest.last.finish_reason, full.last.finish_reason);
  EXPECT_EQ(rest.last.usage.completion_tokens, full.last.usage.completion_tokens);
  EXPECT_EQ(rest.last.usage.prompt_tokens, full.last.usage.prompt_tokens);
  EXPECT_EQ(rest.last.num_draws, full.last.num_draws);
}

class ContinuationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    m_ = Load(GetParam());
    pool_ = std::make_unique<ThreadPool>(2);
    engine_ = std::move(*Engine::Create(m_.model.get(), m_.tokenizer.get(), pool_.get(), ContinuationConfig(), "fixture"));
  }
  GenerationRequest Base(float temperature) const {
    GenerationRequest g;
    g.prompt = m_.tokenizer->Encode("Once upon a time there was", true, false);
    g.sampling.temperature = temperature;
    if (temperature > 0) {
      g.sampling.seed = 1234;
      g.sampling.top_p = 0.95f;
      g.sampling.frequency_penalty = 0.3f;
    }
    g.max_tokens = 24;
    g.ignore_eos = true;
    return g;
  }
  Loaded m_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(ContinuationTest, GreedyAndSeededRunsContinueExactly) {
  for (const float temperature : {0.0f, 0.9f}) {
    SCOPED_TRACE("temperature " + std::to_string(temperature));
    const GenerationRequest base = Base(temperature);
    const GenRun full = Generate(engine_.get(), base);
    ASSERT_EQ(full.tokens.size(), 24u);
    if (temperature > 0) {
      EXPECT_EQ(full.last.num_draws, 24u);
    }
    for (const size_t k : {1, 7, 16, 23}) ExpectContinues(engine_.get(), base, full, k);
  }
}

TEST_P(ContinuationTest, HeldBackStopStringSurvivesTheCut) {
  const GenerationRequest plain = Base(0.9f);
  const GenRun free_run = Generate(engine_.get(), plain);
  // A stop string made of the text of tokens 10..13: the run stops there, and
  // cutting inside it leaves a held-back prefix the continuation must keep.
  std::string stop;
  for (size_t i = 10; i < 14; ++i) stop += m_.tokenizer->TokenToPiece(free_run.tokens[i]);
  ASSERT_FALSE(stop.empty());
  GenerationRequest base = plain;
  base.stop = {stop};
  const GenRun full = Generate(engine_.get(), base);
  ASSERT_EQ(full.last.finish_reason, FinishReason::kStop);
  ASSERT_EQ(full.text.find(stop), std::string::npos);
  for (size_t k = 9; k < full.tokens.size(); ++k) ExpectContinues(engine_.get(), base, full, k);
}

TEST_P(ContinuationTest, ContinuedTokensAreValidated) {
  GenerationRequest g = Base(0);
  g.continued = {static_cast<int32_t>(m_.model->config().n_vocab)};
  g.sink = std::make_shared<CollectingSink>();
  const StatusOr<uint64_t> handle = engine_->Submit(g);
  ASSERT_FALSE(handle.ok());
  EXPECT_EQ(handle.status().param(), "continued");
  g.continued = {1, 2};
  g.num_draws_done = uint64_t{1} << 62;  // would stall the engine thread in the generator's discard
  EXPECT_EQ(engine_->Submit(g).status().param(), "num_draws_done");
  g.num_draws_done = 0;
  g.continued.assign(95, 1);  // with the prompt, past the context
  EXPECT_EQ(engine_->Submit(g).status().param(), "prompt");
}

INSTANTIATE_TEST_SUITE_P(Models, ContinuationTest,
                         ::testing::Values("tiny-llama-spm-q8_0", "tiny-deepseek3-q8_0", "tiny-qwen2-gpt2-bf16"),
                         testing::FixtureModelTestName());

// Only the byte-level BPE fixture has the punctuation tokens a JSON object
// needs; the SentencePiece ones end the object at once.
class JsonContinuationTest : public ContinuationTest {};

TEST_P(JsonContinuationTest, JsonConstraintStateCarriesOver) {
  GenerationRequest base = Base(0.9f);
  base.json_object = true;
  base.ignore_eos = false;
  base.max_tokens = 30;
  const GenRun full = Generate(engine_.get(), base);
  ASSERT_GE(full.tokens.size(), 4u);
  for (const size_t k : {size_t{1}, full.tokens.size() / 2, full.tokens.size() - 1}) {
    ExpectContinues(engine_.get(), base, full, k);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, JsonContinuationTest, ::testing::Values("tiny-qwen2-gpt2-bf16"),
                         [](const auto&) { return std::string("tiny_qwen2_gpt2_bf16"); });

}  // namespace
}  // namespace tf
