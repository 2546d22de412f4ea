// The serving engine end to end on fixture models: batched greedy output
// equals output alone (with chunked prefill and preemption in the mix),
// prefix-cache reuse, seeded sampling, aborts, stop strings, the JSON
// constraint and engine failure.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/engine_test_util.h"
#include "engine/engine.h"
#include "engine/sequence_runner.h"
#include "sample/json_constraint.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tf {
namespace {

using testing::CollectingSink;
using testing::Greedy;
using testing::Load;
using testing::Loaded;
using testing::WaitForIdle;

EngineConfig SmallConfig(int64_t num_blocks, int64_t max_batch_tokens) {
  EngineConfig c;
  c.block_size = 4;
  c.num_kv_blocks = num_blocks;
  c.ctx_size = 96;
  c.sched.max_batch_tokens = max_batch_tokens;
  c.sched.max_num_seqs = 32;
  c.sched.watermark_blocks = 1;
  return c;
}

std::vector<std::vector<int32_t>> Prompts(int n, int64_t n_vocab) {
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> p;
    for (int j = 0; j < 3 + (i * 5) % 17; ++j) p.push_back(static_cast<int32_t>((i * 31 + j * 7 + 3) % n_vocab));
    prompts.push_back(p);
  }
  return prompts;
}

std::vector<int32_t> RunAlone(Model* model, Tokenizer* tok, ThreadPool* pool, const std::vector<int32_t>& prompt,
                              int64_t max_tokens) {
  auto engine = *Engine::Create(model, tok, pool, SmallConfig(64, 512), "fixture");
  auto sink = std::make_shared<CollectingSink>();
  EXPECT_TRUE(engine->Submit(Greedy(prompt, max_tokens, sink)).ok());
  sink->Wait();
  return sink->tokens();
}

class EngineTest : public ::testing::TestWithParam<std::string> {};

// Many requests with small token budgets (chunked prompts next to decodes)
// and a KV pool too small for all of them (preemption and recompute).
TEST_P(EngineTest, BatchedGreedyOutputEqualsOutputAlone) {
  Loaded m = Load(GetParam());
  ThreadPool pool(2);
  const auto prompts = Prompts(12, m.model->config().n_vocab);
  const int64_t max_tokens = 10;
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(RunAlone(m.model.get(), m.tokenizer.get(), &pool, p, max_tokens));

  for (int64_t num_blocks : {int64_t{200}, int64_t{30}}) {
    auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(num_blocks, 16), "fixture");
    std::vector<std::shared_ptr<CollectingSink>> sinks;
    for (const auto& p : prompts) {
      sinks.push_back(std::make_shared<CollectingSink>());
      ASSERT_TRUE(engine->Submit(Greedy(p, max_tokens, sinks.back())).ok());
    }
    for (size_t i = 0; i < prompts.size(); ++i) {
      const StreamDelta last = sinks[i]->Wait();
      EXPECT_EQ(last.finish_reason, FinishReason::kLength);
      EXPECT_EQ(last.usage.completion_tokens, max_tokens);
      EXPECT_EQ(sinks[i]->tokens(), alone[i]) << "request " << i << " with " << num_blocks << " blocks";
    }
    const EngineStats stats = WaitForIdle(*engine);
    EXPECT_EQ(stats.kv_blocks_used, 0);
    EXPECT_EQ(stats.num_running + stats.num_waiting, 0);
    if (num_blocks == 30) {
      EXPECT_GT(stats.num_preemptions, 0) << "the small pool should force preemptions";
    }
  }
}

TEST_P(EngineTest, SharedPrefixesHitTheCacheAndGiveTheSameOutput) {
  Loaded m = Load(GetParam());
  ThreadPool pool(2);
  const int64_t n_vocab = m.model->config().n_vocab;
  std::vector<int32_t> system;
  for (int i = 0; i < 33; ++i) system.push_back(static_cast<int32_t>((i * 13 + 5) % n_vocab));
  std::vector<int32_t> a = system, b = system;
  a.push_back(7);
  b.push_back(9);
  const auto expected_b = RunAlone(m.model.get(), m.tokenizer.get(), &pool, b, 6);

  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 512), "fixture");
  auto sa = std::make_shared<CollectingSink>(), sb = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->Submit(Greedy(a, 6, sa)).ok());
  EXPECT_EQ(sa->Wait().usage.cached_prompt_tokens, 0);
  ASSERT_TRUE(engine->Submit(Greedy(b, 6, sb)).ok());
  const StreamDelta last = sb->Wait();
  EXPECT_EQ(last.usage.cached_prompt_tokens, 32);  // 8 full blocks of the shared 33 tokens
  EXPECT_EQ(sb->tokens(), expected_b);
  const EngineStats stats = WaitForIdle(*engine);
  EXPECT_EQ(stats.prefix_hit_tokens, 32);
  EXPECT_EQ(stats.prefix_query_tokens, 68);
}

