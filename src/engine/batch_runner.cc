#include "engine/batch_runner.h"

#include <numeric>

#include <fmt/format.h>

namespace tf {
namespace {
constexpr int kBlockSize = 64;
}  // namespace

StatusOr<std::unique_ptr<BatchRunner>> BatchRunner::Create(Model* model, ThreadPool* pool, int num_seqs,
                                                           int64_t max_tokens, DType kv_type) {
  if (num_seqs <= 0) return InvalidArgumentError(fmt::format("number of sequences {} must be positive", num_seqs));
  if (max_tokens <= 0) return InvalidArgumentError(fmt::format("context size {} must be positive", max_tokens));
  const int64_t blocks_per_seq = (max_tokens + kBlockSize - 1) / kBlockSize;
  TF_ASSIGN_OR_RETURN(auto runner, ModelRunner::Create(model, pool, {kv_type, kBlockSize, blocks_per_seq * num_seqs}));
  return std::unique_ptr<BatchRunner>(new BatchRunner(std::move(runner), num_seqs, max_tokens, blocks_per_seq));
}

BatchRunner::BatchRunner(std::unique_ptr<ModelRunner> runner, int num_seqs, int64_t max_tokens,
                         int64_t blocks_per_seq)
    : runner_(std::move(runner)), max_tokens_(max_tokens), blocks_per_seq_(blocks_per_seq), lengths_(num_seqs, 0) {
  block_ids_.resize(static_cast<size_t>(blocks_per_seq_ * num_seqs));
  std::iota(block_ids_.begin(), block_ids_.end(), 0);
}

void BatchRunner::Reset() { std::fill(lengths_.begin(), lengths_.end(), 0); }

Status BatchRunner::Step(std::span<const std::span<const int32_t>> tokens, std::vector<float>* logits_out) {
  if (static_cast<int>(tokens.size()) > num_seqs()) {
    return InvalidArgumentError(fmt::format("{} token lists for {} sequences", tokens.size(), num_seqs()));
  }
  runner_->Clear();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) continue;
    const int64_t n = static_cast<int64_t>(tokens[i].size());
    if (lengths_[i] + n > max_tokens_) {
      return OutOfRangeError(fmt::format("sequence {}: {} tokens do not fit: context holds {}, {} used", i, n,
                                         max_tokens_, lengths_[i]));
    }
    const std::span<const int32_t> blocks(block_ids_.data() + i * blocks_per_seq_,
                                          static_cast<size_t>(blocks_per_seq_));
    runner_->Add(tokens[i], lengths_[i], blocks, LogitRows::kLast);
  }
  if (runner_->empty()) return InvalidArgumentError("no tokens to append");
  // Run validates token ids before touching the cache.
  TF_RETURN_IF_ERROR(runner_->Run());
  const std::span<const float> rows = runner_->logit_rows(0, runner_->num_logit_rows());
  logits_out->assign(rows.begin(), rows.end());
  for (size_t i = 0; i < tokens.size(); ++i) lengths_[i] += static_cast<int64_t>(tokens[i].size());
  return Status::Ok();
}

}  // namespace tf
