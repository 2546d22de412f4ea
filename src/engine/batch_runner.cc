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
  TF_ASSIGN_OR_RETURN(auto kv, KvStorage::Create(model->kv_layout(), kv_type, kBlockSize, blocks_per_seq * num_seqs));
  return std::unique_ptr<BatchRunner>(new BatchRunner(model, pool, std::move(kv), num_seqs, max_tokens));
}

BatchRunner::BatchRunner(Model* model, ThreadPool* pool, std::unique_ptr<KvStorage> kv, int num_seqs,
                         int64_t max_tokens)
    : model_(model), pool_(pool), kv_(std::move(kv)), max_tokens_(max_tokens),
      blocks_per_seq_((max_tokens + kBlockSize - 1) / kBlockSize), lengths_(num_seqs, 0) {
  block_ids_.resize(static_cast<size_t>(blocks_per_seq_ * num_seqs));
  std::iota(block_ids_.begin(), block_ids_.end(), 0);
}

void BatchRunner::Reset() { std::fill(lengths_.begin(), lengths_.end(), 0); }

Status BatchRunner::Step(std::span<const std::span<const int32_t>> tokens, std::vector<float>* logits_out) {
  if (static_cast<int>(tokens.size()) > num_seqs()) {
    return InvalidArgumentError(fmt::format("{} token lists for {} sequences", tokens.size(), num_seqs()));
  }
  ForwardBatch batch;
  flat_tokens_.clear();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) continue;
    const int64_t n = static_cast<int64_t>(tokens[i].size());
    if (lengths_[i] + n > max_tokens_) {
      return OutOfRangeError(fmt::format("sequence {}: {} tokens do not fit: context holds {}, {} used", i, n,
                                         max_tokens_, lengths_[i]));
    }
    const int64_t begin = static_cast<int64_t>(flat_tokens_.size());
    flat_tokens_.insert(flat_tokens_.end(), tokens[i].begin(), tokens[i].end());
    const std::span<const int32_t> blocks(block_ids_.data() + i * blocks_per_seq_,
                                          static_cast<size_t>(blocks_per_seq_));
    batch.seqs.push_back({begin, n, lengths_[i], blocks});
    batch.logit_rows.push_back(begin + n - 1);
  }
  if (batch.seqs.empty()) return InvalidArgumentError("no tokens to append");
  batch.tokens = flat_tokens_;
  logits_out->resize(batch.logit_rows.size() * static_cast<size_t>(model_->config().n_vocab));
  // Forward validates token ids before touching the cache.
  TF_RETURN_IF_ERROR(model_->Forward(batch, kv_.get(), pool_, logits_out->data()));
  for (size_t i = 0; i < tokens.size(); ++i) lengths_[i] += static_cast<int64_t>(tokens[i].size());
  return Status::Ok();
}

}  // namespace tf