INSTANTIATE_TEST_SUITE_P(Models, EngineTest, ::testing::Values("tiny-llama-spm-q8_0", "tiny-deepseek3-q8_0"),
                         testing::FixtureModelTestName());

TEST(Engine, SeededSamplingIsReproducible) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 64), "fixture");
  std::vector<std::vector<int32_t>> outputs;
  for (uint64_t seed : {11u, 11u, 12u}) {
    auto sink = std::make_shared<CollectingSink>();
    GenerationRequest g = Greedy({1, 2, 3, 4}, 16, sink);
    g.sampling.temperature = 1.0f;
    g.sampling.seed = seed;
    ASSERT_TRUE(engine->Submit(std::move(g)).ok());
    sink->Wait();
    outputs.push_back(sink->tokens());
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_NE(outputs[0], outputs[2]);
}

// Each token's logprob is log_softmax of the raw logits at its step (from an
// independent run of the same model), the alternatives are the most likely
// tokens best first with their own log-softmax values, and nothing outside
// them is more likely than the last one listed.
TEST(Engine, LogprobsAreTheLogSoftmaxOfTheLogitsBestFirst) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 64), "fixture");
  const std::vector<int32_t> prompt = {1, 5, 9, 2};
  auto sink = std::make_shared<CollectingSink>();
  GenerationRequest g = Greedy(prompt, 6, sink);
  g.sampling.temperature = 1.0f;  // sampled, so the chosen token is not always the best one
  g.sampling.seed = 3;
  g.top_logprobs = 4;
  ASSERT_TRUE(engine->Submit(std::move(g)).ok());
  sink->Wait();
  const std::vector<TokenLogprob> lps = sink->logprobs();
  ASSERT_EQ(lps.size(), 6u);
  auto runner = *SequenceRunner::Create(m.model.get(), &pool, 32);
  std::vector<float> logits;
  ASSERT_TRUE(runner->Append(prompt, false, &logits).ok());
  for (const TokenLogprob& lp : lps) {
    double max = *std::max_element(logits.begin(), logits.end()), z = 0;
    for (float v : logits) z += std::exp(static_cast<double>(v) - max);
    auto log_softmax = [&](int32_t t) { return logits[t] - max - std::log(z); };
    // Same weights and arithmetic; the engine's KV blocks are smaller, so
    // attention sums in another order (float32 rounding).
    EXPECT_NEAR(lp.logprob, log_softmax(lp.token), 1e-3) << "token " << lp.token;
    ASSERT_EQ(lp.top.size(), 4u);
    EXPECT_EQ(lp.top[0].first, std::max_element(logits.begin(), logits.end()) - logits.begin());
    for (size_t j = 0; j < lp.top.size(); ++j) {
      EXPECT_NEAR(lp.top[j].second, log_softmax(lp.top[j].first), 1e-3);
      if (j > 0) {
        EXPECT_GE(lp.top[j - 1].second, lp.top[j].second) << "alternatives best first";
      }
    }
    for (int32_t t = 0; t < static_cast<int32_t>(logits.size()); ++t) {
      const bool listed = std::any_of(lp.top.begin(), lp.top.end(), [t](const auto& e) { return e.first == t; });
      if (!listed) {
        ASSERT_LE(log_softmax(t), lp.top.back().second + 1e-3) << "token " << t << " outranks the list";
      }
    }
    ASSERT_TRUE(runner->Append(std::vector<int32_t>{lp.token}, false, &logits).ok());
  }
}

