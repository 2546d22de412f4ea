// Runs several sequences through a model together: every Step appends
// tokens to any subset of them in ONE forward pass (one slice per sequence),
// so each weight is read once for all of them. Each sequence owns a fixed
// run of KV blocks of the ModelRunner's storage. Used by `tokenfab bench
// --batch`; the serving engine's scheduler builds the same kind of pass
// over a shared block pool.
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

class BatchRunner {
 public:
  // `num_seqs` sequences of up to `max_tokens` positions each.
  static StatusOr<std::unique_ptr<BatchRunner>> Create(Model* model, ThreadPool* pool, int num_seqs,
                                                       int64_t max_tokens, DType kv_type = DType::kF32);

  // Appends tokens[i] to sequence i (an empty span leaves it alone) and
  // computes them. logits_out: [number of non-empty spans][n_vocab], the
  // logits of each such sequence's last new token, in sequence order.
  Status Step(std::span<const std::span<const int32_t>> tokens, std::vector<float>* logits_out);

  int num_seqs() const { return static_cast<int>(lengths_.size()); }
  int64_t length(int seq) const { return lengths_[seq]; }
  void Reset();

 private:
  BatchRunner(std::unique_ptr<ModelRunner> runner, int num_seqs, int64_t max_tokens, int64_t blocks_per_seq);
  std::unique_ptr<ModelRunner> runner_;
  int64_t max_tokens_;
  int64_t blocks_per_seq_;
  std::vector<int32_t> block_ids_;  // [num_seqs][blocks_per_seq]
  std::vector<int64_t> lengths_;
};

}  // namespace tf
