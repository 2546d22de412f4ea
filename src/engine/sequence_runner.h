// Runs one sequence through a model with its own KV cache: feed tokens
// (prompt in chunks, then one at a time), get logits back. What the CLI's
// eval/generate use; the serving engine schedules many sequences instead.
// The forward passes go through a ModelRunner whose storage holds one run
// of blocks for the whole context.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/model_runner.h"
#include "model/model.h"

namespace tf {

class SequenceRunner {
 public:
  // Room for `max_tokens` positions; `kv_type` is f32 or bf16.
  static StatusOr<std::unique_ptr<SequenceRunner>> Create(Model* model, ThreadPool* pool, int64_t max_tokens,
                                                          DType kv_type = DType::kF32);

  // Appends `tokens` and computes them. logits_out receives the logits of
  // every appended token ([tokens.size()][n_vocab]) when all_logits, else of
  // the last one only.
  Status Append(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits_out);

  int64_t num_tokens() const { return num_tokens_; }
  int64_t max_tokens() const { return max_tokens_; }
  void Reset() { num_tokens_ = 0; }
  size_t kv_bytes() const { return runner_->kv().bytes(); }

 private:
  SequenceRunner(std::unique_ptr<ModelRunner> runner, int64_t max_tokens);

  std::unique_ptr<ModelRunner> runner_;
  std::vector<int32_t> block_table_;
  int64_t max_tokens_;
  int64_t num_tokens_ = 0;
};

}  // namespace tf