TEST(Engine, AbortEndsTheRequestAndReleasesItsBlocks) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 64), "fixture");
  auto sink = std::make_shared<CollectingSink>();
  const uint64_t handle = *engine->Submit(Greedy({1, 2, 3}, 80, sink));
  while (sink->num_deltas() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  engine->Abort(handle);
  const StreamDelta last = sink->Wait();
  EXPECT_EQ(last.finish_reason, FinishReason::kAbort);
  EXPECT_LT(last.usage.completion_tokens, 80);
  EXPECT_EQ(WaitForIdle(*engine).kv_blocks_used, 0);
  engine->Abort(handle);  // unknown now: ignored
  engine->Abort(9999);
  // The engine keeps serving.
  auto again = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->Submit(Greedy({1, 2, 3}, 3, again)).ok());
  EXPECT_EQ(again->Wait().finish_reason, FinishReason::kLength);
}

TEST(Engine, StopStringsEndTheOutputAndAreNeverEmitted) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 64), "fixture");
  auto probe = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->Submit(Greedy({1, 2, 3}, 24, probe)).ok());
  probe->Wait();
  const std::string full = probe->text();
  ASSERT_GE(full.size(), 6u);
  const std::string stop = full.substr(full.size() / 2, 3);
  auto sink = std::make_shared<CollectingSink>();
  GenerationRequest g = Greedy({1, 2, 3}, 24, sink);
  g.stop = {stop, "never-appears-xyz"};
  ASSERT_TRUE(engine->Submit(std::move(g)).ok());
  EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kStop);
  EXPECT_EQ(sink->text(), full.substr(0, full.find(stop)));
}

TEST(Engine, JsonObjectModeOnlyEmitsValidJson) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 64), "fixture");
  for (uint64_t seed : {1u, 2u, 3u}) {
    auto sink = std::make_shared<CollectingSink>();
    GenerationRequest g = Greedy({1, 2, 3}, 60, sink);
    g.sampling.temperature = 1.0f;
    g.sampling.seed = seed;
    g.json_object = true;
    ASSERT_TRUE(engine->Submit(std::move(g)).ok());
    const StreamDelta last = sink->Wait();
    const std::string text = sink->text();
    JsonRecognizer check;
    EXPECT_TRUE(check.Feed(text)) << text;
    if (last.finish_reason == FinishReason::kStop) {
      EXPECT_TRUE(check.complete()) << text;
      EXPECT_TRUE(nlohmann::json::parse(text, nullptr, false).is_object()) << text;
    }
  }
}

TEST(Engine, RejectsBadRequestsAndQueueOverflow) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  EngineConfig c = SmallConfig(64, 64);
  c.sched.max_num_seqs = 1;
  c.sched.max_queue = 1;
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, c, "fixture");
  auto sink = std::make_shared<CollectingSink>();
  EXPECT_EQ(engine->Submit(Greedy({}, 4, sink)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(Greedy(std::vector<int32_t>(96, 1), 4, sink)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(Greedy({-1}, 4, sink)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(Greedy({1}, 0, sink)).status().code(), StatusCode::kInvalidArgument);
  auto s1 = std::make_shared<CollectingSink>(), s2 = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->Submit(Greedy({1, 2}, 40, s1)).ok());
  ASSERT_TRUE(engine->Submit(Greedy({1, 2}, 40, s2)).ok());
  EXPECT_EQ(engine->Submit(Greedy({1, 2}, 4, sink)).status().code(), StatusCode::kResourceExhausted);
  s1->Wait();
  s2->Wait();
  // A pool too small for one full context is refused at start-up.
  EXPECT_FALSE(Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(10, 64), "fixture").ok());
}

TEST(Engine, AFailedForwardPassFailsItsRequestsAndStopsTheEngine) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, SmallConfig(64, 64), "fixture");
  auto sink = std::make_shared<CollectingSink>();
  engine->InjectForwardFailure();
  ASSERT_TRUE(engine->Submit(Greedy({1, 2, 3}, 8, sink)).ok());
  const StreamDelta last = sink->Wait();
  EXPECT_EQ(last.finish_reason, FinishReason::kError);
  EXPECT_NE(last.error.find("injected"), std::string::npos);
  EXPECT_FALSE(engine->alive());
  EXPECT_EQ(engine->Submit(Greedy({1}, 1, sink)).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tf
