// Runs a model one forward pass at a time: the only place that builds a
// ForwardBatch. A pass is a flattened batch of sequences, each with its new
// tokens, the position they start at, the KV blocks holding its positions
// and which of its logits are wanted. The runner owns the KV storage those
// block tables point into and the logits buffer; who hands out the blocks
// is the caller's business (the engine's KV manager through the scheduler,
// or the fixed block runs of SequenceRunner and BatchRunner).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/forward_batch.h"
#include "model/model.h"
#include "tensor/kv_storage.h"

namespace tf {

struct KvCacheConfig {
  DType type = DType::kF32;  // f32 or bf16
  int block_size = 16;       // tokens per block
  int64_t num_blocks = 0;
};

// Which logits of a sequence's new tokens a pass computes.
enum class LogitRows { kNone, kLast, kAll };

class ModelRunner {
 public:
  // `model` and `pool` must outlive the runner.
  static StatusOr<std::unique_ptr<ModelRunner>> Create(Model* model, ThreadPool* pool, const KvCacheConfig& kv);

  // Forgets the sequences added for the previous pass.
  void Clear();
  // Appends a sequence to the next pass: `tokens` go to positions
  // start_pos.. whose KV lives in `block_table` (which must stay valid
  // until Run returns). Tokens are copied.
  void Add(std::span<const int32_t> tokens, int64_t start_pos, std::span<const int32_t> block_table, LogitRows rows);
  bool empty() const { return batch_.seqs.empty(); }
  int64_t num_tokens() const { return static_cast<int64_t>(tokens_.size()); }

  // Computes the pass. On success logits(i) is the i-th wanted row, in the
  // order the sequences were added (all of a kAll sequence's rows in
  // order). Fails without touching the cache for token ids outside the
  // vocabulary or positions beyond a block table.
  Status Run();
  size_t num_logit_rows() const { return batch_.logit_rows.size(); }
  std::span<float> logits(size_t row) {
    return std::span<float>(logits_.data() + row * static_cast<size_t>(n_vocab_), static_cast<size_t>(n_vocab_));
  }
  // Rows [first, first + count) as one [count][n_vocab] run.
  std::span<const float> logit_rows(size_t first, size_t count) const {
    return std::span<const float>(logits_.data() + first * static_cast<size_t>(n_vocab_),
                                  count * static_cast<size_t>(n_vocab_));
  }

  const Model& model() const { return *model_; }
  int64_t n_vocab() const { return n_vocab_; }
  KvStorage& kv() { return *kv_; }
  const KvStorage& kv() const { return *kv_; }
  ThreadPool* pool() const { return pool_; }

 private:
  ModelRunner(Model* model, ThreadPool* pool, std::unique_ptr<KvStorage> kv);

  Model* model_;
  ThreadPool* pool_;
  std::unique_ptr<KvStorage> kv_;
  int64_t n_vocab_;
  std::vector<int32_t> tokens_;  // every sequence's new tokens, in order
  ForwardBatch batch_;
  std::vector<float> logits_;    // [num_logit_rows][n_vocab]
};

}  // namespace tf
