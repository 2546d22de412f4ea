#include "perf/model_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "engine/batch_runner.h"

namespace tf {
namespace {

using Clock = std::chrono::steady_clock;
// Prompt tokens per sequence per forward pass (as the runners chunk prompts).
constexpr int64_t kPrefillChunk = 512;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int32_t Argmax(const float* logits, int64_t n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

// Prefills every sequence; returns the seconds taken and leaves each
// sequence's last logits in `logits`.
StatusOr<double> Prefill(BatchRunner* runner, const std::vector<std::vector<int32_t>>& prompts,
                         std::vector<float>* logits) {
  const auto start = Clock::now();
  const int64_t p = static_cast<int64_t>(prompts[0].size());
  std::vector<std::span<const int32_t>> step(prompts.size());
  for (int64_t c = 0; c < p; c += kPrefillChunk) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      step[i] = std::span<const int32_t>(prompts[i]).subspan(c, std::min(kPrefillChunk, p - c));
    }
    TF_RETURN_IF_ERROR(runner->Step(step, logits));
  }
  return Seconds(start, Clock::now());
}

// n greedy decode steps for every sequence; returns the seconds taken.
StatusOr<double> Decode(BatchRunner* runner, int64_t n, int64_t n_vocab, std::vector<float>* logits) {
  const size_t batch = static_cast<size_t>(runner->num_seqs());
  std::vector<int32_t> next(batch, 0);
  std::vector<std::span<const int32_t>> step(batch);
  const auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    for (size_t s = 0; s < batch; ++s) {
      if (!logits->empty()) next[s] = Argmax(logits->data() + s * n_vocab, n_vocab);
      step[s] = std::span<const int32_t>(&next[s], 1);
    }
    TF_RETURN_IF_ERROR(runner->Step(step, logits));
  }
  return Seconds(start, Clock::now());
}

}  // namespace

MeanSd Summarize(const std::vector<double>& values) {
  MeanSd out;
  if (values.empty()) return out;
  for (double v : values) out.mean += v;
  out.mean /= static_cast<double>(values.size());
  if (values.size() < 2) return out;
  double sq = 0;
  for (double v : values) sq += (v - out.mean) * (v - out.mean);
  out.sd = std::sqrt(sq / static_cast<double>(values.size() - 1));
  return out;
}

StatusOr<ModelBenchResult> RunModelBench(Model* model, ThreadPool* pool, const ModelBenchOptions& o) {
  if (o.prompt_tokens < 0 || o.gen_tokens < 0 || o.prompt_tokens + o.gen_tokens == 0) {
    return InvalidArgumentError(fmt::format("prompt tokens {} and generated tokens {}: need at least one, none negative",
                                            o.prompt_tokens, o.gen_tokens));
  }
  if (o.reps < 1) return InvalidArgumentError(fmt::format("repetitions {} must be at least 1", o.reps));
  const int64_t n_vocab = model->config().n_vocab;
  TF_ASSIGN_OR_RETURN(auto runner, BatchRunner::Create(model, pool, o.batch, o.prompt_tokens + o.gen_tokens, o.kv_type));
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(o.batch), std::vector<int32_t>(o.prompt_tokens));
  for (auto& prompt : prompts) {
    for (int32_t& id : prompt) id = token(rng);
  }
  ModelBenchResult result;
  std::vector<float> logits;
  for (int rep = 0; rep <= o.reps; ++rep) {  // rep 0 warms caches and page tables
    runner->Reset();
    logits.clear();
    if (o.prompt_tokens > 0) {
      TF_ASSIGN_OR_RETURN(double s, Prefill(runner.get(), prompts, &logits));
      if (rep > 0) result.pp_tok_s.push_back(static_cast<double>(o.batch * o.prompt_tokens) / s);
    }
    if (o.gen_tokens > 0) {
      TF_ASSIGN_OR_RETURN(double s, Decode(runner.get(), o.gen_tokens, n_vocab, &logits));
      if (rep > 0) result.tg_tok_s.push_back(static_cast<double>(o.batch * o.gen_tokens) / s);
    }
  }
  return result;
}

}  // namespace tf
