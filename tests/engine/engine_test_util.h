// What the engine tests share: a sink that collects a request's stream,
// fixture loading, greedy requests and waiting for the engine to go idle.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/engine.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tf::testing {

// Collects a request's deltas; Wait blocks until the final one.
class CollectingSink : public RequestSink {
 public:
  void OnDelta(StreamDelta delta) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_ += delta.text;
    for (const TokenLogprob& lp : delta.logprobs) {
      tokens_.push_back(lp.token);
      logprobs_.push_back(lp);
    }
    num_deltas_++;
    deltas_.push_back(delta);
    if (delta.finished) {
      done_ = true;
      last_ = delta;
      cv_.notify_all();
    }
  }
  StreamDelta Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(120), [&] { return done_; }));
    return last_;
  }
  int num_deltas() {
    std::lock_guard<std::mutex> lock(mu_);
    return num_deltas_;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  std::vector<int32_t> tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_;
  }
  std::vector<TokenLogprob> logprobs() {
    std::lock_guard<std::mutex> lock(mu_);
    return logprobs_;
  }
  std::vector<StreamDelta> deltas() {
    std::lock_guard<std::mutex> lock(mu_);
    return deltas_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  std::vector<int32_t> tokens_;
  std::vector<TokenLogprob> logprobs_;
  std::vector<StreamDelta> deltas_;
  int num_deltas_ = 0;
  bool done_ = false;
  StreamDelta last_;
};

struct Loaded {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

inline Loaded Load(const std::string& name) {
  Loaded m;
  m.file = std::move(*GgufFile::Open(FixturePath("models/" + name + ".gguf")));
  m.model = std::move(*LoadModel(*m.file, ModelOptions{}, LoadPool()));
  m.tokenizer = std::move(*Tokenizer::FromGguf(*m.file));
  return m;
}

inline GenerationRequest Greedy(std::vector<int32_t> prompt, int64_t max_tokens, std::shared_ptr<CollectingSink> sink) {
  GenerationRequest g;
  g.prompt = std::move(prompt);
  g.sampling.temperature = 0;
  g.max_tokens = max_tokens;
  g.ignore_eos = true;
  g.top_logprobs = 0;  // report each token id
  g.sink = std::move(sink);
  return g;
}

// Stats are published after the final delta went out; give the engine
// thread a moment to get there.
inline EngineStats WaitForIdle(const Engine& engine) {
  EngineStats stats = engine.stats();
  for (int i = 0; i < 400 && stats.num_running + stats.num_waiting + stats.kv_blocks_used > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stats = engine.stats();
  }
  return stats;
}

}  // namespace tf::testing
