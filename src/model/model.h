// A loaded model: hyperparameters, the KV row layout it needs, and a forward
// pass over a batch. One file per architecture under arch/ implements it;
// LoadModel picks by `general.architecture`.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/forward_batch.h"
#include "tensor/kv_storage.h"
#include "model/model_config.h"
#include "model/weight_arena.h"

namespace tf {

class GgufFile;

class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual KvLayout kv_layout() const = 0;
  // Bytes of weights one decoded token reads (all of them, for dense models;
  // only the routed experts it uses, for mixture-of-experts models).
  virtual size_t weight_bytes() const = 0;
  // Multiply-adds of the matrix products one token costs (like weight_bytes:
  // only the experts a token uses), and of attention per cached position it
  // attends to. The arithmetic side of the roofline.
  virtual double matmul_macs_per_token() const = 0;
  virtual double attention_macs_per_position() const = 0;
  // Architecture-specific facts for `tokenfab info` (empty if none).
  virtual std::string ArchSummary() const { return ""; }

  // Computes `batch`, writing its keys/values into `kv` and the logits of
  // batch.logit_rows into `logits` ([logit_rows.size()][n_vocab]). Fails on
  // token ids outside the vocabulary or positions beyond the block tables.
  // Not reentrant: one engine thread runs a model.
  virtual Status Forward(const ForwardBatch& batch, KvStorage* kv, ThreadPool* pool, float* logits) = 0;

  // Memory the model holds besides the file's mmap (packed weights, converted vectors).
  const WeightArena& arena() const { return arena_; }
  WeightArena* mutable_arena() { return &arena_; }

 private:
  WeightArena arena_;
};

struct ModelOptions {
  Isa isa = BestIsa();
  // When set, these kernels instead of isa's table (tests run the emulated
  // AVX-512 table this way); must outlive the model.
  const KernelTable* kernels = nullptr;
  // Repack weights whose type has a packed kernel (tensor/packed_blocks.h).
  bool pack_weights = true;
};

// `file` must outlive the model (weights are views into its mmap). `pool`
// does the load's parallel work (repacking weights); the model keeps no
// reference to it.
StatusOr<std::unique_ptr<Model>> LoadModel(const GgufFile& file, const ModelOptions& options, ThreadPool* pool);

}  // namespace tf
